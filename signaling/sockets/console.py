"""The ``/console`` Socket.IO namespace: the venue console of hosts, staff and witnesses.

A console is told, live, the seats it looks after (who is there, their devices), the committee's
workflow state and the session's activity record (7.2.5-3). The host and witnesses see every
venue of the session; venue staff see their own venue. Commands go through the REST API
(``POST /api/sessions/{id}/workflow``), so every one is checked and logged in one place.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from roomserver.errors import NotYourRoom
from roomserver.model import Event, Role
from roomserver.policy import CONSOLE_ROLES, Action, Grants
from roomserver.workflow import Happened, WorkflowState
from signaling.gate.guard import Guard, GuardedNamespace
from signaling.services.container import Services
from signaling.services.rooms import Room, roster_offline
from signaling.services.signals import Signals
from signaling.services.workflow import state_json
from signaling.sockets.seat import follow_room, refuse_connection, tell_cluster

logger = logging.getLogger(__name__)

NAMESPACE = "/console"
__all__ = ["CONSOLE_ROLES", "ConsoleNamespace", "activity_json", "event_venue"]
# The activity record a console opens with; older entries come from the REST API.
HELLO_EVENTS = 500


@dataclass(frozen=True)
class Console:
    """A connected console and what it may see."""

    sid: str
    grants: Grants

    @property
    def venue_scope(self) -> str | None:
        """Staff see their own venue; the host and witnesses see all (None)."""
        return self.grants.venue_id if self.grants.role == Role.STAFF else None

    def sees(self, event: Event) -> bool:
        """Whether an event of the session belongs on this console."""
        venue = self.venue_scope
        if venue is None:
            return True
        return event_venue(event) in (None, venue)


def event_venue(event: Event) -> str | None:
    """The venue an event is about, when it names one (a seat key starts with its venue)."""
    data = event.data
    details = data.get("details")
    if not isinstance(details, dict):
        details = {}
    for source in (data, details):
        venue = source.get("venue")
        if isinstance(venue, str):
            return venue
        seat = source.get("seat")
        if isinstance(seat, str) and ":" in seat:
            return seat.split(":", 1)[0]
    return None


def console_room(session_id: str) -> str:
    return f"console:{session_id}"


class ConsoleNamespace(GuardedNamespace):
    """Venue consoles of a session."""

    events: dict[str, Action] = {}  # a console only listens; commands go through REST

    def __init__(self, services: Services, guard: Guard, signals: Signals) -> None:
        super().__init__(NAMESPACE, guard)
        self.services = services
        self._by_sid: dict[str, Console] = {}
        signals.roster_changed.connect(self.roster_changed)
        signals.workflow_happened.connect(self.workflow_changed)
        signals.event_logged.connect(self.event_logged)

    def connection_grants(self, sid: str) -> Grants | None:
        """The grants the console connected with."""
        console = self._by_sid.get(sid)
        return console.grants if console is not None else None

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        """Host, staff and witness tokens of a session; others are refused with the reason."""
        request = environ.get("aiohttp.request")
        remote = request.remote if request is not None else environ.get("REMOTE_ADDR")
        session_id: str | None = None
        store = self.services.store
        try:
            grants = await self.guard.socket_grants(environ, auth)
            session_id = grants.session_id
            await self.guard.check(grants, Action.CONSOLE, session_id=session_id)
            if session_id is None:
                raise NotYourRoom()
            me = await store.get_participant(grants.participant_id)
            session = await store.get_session(session_id)
        except Exception as exc:
            await refuse_connection(self.services, NAMESPACE, exc, session_id, remote)
        # A session's consoles are where its room is (in a cluster: its node).
        await follow_room(self.services, NAMESPACE, grants, session, remote)
        console = Console(sid, grants)
        self._by_sid[sid] = console
        await self.enter_room(sid, console_room(session.id))
        await self.services.events.append(
            "console_opened",
            {"role": str(grants.role), "venue": grants.venue_id, "remote": remote},
            session_id=session.id,
            actor=grants.participant_id,
        )
        venues = [await store.get_venue(v) for v in session.venue_ids()]
        people = await store.list_participants(session.id)
        state = await self.services.workflow.state(session.id)
        events = await store.list_events(session.id)
        await self.emit(
            "hello",
            {
                "me": {
                    "id": me.id,
                    "name": me.name,
                    "role": str(me.role),
                    "venue": me.venue_id,
                    "main_host": grants.role == Role.HOST and me.venue_id == session.main_venue_id,
                },
                "session": {
                    "id": session.id,
                    "project_code": session.project_code,
                    "project_name": session.project_name,
                    "scheduled_start": session.scheduled_start.isoformat(),
                    "state": str(session.state),
                    "main_venue": session.main_venue_id,
                    "late_after_s": self.services.config.warnings.late_after_s,
                },
                "venues": [
                    {
                        "id": v.id,
                        "name": v.name,
                        "city": v.city,
                        "main": v.id == session.main_venue_id,
                    }
                    for v in venues
                    if console.venue_scope in (None, v.id)
                ],
                "people": [
                    {"id": p.id, "name": p.name, "role": str(p.role), "venue": p.venue_id}
                    for p in people
                ],
                "roster": self._roster(console, await self._roster_of(session.id)),
                "workflow": state_json(state),
                "activity": [activity_json(e) for e in events[-HELLO_EVENTS:] if console.sees(e)],
            },
            to=sid,
        )
        await tell_cluster(self, self.services, [(sid, grants)])

    async def renew_cluster_notices(self) -> None:
        """Renew every console's ``cluster`` notice (its hand-over login expires)."""
        await tell_cluster(self, self.services, [(c.sid, c.grants) for c in self._by_sid.values()])

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        console = self._by_sid.pop(sid, None)
        if console is not None:
            await self.services.events.append(
                "console_closed",
                {"role": str(console.grants.role), "venue": console.grants.venue_id},
                session_id=console.grants.session_id,
                actor=console.grants.participant_id,
            )

    # -- pushes ---------------------------------------------------------------------------------

    def _consoles(self, session_id: str) -> list[Console]:
        return [c for c in self._by_sid.values() if c.grants.session_id == session_id]

    @staticmethod
    def _roster(console: Console, roster: dict[str, Any]) -> dict[str, Any]:
        venue = console.venue_scope
        seats = [s for s in roster["seats"] if venue is None or s["venue_id"] == venue]
        return {**roster, "seats": seats}

    async def _roster_of(self, session_id: str) -> dict[str, Any]:
        room = self.services.rooms.find(session_id)
        if room is not None:
            return room.roster_payload()
        return await roster_offline(self.services.store, session_id)

    def roster_changed(self, room: Room) -> None:
        """Seats came or went, or their devices changed."""
        consoles = self._consoles(room.id)
        if consoles:
            roster = room.roster_payload()
            for console in consoles:
                self.services.tasks.spawn(
                    self.emit("roster", self._roster(console, roster), to=console.sid),
                    name="console-roster",
                )

    def event_logged(self, event: Event) -> None:
        """Every event of a session goes to its consoles' activity record."""
        if event.session_id is None:
            return
        for console in self._consoles(event.session_id):
            if console.sees(event):
                self.services.tasks.spawn(
                    self.emit("activity", activity_json(event), to=console.sid),
                    name="console-activity",
                )

    def workflow_changed(self, session_id: str, state: WorkflowState, happened: Happened) -> None:
        """The committee's workflow moved on."""
        if self._consoles(session_id):
            self.services.tasks.spawn(
                self.emit(
                    "workflow",
                    {"state": state_json(state), "happened": happened.kind},
                    room=console_room(session_id),
                ),
                name="console-workflow",
            )
            if happened.kind == "expert_replaced" and self.services.rooms.find(session_id) is None:
                # With no live room no seat pushes the new roster: the consoles read it here.
                self.services.tasks.spawn(
                    self._push_offline_roster(session_id), name="console-roster"
                )

    async def _push_offline_roster(self, session_id: str) -> None:
        roster = await roster_offline(self.services.store, session_id)
        for console in self._consoles(session_id):
            await self.emit("roster", self._roster(console, roster), to=console.sid)

    async def close_all(self) -> None:
        for sid in list(self._by_sid):
            await self.disconnect(sid)


def activity_json(event: Event) -> dict[str, Any]:
    """An event as consoles list it (a sealed ballot stays sealed)."""
    return {
        "seq": event.seq,
        "at": event.at.isoformat(),
        "kind": event.kind,
        "actor": event.actor,
        "data": event.data,
    }
