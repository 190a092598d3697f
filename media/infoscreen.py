"""The opening hall's information screen (开标大厅信息屏), composed and encoded once (VP8).

The server draws the screen itself, so that it is in the live broadcast and in the archive
even before anybody joins: the project, the phase, the countdown to the deadline and then to
the end of decryption, the bidders with their decryption status, the prices read out, the
benchmark-price parameters, the host's notice and Beijing time. The signaling process sends
the opening's state as a plain JSON object (:mod:`media.infostate` documents it) to
:meth:`InfoScreenCompositor.update` whenever it changes; the countdowns and the clock run on
the server's clock at every picture, with no new message. What is shown where, and the rule
that nothing about the bidders shows before the deadline, is :mod:`media.infolayout`.

Two pictures a second (``MediaConfig.infoscreen_fps``), on the wall clock's half seconds, so
that the countdown turns on the second. The picture is drawn again only when the state changed
or the clock's second turned, and then only the texts that tick (clock, countdown) are drawn
over a kept copy of the rest, which is redrawn whole only when it changed (a new state, a page
turned); in between, the last picture is encoded again. A keyframe every
``infoscreen_keyframe_interval_s`` (2 s) and whenever a viewer asks. Costs at 1280x720, CPU
time on the screen's thread, measured by ``bench/infoscreen.py`` (60 s of each sample opening
of ``media.testing.openings``, on a shared 2-core VM; medians):

==========================================  ====================  ========================
the whole picture drawn                      12 to 24 ms           on a new state, a page
layout and the ticking texts                 1.3 to 2.5 ms         once a second
the picture converted to YUV 4:2:0           3.3 to 3.6 ms         once a second
a picture encoded (VP8, speed 6)             2.8 to 4.1 ms         3 pictures of 4
a keyframe encoded                           14 to 18 ms           1 of 4 (every 2 s)
altogether                                   1.8 to 2.5 %          of one core
==========================================  ====================  ========================

At the 600 kbit/s target the stream takes 360 to 690 kbit/s (keyframes of 75 to 134 kB) with
a mean luma PSNR of 47 to 56 dB: the smallest text stays sharp. Four pictures a second cost
3.4 to 3.8 % of a core for no change seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from PIL import Image, ImageDraw, ImageFont

from media.config import MediaConfig
from media.fanout import PacketFanout, PacketTrack
from media.grid import VIDEO_CLOCK, vp8_encoder
from media.infolayout import Screen, layout_screen
from media.infostate import OpeningState, parse_opening
from media.infotable import Fill, Item, TablePlanner, Text
from media.labels import FontType, find_cjk_font, load_font

logger = logging.getLogger(__name__)

# A picture is made just after the wall clock's due time, so that the second has turned.
TICK_MARGIN_S = 0.01
# The Noto CJK collections hold Japanese, Korean, Simplified and Traditional Chinese faces;
# the hall reads Simplified Chinese glyphs.
PREFERRED_FACE = "SC"
# Character widths kept for measuring (a few thousand characters at a few sizes).
MAX_WIDTHS = 50_000
ANCHORS = {"left": "lm", "center": "mm", "right": "rm"}


def bold_font(path: str | None) -> str | None:
    """The bold sibling of a font file (Noto's …-Regular → …-Bold), else the file itself."""
    if path and "Regular" in Path(path).name:
        bold = Path(path).with_name(Path(path).name.replace("Regular", "Bold"))
        if bold.is_file():
            return str(bold)
    return path


@lru_cache(maxsize=64)
def screen_font(path: str | None, size: int) -> FontType:
    """`path` at `size`; of a font collection, its Simplified Chinese face."""
    if path and path.endswith((".ttc", ".otc")):
        for index in range(16):
            try:
                font = ImageFont.truetype(path, size, index=index)
            except OSError:
                break
            family = font.getname()[0] or ""
            if family.endswith(f" {PREFERRED_FACE}") and "Mono" not in family:
                return font
    return load_font(path, size)


class ScreenPainter:
    """Draws the screen's drawing lists with Pillow and hands them over as YUV 4:2:0."""

    def __init__(self, width: int, height: int, font_path: str | None) -> None:
        self.width = width & ~1
        self.height = height & ~1
        self._fonts = (font_path, bold_font(font_path))
        self._widths: dict[tuple[str, int, bool], float] = {}
        self._base_items: tuple[Item, ...] | None = None
        self._base: Image.Image | None = None
        # How many times the still part was drawn whole (a new state, a page turned).
        self.drawn_whole = 0
        self._reformatter = VideoReformatter()

    def measure(self, text: str, size: int, bold: bool = False) -> float:
        """The width of `text` in pixels: the sum of its characters' advances, kept."""
        widths = self._widths
        if len(widths) > MAX_WIDTHS:
            widths.clear()
        total = 0.0
        for char in text:
            key = (char, size, bold)
            width = widths.get(key)
            if width is None:
                width = widths[key] = self._font(size, bold).getlength(char)
            total += width
        return total

    def picture(self, screen: Screen) -> Image.Image:
        """The screen as an RGB picture: the still part kept, the ticking texts drawn over."""
        still = tuple(i for i in screen.items if not (isinstance(i, Text) and i.ticking))
        if self._base is None or still != self._base_items:
            self._base = Image.new("RGB", (self.width, self.height))
            self._draw(self._base, still)
            self._base_items = still
            self.drawn_whole += 1
        image = self._base.copy()
        self._draw(image, [i for i in screen.items if isinstance(i, Text) and i.ticking])
        return image

    def yuv(self, image: Image.Image) -> np.ndarray:
        """`image` as stacked YUV 4:2:0 planes, the encoder's format (BT.601, as swscale)."""
        rgb = av.VideoFrame.from_ndarray(np.asarray(image), format="rgb24")
        frame = self._reformatter.reformat(rgb, format="yuv420p", threads=1)
        return frame.to_ndarray()

    def _font(self, size: int, bold: bool) -> FontType:
        return screen_font(self._fonts[1 if bold else 0], size)

    def _draw(self, image: Image.Image, items: tuple[Item, ...] | list[Item]) -> None:
        draw = ImageDraw.Draw(image)
        for item in items:
            if isinstance(item, Fill):
                box = (item.x, item.y, item.x + item.w - 1, item.y + item.h - 1)
                if item.radius:
                    draw.rounded_rectangle(box, item.radius, fill=item.colour)
                else:
                    draw.rectangle(box, fill=item.colour)
            elif item.text:
                x = {"left": item.x, "center": item.x + item.w / 2}.get(item.align, item.x + item.w)
                draw.text(
                    (x, item.y + item.h / 2),
                    item.text,
                    font=self._font(item.size, item.bold),
                    fill=item.colour,
                    anchor=ANCHORS[item.align],
                )


@dataclass
class InfoScreenStats:
    """What the information screen did since it started."""

    frames_encoded: int = 0
    frames_skipped: int = 0
    pictures_drawn: int = 0
    subscriber_drops: int = 0
    fps: float = 0.0
    last_draw_ms: float = 0.0
    last_encode_ms: float = 0.0
    page: int = 0
    pages: int = 1


class InfoScreenCompositor:
    """Draws the hall's information screen at a low steady rate and encodes it once (VP8) for
    every subscriber and listener (the recorder)."""

    def __init__(
        self,
        config: MediaConfig,
        *,
        name: str = "hall",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._name = name
        # The server's clock the countdowns run on (a test may set its own).
        self._clock = clock
        self._painter = ScreenPainter(
            config.infoscreen_width, config.infoscreen_height, find_cjk_font(config.label_font)
        )
        self._planner = TablePlanner(self._painter.measure)
        self._state: OpeningState | None = None
        self._version = 0
        self._picture: np.ndarray | None = None
        self._picture_key: tuple[int, int] | None = None
        self._fanout = PacketFanout(
            "video", request_keyframe=self.request_keyframe, on_drop=self._subscriber_drop
        )
        self._listeners: list[Callable[[av.Packet, bool], None]] = []
        self._executor: ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self._encoder: av.VideoCodecContext | None = None
        self._force_keyframe = True
        self._last_keyframe = 0.0
        self._t0 = 0.0
        self._fps_window: list[float] = []
        self._closed = False
        self.stats = InfoScreenStats()
        # The last picture encoded (what the hall's screen showed at a moment).
        self.last_picture: av.VideoFrame | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start drawing and encoding."""
        if self._task is not None or self._closed:
            return
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"infoscreen-{self._name}")
        self._t0 = time.monotonic()
        self._task = asyncio.create_task(self._run(), name=f"infoscreen-{self._name}")

    async def close(self) -> None:
        """Stop, and end every subscriber track; safe to call twice."""
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

    async def __aenter__(self) -> InfoScreenCompositor:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- input ----------------------------------------------------------------------------------

    def update(self, state: Mapping[str, object] | OpeningState) -> None:
        """Show the opening's new state (the message of :mod:`media.infostate`); a message
        that breaks the schema raises BadOpeningState and the screen keeps what it showed."""
        self._state = state if isinstance(state, OpeningState) else parse_opening(state)
        self._version += 1

    @property
    def state(self) -> OpeningState | None:
        """What the screen shows (None before the first update)."""
        return self._state

    # -- outputs --------------------------------------------------------------------------------

    def subscribe(self) -> PacketTrack:
        """A video track carrying the encoded screen, starting at a keyframe (ended at once if
        the screen is closed)."""
        track = self._fanout.subscribe()
        if self._closed:
            track.stop()
        return track

    def add_listener(self, listener: Callable[[av.Packet, bool], None]) -> None:
        """Also give every encoded packet to `listener` (e.g. a recorder)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[av.Packet, bool], None]) -> None:
        """Stop giving packets to `listener`."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def request_keyframe(self) -> None:
        """Make the next picture a keyframe (a viewer joined or lost a packet)."""
        self._force_keyframe = True

    @property
    def subscribers(self) -> int:
        """How many tracks receive the screen."""
        return len(self._fanout)

    def screen(self, now: float | None = None) -> Screen:
        """The drawing list of the screen at `now` (the server's clock by default)."""
        return layout_screen(
            self._state,
            self._clock() if now is None else now,
            self._painter.width,
            self._painter.height,
            self._planner,
            self._config.infoscreen_page_s,
        )

    def render(self, now: float | None = None) -> Image.Image:
        """The screen at `now` as an RGB picture (for a still, or to look at)."""
        return self._painter.picture(self.screen(now))

    # -- the loop -------------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = 1.0 / self._config.infoscreen_fps
        while True:
            started = time.time()
            now = self._clock()
            force = self._force_keyframe or (
                started - self._last_keyframe >= self._config.infoscreen_keyframe_interval_s
            )
            self._force_keyframe = False
            pts = int((time.monotonic() - self._t0) * VIDEO_CLOCK)
            try:
                packets = await loop.run_in_executor(
                    self._executor,
                    self._draw_and_encode,
                    self._state,
                    self._version,
                    now,
                    pts,
                    force,
                )
            except Exception:
                logger.exception("information screen %s: a picture failed", self._name)
                packets = []
            for packet in packets:
                keyframe = bool(packet.is_keyframe)
                if keyframe:
                    self._last_keyframe = started
                self._fanout.publish(packet, keyframe)
                for listener in tuple(self._listeners):
                    listener(packet, keyframe)
            if packets:
                self._count_frame(started)
            # The next picture at the wall clock's next due time (the countdown turns on the
            # second); those that could not be made in time are left out, not queued.
            wall = time.time()
            self.stats.frames_skipped += int((wall - started) / interval)
            await asyncio.sleep(interval - (wall - TICK_MARGIN_S) % interval)

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

    # -- work done in the screen's thread ---------------------------------------------------------

    def _draw_and_encode(
        self, state: OpeningState | None, version: int, now: float, pts: int, force: bool
    ) -> list[av.Packet]:
        key = (version, int(now))
        if self._picture is None or key != self._picture_key:
            started = time.perf_counter()
            screen = layout_screen(
                state,
                now,
                self._painter.width,
                self._painter.height,
                self._painter.measure,
                self._config.infoscreen_page_s,
            )
            self._picture = self._painter.yuv(self._painter.picture(screen))
            self._picture_key = key
            self.stats.pictures_drawn += 1
            self.stats.page, self.stats.pages = screen.page, screen.pages
            self.stats.last_draw_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        frame = av.VideoFrame.from_ndarray(self._picture, format="yuv420p")
        frame.pts = pts
        frame.time_base = Fraction(1, VIDEO_CLOCK)
        if force:
            frame.pict_type = av.video.frame.PictureType.I
        self.last_picture = frame
        encoder = self._encoder or self._open_encoder()
        packets = list(encoder.encode(frame))
        for packet in packets:
            packet.time_base = Fraction(1, VIDEO_CLOCK)
        self.stats.last_encode_ms = (time.perf_counter() - started) * 1000
        return packets

    def _open_encoder(self) -> av.VideoCodecContext:
        config = self._config
        self._encoder = vp8_encoder(
            self._painter.width,
            self._painter.height,
            config.infoscreen_bitrate,
            config.grid_encoder_speed,
        )
        return self._encoder
