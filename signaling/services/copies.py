"""The archive's copies (存档副本): every sealed part copied to the replica and verified there, and
every check of a copy, primary or replica, stored (``archive_copies``) and counted (/metrics).

Nothing here is in the recording path. A sealed part (the ``part_sealed`` signal, sent by the
archive manager, the rooms and the halls once the seal is finished) only puts its session in
a queue; the copy runs later in a thread of its own, at a pace (``replica_rate``), one at a time.
A copy that fails (the replica unmounted, full, read-only) is logged, counted, stored as such,
and tried again ``replica_retry`` seconds later; nothing is raised to whoever sealed the part.
At start, every session with a finished part missing from the replica is queued, so that parts
sealed while the server was down (a media worker's own seal at SIGTERM, ``session end`` from the
command line) are copied too. The primary archive is only read.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from recorder.archive import list_parts
from recorder.pacing import Pace, Stopped
from recorder.replica import copy_session, finished_parts, missing_parts
from recorder.seal import SEAL_JSON
from recorder.verify import VerifyReport, check_against_record, verify_archive
from roomserver.copies import (
    COPY_FAILED,
    FAILED,
    PRIMARY,
    REPLICA,
    VERIFIED,
    ArchiveCopy,
    CopyFigures,
    Schedule,
    SealedSession,
    after_check,
    figures,
    shown_state,
)
from roomserver.store import SqlStore
from signaling.metrics import Metrics
from signaling.services.archiving import parts_in_record
from signaling.services.signals import Signals

logger = logging.getLogger(__name__)

CLOSE_GRACE_S = 10.0
T = TypeVar("T")
# A check stores its first few findings; the rest are for `archive verify` to list.
DETAIL_FINDINGS = 3


@dataclass(frozen=True)
class Verification:
    """What the copies need to verify an archive as ``archive verify`` does: the pinned keys
    (read again for each check: a rotation adds keys) and the TSA's certificates."""

    keys: Callable[[], list[bytes]]
    tsa: Callable[[], list[bytes]]


def sealed_sessions(root: Path) -> list[SealedSession]:
    """The sessions under `root` whose every part is finished (none being recorded)."""
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        session = sealed_session(folder)
        if session is not None:
            found.append(session)
    return found


def sealed_session(folder: Path) -> SealedSession | None:
    """A session folder whose parts are all finished; None while one is recorded (or none)."""
    parts = list_parts(folder)
    finished = finished_parts(folder)
    if not parts or len(finished) != len(parts):
        return None
    try:
        sealed = (finished[-1][1] / SEAL_JSON).stat().st_mtime
    except OSError:
        return None
    return SealedSession(folder.name, len(parts), datetime.fromtimestamp(sealed, UTC))


def findings(report: VerifyReport, extra: Iterable[str] = ()) -> str:
    """A check's first findings, for its row and the archive page."""
    found = [*extra, *(f"{d.where}: {d.what}" for d in report.differences)]
    more = len(found) - DETAIL_FINDINGS
    return "; ".join(found[:DETAIL_FINDINGS]) + (f"; … {more} more" if more > 0 else "")


def copies_json(
    copies: Mapping[str, ArchiveCopy], sealed_parts: int, replica: bool
) -> list[dict[str, Any]]:
    """A session's copies for the archive page: the primary, and the replica when there is one
    (or was: a copy made before the replica was given up is still shown)."""
    out = []
    for location in (PRIMARY, REPLICA):
        copy = copies.get(location)
        if location == REPLICA and not replica and copy is None:
            continue
        out.append(
            {
                "location": location,
                "state": shown_state(copy, location, sealed_parts),
                "checked_at": copy.checked_at.isoformat() if copy else None,
                "verified_at": _iso(copy.verified_at) if copy else None,
                "copied_at": _iso(copy.copied_at) if copy else None,
                "parts": copy.parts if copy else 0,
                "detail": copy.detail if copy else "",
            }
        )
    return out


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


class ArchiveCopies:
    """Copies sessions' archives to the replica and keeps every copy's latest check."""

    def __init__(
        self,
        root: Path,
        replica: Path | None,
        schedule: Schedule,
        store: SqlStore,
        metrics: Metrics,
        signals: Signals,
        verification: Verification,
        *,
        replica_rate_mb_s: float = 50.0,
    ) -> None:
        self.root = root
        self.replica = replica
        self.schedule = schedule
        self.replica_rate_mb_s = replica_rate_mb_s
        self._store = store
        self._verification = verification
        self._counters = metrics.watch_archive_copies(self._figures)
        self._queue: dict[str, None] = {}  # sessions to copy, in the order they came
        self._retry: dict[str, float] = {}  # failed copies: when to try again (monotonic)
        self._wake = asyncio.Event()
        self._stop = threading.Event()  # seen by the copy and verification threads
        self._io = asyncio.Lock()  # one copy of the replica at a time
        self._task: asyncio.Task[None] | None = None
        # Copies and verifications, one at a time, in a thread of their own.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="archive-copies")
        self._closed = False
        self.sessions: dict[str, SealedSession] = {}
        self.copies: dict[tuple[str, str], ArchiveCopy] = {}
        self.figures = CopyFigures(0.0, 0)
        signals.part_sealed.connect(self.sealed)

    # -- life -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Read the copies' state; with a replica, start copying what is missing from it."""
        await self.refresh()
        if self.replica is None or self._task is not None:
            return
        await asyncio.to_thread(self._warn_same_disk)
        self._task = asyncio.create_task(self._run(), name="archive-replication")

    async def close(self) -> None:
        """Stop copying (a copy under way stops at its next chunk); safe to call twice."""
        self._closed = True
        self._stop.set()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, CLOSE_GRACE_S)
        # The thread sees the stop at its next chunk; a sweep's check under way ends with it.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.to_thread(self._executor.shutdown), CLOSE_GRACE_S)

    async def __aenter__(self) -> ArchiveCopies:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def sealed(self, session_id: str) -> None:
        """A part of `session_id` was sealed: copy it soon (never here, never blocking)."""
        if self.replica is not None and not self._closed:
            self._queue[session_id] = None
            self._wake.set()

    # -- checks ---------------------------------------------------------------------------------

    async def replicate(
        self,
        session_id: str,
        rate_mb_s: float | None = None,
        *,
        if_due: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> ArchiveCopy | None:
        """Copy what the replica lacks of a session, verify the replica, store the check.

        None when there is no replica, or the work was stopped (the server is stopping); with
        `if_due`, also when another check made it not due while this one waited its turn.
        `progress` is told the bytes of every chunk copied, then of every chunk verified.
        """
        if self.replica is None:
            return None
        rate = self.replica_rate_mb_s if rate_mb_s is None else rate_mb_s
        replica = self.replica
        async with self._io:
            previous = self.copies.get((session_id, REPLICA))
            session = self.sessions.get(session_id)
            parts = session.parts if session is not None else 0
            if if_due and not self.schedule.due(previous, _now(), parts):
                return None
            path = str(replica / session_id)
            try:
                copy = await self._long(
                    copy_session, self.root / session_id, replica, self._pace(rate, progress)
                )
            except Stopped:
                return None
            except OSError as exc:
                logger.error("archive %s: no copy in the replica: %s", session_id, exc)
                self._counters.copied(False, 0)
                failed = after_check(
                    previous, session_id, REPLICA, path, COPY_FAILED, _now(), detail=str(exc)
                )
                await self._record(failed, verified=False)
                self._retry[session_id] = time.monotonic() + self.schedule.retry_s
                return failed
            self._retry.pop(session_id, None)
            if copy.added:
                self._counters.copied(True, copy.bytes)
                logger.info(
                    "archive %s: copied to the replica: %s (%d bytes)",
                    session_id,
                    ", ".join(copy.added),
                    copy.bytes,
                )
            report = await self._verify(Path(path), rate, progress)
            if report is None:
                return None
            extra = [f"{c.where}: {c.what}" for c in copy.conflicts]
            extra += [f"{part}: not in the replica" for part in copy.missing]
            if report.session_id not in (None, session_id):
                extra.append(f"the seals name session {report.session_id}")
            ok = report.ok and not extra
            if not ok:
                logger.error("archive %s: the replica differs: %s", session_id, extra or report)
            checked = after_check(
                previous,
                session_id,
                REPLICA,
                path,
                VERIFIED if ok else FAILED,
                _now(),
                detail=findings(report, extra),
                parts=len(copy.parts) - len(copy.missing),
                size=report.bytes,
                copied=bool(copy.added),
                verified=True,
            )
            await self._record(checked, verified=True)
            return checked

    async def verify_primary(self, session_id: str, rate_mb_s: float) -> ArchiveCopy | None:
        """Verify the session's archive in the primary, held to the event table, and store the
        check; None when stopped, or when a part was opened meanwhile (checked again later)."""
        folder = self.root / session_id
        before = await asyncio.to_thread(list_parts, folder)
        report = await self._verify(folder, rate_mb_s)
        if report is None:
            return None
        events = await self._store.list_events(session_id)
        if events:
            parts, ended = parts_in_record((e.kind, e.data) for e in events)
            await asyncio.to_thread(check_against_record, report, folder, parts, ended)
        if await asyncio.to_thread(list_parts, folder) != before:
            return None
        return await self.primary_verified(session_id, report)

    async def primary_verified(self, session_id: str, report: VerifyReport) -> ArchiveCopy | None:
        """Store a verification of the primary (the sweep's, or a person's from the page); not
        of a session being recorded, whose open part no verification can pass."""
        if await asyncio.to_thread(sealed_session, self.root / session_id) is None:
            return None
        if not report.ok:
            logger.error("archive %s: the primary differs: %s", session_id, findings(report))
        checked = after_check(
            self.copies.get((session_id, PRIMARY)),
            session_id,
            PRIMARY,
            str(self.root / session_id),
            VERIFIED if report.ok else FAILED,
            _now(),
            detail=findings(report),
            parts=report.parts,
            size=report.bytes,
            verified=True,
        )
        await self._record(checked, verified=True)
        return checked

    async def refresh(self) -> None:
        """Read the sealed sessions from the disk and the checks from the store again."""
        sessions = await asyncio.to_thread(sealed_sessions, self.root)
        self.sessions = {s.session_id: s for s in sessions}
        self.copies = {(c.session_id, c.location): c for c in await self._store.copies.all()}
        self._update_figures()

    # -- internals ------------------------------------------------------------------------------

    async def _long(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a copy or a verification (minutes of I/O) in the copies' own thread, never in
        the thread pool the rest of the server shares."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def _pace(self, rate_mb_s: float, progress: Callable[[int], None] | None) -> Pace:
        pace = Pace(rate_mb_s, stop=self._stop)
        if progress is not None:
            pace.then(progress)
        return pace

    async def _verify(
        self, folder: Path, rate_mb_s: float, progress: Callable[[int], None] | None = None
    ) -> VerifyReport | None:
        keys = await asyncio.to_thread(self._verification.keys)
        tsa = await asyncio.to_thread(self._verification.tsa)
        pace = self._pace(rate_mb_s, progress)
        try:
            return await self._long(
                verify_archive, folder, trusted_keys=keys, trusted_tsa=tsa, progress=pace.progress()
            )
        except Stopped:
            return None

    async def _record(self, copy: ArchiveCopy, *, verified: bool) -> None:
        await self._store.copies.save(copy)
        if verified:
            self._counters.verified(copy.location, copy.ok)
        self.copies[(copy.session_id, copy.location)] = copy
        session = await asyncio.to_thread(sealed_session, self.root / copy.session_id)
        if session is not None:
            self.sessions[session.session_id] = session
        self._update_figures()

    def _update_figures(self) -> None:
        self.figures = figures(self.sessions.values(), self.copies, self.schedule, _now())

    def _figures(self) -> tuple[float, int]:
        # Ages grow between checks: read at the scrape, from the latest checks.
        self._update_figures()
        return self.figures.oldest_age_s, self.figures.failed

    async def _run(self) -> None:
        assert self.replica is not None
        for session_id in await asyncio.to_thread(self._missing):
            self._queue.setdefault(session_id, None)
        while not self._closed:
            now = time.monotonic()
            for session_id, when in list(self._retry.items()):
                if when <= now:
                    self._queue.setdefault(session_id, None)
                    del self._retry[session_id]
            if not self._queue:
                timeout = min(self._retry.values(), default=now + 3600) - now
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), max(timeout, 0.1))
                self._wake.clear()
                continue
            session_id = next(iter(self._queue))
            del self._queue[session_id]
            try:
                await self.replicate(session_id)
            except Exception:
                # A database or disk fault with one session must not end the copies of others.
                logger.exception("archive %s: replication failed", session_id)
                self._retry[session_id] = time.monotonic() + self.schedule.retry_s

    def _missing(self) -> list[str]:
        """Sessions with a finished part that the replica lacks (or that cannot be looked at)."""
        assert self.replica is not None
        if not self.root.is_dir():
            return []
        found = []
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir()):
            try:
                if missing_parts(folder, self.replica):
                    found.append(folder.name)
            except OSError:
                found.append(folder.name)
        return found

    def _warn_same_disk(self) -> None:
        assert self.replica is not None
        try:
            same = os.stat(self.replica).st_dev == os.stat(self.root).st_dev
        except OSError:
            return  # not there (yet): each copy says so
        if same:
            logger.warning(
                "the archive's replica %s is on the same file system as the archive %s: it "
                "does not survive the loss of that disk",
                self.replica,
                self.root,
            )


def _now() -> datetime:
    return datetime.now(UTC)
