"""Booking rules: slots in whole quarter hours, seats of the venue, clashes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from roomserver.booking import (
    Booking,
    BookingState,
    Period,
    Slot,
    free_seats,
    quarter_start,
    seats_of,
)
from roomserver.errors import InvalidRequest

BEIJING = timezone(timedelta(hours=8))
MORNING = datetime(2026, 12, 8, 8, 30, tzinfo=BEIJING)


def slot(start_h: float, end_h: float) -> Slot:
    base = datetime(2026, 12, 8, tzinfo=BEIJING)
    return Slot(base + timedelta(hours=start_h), base + timedelta(hours=end_h))


def booking(bid: str, s: Slot, seats: tuple[int, ...], venue: str = "v1", **kw: object) -> Booking:
    return Booking(
        id=bid,
        venue_id=venue,
        slot=s,
        seats=seats,
        purpose="LN-2026-0001 评标",
        booked_by="admin",
        booked_at=MORNING,
        **kw,  # type: ignore[arg-type]
    )


def test_a_slot_claims_whole_quarter_hours_and_is_kept_in_utc() -> None:
    s = Slot(
        datetime(2026, 12, 8, 8, 50, tzinfo=BEIJING), datetime(2026, 12, 8, 11, 10, tzinfo=BEIJING)
    )
    assert s.starts_at.tzinfo == UTC
    quarters = s.quarters()
    assert quarter_start(quarters.start) == datetime(2026, 12, 8, 8, 45, tzinfo=BEIJING)
    assert quarter_start(quarters.stop) == datetime(2026, 12, 8, 11, 15, tzinfo=BEIJING)
    exact = slot(9, 10).quarters()
    assert len(exact) == 4


def test_back_to_back_slots_do_not_overlap_but_shared_quarters_do() -> None:
    assert not slot(8, 9).overlaps(slot(9, 10))
    assert slot(8, 9.1).overlaps(slot(9.2, 10))  # both claim 09:00–09:15
    assert slot(8, 12).overlaps(slot(10, 11))


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (datetime(2026, 12, 8, 9), datetime(2026, 12, 8, 10), "必须带时区"),
        (MORNING, MORNING, "结束时间应晚于开始时间"),
        (MORNING, MORNING + timedelta(days=4), "不能超过 3 天"),
    ],
)
def test_bad_slots_are_refused(start: datetime, end: datetime, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        Slot(start, end)


def test_clashes_need_the_same_venue_a_common_seat_and_a_common_quarter() -> None:
    a = booking("a", slot(8, 12), (1, 2, 3))
    assert a.clashes_with(booking("b", slot(11, 13), (3, 4)))
    assert not a.clashes_with(booking("c", slot(11, 13), (4, 5)))
    assert not a.clashes_with(booking("d", slot(12, 13), (1,)))
    assert not a.clashes_with(booking("e", slot(8, 12), (1,), venue="v2"))
    cancelled = booking("f", slot(8, 12), (1,), state=BookingState.CANCELLED)
    assert not a.clashes_with(cancelled)


def test_claims_are_one_row_per_seat_and_quarter() -> None:
    claims = list(booking("a", slot(9, 10), (2, 1)).claims())
    assert len(claims) == 8 and len(set(claims)) == 8
    assert {seat for _, seat, _ in claims} == {1, 2}


def test_seats_are_the_venues_own_and_every_seat_when_none_are_named() -> None:
    assert seats_of(None, 7) == (1, 2, 3, 4, 5, 6, 7)
    assert seats_of((2, 5), 7) == (2, 5)
    with pytest.raises(InvalidRequest, match="超出该评标室的 7 个机位"):
        seats_of((8,), 7)
    with pytest.raises(InvalidRequest, match="不能为空"):
        booking("a", slot(9, 10), ())
    with pytest.raises(InvalidRequest, match="用途"):
        Booking("a", "v1", slot(9, 10), (1,), " ", "admin", MORNING)


def test_free_seats_leave_out_what_active_bookings_hold() -> None:
    held = [
        booking("a", slot(8, 12), (1, 2)),
        booking("b", slot(13, 17), (3,)),
        booking("c", slot(8, 12), (4,), state=BookingState.CANCELLED),
    ]
    assert free_seats(5, held, slot(9, 10)) == (3, 4, 5)
    assert free_seats(5, held, slot(12, 13)) == (1, 2, 3, 4, 5)


def test_a_period_asked_about_may_be_longer_than_a_booking() -> None:
    week = Period(MORNING, MORNING + timedelta(days=7))
    assert week.overlaps(slot(9, 10))
    with pytest.raises(InvalidRequest, match="不能超过 92 天"):
        Period(MORNING, MORNING + timedelta(days=93))
