"""The pace of re-verification and copying: on average no faster than asked, stopped at once."""

from __future__ import annotations

import threading
import time

import pytest

from recorder.pacing import MB, Pace, Stopped


class FakeClock:
    """A clock that moves only when slept on (the work itself takes no time here)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.naps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.naps.append(seconds)
        self.now += seconds


def test_work_faster_than_the_pace_is_slowed_to_it() -> None:
    clock = FakeClock()
    pace = Pace(2.0, clock=clock, sleep=clock.sleep)
    for _ in range(100):
        pace(100_000)  # 10 MB in 100 kB chunks, done in no time
    assert pace.done == 10 * MB
    assert clock.now - 100.0 == pytest.approx(5.0, abs=0.06)  # 10 MB at 2 MB/s
    assert pace.slept_s == pytest.approx(5.0, abs=0.06)
    # Short bursts are not slept off one by one.
    assert all(nap > 0.05 for nap in clock.naps)


def test_work_slower_than_the_pace_is_not_slowed() -> None:
    clock = FakeClock()
    pace = Pace(2.0, clock=clock, sleep=clock.sleep)
    for _ in range(10):
        clock.now += 1.0  # each megabyte takes a second of its own: 1 MB/s
        pace(MB)
    assert clock.naps == []


def test_no_limit_never_sleeps_and_a_negative_rate_is_refused() -> None:
    clock = FakeClock()
    pace = Pace(0, clock=clock, sleep=clock.sleep)
    pace(10_000 * MB)
    assert clock.naps == []
    with pytest.raises(ValueError):
        Pace(-1)


def test_a_stop_ends_the_work_even_in_the_middle_of_a_nap() -> None:
    stop = threading.Event()
    pace = Pace(1.0, stop=stop)
    pace(1000)
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    with pytest.raises(Stopped):
        pace(60 * MB)  # a minute ahead of the pace
    assert time.monotonic() - started < 5
    with pytest.raises(Stopped):
        pace(1)


def test_progress_of_a_verification_is_paced_by_its_increments() -> None:
    clock = FakeClock()
    pace = Pace(1.0, clock=clock, sleep=clock.sleep)
    report = pace.progress()
    for done in (MB, 2 * MB, 3 * MB):
        report(done, 3 * MB)
    assert pace.done == 3 * MB
    assert clock.now - 100.0 == pytest.approx(3.0)
