"""Ending a session: the host's end instruction and an administrator's forced end, whether given
at a console, through REST or by the CLI, reach the workflow's end, and the session ends here."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from recorder.archive import list_parts
from roomserver.errors import SessionEnded
from roomserver.model import Session, SessionState
from signaling.services.archiving import ArchiveManager
from signaling.services.events import EventLog
from signaling.services.rooms import RoomManager
from signaling.services.signals import Signals

if TYPE_CHECKING:
    from roomserver.store import SqlStore
    from roomserver.workflow import WorkflowState
    from signaling.services.monitoring import WarningCenter

logger = logging.getLogger(__name__)


async def end_session(
    session_id: str,
    *,
    actor: str,
    store: SqlStore,
    events: EventLog,
    rooms: RoomManager | None,
    archives: ArchiveManager,
    signals: Signals,
    warnings: WarningCenter | None = None,
    notice: str | None = None,
) -> Session:
    """Mark the session ended, send every seat away (with `notice`, when it was not the host's
    end instruction), and seal its archive as ended."""
    session = await store.get_session(session_id)
    if session.state == SessionState.ENDED:
        raise SessionEnded()
    session = await store.set_session_state(session_id, SessionState.ENDED)
    await events.append("session_ended", {"by": actor}, session_id=session_id, actor=actor)
    if warnings is not None:
        await warnings.session_ended(session_id)
    room = rooms.find(session_id) if rooms is not None else None
    if room is not None and rooms is not None:
        room.ended = True
        await signals.room_ending(room, notice)
        await rooms.close_room(room)
    elif list_parts(archives.root / session_id):
        # No live room: the last part was sealed as interrupted. A short final part carries
        # the end instruction and is sealed as ended, so the archive says how it finished.
        archive = await archives.open(session)
        await archives.seal(archive, "ended")
    logger.info("session %s ended by %s", session_id, actor)
    await signals.session_ended(session_id)
    return session


class WorkflowEnd:
    """The workflow's end (the host's instruction, or an administrator's forced end) ends the
    session with it: seats sent away with the reason, warnings closed, the archive sealed.

    Without `rooms` (a command-line tool working on the data directory, no server running) only
    the store and the archive are concerned."""

    def __init__(
        self,
        *,
        store: SqlStore,
        events: EventLog,
        archives: ArchiveManager,
        signals: Signals,
        rooms: RoomManager | None = None,
        warnings: WarningCenter | None = None,
    ) -> None:
        self._store = store
        self._events = events
        self._archives = archives
        self._signals = signals
        self._rooms = rooms
        self._warnings = warnings
        signals.workflow_ended.connect(self.ended)

    async def ended(self, session_id: str, actor: str, state: WorkflowState) -> None:
        """End the session whose workflow `actor` just ended."""
        forced = state.forced_end
        await end_session(
            session_id,
            actor=actor,
            store=self._store,
            events=self._events,
            rooms=self._rooms,
            archives=self._archives,
            signals=self._signals,
            warnings=self._warnings,
            notice=None if forced is None else f"评审结束：管理员已结束本场评标（{forced}）。",
        )
