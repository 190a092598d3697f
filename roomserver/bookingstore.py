"""Bookings in the database: each active booking's claims are rows under a unique key.

``roomserver.booking`` says what a booking is; this is where two concurrent requests for the
same seat meet. A booking is inserted with its claims in one transaction; the primary key of
``booking_claims`` (venue, seat, quarter hour) lets only one of two overlapping bookings commit,
whatever the engine and however many server processes ask. The loser's transaction is rolled
back whole and answered with the bookings it clashed with.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from roomserver.booking import Booking, BookingState, Slot, free_seats, quarter_start
from roomserver.errors import BookingConflict, InvalidRequest, NotFound
from roomserver.model import Venue
from roomserver.tables import BookingClaimRow, BookingRow, VenueRow


def _booking(row: BookingRow) -> Booking:
    return Booking(
        id=row.id,
        venue_id=row.venue_id,
        slot=Slot(row.starts_at, row.ends_at),
        seats=tuple(row.seats),
        purpose=row.purpose,
        booked_by=row.booked_by,
        booked_at=row.booked_at,
        lot_id=row.lot_id,
        session_id=row.session_id,
        state=BookingState(row.state),
        cancelled_by=row.cancelled_by,
        cancelled_at=row.cancelled_at,
        reason=row.reason,
    )


def _row(b: Booking) -> BookingRow:
    return BookingRow(
        id=b.id,
        venue_id=b.venue_id,
        starts_at=b.slot.starts_at,
        ends_at=b.slot.ends_at,
        seats=list(b.seats),
        purpose=b.purpose,
        lot_id=b.lot_id,
        session_id=b.session_id,
        state=b.state.value,
        booked_by=b.booked_by,
        booked_at=b.booked_at,
        cancelled_by=b.cancelled_by,
        cancelled_at=b.cancelled_at,
        reason=b.reason,
    )


def _claims(b: Booking) -> list[BookingClaimRow]:
    return [
        BookingClaimRow(venue_id=venue, seat_no=seat, quarter=quarter, booking_id=b.id)
        for venue, seat, quarter in b.claims()
    ]


def _conflict_message(clashing: Sequence[Booking]) -> str:
    if not clashing:
        return BookingConflict.default_message
    first = clashing[0]
    return (
        f"所选机位在该时段已被预约（{first.purpose}，"
        f"机位 {'、'.join(str(s) for s in first.seats)}）"
    )


class BookingStore:
    """Bookings of venues and seats; every change is one transaction."""

    def __init__(self, db: Callable[[], AsyncSession]) -> None:
        self._db = db

    async def book(self, booking: Booking) -> Booking:
        """Store an active booking with its claims; BookingConflict if a seat is taken."""
        if booking.state != BookingState.ACTIVE:
            raise InvalidRequest("只能新建有效的预约")
        async with self._db() as db:
            await self._check_seats(db, booking)
            db.add(_row(booking))
            await db.flush()  # the booking row first: the claims refer to it
            db.add_all(_claims(booking))
            try:
                await db.commit()
            except IntegrityError as exc:
                await db.rollback()
                clashing = await self.clashing(booking)
                raise BookingConflict(_conflict_message(clashing)) from exc
        return booking

    async def cancel(self, booking_id: str, *, by: str, at: datetime, reason: str) -> Booking:
        """Cancel an active booking and give its seats back; the record stays."""
        async with self._db() as db:
            row = await db.get(BookingRow, booking_id, with_for_update=True)
            if row is None:
                raise NotFound("未找到该预约")
            if row.state != BookingState.ACTIVE:
                raise InvalidRequest("该预约已取消")
            await db.execute(delete(BookingClaimRow).where(BookingClaimRow.booking_id == row.id))
            row.state = BookingState.CANCELLED.value
            row.cancelled_by, row.cancelled_at, row.reason = by, at, reason
            await db.commit()
            return _booking(row)

    async def change(
        self, booking_id: str, replacement: Booking, *, by: str, at: datetime
    ) -> Booking:
        """Cancel a booking and store `replacement` in one transaction: if the new slot or seats
        are taken, nothing changes (BookingConflict)."""
        async with self._db() as db:
            row = await db.get(BookingRow, booking_id, with_for_update=True)
            if row is None:
                raise NotFound("未找到该预约")
            if row.state != BookingState.ACTIVE:
                raise InvalidRequest("该预约已取消，不能再变更")
            if replacement.venue_id != row.venue_id:
                raise InvalidRequest("变更预约不能更换评标室，请取消后重新预约")
            await self._check_seats(db, replacement)
            await db.execute(delete(BookingClaimRow).where(BookingClaimRow.booking_id == row.id))
            row.state = BookingState.CANCELLED.value
            row.cancelled_by, row.cancelled_at = by, at
            row.reason = f"变更为预约 {replacement.id}"
            db.add(_row(replacement))
            await db.flush()
            db.add_all(_claims(replacement))
            try:
                await db.commit()
            except IntegrityError as exc:
                await db.rollback()
                clashing = [b for b in await self.clashing(replacement) if b.id != booking_id]
                raise BookingConflict(_conflict_message(clashing)) from exc
        return replacement

    async def attach(self, booking_ids: Sequence[str], session_id: str) -> None:
        """Mark bookings as the session's (the session was opened on them)."""
        async with self._db() as db:
            await db.execute(
                update(BookingRow)
                .where(BookingRow.id.in_(list(booking_ids)))
                .values(session_id=session_id)
            )
            await db.commit()

    async def get(self, booking_id: str) -> Booking:
        """One booking; NotFound if there is none."""
        async with self._db() as db:
            row = await db.get(BookingRow, booking_id)
            if row is None:
                raise NotFound("未找到该预约")
            return _booking(row)

    async def find(
        self,
        *,
        venue_id: str | None = None,
        session_id: str | None = None,
        during: Slot | None = None,
        active_only: bool = False,
    ) -> list[Booking]:
        """Bookings by start time, optionally of one venue or session, or overlapping a slot."""
        query = select(BookingRow).order_by(BookingRow.starts_at, BookingRow.id)
        if venue_id is not None:
            query = query.where(BookingRow.venue_id == venue_id)
        if session_id is not None:
            query = query.where(BookingRow.session_id == session_id)
        if active_only:
            query = query.where(BookingRow.state == BookingState.ACTIVE.value)
        if during is not None:
            quarters = during.quarters()
            query = query.where(
                BookingRow.starts_at < quarter_start(quarters.stop),
                BookingRow.ends_at > quarter_start(quarters.start),
            )
        async with self._db() as db:
            rows = (await db.scalars(query)).all()
        found = [_booking(r) for r in rows]
        return [b for b in found if during is None or b.slot.overlaps(during)]

    async def clashing(self, booking: Booking) -> list[Booking]:
        """The active bookings that hold a seat of `booking` in one of its quarter hours."""
        held = await self.find(venue_id=booking.venue_id, during=booking.slot, active_only=True)
        return [b for b in held if b.id != booking.id and set(b.seats) & set(booking.seats)]

    async def vacancy(self, venues: Sequence[Venue], slot: Slot) -> dict[str, tuple[int, ...]]:
        """Each venue's seats that are free during `slot`."""
        held = await self.find(during=slot, active_only=True)
        return {
            v.id: free_seats(v.seat_count, [b for b in held if b.venue_id == v.id], slot)
            for v in venues
        }

    @staticmethod
    async def _check_seats(db: AsyncSession, booking: Booking) -> None:
        venue = await db.get(VenueRow, booking.venue_id)
        if venue is None:
            raise NotFound("未找到该评标室")
        outside = [s for s in booking.seats if not 1 <= s <= venue.seat_count]
        if outside:
            raise InvalidRequest(f"机位号 {outside[0]} 超出该评标室的 {venue.seat_count} 个机位")
