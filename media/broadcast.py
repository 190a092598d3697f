"""The live broadcast of a hall (开标直播, 4.4): every packet made once, sent to every viewer.

A broadcast has a few streams (the host's camera forwarded as it arrives, the information screen
and the speakers' mix, each encoded once) and many silent viewers, each a WebRTC connection of
its own. aiortc gives every connection an ``RTCRtpSender`` that packetizes each frame again in
Python and sends each packet down a chain of coroutines; ``bench/broadcast.py`` measures what
that costs a viewer. Here a frame is cut into RTP packets once (:class:`Packetizer`), with one
SSRC and one run of sequence numbers per stream shared by every viewer (each viewer is its own
connection, so no viewer ever sees two senders with one SSRC). For each viewer a packet is then
only SRTP-protected and written to its socket (``media.broadcastpeer``); ICE and DTLS stay
aiortc's. A viewer whose negotiation chose another payload type gets the packets rewritten once
per frame and payload type, not once per viewer.

Per viewer and stream (:class:`ViewerStream`):

- video starts at a keyframe, and one is asked of the source when a viewer joins;
- a viewer whose socket takes no more (the kernel refused and asyncio would start buffering) is
  skipped to the next keyframe instead of being buffered for;
- NACKed packets are sent again (on RTX when negotiated) from the stream's short history;
- PLI or FIR asks the source for a keyframe, at most one request per ``KEYFRAME_INTERVAL_S``
  (a request in between is answered by one deferred request, so a late joiner is not forgotten);
- sender reports tie each stream's RTP clock to the wall clock, so that a browser plays the
  camera and the sound in sync.

Frames go out from one task per stream, a slice of viewers at a time: a keyframe for hundreds of
viewers does not hold the event loop, and the audio's frames go out between the slices. A stream
whose frames pile up (the worker is beyond its capacity) drops them; its video viewers then wait
for the next keyframe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any, Protocol

import av
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder

from media.rtppacket import (
    HEADER_SIZE,
    rtp_packet,
    rtx_packet,
    sequence_of,
    with_payload_type,
)

logger = logging.getLogger(__name__)

MASK32 = 0xFFFFFFFF
HISTORY_SIZE = 1024  # packets a stream keeps for NACKs: about 5 s of a 1.5 Mbit/s camera
KEYFRAME_INTERVAL_S = 0.5
SLICE_PACKETS = 512  # packets written before the stream's task lets the loop run others
MAX_PENDING_FRAMES = 60  # frames a stream may hold back; beyond, it is past its capacity
MAX_RETRANSMIT = 64  # packets sent again for one NACK
# A viewer still waiting for a keyframe this long after asking asks again: a source may drop a
# request that comes too soon after another (a seat's connection sends at most two PLIs a
# second), and a camera sends no keyframe unless asked.
KEYFRAME_RETRY_S = 1.0
# A source whose timestamps jump back, or forward by more than this, restarted (a host who
# reconnected): the stream's timestamps go on from where they were, by the wall-clock gap.
MAX_TIMESTAMP_STEP_S = 5.0
NTP_UNIX_OFFSET = 2_208_988_800


@dataclass(frozen=True)
class StreamSpec:
    """One stream of a broadcast, as every worker that serves it knows it."""

    name: str  # the role a viewer's offer gives its media section: camera, screen, sound
    kind: str  # audio or video
    codec: str  # VP8, H264 or opus
    clock_rate: int
    ssrc: int
    payload_type: int  # of the shared packets; rewritten for a viewer who negotiated another

    def to_wire(self) -> dict[str, Any]:
        """The spec as JSON for another worker."""
        return asdict(self)

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> StreamSpec:
        """A spec back from JSON."""
        return cls(
            name=str(data["name"]),
            kind=str(data["kind"]),
            codec=str(data["codec"]),
            clock_rate=int(data["clock_rate"]),
            ssrc=int(data["ssrc"]),
            payload_type=int(data["payload_type"]),
        )


class RtpFrame:
    """One frame of a stream as RTP packets, shared by every viewer."""

    __slots__ = ("_by_type", "keyframe", "packets", "payload_bytes", "timestamp", "wall_time")

    def __init__(
        self, packets: list[bytes], *, keyframe: bool, timestamp: int, wall_time: float
    ) -> None:
        self.packets = packets
        self.keyframe = keyframe
        self.timestamp = timestamp
        self.wall_time = wall_time
        self.payload_bytes = sum(len(p) for p in packets) - HEADER_SIZE * len(packets)
        self._by_type: dict[int, list[bytes]] | None = None

    def packets_for(self, payload_type: int) -> list[bytes]:
        """The packets with `payload_type` (made once per frame for each type asked)."""
        packets = self.packets
        if not packets or packets[0][1] & 0x7F == payload_type:
            return packets
        if self._by_type is None:
            self._by_type = {}
        rewritten = self._by_type.get(payload_type)
        if rewritten is None:
            rewritten = [with_payload_type(p, payload_type) for p in packets]
            self._by_type[payload_type] = rewritten
        return rewritten


class Packetizer:
    """Cuts one source's encoded frames into RTP packets, once for every viewer."""

    def __init__(self, spec: StreamSpec, *, first_sequence: int, timestamp_origin: int) -> None:
        self.spec = spec
        self._pack = _packer(spec.codec)
        self._sequence = first_sequence & 0xFFFF
        self._origin = timestamp_origin & MASK32
        self._last: tuple[int, int, float] | None = None  # (source ts, our ts, wall time)

    def frame(
        self, data: bytes, timestamp: int, *, keyframe: bool, wall_time: float
    ) -> RtpFrame | None:
        """The packets of one encoded frame; `timestamp` in the stream's clock units."""
        payloads = self._pack(data)
        if not payloads:
            return None
        ours = self._timestamp(timestamp, wall_time)
        spec = self.spec
        last = len(payloads) - 1
        packets = []
        sequence = self._sequence
        for index, payload in enumerate(payloads):
            packets.append(
                rtp_packet(spec.payload_type, index == last, sequence, ours, spec.ssrc, payload)
            )
            sequence = (sequence + 1) & 0xFFFF
        self._sequence = sequence
        return RtpFrame(packets, keyframe=keyframe, timestamp=ours, wall_time=wall_time)

    def _timestamp(self, timestamp: int, wall_time: float) -> int:
        """Our RTP timestamp for the source's: steady, whatever the source did."""
        timestamp &= MASK32
        if self._last is None:
            ours = (self._origin + timestamp) & MASK32
        else:
            source, previous, previous_wall = self._last
            step = (timestamp - source) & MASK32
            if step >= 1 << 31:
                step -= 1 << 32
            limit = MAX_TIMESTAMP_STEP_S * self.spec.clock_rate
            if step < 0 or step > limit:
                gap = round((wall_time - previous_wall) * self.spec.clock_rate)
                step = min(max(gap, 1), int(limit))
            ours = (previous + step) & MASK32
        self._last = (timestamp, ours, wall_time)
        return ours


def _packer(codec: str) -> Callable[[bytes], list[bytes]]:
    """How a codec's frame becomes RTP payloads (aiortc's own packetization)."""
    if codec == "opus":
        return lambda data: [data] if data else []
    encoder: Vp8Encoder | H264Encoder
    if codec == "VP8":
        encoder = Vp8Encoder()
    elif codec == "H264":
        encoder = H264Encoder()
    else:
        raise ValueError(f"broadcast streams are VP8, H264 or opus, not {codec}")

    def pack(data: bytes) -> list[bytes]:
        packet = av.Packet(data)
        packet.pts = 0
        packet.time_base = Fraction(1, 90_000)
        return encoder.pack(packet)[0]

    return pack


class PacketHistory:
    """The last packets of a stream, by sequence number, for retransmission."""

    def __init__(self, size: int = HISTORY_SIZE) -> None:
        self._size = size
        self._packets: list[bytes | None] = [None] * size

    def add(self, packets: Iterable[bytes]) -> None:
        """Keep `packets`, forgetting the oldest."""
        size = self._size
        for packet in packets:
            self._packets[sequence_of(packet) % size] = packet

    def get(self, sequence: int) -> bytes | None:
        """The packet numbered `sequence`, if still kept."""
        packet = self._packets[sequence % self._size]
        if packet is None or sequence_of(packet) != sequence:
            return None
        return packet


class KeyframeRequests:
    """Asks a source for keyframes: one request while one is on its way, at most one per
    interval, none forgotten.

    A viewer who joins while a requested keyframe is on its way waits for that one; a request
    the source let pass (a seat's connection drops a PLI that follows another too soon) is
    made again once ``KEYFRAME_RETRY_S`` has gone by without a keyframe.
    """

    def __init__(
        self,
        request: Callable[[], None] | None,
        interval_s: float = KEYFRAME_INTERVAL_S,
        retry_s: float = KEYFRAME_RETRY_S,
    ) -> None:
        self._request = request
        self._interval = interval_s
        self._retry = retry_s
        self._last = -interval_s
        self._waiting_since: float | None = None  # the first request not yet answered
        self._deferred: asyncio.TimerHandle | None = None
        self.sent = 0
        # Seconds from a request to the keyframe that answered it, the latest ones.
        self.latencies: deque[float] = deque(maxlen=64)

    def __call__(self) -> None:
        """A viewer needs a keyframe."""
        if self._request is None or self._deferred is not None:
            return
        now = time.monotonic()
        if self._waiting_since is not None and now - self._last < self._retry:
            return  # the keyframe asked for serves this viewer too
        wait = self._last + self._interval - now
        if wait <= 0:
            self._send()
        else:
            self._deferred = asyncio.get_running_loop().call_later(wait, self._send)

    def answered(self) -> None:
        """A keyframe came."""
        if self._waiting_since is not None:
            self.latencies.append(time.monotonic() - self._waiting_since)
            self._waiting_since = None

    def _send(self) -> None:
        self._deferred = None
        self._last = time.monotonic()
        if self._waiting_since is None:
            self._waiting_since = self._last
        self.sent += 1
        if self._request is not None:
            try:
                self._request()
            except Exception:
                logger.exception("keyframe request failed")

    def close(self) -> None:
        """Forget a deferred request."""
        if self._deferred is not None:
            self._deferred.cancel()
            self._deferred = None
        self._request = None


class Outlet(Protocol):
    """Where a stream's frames go: a viewer, or a pipe to another worker."""

    def send_frame(self, frame: RtpFrame) -> int:
        """Send `frame` (or skip it); the number of packets written."""
        ...


@dataclass
class StreamStats:
    """What a stream did since it started."""

    frames: int = 0
    keyframes: int = 0
    packets: int = 0
    frames_dropped: int = 0  # held back too long: the worker was beyond its capacity
    packets_written: int = 0  # to every outlet together


class BroadcastStream:
    """One stream of a broadcast in one worker: its history, its outlets, its sending task."""

    def __init__(
        self,
        spec: StreamSpec,
        *,
        request_keyframe: Callable[[], None] | None = None,
        name: str = "broadcast",
    ) -> None:
        self.spec = spec
        self.history = PacketHistory()
        self.request_keyframe = KeyframeRequests(request_keyframe)
        self.stats = StreamStats()
        self._name = f"{name}-{spec.name}"
        self._outlets: dict[int, Outlet] = {}
        self._pending: deque[RtpFrame] = deque()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        # The stream's RTP clock against the wall clock, for sender reports.
        self.last_timestamp: int | None = None
        self.last_wall_time = 0.0

    async def start(self) -> None:
        """Start sending."""
        if self._task is None and not self._closed:
            self._task = asyncio.create_task(self._run(), name=self._name)

    async def close(self) -> None:
        """Stop sending; safe to call twice."""
        self._closed = True
        self.request_keyframe.close()
        self._outlets.clear()
        self._pending.clear()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, timeout=5)

    async def __aenter__(self) -> BroadcastStream:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def add_outlet(self, outlet: Outlet) -> None:
        """Send the next frames to `outlet` too."""
        self._outlets[id(outlet)] = outlet

    def remove_outlet(self, outlet: Outlet) -> None:
        """Send nothing more to `outlet`."""
        self._outlets.pop(id(outlet), None)

    @property
    def outlets(self) -> int:
        """How many viewers and pipes the stream sends to."""
        return len(self._outlets)

    def clock_at(self, wall_time: float) -> int:
        """The stream's RTP timestamp at `wall_time` (from its latest frame)."""
        if self.last_timestamp is None:
            return 0
        elapsed = round((wall_time - self.last_wall_time) * self.spec.clock_rate)
        return (self.last_timestamp + elapsed) & MASK32

    def set_clock(self, timestamp: int, wall_time: float) -> None:
        """Tie the RTP clock to the wall clock (a relay takes the origin's sender reports)."""
        self.last_timestamp = timestamp & MASK32
        self.last_wall_time = wall_time

    def publish(self, frame: RtpFrame, *, own_clock: bool = True) -> None:
        """Send `frame` to every outlet (called on the event loop)."""
        if self._closed:
            return
        self.history.add(frame.packets)
        self.stats.frames += 1
        if frame.keyframe and self.spec.kind == "video":
            self.stats.keyframes += 1
            self.request_keyframe.answered()
        self.stats.packets += len(frame.packets)
        if own_clock:
            self.set_clock(frame.timestamp, frame.wall_time)
        if len(self._pending) >= MAX_PENDING_FRAMES:
            self.stats.frames_dropped += len(self._pending)
            self._pending.clear()
            logger.warning("%s: frames held back too long were dropped", self._name)
        self._pending.append(frame)
        self._ready.set()

    async def _run(self) -> None:
        while True:
            if not self._pending:
                self._ready.clear()
                await self._ready.wait()
                continue
            frame = self._pending.popleft()
            written = 0
            for outlet in list(self._outlets.values()):
                try:
                    written += outlet.send_frame(frame)
                except Exception:
                    logger.exception("%s: an outlet failed; it is removed", self._name)
                    self.remove_outlet(outlet)
                if written >= SLICE_PACKETS:
                    self.stats.packets_written += written
                    written = 0
                    await asyncio.sleep(0)
            self.stats.packets_written += written


# Sends RTP packets to one viewer now; False if its socket refused some (it stalls).
PacketSender = Callable[[list[bytes]], bool]


class DatagramLink(Protocol):
    """How a viewer's packets leave: protected and written to its socket."""

    def sender(self) -> PacketSender | None:
        """A function that sends RTP packets now, or None when the viewer cannot take more
        (not connected, or its socket is full)."""
        ...


class ViewerStream:
    """One viewer's share of one stream: where it starts, what it skipped, what it was sent."""

    def __init__(
        self,
        stream: BroadcastStream,
        link: DatagramLink,
        *,
        payload_type: int,
        rtx_payload_type: int | None = None,
        rtx_ssrc: int = 0,
        on_first_packet: Callable[[], None] | None = None,
    ) -> None:
        self.stream = stream
        self._link = link
        self.payload_type = payload_type
        self._rtx_payload_type = rtx_payload_type
        self._rtx_ssrc = rtx_ssrc
        self._rtx_sequence = 0
        self._video = stream.spec.kind == "video"
        self._awaiting_keyframe = self._video
        self._asked: float | None = None  # when it asked for the keyframe it waits for
        self._on_first_packet = on_first_packet
        self.packets_sent = 0
        self.octets_sent = 0
        self.frames_skipped = 0
        self.retransmitted = 0
        self.fraction_lost = 0  # from the viewer's receiver reports, out of 256

    def start(self) -> None:
        """Join the stream: from its next keyframe (one is asked for)."""
        self.stream.add_outlet(self)
        if self._video:
            self._ask()

    def _ask(self) -> None:
        self.stream.request_keyframe()
        self._asked = time.monotonic()

    def stop(self) -> None:
        """Leave the stream."""
        self.stream.remove_outlet(self)

    def send_frame(self, frame: RtpFrame) -> int:
        """Send `frame` to the viewer, or skip it (waiting for a keyframe, or stalled)."""
        if self._awaiting_keyframe and not frame.keyframe:
            if self._asked is None:
                if self._link.sender() is not None:
                    # Able to take packets again after a stall: now a keyframe is worth asking.
                    self._ask()
            elif time.monotonic() - self._asked > KEYFRAME_RETRY_S:
                self._ask()
            return 0
        send = self._link.sender()
        if send is None:
            self._stalled()
            return 0
        self._awaiting_keyframe = False
        packets = frame.packets_for(self.payload_type)
        if not send(packets):
            self._stalled()  # the frame went out in part: the next ones need a keyframe
        if not self.packets_sent and self._on_first_packet is not None:
            self._on_first_packet()
        self.packets_sent += len(packets)
        self.octets_sent += frame.payload_bytes
        return len(packets)

    def _stalled(self) -> None:
        self.frames_skipped += 1
        if self._video:
            self._awaiting_keyframe = True
            self._asked = None

    def request_keyframe(self) -> None:
        """The viewer lost pictures (PLI or FIR)."""
        self.stream.request_keyframe()

    def retransmit(self, sequences: Iterable[int]) -> int:
        """Send again what the viewer NACKed and the history still has; how many were sent."""
        send = self._link.sender()
        if send is None or not self.packets_sent:
            return 0
        again = []
        for sequence in sequences:
            packet = self.stream.history.get(sequence)
            if packet is None:
                continue
            if self._rtx_payload_type is not None:
                packet = rtx_packet(
                    packet, self._rtx_payload_type, self._rtx_sequence, self._rtx_ssrc
                )
                self._rtx_sequence = (self._rtx_sequence + 1) & 0xFFFF
            elif packet[1] & 0x7F != self.payload_type:
                packet = with_payload_type(packet, self.payload_type)
            again.append(packet)
            if len(again) >= MAX_RETRANSMIT:
                break
        if again:
            send(again)
        self.retransmitted += len(again)
        return len(again)

    def report(self, wall_time: float) -> tuple[int, int, int, int]:
        """What a sender report tells the viewer: NTP time, RTP time, packets and octets."""
        seconds = wall_time + NTP_UNIX_OFFSET
        ntp = (int(seconds) << 32) | int((seconds % 1) * (1 << 32))
        return (
            ntp,
            self.stream.clock_at(wall_time),
            self.packets_sent & MASK32,
            self.octets_sent & MASK32,
        )
