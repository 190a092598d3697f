"""The ``/hall`` Socket.IO namespace: the bid opening, live, for everybody in its hall.

Bidders, the tenderer and its agency (the hall), the host and the witness (the opening
console), supervisors, administrators and, where the opening is public, the public viewers
connect with their token. Each is sent the opening as they may see it
(``roomserver.openingview``): at connect (``opening``) and again after every change, a burst of
changes sent as one. What happened is told as ``happened`` to those it concerns: notices,
urging, pauses and incidents to everybody; an objection's answer to its bidder and to those
who answer and run the opening; a mute to the speaker muted. At connect a page is also sent
``history``: what happened before, as far as it would have been told of it (the host's
notices a latecomer missed). A bidder is sent its
clarification questions (``clarifications``) when the committee asks or it answers. Commands go
through the REST API (``POST /api/sessions/{id}/opening`` and the bidder's routes), so that
each is checked and logged in one place.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from roomserver.errors import NotYourRoom
from roomserver.openingstate import Happened, OpeningState
from roomserver.openingview import ANSWERING, INSIDERS, opening_view
from roomserver.policy import Action, Grants
from signaling.gate.guard import Guard, GuardedNamespace
from signaling.services.container import Services
from signaling.services.openings import EVENT_KIND as OPENING_EVENT
from signaling.services.signals import Signals
from signaling.sockets.seat import refuse_connection

logger = logging.getLogger(__name__)

NAMESPACE = "/hall"
# How much of what happened a page is sent when it connects.
HISTORY_ITEMS = 200
# Changes in a burst (three bidders' keys in one second) go out as one push.
PUSH_DELAY_S = 0.2
# What happened that everybody in the hall is told of as it happens.
TOLD_TO_ALL = frozenset(
    {
        "notice",
        "host_urged",
        "opening_paused",
        "opening_resumed",
        "incident_opened",
        "incident_handled",
        "incident_closed",
        "submission_opened",
        "deadline_passed",
        "decryption_opened",
        "decryption_extended",
        "decryption_closed",
        "benchmark_drawn",
        "readout_published",
        "record_put_up",
        "record_replaced",
        "opening_ended",
        "opening_forced_end",
        "public_viewing_changed",
    }
)


@dataclass(frozen=True)
class Viewer:
    """A connection to the hall and whom it stands for."""

    sid: str
    grants: Grants
    session_id: str  # the token's, or the one named at connect by a token that reaches all

    def told(self, happened: Happened) -> bool:
        """Whether this connection is told `happened` as it happens."""
        kind, data = happened.kind, happened.data
        role, me = self.grants.role, self.grants.participant_id
        if kind in TOLD_TO_ALL:
            return True
        if kind in ("objection_raised", "objection_answered"):
            return role in INSIDERS or role in ANSWERING or data.get("bidder") == me
        if kind in ("speaker_muted", "speaker_unmuted"):
            return role in INSIDERS or data.get("participant") == me
        return role in INSIDERS


class HallNamespace(GuardedNamespace):
    """Everybody watching or taking part in a bid opening, told of it as it goes."""

    events: dict[str, Action] = {}  # the hall only listens; commands go through REST

    def __init__(self, services: Services, guard: Guard, signals: Signals) -> None:
        super().__init__(NAMESPACE, guard)
        self.services = services
        self._by_sid: dict[str, Viewer] = {}
        self._dirty: set[str] = set()
        self._push: asyncio.Task[None] | None = None
        signals.opening_changed.connect(self.changed)
        signals.clarification_changed.connect(self.clarification)

    def connection_grants(self, sid: str) -> Grants | None:
        """The grants the connection was opened with."""
        viewer = self._by_sid.get(sid)
        return viewer.grants if viewer is not None else None

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        """A token of the opening's session (or one that reaches every session); others are
        refused with the reason."""
        request = environ.get("aiohttp.request")
        remote = request.remote if request is not None else environ.get("REMOTE_ADDR")
        named = auth.get("session_id") if isinstance(auth, dict) else None
        session_id: str | None = None
        try:
            grants = await self.guard.socket_grants(environ, auth)
            session_id = grants.session_id or (named if isinstance(named, str) else None)
            if session_id is None:
                raise NotYourRoom("请指明要查看的开标场次")
            await self.guard.check(grants, Action.OPENING_READ, session_id=session_id)
            state = await self.services.openings.state(session_id)
        except Exception as exc:
            await refuse_connection(self.services, NAMESPACE, exc, session_id, remote)
        viewer = Viewer(sid, grants, session_id)
        self._by_sid[sid] = viewer
        await self.services.events.append(
            "hall_opened",
            {"role": str(grants.role), "remote": remote},
            session_id=session_id,
            actor=grants.participant_id,
        )
        await self.emit("opening", self._view(viewer, state), to=sid)
        await self.emit("history", {"items": await self._history(viewer)}, to=sid)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        viewer = self._by_sid.pop(sid, None)
        if viewer is not None:
            await self.services.events.append(
                "hall_closed",
                {"role": str(viewer.grants.role)},
                session_id=viewer.session_id,
                actor=viewer.grants.participant_id,
            )

    async def close_all(self) -> None:
        """Stop pushing (the server is stopping)."""
        if self._push is not None:
            self._push.cancel()
        self._by_sid.clear()

    # -- pushes ---------------------------------------------------------------------------------

    def changed(self, session_id: str, state: OpeningState, happened: Happened | None) -> None:
        """The opening moved on: tell who is concerned now, send everybody's view shortly."""
        viewers = [v for v in self._by_sid.values() if v.session_id == session_id]
        if not viewers:
            return
        if happened is not None:
            told = {"kind": happened.kind, "data": happened.data}
            for viewer in viewers:
                if viewer.told(happened):
                    self.services.tasks.spawn(
                        self.emit("happened", told, to=viewer.sid), name="hall-happened"
                    )
        self._dirty.add(session_id)
        if self._push is None or self._push.done():
            self._push = self.services.tasks.spawn(self._push_later(), name="hall-push")

    def clarification(self, session_id: str, bidder: str) -> None:
        """A question was put to `bidder`, or answered: its hall gets its questions again."""
        for viewer in self._by_sid.values():
            if viewer.session_id == session_id and viewer.grants.participant_id == bidder:
                self.services.tasks.spawn(
                    self._send_clarifications(viewer), name="hall-clarifications"
                )

    async def _send_clarifications(self, viewer: Viewer) -> None:
        found = await self.services.clarifications.for_bidder(viewer.session_id, viewer.grants)
        await self.emit("clarifications", {"items": found}, to=viewer.sid)

    async def _push_later(self) -> None:
        while self._dirty:
            await asyncio.sleep(PUSH_DELAY_S)
            sessions, self._dirty = self._dirty, set()
            for session_id in sessions:
                state = await self.services.openings.state(session_id)
                for viewer in list(self._by_sid.values()):
                    if viewer.session_id == session_id:
                        await self.emit("opening", self._view(viewer, state), to=viewer.sid)

    async def _history(self, viewer: Viewer) -> list[dict[str, Any]]:
        """What happened before this connection that it would have been told, oldest first
        (the last HISTORY_ITEMS): a page opened late, or again, reads the notices it missed."""
        items = []
        for event in await self.services.store.list_events(viewer.session_id):
            if event.kind != OPENING_EVENT:
                continue
            happened = Happened(str(event.data["happened"]), dict(event.data["details"]))
            if viewer.told(happened):
                items.append({"kind": happened.kind, "data": happened.data, "at": event.data["at"]})
        return items[-HISTORY_ITEMS:]

    def _view(self, viewer: Viewer, state: OpeningState) -> dict[str, Any]:
        grants = viewer.grants
        return {
            **opening_view(state, grants.role, grants.participant_id),
            "me": {"id": grants.participant_id, "role": str(grants.role)},
            "server_time": datetime.now(UTC).isoformat(),
        }

    def event_session(self, sid: str, grants: Grants, data: Any) -> str | None:
        """The session the connection watches."""
        viewer = self._by_sid.get(sid)
        return viewer.session_id if viewer is not None else grants.session_id
