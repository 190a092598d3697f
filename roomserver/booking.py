"""Venue and seat booking (场地机位预约, 5.4.7, 7.1.2): who holds which seats of which room, when.

A booking holds some seats of one venue (or all of them) for a time slot. Two bookings whose
slots overlap never hold the same seat. The database enforces it, not the code that asks: every
active booking claims one row per seat and quarter hour it covers, and those rows are unique, so
that of two concurrent bookings of the same seat for overlapping slots, on SQLite or PostgreSQL,
exactly one commits (``SqlStore.book``). A slot is therefore counted in whole quarter hours: it
claims from the quarter hour its start falls in to the one its end closes. Cancelling a booking
gives its claims back; changing one is a cancellation and a new booking in one transaction.

Times are aware datetimes, kept in UTC and shown in Beijing time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from roomserver.errors import InvalidRequest

QUARTER = timedelta(minutes=15)
MAX_SLOT = timedelta(days=3)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class BookingState(StrEnum):
    """Whether a booking holds its seats."""

    ACTIVE = "active"
    CANCELLED = "cancelled"


def _aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidRequest(f"{what}必须带时区")
    return value.astimezone(UTC)


@dataclass(frozen=True)
class Slot:
    """A time slot [starts_at, ends_at): at least a quarter hour, at most three days."""

    starts_at: datetime
    ends_at: datetime
    longest: ClassVar[timedelta] = MAX_SLOT
    too_long: ClassVar[str] = "一次预约不能超过 3 天"

    def __post_init__(self) -> None:
        object.__setattr__(self, "starts_at", _aware(self.starts_at, "开始时间"))
        object.__setattr__(self, "ends_at", _aware(self.ends_at, "结束时间"))
        if self.ends_at <= self.starts_at:
            raise InvalidRequest("结束时间应晚于开始时间")
        if self.ends_at - self.starts_at > self.longest:
            raise InvalidRequest(self.too_long)

    def overlaps(self, other: Slot) -> bool:
        """Whether the two slots share a quarter hour (what the claims make exclusive)."""
        mine, theirs = self.quarters(), other.quarters()
        return mine.start < theirs.stop and theirs.start < mine.stop

    def quarters(self) -> range:
        """The quarter hours the slot claims, as numbers since 2000-01-01 UTC."""
        first = (self.starts_at - EPOCH) // QUARTER
        end = self.ends_at - EPOCH
        last = end // QUARTER + (1 if end % QUARTER else 0)
        return range(first, last)


@dataclass(frozen=True)
class Period(Slot):
    """A period asked about (a calendar's week or month): up to 92 days."""

    longest: ClassVar[timedelta] = timedelta(days=92)
    too_long: ClassVar[str] = "查询时段不能超过 92 天"


def quarter_start(number: int) -> datetime:
    """When quarter hour `number` begins."""
    return EPOCH + number * QUARTER


@dataclass(frozen=True)
class Booking:
    """Seats of one venue held for a slot, for a purpose (a lot's evaluation, say)."""

    id: str
    venue_id: str
    slot: Slot
    seats: tuple[int, ...]
    purpose: str
    booked_by: str
    booked_at: datetime
    lot_id: str | None = None
    session_id: str | None = None
    state: BookingState = BookingState.ACTIVE
    cancelled_by: str | None = None
    cancelled_at: datetime | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if not self.seats or len(set(self.seats)) != len(self.seats):
            raise InvalidRequest("预约的机位不能为空，也不能重复")
        if not isinstance(self.purpose, str) or not self.purpose.strip():
            raise InvalidRequest("请说明预约用途")
        object.__setattr__(self, "seats", tuple(sorted(self.seats)))
        object.__setattr__(self, "state", BookingState(self.state))

    def claims(self) -> Iterator[tuple[str, int, int]]:
        """The (venue, seat, quarter hour) rows the booking holds while active."""
        for seat in self.seats:
            for quarter in self.slot.quarters():
                yield self.venue_id, seat, quarter

    def clashes_with(self, other: Booking) -> bool:
        """Whether both are active and hold a common seat of the venue in a common quarter."""
        return (
            self.state == other.state == BookingState.ACTIVE
            and self.venue_id == other.venue_id
            and bool(set(self.seats) & set(other.seats))
            and self.slot.overlaps(other.slot)
        )


def seats_of(requested: tuple[int, ...] | None, seat_count: int) -> tuple[int, ...]:
    """The seats a booking asks for: those named (each 1..seat_count), or every seat."""
    if requested is None:
        return tuple(range(1, seat_count + 1))
    for seat in requested:
        if not 1 <= seat <= seat_count:
            raise InvalidRequest(f"机位号 {seat} 超出该评标室的 {seat_count} 个机位")
    return tuple(requested)


def free_seats(seat_count: int, held: list[Booking], slot: Slot) -> tuple[int, ...]:
    """The seats of a venue that no active booking in `held` holds during `slot`."""
    taken = {
        seat
        for booking in held
        if booking.state == BookingState.ACTIVE and booking.slot.overlaps(slot)
        for seat in booking.seats
    }
    return tuple(seat for seat in range(1, seat_count + 1) if seat not in taken)
