"""Information screen benchmark: what the opening hall's screen costs its thread, and its bitrate.

    python bench/infoscreen.py [--seconds 60] [--fps 4] [--bitrates 400,600,900]

The screen (``media.infoscreen``) is drawn again only when the opening's state changes or the
clock's second turns, and then only its ticking texts (clock, countdowns) are drawn over the
kept rest, which is drawn whole only when it changed (a new state, a page turned); every
picture, changed or not, is encoded (VP8, a keyframe every two seconds). This benchmark plays
each sample opening of ``media.testing.openings`` (before the deadline, decryption with 12
bidders, the read-out of 25 rows over pages) for ``--seconds`` of screen time, as the
compositor's thread would, and times each step on this thread's CPU clock: the layout, a whole
picture drawn, a second's picture (ticking texts only), the conversion to YUV, the encoding of a
keyframe and of an unchanged picture. It prints the share of one core it all takes, the
bitrate reached, the keyframes' size and the luma PSNR of the decoded pictures. Figures are
printed, never asserted.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import numpy as np  # noqa: E402

from media.config import MediaConfig  # noqa: E402
from media.decode import open_video_decoder  # noqa: E402
from media.grid import VIDEO_CLOCK, vp8_encoder  # noqa: E402
from media.infolayout import layout_screen  # noqa: E402
from media.infoscreen import ScreenPainter  # noqa: E402
from media.infostate import parse_opening  # noqa: E402
from media.infotable import TablePlanner  # noqa: E402
from media.labels import find_cjk_font  # noqa: E402
from media.testing import openings  # noqa: E402

SCENES: dict[str, Callable[[float], dict[str, object]]] = {
    "before deadline": openings.before_deadline,
    "decryption, 12 bidders": openings.decryption,
    "read-out, 25 rows": openings.readout,
}


@dataclass
class Costs:
    """CPU milliseconds of each step, one entry per time it ran."""

    layout: list[float] = field(default_factory=list)
    whole: list[float] = field(default_factory=list)
    tick: list[float] = field(default_factory=list)
    yuv: list[float] = field(default_factory=list)
    keyframe: list[float] = field(default_factory=list)
    inter: list[float] = field(default_factory=list)
    keyframe_bytes: list[int] = field(default_factory=list)
    total_bytes: int = 0
    psnr: list[float] = field(default_factory=list)


def play(
    config: MediaConfig, scene: Callable[[float], dict[str, object]], seconds: int, bitrate: int
) -> Costs:
    """`seconds` of the screen showing `scene`, picture by picture, as the compositor's thread."""
    start = float(int(time.time()))
    state = parse_opening(scene(start))
    painter = ScreenPainter(
        config.infoscreen_width, config.infoscreen_height, find_cjk_font(config.label_font)
    )
    planner = TablePlanner(painter.measure)
    encoder = vp8_encoder(painter.width, painter.height, bitrate, config.grid_encoder_speed)
    decoder = open_video_decoder("VP8")
    fps = config.infoscreen_fps
    keyframe_every = round(config.infoscreen_keyframe_interval_s * fps)
    costs = Costs()
    yuv: np.ndarray | None = None
    second = -1
    for index in range(seconds * fps):
        now = start + index / fps + 0.01
        if int(now) != second:
            second = int(now)
            started = time.thread_time()
            screen = layout_screen(
                state, now, painter.width, painter.height, planner, config.infoscreen_page_s
            )
            costs.layout.append((time.thread_time() - started) * 1000)
            before = painter.drawn_whole
            started = time.thread_time()
            image = painter.picture(screen)
            spent = (time.thread_time() - started) * 1000
            (costs.whole if painter.drawn_whole != before else costs.tick).append(spent)
            started = time.thread_time()
            yuv = painter.yuv(image)
            costs.yuv.append((time.thread_time() - started) * 1000)
        assert yuv is not None
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = index * VIDEO_CLOCK // fps
        frame.time_base = Fraction(1, VIDEO_CLOCK)
        key = index % keyframe_every == 0
        if key:
            frame.pict_type = av.video.frame.PictureType.I
        started = time.thread_time()
        packets = list(encoder.encode(frame))
        (costs.keyframe if key else costs.inter).append((time.thread_time() - started) * 1000)
        for packet in packets:
            costs.total_bytes += packet.size
            if key:
                costs.keyframe_bytes.append(packet.size)
            for back in decoder.decode(av.Packet(bytes(packet))):
                height = painter.height
                luma = back.to_ndarray()[:height].astype(np.float64)
                error = float(np.mean((luma - yuv[:height]) ** 2))
                costs.psnr.append(10 * np.log10(255**2 / max(error, 1e-9)))
    return costs


def spread(values: list[float]) -> str:
    """Median and maximum, or a dash."""
    if not values:
        return "      —      "
    return f"{np.median(values):5.1f} / {max(values):5.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="screen time played per scene")
    parser.add_argument("--fps", type=int, default=MediaConfig.infoscreen_fps)
    parser.add_argument("--bitrates", default="", help="comma list of bit/s (default: config)")
    args = parser.parse_args()
    config = MediaConfig(infoscreen_fps=args.fps)
    bitrates = [int(b) for b in args.bitrates.split(",") if b] or [config.infoscreen_bitrate]
    print(
        f"== information screen {config.infoscreen_width}x{config.infoscreen_height}, "
        f"{config.infoscreen_fps} fps, keyframe every {config.infoscreen_keyframe_interval_s} s; "
        f"CPU ms on one thread (median / max) =="
    )
    for name, scene in SCENES.items():
        for bitrate in bitrates:
            costs = play(config, scene, args.seconds, bitrate)
            spent = sum(
                sum(part)
                for part in (
                    costs.layout,
                    costs.whole,
                    costs.tick,
                    costs.yuv,
                    costs.keyframe,
                    costs.inter,
                )
            )
            print(f"  {name}, {bitrate // 1000} kbit/s target:")
            print(
                f"    layout {spread(costs.layout)}   whole picture {spread(costs.whole)} "
                f"({len(costs.whole)}x)   second's picture {spread(costs.tick)}   "
                f"to YUV {spread(costs.yuv)}"
            )
            print(
                f"    encode keyframe {spread(costs.keyframe)}   unchanged "
                f"{spread(costs.inter)}   keyframe {np.median(costs.keyframe_bytes) / 1000:.0f} kB"
            )
            print(
                f"    {costs.total_bytes * 8 / args.seconds / 1000:.0f} kbit/s, "
                f"PSNR Y {np.mean(costs.psnr):.1f} dB mean, {np.min(costs.psnr):.1f} dB min; "
                f"{spent / args.seconds / 10:.2f} % of one core"
            )


if __name__ == "__main__":
    main()
