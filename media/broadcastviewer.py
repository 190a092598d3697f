"""A broadcast's viewers in one worker: aiortc's ICE and DTLS, the broadcast's own packets.

Each viewer is an aiortc ``RTCPeerConnection`` with one send-only transceiver per stream it
asked for; aiortc negotiates, gathers, checks and does the DTLS handshake. Its senders never
start: once DTLS is up the viewer joins the streams (``media.broadcast.ViewerStream``) and each
packet the stream made once is protected with the viewer's SRTP session and written to the
socket of its selected ICE pair.

Private pieces of aiortc 1.16.0 and aioice 0.13.0 this relies on, each checked by
``tests/unit/media/test_broadcast_contract.py`` (both are pinned in pyproject.toml):

- ``RTCRtpSender._ssrc``, ``_rtx_ssrc`` and ``_stream_id`` go into the answer: the stream's
  SSRC is set before the answer is made; camera and sound share a media stream id, so that a
  browser plays them in sync;
- ``RTCRtpSender.send`` is what the peer connection calls with the negotiated parameters once
  DTLS is connected; on these senders it is replaced by joining the stream, so aiortc's RTP
  and RTCP loops never run for them;
- ``RTCDtlsTransport._register_rtp_sender`` and ``_unregister_rtp_sender``: the viewer's RTCP
  (NACK, PLI, FIR, receiver reports) reaches the stream's :class:`_RtcpSink` by SSRC;
- ``RTCDtlsTransport._tx_srtp`` (a pylibsrtp session) protects the packets, and
  ``_send_rtp`` sends the sender reports;
- ``RTCIceTransport._connection`` is aioice's ``Connection``, whose ``_nominated`` maps the
  component to the selected pair; the pair's protocol's datagram transport takes the packets
  (asyncio's for a host pair, aioice's ``TurnTransport`` for a relayed one).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import random
import socket
import struct
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pylibsrtp
from aiortc import (
    RTCConfiguration,
    RTCIceCandidate,
    RTCPeerConnection,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.codecs import is_rtx
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from aiortc.rtp import (
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    AnyRtcpPacket,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSourceInfo,
    RtcpSrPacket,
)

from media.broadcast import (
    BroadcastStream,
    PacketSender,
    StreamSpec,
    ViewerStream,
)

logger = logging.getLogger(__name__)

SSRC_ATTR = "_ssrc"
RTX_SSRC_ATTR = "_rtx_ssrc"
STREAM_ID_ATTR = "_stream_id"
SEND_ATTR = "send"
TX_SRTP_ATTR = "_tx_srtp"
SEND_RTP_ATTR = "_send_rtp"
ICE_CONNECTION_ATTR = "_connection"
NOMINATED_ATTR = "_nominated"
REGISTER_SENDER_ATTR = "_register_rtp_sender"
UNREGISTER_SENDER_ATTR = "_unregister_rtp_sender"
REPORT_INTERVAL_S = 1.0
SEGMENTATION = hasattr(socket, "SOL_UDP")  # Linux: UDP segmentation offload may be asked for
UDP_SEGMENT = 103  # linux/udp.h
MAX_SEGMENTS = 64  # UDP_MAX_SEGMENTS
MAX_SEGMENTED_BYTES = 60_000
# Streams played in sync in a browser share a media stream: the host's camera and the sound.
SYNCED_STREAMS = frozenset({"camera", "sound"})


class SrtpLink:
    """A viewer's way out: its SRTP session and the socket of its selected ICE pair.

    A frame's packets go out in as few system calls as the kernel allows: a run of packets of
    one size (a video frame cut into equal parts, the last one shorter) is one ``sendmsg`` with
    UDP segmentation offload (``UDP_SEGMENT``, Linux 4.18), which the kernel cuts back into the
    same datagrams; a system call costs more than protecting a packet. The socket is a
    duplicate of the one aioice reads, so that asyncio's own writes (STUN) are left alone.
    Where segmentation is refused, or the pair is relayed through TURN, each packet is written
    on its own.
    """

    def __init__(self, dtls: RTCDtlsTransport) -> None:
        self._dtls = dtls
        self._protect = getattr(dtls, TX_SRTP_ATTR).protect
        self._nominated: dict[int, Any] = getattr(
            getattr(dtls.transport, ICE_CONNECTION_ATTR), NOMINATED_ATTR
        )
        self._connected = dtls.state == "connected"
        dtls.on("statechange", self._state_changed)
        self._sockets: dict[int, socket.socket | None] = {}  # by id of the pair's protocol
        self._segmenting = SEGMENTATION  # until the kernel refuses it
        self.stalls = 0
        self.srtp_errors = 0

    def _state_changed(self) -> None:
        self._connected = self._dtls.state == "connected"

    def sender(self) -> PacketSender | None:
        """Protect and write packets, or None when the viewer cannot take more now."""
        if not self._connected:
            return None
        pair = self._nominated.get(1)
        if pair is None:
            return None
        transport = pair.protocol.transport
        buffered = getattr(transport, "get_write_buffer_size", None)
        if buffered is not None and buffered():
            # The kernel refused a datagram and asyncio keeps the rest: the viewer stalls.
            self.stalls += 1
            return None
        protect = self._protect
        address = pair.remote_addr
        sock = self._socket(pair.protocol)
        if sock is None:
            sendto = transport.sendto

            def send_each(packets: list[bytes]) -> bool:
                for packet in packets:
                    datagram = self._protected(protect, packet)
                    if datagram:
                        sendto(datagram, address)
                return True

            return send_each

        def send(packets: list[bytes]) -> bool:
            datagrams = [d for d in (self._protected(protect, p) for p in packets) if d]
            try:
                if len(datagrams) == 1 or not self._segmenting:
                    for datagram in datagrams:
                        sock.sendto(datagram, address)
                else:
                    self._send_segmented(sock, datagrams, address)
            except BlockingIOError:
                self.stalls += 1
                return False
            except OSError as exc:
                # Not a full socket: the pair went away, or the network refused. The viewer
                # misses these packets; ICE consent decides whether it is gone.
                logger.debug("broadcast viewer: datagrams not sent: %s", exc)
                return False
            return True

        return send

    def _protected(self, protect: Callable[[bytes], bytes], packet: bytes) -> bytes:
        try:
            return protect(packet)
        except pylibsrtp.Error:
            # Sent again too long after it was first (older than the SRTP replay window):
            # left out.
            self.srtp_errors += 1
            return b""

    def _socket(self, protocol: Any) -> socket.socket | None:
        """Our own handle on the pair's UDP socket (None for a TURN relay)."""
        key = id(protocol)
        if key not in self._sockets:
            plain = protocol.transport.get_extra_info("socket")
            sock = None
            if plain is not None:
                sock = socket.socket(fileno=os.dup(plain.fileno()))
                sock.setblocking(False)
            self._sockets[key] = sock
        return self._sockets[key]

    def _send_segmented(self, sock: socket.socket, datagrams: list[bytes], address: Any) -> None:
        """Write `datagrams` in runs the kernel segments (one by one once it refuses)."""
        sent = 0
        try:
            for start, end in segment_runs([len(d) for d in datagrams]):
                if end - start == 1:
                    sock.sendto(datagrams[start], address)
                else:
                    size = struct.pack("=H", len(datagrams[start]))
                    sock.sendmsg(
                        [b"".join(datagrams[start:end])],
                        [(socket.SOL_UDP, UDP_SEGMENT, size)],
                        0,
                        address,
                    )
                sent = end
        except BlockingIOError:
            raise
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.ENOPROTOOPT, errno.EOPNOTSUPP, errno.EIO):
                raise
            logger.info("UDP segmentation refused (%s): datagrams go one by one", exc)
            self._segmenting = False
            for datagram in datagrams[sent:]:
                sock.sendto(datagram, address)

    async def send_rtcp(self, data: bytes) -> None:
        """Send a compound RTCP packet (aiortc protects it)."""
        with contextlib.suppress(ConnectionError):
            await getattr(self._dtls, SEND_RTP_ATTR)(data)

    def close(self) -> None:
        """Close the duplicated sockets."""
        for sock in self._sockets.values():
            if sock is not None:
                sock.close()
        self._sockets.clear()


def segment_runs(sizes: Sequence[int]) -> list[tuple[int, int]]:
    """Split datagrams of these sizes into runs the kernel can segment: (start, end) each, of
    one size but for a shorter last one, at most MAX_SEGMENTS and MAX_SEGMENTED_BYTES."""
    runs = []
    start, count = 0, len(sizes)
    while start < count:
        size = sizes[start]
        end = start + 1
        limit = min(
            count, start + MAX_SEGMENTS, start + max(1, MAX_SEGMENTED_BYTES // max(size, 1))
        )
        while end < limit and sizes[end] == size:
            end += 1
        if end < limit and sizes[end] < size:
            end += 1  # a shorter datagram may end a segmented run
        runs.append((start, end))
        start = end
    return runs


class _RtcpSink:
    """Takes the viewer's RTCP for one stream, as aiortc's router hands it to a sender."""

    def __init__(self, stream: ViewerStream) -> None:
        self._ssrc = stream.stream.spec.ssrc
        self._stream = stream

    async def _handle_rtcp_packet(self, packet: AnyRtcpPacket) -> None:
        if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            self._stream.retransmit(packet.lost)
        elif isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
            self._stream.request_keyframe()
        elif isinstance(packet, RtcpRrPacket | RtcpSrPacket):
            for report in packet.reports:
                if report.ssrc == self._ssrc:
                    self._stream.fraction_lost = report.fraction_lost


def prefer_codec(transceiver: RTCRtpTransceiver, spec: StreamSpec) -> None:
    """Offer only the stream's codec (and RTX for video): its packets are sent as they are."""
    wanted = f"{spec.kind}/{spec.codec}".lower()
    codecs = RTCRtpSender.getCapabilities(spec.kind).codecs
    transceiver.setCodecPreferences(
        [
            c
            for c in codecs
            if (
                c.mimeType.lower() == wanted
                and (spec.codec != "H264" or c.parameters.get("packetization-mode") == "1")
            )
            or c.mimeType.lower() == "video/rtx"
        ]
    )


class BroadcastViewer:
    """One viewer's connection: the streams it asked for, nothing received but RTCP."""

    def __init__(
        self,
        broadcast: Broadcast,
        *,
        configuration: RTCConfiguration,
        name: str,
        on_state: Callable[[str], None] | None = None,
        on_joined: Callable[[BroadcastViewer], None] | None = None,
    ) -> None:
        """`on_joined` is called once the viewer was sent a packet of every stream it asked
        for (its first picture: a keyframe)."""
        self.name = name
        self._broadcast = broadcast
        self._on_joined = on_joined
        self._configuration = configuration
        self._on_state = on_state
        self._pc: RTCPeerConnection | None = None
        self._link: SrtpLink | None = None
        self._joined: list[tuple[ViewerStream, _RtcpSink, RTCDtlsTransport]] = []
        self._cname = ""
        self._expected = 0
        self._started = 0
        self._closed = False
        self.created_at = time.monotonic()
        self.first_packet_at: float | None = None  # of any stream
        self.joined_at: float | None = None  # when every stream had sent a packet

    @property
    def connection_state(self) -> str:
        """The peer connection's state, ``new`` before the offer."""
        return self._pc.connectionState if self._pc is not None else "new"

    @property
    def streams(self) -> list[ViewerStream]:
        """The streams this viewer receives now."""
        return [stream for stream, _sink, _dtls in self._joined]

    async def negotiate(self, sdp: str, sections: Sequence[str]) -> str:
        """Answer a receive-only offer whose media sections ask for `sections` (stream names,
        in the offer's order)."""
        if self._pc is not None or self._closed:
            raise RuntimeError("a broadcast viewer negotiates once")
        pc = self._pc = RTCPeerConnection(self._configuration)
        self._broadcast._viewers.add(self)

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if self._on_state is not None:
                self._on_state(pc.connectionState)

        self._expected = len(sections)
        for name in sections:
            stream = self._broadcast.streams[name]
            transceiver = pc.addTransceiver(stream.spec.kind, direction="sendonly")
            prefer_codec(transceiver, stream.spec)
            sender = transceiver.sender
            setattr(sender, SSRC_ATTR, stream.spec.ssrc)
            setattr(sender, STREAM_ID_ATTR, self._broadcast.media_stream_id(name))
            setattr(sender, SEND_ATTR, self._joiner(stream, sender))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return str(pc.localDescription.sdp)

    async def add_candidate(self, candidate: RTCIceCandidate) -> None:
        """A trickled ICE candidate of the viewer."""
        if self._pc is not None:
            await self._pc.addIceCandidate(candidate)

    async def close(self) -> None:
        """Leave every stream and close the connection; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._broadcast._viewers.discard(self)
        for stream, sink, dtls in self._joined:
            stream.stop()
            getattr(dtls, UNREGISTER_SENDER_ATTR)(sink)
        self._joined.clear()
        if self._link is not None:
            self._link.close()
        pc, self._pc = self._pc, None
        if pc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pc.close(), timeout=5)

    def _joiner(
        self, stream: BroadcastStream, sender: RTCRtpSender
    ) -> Callable[[RTCRtpSendParameters], Any]:
        async def join(parameters: RTCRtpSendParameters) -> None:
            if self._closed:
                return
            dtls = sender.transport
            if self._link is None:
                self._link = SrtpLink(dtls)
            codec = parameters.codecs[0]
            rtx = next(
                (
                    c.payloadType
                    for c in parameters.codecs
                    if is_rtx(c) and c.parameters.get("apt") == codec.payloadType
                ),
                None,
            )
            viewer_stream = ViewerStream(
                stream,
                self._link,
                payload_type=int(codec.payloadType or 0),
                rtx_payload_type=rtx,
                rtx_ssrc=getattr(sender, RTX_SSRC_ATTR),
                on_first_packet=self._first_packet,
            )
            sink = _RtcpSink(viewer_stream)
            getattr(dtls, REGISTER_SENDER_ATTR)(sink, parameters)
            self._cname = parameters.rtcp.cname or self._cname
            self._joined.append((viewer_stream, sink, dtls))
            viewer_stream.start()

        return join

    def _first_packet(self) -> None:
        now = time.monotonic()
        if self.first_packet_at is None:
            self.first_packet_at = now
        self._started += 1
        if self._started == self._expected and self.joined_at is None:
            self.joined_at = now
            if self._on_joined is not None:
                self._on_joined(self)

    async def send_reports(self, wall_time: float) -> None:
        """One sender report for each stream the viewer receives, with its CNAME."""
        if self._link is None or not self._joined:
            return
        packets: list[Any] = []
        chunks = []
        for stream, _sink, _dtls in self._joined:
            if not stream.packets_sent or stream.stream.last_timestamp is None:
                continue  # nothing sent yet, or a relay not yet told the origin's clock
            ntp, rtp, count, octets = stream.report(wall_time)
            ssrc = stream.stream.spec.ssrc
            packets.append(
                RtcpSrPacket(
                    ssrc=ssrc,
                    sender_info=RtcpSenderInfo(
                        ntp_timestamp=ntp, rtp_timestamp=rtp, packet_count=count, octet_count=octets
                    ),
                )
            )
            chunks.append(RtcpSourceInfo(ssrc=ssrc, items=[(1, self._cname.encode())]))
        if not packets:
            return
        packets.append(RtcpSdesPacket(chunks=chunks))
        await self._link.send_rtcp(b"".join(bytes(p) for p in packets))


class Broadcast:
    """A broadcast's streams in one worker, and the viewers it serves there."""

    def __init__(
        self,
        specs: Sequence[StreamSpec],
        *,
        name: str,
        keyframe_requests: Mapping[str, Callable[[], None]] | None = None,
    ) -> None:
        self.name = name
        requests = keyframe_requests or {}
        self.streams = {
            spec.name: BroadcastStream(spec, request_keyframe=requests.get(spec.name), name=name)
            for spec in specs
        }
        self._viewers: set[BroadcastViewer] = set()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def viewers(self) -> int:
        """Viewers connected to this worker's part of the broadcast."""
        return len(self._viewers)

    def media_stream_id(self, stream: str) -> str:
        """The media stream a stream belongs to in a viewer's answer (synced ones share one)."""
        return f"{self.name}-main" if stream in SYNCED_STREAMS else f"{self.name}-{stream}"

    async def start(self) -> None:
        """Start the streams and their sender reports."""
        for stream in self.streams.values():
            await stream.start()
        if self._task is None:
            self._task = asyncio.create_task(self._report(), name=f"broadcast-{self.name}-reports")

    async def close(self) -> None:
        """Close every viewer and stream; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, timeout=5)
        for viewer in list(self._viewers):
            await viewer.close()
        for stream in self.streams.values():
            await stream.close()

    async def __aenter__(self) -> Broadcast:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _report(self) -> None:
        """Sender reports to every viewer about once a second, spread over the second."""
        while True:
            await asyncio.sleep(REPORT_INTERVAL_S * (0.75 + random.random() / 2))
            for viewer in list(self._viewers):
                try:
                    await viewer.send_reports(time.time())
                except Exception:
                    logger.exception("broadcast %s: a sender report failed", self.name)
