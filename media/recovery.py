"""Recovering what a lossy link loses on its way to an aiortc video receiver.

aiortc asks for a lost packet once, with a NACK when it notices the gap, and its jitter buffer
gives out no frame past a packet that never came until 512 packets later, when it empties itself
and asks for a keyframe: half a minute of a seat's camera preview, minutes of a screen share.
On a link that loses 5 % of the packets each way a NACK or its retransmission is lost often
enough that a seat's screen share stood still for 20 s and more (measured with Chromium seats,
tests/e2e/test_lossy_link.py). So, for each video receiver of a seat:

- a packet still missing is asked for again every ``NACK_REPEAT_S``;
- ``GIVE_UP_S`` after it went missing it is given up: the jitter buffer is emptied (what it
  holds past the hole cannot be decoded without the lost data anyway), a keyframe is asked for
  (PLI), and the tap passes on nothing but a whole keyframe until one comes, so that the
  recorder and the decoders never get a frame whose reference is missing;
- while that keyframe has not come, it is asked for again every ``PLI_REPEAT_S``: the PLI or
  the keyframe may be lost too, and with one request only a screen share lost about 15 s of
  pictures in that test (25 of 95 in its minute never recorded).

aiortc's video jitter buffer gives a frame out only when the first packet of the next frame
comes: a frame interval late (67 ms for a 15 fps camera, 200 ms for a 5 fps screen share), at
every hop that receives with aiortc. A video receiver gets ``WholeFrames`` instead: the same
buffer, which gives a frame out as soon as its last packet (the RTP marker bit) is in and none
of its packets is missing, as a browser's does.

Audio is not asked for again (no NACK for Opus), and aiortc's audio jitter buffer gives out at
most one frame per packet received while it holds back four: after a hole its backlog grows
until it overflows and throws frames away. At 5 % packet loss a quarter of a seat's voice never
left it (a quarter of the frames, replayed through it offline). An audio receiver gets an
``ArrivalOrder`` instead: each packet's frame as it comes, a packet older than one already given
out dropped; the mixer and the recorder place frames by their timestamps and absorb the jitter.

It uses aiortc internals of the receiver (its NACK generator, jitter buffer and RTCP senders),
pinned with aiortc and checked by ``tests/unit/media/test_tap_contract.py``.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

from aiortc.jitterbuffer import JitterBuffer, JitterFrame

logger = logging.getLogger(__name__)

JITTER_BUFFER_ATTR = "_RTCRtpReceiver__jitter_buffer"
# Chromium answers a NACK from a history of about a second: ask again well within it.
NACK_REPEAT_S = 0.1
GIVE_UP_S = 0.6
PLI_MIN_INTERVAL_S = 0.5
# A keyframe asked for and not come after this long is asked for again (the retransmissions of
# its own lost packets take up to GIVE_UP_S).
PLI_REPEAT_S = 1.0


class KeyframeGate(Protocol):
    """What the recovery needs of the receiver's tap."""

    def await_keyframe(self) -> None:
        """Pass on nothing but a whole keyframe from now on, until one comes."""

    @property
    def awaiting_keyframe(self) -> bool:
        """Whether a keyframe is awaited (nothing else is passed on)."""


class LossRecovery:
    """Repeats NACKs and gives lost packets up, for one video receiver."""

    def __init__(self, receiver: Any, nacks: Any, jitter: Any, gate: KeyframeGate) -> None:
        self._receiver = receiver
        self._nacks = nacks
        self._jitter = jitter
        self._gate = gate
        # sequence number -> (when it went missing, when it was last asked for)
        self._missing: dict[int, tuple[float, float]] = {}
        self._last_pli = 0.0
        self.nacks_repeated = 0
        self.packets_given_up = 0
        self.plis_repeated = 0

    async def after_packet(self, media_ssrc: int, now: float | None = None) -> None:
        """Called after the receiver handled each packet of its stream (or retransmission)."""
        now = time.monotonic() if now is None else now
        missing: set[int] = self._nacks.missing
        for seq in [s for s in self._missing if s not in missing]:
            del self._missing[seq]  # it came after all, or aiortc stopped looking for it
        for seq in missing:
            # New: aiortc has just asked for it once.
            self._missing.setdefault(seq, (now, now))
        expired = [seq for seq, (noticed, _) in self._missing.items() if now - noticed >= GIVE_UP_S]
        if expired:
            for seq in expired:
                missing.discard(seq)
                del self._missing[seq]
            self.packets_given_up += len(expired)
            self._empty_jitter_buffer()
            self._gate.await_keyframe()
            if now - self._last_pli >= PLI_MIN_INTERVAL_S:
                self._last_pli = now
                await self._receiver._send_rtcp_pli(media_ssrc)
        elif self._gate.awaiting_keyframe and now - self._last_pli >= PLI_REPEAT_S:
            self._last_pli = now
            self.plis_repeated += 1
            await self._receiver._send_rtcp_pli(media_ssrc)
        due = [seq for seq, (_, asked) in self._missing.items() if now - asked >= NACK_REPEAT_S]
        if due:
            for seq in due:
                self._missing[seq] = (self._missing[seq][0], now)
            self.nacks_repeated += len(due)
            await self._receiver._send_rtcp_nack(media_ssrc, sorted(due))

    def _empty_jitter_buffer(self) -> None:
        """Drop what the jitter buffer holds; the next packet that comes starts it again."""
        jitter = self._jitter
        if jitter._origin is not None:
            jitter.remove(jitter.capacity)
            jitter._origin = None


def loss_recovery(receiver: Any, nacks: Any, gate: KeyframeGate) -> LossRecovery | None:
    """The recovery of a video receiver, or None if aiortc's internals are not as expected."""
    jitter = getattr(receiver, JITTER_BUFFER_ATTR, None)
    if (
        jitter is None
        or not hasattr(jitter, "_origin")
        or not callable(getattr(receiver, "_send_rtcp_nack", None))
    ):
        logger.warning("aiortc internals moved: lost packets are not asked for again")
        return None
    return LossRecovery(receiver, nacks, jitter, gate)


VIDEO_CAPACITY = 512  # packets, as aiortc's own video jitter buffer


class WholeFrames(JitterBuffer):
    """A video receiver's jitter buffer: a frame out as soon as it is whole.

    A frame is whole when the packets from the buffer's oldest on, all of one timestamp, end
    with the one that carries the marker bit. It is looked for when a marker packet comes, and
    when a packet comes out of order (it may be one that completes a frame). Otherwise, and for
    a frame whose marker packet was lost, aiortc's rule holds: a frame is out when the next one
    begins.
    """

    def __init__(self) -> None:
        super().__init__(capacity=VIDEO_CAPACITY, is_video=True)
        self._newest: int | None = None

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        packet = self._packets[sequence_number % self._capacity]
        ahead = 0x10000 if self._newest is None else (sequence_number - self._newest) & 0xFFFF
        in_order = ahead in (1, 0x10000)
        if 0 < ahead < 0x8000 or ahead == 0x10000:
            self._newest = sequence_number  # newer than any before (after a gap, too)
        if packet is not None and (packet.marker or not in_order):
            frame = self._whole_frame()
            if frame is not None:
                return frame
        return super()._remove_frame(sequence_number)

    def _whole_frame(self) -> JitterFrame | None:
        """The oldest frame if it is whole, taken out of the buffer."""
        if self._origin is None:
            return None
        packets = []
        timestamp = None
        for count in range(self._capacity):
            packet = self._packets[(self._origin + count) % self._capacity]
            if packet is None or (timestamp is not None and packet.timestamp != timestamp):
                return None
            timestamp = packet.timestamp
            packets.append(packet)
            if packet.marker:
                self.remove(count + 1)
                data = b"".join(p._data for p in packets)  # type: ignore[attr-defined]
                return JitterFrame(data=data, timestamp=timestamp)
        return None


def give_video_frames_when_whole(receiver: Any) -> bool:
    """Give a video receiver a ``WholeFrames`` jitter buffer; False if it has none (call it
    before the receiver gets packets)."""
    if getattr(receiver, JITTER_BUFFER_ATTR, None) is None:
        logger.warning("aiortc internals moved: video keeps aiortc's jitter buffer")
        return False
    setattr(receiver, JITTER_BUFFER_ATTR, WholeFrames())
    return True


class ArrivalOrder:
    """An audio receiver's jitter buffer: every packet's frame at once, in the order they come;
    one older than a frame already given out is dropped (it would play back in time)."""

    def __init__(self) -> None:
        self._last: int | None = None
        self.late = 0

    def add(self, packet: Any) -> tuple[bool, JitterFrame | None]:
        """aiortc's jitter buffer interface: (ask for a keyframe, the frame complete now)."""
        seq = int(packet.sequence_number)
        if self._last is not None and 0 < (self._last - seq) & 0xFFFF < 0x8000:
            self.late += 1
            return False, None
        if self._last == seq:
            return False, None  # a duplicate
        self._last = seq
        return False, JitterFrame(data=packet._data, timestamp=packet.timestamp)


def pass_audio_in_arrival_order(receiver: Any) -> bool:
    """Give an audio receiver an ``ArrivalOrder`` for a jitter buffer; False if it has none."""
    if getattr(receiver, JITTER_BUFFER_ATTR, None) is None:
        logger.warning("aiortc internals moved: audio keeps aiortc's jitter buffer")
        return False
    setattr(receiver, JITTER_BUFFER_ATTR, ArrivalOrder())
    return True
