"""The frame-counter pattern reads back after scaling into a tile and after a VP8 round trip.

Also the synthetic tracks of media/testing/synthetic.py that carry the pattern and the test tones.
"""

from __future__ import annotations

import fractions
import time

import av
import cv2
import numpy as np
import pytest

from media.testing.synthetic import (
    CounterVideoTrack,
    PreEncodedAudioTrack,
    PreEncodedVideoTrack,
    ToneAudioTrack,
    counter_frames,
    encode_opus_loop,
    encode_vp8_loop,
    tone_samples,
)
from media.testing.testpattern import BITS, HEIGHT, WIDTH, draw_counter, read_counter, solid_frame

FULL = (0, 0, WIDTH, HEIGHT)
VALUES = [0, 1, 2, 255, 256, 0x5A5A, 0xA5A5, 0x8001, 0xFFFF, 12345]


@pytest.mark.parametrize("value", VALUES)
def test_round_trip(value: int) -> None:
    """A drawn counter reads back exactly from the full-size frame."""
    frame = solid_frame((200, 30, 40), value)
    assert read_counter(frame, FULL) == value


def test_counter_wraps_at_16_bits() -> None:
    """Values past 2**16 are stored modulo 2**16."""
    frame = solid_frame((10, 10, 10), (1 << BITS) + 7)
    assert read_counter(frame, FULL) == 7


def test_draw_in_place_keeps_background_below_pattern() -> None:
    """draw_counter only touches the two pattern rows; the rest keeps its colour."""
    frame = solid_frame((0, 128, 0))
    draw_counter(frame, 0xFFFF)
    assert (frame[64:, :] == (0, 128, 0)).all()
    assert (frame[:64, 512:] == (0, 128, 0)).all()


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("color", [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)])
def test_after_resize_into_a_grid_tile(value: int, color: tuple[int, int, int]) -> None:
    """The counter survives INTER_AREA down-scaling to 240x180 placed inside a larger grid."""
    tile = cv2.resize(solid_frame(color, value), (240, 180), interpolation=cv2.INTER_AREA)
    grid = np.full((720, 960, 3), 40, dtype=np.uint8)
    grid[300:480, 500:740] = tile
    assert read_counter(grid, (500, 300, 240, 180)) == value


def test_odd_tile_size_and_luma_plane() -> None:
    """A non-integer scale factor and a single luma plane still read."""
    frame = solid_frame((30, 60, 200), 0xBEEF)
    tile = cv2.resize(frame, (317, 238), interpolation=cv2.INTER_AREA)
    grid = np.zeros((720, 960, 3), dtype=np.uint8)
    grid[11:249, 7:324] = tile
    assert read_counter(grid, (7, 11, 317, 238)) == 0xBEEF
    gray = cv2.cvtColor(grid, cv2.COLOR_RGB2GRAY)
    assert read_counter(gray, (7, 11, 317, 238)) == 0xBEEF


def _vp8_round_trip(
    frames: list[np.ndarray], bitrate: int, size: tuple[int, int] = (WIDTH, HEIGHT)
) -> list[np.ndarray]:
    """Encode RGB frames with libvpx VP8 and decode them again."""
    enc = av.CodecContext.create("libvpx", "w")
    enc.width, enc.height = size
    enc.pix_fmt = "yuv420p"
    enc.time_base = fractions.Fraction(1, 15)
    enc.framerate = fractions.Fraction(15, 1)
    enc.bit_rate = bitrate
    enc.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    dec = av.CodecContext.create("vp8", "r")
    out: list[np.ndarray] = []
    packets: list[av.Packet] = []
    for i, rgb in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        frame.time_base = enc.time_base
        packets.extend(enc.encode(frame))
    packets.extend(enc.encode(None))
    for packet in packets:
        out.extend(f.to_ndarray(format="rgb24") for f in dec.decode(packet))
    return out


def test_after_vp8_at_500_kbits() -> None:
    """Counters read back from every frame after a VP8 encode/decode at 500 kbit/s."""
    values = [i * 37 % (1 << BITS) for i in range(30)]
    decoded = _vp8_round_trip([solid_frame((220, 40, 40), v) for v in values], 500_000)
    assert len(decoded) == len(values)
    assert [read_counter(img, FULL) for img in decoded] == values


def test_after_vp8_and_resize() -> None:
    """VP8 then a 240x180 tile: the path a camera takes into the server's grid."""
    values = list(range(1000, 1015))
    decoded = _vp8_round_trip([solid_frame((40, 40, 220), v) for v in values], 500_000)
    tiles = [cv2.resize(img, (240, 180), interpolation=cv2.INTER_AREA) for img in decoded]
    assert [read_counter(t, (0, 0, 240, 180)) for t in tiles] == values


@pytest.mark.parametrize("level", [0, 128, 255])
def test_blank_image_is_none(level: int) -> None:
    """A blank image is not mistaken for counter 0 or any other value."""
    blank = np.full((HEIGHT, WIDTH, 3), level, dtype=np.uint8)
    assert read_counter(blank, FULL) is None
    assert read_counter(solid_frame((255, 0, 0)), FULL) is None


def test_natural_edges_are_none() -> None:
    """Bright above / dark below, or noise, does not read as a counter."""
    edge = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    edge[:32] = 255
    assert read_counter(edge, FULL) is None
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    assert read_counter(noise, FULL) is None


def test_rect_outside_image_is_none() -> None:
    """A rect that does not fit inside the image reads as None instead of raising."""
    frame = solid_frame((0, 0, 0), 5)
    assert read_counter(frame, (10, 10, WIDTH, HEIGHT)) is None
    assert read_counter(frame, (0, 0, 0, 0)) is None


def test_through_a_grid_encoded_again() -> None:
    """Camera VP8, scaled into a 960x720 grid of 240x180 tiles, grid VP8 again: still reads."""
    values = list(range(40000, 40015))
    decoded = _vp8_round_trip([solid_frame((0, 160, 0), v) for v in values], 500_000)
    grids = []
    for img in decoded:
        grid = np.full((720, 960, 3), 30, dtype=np.uint8)
        tile = cv2.resize(img, (240, 180), interpolation=cv2.INTER_AREA)
        for row in range(4):
            for col in range(4):
                grid[row * 180 : (row + 1) * 180, col * 240 : (col + 1) * 240] = tile
        grids.append(grid)
    out = _vp8_round_trip(grids, 500_000, size=(960, 720))
    assert [read_counter(g, (720, 540, 240, 180)) for g in out] == values


# ---- the synthetic tracks that carry the pattern (media/testing/synthetic.py) ----------------


def test_vp8_loop_one_packet_per_frame_keyframes_and_counters() -> None:
    """A pre-encoded loop has one packet per frame, keyframes where asked, and readable counters."""
    packets = encode_vp8_loop(counter_frames((90, 90, 200), 12), 15, 500_000, keyframe_interval=5)
    assert len(packets) == 12
    assert [i for i, p in enumerate(packets) if p.is_keyframe] == [0, 5, 10]
    decoder = av.CodecContext.create("vp8", "r")
    counters = [
        read_counter(frame.to_ndarray(format="rgb24"), FULL)
        for packet in packets
        for frame in decoder.decode(av.Packet(bytes(packet)))
    ]
    assert counters == list(range(12))


async def test_pre_encoded_video_track_loops_with_rising_pts() -> None:
    """The replayed loop wraps around with monotonically rising pts and records sent_at."""
    packets = encode_vp8_loop(counter_frames((0, 0, 0), 3), 15, 300_000)
    track = PreEncodedVideoTrack(packets, fps=200)
    out = [await track.recv() for _ in range(7)]
    assert [p.pts for p in out] == [i * 450 for i in range(7)]
    assert all(p.time_base == fractions.Fraction(1, 90_000) for p in out)
    assert [bytes(p) for p in out[3:6]] == [bytes(p) for p in packets]
    assert track.frames_sent == 7
    assert track.sent_at.get(0) is not None and track.sent_at.get(2) is not None
    assert track.sent_at.get(3) is None  # counters are positions in the loop
    track.stop()


async def test_pre_encoded_audio_track_paces_20ms_packets() -> None:
    """Opus packets come out 20 ms apart in real time, pts in 48 kHz samples."""
    packets = encode_opus_loop(tone_samples(440.0, 0.2))
    assert len(packets) == 10
    track = PreEncodedAudioTrack(packets)
    started = time.monotonic()
    out = [await track.recv() for _ in range(6)]
    elapsed = time.monotonic() - started
    assert [p.pts for p in out] == [i * 960 for i in range(6)]
    assert 0.09 <= elapsed < 0.5
    track.stop()


async def test_counter_video_track_frames_carry_their_counter() -> None:
    """Raw camera frames read back as 0, 1, 2 ... and are logged in sent_at."""
    track = CounterVideoTrack((0, 200, 0), fps=100)
    frames = [await track.recv() for _ in range(3)]
    assert [read_counter(f.to_ndarray(format="rgb24"), FULL) for f in frames] == [0, 1, 2]
    assert frames[2].pts == 2 * 900
    assert 2 in track.sent_at
    track.stop()


async def test_tone_audio_track_has_its_frequency() -> None:
    """The tone's 20 ms frames are contiguous and peak at the requested frequency."""
    track = ToneAudioTrack(660.0)
    frames = [await track.recv() for _ in range(5)]
    assert [f.pts for f in frames] == [i * 960 for i in range(5)]
    samples = np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1 / 48_000)
    assert abs(freqs[spectrum.argmax()] - 660.0) <= 10.0
    track.stop()
