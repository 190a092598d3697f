"""Bookings in a real database, SQLite and PostgreSQL: of concurrent requests for the same seats
and overlapping times, exactly one is stored, also from two store instances (two server
processes) at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import pytest

from roomserver.booking import Booking, BookingState, Slot
from roomserver.config import StoreConfig
from roomserver.errors import BookingConflict, InvalidRequest, NotFound
from roomserver.model import Centre, Venue, new_id
from roomserver.store import SqlStore

BEIJING = timezone(timedelta(hours=8))
DAY = datetime(2026, 12, 8, tzinfo=BEIJING)
NOW = datetime(2026, 12, 7, 10, tzinfo=BEIJING)


def slot(start_h: float, end_h: float) -> Slot:
    return Slot(DAY + timedelta(hours=start_h), DAY + timedelta(hours=end_h))


def booking(venue: Venue, s: Slot, seats: tuple[int, ...], purpose: str = "评标") -> Booking:
    return Booking(new_id(), venue.id, s, seats, purpose, booked_by="admin", booked_at=NOW)


@pytest.fixture
async def store(store_config: StoreConfig) -> AsyncIterator[SqlStore]:
    async with SqlStore(store_config) as s:
        yield s


async def venue_of(store: SqlStore, seats: int = 8) -> Venue:
    centre = Centre(new_id(), "沈阳市公共资源交易中心", "沈阳")
    await store.add_centre(centre)
    venue = Venue(new_id(), centre.id, "第一评标室", "沈阳", seats)
    await store.add_venue(venue)
    return venue


async def test_a_booking_round_trips_and_its_seats_are_taken(store: SqlStore) -> None:
    venue = await venue_of(store)
    first = await store.bookings.book(booking(venue, slot(8.5, 12), (1, 2, 3), "LN-1 评标"))
    assert await store.bookings.get(first.id) == first
    vacancy = await store.bookings.vacancy([venue], slot(9, 10))
    assert vacancy[venue.id] == (4, 5, 6, 7, 8)
    with pytest.raises(BookingConflict, match="LN-1 评标"):
        await store.bookings.book(booking(venue, slot(11.9, 14), (3, 4)))
    # Other seats, or the same seats after it, are free.
    await store.bookings.book(booking(venue, slot(9, 10), (4, 5)))
    await store.bookings.book(booking(venue, slot(12, 13), (1, 2, 3)))


async def test_cancelling_gives_the_seats_back_and_keeps_the_record(store: SqlStore) -> None:
    venue = await venue_of(store)
    held = await store.bookings.book(booking(venue, slot(8, 12), (1, 2)))
    cancelled = await store.bookings.cancel(held.id, by="admin", at=NOW, reason="项目延期")
    assert cancelled.state == BookingState.CANCELLED and cancelled.reason == "项目延期"
    assert (await store.bookings.get(held.id)).state == BookingState.CANCELLED
    await store.bookings.book(booking(venue, slot(8, 12), (1, 2)))
    with pytest.raises(InvalidRequest, match="已取消"):
        await store.bookings.cancel(held.id, by="admin", at=NOW, reason="again")
    with pytest.raises(NotFound):
        await store.bookings.cancel("nope", by="admin", at=NOW, reason="x")


async def test_a_change_that_would_clash_changes_nothing(store: SqlStore) -> None:
    venue = await venue_of(store)
    mine = await store.bookings.book(booking(venue, slot(8, 10), (1, 2)))
    theirs = await store.bookings.book(booking(venue, slot(10, 12), (2,)))
    with pytest.raises(BookingConflict):
        await store.bookings.change(mine.id, booking(venue, slot(9, 11), (1, 2)), by="a", at=NOW)
    assert (await store.bookings.get(mine.id)).state == BookingState.ACTIVE
    assert (await store.bookings.get(theirs.id)).state == BookingState.ACTIVE
    moved = await store.bookings.change(
        mine.id, booking(venue, slot(9, 11), (1, 3)), by="a", at=NOW
    )
    assert (await store.bookings.get(mine.id)).state == BookingState.CANCELLED
    assert (await store.bookings.get(moved.id)).slot == slot(9, 11)
    assert (await store.bookings.vacancy([venue], slot(8, 9)))[venue.id] == tuple(range(1, 9))


async def test_seats_outside_the_venue_are_refused(store: SqlStore) -> None:
    venue = await venue_of(store, seats=5)
    with pytest.raises(InvalidRequest, match="超出该评标室的 5 个机位"):
        await store.bookings.book(booking(venue, slot(8, 9), (6,)))


async def _race(stores: list[SqlStore], venue: Venue, attempts: int) -> list[object]:
    """`attempts` bookings sharing seat 3 whose slots all hold 10:45–11:00, started together."""
    requests = [
        stores[i % len(stores)].bookings.book(
            booking(venue, slot(8 + i * 0.25, 11 + i * 0.25), (3, i % 5 + 4), f"并发 {i}")
        )
        for i in range(attempts)
    ]
    return await asyncio.gather(*requests, return_exceptions=True)


async def test_of_concurrent_overlapping_bookings_exactly_one_is_stored(store: SqlStore) -> None:
    venue = await venue_of(store, seats=10)
    results = await _race([store], venue, attempts=12)
    stored = [r for r in results if isinstance(r, Booking)]
    refused = [r for r in results if isinstance(r, BookingConflict)]
    assert len(stored) == 1 and len(refused) == 11, results
    held = await store.bookings.find(venue_id=venue.id, active_only=True)
    assert held == stored


async def test_two_store_instances_never_both_book_a_seat(store_config: StoreConfig) -> None:
    async with SqlStore(store_config) as first, SqlStore(store_config) as second:
        venue = await venue_of(first, seats=10)
        for _ in range(5):
            results = await _race([first, second], venue, attempts=8)
            stored = [r for r in results if isinstance(r, Booking)]
            assert len(stored) == 1, results
            assert all(isinstance(r, (Booking, BookingConflict)) for r in results), results
            await first.bookings.cancel(stored[0].id, by="admin", at=NOW, reason="下一轮")


async def test_a_venue_keeps_the_seats_its_bookings_hold(store: SqlStore) -> None:
    venue = await venue_of(store, seats=8)
    held = await store.bookings.book(booking(venue, slot(8, 12), (7, 8)))
    with pytest.raises(InvalidRequest, match="仍有有效预约占用"):
        await store.places.update_venue(venue.id, seat_count=6, now=NOW)
    assert (await store.get_venue(venue.id)).seat_count == 8
    await store.bookings.cancel(held.id, by="admin", at=NOW, reason="改期")
    changed = await store.places.update_venue(venue.id, seat_count=6, now=NOW)
    assert changed.seat_count == 6 == (await store.get_venue(venue.id)).seat_count
