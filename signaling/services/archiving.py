"""Wires the archive to the server: one part per live room, recovery of parts left by a crash."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

from recorder.archive import SessionArchive, is_sealed, list_parts
from recorder.config import RecorderConfig
from recorder.export import PACKAGE_KEYS, PACKAGE_TSA
from recorder.keys import KeySource
from recorder.manifest import GapEntry
from recorder.track import Gap
from roomserver.model import Session
from signaling.services.events import EventLog
from signaling.services.signals import Signals
from signaling.tasks import TaskSet

logger = logging.getLogger(__name__)


def package_extras(keys_list: Path, config: RecorderConfig) -> dict[str, bytes]:
    """What an evidence package carries beside the sealed folder: the public key list with
    its validity, and the configured time-stamping authority's certificate."""
    extras = {}
    if keys_list.is_file():
        extras[PACKAGE_KEYS] = keys_list.read_bytes()
    if config.tsa_certificate:
        extras[PACKAGE_TSA] = Path(config.tsa_certificate).read_bytes()
    return extras


# The events that name a part of a session's archive (ArchiveManager, RoomManager).
PART_EVENTS = ("recording_started", "recording_sealed", "recording_interrupted")


def parts_in_record(events: Iterable[tuple[str, Mapping[str, Any]]]) -> tuple[set[int], bool]:
    """From a session's events (kind, data): the parts they name, and whether it ended."""
    parts: set[int] = set()
    ended = False
    for kind, data in events:
        part = data.get("part")
        if kind in PART_EVENTS and isinstance(part, int) and not isinstance(part, bool):
            parts.add(part)
        ended = ended or kind == "session_ended"
    return parts, ended


async def read_record(database_url: str, session_id: str) -> tuple[set[int], bool] | None:
    """What the event table records of a session's archive, read without changing the database
    (no migration, no file made); None when there is no database or it names no such session."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        # Opening a SQLite file that is not there would make one.
        if not url.database or not await asyncio.to_thread(Path(url.database).is_file):
            return None
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT kind, data FROM events WHERE session_id = :s ORDER BY seq"),
                {"s": session_id},
            )
            events = [
                (kind, json.loads(data) if isinstance(data, str) else data) for kind, data in rows
            ]
    except SQLAlchemyError:
        return None
    finally:
        await engine.dispose()
    if not events:
        return None
    return parts_in_record((kind, data if isinstance(data, dict) else {}) for kind, data in events)


def trusted_tsa(config: RecorderConfig) -> list[bytes]:
    """The TSA certificate a seal's time-stamp must be signed with, when one is configured."""
    return [Path(config.tsa_certificate).read_bytes()] if config.tsa_certificate else []


class ArchiveManager:
    """Opens, recovers and seals session archives under the data directory; every part it seals
    is told (``part_sealed``) for the archive's copies."""

    def __init__(
        self,
        root: Path,
        keys: KeySource,
        config: RecorderConfig,
        events: EventLog,
        tasks: TaskSet,
        signals: Signals,
    ) -> None:
        self.root = root
        self._keys = keys
        self._config = config
        self._events = events
        self._tasks = tasks
        self._signals = signals

    async def recover(
        self, sessions: set[str] | None = None, *, reason: str = "server_stopped"
    ) -> list[str]:
        """Seal, as interrupted, every part a crash left open; returns the sessions recovered.

        The playable prefix of each unfinished segment is kept (repaired where needed), the
        lost spans are recorded as gaps and as an event, and the part is sealed so that the
        session, when it goes on, continues in a new part chained to this seal.
        """
        recovered: list[str] = []
        if not self.root.is_dir():
            return recovered
        restarted_at = time.time()
        for session_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            if sessions is not None and session_dir.name not in sessions:
                continue  # other sessions' parts are being recorded right now
            parts = list_parts(session_dir)
            if not parts or is_sealed(parts[-1][1]):
                continue
            archive = self._archive(session_dir.name, None)
            try:
                repairs, removed = await archive.resume_unsealed() or ([], [])
                ends = archive.last_wall_end()
                for track, wall_end in sorted(ends.items()):
                    archive.add_gap(
                        GapEntry(
                            track=track,
                            wall_start=wall_end,
                            wall_end=restarted_at,
                            reason=reason,
                        )
                    )
                self._events.attach(archive)
                await self._events.append(
                    "recording_interrupted",
                    {
                        "part": archive.part,
                        "repaired": [
                            {"file": Path(r.path).name, "frames_kept": r.frames_kept, "ok": r.ok}
                            for r in repairs
                            if r.ok
                        ],
                        "removed_unplayable": removed,
                        "last_recorded": {t: round(w, 3) for t, w in sorted(ends.items())},
                        "restarted_at": round(restarted_at, 3),
                        "reason": reason,
                    },
                    session_id=archive.session_id,
                )
                await archive.seal("interrupted")
                recovered.append(archive.session_id)
                self._signals.part_sealed(archive.session_id)
                logger.warning(
                    "archive %s: part %d recovered after a crash (%d segments repaired)",
                    archive.session_id,
                    archive.part,
                    len(repairs),
                )
            except Exception:
                # A part that cannot be recovered is left as it is, for a person to look at;
                # it must never stop the server from serving the other sessions.
                logger.exception("archive %s: recovery failed", session_dir.name)
            finally:
                self._events.detach(archive)
                await archive.close()
        return recovered

    async def open(self, session: Session) -> SessionArchive:
        """Start a new part for a session whose room is opening."""
        archive = self._archive(session.id, session.project_name)
        await archive.open()
        self._events.attach(archive)
        await self._events.catch_up(archive)
        await self._events.append(
            "recording_started", {"part": archive.part}, session_id=session.id
        )
        return archive

    async def seal(self, archive: SessionArchive, state: str) -> None:
        """Finish and seal a part, then stop mirroring events into it."""
        if archive.sealed:
            return
        await self._events.append(
            "recording_sealed",
            {"part": archive.part, "state": state},
            session_id=archive.session_id,
        )
        await self._events.catch_up(archive)
        self._events.detach(archive)
        await archive.seal(state)
        await archive.close()
        self._signals.part_sealed(archive.session_id)

    def _archive(self, session_id: str, project: str | None) -> SessionArchive:
        def on_gap(gap: Gap) -> None:
            self._tasks.spawn(
                self._events.append(
                    "recording_gap",
                    {
                        "track": gap.track,
                        "from": round(gap.wall_start, 3),
                        "to": round(gap.wall_end, 3),
                        "reason": gap.reason,
                    },
                    session_id=session_id,
                ),
                name=f"gap-event-{session_id}",
            )

        return SessionArchive(
            self.root,
            session_id,
            keys=self._keys,
            config=self._config,
            project=project,
            on_gap=on_gap,
        )
