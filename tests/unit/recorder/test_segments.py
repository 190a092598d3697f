"""SegmentWriter against real PyAV: real VP8 and Opus frames in, playable WebM out."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from recorder.segments import SegmentWriter, muxer_options
from recorder.vp8 import keyframe_size

WIDTH, HEIGHT, FPS = 640, 480, 15
VIDEO_TICKS = 90000 // FPS
AUDIO_TICKS = 960  # 20 ms at 48 kHz
EPOCH = 1_700_000_000.0
_BLOCK = 80
_BITS = 16


@dataclass(frozen=True)
class Frame:
    """A frame as `recorder.ports.EncodedFrame` describes it."""

    kind: str
    codec: str
    data: bytes
    rtp_timestamp: int
    clock_rate: int
    keyframe: bool
    wall_time: float


def counter_image(n: int) -> np.ndarray:
    """A 640x480 RGB picture showing `n` as 16 white-or-black blocks."""
    image = np.full((HEIGHT, WIDTH, 3), 40, np.uint8)
    for bit in range(_BITS):
        if n >> bit & 1:
            x, y = (bit % 8) * _BLOCK, (bit // 8) * _BLOCK
            image[y + 8 : y + _BLOCK - 8, x + 8 : x + _BLOCK - 8] = 255
    return image


def read_counter(image: np.ndarray) -> int:
    """The number `counter_image` drew, read back from a decoded picture."""
    value = 0
    for bit in range(_BITS):
        x, y = (bit % 8) * _BLOCK + _BLOCK // 2, (bit // 8) * _BLOCK + _BLOCK // 2
        if image[y - 8 : y + 8, x - 8 : x + 8].mean() > 128:
            value |= 1 << bit
    return value


def encode_vp8(count: int, *, keyframe_every: int = FPS) -> list[tuple[bytes, bool]]:
    """`count` counter pictures encoded by libvpx: (bytes, keyframe) in order."""
    ctx = av.CodecContext.create("libvpx", "w")
    ctx.width, ctx.height, ctx.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    ctx.time_base = Fraction(1, FPS)
    ctx.framerate = FPS
    ctx.bit_rate = 500_000
    ctx.gop_size = keyframe_every
    ctx.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    packets: list[av.Packet] = []
    for n in range(count):
        picture = av.VideoFrame.from_ndarray(counter_image(n), format="rgb24")
        picture = picture.reformat(format="yuv420p")
        picture.pts = n
        packets += ctx.encode(picture)
    packets += ctx.encode(None)
    assert len(packets) == count
    return [(bytes(p), p.is_keyframe) for p in packets]


def encode_opus(count: int) -> list[bytes]:
    """`count` 20 ms Opus packets of a 440 Hz tone."""
    ctx = av.CodecContext.create("libopus", "w")
    ctx.sample_rate, ctx.layout, ctx.format = 48000, "stereo", "s16"
    ctx.bit_rate = 64000
    packets: list[av.Packet] = []
    for n in range(count):
        t = np.arange(n * AUDIO_TICKS, (n + 1) * AUDIO_TICKS) / 48000
        tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
        samples = np.stack([tone, tone]).T.reshape(1, -1)
        chunk = av.AudioFrame.from_ndarray(samples, format="s16", layout="stereo")
        chunk.sample_rate = 48000
        chunk.pts = n * AUDIO_TICKS
        packets += ctx.encode(chunk)
    packets += ctx.encode(None)
    return [bytes(p) for p in packets[:count]]


def encode_h264(count: int) -> tuple[list[av.Packet], bytes]:
    """`count` H.264 frames (Annex B, a keyframe every 15) and the stream's SPS/PPS."""
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 320, 240, "yuv420p"
    encoder.time_base = Fraction(1, 15)
    encoder.options = {"preset": "ultrafast", "tune": "zerolatency", "g": "15", "bf": "0"}
    encoder.flags |= av.codec.context.Flags.global_header
    packets = []
    for n in range(count):
        frame = av.VideoFrame.from_ndarray(
            np.full((240, 320, 3), (n * 7) % 255, np.uint8), format="rgb24"
        ).reformat(format="yuv420p")
        frame.pts = n
        packets.extend(encoder.encode(frame))
    packets.extend(encoder.encode(None))
    return packets, bytes(encoder.extradata or b"")


def video_frames(
    encoded: list[tuple[bytes, bool]], *, rtp_start: int = 1234, wall_start: float = EPOCH
) -> list[Frame]:
    """Wrap encoded VP8 pictures as received frames, 90 kHz RTP clock, synthetic wall clock."""
    return [
        Frame(
            "video",
            "VP8",
            data,
            (rtp_start + n * VIDEO_TICKS) % (1 << 32),
            90000,
            key,
            wall_start + n / FPS,
        )
        for n, (data, key) in enumerate(encoded)
    ]


def audio_frames(
    encoded: list[bytes], *, rtp_start: int = 98765, wall_start: float = EPOCH
) -> list[Frame]:
    """Wrap Opus packets as received frames, 48 kHz RTP clock, synthetic wall clock."""
    return [
        Frame(
            "audio",
            "opus",
            data,
            (rtp_start + n * AUDIO_TICKS) % (1 << 32),
            48000,
            True,
            wall_start + n * 0.02,
        )
        for n, data in enumerate(encoded)
    ]


def decoded_counters(path: Path) -> list[int]:
    """Decode every picture of a WebM file and read its counter."""
    with av.open(str(path)) as container:
        return [
            read_counter(picture.to_ndarray(format="rgb24"))
            for picture in container.decode(video=0)
        ]


def write_segment(path: Path, frames: list[Frame], *, flush_interval_ms: int = 1000):
    """Write `frames` into one segment and close it."""
    first = frames[0]
    writer = SegmentWriter(
        path,
        kind=first.kind,
        codec=first.codec,
        clock_rate=first.clock_rate,
        flush_interval_ms=flush_interval_ms,
    )
    for frame in frames:
        writer.write(frame)
    return writer.close()


@pytest.fixture(scope="session")
def vp8_45() -> list[tuple[bytes, bool]]:
    """Three seconds of counter video, a keyframe each second."""
    return encode_vp8(45)


@pytest.fixture(scope="session")
def opus_100() -> list[bytes]:
    """Two seconds of 440 Hz tone."""
    return encode_opus(100)


def test_vp8_keyframe_header_gives_the_size(vp8_45: list[tuple[bytes, bool]]) -> None:
    assert keyframe_size(vp8_45[0][0]) == (WIDTH, HEIGHT)
    assert keyframe_size(vp8_45[1][0]) is None


def test_vp8_segment_plays_every_frame_in_order(
    tmp_path: Path, vp8_45: list[tuple[bytes, bool]]
) -> None:
    path = tmp_path / "000001.webm"
    result = write_segment(path, video_frames(vp8_45))

    assert result.frames == 45
    assert result.first_keyframe
    assert result.complete
    assert result.media_duration_s == pytest.approx(3.0, abs=1 / FPS)
    # Anchored on the last frame; pts are whole milliseconds, so within a millisecond.
    assert result.wall_start == pytest.approx(EPOCH, abs=0.001)
    assert result.wall_end == pytest.approx(EPOCH + 3.0, abs=1 / FPS)
    with av.open(str(path)) as container:
        assert "webm" in container.format.name.split(",")
        stream = container.streams.video[0]
        assert stream.codec_context.name == "vp8"
        assert (stream.codec_context.width, stream.codec_context.height) == (WIDTH, HEIGHT)
        assert container.duration is not None
        assert container.duration / 1e6 == pytest.approx(3.0, abs=1 / FPS)
        packets = [p for p in container.demux(stream) if p.size]
    assert packets[0].is_keyframe
    assert [p.is_keyframe for p in packets] == [key for _, key in vp8_45]
    assert decoded_counters(path) == list(range(45))


def test_opus_segment_starts_at_zero_without_pre_skip(
    tmp_path: Path, opus_100: list[bytes]
) -> None:
    path = tmp_path / "000001.webm"
    result = write_segment(path, audio_frames(opus_100))

    assert result.frames == 100
    assert result.media_duration_s == pytest.approx(2.0, abs=0.02)
    with av.open(str(path)) as container:
        assert "webm" in container.format.name.split(",")
        stream = container.streams.audio[0]
        assert stream.codec_context.name in {"opus", "libopus"}
        head = stream.codec_context.extradata
        assert head is not None and head[:8] == b"OpusHead"
        assert int.from_bytes(head[10:12], "little") == 0  # pre-skip
        packets = [p for p in container.demux(stream) if p.size]
        pts = [p.pts * p.time_base for p in packets]
    # The muxer writes what we gave it: the first block at 0, never before the one before.
    assert pts[0] == 0
    assert all(b > a for a, b in zip(pts, pts[1:], strict=False))
    assert float(pts[-1]) == pytest.approx(1.98)

    with av.open(str(path)) as container:
        decoded = list(container.decode(audio=0))
    assert decoded[0].format.is_planar
    pcm = np.concatenate([f.to_ndarray()[0] for f in decoded])
    assert len(pcm) == 100 * AUDIO_TICKS  # nothing skipped: no CodecDelay, no pre-skip
    spectrum = np.abs(np.fft.rfft(pcm[4800:].astype(np.float64)))
    peak_hz = np.argmax(spectrum) * 48000 / len(pcm[4800:])
    assert peak_hz == pytest.approx(440, abs=5)


def test_rtp_wrap_around_keeps_time_running(
    tmp_path: Path, vp8_45: list[tuple[bytes, bool]]
) -> None:
    frames = video_frames(vp8_45[:30], rtp_start=(1 << 32) - 3 * VIDEO_TICKS)
    assert frames[4].rtp_timestamp < frames[2].rtp_timestamp  # it does wrap

    path = tmp_path / "000001.webm"
    result = write_segment(path, frames)

    assert result.timestamps_bumped == 0
    assert result.media_duration_s == pytest.approx(2.0, abs=1 / FPS)
    with av.open(str(path)) as container:
        pts = [p.pts for p in container.demux(video=0) if p.size]
    assert pts == [round(n * 1000 / FPS) for n in range(30)]


def test_non_increasing_timestamps_are_bumped_and_counted(
    tmp_path: Path, opus_100: list[bytes]
) -> None:
    frames = audio_frames(opus_100[:10])
    frames[5] = replace(frames[5], rtp_timestamp=frames[4].rtp_timestamp)  # duplicate
    frames[7] = replace(frames[7], rtp_timestamp=frames[7].rtp_timestamp - 5000)  # backwards

    path = tmp_path / "000001.webm"
    result = write_segment(path, frames)

    assert result.timestamps_bumped == 2
    with av.open(str(path)) as container:
        pts = [p.pts for p in container.demux(audio=0) if p.size]
    assert len(pts) == 10
    assert all(b > a for a, b in zip(pts, pts[1:], strict=False))


def test_video_segment_must_start_with_a_keyframe(
    tmp_path: Path, vp8_45: list[tuple[bytes, bool]]
) -> None:
    path = tmp_path / "000001.webm"
    writer = SegmentWriter(
        path, kind="video", codec="VP8", clock_rate=90000, flush_interval_ms=1000
    )
    with pytest.raises(ValueError, match="keyframe"):
        writer.write(video_frames(vp8_45)[1])
    assert not path.exists()


def test_clusters_reach_the_file_within_the_flush_interval(
    tmp_path: Path, vp8_45: list[tuple[bytes, bool]]
) -> None:
    path = tmp_path / "000001.webm"
    writer = SegmentWriter(
        path, kind="video", codec="VP8", clock_rate=90000, flush_interval_ms=1000
    )
    grew_at: list[int] = []
    size = 0
    for n, frame in enumerate(video_frames(vp8_45)):
        writer.write(frame)  # muxes the frame before it: the file exists from the second on
        if path.exists() and path.stat().st_size > size:
            size = path.stat().st_size
            grew_at.append(n)
    writer.close()

    # Media of at most the flush interval is ever held back in memory.
    limit = int(muxer_options(1000)["cluster_time_limit"])
    assert limit <= 1000
    assert all(b - a <= math.ceil(FPS * 1.0) for a, b in zip(grew_at, grew_at[1:], strict=False))
    assert grew_at[-1] >= 45 - FPS


def test_an_h264_segment_states_its_last_frame_s_real_length(tmp_path: Path) -> None:
    packets, extradata = encode_h264(5)
    times = [0.0, 1.0, 1.4, 2.5, 2.65]  # the last one opens the next segment
    frames = [
        Frame("video", "H264", bytes(p), round(t * 90000), 90000, p.is_keyframe, EPOCH + t)
        for p, t in zip(packets, times, strict=True)
    ]
    path = tmp_path / "000001.mp4"
    writer = SegmentWriter(
        path,
        kind="video",
        codec="H264",
        clock_rate=90000,
        flush_interval_ms=1000,
        size=(320, 240),
        extradata=extradata,
    )
    for frame in frames[:4]:
        writer.write(frame)
    result = writer.close(frames[4])

    assert result.frames == 4
    assert result.media_duration_s == pytest.approx(2.65, abs=0.001)
    assert result.wall_end == pytest.approx(EPOCH + 2.65, abs=0.001)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets_read = [p for p in container.demux(stream) if p.size]
        assert container.duration is not None
        assert container.duration / 1e6 == pytest.approx(2.65, abs=0.001)
    lengths = [float(p.duration * stream.time_base) for p in packets_read]
    assert lengths == pytest.approx([1.0, 0.4, 1.1, 0.15], abs=0.001)
