"""The session's warnings: from the seats' cameras (the media workers) and their connections.

Every warning is a pair of events in the session's log (and so in its archive):
``warning_started`` (id, kind, seat, when the condition began, the evidence picture stored in
the archive with its digests) and ``warning_ended``. The open ones are shown on the supervision
wall as they happen. Connection warnings (seat disconnected, a track lost, desktop never
shared or its share stopped, late) are evaluated here once a second from what the seats'
connections say.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from roomserver.model import SessionState
from roomserver.store import SqlStore
from roomserver.warnings import (
    CAMERA_KINDS,
    WARNING_LABELS,
    Condition,
    SeatPresenceRules,
    Transition,
    WarningKind,
    WarningThresholds,
    arrived_experts,
)
from signaling.services.events import EventLog
from signaling.services.rooms import Room, RoomManager, roster_offline, seat_key
from signaling.services.signals import Signals
from signaling.tasks import TaskSet
from signaling.wire import WireError

logger = logging.getLogger(__name__)

TICK_S = 1.0
# Sessions without a live room are looked at less often (only lateness and absence change).
IDLE_EVERY_TICKS = 10
# Sessions without a live room are looked at this long after their scheduled start.
IDLE_HORIZON_S = 12 * 3600


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")


@dataclass
class OpenWarning:
    """A warning that has started and not ended."""

    id: str
    session_id: str
    kind: WarningKind
    seat: str | None
    label: str
    started_at: float
    evidence: dict[str, Any] | None

    def payload(self) -> dict[str, Any]:
        """How the wall shows it."""
        snapshot = None
        if self.evidence is not None:
            snapshot = (
                f"/api/sessions/{self.session_id}/evidence/{self.evidence['part']}/"
                f"{self.evidence['path'].rsplit('/', 1)[-1]}"
            )
        return {
            "id": self.id,
            "kind": str(self.kind),
            "seat": self.seat,
            "label": self.label,
            "message": WARNING_LABELS[self.kind],
            "started_at": _iso(self.started_at),
            "ended_at": None,
            "snapshot": snapshot,
        }


class WarningCenter:
    """Opens and closes the sessions' warnings and tells the wall."""

    def __init__(
        self,
        *,
        rooms: RoomManager,
        events: EventLog,
        store: SqlStore,
        thresholds: WarningThresholds,
        tasks: TaskSet,
        signals: Signals,
    ) -> None:
        self._rooms = rooms
        self._signals = signals
        self._tasks = tasks
        self._events = events
        self._store = store
        self._thresholds = thresholds
        self._open: dict[str, dict[tuple[WarningKind, str | None], OpenWarning]] = {}
        self._presence: dict[str, dict[str, SeatPresenceRules]] = {}
        self._labels: dict[str, dict[str, str]] = {}
        self._cameras: dict[str, dict[str, tuple[Condition, bool]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._task: asyncio.Task[None] | None = None
        signals.room_closed.connect(self.room_closed)
        signals.media_restarted.connect(self.media_restarted)
        signals.roster_changed.connect(self.roster_changed)

    async def start(self) -> None:
        """Start looking at the seats' connections once a second."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="warning-center")

    async def close(self) -> None:
        """Stop; open warnings stay open in the log (the server is going away, not the cause)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def for_session(self, session_id: str) -> list[dict[str, Any]]:
        """The session's open warnings, oldest first."""
        found = sorted(self._open.get(session_id, {}).values(), key=lambda w: w.started_at)
        return [w.payload() for w in found]

    # -- from the media workers -----------------------------------------------------------------

    async def camera_warning(self, params: dict[str, Any]) -> None:
        """A seat camera warning started or ended in the room's worker."""
        session_id = str(params.get("session_id"))
        try:
            kind = WarningKind(str(params.get("kind")))
        except ValueError:
            logger.warning("unknown warning kind from a worker: %r", params.get("kind"))
            return
        seat = str(params.get("seat"))
        at = float(params.get("at") or time.time())
        if params.get("starts"):
            await self._start(session_id, seat, kind, at, params.get("evidence"))
        else:
            await self._end(session_id, seat, kind, at, "cleared")

    def camera_status(self, room: Room, camera_id: str, state: str) -> None:
        """A room camera's state changed (``up``, ``down``, ``invalid``, ``connecting``)."""
        key = f"camera:{camera_id}"
        cameras = self._cameras.setdefault(room.id, {})
        condition = cameras.get(key, (None, False))[0] or Condition(
            WarningKind.ROOM_CAMERA_DOWN, self._thresholds.camera_down_s
        )
        cameras[key] = (condition, state in ("down", "invalid"))
        label = room.cameras.get(camera_id, {}).get("label", camera_id)
        self._labels.setdefault(room.id, {})[key] = label

    async def media_restarted(self, room: Room) -> None:
        """The room's analysis starts afresh in a new worker: its camera warnings end here."""
        for warning in list(self._open.get(room.id, {}).values()):
            if warning.kind in CAMERA_KINDS:
                await self._end(room.id, warning.seat, warning.kind, time.time(), "media_restart")

    async def room_closed(self, room: Room) -> None:
        """The room's media closed (everyone left, or the session ended): what its cameras and
        its analysis reported no longer holds; connection warnings go on."""
        now = time.time()
        for warning in list(self._open.get(room.id, {}).values()):
            if warning.kind in CAMERA_KINDS or warning.kind == WarningKind.ROOM_CAMERA_DOWN:
                await self._end(room.id, warning.seat, warning.kind, now, "room_closed")
        self._cameras.pop(room.id, None)

    async def session_ended(self, session_id: str) -> None:
        """The session ended: every open warning ends with it."""
        now = time.time()
        for warning in list(self._open.get(session_id, {}).values()):
            await self._end(session_id, warning.seat, warning.kind, now, "session_ended")
        self._presence.pop(session_id, None)
        self._labels.pop(session_id, None)
        self._cameras.pop(session_id, None)

    # -- connections ----------------------------------------------------------------------------

    async def _run(self) -> None:
        tick = 0
        while True:
            await asyncio.sleep(TICK_S)
            try:
                await self._check_live()
                if tick % IDLE_EVERY_TICKS == 0:
                    await self._check_idle(time.time())
            except Exception:
                logger.exception("warning check failed")
            tick += 1

    def roster_changed(self, room: Room) -> None:
        """A seat came, went or changed its tracks: look at once (a short visit counts too)."""
        self._tasks.spawn(self._check_room(room), name=f"warnings-{room.id}")

    async def _check_live(self) -> None:
        for room in self._rooms:
            await self._check_room(room)

    async def _check_room(self, room: Room) -> None:
        if room.ended:
            return
        now = time.time()
        for key, (condition, down) in list(self._cameras.get(room.id, {}).items()):
            transition = condition.update(down, now)
            if transition is not None:
                await self._apply(room.id, key, [transition])
        tiles = [
            {"key": seat_key(s.venue_id, s.seat_no), "label": s.label, "expert_id": s.expert_id}
            for s in room.roster
        ]
        rules = await self._rules(room.id, room.session.scheduled_start, tiles)
        for key, seat_rules in rules.items():
            state = room.seats.get(key)
            transitions = seat_rules.update(
                now,
                online=state is not None,
                tracks=frozenset(state.tracks) if state is not None else frozenset(),
            )
            await self._apply(room.id, key, transitions)

    async def _check_idle(self, now: float) -> None:
        """Sessions without a live room: experts late, or gone since the room closed."""
        for session in await self._store.list_sessions():
            if session.state == SessionState.ENDED or self._rooms.find(session.id) is not None:
                continue
            start = session.scheduled_start.timestamp()
            if now < start and session.id not in self._presence:
                continue
            if now - start > IDLE_HORIZON_S:
                continue  # a session of another day that nobody ended: not watched for lateness
            roster = await roster_offline(self._store, session.id)
            tiles = roster["seats"]
            rules = await self._rules(session.id, session.scheduled_start, tiles)
            for key, seat_rules in rules.items():
                transitions = seat_rules.update(now, online=False, tracks=frozenset())
                await self._apply(session.id, key, transitions)

    async def _rules(
        self, session_id: str, scheduled_start: datetime, tiles: list[dict[str, Any]]
    ) -> dict[str, SeatPresenceRules]:
        """The presence rules of the session's seats; `tiles` have key, label and expert_id."""
        rules = self._presence.setdefault(session_id, {})
        labels = self._labels.setdefault(session_id, {})
        arrived: frozenset[str] | None = None
        for tile in tiles:
            labels[tile["key"]] = tile["label"]
            if tile["key"] not in rules:
                if arrived is None:
                    # Read once for the seats first seen here: after a restart the log is the
                    # only memory of who had already come (they are not late).
                    arrived = arrived_experts(await self._store.list_events(session_id))
                # Another look at the room may have made them while the log was read.
                rules.setdefault(
                    tile["key"],
                    SeatPresenceRules(
                        self._thresholds, scheduled_start, arrived=tile.get("expert_id") in arrived
                    ),
                )
        return rules

    async def _apply(self, session_id: str, seat: str, transitions: list[Transition]) -> None:
        for t in transitions:
            if t.starts:
                await self._start(session_id, seat, t.kind, t.at, None, snapshot=True)
            else:
                await self._end(session_id, seat, t.kind, t.at, "cleared")

    # -- opening and closing --------------------------------------------------------------------

    def _lock(self, session_id: str) -> asyncio.Lock:
        return self._locks.setdefault(session_id, asyncio.Lock())

    async def _start(
        self,
        session_id: str,
        seat: str | None,
        kind: WarningKind,
        at: float,
        evidence: dict[str, Any] | None,
        *,
        snapshot: bool = False,
    ) -> None:
        async with self._lock(session_id):
            opened = self._open.setdefault(session_id, {})
            if (kind, seat) in opened:
                return
            warning_id = secrets.token_hex(6)
            room = self._rooms.find(session_id)
            if snapshot and room is not None and not room.ended:
                evidence = await self._snapshot(room, seat, kind)
            label = self._label(session_id, seat)
            warning = OpenWarning(warning_id, session_id, kind, seat, label, at, evidence)
            opened[(kind, seat)] = warning
            await self._events.append(
                "warning_started",
                {
                    "id": warning_id,
                    "kind": str(kind),
                    "seat": seat,
                    "label": label,
                    "message": WARNING_LABELS[kind],
                    "started_at": _iso(at),
                    "evidence": evidence,
                },
                session_id=session_id,
            )
        self._changed()

    async def _end(
        self, session_id: str, seat: str | None, kind: WarningKind, at: float, reason: str
    ) -> None:
        async with self._lock(session_id):
            warning = self._open.get(session_id, {}).pop((kind, seat), None)
            if warning is None:
                return
            await self._events.append(
                "warning_ended",
                {
                    "id": warning.id,
                    "kind": str(kind),
                    "seat": seat,
                    "ended_at": _iso(at),
                    "seconds": round(max(0.0, at - warning.started_at), 1),
                    "reason": reason,
                },
                session_id=session_id,
            )
        self._changed()

    async def _snapshot(
        self, room: Room, seat: str | None, kind: WarningKind
    ) -> dict[str, Any] | None:
        try:
            answer = await room.media_request("snapshot", seat=seat, stem=f"{kind}-{seat}")
        except (WireError, TimeoutError) as exc:
            logger.warning("room %s: no snapshot for %s: %s", room.id, kind, exc)
            return None
        evidence = answer.get("evidence") if isinstance(answer, dict) else None
        return evidence if isinstance(evidence, dict) else None

    def _label(self, session_id: str, seat: str | None) -> str:
        if seat is None:
            return "全场"
        room = self._rooms.find(session_id)
        roster_seat = room.roster_seat(seat) if room is not None else None
        if roster_seat is not None:
            return roster_seat.label
        return self._labels.get(session_id, {}).get(seat, seat)

    def _changed(self) -> None:
        self._signals.room_changed(None)
