"""Camera scenes for the warning tests: a person at the seat, two or three people, nobody, a
black lens.

The person is a real photograph, Grace Hopper's portrait that matplotlib ships as sample data
(``mpl-data/sample_data/grace_hopper.jpg``), so that OpenCV's face cascade finds a face the way
it finds an expert's; matplotlib is a development dependency for this file alone.
"""

from __future__ import annotations

import functools
from pathlib import Path

import av
import numpy as np
from PIL import Image

from media.testing.testpattern import draw_counter

SIZE = (640, 480)


@functools.cache
def _portrait() -> Image.Image:
    from matplotlib import cbook

    path = Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    return Image.open(path).convert("RGB")


def _room() -> np.ndarray:
    """An empty seat: a wall, a desk edge and a chair back, in calm office colours."""
    width, height = SIZE
    rgb = np.empty((height, width, 3), np.uint8)
    rgb[:] = (196, 188, 170)  # wall
    rgb[height * 3 // 4 :] = (120, 90, 60)  # desk
    rgb[height // 3 : height * 3 // 4, width // 2 - 90 : width // 2 + 90] = (60, 60, 70)  # chair
    # Texture, so that the picture is not flat: a faint vertical grain.
    grain = (np.sin(np.arange(width) / 7.0) * 6).astype(np.int16)
    return np.clip(rgb.astype(np.int16) + grain[None, :, None], 0, 255).astype(np.uint8)


def _paste(canvas: np.ndarray, box: tuple[int, int, int, int]) -> None:
    x, y, w, h = box
    canvas[y : y + h, x : x + w] = np.asarray(_portrait().resize((w, h), Image.LANCZOS))


def empty_seat() -> np.ndarray:
    """Nobody at the seat."""
    return _room()


def one_person() -> np.ndarray:
    """The expert at the seat (the top 64 rows stay free for the frame counter)."""
    canvas = _room()
    _paste(canvas, (150, 70, 340, 398))
    return canvas


def two_people() -> np.ndarray:
    """Somebody next to the expert."""
    canvas = _room()
    _paste(canvas, (10, 120, 300, 352))
    _paste(canvas, (330, 120, 300, 352))
    return canvas


def three_people() -> np.ndarray:
    """Three people side by side, as a room camera sees them."""
    canvas = _room()
    for x in (5, 220, 435):
        _paste(canvas, (x, 150, 200, 235))
    return canvas


def black() -> np.ndarray:
    """A covered or dark camera."""
    width, height = SIZE
    return np.zeros((height, width, 3), np.uint8)


def decoded(rgb: np.ndarray, counter: int | None = 7) -> av.VideoFrame:
    """The scene as a decoder hands it over (yuv420p), with the frame counter drawn unless
    `counter` is None."""
    if counter is not None:
        rgb = rgb.copy()
        draw_counter(rgb, counter)
    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")


# Each scene with the faces in it.
FACES = [(one_person, 1), (two_people, 2), (three_people, 3), (empty_seat, 0), (black, 0)]
