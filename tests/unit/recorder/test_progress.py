"""The CLI progress bar: drawn for a person at a terminal, silent in logs and pipes."""

from __future__ import annotations

import io

from recorder.progress import ProgressBar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_silent_when_the_stream_is_not_a_terminal() -> None:
    stream = io.StringIO()
    bar = ProgressBar(10_000_000, "verify", stream=stream)
    bar.update(5_000_000)
    bar.close()
    assert stream.getvalue() == ""


def test_draws_percent_megabytes_and_rate_throttled() -> None:
    stream = Terminal()
    bar = ProgressBar(10_000_000, "verify", stream=stream)
    for done in range(0, 10_000_000, 100_000):
        bar.update(done)
    drawn = stream.getvalue().count("\r")
    assert 1 <= drawn <= 3  # a fast loop draws about once per 0.1 s, not 100 times
    bar.update(10_000_000)
    bar.close()
    bar.close()
    last = stream.getvalue().rstrip("\n").split("\r")[-1]
    assert last.startswith("verify [")
    assert "100.0%" in last and "10.0/10.0 MB" in last and "MB/s" in last
    assert stream.getvalue().endswith("\n") and stream.getvalue().count("\n") == 1


def test_a_zero_total_does_not_divide_by_zero() -> None:
    stream = Terminal()
    with ProgressBar(0, "empty", stream=stream) as bar:
        bar.update(0)
    assert "100.0%" in stream.getvalue()
