"""Just enough of the VP8 bitstream (RFC 6386) to describe a recording without decoding it."""

from __future__ import annotations

_START_CODE = b"\x9d\x01\x2a"


def is_keyframe(data: bytes) -> bool:
    """Whether `data` is a VP8 key frame (RFC 6386 9.1: bit 0 of the frame tag is 0)."""
    return len(data) >= 10 and not data[0] & 1 and data[3:6] == _START_CODE


def keyframe_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a VP8 key frame, or None when `data` is not one."""
    if not is_keyframe(data):
        return None
    # Bytes 6-9: 14-bit width and height, each with 2 scaling bits on top that we ignore.
    width = int.from_bytes(data[6:8], "little") & 0x3FFF
    height = int.from_bytes(data[8:10], "little") & 0x3FFF
    if width == 0 or height == 0:
        return None
    return width, height
