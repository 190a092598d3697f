"""A small progress bar on stderr for long CLI commands (hashing hours of video)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

MB = 1_000_000
WIDTH = 30


class ProgressBar:
    """Percent, MB done/total and MB/s on one line; silent when the stream is not a terminal."""

    def __init__(self, total: int, label: str, stream: TextIO = sys.stderr) -> None:
        """A bar for `total` bytes, prefixed by `label`."""
        self.total = max(total, 0)
        self.label = label
        self.stream = stream
        # Logs and pipes get no carriage-return noise; only a person watching needs the bar.
        self.enabled = bool(getattr(stream, "isatty", lambda: False)())
        self._started = time.monotonic()
        self._last_draw = 0.0
        self._done = 0
        self._closed = False

    def update(self, done: int) -> None:
        """Set the bytes done so far; redraws at most about 10 times a second."""
        self._done = done
        if not self.enabled or self._closed:
            return
        now = time.monotonic()
        if now - self._last_draw < 0.1 and done < self.total:
            return
        self._last_draw = now
        self._draw(now)

    def _draw(self, now: float) -> None:
        fraction = min(self._done / self.total, 1.0) if self.total else 1.0
        filled = int(fraction * WIDTH)
        elapsed = max(now - self._started, 1e-6)
        rate = self._done / MB / elapsed
        line = (
            f"\r{self.label} [{'#' * filled}{'.' * (WIDTH - filled)}] {fraction * 100:5.1f}% "
            f"{self._done / MB:,.1f}/{self.total / MB:,.1f} MB {rate:,.1f} MB/s"
        )
        self.stream.write(line)
        self.stream.flush()

    def close(self) -> None:
        """Draw the final state and end the line; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
