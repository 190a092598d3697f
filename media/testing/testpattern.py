"""Frame-counter test pattern that survives VP8 and down-scaling into a grid tile.

Layout on a 640x480 frame, blocks of ``BLOCK`` x ``BLOCK`` pixels in the top-left corner:

* row 0 (y 0..31): the 16-bit frame counter, most significant bit first, bit i at
  x = i * BLOCK; white (255) is 1, black (0) is 0;
* row 1 (y 32..63): a 16-bit check word, ``((value * 0x9E3B) mod 2**16) XOR 0xA55A``, in the
  same encoding.

The reader samples the centre of each of the 32 blocks, splits them at the midpoint between the
lightest and the darkest sample, and accepts the result only when the samples are clearly
two-valued and row 1 matches the check word of row 0. Every valid pattern mixes light and dark
blocks (the check word of 0 is not 0 and that of 0xFFFF is not 0xFFFF), so a blank or solid tile
has no contrast and reads as ``None``: it is never mistaken for counter 0. The rest of the frame
is a solid background colour; the pattern sits at the top, clear of the label strip that the
grid draws over the bottom of each tile.
"""

from __future__ import annotations

import numpy as np

BITS = 16
BLOCK = 32
WIDTH = 640
HEIGHT = 480
MASK = (1 << BITS) - 1
#: Odd multiplier (a bijection modulo 2**16) and mask of the check word.
CHECK_MUL = 0x9E3B
CHECK_XOR = 0xA55A
#: Minimum luma difference between the lightest and darkest block for a pattern to be present.
MIN_CONTRAST = 64.0
#: A block whose luma lies further than this fraction of the span from both ends is unreadable.
MAX_SPREAD = 0.3

_WHITE = 255
_BLACK = 0


def check_word(value: int) -> int:
    """Return the check word stored in row 1 for a counter value."""
    return ((value & MASK) * CHECK_MUL & MASK) ^ CHECK_XOR


def draw_counter(rgb: np.ndarray, value: int) -> None:
    """Draw ``value`` (taken modulo 2**16) and its check word in place on a 640x480 RGB frame."""
    if rgb.ndim != 3 or rgb.shape[0] < 2 * BLOCK or rgb.shape[1] < BITS * BLOCK:
        raise ValueError(f"frame too small for the pattern: {rgb.shape}")
    value &= MASK
    check = check_word(value)
    for i in range(BITS):
        shift = BITS - 1 - i
        x0 = i * BLOCK
        rgb[0:BLOCK, x0 : x0 + BLOCK] = _WHITE if (value >> shift) & 1 else _BLACK
        rgb[BLOCK : 2 * BLOCK, x0 : x0 + BLOCK] = _WHITE if (check >> shift) & 1 else _BLACK


def solid_frame(
    color_rgb: tuple[int, int, int],
    value: int | None = None,
    size: tuple[int, int] = (WIDTH, HEIGHT),
) -> np.ndarray:
    """Return an HxWx3 uint8 frame of one colour, with the counter drawn when ``value`` is set."""
    width, height = size
    frame = np.empty((height, width, 3), dtype=np.uint8)
    frame[:, :] = np.asarray(color_rgb, dtype=np.uint8)
    if value is not None:
        draw_counter(frame, value)
    return frame


def _luma(image: np.ndarray) -> np.ndarray:
    """Return a float32 luma plane for an RGB (HxWx3) or single-plane (HxW) image."""
    if image.ndim == 2:
        return image.astype(np.float32, copy=False)
    rgb = image[..., :3].astype(np.float32, copy=False)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def read_counter(image: np.ndarray, rect: tuple[int, int, int, int]) -> int | None:
    """Read the counter of the camera image drawn at ``rect`` = (x, y, w, h) inside ``image``.

    ``image`` is RGB (HxWx3) or a luma plane (HxW, e.g. the Y plane of a decoded frame); the
    640x480 camera image may be scaled to any size down to about 240x180. Returns ``None`` when
    the pattern is absent or unreadable.
    """
    x, y, w, h = rect
    if w < BITS or h < 4 or x < 0 or y < 0:
        return None
    if y + h > image.shape[0] or x + w > image.shape[1]:
        return None
    sx = w / WIDTH
    sy = h / HEIGHT
    # Sample the central half of each block: clear of the edges that scaling and VP8 blur.
    half_w = max(1, round(BLOCK * sx / 4))
    half_h = max(1, round(BLOCK * sy / 4))
    samples = np.empty((2, BITS), dtype=np.float32)
    for row in range(2):
        cy = y + round((row * BLOCK + BLOCK / 2) * sy)
        band = _luma(image[cy - half_h : cy + half_h, x : x + w])
        for i in range(BITS):
            cx = round((i * BLOCK + BLOCK / 2) * sx)
            samples[row, i] = band[:, cx - half_w : cx + half_w].mean()
    low = float(samples.min())
    high = float(samples.max())
    span = high - low
    if span < MIN_CONTRAST:
        return None
    # Each sample must sit clearly on the light or the dark side: a pattern is two-valued.
    rel = (samples - low) / span
    if bool(((rel > MAX_SPREAD) & (rel < 1 - MAX_SPREAD)).any()):
        return None
    bits = rel >= 0.5
    value = _to_int(bits[0])
    if _to_int(bits[1]) != check_word(value):
        return None
    return value


def _to_int(bits: np.ndarray) -> int:
    """Return the integer whose bits, most significant first, are ``bits``."""
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return value
