"""Text drawn into video: tile labels and the clock, rendered once and blended cheaply."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

logger = logging.getLogger(__name__)

# Fonts with Chinese glyphs found on common Linux installs (Debian's fonts-noto-cjk first).
CJK_FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)

FontType = ImageFont.FreeTypeFont | ImageFont.ImageFont


def find_cjk_font(configured: str | None = None) -> str | None:
    """The font file to draw Chinese labels with: the configured one, else a known install."""
    if configured:
        return configured
    for candidate in CJK_FONT_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    return None


@lru_cache(maxsize=16)
def load_font(path: str | None, size: int) -> FontType:
    """Load a font; without a CJK font, Pillow's default (Chinese shows as boxes, logged once)."""
    if path:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            logger.warning("cannot load label font %s", path)
    logger.warning("no CJK font found: Chinese labels will not render; install fonts-noto-cjk")
    return ImageFont.load_default(size)


def rgb_to_yuv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BT.601 limited-range Y, Cb, Cr (what swscale and VP8 use) as float arrays."""
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    y = 16 + 0.257 * r + 0.504 * g + 0.098 * b
    u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128 + 0.439 * r - 0.368 * g - 0.071 * b
    return y, u, v


def half(plane: np.ndarray) -> np.ndarray:
    """Average 2x2 blocks (a plane of even size) for 4:2:0 chroma."""
    h, w = plane.shape[:2]
    return plane.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


class TextOverlay:
    """A piece of text pre-rendered on a translucent strip, blended into YUV 4:2:0 planes."""

    def __init__(self, text: str, font: FontType, width: int, height: int) -> None:
        width, height = width & ~1, height & ~1
        image = Image.new("RGBA", (width, height), (0, 0, 0, 150))
        draw = ImageDraw.Draw(image)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        text_x = max(4, (width - (right - left)) // 2)
        text_y = (height - (bottom - top)) // 2 - top
        draw.text((text_x, text_y), text, font=font, fill=(255, 255, 255, 255))
        rgba = np.asarray(image)
        alpha = rgba[:, :, 3].astype(np.float32) / 255
        y, u, v = rgb_to_yuv(rgba[:, :, :3])
        alpha_c = half(alpha)
        # Premultiplied planes and the weight left for what lies underneath, per plane.
        self._planes = (
            (y * alpha, 1 - alpha),
            (half(u) * alpha_c, 1 - alpha_c),
            (half(v) * alpha_c, 1 - alpha_c),
        )
        self.width = width
        self.height = height

    def blend(self, planes: tuple[np.ndarray, np.ndarray, np.ndarray], x: int, y: int) -> None:
        """Draw onto Y, U, V planes with the strip's top-left corner at (x, y), both even."""
        x, y = x & ~1, y & ~1
        for i, (plane, (pre, keep)) in enumerate(zip(planes, self._planes, strict=True)):
            px, py = (x, y) if i == 0 else (x // 2, y // 2)
            region = plane[py : py + pre.shape[0], px : px + pre.shape[1]]
            h, w = region.shape
            region[:] = (pre[:h, :w] + region * keep[:h, :w]).astype(np.uint8)
