"""Keeping a long read or copy of the archive to a pace, so that it leaves the disks to recording.

Re-verifying an archive reads every byte of it, and copying it to the replica reads it again and
writes it elsewhere: hours of video each. Run flat out, either would take the disk from the
rooms being recorded at that moment. ``Pace`` is told how many bytes were done and sleeps (in
the thread doing the work) whenever the work is ahead of its rate, and stops it when asked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

MB = 1_000_000
# A pace is kept over the whole run, but a burst no longer than this is not slept off at once:
# sleeping after every 1 MiB chunk would cost more wake-ups than it saves.
SLACK_S = 0.05


class Stopped(Exception):
    """The work was asked to stop (the server is stopping)."""


class Pace:
    """At most `rate_mb_s` megabytes (10^6 bytes) a second on average; 0: no limit.

    Call it with the bytes just done (``pace(n)``) from the thread doing the work. `stop`, once
    set, makes the next call raise ``Stopped``.
    """

    def __init__(
        self,
        rate_mb_s: float,
        *,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        if rate_mb_s < 0:
            raise ValueError("a pace is 0 (no limit) or more megabytes a second")
        self.rate = rate_mb_s * MB
        self.done = 0
        self._stop = stop
        self._clock = clock
        self._sleep = sleep
        self._started = clock()
        self._then: Callable[[int], object] | None = None
        self.slept_s = 0.0

    def then(self, told: Callable[[int], object]) -> None:
        """Tell `told` the bytes of every step too (a progress bar)."""
        self._then = told

    def __call__(self, n: int) -> None:
        """`n` more bytes are done: sleep while ahead of the pace; Stopped when asked to stop."""
        if self._stop is not None and self._stop.is_set():
            raise Stopped()
        self.done += n
        if self._then is not None:
            self._then(n)
        if not self.rate:
            return
        ahead = self.done / self.rate - (self._clock() - self._started)
        if ahead > SLACK_S:
            # Waits on the stop event, so that a stop is seen at once rather than after the nap.
            if self._stop is not None:
                if self._stop.wait(ahead):
                    raise Stopped()
            else:
                self._sleep(ahead)
            self.slept_s += ahead

    def progress(self) -> Callable[[int, int], None]:
        """An adapter for callbacks that report (bytes done so far, total), as verify does."""
        seen = 0

        def report(done: int, _total: int) -> None:
            nonlocal seen
            step, seen = done - seen, done
            self(step)

        return report

    @property
    def elapsed_s(self) -> float:
        """Seconds since the pace started."""
        return self._clock() - self._started
