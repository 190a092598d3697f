"""The event log as the server writes it: the store first, then the session's archive."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Protocol

from recorder.archive import ArchivedEvent
from roomserver.canonical import canonical_json
from roomserver.errors import InvalidRequest
from roomserver.model import Event
from roomserver.store import SqlStore
from signaling.services.signals import Signals
from signaling.wire import ConnectionLost, WireError

if TYPE_CHECKING:
    from signaling.services.pool import WorkerProcess

logger = logging.getLogger(__name__)


def archived(event: Event) -> ArchivedEvent:
    """The archive's view of a stored event."""
    return ArchivedEvent(
        seq=event.seq,
        at=event.at.isoformat(),
        kind=event.kind,
        actor=event.actor,
        data=event.data,
    )


class ArchiveSink(Protocol):
    """Where a session's events are archived (a SessionArchive, or one in a media worker)."""

    session_id: str
    last_seq: int

    @property
    def sealed(self) -> bool:
        """Whether the part is sealed (takes no more events)."""

    async def record_events(self, events: list[ArchivedEvent]) -> None:
        """Append events in seq order, skipping those already archived."""


class RemoteArchive:
    """The archive part of a room whose media runs in a worker process."""

    def __init__(
        self, worker: WorkerProcess, session_id: str, *, last_seq: int, part: int | None
    ) -> None:
        self.worker = worker
        self.session_id = session_id
        self.last_seq = last_seq
        self.part = part
        self._sealed = False
        self._lock = asyncio.Lock()

    @property
    def sealed(self) -> bool:
        """Whether the worker said the part takes no more events."""
        return self._sealed

    async def record_events(self, events: list[ArchivedEvent]) -> None:
        """Send events to the worker, in order, one batch at a time."""
        async with self._lock:
            batch = [asdict(e) for e in events if e.seq > self.last_seq]
            if not batch:
                return
            for event in batch:
                event["data"] = dict(event["data"])
            answer = await self.worker.request(
                "record_events", {"session_id": self.session_id, "events": batch}
            )
            if answer.get("last_seq") is None:
                self._sealed = True
            else:
                self.last_seq = int(answer["last_seq"])


class EventLog:
    """Appends events to the store and mirrors a session's events into its open archive part."""

    def __init__(self, store: SqlStore, signals: Signals | None = None) -> None:
        self._store = store
        self._archives: dict[str, ArchiveSink] = {}
        # Every stored event is told (the consoles' live activity record).
        self._signals = signals if signals is not None else Signals.silent()

    def attach(self, archive: ArchiveSink) -> None:
        """Mirror events of `archive`'s session into it from now on."""
        self._archives[archive.session_id] = archive

    def detach(self, archive: ArchiveSink) -> None:
        """Stop mirroring into `archive`."""
        if self._archives.get(archive.session_id) is archive:
            del self._archives[archive.session_id]

    async def append(
        self,
        kind: str,
        data: Mapping[str, Any] | None = None,
        *,
        session_id: str | None = None,
        actor: str | None = None,
    ) -> Event:
        """Store an event; a session's event also goes into its archive, in seq order.

        An event that the archive could not write as it is (a value that is not canonical JSON)
        is refused before it is stored, with an ``event_refused`` alarm in its place: a stored
        event that could never be archived would hold up every later one of the session.
        """
        try:
            canonical_json({"kind": kind, "actor": actor, "data": dict(data or {})})
        except (ValueError, TypeError) as exc:
            logger.error("event %s of session %s refused: %s", kind, session_id, exc)
            await self._store.append_event(
                "event_refused",
                {"kind": kind, "reason": "事件数据不是规范 JSON，无法归档"},
                session_id=session_id,
            )
            raise InvalidRequest("请求含有无法归档的数据") from exc
        event = await self._store.append_event(kind, data, session_id=session_id, actor=actor)
        self._signals.event_logged(event)
        archive = self._archives.get(session_id) if session_id else None
        if archive is not None and not archive.sealed:
            try:
                if event.seq == archive.last_seq + 1:
                    # The usual case: nothing is missing before it, no need to ask the store.
                    await archive.record_events([archived(event)])
                else:
                    await self.catch_up(archive)
            except (ConnectionLost, WireError) as exc:
                # The event is stored; the part gets it when the room is reopened after the
                # worker comes back (catch-up from the store).
                logger.warning("event %d not archived yet: %s", event.seq, exc)
            except Exception:
                # Stored, and tried again with the next event (catch-up); the caller's request
                # stands, since the event is in the record.
                logger.exception("event %d of session %s not archived", event.seq, session_id)
        return event

    async def catch_up(self, archive: ArchiveSink) -> None:
        """Write into `archive` every stored event of its session that it does not have yet.

        Pulling from the store (rather than pushing each event) keeps the archive in seq order
        even when events are appended concurrently, and fills in events logged while no part
        was open (e.g. a refused connection before the room started).
        """
        events = await self._store.list_events(archive.session_id, after_seq=archive.last_seq)
        if events:
            await archive.record_events([archived(e) for e in events])
