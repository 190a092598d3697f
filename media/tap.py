"""The encoded-frame tap on an aiortc receiver.

aiortc has no public API for the encoded frames it receives (aiortc issue 984). Whole frames
leave the jitter buffer in ``RTCRtpReceiver._handle_rtp_packet`` and are put on the receiver's
private decoder queue; the decoder thread takes them from there. :func:`install_tap` replaces
that queue, before the decoder thread starts, with a :class:`ReceiverTap` that hands every frame
to its sinks (recorder, forwarder, counters, the room's own decoders in ``media.decode``).
aiortc's decoder is never fed: its thread only ever receives the stop marker.
aiortc is pinned in pyproject.toml and ``tests/unit/media/test_tap_contract.py`` fails if the
private attribute moves.
"""

from __future__ import annotations

import logging
import queue
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.rate import RemoteBitrateEstimator
from aiortc.rtp import RtcpSrPacket

from media.recovery import (
    give_video_frames_when_whole,
    loss_recovery,
    pass_audio_in_arrival_order,
)

logger = logging.getLogger(__name__)

DECODER_QUEUE_ATTR = "_RTCRtpReceiver__decoder_queue"
DECODER_THREAD_ATTR = "_RTCRtpReceiver__decoder_thread"
TIMESTAMP_MAPPER_ATTR = "_RTCRtpReceiver__timestamp_mapper"
RTX_SSRC_ATTR = "_RTCRtpReceiver__rtx_ssrc"
RTCP_HANDLER_ATTR = "_handle_rtcp_packet"
ROUTER_ATTR = "_rtp_router"  # of the receiver's RTCDtlsTransport
NACK_GENERATOR_ATTR = "_RTCRtpReceiver__nack_generator"
RTP_HANDLER_ATTR = "_handle_rtp_packet"
ESTIMATOR_ATTR = "_RTCRtpReceiver__remote_bitrate_estimator"
NTP_UNIX_OFFSET = 2_208_988_800  # seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix)
# A sender whose reported clock is further than this from ours is not trusted for wall time.
MAX_CLOCK_SKEW_S = 5.0
KEYFRAME_HOOK_ATTR = "_send_keyframe"


class TapUnavailable(RuntimeError):
    """The installed aiortc does not have the private attribute the tap relies on."""


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One whole encoded frame as it came from the network."""

    kind: str  # "audio" or "video"
    codec: str  # e.g. "VP8", "opus"
    data: bytes
    rtp_timestamp: int
    clock_rate: int
    keyframe: bool
    # Wall clock of the frame, seconds since the epoch: the sender's clock through its RTCP
    # sender reports when known (camera and microphone of a seat then line up exactly, whatever
    # the jitter buffers did), else the arrival time.
    wall_time: float


def is_vp8_keyframe(data: bytes) -> bool:
    """Whether a VP8 frame is a key frame (RFC 6386 9.1: P bit of the frame tag is 0)."""
    return bool(data) and (data[0] & 0x01) == 0


def is_whole_vp8_keyframe(data: bytes) -> bool:
    """A keyframe from its beginning: the key frame start code follows the frame tag (RFC 6386
    9.1), which a frame put together from the middle of a keyframe's packets does not have."""
    return is_vp8_keyframe(data) and data[3:6] == b"\x9d\x01\x2a"


def is_h264_keyframe(data: bytes) -> bool:
    """Whether an H.264 access unit in Annex B holds an IDR slice (NAL unit type 5), or the
    parameter sets that come in front of one."""
    start = 0
    while True:
        found = data.find(b"\x00\x00\x01", start)
        if found < 0 or found + 3 >= len(data):
            return False
        if data[found + 3] & 0x1F in (5, 7):
            return True
        start = found + 3


FrameCallback = Callable[[EncodedFrame], None]


class ReceiverTap:
    """Stands in for the receiver's decoder queue: hands every frame to the sinks.

    ``put`` is called on the event loop by aiortc, ``get`` by aiortc's decoder thread, which
    gets nothing but the stop marker when the receiver stops.
    """

    def __init__(self, kind: str, inner: queue.Queue[Any]) -> None:
        self.kind = kind
        self._inner = inner
        self._sinks: list[FrameCallback] = []
        # After packets were given up (media.recovery): only a whole keyframe is passed on.
        self._awaiting_keyframe = False
        self.frames_skipped = 0
        self._sender_report: tuple[float, int] | None = None  # (unix seconds, RTP timestamp)
        self._origin: Callable[[], int | None] = lambda: None
        self.frames = 0
        self.bytes = 0
        self.skewed_reports = 0

    def sender_report(self, ntp_timestamp: int, rtp_timestamp: int, arrival: float) -> None:
        """An RTCP sender report of the media stream: ties its RTP clock to the sender's clock."""
        seconds = ntp_timestamp / (1 << 32) - NTP_UNIX_OFFSET
        if abs(seconds - arrival) > MAX_CLOCK_SKEW_S:
            # The seat's clock is off (or not NTP at all): arrival time is the better guess.
            self.skewed_reports += 1
            self._sender_report = None
            return
        self._sender_report = (seconds, rtp_timestamp)

    def _wall_time(self, mapped_timestamp: int, clock_rate: int, arrival: float) -> float:
        report = self._sender_report
        origin = self._origin()
        if report is None or origin is None:
            return arrival
        raw = (mapped_timestamp + origin) & 0xFFFFFFFF
        delta = (raw - report[1]) & 0xFFFFFFFF
        if delta >= 1 << 31:
            delta -= 1 << 32
        return report[0] + delta / clock_rate

    def await_keyframe(self) -> None:
        """Pass on nothing but a whole keyframe from now on, until one comes (the frames in
        between refer to what was lost)."""
        self._awaiting_keyframe = True

    @property
    def awaiting_keyframe(self) -> bool:
        """Whether a keyframe is awaited (nothing else is passed on)."""
        return self._awaiting_keyframe

    def add_sink(self, sink: FrameCallback) -> None:
        """Give every following encoded frame to `sink` as well."""
        self._sinks.append(sink)

    # -- the queue.Queue surface aiortc uses -------------------------------------------------

    def put(self, item: Any) -> None:
        """Take a (codec, JitterFrame) from the receiver, or None when the receiver stops."""
        if item is None:
            self._inner.put(None)
            return
        codec, jitter_frame = item
        data: bytes = jitter_frame.data
        keyframe = (
            self.kind == "audio"
            or (codec.name == "VP8" and is_vp8_keyframe(data))
            or (codec.name == "H264" and is_h264_keyframe(data))
        )
        if self._awaiting_keyframe:
            if codec.name == "VP8" and not is_whole_vp8_keyframe(data):
                self.frames_skipped += 1
                return
            self._awaiting_keyframe = False
        arrival = time.time()
        frame = EncodedFrame(
            kind=self.kind,
            codec=codec.name,
            data=data,
            rtp_timestamp=jitter_frame.timestamp,
            clock_rate=codec.clockRate,
            keyframe=keyframe,
            wall_time=self._wall_time(jitter_frame.timestamp, codec.clockRate, arrival),
        )
        self.frames += 1
        self.bytes += len(data)
        for sink in self._sinks:
            try:
                sink(frame)
            except Exception:
                # One faulty consumer must not stop the media of the seat.
                logger.exception("encoded frame sink failed (%s)", self.kind)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """What the decoder thread waits for: only the stop marker ever comes."""
        return self._inner.get(block, timeout)

    def qsize(self) -> int:
        """Items waiting for the decoder thread (0, or the stop marker)."""
        return self._inner.qsize()


def install_tap(receiver: RTCRtpReceiver, *, whole_frames: bool = True) -> ReceiverTap:
    """Put a tap in place of `receiver`'s decoder queue; call it in the ``track`` event.

    `whole_frames`: a video receiver gives each frame out as soon as it is whole
    (``media.recovery.WholeFrames``) rather than when the next one begins."""
    inner = getattr(receiver, DECODER_QUEUE_ATTR, None)
    if not isinstance(inner, queue.Queue):
        raise TapUnavailable(
            f"RTCRtpReceiver has no {DECODER_QUEUE_ATTR} queue; the aiortc version is unsupported"
        )
    if getattr(receiver, DECODER_THREAD_ATTR, None) is not None:
        raise TapUnavailable("the receiver's decoder thread already runs; install in 'track'")
    kind = receiver.track.kind if receiver.track is not None else "video"
    tap = ReceiverTap(kind, inner)
    setattr(receiver, DECODER_QUEUE_ATTR, tap)
    _follow_sender_reports(receiver, tap)
    _route_retransmissions(receiver, tap, whole_frames)
    _share_bandwidth_estimate(receiver)
    return tap


# One receive-side bandwidth estimator per transport (one per seat's bundled connection).
_ESTIMATORS: weakref.WeakKeyDictionary[Any, RemoteBitrateEstimator] = weakref.WeakKeyDictionary()


def _share_bandwidth_estimate(receiver: RTCRtpReceiver) -> None:
    """Have all video receivers of `receiver`'s transport estimate its bandwidth together.

    aiortc gives each video receiver its own estimator, and each sends REMB messages with what
    it estimates from its own stream alone. A browser applies every REMB it gets to the whole
    connection, the latest one winning, and the estimator allows at most about 1.5 times the
    rate it measures. A seat's camera and its screen share then cap each other: the browser
    splits the cap between its streams, each measures less, and the estimate falls to the
    floor. Measured with two Chromium seats on loopback: 60 to 160 kbit/s for the whole
    connection after 4 s, and the camera encoded at 30 kbit/s. A browser's own receive side
    keeps one estimator for all streams of a connection; this does the same, so that its REMB
    measures the seat's whole upstream and lists all its SSRCs.
    """
    if getattr(receiver, ESTIMATOR_ATTR, None) is None:
        return  # an audio receiver: aiortc estimates no audio bandwidth
    transport = receiver.transport
    shared = _ESTIMATORS.get(transport)
    if shared is None:
        shared = _ESTIMATORS[transport] = RemoteBitrateEstimator()
    setattr(receiver, ESTIMATOR_ATTR, shared)


def _route_retransmissions(
    receiver: RTCRtpReceiver, tap: ReceiverTap, whole_frames: bool = True
) -> None:
    """Have the transport's RTP router send the receiver its retransmissions (RTX packets).

    aiortc registers a receiver's media SSRC with the router, not the SSRC of its RTX stream.
    The router then looks for the receiver by payload type, and a seat's bundled connection
    has several video receivers with the same RTX payload type: without this, every
    retransmission is dropped, NACKs are answered in vain, and a lost packet holds the frames
    behind it in the jitter buffer until it overflows (at 2 % loss, 97 % of a desktop's frames
    never arrive). The RTX SSRCs are known once the receiver starts (``receive``); they are
    added then.

    Only the retransmissions of packets the receiver misses get through. A browser also sends
    packets it was never asked for on its RTX stream, as bandwidth probes; aiortc's jitter
    buffer takes an old sequence number more than 100 behind for a restarted stream and
    empties itself, losing the frames it held.

    After every packet, what is still missing is asked for again, or given up
    (``media.recovery``).
    """
    nacks = getattr(receiver, NACK_GENERATOR_ATTR, None)
    if nacks is None:
        # An audio receiver: aiortc asks for no audio packet again.
        pass_audio_in_arrival_order(receiver)
        return
    if whole_frames:
        give_video_frames_when_whole(receiver)
    receive = receiver.receive
    handle = getattr(receiver, RTP_HANDLER_ATTR)
    rtx_ssrcs = getattr(receiver, RTX_SSRC_ATTR, None)  # filled in by receive()
    if not isinstance(rtx_ssrcs, dict):
        logger.warning("aiortc internals moved: retransmissions do not reach the receiver")
        return

    recovery = loss_recovery(receiver, nacks, tap)

    async def handle_asked_for(packet: Any, arrival_time_ms: int) -> None:
        media_ssrc = rtx_ssrcs.get(packet.ssrc, packet.ssrc)
        if packet.ssrc in rtx_ssrcs:
            payload = packet.payload
            if len(payload) < 2 or int.from_bytes(payload[:2], "big") not in nacks.missing:
                return
        await handle(packet, arrival_time_ms=arrival_time_ms)
        if recovery is not None:
            await recovery.after_packet(media_ssrc)

    async def receive_and_route(parameters: Any) -> None:
        await receive(parameters)
        router = getattr(receiver.transport, ROUTER_ATTR, None)
        table = getattr(router, "ssrc_table", None)
        if not isinstance(table, dict):
            logger.warning("aiortc internals moved: retransmissions do not reach the receiver")
            return
        for rtx_ssrc in rtx_ssrcs:
            table.setdefault(rtx_ssrc, receiver)

    receiver.receive = receive_and_route  # type: ignore[method-assign]
    setattr(receiver, RTP_HANDLER_ATTR, handle_asked_for)


def _follow_sender_reports(receiver: RTCRtpReceiver, tap: ReceiverTap) -> None:
    """Give the tap the stream's RTCP sender reports and the receiver's RTP timestamp origin.

    aiortc hands frames on with timestamps rebased to the stream's first one; the origin it
    subtracted is needed to relate them to the sender reports.
    """
    mapper = getattr(receiver, TIMESTAMP_MAPPER_ATTR, None)
    handler = getattr(receiver, RTCP_HANDLER_ATTR, None)
    if mapper is None or not hasattr(mapper, "_origin") or handler is None:
        logger.warning("aiortc internals moved: wall time of frames falls back to arrival time")
        return
    tap._origin = lambda: mapper._origin
    rtx_ssrcs: dict[int, int] = getattr(receiver, RTX_SSRC_ATTR, {})

    async def handle_rtcp(packet: Any) -> None:
        if isinstance(packet, RtcpSrPacket) and packet.ssrc not in rtx_ssrcs:
            info = packet.sender_info
            tap.sender_report(info.ntp_timestamp, info.rtp_timestamp, time.time())
        await handler(packet)

    setattr(receiver, RTCP_HANDLER_ATTR, handle_rtcp)


def hook_keyframe_requests(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Call `callback` when the remote end asks `sender` for a keyframe (PLI or FIR).

    aiortc acts on such a request only when it encodes; for pre-encoded packets the request has
    to reach the encoder that made them.
    """
    if not callable(getattr(sender, KEYFRAME_HOOK_ATTR, None)):
        raise TapUnavailable(f"RTCRtpSender has no {KEYFRAME_HOOK_ATTR}; aiortc is unsupported")
    setattr(sender, KEYFRAME_HOOK_ATTR, callback)


async def send_pli(receiver: RTCRtpReceiver) -> None:
    """Ask the remote sender of `receiver` for a keyframe (RTCP PLI) on each active SSRC."""
    for source in receiver.getSynchronizationSources():
        await receiver._send_rtcp_pli(source.source)
