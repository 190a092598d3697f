"""Grid benchmark: what one grid picture costs the grid's thread, and the encoder at each speed.

    python bench/grid.py [--seats 10] [--frames 90] [--speeds 4,5,6,7,8,10,16]

The grid's thread does three things for every picture (15 a second): it decodes each seat's
pending camera frames (VP8 640x480), or those of the seat's preview (VP8 320x240, a small copy
of the camera) if it sends one, composes the tiles, labels and clock into one 960x720 picture,
and encodes that picture (VP8, ``media.grid.grid_encoder``). This benchmark times each step on
this thread's CPU clock, from previews and from cameras, with the loops the other benchmarks
send. The encoder is then run on the pictures composed from the previews at each fixed speed,
and once as libvpx chooses its speed itself (``cpu-used`` 8, which fills up to half of the frame
interval). For each it prints the CPU time a picture, the bitrate reached, and the PSNR of the
luma plane decoded back against the composed picture. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import colorsys
import sys
import time
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import numpy as np  # noqa: E402

from media.config import MediaConfig  # noqa: E402
from media.decode import open_video_decoder  # noqa: E402
from media.grid import VIDEO_CLOCK, GridCompositor, TileSpec, grid_encoder  # noqa: E402
from media.testing.synthetic import camera_loop  # noqa: E402

FPS = 15
ADAPTIVE = "auto"  # libvpx picks its speed: cpu-used 8, as the grid encoded before


PREVIEW = {"bitrate": 150_000, "size": (320, 240)}  # as the seat page sends it (web/rtc.js)
CAMERA = {"bitrate": 500_000, "size": (640, 480)}


def decoded_loops(
    seats: int, frames: int, loop: dict[str, Any]
) -> tuple[list[list[av.VideoFrame]], float]:
    """Every seat's loop (`loop`: CAMERA or PREVIEW) decoded, and the CPU milliseconds a frame
    took."""
    loops = []
    spent = 0.0
    count = 0
    for seat in range(seats):
        red, green, blue = colorsys.hsv_to_rgb(seat / seats, 0.6, 0.8)
        colour = (round(red * 255), round(green * 255), round(blue * 255))
        packets = camera_loop(colour, seconds=frames / FPS, **loop)
        decoder = open_video_decoder("VP8")
        pictures: list[av.VideoFrame] = []
        started = time.process_time()
        for packet in packets:
            pictures.extend(decoder.decode(av.Packet(bytes(packet))))
        spent += time.process_time() - started
        count += len(packets)
        loops.append(pictures)
    return loops, spent / count * 1000


def composed(
    config: MediaConfig, loops: list[list[av.VideoFrame]], frames: int
) -> tuple[list[np.ndarray], float]:
    """`frames` grid pictures of the decoded loops, and the CPU milliseconds one took."""
    grid = GridCompositor(config)
    tiles = [TileSpec(f"seat-{i}", f"沈阳主场 · {i + 1}号机位") for i in range(len(loops))]
    online = frozenset(tile.key for tile in tiles)

    def sources(index: int) -> dict[str, av.VideoFrame | None]:
        return {tile.key: loop[index % len(loop)] for tile, loop in zip(tiles, loops, strict=True)}

    grid.compose(tiles, sources(0), time.time(), online=online)  # labels are drawn once
    pictures = []
    started = time.process_time()
    for index in range(frames):
        pictures.append(grid.compose(tiles, sources(index), time.time(), online=online))
    return pictures, (time.process_time() - started) / frames * 1000


def encode(
    config: MediaConfig, speed: str, pictures: list[np.ndarray]
) -> tuple[float, float, list[float]]:
    """CPU milliseconds a picture, kbit/s, and the luma PSNR of each picture decoded back."""
    if speed == ADAPTIVE:
        encoder = grid_encoder(config)
        encoder.options = {**encoder.options, "cpu-used": "8"}
    else:
        encoder = grid_encoder(replace(config, grid_encoder_speed=int(speed)))
    height = config.grid_height
    step = VIDEO_CLOCK // FPS
    spent = 0.0
    size = 0
    decoder = open_video_decoder("VP8")
    psnr = []
    for index, canvas in enumerate(pictures):
        frame = av.VideoFrame.from_ndarray(canvas, format="yuv420p")
        frame.pts = index * step
        frame.time_base = Fraction(1, VIDEO_CLOCK)
        started = time.process_time()
        packets = list(encoder.encode(frame))
        spent += time.process_time() - started
        for packet in packets:
            size += packet.size
            for back in decoder.decode(av.Packet(bytes(packet))):
                luma = back.to_ndarray()[:height].astype(np.float64)
                error = float(np.mean((luma - canvas[:height]) ** 2))
                psnr.append(10 * np.log10(255**2 / max(error, 1e-9)))
    kbits = size * 8 * FPS / len(pictures) / 1000
    return spent / len(pictures) * 1000, kbits, psnr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seats", type=int, default=10, help="cameras in the grid")
    parser.add_argument("--frames", type=int, default=90, help="grid pictures encoded per speed")
    parser.add_argument(
        "--speeds",
        default=f"4,5,6,7,8,10,16,{ADAPTIVE}",
        help=f"comma list of libvpx speeds (0..16), or {ADAPTIVE!r}",
    )
    args = parser.parse_args()
    config = MediaConfig()
    cameras, camera_ms = decoded_loops(args.seats, args.frames, CAMERA)
    camera_compose_ms = composed(config, cameras, args.frames)[1]
    previews, decode_ms = decoded_loops(args.seats, args.frames, PREVIEW)
    pictures, compose_ms = composed(config, previews, args.frames)
    print(
        f"== grid of {args.seats} seats, {config.grid_width}x{config.grid_height}, "
        f"{config.grid_bitrate // 1000} kbit/s, {FPS} fps; CPU time on one thread =="
    )
    for name, one, compose_one in (
        ("preview", decode_ms, compose_ms),
        ("camera", camera_ms, camera_compose_ms),
    ):
        print(
            f"  decode    {one:5.2f} ms a {name} frame, {one * args.seats:5.1f} ms a picture;  "
            f"compose {compose_one:5.2f} ms a picture (from {name}s)"
        )
    print("  encode    speed   ms a picture   kbit/s   PSNR Y mean   PSNR Y min")
    for speed in args.speeds.split(","):
        mark = "  (in use)" if speed == str(config.grid_encoder_speed) else ""
        encode_ms, kbits, psnr = encode(config, speed, pictures)
        print(
            f"            {speed:>5}   {encode_ms:12.2f}   {kbits:6.0f}   "
            f"{np.mean(psnr):8.2f} dB   {np.min(psnr):7.2f} dB{mark}"
        )
    speed_ms = encode(config, str(config.grid_encoder_speed), pictures)[0]
    for name, one, compose_one in (
        ("previews", decode_ms, compose_ms),
        ("cameras", camera_ms, camera_compose_ms),
    ):
        total = one * args.seats + compose_one + speed_ms
        print(
            f"  a picture at speed {config.grid_encoder_speed} from {name}: {total:.1f} ms, "
            f"{total * FPS / 10:.1f} % of one core at {FPS} fps"
        )


if __name__ == "__main__":
    main()
