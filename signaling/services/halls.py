"""The media room of each bid opening's hall (开标大厅), on a media worker.

Every opening that has not ended has a room of its own kind on a worker (``kind: hall``): its
picture is the information screen, drawn and encoded once by the worker from the opening as
the public may see it (``signaling.services.hallscreen``), sent at the room's start and again
after every change of the opening; its seats are the speakers (the host, the bidders, the
tenderer and its agency), keyed by participant, whose microphones make the mix and whose
camera (the host's) is forwarded as it comes. The room is opened when the opening service takes
the opening up (at server start, or with its first bidder), before anybody joins, so that the
broadcast and the archive have the screen from the start; it is closed when the opening ends.

Its archive part is the room's, recorded on the worker like an evaluation room's: the screen
(``hall-screen``), the mix (``room-mix``), each speaker's microphone and the host's camera,
and every event of the session, mirrored from the event log and caught up from the store when
a part opens (nothing logged while no part was open is lost). The part is sealed ``ended``
with the opening and ``interrupted`` when the server stops or the room moves.

The broadcast (``services.broadcasts``) is opened with the room: the host's camera (``camera``,
a seat source that waits for the host to connect), the screen (``screen``) and the mix
(``sound``). A muted speaker (the opening's ``mute`` command) is in nobody's mix until
unmuted. A worker that dies, or is drained, takes the room to another worker as
``RoomManager`` moves evaluation rooms: the part recovered or sealed, a new part, the broadcast
opened again and the pages told (``Signals.hall_media``) to watch and speak again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from roomserver.errors import InvalidRequest, NotFound
from roomserver.model import Participant, Role, Session, SessionState
from roomserver.opening import Phase
from roomserver.openingstate import Happened, OpeningState
from roomserver.openingview import SPEAKER_WORDS
from roomserver.store import SqlStore
from signaling.services.archiving import ArchiveManager
from signaling.services.broadcasts import Broadcasts, BroadcastSource
from signaling.services.events import EventLog, RemoteArchive
from signaling.services.hallscreen import screen_message
from signaling.services.pool import WorkerPool, WorkerProcess
from signaling.services.signals import Signals
from signaling.tasks import TaskSet
from signaling.wire import ConnectionLost, WireError

logger = logging.getLogger(__name__)

# The broadcast's streams, as the hall's pages ask for them.
CAMERA, SCREEN, SOUND = "camera", "screen", "sound"
# What a speaker may send: the host its camera and microphone, the others their microphone.
HOST_ROLES = frozenset({"camera", "microphone"})
SPEAKER_ROLES = frozenset({"microphone"})


@dataclass
class Hall:
    """One opening's room: where it runs, what its screen says, who speaks in it."""

    session: Session
    worker: WorkerProcess
    names: dict[str, str]  # project_name, project_code, lot_name, hall: the screen's heading
    state: OpeningState
    host: str | None = None  # the host's participant id: the broadcast's camera
    speakers: dict[str, str] = field(default_factory=dict)  # participant id -> label
    archive: RemoteArchive | None = None
    notice: str | None = None
    streams: list[str] = field(default_factory=list)
    sent: dict[str, Any] = field(default_factory=dict)  # the screen and mutes the worker has
    ready: bool = False  # its room runs on its worker: changes are sent there
    dirty: bool = False  # changed since the worker was last told
    push: asyncio.Task[None] | None = None

    @property
    def id(self) -> str:
        """The opening's session id."""
        return self.session.id

    def sources(self) -> list[BroadcastSource]:
        """The broadcast's streams: the host's camera (when there is a host), the screen and
        the mix."""
        camera = [BroadcastSource(CAMERA, "seat", key=self.host)] if self.host else []
        return [*camera, BroadcastSource(SCREEN, "grid"), BroadcastSource(SOUND, "mix")]

    def message(self) -> dict[str, Any]:
        """What the information screen shows now."""
        return screen_message(self.state, notice=self.notice, **self.names)

    def muted(self) -> list[str]:
        """The speakers muted now (their participant ids)."""
        return sorted(self.state.muted)

    def tiles(self) -> list[dict[str, str]]:
        """The speakers as the worker takes them (a seat's key and its label)."""
        return [{"key": key, "label": label} for key, label in self.speakers.items()]


class HallRooms:
    """The halls' rooms: opened, kept up to date, moved with their worker, closed at the end."""

    def __init__(
        self,
        store: SqlStore,
        pool: WorkerPool,
        archives: ArchiveManager,
        events: EventLog,
        signals: Signals,
        broadcasts: Broadcasts,
        tasks: TaskSet,
        *,
        seats: Callable[[WorkerProcess], int] = lambda worker: 0,
    ) -> None:
        """`seats` gives the seats of the evaluation rooms on a worker (placement weighs them
        with the halls' speakers)."""
        self._store = store
        self._pool = pool
        self._archives = archives
        self._events = events
        self._signals = signals
        self._broadcasts = broadcasts
        self._tasks = tasks
        self._seats = seats
        self._halls: dict[str, Hall] = {}
        self._lock = asyncio.Lock()
        self._closed = False
        # Speakers whose media runs in a hall now: session -> participant ids.
        self._speaking: dict[str, set[str]] = {}
        signals.worker_lost.connect(self.relocate)
        signals.opening_changed.connect(self._opening_changed)

    # -- reading --------------------------------------------------------------------------------

    def find(self, session_id: str) -> Hall | None:
        """The hall of `session_id`, if its room runs."""
        return self._halls.get(session_id)

    def worker_of(self, session_id: str) -> WorkerProcess | None:
        """The worker of the hall's room, if it runs."""
        hall = self._halls.get(session_id)
        return hall.worker if hall is not None else None

    def speakers_on(self, worker: WorkerProcess) -> int:
        """Speakers with media in halls on `worker` (weighed like seats in placement)."""
        return sum(
            len(self._speaking.get(hall.id, ()))
            for hall in self._halls.values()
            if hall.worker is worker
        )

    def streams(self, session_id: str) -> list[str]:
        """The streams of the hall's broadcast (none while its room is not running)."""
        hall = self._halls.get(session_id)
        return list(hall.streams) if hall is not None else []

    # -- the room's life ------------------------------------------------------------------------

    async def open(self, session_id: str, state: OpeningState) -> Hall | None:
        """Open the hall's room (if the opening runs and it is not open yet), its archive part
        and its broadcast; None when the opening has ended or the server is stopping."""
        async with self._lock:
            hall = self._halls.get(session_id)
            if hall is not None or self._closed or state.phase == Phase.ENDED:
                return hall
            session = await self._store.get_session(session_id)
            if session.state == SessionState.ENDED:
                return None
            hall = Hall(session, self._place(), await self._names(session), state)
            hall.notice = await self._last_notice(session_id)
            await self._read_speakers(hall)
            self._halls[session_id] = hall  # changes from now on are kept for the room
            try:
                await self._start_media(hall)
            except BaseException:
                del self._halls[session_id]
                raise
        logger.info(
            "hall %s (%s) opened on worker %d",
            session_id,
            hall.names["project_code"],
            hall.worker.index,
        )
        await self._broadcast(hall)
        return hall

    async def close(self, session_id: str, state: str) -> None:
        """Close the hall's room and seal its part as `state` (``ended`` with the opening)."""
        async with self._lock:
            hall = self._halls.pop(session_id, None)
            if hall is None:
                return
            await self._stop(hall, state)
        self._signals.hall_media(session_id, [])

    async def close_all(self) -> None:
        """Close every hall's room, its part sealed as interrupted (the server stops); safe to
        call twice."""
        self._closed = True
        for session_id in list(self._halls):
            await self.close(session_id, "interrupted")

    async def relocate(self, worker: WorkerProcess, lost: set[str]) -> None:
        """A worker died with these rooms: the halls among them are recovered and opened again
        on a live worker, with a new part and their broadcast."""
        async with self._lock:
            moved = [self._halls[s] for s in lost if s in self._halls]
            if not moved:
                return
            for hall in moved:
                hall.ready = False
                if hall.archive is not None:
                    self._events.detach(hall.archive)
                self._speaking.pop(hall.id, None)
                await self._broadcasts.close(hall.id)
            await self._archives.recover(
                sessions={hall.id for hall in moved}, reason="media_worker_lost"
            )
            for hall in moved:
                hall.worker = self._place()
                hall.sent = {}
                await self._start_media(hall)
        for hall in moved:
            await self._events.append(
                "media_restarted",
                {"worker": worker.index, "part": hall.archive.part if hall.archive else None},
                session_id=hall.id,
            )
            await self._broadcast(hall)

    async def drain(self, worker: WorkerProcess) -> list[str]:
        """Move every hall off `worker` (for maintenance): its part sealed as interrupted there,
        a new part on another worker, the broadcast opened again."""
        async with self._lock:
            moving = [hall for hall in self._halls.values() if hall.worker is worker]
            for hall in moving:
                hall.ready = False
                await self._stop(hall, "interrupted")
                hall.worker = self._place()
                hall.sent = {}
                await self._start_media(hall)
        for hall in moving:
            await self._events.append(
                "media_moved",
                {"from_worker": worker.index, "to_worker": hall.worker.index},
                session_id=hall.id,
            )
            await self._broadcast(hall)
        return [hall.id for hall in moving]

    # -- speakers -------------------------------------------------------------------------------

    async def speak(
        self, session_id: str, participant: Participant, sdp: str, roles: dict[str, str]
    ) -> str:
        """Answer a speaker's offer: the host's camera and microphone, another speaker's
        microphone; its sound goes into the hall's mix."""
        hall = self._hall(session_id)
        if participant.id not in hall.speakers:
            await self._refresh_speakers(hall)  # somebody added since the room opened
        allowed = HOST_ROLES if participant.id == hall.host else SPEAKER_ROLES
        if participant.id not in hall.speakers:
            raise InvalidRequest("您不是本场开标的发言人")
        wrong = sorted(set(roles.values()) - allowed)
        if wrong:
            raise InvalidRequest(
                "主持人可开启摄像头和麦克风，其他发言人只能开启麦克风"
                if participant.id != hall.host
                else "主持人只能开启摄像头和麦克风"
            )
        answer = await self._request(
            hall,
            "negotiate",
            {"seat": participant.id, "sdp": sdp, "roles": roles},
        )
        self._speaking.setdefault(session_id, set()).add(participant.id)
        return str(answer["sdp"])

    async def speak_candidate(
        self, session_id: str, participant_id: str, candidate: dict[str, Any]
    ) -> None:
        """A trickled ICE candidate of a speaker."""
        hall = self._hall(session_id)
        await self._request(hall, "add_candidate", {"seat": participant_id, "candidate": candidate})

    async def stop_speaking(self, session_id: str, participant_id: str) -> None:
        """A speaker turned its microphone (and camera) off, or left: its media is closed."""
        speaking = self._speaking.get(session_id)
        if speaking is None or participant_id not in speaking:
            return
        speaking.discard(participant_id)
        hall = self._halls.get(session_id)
        if hall is not None:
            with contextlib.suppress(WireError):
                await self._request(hall, "close_seat", {"seat": participant_id})

    def speaking(self, session_id: str) -> frozenset[str]:
        """The speakers whose media runs in the hall now."""
        return frozenset(self._speaking.get(session_id, ()))

    # -- what the screen shows ------------------------------------------------------------------

    def _opening_changed(
        self, session_id: str, state: OpeningState, happened: Happened | None
    ) -> None:
        """The opening moved on: the screen and the mutes follow, a burst of changes as one."""
        hall = self._halls.get(session_id)
        if hall is None:
            return
        hall.state = state
        if happened is not None and happened.kind == "notice":
            hall.notice = str(happened.data.get("text") or "") or None
        if happened is None:
            hall.sent.pop("speakers", None)  # the bidders changed: read them again
        hall.dirty = True
        self._schedule(hall)

    def _schedule(self, hall: Hall) -> None:
        if hall.ready and (hall.push is None or hall.push.done()):
            hall.push = self._tasks.spawn(self._push(hall), name=f"hall-screen-{hall.id}")

    async def _push(self, hall: Hall) -> None:
        while hall.dirty and hall.ready and self._halls.get(hall.id) is hall:
            hall.dirty = False
            try:
                if "speakers" not in hall.sent:
                    await self._refresh_speakers(hall)
                await self._send_state(hall)
            except (WireError, ConnectionLost, TimeoutError) as exc:
                # A worker being replaced: the room gets the state when it opens again.
                logger.warning("hall %s: screen not updated: %s", hall.id, exc)

    async def _send_state(self, hall: Hall) -> None:
        message = hall.message()
        if hall.sent.get("screen") != message:
            await hall.worker.request("hall_screen", {"session_id": hall.id, "message": message})
            hall.sent["screen"] = message
        muted = hall.muted()
        if hall.sent.get("muted") != muted:
            await hall.worker.request("set_muted", {"session_id": hall.id, "seats": muted})
            hall.sent["muted"] = muted

    async def _refresh_speakers(self, hall: Hall) -> None:
        """Read the speakers again and tell the worker; a host who came since the broadcast
        opened without one becomes its camera."""
        host = hall.host
        await self._read_speakers(hall)
        await self._send_speakers(hall)
        if hall.host != host:
            await self._broadcasts.close(hall.id)
            await self._broadcast(hall)

    async def _send_speakers(self, hall: Hall) -> None:
        tiles = hall.tiles()
        await hall.worker.request("set_tiles", {"session_id": hall.id, "tiles": tiles})
        hall.sent["speakers"] = tiles

    # -- internals ------------------------------------------------------------------------------

    def _hall(self, session_id: str) -> Hall:
        hall = self._halls.get(session_id)
        if hall is None:
            raise NotFound("开标大厅的音视频尚未开启")
        return hall

    def _place(self) -> WorkerProcess:
        return self._pool.place(lambda w: self._seats(w) + self.speakers_on(w))

    async def _names(self, session: Session) -> dict[str, str]:
        """The heading of the hall's screen: project, lot and the hall's place."""
        store = self._store
        opening = await store.projects.opening(session.id)
        lot = await store.projects.lot(opening.lot_id)
        project = await store.projects.project(lot.project_id)
        venue = await store.get_venue(session.main_venue_id)
        centre = await store.places.centre(venue.centre_id)
        return {
            "project_name": project.name,
            "project_code": project.code,
            "lot_name": lot.name,
            "hall": f"{centre.name} {venue.name}",
        }

    async def _last_notice(self, session_id: str) -> str | None:
        """The host's latest notice, from the log (the screen shows it until the next)."""
        notice = None
        for event in await self._store.list_events(session_id):
            if event.kind == "opening" and event.data.get("happened") == "notice":
                details = event.data.get("details") or {}
                notice = str(details.get("text") or "") or None
        return notice

    async def _read_speakers(self, hall: Hall) -> None:
        people = await self._store.list_participants(hall.id)
        speakers = [p for p in people if p.role in SPEAKER_WORDS]
        hall.speakers = {p.id: f"{SPEAKER_WORDS[p.role]} {p.name}" for p in speakers}
        hall.host = next((p.id for p in speakers if p.role == Role.HOST), None)

    async def _start_media(self, hall: Hall) -> None:
        """Open the room on its worker with a new archive part, and mirror events into it."""
        hall.dirty = False
        message = hall.message()
        muted = hall.muted()
        opened = await hall.worker.request(
            "open_room",
            {
                "session_id": hall.id,
                "project_code": hall.session.project_code,
                "project_name": hall.session.project_name,
                "tiles": hall.tiles(),
                "kind": "hall",
                "screen": message,
                "muted": muted,
            },
        )
        hall.sent = {"screen": message, "muted": muted, "speakers": hall.tiles()}
        hall.worker.rooms.add(hall.id)
        hall.archive = RemoteArchive(
            hall.worker, hall.id, last_seq=int(opened["last_seq"]), part=opened["part"]
        )
        self._events.attach(hall.archive)
        await self._events.catch_up(hall.archive)
        await self._events.append(
            "recording_started",
            {"part": hall.archive.part, "worker": hall.worker.index},
            session_id=hall.id,
        )
        hall.ready = True
        self._schedule(hall)  # what changed while the room was opening

    async def _stop(self, hall: Hall, state: str) -> None:
        """End the broadcast, close the room on its worker and seal its part as `state`."""
        await self._broadcasts.close(hall.id)
        self._speaking.pop(hall.id, None)
        if hall.push is not None and hall.push is not asyncio.current_task():
            hall.push.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await hall.push
        if hall.archive is not None:
            await self._events.append(
                "recording_sealed",
                {"part": hall.archive.part, "state": state},
                session_id=hall.id,
            )
            await self._events.catch_up(hall.archive)
            self._events.detach(hall.archive)
        try:
            await hall.worker.request(
                "close_room", {"session_id": hall.id, "state": state}, timeout_s=30
            )
            self._signals.part_sealed(hall.id)
        except (ConnectionLost, WireError) as exc:
            # The worker is gone: its part is recovered (and sealed) when it is replaced.
            logger.warning("hall %s: worker could not close it: %s", hall.id, exc)
        hall.worker.rooms.discard(hall.id)

    async def _broadcast(self, hall: Hall) -> None:
        """Open the hall's broadcast on its room's worker and tell its pages."""
        try:
            hall.streams = await self._broadcasts.open(hall.id, hall.sources(), origin=hall.worker)
        except (WireError, NotFound) as exc:
            logger.error("hall %s: broadcast not opened: %s", hall.id, exc)
            hall.streams = []
        self._signals.hall_media(hall.id, list(hall.streams))

    async def _request(self, hall: Hall, method: str, params: dict[str, Any]) -> Any:
        try:
            return await hall.worker.request(method, {"session_id": hall.id, **params})
        except ConnectionLost as exc:
            raise WireError("media_unavailable", "媒体服务正在恢复，请稍候重试") from exc
