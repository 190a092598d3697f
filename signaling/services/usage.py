"""The daily push of venue usage (5.5.3): at a set Beijing time, the bookings of the days ahead
as one ``venue_usage_scheduled`` event, which the webhooks send to the ``venue_usage`` topic."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, time, timedelta

from roomserver.booking import Period
from roomserver.store import SqlStore
from roomserver.usage import BEIJING, next_run, usage_data
from signaling.services.events import EventLog

logger = logging.getLogger(__name__)


class UsagePush:
    """Sleeps until the next push time, pushes, and again; nothing when no time is set."""

    def __init__(self, store: SqlStore, events: EventLog, at: time | None, days: int) -> None:
        self._store = store
        self._events = events
        self._at = at
        self._days = days
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the daily timer."""
        if self._at is not None and self._task is None:
            self._task = asyncio.create_task(self._run(), name="usage-push")

    async def close(self) -> None:
        """Stop the timer; safe to call twice."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def push(self, now: datetime) -> None:
        """Push the bookings from the start of `now`'s Beijing day for the configured days."""
        local = now.astimezone(BEIJING)
        start = datetime.combine(local.date(), time(0), tzinfo=BEIJING)
        period = Period(start, start + timedelta(days=self._days))
        bookings = await self._store.bookings.find(during=period, active_only=True)
        await self._events.append("venue_usage_scheduled", usage_data(bookings, start, self._days))

    async def _run(self) -> None:
        assert self._at is not None
        while True:
            now = datetime.now(UTC)
            # A timer, not a poll: nothing else tells when the clock reaches the push time.
            await asyncio.sleep((next_run(now, self._at) - now).total_seconds())
            try:
                await self.push(datetime.now(UTC))
            except Exception:
                logger.exception("the scheduled venue usage push failed; next one tomorrow")
