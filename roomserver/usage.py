"""The scheduled push of venue usage (5.5.3): every day at a set Beijing time, what every venue
is booked for in the days ahead, as one ``venue_usage_scheduled`` event (topic ``venue_usage``,
with the bookings made, changed and cancelled as they happen)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta, timezone
from typing import Any

from roomserver.booking import Booking, BookingState
from roomserver.errors import InvalidRequest

BEIJING = timezone(timedelta(hours=8))


def parse_clock(text: str) -> time | None:
    """A Beijing wall-clock time ``HH:MM``; empty: no scheduled push."""
    if not text.strip():
        return None
    try:
        hours, minutes = (int(part) for part in text.strip().split(":"))
        return time(hours, minutes)
    except ValueError as exc:
        raise InvalidRequest("推送时间应为 HH:MM（北京时间）") from exc


def next_run(now: datetime, at: time) -> datetime:
    """The first moment after `now` when Beijing's clock reads `at`."""
    local = now.astimezone(BEIJING)
    today = datetime.combine(local.date(), at, tzinfo=BEIJING)
    run = today if today > local else today + timedelta(days=1)
    return run.astimezone(UTC)


def usage_data(bookings: Iterable[Booking], start: datetime, days: int) -> dict[str, Any]:
    """The push: the active bookings overlapping [start, start + days), by venue and time."""
    end = start + timedelta(days=days)
    held = sorted(
        (
            b
            for b in bookings
            if b.state == BookingState.ACTIVE and b.slot.starts_at < end and b.slot.ends_at > start
        ),
        key=lambda b: (b.venue_id, b.slot.starts_at, b.id),
    )
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "bookings": [
            {
                "id": b.id,
                "venue": b.venue_id,
                "starts_at": b.slot.starts_at.isoformat(),
                "ends_at": b.slot.ends_at.isoformat(),
                "seats": list(b.seats),
                "purpose": b.purpose,
                "lot": b.lot_id,
                "session": b.session_id,
            }
            for b in held
        ],
    }
