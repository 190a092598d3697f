"""The ``/wall`` Socket.IO namespace: supervisors (监督人员) watch rooms live, silently.

A supervisor never sends media, never appears in a roster and changes nothing in a room but by
notes and warnings (standard 9). Who watched which room and seat, from when to when, is written
to the session's event log, as are the notes and warnings themselves (9-5).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from roomserver.errors import NotFound, NotYourRoom, RoomError, SessionEnded
from roomserver.model import Session, SessionState
from roomserver.policy import Action, Grants, Target, decide
from signaling.gate.guard import Guard, GuardedNamespace
from signaling.gate.schemas import (
    CameraViewRequest,
    FocusRequest,
    NoteRequest,
    UnwatchRequest,
    ViewerCandidateRequest,
    WarnRequest,
    WatchRequest,
    parse_payload,
)
from signaling.services.container import Services
from signaling.services.rooms import Room, SentWarning, roster_offline
from signaling.services.signals import Signals
from signaling.sockets.remote import RemoteRoom, RoomsServed
from signaling.sockets.seat import SeatNamespace, acked, refuse_connection, tell_cluster
from signaling.wire import WireError

logger = logging.getLogger(__name__)

NAMESPACE = "/wall"
# Changes that come in a burst (a room's seats joining) are sent to the wall as one update.
PUSH_DELAY_S = 0.2
# A centre-wide wall shows the live rooms and the sessions scheduled within this of now.
WALL_HORIZON_S = 12 * 3600


@dataclass
class View:
    """One viewer connection of a supervisor: a room (``watch``) or one of its seats (``focus``)."""

    viewer: str
    session_id: str
    seat: str | None
    camera: str | None = None
    started: float = field(default_factory=time.time)
    node: str | None = None  # the node of the room, when it is another node of the cluster

    @property
    def mode(self) -> str:
        if self.camera is not None:
            return "camera"
        return "focus" if self.seat is not None else "watch"


@dataclass
class Supervisor:
    """A connected supervision wall."""

    sid: str
    grants: Grants
    name: str
    views: dict[str, View] = field(default_factory=dict)

    def may_see(self, session_id: str, centre_id: str) -> bool:
        """Whether the policy lets this wall see the session (its own, every one, or every one
        of its centre: `centre_id` is the session's)."""
        target = Target(session_id=session_id, centre_ids=frozenset({centre_id}))
        return decide(self.grants, Action.WALL_SESSION, target).allowed


class WallNamespace(GuardedNamespace):
    """Supervision walls: live rooms, viewer connections, notes and warnings."""

    events = {
        **dict.fromkeys(("watch", "focus", "camera", "note", "warn"), Action.WALL_SESSION),
        **dict.fromkeys(("ice_candidate", "unwatch"), Action.WALL),
    }

    def __init__(
        self, services: Services, guard: Guard, seats: SeatNamespace, signals: Signals
    ) -> None:
        super().__init__(NAMESPACE, guard)
        self.services = services
        self.seats = seats
        self._by_sid: dict[str, Supervisor] = {}
        self._push_task: asyncio.Task[None] | None = None
        self._dirty = False
        signals.room_changed.connect(self.changed)
        signals.roster_changed.connect(self.changed)
        signals.media_restarted.connect(self.media_restarted)
        services.cluster.when_changed(self.changed)
        services.cluster.when_notified("media_restarted", self._remote_media_restarted)
        RoomsServed(services.cluster, services.rooms, seats)

    def connection_grants(self, sid: str) -> Grants | None:
        """The grants the wall connected with."""
        supervisor = self._by_sid.get(sid)
        return supervisor.grants if supervisor is not None else None

    def event_session(self, sid: str, grants: Grants, data: Any) -> str | None:
        """The session a request names (a centre-wide wall names one in each request)."""
        named = data.get("session_id") if isinstance(data, dict) else None
        return named if isinstance(named, str) else grants.session_id

    # -- connection -----------------------------------------------------------------------------

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        """Supervisor tokens only; a refusal carries a reason the page shows in Chinese."""
        request = environ.get("aiohttp.request")
        remote = request.remote if request is not None else environ.get("REMOTE_ADDR")
        session_id: str | None = None
        try:
            grants = await self.guard.socket_grants(environ, auth)
            session_id = grants.session_id
            await self.guard.check(grants, Action.WALL)
            name = await self._name(grants)
        except Exception as exc:
            await refuse_connection(self.services, NAMESPACE, exc, session_id, remote)
        supervisor = Supervisor(sid=sid, grants=grants, name=name)
        self._by_sid[sid] = supervisor
        await self.services.events.append(
            "wall_opened",
            {"supervisor": name, "token": grants.token_id, "remote": remote},
            session_id=grants.session_id,
            actor=grants.participant_id,
        )
        await self.emit(
            "hello",
            {
                "supervisor": {"name": name, "scope": "session" if session_id else "all"},
                **self.services.config.ice.grant(grants.participant_id, time.time()).as_json(),
            },
            to=sid,
        )
        await self._push_to([supervisor])
        await tell_cluster(self, self.services, [(sid, grants)])

    async def renew_cluster_notices(self) -> None:
        """Renew every wall's ``cluster`` notice (its hand-over login expires)."""
        await tell_cluster(self, self.services, [(s.sid, s.grants) for s in self._by_sid.values()])

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        """The wall is gone: end its viewer connections, each one logged."""
        supervisor = self._by_sid.pop(sid, None)
        if supervisor is None:
            return
        for view in list(supervisor.views.values()):
            await self._end_view(supervisor, view, "wall_closed")
        await self.services.events.append(
            "wall_closed",
            {"supervisor": supervisor.name},
            session_id=supervisor.grants.session_id,
            actor=supervisor.grants.participant_id,
        )

    # -- viewing --------------------------------------------------------------------------------

    @acked("watch")
    async def on_watch(self, sid: str, data: Any) -> dict[str, Any]:
        """Watch a live room: its grid and its whole mix."""
        request = parse_payload(WatchRequest, data)
        return await self._open_view(
            sid, request.session_id, request.viewer, None, request.sdp, dict(request.roles)
        )

    @acked("focus")
    async def on_focus(self, sid: str, data: Any) -> dict[str, Any]:
        """Watch one seat: its camera and desktop as sent, and the room's mix."""
        request = parse_payload(FocusRequest, data)
        return await self._open_view(
            sid, request.session_id, request.viewer, request.seat, request.sdp, dict(request.roles)
        )

    @acked("camera")
    async def on_camera(self, sid: str, data: Any) -> dict[str, Any]:
        """Watch a room monitoring camera, as it sends its pictures."""
        request = parse_payload(CameraViewRequest, data)
        return await self._open_view(
            sid,
            request.session_id,
            request.viewer,
            None,
            request.sdp,
            dict(request.roles),
            camera=request.camera,
        )

    @acked("ice_candidate")
    async def on_ice_candidate(self, sid: str, data: Any) -> dict[str, Any]:
        """A trickled ICE candidate of one of the wall's viewer connections."""
        request = parse_payload(ViewerCandidateRequest, data)
        supervisor = self._supervisor(sid)
        view = supervisor.views.get(request.viewer)
        if view is None:
            raise NotFound("没有这个观看连接")
        room = await self._live_room(view.session_id)
        candidate = request.model_dump(exclude={"viewer"})
        await room.media_request(
            "viewer_candidate", viewer=self._worker_key(sid, view.viewer), candidate=candidate
        )
        return {"ok": True}

    @acked("unwatch")
    async def on_unwatch(self, sid: str, data: Any) -> dict[str, Any]:
        """Stop one viewer connection."""
        request = parse_payload(UnwatchRequest, data)
        supervisor = self._supervisor(sid)
        view = supervisor.views.get(request.viewer)
        if view is not None:
            await self._end_view(supervisor, view, "closed")
        return {"ok": True}

    # -- notes and warnings ---------------------------------------------------------------------

    @acked("note")
    async def on_note(self, sid: str, data: Any) -> dict[str, Any]:
        """A supervision note (监督记录), archived with the session."""
        request = parse_payload(NoteRequest, data)
        supervisor = self._supervisor(sid)
        await self._open_session(supervisor, request.session_id, request.seat)
        event = await self.services.events.append(
            "supervision_note",
            {"text": request.text, "seat": request.seat, "supervisor": supervisor.name},
            session_id=request.session_id,
            actor=supervisor.grants.participant_id,
        )
        return {"ok": True, "seq": event.seq, "at": event.at.isoformat()}

    @acked("warn")
    async def on_warn(self, sid: str, data: Any) -> dict[str, Any]:
        """A warning shown on a seat's screen (or every seat's) until the expert acknowledges."""
        request = parse_payload(WarnRequest, data)
        supervisor = self._supervisor(sid)
        await self._open_session(supervisor, request.session_id, request.seat)
        room = await self._live_room(request.session_id)
        warning = SentWarning(id=secrets.token_hex(8), text=request.text, seat=request.seat)
        if isinstance(room, RemoteRoom):
            delivered = await room.deliver_warning(warning)
        else:
            delivered = await self.seats.deliver_warning(room, warning)
        await self.services.events.append(
            "supervision_warning",
            {
                "id": warning.id,
                "text": warning.text,
                "seat": warning.seat,
                "supervisor": supervisor.name,
                "delivered": delivered,
            },
            session_id=room.id,
            actor=supervisor.grants.participant_id,
        )
        return {"ok": True, "id": warning.id, "delivered": delivered}

    # -- called by the rest of the server -------------------------------------------------------

    def changed(self, room: Room | None = None) -> None:
        """Something the wall shows changed (a roster, a room opened or closed, a warning); in
        a cluster, also what the other nodes' walls show of this node's rooms."""
        if not self._by_sid and self.services.cluster.alone:
            return
        self._dirty = True
        if self._push_task is None or self._push_task.done():
            self._push_task = self.services.tasks.spawn(self._push_later(), name="wall-push")

    async def media_restarted(self, room: Room) -> None:
        """The room's media moved to a new worker: its viewers negotiate again."""
        for supervisor in list(self._by_sid.values()):
            views = [v for v in supervisor.views.values() if v.session_id == room.id]
            for view in views:
                await self._end_view(supervisor, view, "media_restart", close=False)
            if views:
                await self.emit("media_restart", {"session_id": room.id}, to=supervisor.sid)
        self.changed()
        # The walls of the cluster's other nodes that watch the room negotiate again too.
        await self.services.cluster.notify("media_restarted", {"session_id": room.id})

    async def _remote_media_restarted(self, data: dict[str, Any]) -> None:
        """A room on another node restarted its media: this node's walls watching it
        negotiate again."""
        session_id = str(data.get("session_id"))
        for supervisor in list(self._by_sid.values()):
            views = [
                v
                for v in supervisor.views.values()
                if v.session_id == session_id and v.node is not None
            ]
            for view in views:
                await self._end_view(supervisor, view, "media_restart", close=False)
            if views:
                await self.emit("media_restart", {"session_id": session_id}, to=supervisor.sid)

    async def close_all(self) -> None:
        """Forget every wall (at shutdown; the rooms close their viewers themselves)."""
        if self._push_task is not None:
            self._push_task.cancel()
        self._by_sid.clear()

    async def log_refusal(self, sid: str, event: str, err: Any) -> None:
        """Every refused request is logged, with the supervisor who made it."""
        supervisor = self._by_sid.get(sid)
        await self.services.events.append(
            "request_refused",
            {"namespace": NAMESPACE, "event": event, "code": err.code},
            session_id=supervisor.grants.session_id if supervisor else None,
            actor=supervisor.grants.participant_id if supervisor else None,
        )

    # -- internals ------------------------------------------------------------------------------

    async def _open_view(
        self,
        sid: str,
        session_id: str,
        viewer: str,
        seat: str | None,
        sdp: str,
        roles: dict[str, str],
        *,
        camera: str | None = None,
    ) -> dict[str, Any]:
        supervisor = self._supervisor(sid)
        await self._open_session(supervisor, session_id, seat)
        room = await self._live_room(session_id)
        if not isinstance(room, RemoteRoom) and camera is not None and camera not in room.cameras:
            raise NotFound("该评标室没有这个监控摄像头")
        previous = supervisor.views.get(viewer)
        if previous is not None:
            await self._end_view(supervisor, previous, "replaced")
        answer = await room.media_request(
            "open_viewer",
            viewer=self._worker_key(sid, viewer),
            seat=seat,
            camera=camera,
            sdp=sdp,
            roles=roles,
        )
        view = View(
            viewer=viewer,
            session_id=session_id,
            seat=seat,
            camera=camera,
            node=room.node_id if isinstance(room, RemoteRoom) else None,
        )
        if self._by_sid.get(sid) is not supervisor:
            # The wall went away while the worker answered: nobody will watch this viewer.
            with contextlib.suppress(WireError):
                await room.media_request("close_viewer", viewer=self._worker_key(sid, viewer))
            raise NotYourRoom("监督墙连接已失效，请刷新页面")
        supervisor.views[viewer] = view
        await self.services.events.append(
            "supervision_started",
            {"supervisor": supervisor.name, "view": view.mode, "seat": seat, "camera": camera},
            session_id=session_id,
            actor=supervisor.grants.participant_id,
        )
        return {"ok": True, "type": "answer", "sdp": answer["sdp"]}

    async def _end_view(
        self, supervisor: Supervisor, view: View, reason: str, *, close: bool = True
    ) -> None:
        supervisor.views.pop(view.viewer, None)
        room: Room | RemoteRoom | None = self.services.rooms.find(view.session_id)
        if view.node is not None:
            room = RemoteRoom(self.services.cluster, view.node, view.session_id)
        if close and room is not None:
            # A node that is gone, or a room closed there, has closed the viewer itself.
            with contextlib.suppress(WireError, RoomError, TimeoutError):
                await room.media_request(
                    "close_viewer", viewer=self._worker_key(supervisor.sid, view.viewer)
                )
        await self.services.events.append(
            "supervision_ended",
            {
                "supervisor": supervisor.name,
                "view": view.mode,
                "seat": view.seat,
                "camera": view.camera,
                "seconds": round(time.time() - view.started, 1),
                "reason": reason,
            },
            session_id=view.session_id,
            actor=supervisor.grants.participant_id,
        )

    def _supervisor(self, sid: str) -> Supervisor:
        supervisor = self._by_sid.get(sid)
        if supervisor is None:
            raise NotYourRoom("监督墙连接已失效，请刷新页面")
        return supervisor

    async def _open_session(
        self, supervisor: Supervisor, session_id: str, seat: str | None
    ) -> Session:
        """The session, if it has not ended (and has `seat`); the policy let the wall ask."""
        session = await self.services.store.get_session(session_id)
        if session.state == SessionState.ENDED:
            raise SessionEnded("该场评标已结束")
        if seat is not None:
            roster = await self._roster(session_id)
            if not any(s["key"] == seat for s in roster["seats"]):
                raise NotFound("该评标室没有这个机位")
        return session

    async def _live_room(self, session_id: str) -> Room | RemoteRoom:
        """The session's live room: here, or on another node of the cluster."""
        room = self.services.rooms.find(session_id)
        if room is not None and not room.ended:
            return room
        cluster = self.services.cluster
        if not cluster.alone:
            placement = await self.services.store.cluster.placement(session_id)
            node = cluster.node_of(session_id, placement)
            if node is not None:
                return RemoteRoom(cluster, node, session_id)
        raise NotFound("该评标室尚无机位上线，暂无画面")

    @staticmethod
    def _worker_key(sid: str, viewer: str) -> str:
        """The viewer's name in the media worker: unique across every wall."""
        return f"{sid}-{viewer}"

    async def _name(self, grants: Grants) -> str:
        if grants.session_id is not None:
            participant = await self.services.store.get_participant(grants.participant_id)
            if participant.session_id != grants.session_id:
                raise NotYourRoom()
            return participant.name
        return grants.participant_id.removeprefix("supervisor:")

    async def _roster(self, session_id: str) -> dict[str, Any]:
        room = self.services.rooms.find(session_id)
        if room is not None:
            return room.roster_payload()
        return await roster_offline(self.services.store, session_id)

    async def _push_later(self) -> None:
        # A change made while a push is being put together is pushed after it.
        while self._dirty:
            self._dirty = False
            await asyncio.sleep(PUSH_DELAY_S)
            await self._push_to(list(self._by_sid.values()))

    async def _publish(self) -> None:
        """Tell the cluster's other nodes this node's live rooms, as their walls list them."""
        rooms = [room for room in self.services.rooms if not room.ended]
        await self.services.cluster.publish_live(
            {room.id: await self._room_info(room.session) for room in rooms}
        )

    async def _push_to(self, supervisors: list[Supervisor]) -> None:
        """Send each wall the rooms it may see; views of rooms no longer live are ended."""
        if not self.services.cluster.alone:
            try:
                await self._publish()
            except Exception:
                logger.exception("could not publish this node's live rooms")
        if not supervisors:
            return
        remote = await self.services.cluster.remote_live()
        scoped = {s.grants.session_id for s in supervisors}
        if None in scoped:
            now = time.time()
            sessions = [
                s
                for s in await self.services.store.list_sessions()
                if s.state != SessionState.ENDED
                and (
                    self.services.rooms.find(s.id) is not None
                    or s.id in remote
                    or abs(s.scheduled_start.timestamp() - now) <= WALL_HORIZON_S
                )
            ]
        else:
            sessions = [await self.services.store.get_session(sid) for sid in scoped if sid]
        sessions.sort(key=lambda s: (s.scheduled_start, s.project_code))
        # A room live on another node of the cluster is shown as that node tells it.
        infos = {
            s.id: remote[s.id]
            if s.id in remote and self.services.rooms.find(s.id) is None
            else await self._room_info(s)
            for s in sessions
        }
        venues = {v.id: v for v in await self.services.store.list_venues()}
        centre_of = {s.id: venues[s.main_venue_id].centre_id for s in sessions}
        for supervisor in supervisors:
            if self._by_sid.get(supervisor.sid) is not supervisor:
                continue
            for view in list(supervisor.views.values()):
                room = self.services.rooms.find(view.session_id)
                here = room is not None and not room.ended
                if view.node is None and here:
                    continue
                if view.node is not None and view.session_id in remote and not here:
                    continue
                lost = view.node is not None and self.services.cluster.url_of(view.node) is None
                if here or view.session_id in remote or lost:
                    # The room moved between nodes, or is moving (its node was lost): watch it
                    # again there (the page tries until the room has opened on its new node).
                    await self._end_view(supervisor, view, "media_restart", close=False)
                    await self.emit(
                        "media_restart", {"session_id": view.session_id}, to=supervisor.sid
                    )
                    continue
                # The room closed; the worker closed its viewers with it.
                await self._end_view(supervisor, view, "room_closed")
                await self.emit("room_closed", {"session_id": view.session_id}, to=supervisor.sid)
            rooms = [info for sid, info in infos.items() if supervisor.may_see(sid, centre_of[sid])]
            await self.emit("rooms", {"rooms": rooms}, to=supervisor.sid)

    async def _room_info(self, session: Session) -> dict[str, Any]:
        room = self.services.rooms.find(session.id)
        roster = await self._roster(session.id)
        seats = roster["seats"]
        return {
            "session_id": session.id,
            "project_code": session.project_code,
            "project_name": session.project_name,
            "scheduled_start": session.scheduled_start.isoformat(),
            "live": room is not None and not room.ended,
            "seats_online": sum(1 for s in seats if s["online"]),
            "seats_expected": len(seats),
            "seats": seats,
            "warnings": self.services.warnings.for_session(session.id),
            "cameras": [
                {k: v for k, v in c.items() if k != "logged"} for c in room.cameras.values()
            ]
            if room is not None
            else [],
        }
