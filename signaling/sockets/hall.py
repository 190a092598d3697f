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

The hall's media (``services.halls``) goes through this namespace, each event a row of the
policy table:

- ``media`` (pushed at connect and whenever the hall's media starts, moves or stops): the
  streams of the broadcast, ``camera``, ``screen`` and ``sound`` (none: not running), and the
  ICE servers;
- ``watch`` {type, sdp, roles} → {viewer, sdp}: a receive-only offer for the broadcast, each
  media section's mid mapped to a stream (``Action.HALL_WATCH``: the opening's people,
  supervisors, administrators, and the public where the opening allows it); then
  ``watch_candidate`` (trickled ICE) and ``unwatch``. One viewer per connection: watching again
  starts over;
- ``speak`` {type, sdp, roles} → {sdp}: a speaker's microphone, and the host's camera, into the
  hall's room (``Action.HALL_SPEAK``: the host, the bidders, the tenderer and its agency; a
  public viewer, a supervisor or the witness is refused with the reason, and it is logged);
  then ``speak_candidate`` and ``stop_speaking``. A speaker's page offers again when told
  ``media`` after a move.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import socketio

from roomserver.errors import InvalidRequest, NotFound, NotYourRoom, RoleNotAllowed
from roomserver.model import Role
from roomserver.openingstate import Happened, OpeningState
from roomserver.openingview import ANSWERING, INSIDERS, opening_view
from roomserver.policy import Action, Grants
from signaling.errors import as_room_error, error_ack
from signaling.gate.guard import Guard, GuardedNamespace
from signaling.gate.schemas import (
    HallUnwatchRequest,
    HallWatchRequest,
    IceCandidateRequest,
    SpeakRequest,
    StopSpeakingRequest,
    parse_payload,
)
from signaling.services.container import Services
from signaling.services.openings import EVENT_KIND as OPENING_EVENT
from signaling.services.signals import Signals
from signaling.sockets.seat import refuse_connection, send_on
from signaling.wire import WireError

logger = logging.getLogger(__name__)

NAMESPACE = "/hall"
PUBLIC_CLOSED = "本场开标的直播未对公众开放"
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


Handler = Callable[..., Awaitable[dict[str, Any]]]


def acked(event: str) -> Callable[[Handler], Handler]:
    """Turn a media handler's errors into an error ack and a logged refusal; the connection
    survives."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def run(self: HallNamespace, sid: str, data: Any = None) -> dict[str, Any]:
            try:
                return await handler(self, sid, data)
            except Exception as exc:
                err = as_room_error(exc)
                self.services.metrics.refused(err.code)
                viewer = self._by_sid.get(sid)
                if viewer is not None:
                    await self.services.events.append(
                        "request_refused",
                        {"event": f"{NAMESPACE}:{event}", "code": err.code, "reason": err.message},
                        session_id=viewer.session_id,
                        actor=viewer.grants.participant_id,
                    )
                return error_ack(exc)

        return run

    return wrap


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

    # Commands go through REST; the hall's media through these events.
    events = {
        "watch": Action.HALL_WATCH,
        "watch_candidate": Action.HALL_WATCH,
        "unwatch": Action.HALL_WATCH,
        "speak": Action.HALL_SPEAK,
        "speak_candidate": Action.HALL_SPEAK,
        "stop_speaking": Action.HALL_SPEAK,
    }

    def __init__(self, services: Services, guard: Guard, signals: Signals) -> None:
        super().__init__(NAMESPACE, guard)
        self.services = services
        self._by_sid: dict[str, Viewer] = {}
        self._dirty: set[str] = set()
        self._push: asyncio.Task[None] | None = None
        # A connection's viewer of the broadcast, and the connections that speak.
        self._watching: dict[str, str] = {}
        self._speaking: set[str] = set()
        signals.opening_changed.connect(self.changed)
        signals.clarification_changed.connect(self.clarification)
        signals.hall_media.connect(self.media_changed)

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
            # The bid openings run on the node that leads a cluster.
            leader = await self.services.cluster.leader_url()
            if leader is not None:
                await send_on(self.services, grants, leader)
            state = await self.services.openings.state(session_id)
            if grants.role == Role.PUBLIC and not state.public:
                raise RoleNotAllowed(PUBLIC_CLOSED)
        except socketio.exceptions.ConnectionRefusedError:
            raise  # sent on to the leader
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
        await self.emit("media", self._media(session_id), to=sid)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        viewer = self._by_sid.pop(sid, None)
        if viewer is not None:
            await self._end_media(sid, viewer)
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
        self._watching.clear()
        self._speaking.clear()

    # -- the hall's media -----------------------------------------------------------------------

    @acked("watch")
    async def on_watch(self, sid: str, data: Any) -> dict[str, Any]:
        """Answer a receive-only offer for the hall's broadcast."""
        request = parse_payload(HallWatchRequest, data)
        viewer = self._viewer(sid)
        if not self.services.halls.streams(viewer.session_id):
            raise NotFound("开标直播尚未开始或已经结束")
        answer = await self.services.broadcasts.viewer(
            viewer.session_id, request.sdp, dict(request.roles), viewer=self._watching.get(sid)
        )
        if sid not in self._by_sid:  # the page went away meanwhile
            await self.services.broadcasts.leave(viewer.session_id, answer.viewer)
            raise NotYourRoom("连接已失效，请刷新页面")
        self._watching[sid] = answer.viewer
        return {"ok": True, "type": "answer", "sdp": answer.sdp, "viewer": answer.viewer}

    @acked("watch_candidate")
    async def on_watch_candidate(self, sid: str, data: Any) -> dict[str, Any]:
        """A trickled ICE candidate of the connection's broadcast viewer."""
        request = parse_payload(IceCandidateRequest, data)
        viewer = self._viewer(sid)
        watching = self._watching.get(sid)
        if watching is None:
            raise InvalidRequest("尚未开始观看直播")
        await self.services.broadcasts.viewer_candidate(
            viewer.session_id, watching, request.model_dump()
        )
        return {"ok": True}

    @acked("unwatch")
    async def on_unwatch(self, sid: str, data: Any) -> dict[str, Any]:
        """The page stopped watching."""
        parse_payload(HallUnwatchRequest, data)
        viewer = self._viewer(sid)
        watching = self._watching.pop(sid, None)
        if watching is not None:
            await self.services.broadcasts.leave(viewer.session_id, watching)
        return {"ok": True}

    @acked("speak")
    async def on_speak(self, sid: str, data: Any) -> dict[str, Any]:
        """Answer a speaker's offer: its microphone (and the host's camera) join the hall."""
        request = parse_payload(SpeakRequest, data)
        viewer = self._viewer(sid)
        grants = viewer.grants
        people = await self.services.store.list_participants(viewer.session_id)
        participant = next((p for p in people if p.id == grants.participant_id), None)
        if participant is None:
            raise RoleNotAllowed("您不是本场开标的发言人")
        roles: dict[str, str] = dict(request.roles)
        answer = await self.services.halls.speak(viewer.session_id, participant, request.sdp, roles)
        if sid not in self._by_sid:  # the page went away meanwhile
            await self.services.halls.stop_speaking(viewer.session_id, participant.id)
            raise NotYourRoom("连接已失效，请刷新页面")
        # The same speaker in another window: its media was replaced by this one.
        for other_sid in [s for s in self._speaking if s != sid]:
            other = self._by_sid.get(other_sid)
            if other is not None and other.grants.participant_id == participant.id:
                self._speaking.discard(other_sid)
                elsewhere = {"message": "您已在另一窗口发言，本窗口的发言已停止"}
                await self.emit("speaking_elsewhere", elsewhere, to=other_sid)
        self._speaking.add(sid)
        await self.services.events.append(
            "speaker_negotiated",
            {"roles": sorted(roles.values())},
            session_id=viewer.session_id,
            actor=participant.id,
        )
        return {"ok": True, "type": "answer", "sdp": answer}

    @acked("speak_candidate")
    async def on_speak_candidate(self, sid: str, data: Any) -> dict[str, Any]:
        """A trickled ICE candidate of the speaker's connection."""
        request = parse_payload(IceCandidateRequest, data)
        viewer = self._viewer(sid)
        if sid not in self._speaking:
            raise InvalidRequest("尚未开始发言")
        await self.services.halls.speak_candidate(
            viewer.session_id, viewer.grants.participant_id, request.model_dump()
        )
        return {"ok": True}

    @acked("stop_speaking")
    async def on_stop_speaking(self, sid: str, data: Any) -> dict[str, Any]:
        """The speaker turned its microphone off."""
        parse_payload(StopSpeakingRequest, data)
        viewer = self._viewer(sid)
        if sid in self._speaking:
            self._speaking.discard(sid)
            await self._stop_speaking(viewer)
        return {"ok": True}

    def media_changed(self, session_id: str, streams: list[str]) -> None:
        """The hall's media started, moved or stopped: its pages watch (and speak) again."""
        payload = {**self._media(session_id), "streams": list(streams)}
        for sid, viewer in list(self._by_sid.items()):
            if viewer.session_id != session_id:
                continue
            self._watching.pop(sid, None)
            self._speaking.discard(sid)
            self.services.tasks.spawn(self.emit("media", payload, to=sid), name="hall-media")

    def _media(self, session_id: str) -> dict[str, Any]:
        """The ``media`` push: the broadcast's streams, and the ICE servers to reach them."""
        return {
            "streams": self.services.halls.streams(session_id),
            "ice_servers": [s.as_json() for s in self.services.config.ice.servers],
        }

    def _viewer(self, sid: str) -> Viewer:
        viewer = self._by_sid.get(sid)
        if viewer is None:
            raise NotYourRoom("连接已失效，请刷新页面")
        return viewer

    async def _stop_speaking(self, viewer: Viewer) -> None:
        await self.services.halls.stop_speaking(viewer.session_id, viewer.grants.participant_id)
        await self.services.events.append(
            "speaker_stopped", {}, session_id=viewer.session_id, actor=viewer.grants.participant_id
        )

    async def _end_media(self, sid: str, viewer: Viewer) -> None:
        """A page went away: its viewer leaves, its speaker stops."""
        watching = self._watching.pop(sid, None)
        with contextlib.suppress(WireError):
            if watching is not None:
                await self.services.broadcasts.leave(viewer.session_id, watching)
            if sid in self._speaking:
                self._speaking.discard(sid)
                await self._stop_speaking(viewer)

    # -- pushes ---------------------------------------------------------------------------------

    def changed(self, session_id: str, state: OpeningState, happened: Happened | None) -> None:
        """The opening moved on: tell who is concerned now, send everybody's view shortly."""
        viewers = [v for v in self._by_sid.values() if v.session_id == session_id]
        if not viewers:
            return
        if happened is not None and happened.kind == "public_viewing_changed" and not state.public:
            # The host closed the public broadcast: its public viewers are sent off.
            for viewer in viewers:
                if viewer.grants.role == Role.PUBLIC:
                    self.services.tasks.spawn(self._send_off(viewer), name="hall-public-closed")
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

    async def _send_off(self, viewer: Viewer) -> None:
        """Tell a public viewer the broadcast is no longer public, and close its connection
        (its broadcast viewer goes with it)."""
        await self.emit("revoked", {"message": PUBLIC_CLOSED}, to=viewer.sid)
        await self.disconnect(viewer.sid)

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
