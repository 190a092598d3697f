"""Live rooms: one per evaluation session with seats online; the media runs in a worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from roomserver.model import Participant, Session, Venue
from roomserver.rules import RosterSeat, roster_seats
from roomserver.store import SqlStore
from roomserver.warnings import venue_attendants
from signaling.config import RoomCamera
from signaling.metrics import RoomSample
from signaling.services.events import EventLog, RemoteArchive
from signaling.services.pool import WorkerPool, WorkerProcess
from signaling.services.signals import Signals
from signaling.wire import ConnectionLost, WireError

if TYPE_CHECKING:
    from signaling.services.archiving import ArchiveManager

logger = logging.getLogger(__name__)

# A room whose last seat left keeps its media this long, so that a seat that reconnects
# (a network blip, a page reload) finds the room as it was.
EMPTY_ROOM_GRACE_S = 30.0


def seat_key(venue_id: str, seat_no: int) -> str:
    """The key of a seat within a session: ``venue_id:seat_no``."""
    return f"{venue_id}:{seat_no}"


def _seat_json(s: RosterSeat, *, online: bool, tracks: list[str]) -> dict[str, Any]:
    return {
        "key": seat_key(s.venue_id, s.seat_no),
        "venue_id": s.venue_id,
        "venue_name": s.venue_name,
        "venue_kind": str(s.venue_kind),
        "seat_no": s.seat_no,
        "label": s.label,
        "expert_id": s.expert_id,
        "expert_name": s.expert_name,
        "id_last4": s.id_last4,
        "online": online,
        "tracks": tracks,
    }


@dataclass
class SeatState:
    """A seat that is connected now."""

    key: str
    sid: str
    participant_id: str
    connected_at: float = field(default_factory=time.time)
    tracks: set[str] = field(default_factory=set)
    media_state: str = "new"


@dataclass
class SentWarning:
    """A supervisor's warning to a seat (or every seat), shown there until acknowledged."""

    id: str
    text: str
    seat: str | None  # None: the whole room
    at: float = field(default_factory=time.time)
    acknowledged: set[str] = field(default_factory=set)

    def is_for(self, seat: str) -> bool:
        """Whether the warning is addressed to `seat`."""
        return self.seat is None or self.seat == seat

    def payload(self) -> dict[str, Any]:
        """The ``warning`` event a seat page shows."""
        return {
            "id": self.id,
            "text": self.text,
            "scope": "room" if self.seat is None else "seat",
            "at": datetime.fromtimestamp(self.at, UTC).isoformat(),
        }


class Room:
    """The live state of one session: roster, who is online, and the worker with its media."""

    def __init__(
        self,
        session: Session,
        venues: dict[str, Venue],
        roster: list[RosterSeat],
        worker: WorkerProcess,
    ) -> None:
        self.session = session
        self.venues = venues
        self.roster = roster
        self.worker = worker
        self.archive: RemoteArchive | None = None
        self.ended = False
        self.seats: dict[str, SeatState] = {}
        self.stats: dict[str, Any] = {}
        self.warnings_sent: dict[str, SentWarning] = {}
        # Room cameras of the session's venues: id -> {id, label, state, detail, codec, ...}.
        self.cameras: dict[str, dict[str, Any]] = {}
        # Venue -> its staff, witnesses and host: people a room camera may see besides experts.
        self.attendants: dict[str, int] = {}

    @property
    def id(self) -> str:
        """The session id."""
        return self.session.id

    def roster_seat(self, key: str) -> RosterSeat | None:
        """The roster entry of seat `key`."""
        return next((s for s in self.roster if seat_key(s.venue_id, s.seat_no) == key), None)

    def tiles(self) -> list[dict[str, str]]:
        """The grid's tiles in roster order."""
        return [{"key": seat_key(s.venue_id, s.seat_no), "label": s.label} for s in self.roster]

    def roster_payload(self) -> dict[str, Any]:
        """The ``roster`` event: every seat of the session in grid tile order."""
        seats = []
        for s in self.roster:
            state = self.seats.get(seat_key(s.venue_id, s.seat_no))
            tracks = sorted(state.tracks) if state else []
            seats.append(_seat_json(s, online=state is not None, tracks=tracks))
        return {"session_id": self.session.id, "seats": seats}

    async def media_request(self, method: str, **params: Any) -> Any:
        """Ask the room's worker; a gone worker is reported as a temporary failure."""
        try:
            return await self.worker.request(method, {"session_id": self.id, **params})
        except ConnectionLost as exc:
            raise WireError("media_unavailable", "媒体服务正在恢复，请稍候重试") from exc

    def sample(self) -> RoomSample:
        """Figures for /metrics (from the worker's last report)."""
        return RoomSample(
            worker=self.worker.index,
            seats_online=len(self.seats),
            grid_fps=float(self.stats.get("grid_fps", 0.0)),
            grid_frames_skipped=int(self.stats.get("grid_frames_skipped", 0)),
            analysis_interval_s=self.stats.get("analysis_interval_s"),
            analysis_samples=int(self.stats.get("analysis_samples", 0)),
        )


async def roster_offline(store: SqlStore, session_id: str) -> dict[str, Any]:
    """The roster of a session without a live room: everyone offline."""
    session = await store.get_session(session_id)
    venues = {vid: await store.get_venue(vid) for vid in session.venue_ids()}
    roster = roster_seats(session, venues, await store.list_participants(session_id))
    return {
        "session_id": session_id,
        "seats": [_seat_json(s, online=False, tracks=[]) for s in roster],
    }


class RoomManager:
    """Opens rooms on the least loaded worker, closes them when they stay empty or end."""

    def __init__(
        self,
        store: SqlStore,
        pool: WorkerPool,
        archives: ArchiveManager,
        events: EventLog,
        signals: Signals,
        cameras: Sequence[RoomCamera] = (),
    ) -> None:
        self._store = store
        self._signals = signals
        self._cameras = tuple(cameras)
        # The sub venue node that pulls a venue's cameras (a cluster's), None: pulled here.
        self.relay_for: Callable[[Venue], str | None] = lambda venue: None
        self._pool = pool
        self._archives = archives
        self._events = events
        self._rooms: dict[str, Room] = {}
        self._opening: dict[str, Room] = {}  # its worker may report on it before it is listed
        self._lock = asyncio.Lock()
        self._reapers: dict[str, asyncio.Task[None]] = {}
        self._closed = False
        self._on_closed: list[Callable[[str], Awaitable[None]]] = []
        signals.worker_lost.connect(self.relocate)

    def on_closed(self, handler: Callable[[str], Awaitable[None]]) -> None:
        """Await `handler` with the session id of every room once it has closed."""
        self._on_closed.append(handler)

    def __iter__(self) -> Iterator[Room]:
        return iter(list(self._rooms.values()))

    def samples(self) -> list[RoomSample]:
        """The live rooms' figures (for /metrics)."""
        return [room.sample() for room in self._rooms.values()]

    def find(self, session_id: str) -> Room | None:
        """The live room of `session_id`, if any."""
        return self._rooms.get(session_id)

    def worker_of(self, session_id: str) -> WorkerProcess | None:
        """The worker of the live room of `session_id`, if any."""
        room = self._rooms.get(session_id)
        return room.worker if room is not None else None

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
                self._changed()
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
        """Close every room (sealing its archive part); safe to call twice."""
        self._closed = True
        for session_id in list(self._reapers):
            await self._cancel_reaper(session_id)
        for room in list(self._rooms.values()):
            await self._close_room(room)

    async def relocate(self, worker: WorkerProcess, lost: set[str]) -> None:
        """A worker died with these rooms: recover their parts, reopen them, tell the seats."""
        async with self._lock:
            moved = [self._rooms[s] for s in lost if s in self._rooms]
            for room in moved:
                if room.archive is not None:
                    self._events.detach(room.archive)
            await self._archives.recover(
                sessions={room.id for room in moved}, reason="media_worker_lost"
            )
            for room in moved:
                room.worker = self._pool.place(self.seats_on)
                await self._start_media(room)
                for state in room.seats.values():
                    state.tracks.clear()
                    state.media_state = "new"
        for room in moved:
            await self._events.append(
                "media_restarted",
                {"worker": worker.index, "part": room.archive.part if room.archive else None},
                session_id=room.id,
            )
            await self._signals.media_restarted(room)

    def seats_on(self, worker: WorkerProcess) -> int:
        """Seats connected to rooms on `worker` (the load that placement balances)."""
        return sum(len(room.seats) for room in self._rooms.values() if room.worker is worker)

    async def refresh_stats(self) -> list[dict[str, Any]]:
        """Ask every worker for its figures (for /metrics); rooms keep theirs."""
        reports = []
        for worker in self._pool.workers:
            try:
                stats = await worker.request("stats", {}, timeout_s=2)
            except (ConnectionLost, WireError, TimeoutError):
                continue
            stats["index"] = worker.index
            reports.append(stats)
            for entry in stats.get("rooms", []):
                room = self._rooms.get(entry["session_id"])
                if room is not None:
                    room.stats = entry
        return reports

    async def refresh_roster(self, room: Room) -> None:
        """Read the room's roster again (experts imported, or one replaced at a seat) and give
        the worker the grid's tiles for it."""
        participants = await self._store.list_participants(room.id)
        room.roster = roster_seats(room.session, room.venues, participants)
        with contextlib.suppress(WireError):  # a worker being replaced gets them at reopening
            await room.media_request("set_tiles", tiles=room.tiles())

    async def _open(self, session_id: str) -> Room:
        session = await self._store.get_session(session_id)
        venues = {vid: await self._store.get_venue(vid) for vid in session.venue_ids()}
        participants = await self._store.list_participants(session_id)
        roster = roster_seats(session, venues, participants)
        # A part left open by a node of the cluster that was lost (on the archive location the
        # nodes share) is recovered and sealed first: the room goes on in a new part after it.
        # Alone, the server recovered every part at its start and finds none here.
        await self._archives.recover({session_id}, reason="node_lost")
        room = Room(session, venues, roster, self._pool.place(self.seats_on))
        room.attendants = {v: venue_attendants(participants, v) for v in session.venue_ids()}
        self._opening[session_id] = room
        try:
            await self._start_media(room)
        finally:
            del self._opening[session_id]
        logger.info(
            "room %s (%s) opened with %d seats on worker %d",
            session_id,
            session.project_code,
            len(roster),
            room.worker.index,
        )
        return room

    async def _start_media(self, room: Room) -> None:
        """Open the room on its worker with a new archive part, and mirror events into it."""
        cameras = self._room_cameras(room)
        room.cameras = {
            c["id"]: {
                "id": c["id"],
                "label": c["label"],
                "state": "connecting",
                "relay": c["relay"],
            }
            for c in cameras
        }
        opened = await room.worker.request(
            "open_room",
            {
                "session_id": room.id,
                "project_code": room.session.project_code,
                "project_name": room.session.project_name,
                "tiles": room.tiles(),
                "cameras": cameras,
            },
        )
        room.worker.rooms.add(room.id)
        room.archive = RemoteArchive(
            room.worker, room.id, last_seq=int(opened["last_seq"]), part=opened["part"]
        )
        self._events.attach(room.archive)
        await self._events.catch_up(room.archive)
        await self._events.append(
            "recording_started",
            {"part": room.archive.part, "worker": room.worker.index},
            session_id=room.id,
        )

    async def identity_picture(self, session_id: str, expert: Participant) -> dict[str, Any] | None:
        """A picture of `expert` from their seat camera, kept as evidence in the session's
        archive (check-in's identity snapshot); None when their seat shows nothing now."""
        room = self.find(session_id)
        if room is None or expert.venue_id is None or expert.seat_no is None:
            return None
        key = seat_key(expert.venue_id, expert.seat_no)
        try:
            answer = await room.media_request(
                "snapshot", seat=key, stem=f"identity-{key}", seat_only=True
            )
        except (WireError, TimeoutError) as exc:
            logger.warning("room %s: no identity picture of %s: %s", session_id, key, exc)
            return None
        evidence = answer.get("evidence") if isinstance(answer, dict) else None
        return evidence if isinstance(evidence, dict) else None

    async def camera_changed(self, params: dict[str, Any]) -> Room | None:
        """A room camera's state from its worker; up, down and invalid are logged as they
        change (``room_camera``): when a room was not watched is part of the record."""
        session_id = str(params.get("session_id"))
        room = self._rooms.get(session_id) or self._opening.get(session_id)
        camera_id = str(params.get("camera"))
        if room is None or camera_id not in room.cameras:
            return None
        entry = room.cameras[camera_id]
        state = str(params.get("state"))
        logged = entry.get("logged")
        entry.update(
            state=state,
            detail=str(params.get("detail") or ""),
            codec=params.get("codec"),
            recorded=bool(params.get("recorded")),
            viewable=bool(params.get("viewable")),
        )
        if state != "connecting" and state != logged:
            entry["logged"] = state
            await self._events.append(
                "room_camera",
                {
                    k: entry.get(k)
                    for k in ("id", "label", "state", "detail", "codec", "recorded", "viewable")
                }
                # Pulled by a sub venue's node, which records it while this node cannot.
                | ({"relay": entry["relay"]} if entry.get("relay") else {}),
                session_id=room.id,
            )
        return room

    def _room_cameras(self, room: Room) -> list[dict[str, Any]]:
        """The room cameras of the session's venues (the venue's own, then any the server's
        configuration adds): id, label, URL and the venue's attendants for the worker."""
        found = []
        for venue_id in room.session.venue_ids():
            venue = room.venues[venue_id]
            place = "主场" if venue_id == room.session.main_venue_id else "副场"
            configured = [c.url for c in self._cameras if c.venue_id == venue_id]
            urls = list(dict.fromkeys([*venue.camera_urls, *configured]))
            relay = self.relay_for(venue) if urls else None
            for number, url in enumerate(urls, start=1):
                found.append(
                    {
                        "id": re.sub(r"[^A-Za-z0-9_-]", "-", f"{venue_id}-{number}")[:60],
                        "label": f"{venue.city}{place} · 监控{number}",
                        "venue_id": venue_id,
                        "url": url,
                        "attendants": room.attendants.get(venue_id, 0),
                        "relay": relay,
                    }
                )
        return found

    async def drain(self, worker: WorkerProcess) -> list[str]:
        """Move every room off `worker` (for maintenance); no new room is placed there.

        Each room's part is sealed as interrupted on the old worker and recording goes on in a
        new part on another; the seats negotiate again, as after a lost worker.
        """
        worker.draining = True
        async with self._lock:
            moving = [room for room in self._rooms.values() if room.worker is worker]
            for room in moving:
                await self._stop_media(room, "interrupted")
                room.worker = self._pool.place(self.seats_on)
                await self._start_media(room)
                for state in room.seats.values():
                    state.tracks.clear()
                    state.media_state = "new"
        for room in moving:
            await self._events.append(
                "media_moved",
                {"from_worker": worker.index, "to_worker": room.worker.index},
                session_id=room.id,
            )
            await self._signals.media_restarted(room)
        return [room.id for room in moving]

    async def _close_room(self, room: Room) -> None:
        self._rooms.pop(room.id, None)
        room.seats.clear()
        state = "ended" if room.ended else "interrupted"
        await self._stop_media(room, state)
        logger.info("room %s closed (%s)", room.id, state)
        await self._signals.room_closed(room)
        self._changed()
        for handler in self._on_closed:
            try:
                await handler(room.id)
            except Exception:
                logger.exception("room %s: after closing", room.id)

    def _changed(self) -> None:
        # The supervision wall shows which rooms are live.
        self._signals.room_changed(None)

    async def _stop_media(self, room: Room, state: str) -> None:
        """Close the room on its worker and seal its part as `state`."""
        if room.archive is not None:
            await self._events.append(
                "recording_sealed",
                {"part": room.archive.part, "state": state},
                session_id=room.id,
            )
            await self._events.catch_up(room.archive)
            self._events.detach(room.archive)
        try:
            await room.worker.request(
                "close_room", {"session_id": room.id, "state": state}, timeout_s=30
            )
            self._signals.part_sealed(room.id)
        except (ConnectionLost, WireError) as exc:
            # The worker is gone: its part is recovered (and sealed) when it is replaced.
            logger.warning("room %s: worker could not close it: %s", room.id, exc)
        room.worker.rooms.discard(room.id)

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
