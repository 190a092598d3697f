"""What a video receiver does about lost packets, and the audio receivers' arrival order, with
aiortc's own NACK generator and jitter buffer fed packets with holes."""

from __future__ import annotations

import queue
import random
from typing import Any

from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcrtpreceiver import NackGenerator
from aiortc.rtp import RtpPacket

from media.recovery import (
    GIVE_UP_S,
    NACK_REPEAT_S,
    PLI_REPEAT_S,
    ArrivalOrder,
    LossRecovery,
    WholeFrames,
)
from media.tap import ReceiverTap

SSRC = 1234


class Receiver:
    """The RTCP an aiortc receiver would send."""

    def __init__(self) -> None:
        self.nacks: list[list[int]] = []
        self.plis = 0

    async def _send_rtcp_nack(self, media_ssrc: int, lost: list[int]) -> None:
        assert media_ssrc == SSRC
        self.nacks.append(lost)

    async def _send_rtcp_pli(self, media_ssrc: int) -> None:
        assert media_ssrc == SSRC
        self.plis += 1


class Gate:
    def __init__(self) -> None:
        self.asked = 0
        self.awaiting_keyframe = False

    def await_keyframe(self) -> None:
        self.asked += 1
        self.awaiting_keyframe = True


def packet(seq: int, timestamp: int, data: bytes = b"x", *, marker: bool = False) -> RtpPacket:
    p = RtpPacket(
        payload_type=96, sequence_number=seq, timestamp=timestamp, ssrc=SSRC, marker=int(marker)
    )
    p._data = data  # type: ignore[attr-defined]
    return p


def video_frames(first_seq: int, count: int, per_frame: int) -> list[RtpPacket]:
    """`count` frames of `per_frame` packets each, the last of each with the marker bit."""
    out = []
    seq = first_seq
    for frame in range(count):
        for part in range(per_frame):
            data = bytes([frame, part])
            out.append(packet(seq & 0xFFFF, frame * 6000, data, marker=part == per_frame - 1))
            seq += 1
    return out


def test_a_video_frame_is_given_out_with_its_last_packet_not_with_the_next_frame() -> None:
    ours, theirs = WholeFrames(), JitterBuffer(capacity=512, is_video=True)
    packets = video_frames(65530, 4, 3)  # across the sequence numbers' wrap
    ours_at, theirs_at = [], []
    for i, p in enumerate(packets):
        if (frame := ours.add(p)[1]) is not None:
            ours_at.append((i, frame.timestamp, frame.data))
        if (frame := theirs.add(p)[1]) is not None:
            theirs_at.append((i, frame.timestamp, frame.data))
    assert [i for i, *_ in ours_at] == [2, 5, 8, 11]  # each frame with its marker packet
    assert [i for i, *_ in theirs_at] == [3, 6, 9]  # aiortc's: with the next frame's first
    assert [(t, d) for _, t, d in ours_at[:3]] == [(t, d) for _, t, d in theirs_at]
    assert ours_at[0][2] == bytes([0, 0, 0, 1, 0, 2])


def test_a_frame_with_a_hole_waits_for_the_packet_and_then_is_whole() -> None:
    buffer = WholeFrames()
    first, second = video_frames(100, 2, 3)[:3], video_frames(100, 2, 3)[3:]
    assert buffer.add(first[0])[1] is None
    assert buffer.add(first[2])[1] is None  # the marker came, the middle is missing
    for p in second:
        assert buffer.add(p)[1] is None  # the next frame waits behind the hole
    late = buffer.add(first[1])[1]  # the retransmission
    assert late is not None and late.data == bytes([0, 0, 0, 1, 0, 2])
    # The second frame, whole behind it, is out with the next packet that comes.
    after = buffer.add(packet(106, 2 * 6000, marker=True))[1]
    assert after is not None and after.timestamp == 6000
    # From a sender that sets no marker bit, a frame is out when the next one begins, as in
    # aiortc.
    buffer = WholeFrames()
    assert buffer.add(packet(200, 0, b"a"))[1] is None
    assert buffer.add(packet(201, 0, b"b"))[1] is None
    frame = buffer.add(packet(202, 6000, b"c"))[1]
    assert frame is not None and frame.data == b"ab"


async def test_a_missing_packet_is_asked_for_again_then_given_up_and_the_buffer_emptied() -> None:
    receiver, gate = Receiver(), Gate()
    nacks, jitter = NackGenerator(), JitterBuffer(capacity=512, is_video=True)
    recovery = LossRecovery(receiver, nacks, jitter, gate)
    frames: list[Any] = []

    async def arrive(seq: int, now: float) -> None:
        nacks.add(packet(seq, seq * 3000))
        _pli, frame = jitter.add(packet(seq, seq * 3000))
        if frame is not None:
            frames.append(frame)
        await recovery.after_packet(SSRC, now)

    for seq in range(5):
        await arrive(seq, 0.0)
    # 5 is lost; aiortc NACKs it once when 6 comes (not modelled here: the recovery repeats).
    await arrive(6, 0.0)
    assert nacks.missing == {5}
    held = len(frames)
    await arrive(7, NACK_REPEAT_S / 2)
    assert receiver.nacks == []  # too soon to ask again
    await arrive(8, NACK_REPEAT_S)
    assert receiver.nacks == [[5]]
    await arrive(9, 2 * NACK_REPEAT_S)
    assert receiver.nacks == [[5], [5]]
    assert len(frames) == held  # the jitter buffer holds everything behind the hole
    await arrive(10, GIVE_UP_S)
    assert nacks.missing == set() and recovery.packets_given_up == 1
    assert jitter._origin is None  # emptied: the next packet starts it again
    assert gate.asked == 1 and receiver.plis == 1
    # Frames flow again from the next packets on.
    for seq in range(11, 14):
        await arrive(seq, GIVE_UP_S + 0.01)
    assert len(frames) > held
    assert receiver.plis == 1  # one keyframe request per give-up


async def test_a_keyframe_that_does_not_come_is_asked_for_again_until_it_comes() -> None:
    """The PLI or the keyframe may be lost as well: while the tap awaits a keyframe, it is asked
    for again every PLI_REPEAT_S, and no more once it came."""
    receiver, gate = Receiver(), Gate()
    nacks, jitter = NackGenerator(), JitterBuffer(capacity=512, is_video=True)
    recovery = LossRecovery(receiver, nacks, jitter, gate)
    seq = 0

    async def arrive(now: float, *, skip: bool = False) -> None:
        nonlocal seq
        seq += 2 if skip else 1
        nacks.add(packet(seq, seq * 3000))
        jitter.add(packet(seq, seq * 3000))
        await recovery.after_packet(SSRC, now)

    await arrive(0.0)
    await arrive(0.0, skip=True)  # one packet lost for good
    await arrive(GIVE_UP_S)
    assert gate.awaiting_keyframe and receiver.plis == 1
    # No keyframe comes: the next packets (delta frames, skipped by the tap) ask again, once a
    # PLI_REPEAT_S.
    for now in (GIVE_UP_S + 0.5, GIVE_UP_S + PLI_REPEAT_S, GIVE_UP_S + 1.5 * PLI_REPEAT_S):
        await arrive(now)
    assert receiver.plis == 2 and recovery.plis_repeated == 1
    await arrive(GIVE_UP_S + 2 * PLI_REPEAT_S)
    assert receiver.plis == 3
    gate.awaiting_keyframe = False  # the keyframe came
    for step in range(1, 5):
        await arrive(GIVE_UP_S + (2 + step) * PLI_REPEAT_S)
    assert receiver.plis == 3 and recovery.plis_repeated == 2


async def test_a_packet_that_comes_late_is_not_asked_for_again() -> None:
    receiver, gate = Receiver(), Gate()
    nacks, jitter = NackGenerator(), JitterBuffer(capacity=512, is_video=True)
    recovery = LossRecovery(receiver, nacks, jitter, gate)
    for seq, now in ((0, 0.0), (2, 0.0), (1, 0.05), (3, 0.5), (4, 1.0)):
        nacks.add(packet(seq, seq))
        jitter.add(packet(seq, seq))
        await recovery.after_packet(SSRC, now)
    assert receiver.nacks == [] and receiver.plis == 0 and gate.asked == 0


def test_audio_in_arrival_order_keeps_every_packet_that_came() -> None:
    order, aiortc = ArrivalOrder(), JitterBuffer(capacity=16, prefetch=4)
    rng = random.Random(7)
    sent = 3000
    ours = theirs = 0
    for seq in range(sent):
        if rng.random() < 0.05:
            continue
        ours += order.add(packet(seq % 65536, seq * 960))[1] is not None
        theirs += aiortc.add(packet(seq % 65536, seq * 960))[1] is not None
    assert 0.94 <= ours / sent <= 0.96  # what the link delivered
    assert theirs / sent < 0.8  # aiortc's own buffer loses a quarter at 5 % loss
    # A late packet (older than one given out) and a duplicate are dropped.
    order = ArrivalOrder()
    assert order.add(packet(65535, 0))[1] is not None
    assert order.add(packet(1, 2 * 960))[1] is not None  # across the wrap, 0 lost
    assert order.add(packet(0, 960))[1] is None
    assert order.add(packet(1, 2 * 960))[1] is None
    assert order.late == 1


def test_after_a_give_up_the_tap_passes_only_a_whole_keyframe() -> None:
    class Codec:
        name = "VP8"
        clockRate = 90_000

    class Frame:
        def __init__(self, data: bytes) -> None:
            self.data = data
            self.timestamp = 0

    tap = ReceiverTap("video", queue.Queue())
    got: list[bytes] = []
    tap.add_sink(lambda frame: got.append(frame.data))
    delta = bytes([0x01, 0, 0]) + b"delta"
    keyframe = bytes([0x00, 0, 0, 0x9D, 0x01, 0x2A]) + b"key"
    torn = bytes([0x00, 0, 0]) + b"middle of a keyframe"
    tap.put((Codec(), Frame(delta)))
    tap.await_keyframe()
    for data in (delta, torn, keyframe, delta):
        tap.put((Codec(), Frame(data)))
    assert got == [delta, keyframe, delta]
    assert tap.frames_skipped == 2
