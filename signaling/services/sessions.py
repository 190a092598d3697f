"""Ending a session: the host's end instruction, the REST call and the CLI all come here."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from recorder.archive import list_parts
from roomserver.errors import SessionEnded
from roomserver.model import Session, SessionState
from signaling.services.archiving import ArchiveManager
from signaling.services.events import EventLog
from signaling.services.rooms import RoomManager

if TYPE_CHECKING:
    from roomserver.store import SqlStore
    from signaling.services.monitoring import WarningCenter
    from signaling.sockets.seat import SeatNamespace

logger = logging.getLogger(__name__)


async def end_session(
    session_id: str,
    *,
    actor: str,
    store: SqlStore,
    events: EventLog,
    rooms: RoomManager | None,
    archives: ArchiveManager,
    seats: SeatNamespace | None,
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
        if seats is not None:
            await seats.end_room(room, notice)
        await rooms.close_room(room)
    elif list_parts(archives.root / session_id):
        # No live room: the last part was sealed as interrupted. A short final part carries
        # the end instruction and is sealed as ended, so the archive says how it finished.
        archive = await archives.open(session)
        await archives.seal(archive, "ended")
    logger.info("session %s ended by %s", session_id, actor)
    return session
