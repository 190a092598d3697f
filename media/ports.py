"""Small protocols through which media meets the rest of the server."""

from __future__ import annotations

from typing import Protocol

from media.tap import EncodedFrame


class EncodedFrameSink(Protocol):
    """Anything that takes the encoded frames of a track, e.g. a recorder or a forwarder.

    Called on the event loop for every frame: it must return at once (hand heavy work to a thread).
    """

    def on_encoded_frame(self, frame: EncodedFrame) -> None:
        """Take one encoded frame."""


class MediaCounters(Protocol):
    """Where media reports what it received and what it had to drop."""

    def frame_received(self, seat: str, kind: str, size: int) -> None:
        """Count one incoming encoded frame of `size` bytes."""

    def frame_dropped(self, where: str, count: int = 1) -> None:
        """Count frames dropped at `where` (e.g. ``grid``, ``decoder``, ``subscriber``)."""
