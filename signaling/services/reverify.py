"""Scheduled re-verification of the archive (定期复核): every copy of every sealed session, primary
and replica, verified again ``reverify_days`` after its last check.

The archive is kept fifteen years; a bit flipped on a disk, a file changed by hand, a replica
disk that died are found only by reading everything again. The sweep takes the sessions whose
every part is sealed, the one whose copy has gone longest without a verification first (never
verified: since it was sealed), and verifies what is due at a pace (``reverify_rate``) that
leaves the disks to recording. A replica that lacks a part, or whose copy could not be made,
is copied again on the way. Results go to ``archive_copies`` and /metrics
(``roomserver_archive_verifications_total``, ``roomserver_archive_oldest_verification_age_seconds``,
``roomserver_archive_copies_failed``).

``active`` is asked before each session: in a cluster, only the node holding the sweep's lease
says yes, and the others leave the archive alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from roomserver.copies import PRIMARY, REPLICA
from signaling.services.copies import ArchiveCopies

logger = logging.getLogger(__name__)

# Between passes; a pass finds what became due since (the interval is days, so this is plenty).
IDLE_S = 600.0
CLOSE_GRACE_S = 10.0


class ArchiveSweep:
    """Verifies the archive's copies again, the longest unchecked first, one session at a time."""

    def __init__(
        self,
        copies: ArchiveCopies,
        *,
        rate_mb_s: float,
        active: Callable[[], bool] = lambda: True,
        idle_s: float = IDLE_S,
    ) -> None:
        self._copies = copies
        self._rate = rate_mb_s
        self._active = active
        self._idle_s = idle_s
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()  # one pass at a time
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def start(self) -> None:
        """Start sweeping (the first pass at once)."""
        if self._task is None and not self._closed:
            self._task = asyncio.create_task(self._run(), name="archive-reverify")

    async def close(self) -> None:
        """Stop sweeping; a verification under way stops at its next chunk. Safe to call twice."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, CLOSE_GRACE_S)

    async def __aenter__(self) -> ArchiveSweep:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def wake(self) -> None:
        """Make a pass now (what is due was changed, e.g. by an operator)."""
        self._wake.set()

    async def run_once(self) -> int:
        """One pass: check every copy that is due; returns the sessions checked."""
        async with self._lock:
            copies = self._copies
            await copies.refresh()
            schedule = copies.schedule
            now = datetime.now(UTC)
            due = []
            for session in copies.sessions.values():
                mine = {
                    location: copies.copies.get((session.session_id, location))
                    for location in schedule.locations()
                }
                locations = [
                    location
                    for location, copy in mine.items()
                    if schedule.due(copy, now, session.parts)
                ]
                if locations:
                    known = {k: v for k, v in mine.items() if v is not None}
                    due.append((schedule.order(known, session.sealed_at), session, locations))
            due.sort(key=lambda item: (item[0], item[1].session_id))
            checked = 0
            for _since, session, locations in due:
                if self._closed or not self._active():
                    break
                try:
                    if PRIMARY in locations:
                        await copies.verify_primary(session.session_id, self._rate)
                    if REPLICA in locations:
                        await copies.replicate(session.session_id, self._rate, if_due=True)
                except Exception:
                    # One archive's fault (unreadable, the database away) must not end the sweep.
                    logger.exception("archive %s: re-verification failed", session.session_id)
                checked += 1
            if due:
                logger.info("re-verification: %d of %d archives checked", checked, len(due))
            return checked

    async def _run(self) -> None:
        while not self._closed:
            try:
                await self.run_once()
            except Exception:
                logger.exception("re-verification pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._idle_s)
            self._wake.clear()
