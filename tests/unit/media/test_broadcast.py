"""The broadcast's packet-level pieces: packetized once, per-viewer headers, history, keyframes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from fractions import Fraction

import av
import numpy as np
import pytest

from media.broadcast import (
    MAX_PENDING_FRAMES,
    BroadcastStream,
    KeyframeRequests,
    PacketHistory,
    Packetizer,
    RtpFrame,
    StreamSpec,
    ViewerStream,
)
from media.rtppacket import HEADER_SIZE, is_keyframe_start, rtp_packet, rtx_packet, sequence_of

VIDEO = StreamSpec("camera", "video", "VP8", 90_000, ssrc=0x11223344, payload_type=96)
AUDIO = StreamSpec("sound", "audio", "opus", 48_000, ssrc=0x55667788, payload_type=111)


class RecordingLink:
    """A viewer's socket that keeps what it is given, or takes nothing while full."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.full = False

    def sender(self) -> Callable[[list[bytes]], bool] | None:
        if self.full:
            return None
        return lambda packets: self.sent.extend(packets) is None


def vp8_frames(count: int) -> list[av.Packet]:
    """`count` real VP8 frames of a moving picture, the first a keyframe."""
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height = 320, 240
    encoder.pix_fmt = "yuv420p"
    encoder.time_base = Fraction(1, 30)
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    packets = []
    rng = np.random.default_rng(1)
    for index in range(count):
        rgb = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        frame.pts = index
        packets.extend(encoder.encode(frame))
    packets.extend(encoder.encode(None))
    return packets


def frame(seq: int, keyframe: bool, packets: int = 3, pt: int = 96) -> RtpFrame:
    """A frame of `packets` packets numbered from `seq`."""
    return RtpFrame(
        [
            rtp_packet(pt, i == packets - 1, (seq + i) & 0xFFFF, 1000, VIDEO.ssrc, b"x" * 100)
            for i in range(packets)
        ],
        keyframe=keyframe,
        timestamp=1000,
        wall_time=0.0,
    )


def test_a_frame_is_cut_once_into_packets_of_one_ssrc_with_running_numbers() -> None:
    packetizer = Packetizer(VIDEO, first_sequence=65534, timestamp_origin=7)
    first = packetizer.frame(b"\x10" * 3000, 3000, keyframe=True, wall_time=10.0)
    second = packetizer.frame(b"\x11" * 100, 6000, keyframe=False, wall_time=10.033)
    assert first is not None and second is not None
    assert len(first.packets) == 3  # 1300-byte payloads at most, as aiortc cuts VP8
    numbers = [sequence_of(p) for p in first.packets + second.packets]
    assert numbers == [65534, 65535, 0, 1]  # one run, wrapping
    for packet in first.packets + second.packets:
        assert packet[0] == 0x80 and packet[1] & 0x7F == 96
        assert int.from_bytes(packet[8:12], "big") == VIDEO.ssrc
    markers = [bool(p[1] & 0x80) for p in first.packets]
    assert markers == [False, False, True]
    assert int.from_bytes(first.packets[0][4:8], "big") == 3007
    assert second.timestamp == 6007
    assert first.payload_bytes == sum(len(p) - HEADER_SIZE for p in first.packets)


def test_timestamps_go_on_steadily_when_the_source_starts_over() -> None:
    packetizer = Packetizer(VIDEO, first_sequence=0, timestamp_origin=0)
    stamps = []
    # A host who reconnects: their timestamps start from 0 again, 2 s of wall clock later.
    for source, wall in ((90_000, 1.0), (93_000, 1.033), (0, 3.033), (3_000, 3.066)):
        made = packetizer.frame(b"\x10" * 50, source, keyframe=True, wall_time=wall)
        assert made is not None
        stamps.append(made.timestamp)
    assert stamps == [90_000, 93_000, 93_000 + 180_000, 93_000 + 183_000]


def test_opus_frames_are_one_packet_each() -> None:
    packetizer = Packetizer(AUDIO, first_sequence=10, timestamp_origin=0)
    made = packetizer.frame(b"\xfc" * 80, 960, keyframe=True, wall_time=0.0)
    assert made is not None and len(made.packets) == 1
    assert made.packets[0][HEADER_SIZE:] == b"\xfc" * 80
    assert packetizer.frame(b"", 1920, keyframe=True, wall_time=0.0) is None


def test_another_payload_type_is_written_once_per_frame_for_all_who_need_it() -> None:
    made = frame(100, True)
    assert made.packets_for(96) is made.packets  # the shared packets themselves
    rewritten = made.packets_for(120)
    assert made.packets_for(120) is rewritten  # once, whoever asks
    assert [p[1] for p in rewritten] == [120, 120, 0x80 | 120]  # the marker kept
    assert [p[2:] for p in rewritten] == [p[2:] for p in made.packets]


def test_a_retransmission_on_rtx_carries_the_original_number_first() -> None:
    original = rtp_packet(96, True, 4242, 123456, VIDEO.ssrc, b"payload")
    again = rtx_packet(original, 97, 7, 0xCAFEBABE)
    assert again[1] == 0x80 | 97
    assert sequence_of(again) == 7
    assert again[4:8] == original[4:8]
    assert int.from_bytes(again[8:12], "big") == 0xCAFEBABE
    assert again[HEADER_SIZE:] == (4242).to_bytes(2, "big") + b"payload"


def test_the_history_keeps_the_last_packets_by_number() -> None:
    history = PacketHistory(size=8)
    history.add(frame(65530, True, packets=10).packets)  # 65530 .. 3, wrapping
    assert history.get(65530) is None  # overwritten by 2
    assert history.get(65532) is not None and sequence_of(history.get(65532) or b"") == 65532
    assert history.get(3) is not None
    assert history.get(4) is None


def test_keyframe_starts_are_found_in_the_payload() -> None:
    encoded = vp8_frames(3)
    packetizer = Packetizer(VIDEO, first_sequence=0, timestamp_origin=0)
    made = [
        packetizer.frame(bytes(p), i * 3000, keyframe=p.is_keyframe, wall_time=0.0)
        for i, p in enumerate(encoded)
    ]
    assert [p.is_keyframe for p in encoded] == [True, False, False]
    starts = [is_keyframe_start("VP8", m.packets[0][HEADER_SIZE:]) for m in made if m]
    assert starts == [True, False, False]
    # Not the first packet of a keyframe: no partition start.
    assert made[0] is not None and len(made[0].packets) > 1
    assert not is_keyframe_start("VP8", made[0].packets[1][HEADER_SIZE:])
    # H.264: an IDR slice alone, in a FU-A start, after an SPS in a STAP-A; a P slice is not.
    assert is_keyframe_start("H264", bytes([0x65, 0x88]))
    assert is_keyframe_start("H264", bytes([0x7C, 0x85, 0x00]))
    assert not is_keyframe_start("H264", bytes([0x7C, 0x05, 0x00]))  # FU-A, not its start
    stap = bytes([0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xCE])
    assert is_keyframe_start("H264", stap)
    assert not is_keyframe_start("H264", bytes([0x41, 0x9A]))
    assert is_keyframe_start("opus", b"\xfc")


async def test_a_new_viewer_starts_at_a_keyframe_and_asks_for_one() -> None:
    asked: list[int] = []
    stream = BroadcastStream(VIDEO, request_keyframe=lambda: asked.append(1))
    link = RecordingLink()
    viewer = ViewerStream(stream, link, payload_type=96)
    viewer.start()
    assert asked == [1]
    assert viewer.send_frame(frame(1, keyframe=False)) == 0
    assert viewer.send_frame(frame(4, keyframe=True)) == 3
    assert viewer.send_frame(frame(7, keyframe=False)) == 3
    assert [sequence_of(p) for p in link.sent] == [4, 5, 6, 7, 8, 9]
    assert viewer.packets_sent == 6 and viewer.octets_sent == 600


async def test_a_stalled_viewer_skips_to_the_next_keyframe_instead_of_being_buffered_for() -> None:
    asked: list[int] = []
    stream = BroadcastStream(VIDEO, request_keyframe=lambda: asked.append(1))
    stream.request_keyframe = KeyframeRequests(lambda: asked.append(1), interval_s=0, retry_s=0)
    link = RecordingLink()
    viewer = ViewerStream(stream, link, payload_type=96)
    viewer.start()
    viewer.send_frame(frame(1, keyframe=True))
    link.full = True  # its socket takes no more
    assert viewer.send_frame(frame(4, keyframe=False)) == 0
    assert viewer.frames_skipped == 1
    link.full = False
    # Able again, it does not get the frame that depends on the skipped one, and asks once.
    assert viewer.send_frame(frame(7, keyframe=False)) == 0
    assert viewer.send_frame(frame(10, keyframe=False)) == 0
    assert len(asked) == 2  # at the start, and once after the stall
    assert viewer.send_frame(frame(13, keyframe=True)) == 3
    assert [sequence_of(p) for p in link.sent] == [1, 2, 3, 13, 14, 15]


async def test_sound_never_waits_for_a_keyframe() -> None:
    stream = BroadcastStream(AUDIO)
    link = RecordingLink()
    viewer = ViewerStream(stream, link, payload_type=111)
    viewer.start()
    made = Packetizer(AUDIO, first_sequence=0, timestamp_origin=0).frame(
        b"\xfc", 960, keyframe=False, wall_time=0.0
    )
    assert made is not None and viewer.send_frame(made) == 1


async def test_nacked_packets_are_sent_again_from_the_history() -> None:
    stream = BroadcastStream(VIDEO)
    shared = frame(100, keyframe=True, packets=4)
    stream.history.add(shared.packets)
    with_rtx = RecordingLink()
    viewer = ViewerStream(stream, with_rtx, payload_type=96, rtx_payload_type=97, rtx_ssrc=99)
    viewer.start()
    viewer.send_frame(shared)
    with_rtx.sent.clear()
    assert viewer.retransmit([101, 103, 5000]) == 2  # 5000 was never sent
    assert [p[HEADER_SIZE : HEADER_SIZE + 2] for p in with_rtx.sent] == [b"\x00e", b"\x00g"]
    assert [sequence_of(p) for p in with_rtx.sent] == [0, 1]  # the RTX stream's own numbers
    # A viewer without RTX, on another payload type, gets the packet itself, rewritten.
    plain = RecordingLink()
    other = ViewerStream(stream, plain, payload_type=120)
    other.start()
    other.send_frame(shared)
    plain.sent.clear()
    assert other.retransmit([102]) == 1
    assert sequence_of(plain.sent[0]) == 102 and plain.sent[0][1] & 0x7F == 120


async def test_keyframe_requests_are_throttled_but_none_is_forgotten() -> None:
    sent = asyncio.Event()
    calls: list[float] = []

    def request() -> None:
        calls.append(asyncio.get_running_loop().time())
        if len(calls) == 2:
            sent.set()

    requests = KeyframeRequests(request, interval_s=0.2, retry_s=5)
    requests()  # at once
    requests()  # the keyframe asked for is on its way: it serves this viewer too
    assert len(calls) == 1
    requests.answered()  # it came
    requests()  # within the interval: deferred to its end
    requests()  # already deferred: nothing more
    assert len(calls) == 1
    await asyncio.wait_for(sent.wait(), 2)
    assert len(calls) == 2 and calls[1] - calls[0] >= 0.19
    assert len(requests.latencies) == 1
    requests.close()


async def test_a_keyframe_request_the_source_let_pass_is_made_again() -> None:
    calls: list[int] = []
    requests = KeyframeRequests(lambda: calls.append(1), interval_s=0, retry_s=0.05)
    requests()
    requests()  # on its way
    assert calls == [1]
    await asyncio.sleep(0.06)  # no keyframe came within the retry time (what is tested)
    requests()
    assert calls == [1, 1]
    requests.close()


async def test_a_stream_sends_each_frame_to_every_outlet_in_order() -> None:
    stream = BroadcastStream(VIDEO)
    links = [RecordingLink() for _ in range(3)]
    viewers = [ViewerStream(stream, link, payload_type=96) for link in links]
    for viewer in viewers:
        viewer.start()
    done = asyncio.Event()
    last = frame(7, keyframe=False)

    class Marker:
        def send_frame(self, made: RtpFrame) -> int:
            if made is last:
                done.set()
            return 0

    await stream.start()
    stream.add_outlet(Marker())
    try:
        for made in (frame(1, True), frame(4, False), last):
            stream.publish(made)
        await asyncio.wait_for(done.wait(), 2)
        for link in links:
            assert [sequence_of(p) for p in link.sent] == list(range(1, 10))
        assert stream.stats.packets_written == 27
    finally:
        await stream.close()


async def test_a_stream_whose_frames_pile_up_drops_them() -> None:
    stream = BroadcastStream(VIDEO)  # not started: nothing goes out
    for index in range(MAX_PENDING_FRAMES + 5):
        stream.publish(frame(index * 3, keyframe=index == 0))
    assert stream.stats.frames_dropped == MAX_PENDING_FRAMES
    await stream.close()


def test_a_sender_report_ties_the_rtp_clock_to_the_wall_clock() -> None:
    stream = BroadcastStream(AUDIO)
    stream.set_clock(48_000, 1_000.0)
    viewer = ViewerStream(stream, RecordingLink(), payload_type=111)
    viewer.packets_sent, viewer.octets_sent = 5, 400
    ntp, rtp, packets, octets = viewer.report(1_000.5)
    assert rtp == 48_000 + 24_000
    assert ntp >> 32 == 1_000 + 2_208_988_800 and (ntp & 0xFFFFFFFF) == 1 << 31
    assert (packets, octets) == (5, 400)


@pytest.mark.parametrize("codec", ["VP9", "G722"])
def test_only_the_codecs_the_server_sends_can_be_broadcast(codec: str) -> None:
    with pytest.raises(ValueError):
        Packetizer(
            StreamSpec("x", "video", codec, 90_000, 1, 96), first_sequence=0, timestamp_origin=0
        )
