"""The room grid: every seat's camera in labelled tiles, composed and encoded once per room."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from fractions import Fraction

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from media.config import MediaConfig
from media.decode import CameraDecoder
from media.fanout import PacketFanout, PacketTrack
from media.labels import TextOverlay, find_cjk_font, load_font

logger = logging.getLogger(__name__)

Rect = tuple[int, int, int, int]
BEIJING = timezone(timedelta(hours=8), "北京时间")
VIDEO_CLOCK = 90_000
BACKGROUND = (24, 28, 36)
EMPTY_TILE = (44, 50, 62)
TILE_GAP = 2


def _yuv(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    r, g, b = rgb
    return (
        round(16 + 0.257 * r + 0.504 * g + 0.098 * b),
        round(128 - 0.148 * r - 0.291 * g + 0.439 * b),
        round(128 + 0.439 * r - 0.368 * g - 0.071 * b),
    )


BACKGROUND_YUV = _yuv(BACKGROUND)
EMPTY_TILE_YUV = _yuv(EMPTY_TILE)


def _fill(
    planes: tuple[np.ndarray, np.ndarray, np.ndarray],
    x: int,
    y: int,
    w: int,
    h: int,
    yuv: tuple[int, int, int],
) -> None:
    planes[0][y : y + h, x : x + w] = yuv[0]
    planes[1][y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = yuv[1]
    planes[2][y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = yuv[2]


def grid_shape(n: int) -> tuple[int, int]:
    """Columns and rows for `n` tiles (a near-square grid, wider than tall)."""
    if n <= 0:
        return 1, 1
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    return cols, rows


def header_height(height: int) -> int:
    """The band at the top of the grid that holds the clock, so it never covers a picture."""
    return (height // 24) & ~1


def tile_cells(n: int, width: int = 960, height: int = 720) -> list[Rect]:
    """The (x, y, w, h) cell of each tile, row by row, below the header band."""
    top = header_height(height)
    cols, rows = grid_shape(n)
    cell_w, cell_h = width // cols, (height - top) // rows
    return [
        ((i % cols) * cell_w, top + (i // cols) * cell_h, cell_w, cell_h) for i in range(max(n, 0))
    ]


def tile_rects(n: int, width: int = 960, height: int = 720) -> list[Rect]:
    """Where each 4:3 camera image is drawn: centred in its cell, scaled to fit, even sizes."""
    rects = []
    for x, y, cw, ch in tile_cells(n, width, height):
        # A thin gap keeps neighbouring tiles of similar colour apart.
        w = min(cw - 2 * TILE_GAP, (ch - 2 * TILE_GAP) * 4 // 3) & ~1
        h = (w * 3 // 4) & ~1
        # Even positions and sizes: 4:2:0 chroma has one sample per 2x2 pixels.
        rects.append(((x + (cw - w) // 2) & ~1, (y + (ch - h) // 2) & ~1, w, h))
    return rects


def pictures_to_skip(late: float, interval: float) -> int:
    """How many grid pictures to leave out when the next one was due `late` seconds ago.

    Up to one interval late, none: the next picture starts at once and the schedule catches
    up, so a picture that took a little longer than its interval (a keyframe, a busy core)
    costs no picture. Further behind, the pictures that can no longer be made in time are
    left out rather than queued, and at most one interval of delay is kept.
    """
    if late <= interval:
        return 0
    return int(late / interval)


def grid_encoder(config: MediaConfig) -> av.VideoCodecContext:
    """A VP8 encoder for the grid picture, opened on its first frame."""
    return vp8_encoder(
        config.grid_width, config.grid_height, config.grid_bitrate, config.grid_encoder_speed
    )


def vp8_encoder(width: int, height: int, bitrate: int, speed: int) -> av.VideoCodecContext:
    """A realtime VP8 encoder for a picture the server composes, keyframes only when asked."""
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width = width
    encoder.height = height
    encoder.pix_fmt = "yuv420p"
    encoder.time_base = Fraction(1, VIDEO_CLOCK)
    encoder.bit_rate = bitrate
    encoder.gop_size = 100_000  # keyframes only when asked for (or by the interval)
    encoder.qmin = 4
    encoder.qmax = 56
    # One thread: libvpx with two threads on one available core spins waiting for the
    # second (measured 177 ms of CPU a frame against 7.6 ms single-threaded).
    encoder.thread_count = 1
    encoder.options = {
        "deadline": "realtime",
        # Negative: this speed always (see MediaConfig.grid_encoder_speed).
        "cpu-used": str(-speed),
        "lag-in-frames": "0",
        "error-resilient": "1",
        "bufsize": str(bitrate),
        "maxrate": str(bitrate),
        "static-thresh": "1",
        "undershoot-pct": "100",
        "overshoot-pct": "15",
    }
    return encoder


@dataclass(frozen=True)
class TileSpec:
    """One tile of the grid: which seat, and the label shown on it (e.g. 沈阳主场 · 2号机位)."""

    key: str
    label: str


@dataclass
class GridStats:
    """What the grid did since it started."""

    frames_encoded: int = 0
    frames_skipped: int = 0
    subscriber_drops: int = 0
    fps: float = 0.0
    last_encode_ms: float = 0.0


class GridCompositor:
    """Composes the room grid at a steady rate and encodes it once (VP8) for every subscriber."""

    def __init__(self, config: MediaConfig, *, name: str = "room") -> None:
        self._config = config
        self._name = name
        self._width = config.grid_width
        self._height = config.grid_height
        self._tiles: list[TileSpec] = []
        # Seat -> its latest picture, or the decoder that holds its pending camera frames.
        self._latest: dict[str, av.VideoFrame | CameraDecoder] = {}
        self._overlays: dict[str, TextOverlay] = {}
        self._placeholders: dict[tuple[str, int], TextOverlay] = {}
        self._scalers: dict[str, VideoReformatter] = {}
        self._online: set[str] = set()
        self._clock_cache: tuple[int, TextOverlay] | None = None
        self._font_path = find_cjk_font(config.label_font)
        self._fanout = PacketFanout(
            "video",
            request_keyframe=self.request_keyframe,
            on_drop=self._subscriber_drop,
            on_taken=lambda waited: self._stage("send", waited),
        )
        self._executor: ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self._encoder: av.VideoCodecContext | None = None
        self._force_keyframe = True
        self._last_keyframe = 0.0
        self._t0 = 0.0
        self._fps_window: list[float] = []
        self._closed = False
        self._listeners: list[Callable[[av.Packet, bool], None]] = []
        self.stats = GridStats()
        # The last composed picture (evidence of what the room looked like at a moment).
        self.last_picture: av.VideoFrame | None = None
        # Told how long a frame spent in each stage of the grid, in seconds (any thread):
        # "ingress" from its sender's clock (RTCP) to its arrival here, "wait" from its arrival
        # to the tick that decodes it, "compose" (decoding the cameras too), "encode", and
        # "send" from the encoded frame's packet published to a sender taking it.
        self.on_stage: Callable[[str, float], None] | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start composing."""
        if self._task is not None:
            return
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"grid-{self._name}")
        self._t0 = time.monotonic()
        self._task = asyncio.create_task(self._run(), name=f"grid-{self._name}")

    async def close(self) -> None:
        """Stop composing, end every subscriber track; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, timeout=5)
        self._fanout.close()
        if self._executor is not None:
            executor, self._executor = self._executor, None
            await asyncio.to_thread(executor.shutdown, wait=True)

    async def __aenter__(self) -> GridCompositor:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- inputs ---------------------------------------------------------------------------------

    def set_tiles(self, tiles: Sequence[TileSpec]) -> None:
        """Set the tiles in display order (the room roster)."""
        self._tiles = list(tiles)
        keys = {t.key for t in self._tiles}
        for key, entry in list(self._latest.items()):
            # A seat's camera stays attached: it may be in the next roster again.
            if key not in keys and not isinstance(entry, CameraDecoder):
                del self._latest[key]
        for key in [key for key in self._scalers if key not in keys]:
            self._scalers.pop(key, None)
        # Label strips depend on tile size, which depends on the tile count.
        self._overlays.clear()
        self._placeholders.clear()

    def set_online(self, keys: set[str]) -> None:
        """Which seats are connected: a tile without a picture says 未上线 or 等待画面."""
        self._online = set(keys)

    def update_frame(self, key: str, frame: av.VideoFrame) -> None:
        """The latest decoded camera frame of seat `key`; older ones are simply replaced."""
        self._latest[key] = frame

    def set_source(self, key: str, camera: CameraDecoder) -> None:
        """Take seat `key`'s pictures from `camera`: its frames are decoded in the grid's thread,
        all of them in order, whenever a grid picture is composed."""
        self._latest[key] = camera

    def clear_frame(self, key: str) -> None:
        """Seat `key` has no camera picture any more (left, or camera ended)."""
        self._latest.pop(key, None)

    # -- outputs --------------------------------------------------------------------------------

    def subscribe(self) -> PacketTrack:
        """A video track carrying the encoded grid, starting at a keyframe."""
        return self._fanout.subscribe()

    def add_listener(self, listener: Callable[[av.Packet, bool], None]) -> None:
        """Also give every encoded packet to `listener` (e.g. a recorder)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[av.Packet, bool], None]) -> None:
        """Stop giving packets to `listener`."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def request_keyframe(self) -> None:
        """Make the next grid frame a keyframe (a viewer joined or lost a packet)."""
        self._force_keyframe = True

    @property
    def subscribers(self) -> int:
        """How many tracks receive the grid."""
        return len(self._fanout)

    # -- the loop -------------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = 1.0 / self._config.grid_fps
        next_due = loop.time()
        while True:
            tiles = list(self._tiles)
            frames = dict(self._latest)
            online = frozenset(self._online)
            now = time.time()
            force = self._force_keyframe or (
                now - self._last_keyframe >= self._config.grid_keyframe_interval_s
            )
            self._force_keyframe = False
            pts = int((time.monotonic() - self._t0) * VIDEO_CLOCK)
            started = time.perf_counter()
            try:
                packets = await loop.run_in_executor(
                    self._executor,
                    self._compose_and_encode,
                    tiles,
                    frames,
                    online,
                    now,
                    pts,
                    force,
                )
            except Exception:
                logger.exception("grid %s: composing a frame failed", self._name)
                packets = []
            self.stats.last_encode_ms = (time.perf_counter() - started) * 1000
            for packet in packets:
                keyframe = bool(packet.is_keyframe)
                if keyframe:
                    self._last_keyframe = now
                self._fanout.publish(packet, keyframe)
                for listener in tuple(self._listeners):
                    listener(packet, keyframe)
            if packets:
                self._count_frame(now)
            next_due += interval
            skipped = pictures_to_skip(loop.time() - next_due, interval)
            self.stats.frames_skipped += skipped
            next_due += skipped * interval
            await asyncio.sleep(max(0.0, next_due - loop.time()))

    def _count_frame(self, now: float) -> None:
        self.stats.frames_encoded += 1
        window = self._fps_window
        window.append(now)
        while window and now - window[0] > 2.0:
            window.pop(0)
        if len(window) > 1:
            self.stats.fps = (len(window) - 1) / (window[-1] - window[0])

    def _subscriber_drop(self, count: int) -> None:
        self.stats.subscriber_drops += count

    # -- work done in the grid's thread -----------------------------------------------------------

    def _compose_and_encode(
        self,
        tiles: list[TileSpec],
        sources: dict[str, av.VideoFrame | CameraDecoder],
        online: frozenset[str],
        now: float,
        pts: int,
        force_keyframe: bool,
    ) -> list[av.Packet]:
        started, picked = time.perf_counter(), time.time()
        frames: dict[str, av.VideoFrame | None] = {}
        for key, source in sources.items():
            # Every attached camera is decoded, shown or not: its next frames depend on these.
            if isinstance(source, CameraDecoder):
                decoded = source.frames_decoded
                frames[key] = source.decode_pending()
                if source.frames_decoded != decoded:
                    self._stage("ingress", source.newest_arrived - source.newest_sent)
                    self._stage("wait", picked - source.newest_arrived)
            else:
                frames[key] = source
        canvas = self.compose(tiles, frames, now, online=online)
        composed = time.perf_counter()
        self._stage("compose", composed - started)
        frame = av.VideoFrame.from_ndarray(canvas, format="yuv420p")
        self.last_picture = frame
        frame.pts = pts
        frame.time_base = Fraction(1, VIDEO_CLOCK)
        if force_keyframe:
            frame.pict_type = av.video.frame.PictureType.I
        encoder = self._encoder or self._open_encoder()
        packets = list(encoder.encode(frame))
        for packet in packets:
            packet.time_base = Fraction(1, VIDEO_CLOCK)
        self._stage("encode", time.perf_counter() - composed)
        return packets

    def _stage(self, stage: str, seconds: float) -> None:
        if self.on_stage is not None:
            self.on_stage(stage, seconds)

    def _open_encoder(self) -> av.VideoCodecContext:
        self._encoder = grid_encoder(self._config)
        return self._encoder

    def compose(
        self,
        tiles: list[TileSpec],
        frames: dict[str, av.VideoFrame | None],
        now: float,
        *,
        online: frozenset[str] = frozenset(),
    ) -> np.ndarray:
        """Draw one grid picture from the latest frame of each tile, as stacked YUV 4:2:0.

        Composing in YUV saves converting the whole canvas for the encoder: each tile is
        scaled straight into the encoder's format.
        """
        width, height = self._width, self._height
        canvas = np.empty((height * 3 // 2, width), dtype=np.uint8)
        y_plane = canvas[:height]
        u_plane = canvas[height : height + height // 4].reshape(height // 2, width // 2)
        v_plane = canvas[height + height // 4 :].reshape(height // 2, width // 2)
        planes = (y_plane, u_plane, v_plane)
        _fill(planes, 0, 0, width, height, BACKGROUND_YUV)
        rects = tile_rects(len(tiles), width, height)
        for tile, (x, y, w, h) in zip(tiles, rects, strict=True):
            frame = frames.get(tile.key)
            if frame is None:
                _fill(planes, x, y, w, h, EMPTY_TILE_YUV)
                text = "等待画面" if tile.key in online else "未上线"
                placeholder = self._placeholder_overlay(text, w)
                placeholder.blend(planes, x, y + (h - placeholder.height) // 2)
            else:
                scaled = self._scaler(tile.key).reformat(
                    frame,
                    width=w,
                    height=h,
                    format="yuv420p",
                    # Area averaging: the right filter to shrink a camera to a tile, and
                    # cheaper than the bilinear default at these sizes.
                    interpolation="AREA",
                    # The grid's thread is the one to use: more threads cost a start each.
                    threads=1,
                )
                for i, plane in enumerate(planes):
                    px, py, pw, ph = (x, y, w, h) if i == 0 else (x // 2, y // 2, w // 2, h // 2)
                    source = scaled.planes[i]
                    rows = np.frombuffer(memoryview(source), np.uint8).reshape(-1, source.line_size)
                    plane[py : py + ph, px : px + pw] = rows[:ph, :pw]
            label = self._label_overlay(tile.label, w, h)
            label.blend(planes, x, y + h - label.height)
        clock = self._clock_overlay(now)
        clock.blend(planes, width - clock.width - 8, 0)
        return canvas

    def _scaler(self, key: str) -> VideoReformatter:
        # One per tile, kept: a frame's own reformat sets up a new swscale context for every
        # decoded frame, which cost three times the scaling itself (bench/grid.py).
        scaler = self._scalers.get(key)
        if scaler is None:
            scaler = self._scalers[key] = VideoReformatter()
        return scaler

    def _strip_height(self, tile_h: int) -> int:
        return max(18, tile_h // 9) & ~1

    def _label_overlay(self, label: str, w: int, h: int) -> TextOverlay:
        key = f"{label}|{w}x{h}"
        overlay = self._overlays.get(key)
        if overlay is None:
            strip = self._strip_height(h)
            font = load_font(self._font_path, int(strip * 0.7))
            overlay = TextOverlay(label, font, w, strip)
            self._overlays[key] = overlay
        return overlay

    def _placeholder_overlay(self, text: str, w: int) -> TextOverlay:
        overlay = self._placeholders.get((text, w))
        if overlay is None:
            font = load_font(self._font_path, max(14, w // 16))
            overlay = self._placeholders[(text, w)] = TextOverlay(text, font, w, max(24, w // 9))
        return overlay

    def _clock_overlay(self, now: float) -> TextOverlay:
        second = int(now)
        if self._clock_cache is None or self._clock_cache[0] != second:
            text = datetime.fromtimestamp(second, BEIJING).strftime("北京时间 %Y-%m-%d %H:%M:%S")
            font = load_font(self._font_path, max(14, self._height // 36))
            overlay = TextOverlay(
                text, font, max(200, self._width // 3), header_height(self._height)
            )
            self._clock_cache = (second, overlay)
        return self._clock_cache[1]
