"""The event log as the server writes it: the store first, then the session's archive."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from recorder.archive import ArchivedEvent
from roomserver.model import Event
from roomserver.store import SqlStore

if TYPE_CHECKING:
    from recorder.archive import SessionArchive

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


class EventLog:
    """Appends events to the store and mirrors a session's events into its open archive part."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self._archives: dict[str, SessionArchive] = {}

    def attach(self, archive: SessionArchive) -> None:
        """Mirror events of `archive`'s session into it from now on."""
        self._archives[archive.session_id] = archive

    def detach(self, archive: SessionArchive) -> None:
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
        """Store an event; a session's event also goes into its archive, in seq order."""
        event = await self._store.append_event(kind, data, session_id=session_id, actor=actor)
        archive = self._archives.get(session_id) if session_id else None
        if archive is not None and not archive.sealed:
            await self.catch_up(archive)
        return event

    async def catch_up(self, archive: SessionArchive) -> None:
        """Write into `archive` every stored event of its session that it does not have yet.

        Pulling from the store (rather than pushing each event) keeps the archive in seq order
        even when events are appended concurrently, and fills in events logged while no part
        was open (e.g. a refused connection before the room started).
        """
        events = await self._store.list_events(archive.session_id, after_seq=archive.last_seq)
        if events:
            await archive.record_events([archived(e) for e in events])
