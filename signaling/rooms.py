"""Live rooms: one per evaluation session with seats online, holding the room's media."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import av

from media.config import MediaConfig
from media.grid import TileSpec
from media.mixencoder import packet_frame
from media.room import RoomMedia
from recorder.archive import SessionArchive
from roomserver.model import Session, Venue
from roomserver.rules import RosterSeat, roster_seats
from roomserver.store import SqlStore
from signaling.metrics import RoomSample

if TYPE_CHECKING:
    from signaling.archiving import ArchiveManager
    from signaling.peer import PeerSession

logger = logging.getLogger(__name__)

# A room whose last seat left keeps its media this long, so that a seat that reconnects
# (a network blip, a page reload) finds the room as it was.
EMPTY_ROOM_GRACE_S = 30.0


def seat_key(venue_id: str, seat_no: int) -> str:
    """The key of a seat within a session: ``venue_id:seat_no``."""
    return f"{venue_id}:{seat_no}"


@dataclass
class SeatState:
    """A seat that is connected now."""

    key: str
    sid: str
    participant_id: str
    connected_at: float = field(default_factory=time.time)
    peer: PeerSession | None = None


class Room:
    """The live state of one session: its roster, who is online, and the room's media."""

    def __init__(
        self,
        session: Session,
        venues: dict[str, Venue],
        roster: list[RosterSeat],
        media: RoomMedia,
        archive: SessionArchive | None = None,
    ) -> None:
        self.session = session
        self.venues = venues
        self.roster = roster
        self.media = media
        self.archive = archive
        self.ended = False
        self.seats: dict[str, SeatState] = {}
        media.set_tiles([TileSpec(seat_key(s.venue_id, s.seat_no), s.label) for s in roster])

    @property
    def id(self) -> str:
        """The session id."""
        return self.session.id

    def roster_seat(self, key: str) -> RosterSeat | None:
        """The roster entry of seat `key`."""
        return next((s for s in self.roster if seat_key(s.venue_id, s.seat_no) == key), None)

    def seat_label(self, key: str) -> str:
        """The Chinese label of a seat (its key when it is not on the roster)."""
        seat = self.roster_seat(key)
        return seat.label if seat is not None else key

    def roster_payload(self) -> dict[str, Any]:
        """The ``roster`` event: every seat of the session in grid tile order."""
        seats = []
        for s in self.roster:
            key = seat_key(s.venue_id, s.seat_no)
            state = self.seats.get(key)
            tracks = sorted(state.peer.tracks) if state and state.peer else []
            seats.append(
                {
                    "key": key,
                    "venue_id": s.venue_id,
                    "venue_name": s.venue_name,
                    "venue_kind": str(s.venue_kind),
                    "seat_no": s.seat_no,
                    "label": s.label,
                    "expert_name": s.expert_name,
                    "online": state is not None,
                    "tracks": tracks,
                }
            )
        return {"session_id": self.session.id, "seats": seats}

    def sample(self) -> RoomSample:
        """Figures for /metrics."""
        stats = self.media.grid.stats
        return RoomSample(
            session=self.session.id,
            seats_online=len(self.seats),
            grid_fps=stats.fps,
            grid_subscribers=self.media.grid.subscribers,
            grid_frames_skipped=stats.frames_skipped,
        )


async def roster_offline(store: SqlStore, session_id: str) -> dict[str, Any]:
    """The roster of a session without a live room: everyone offline."""
    session = await store.get_session(session_id)
    venues = {vid: await store.get_venue(vid) for vid in session.venue_ids()}
    roster = roster_seats(session, venues, await store.list_participants(session_id))
    return {
        "session_id": session_id,
        "seats": [
            {
                "key": seat_key(s.venue_id, s.seat_no),
                "venue_id": s.venue_id,
                "venue_name": s.venue_name,
                "venue_kind": str(s.venue_kind),
                "seat_no": s.seat_no,
                "label": s.label,
                "expert_name": s.expert_name,
                "online": False,
                "tracks": [],
            }
            for s in roster
        ],
    }


class RoomManager:
    """Creates rooms on first use, closes them when they stay empty."""

    def __init__(
        self, store: SqlStore, media_config: MediaConfig, archives: ArchiveManager | None = None
    ) -> None:
        self._store = store
        self._media_config = media_config
        self._archives = archives
        self._rooms: dict[str, Room] = {}
        self._lock = asyncio.Lock()
        self._reapers: dict[str, asyncio.Task[None]] = {}
        self._closed = False
        self.on_room_closed: Callable[[Room], None] | None = None

    def __iter__(self) -> Iterator[Room]:
        return iter(list(self._rooms.values()))

    def find(self, session_id: str) -> Room | None:
        """The live room of `session_id`, if any."""
        return self._rooms.get(session_id)

    async def get(self, session_id: str) -> Room:
        """The room of `session_id`, started if it was not live."""
        async with self._lock:
            if self._closed:
                raise RuntimeError("room manager is closed")
            await self._cancel_reaper(session_id)
            room = self._rooms.get(session_id)
            if room is None:
                room = await self._open(session_id)
                self._rooms[session_id] = room
            return room

    def release(self, room: Room) -> None:
        """Called when a seat leaves: an empty room is closed after a grace period."""
        if room.seats or room.id in self._reapers or self._closed:
            return
        self._reapers[room.id] = asyncio.create_task(
            self._reap_later(room), name=f"room-reaper-{room.id}"
        )

    async def close_room(self, room: Room) -> None:
        """Close one room now (its session ended)."""
        async with self._lock:
            await self._cancel_reaper(room.id)
            if self._rooms.get(room.id) is room:
                await self._close_room(room)

    async def close(self) -> None:
        """Close every room; safe to call twice."""
        self._closed = True
        for session_id in list(self._reapers):
            await self._cancel_reaper(session_id)
        for room in list(self._rooms.values()):
            await self._close_room(room)

    async def _open(self, session_id: str) -> Room:
        session = await self._store.get_session(session_id)
        venues = {vid: await self._store.get_venue(vid) for vid in session.venue_ids()}
        participants = await self._store.list_participants(session_id)
        roster = roster_seats(session, venues, participants)
        media = RoomMedia(self._media_config, name=session.project_code)
        await media.start()
        archive = await self._start_archive(session, media) if self._archives else None
        logger.info(
            "room %s (%s) opened with %d seats", session_id, session.project_code, len(roster)
        )
        return Room(session, venues, roster, media, archive)

    async def _start_archive(self, session: Session, media: RoomMedia) -> SessionArchive:
        """Record the room grid and the full mix from the packets the server already encodes."""
        assert self._archives is not None
        archive = await self._archives.open(session)
        grid = await archive.add_track(
            "room-grid",
            kind="video",
            codec="VP8",
            clock_rate=90_000,
            label="评标室画面",
            request_keyframe=media.grid.request_keyframe,
        )
        started = False

        def record_grid(packet: av.Packet, keyframe: bool) -> None:
            # The recording starts at the keyframe the recorder asked for: the delta frames
            # encoded before it would only be dropped (and reported as a gap).
            nonlocal started
            started = started or keyframe
            if started:
                grid.push(packet_frame(packet, kind="video", codec="VP8", clock_rate=90_000))

        media.grid.add_listener(record_grid)
        mix = await archive.add_track(
            "room-mix",
            kind="audio",
            codec="opus",
            clock_rate=48_000,
            label="评标室声音",
            request_keyframe=None,
        )
        media.mix.add_listener(mix.push)
        return archive

    async def _close_room(self, room: Room) -> None:
        self._rooms.pop(room.id, None)
        for state in list(room.seats.values()):
            if state.peer is not None:
                await state.peer.close()
        room.seats.clear()
        await room.media.close()
        if room.archive is not None and self._archives is not None:
            await self._archives.seal(room.archive, "ended" if room.ended else "interrupted")
        if self.on_room_closed is not None:
            self.on_room_closed(room)
        logger.info("room %s closed", room.id)

    async def _reap_later(self, room: Room) -> None:
        await asyncio.sleep(EMPTY_ROOM_GRACE_S)
        async with self._lock:
            self._reapers.pop(room.id, None)
            if not room.seats and self._rooms.get(room.id) is room:
                await self._close_room(room)

    async def _cancel_reaper(self, session_id: str) -> None:
        task = self._reapers.pop(session_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
