"""The room grid: layout, composition and the single shared encode."""

from __future__ import annotations

import asyncio
import itertools

import av
import numpy as np
import pytest

from media.config import MediaConfig
from media.grid import GridCompositor, TileSpec, header_height, pictures_to_skip, tile_rects


@pytest.mark.parametrize("n", range(1, 13))
def test_tiles_fit_inside_the_frame_without_overlap(n: int) -> None:
    rects = tile_rects(n, 960, 720)
    assert len(rects) == n
    for x, y, w, h in rects:
        assert x >= 0 and y >= header_height(720) and x + w <= 960 and y + h <= 720
        assert abs(w / h - 4 / 3) < 0.02 and w % 2 == 0 and h % 2 == 0
        assert w >= 160
    for (ax, ay, aw, ah), (bx, by, bw, bh) in itertools.combinations(rects, 2):
        assert ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay


@pytest.mark.parametrize(
    ("late_intervals", "skipped"),
    [(-0.5, 0), (0.0, 0), (0.3, 0), (1.0, 0), (1.2, 1), (1.99, 1), (2.5, 2), (10.1, 10)],
)
def test_a_late_picture_is_caught_up_and_only_a_whole_interval_behind_is_skipped(
    late_intervals: float, skipped: int
) -> None:
    interval = 1 / 15
    assert pictures_to_skip(late_intervals * interval, interval) == skipped
    # What is kept after skipping is never more than one interval of delay.
    assert late_intervals * interval - skipped * interval <= interval + 1e-12


def solid(color: tuple[int, int, int]) -> av.VideoFrame:
    return av.VideoFrame.from_ndarray(np.full((480, 640, 3), color, np.uint8), format="rgb24")


def test_each_seat_appears_in_its_own_tile() -> None:
    grid = GridCompositor(MediaConfig())
    tiles = [TileSpec(f"v:{i}", f"沈阳主场 · {i}号机位") for i in range(1, 5)]
    colors = [(220, 30, 30), (30, 200, 30), (30, 30, 220), (230, 230, 30)]
    frames = {t.key: solid(c) for t, c in zip(tiles, colors, strict=True)}
    frames["v:4"] = None  # a seat without a picture yet
    yuv = grid.compose(tiles, frames, now=0.0)
    canvas = av.VideoFrame.from_ndarray(yuv, format="yuv420p").to_ndarray(format="rgb24")
    for i, (x, y, w, h) in enumerate(tile_rects(4)):
        centre = canvas[y + h // 3 : y + h // 2, x + w // 3 : x + 2 * w // 3].reshape(-1, 3)
        mean = centre.mean(axis=0)
        if i < 3:
            assert np.abs(mean - colors[i]).max() < 12, (i, mean)
        else:
            assert np.abs(mean - colors[3]).max() > 100  # placeholder, not yellow


async def test_one_encode_feeds_every_subscriber_starting_on_a_keyframe() -> None:
    grid = GridCompositor(MediaConfig(grid_fps=30))
    grid.set_tiles([TileSpec("a", "A"), TileSpec("b", "B")])
    grid.update_frame("a", solid((200, 0, 0)))
    async with grid:
        first = grid.subscribe()
        packets_a = [await asyncio.wait_for(first.recv(), 5) for _ in range(10)]
        second = grid.subscribe()
        packets_b = [await asyncio.wait_for(second.recv(), 5) for _ in range(5)]
        assert packets_a[0].is_keyframe and packets_b[0].is_keyframe
        # The same packet objects reach both subscribers: encoded once, not per viewer.
        later_a = [await asyncio.wait_for(first.recv(), 5) for _ in range(20)]
        assert {id(p) for p in packets_b} & {id(p) for p in packets_a + later_a}
        assert grid.subscribers == 2
        decoder = av.CodecContext.create("libvpx", "r")
        decoded = [f for p in packets_b for f in decoder.decode(p)]
        assert decoded and decoded[0].width == 960 and decoded[0].height == 720
        second.stop()
        assert grid.subscribers == 1
    assert first.readyState == "ended"
    assert grid.stats.frames_encoded >= 30


async def test_a_stalled_subscriber_is_reset_not_grown() -> None:
    grid = GridCompositor(MediaConfig(grid_fps=60))
    grid.set_tiles([TileSpec("a", "A")])
    async with grid:
        stalled = grid.subscribe()
        reader = grid.subscribe()
        for _ in range(80):
            await asyncio.wait_for(reader.recv(), 5)
        assert len(stalled._pending) <= 30
        assert grid.stats.subscriber_drops > 0
        # After the reset the stalled viewer restarts cleanly on a keyframe.
        packet = await asyncio.wait_for(stalled.recv(), 5)
        assert packet.is_keyframe
