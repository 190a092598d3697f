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


class TextOverlay:
    """A piece of text pre-rendered on a translucent strip, blended into RGB frames."""

    def __init__(self, text: str, font: FontType, width: int, height: int) -> None:
        image = Image.new("RGBA", (width, height), (0, 0, 0, 150))
        draw = ImageDraw.Draw(image)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        x = max(4, (width - (right - left)) // 2)
        y = (height - (bottom - top)) // 2 - top
        draw.text((x, y), text, font=font, fill=(255, 255, 255, 255))
        rgba = np.asarray(image, dtype=np.uint16)
        self.alpha = rgba[:, :, 3:4]
        self.premultiplied = rgba[:, :, :3] * self.alpha
        self.width = width
        self.height = height

    def blend(self, canvas: np.ndarray, x: int, y: int) -> None:
        """Draw onto `canvas` (HxWx3 uint8) with the strip's top-left corner at (x, y)."""
        region = canvas[y : y + self.height, x : x + self.width]
        h, w = region.shape[:2]
        alpha = self.alpha[:h, :w]
        mixed = (self.premultiplied[:h, :w] + region.astype(np.uint16) * (255 - alpha)) // 255
        region[:] = mixed.astype(np.uint8)
