"""The daily usage push: when it runs (Beijing's clock), what it carries."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from roomserver.booking import Booking, BookingState, Slot
from roomserver.errors import InvalidRequest
from roomserver.usage import BEIJING, next_run, parse_clock, usage_data


def test_the_push_runs_at_the_next_time_beijings_clock_shows() -> None:
    at = time(18, 0)
    before = datetime(2026, 12, 8, 17, 59, tzinfo=BEIJING)
    assert next_run(before, at) == datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
    after = datetime(2026, 12, 8, 18, 0, tzinfo=BEIJING)
    assert next_run(after, at) == datetime(2026, 12, 9, 10, 0, tzinfo=UTC)
    # A machine clock in New York changes nothing.
    new_york = before.astimezone(datetime.now().astimezone().tzinfo)
    assert next_run(new_york, at) == next_run(before, at)


def test_the_clock_setting_is_hh_mm_or_empty() -> None:
    assert parse_clock("06:30") == time(6, 30)
    assert parse_clock("") is None
    with pytest.raises(InvalidRequest, match="HH:MM"):
        parse_clock("6点半")


def test_the_push_carries_the_active_bookings_of_the_days_ahead() -> None:
    day = datetime(2026, 12, 9, tzinfo=BEIJING)

    def booking(bid: str, start_h: int, hours: int, **kw: object) -> Booking:
        s = Slot(day + timedelta(hours=start_h), day + timedelta(hours=start_h + hours))
        return Booking(bid, "v1", s, (1, 2), "评标", "admin", day, **kw)  # type: ignore[arg-type]

    bookings = [
        booking("a", 9, 3),
        booking("b", 24 * 3 + 9, 3),  # after the window
        booking("c", 13, 2, state=BookingState.CANCELLED),
    ]
    data = usage_data(bookings, day, days=2)
    assert [b["id"] for b in data["bookings"]] == ["a"]
    assert data["from"] == "2026-12-09T00:00:00+08:00"
