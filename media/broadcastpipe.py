"""A pipe that gives a broadcast's packets, once, to another worker that serves viewers too.

When one worker's core cannot serve more viewers, further viewers are served by other workers.
Each of those gets the broadcast's packets once, from the worker that makes them (the origin),
the way mediasoup pipes a router to a router in another worker: plain RTP over UDP on the
loopback interface, every packet exactly as the origin made it (same SSRC, sequence numbers,
timestamps and payload type). A relay keeps its own history for NACKs and serves its viewers
as the origin does; a viewer cannot tell which worker it is connected to.

Why UDP and not the worker channel: the channel is a stream socket to the signaling process,
so each packet would cross two more event loops and be framed as JSON; a datagram from one
worker to another costs one system call on each side. Loopback loses a datagram only when the
receiving socket's buffer is full: the relay asks for a 4 MB buffer (the kernel caps it at
``net.core.rmem_max``), several seconds of a broadcast, and counts the gaps it sees.

Back from a relay to the origin go RTCP PLIs on the same socket (a relay's viewer joined or lost
a picture: a keyframe please, throttled by the origin's stream like any viewer's). From the
origin to each relay go RTCP sender reports once a second, one per stream, which tie the
stream's RTP clock to the origin's wall clock: viewers of every worker get the same sender
reports, hence the same audio and video sync. A relay finds the end of a video frame by the
marker bit and a keyframe by the codec's payload (``media.broadcast.is_keyframe_start``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Sequence
from typing import Any, cast

from aiortc.rtp import (
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RtcpPacket,
    RtcpPsfbPacket,
    RtcpSenderInfo,
    RtcpSrPacket,
    is_rtcp,
)

from media.broadcast import NTP_UNIX_OFFSET, BroadcastStream, RtpFrame, StreamSpec
from media.broadcastviewer import Broadcast
from media.rtppacket import is_keyframe_start, sequence_of

logger = logging.getLogger(__name__)

Address = tuple[str, int]
PIPE_HOST = "127.0.0.1"
RECEIVE_BUFFER = 4 * 1024 * 1024
REPORT_INTERVAL_S = 1.0
# A relay whose socket takes no more (never seen on loopback) misses frames, not memory.
MAX_BUFFERED = 1024 * 1024
MAX_FRAME_PACKETS = 1024


def _ntp(wall_time: float) -> int:
    seconds = wall_time + NTP_UNIX_OFFSET
    return (int(seconds) << 32) | int((seconds % 1) * (1 << 32))


def _wall(ntp: int) -> float:
    return ntp / (1 << 32) - NTP_UNIX_OFFSET


class _Endpoint(asyncio.DatagramProtocol):
    """A UDP socket on loopback that hands its datagrams to a callback."""

    def __init__(self, on_datagram: Any) -> None:
        self._on_datagram = on_datagram
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            self._on_datagram(data, (addr[0], addr[1]))
        except Exception:
            logger.exception("broadcast pipe: a datagram could not be handled")


async def _open_endpoint(on_datagram: Any, receive_buffer: int | None = None) -> _Endpoint:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.bind((PIPE_HOST, 0))
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    _transport, endpoint = await loop.create_datagram_endpoint(
        lambda: _Endpoint(on_datagram), sock=sock
    )
    return endpoint


class _RelayOutlet:
    """One relay as an outlet of every stream: all packets, no gating, no SRTP."""

    def __init__(self, origin: PipeOrigin, address: Address) -> None:
        self._origin = origin
        self.address = address
        self.frames_skipped = 0

    def send_frame(self, frame: RtpFrame) -> int:
        transport = self._origin.transport
        if transport is None:
            return 0
        buffered = getattr(transport, "get_write_buffer_size", None)
        if buffered is not None and buffered() > MAX_BUFFERED:
            self.frames_skipped += 1
            return 0
        for packet in frame.packets:
            transport.sendto(packet, self.address)
        return len(frame.packets)


class PipeOrigin:
    """The origin's end of a broadcast's pipes: its packets out to relays, their requests in."""

    def __init__(self, broadcast: Broadcast) -> None:
        self._broadcast = broadcast
        self._by_ssrc = {s.spec.ssrc: s for s in broadcast.streams.values()}
        self._relays: dict[Address, _RelayOutlet] = {}
        self._endpoint: _Endpoint | None = None
        self._task: asyncio.Task[None] | None = None
        self.keyframe_requests = 0

    @property
    def transport(self) -> asyncio.DatagramTransport | None:
        """The origin's pipe socket."""
        return self._endpoint.transport if self._endpoint is not None else None

    @property
    def relays(self) -> list[Address]:
        """Where the packets go."""
        return list(self._relays)

    async def start(self) -> Address:
        """Open the pipe socket; its address."""
        if self._endpoint is None:
            self._endpoint = await _open_endpoint(self._datagram)
            self._task = asyncio.create_task(
                self._report(), name=f"broadcast-{self._broadcast.name}-pipe-reports"
            )
        transport = self.transport
        assert transport is not None
        host, port = transport.get_extra_info("sockname")[:2]
        return host, port

    async def __aenter__(self) -> PipeOrigin:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def add_relay(self, address: Address) -> None:
        """Send every stream's packets to `address` from the next keyframe on."""
        if address in self._relays:
            return
        outlet = self._relays[address] = _RelayOutlet(self, address)
        for stream in self._broadcast.streams.values():
            stream.add_outlet(outlet)
        self._send_reports([outlet.address])

    def remove_relay(self, address: Address) -> None:
        """Send nothing more to `address`."""
        outlet = self._relays.pop(address, None)
        if outlet is not None:
            for stream in self._broadcast.streams.values():
                stream.remove_outlet(outlet)

    async def close(self) -> None:
        """Stop sending; safe to call twice."""
        for address in list(self._relays):
            self.remove_relay(address)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, timeout=5)
        endpoint, self._endpoint = self._endpoint, None
        if endpoint is not None and endpoint.transport is not None:
            endpoint.transport.close()

    def _datagram(self, data: bytes, address: Address) -> None:
        if address not in self._relays or not is_rtcp(data):
            return
        for packet in RtcpPacket.parse(data):
            if isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
                stream = self._by_ssrc.get(packet.media_ssrc)
                if stream is not None:
                    self.keyframe_requests += 1
                    stream.request_keyframe()

    async def _report(self) -> None:
        while True:
            await asyncio.sleep(REPORT_INTERVAL_S)
            self._send_reports(list(self._relays))

    def _send_reports(self, addresses: Sequence[Address]) -> None:
        """Each stream's RTP clock against the origin's wall clock (RTCP SR, no counts)."""
        transport = self.transport
        if transport is None or not addresses:
            return
        reports = b"".join(
            bytes(
                RtcpSrPacket(
                    ssrc=stream.spec.ssrc,
                    sender_info=RtcpSenderInfo(
                        ntp_timestamp=_ntp(stream.last_wall_time),
                        rtp_timestamp=stream.last_timestamp,
                        packet_count=0,
                        octet_count=0,
                    ),
                )
            )
            for stream in self._broadcast.streams.values()
            if stream.last_timestamp is not None
        )
        if reports:
            for address in addresses:
                transport.sendto(reports, address)


class _Assembler:
    """Puts one stream's packets back into frames as they come through the pipe."""

    def __init__(self, stream: BroadcastStream) -> None:
        self._stream = stream
        self._video = stream.spec.kind == "video"
        self._codec = stream.spec.codec
        self._packets: list[bytes] = []
        self._timestamp = 0
        self._expected: int | None = None
        self.gaps = 0

    def add(self, packet: bytes) -> None:
        sequence = sequence_of(packet)
        if self._expected is not None and sequence != self._expected:
            missed = (sequence - self._expected) & 0xFFFF
            if missed < 0x8000:
                self.gaps += missed
        self._expected = (sequence + 1) & 0xFFFF
        timestamp = int.from_bytes(packet[4:8], "big")
        if self._packets and timestamp != self._timestamp:
            self._flush()  # the previous frame's last packet went missing
        self._packets.append(packet)
        self._timestamp = timestamp
        if not self._video or packet[1] & 0x80 or len(self._packets) >= MAX_FRAME_PACKETS:
            self._flush()

    def _flush(self) -> None:
        packets, self._packets = self._packets, []
        keyframe = not self._video or is_keyframe_start(self._codec, packets[0][12:])
        frame = RtpFrame(
            packets, keyframe=keyframe, timestamp=self._timestamp, wall_time=time.time()
        )
        self._stream.publish(frame, own_clock=False)

    def set_clock(self, timestamp: int, wall_time: float) -> None:
        """The origin's sender report of the stream."""
        self._stream.set_clock(timestamp, wall_time)


class PipeRelay:
    """A relay's end of the pipe: the origin's packets into this worker's streams."""

    def __init__(self, specs: Sequence[StreamSpec], *, origin: Address, name: str) -> None:
        self._origin = origin
        self.broadcast = Broadcast(
            specs,
            name=name,
            keyframe_requests={spec.name: self._asker(spec.ssrc) for spec in specs},
        )
        self._assemblers = {
            stream.spec.ssrc: _Assembler(stream) for stream in self.broadcast.streams.values()
        }
        self._endpoint: _Endpoint | None = None

    @property
    def gaps(self) -> int:
        """Packets that went missing in the pipe."""
        return sum(a.gaps for a in self._assemblers.values())

    async def start(self) -> Address:
        """Start the streams and open the pipe socket; its address for the origin."""
        await self.broadcast.start()
        if self._endpoint is None:
            self._endpoint = await _open_endpoint(self._datagram, RECEIVE_BUFFER)
        assert self._endpoint.transport is not None
        host, port = self._endpoint.transport.get_extra_info("sockname")[:2]
        return host, port

    async def close(self) -> None:
        """Close the pipe and the broadcast's part here; safe to call twice."""
        endpoint, self._endpoint = self._endpoint, None
        if endpoint is not None and endpoint.transport is not None:
            endpoint.transport.close()
        await self.broadcast.close()

    async def __aenter__(self) -> PipeRelay:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _datagram(self, data: bytes, address: Address) -> None:
        if address != self._origin or len(data) < 12 or data[0] & 0xC0 != 0x80:
            return  # only the origin feeds a relay
        if is_rtcp(data):
            for packet in RtcpPacket.parse(data):
                if isinstance(packet, RtcpSrPacket):
                    assembler = self._assemblers.get(packet.ssrc)
                    if assembler is not None:
                        info = packet.sender_info
                        assembler.set_clock(info.rtp_timestamp, _wall(info.ntp_timestamp))
            return
        assembler = self._assemblers.get(int.from_bytes(data[8:12], "big"))
        if assembler is not None:
            assembler.add(data)

    def _asker(self, ssrc: int) -> Any:
        def ask() -> None:
            endpoint = self._endpoint
            if endpoint is None or endpoint.transport is None:
                return
            pli = RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=0, media_ssrc=ssrc)
            endpoint.transport.sendto(bytes(pli), self._origin)

        return ask
