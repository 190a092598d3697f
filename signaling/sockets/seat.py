"""The ``/seat`` Socket.IO namespace: experts' seats join, negotiate media and leave."""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

import socketio

from roomserver.disclosure import happened_for_experts, roster_for_experts
from roomserver.errors import InvalidRequest, NotYourRoom, RoomError, Unavailable
from roomserver.model import Session
from roomserver.policy import Action, Grants
from roomserver.rules import check_expert_seat
from roomserver.workflow import Happened, WorkflowState
from signaling.errors import as_room_error, error_ack
from signaling.gate.guard import Guard, GuardedNamespace
from signaling.gate.schemas import (
    AckWarningRequest,
    IceCandidateRequest,
    JoinRequest,
    LeaveRequest,
    OfferRequest,
    parse_payload,
)
from signaling.services.container import Services
from signaling.services.rooms import Room, SeatState, SentWarning, seat_key
from signaling.services.signals import Signals
from signaling.services.workflow import state_json
from signaling.wire import ConnectionLost, WireError

logger = logging.getLogger(__name__)

NAMESPACE = "/seat"
# What a seat is told when its expert no longer takes part, by the workflow step that did it.
LEFT_MESSAGES = {
    "expert_replaced": "本机位已由新抽取的专家接替，本窗口已断开",
    "expert_withdrew": "您已申请回避，不再参加本场评标，本窗口已断开",
    "expert_excused": "主持人已准许您离席，您不再参加本场评标，本窗口已断开",
}
Handler = Callable[..., Awaitable[dict[str, Any]]]


def session_room(session_id: str) -> str:
    """The Socket.IO room of everyone connected to a session."""
    return f"session:{session_id}"


def acked(event: str) -> Callable[[Handler], Handler]:
    """Turn a handler's errors into an error ack and a logged refusal; the connection survives."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def run(self: SeatNamespace, sid: str, data: Any = None) -> dict[str, Any]:
            try:
                return await handler(self, sid, data)
            except Exception as exc:
                err = as_room_error(exc)
                self.services.metrics.refused(err.code)
                await self.log_refusal(sid, event, err)
                return error_ack(exc)

        return run

    return wrap


async def refuse_connection(
    services: Services, namespace: str, exc: BaseException, session_id: str | None, remote: Any
) -> NoReturn:
    """Log a refused Socket.IO connection and refuse it with a reason the page shows."""
    err = as_room_error(exc)
    services.metrics.refused(err.code)
    await services.events.append(
        "connect_refused",
        {"namespace": namespace, "code": err.code, "remote": remote},
        session_id=session_id,
    )
    raise socketio.exceptions.ConnectionRefusedError(err.message, {"code": err.code}) from None


async def send_on(services: Services, grants: Grants, url: str) -> NoReturn:
    """Refuse a connection whose room lives on another node of the cluster: the refusal names
    the node and carries a hand-over login for it (for a page logged in with a link)."""
    services.metrics.refused("moved")
    data: dict[str, Any] = {"code": "moved", "url": url}
    if grants.link_id is not None:
        data["handover"] = services.tokens.issue_handover(grants)
    raise socketio.exceptions.ConnectionRefusedError("正在转接到本场所在的服务器…", data)


async def follow_room(
    services: Services, namespace: str, grants: Grants, session: Session, remote: Any
) -> None:
    """In a cluster, refuse a connection that reached another node than its room's (sent on),
    or that no node can take now (tried again); alone, or on the room's node, nothing."""
    try:
        elsewhere = await services.cluster.home_of(session)
    except Unavailable as exc:
        await refuse_connection(services, namespace, exc, session.id, remote)
    if elsewhere is not None:
        await send_on(services, grants, elsewhere)


def cluster_notice(services: Services, grants: Grants) -> dict[str, Any] | None:
    """What a page keeps to find its room again if this node is lost: the other nodes and a
    hand-over login (renewed while it is connected); None for a server alone."""
    if services.cluster.alone:
        return None
    return {
        "nodes": services.cluster.peer_urls(),
        "handover": services.tokens.issue_handover(grants) if grants.link_id else None,
    }


async def tell_cluster(
    namespace: socketio.AsyncNamespace,
    services: Services,
    connections: list[tuple[str, Grants]],
) -> None:
    """Send each connection (sid, grants) its ``cluster`` notice; nothing for a server alone."""
    for sid, grants in connections:
        notice = cluster_notice(services, grants)
        if notice is None:
            return
        await namespace.emit("cluster", notice, to=sid)


class SeatNamespace(GuardedNamespace):
    """Seats of experts: one connection per seat, the latest one wins."""

    events = {
        name: Action.SEAT for name in ("join", "offer", "ice_candidate", "leave", "ack_warning")
    }

    def __init__(self, services: Services, guard: Guard, signals: Signals) -> None:
        super().__init__(NAMESPACE, guard)
        self.services = services
        self._signals = signals
        self._by_sid: dict[str, tuple[Room, SeatState]] = {}
        self._grants: dict[str, Grants] = {}
        signals.seat_media.connect(self._schedule_roster)
        signals.media_restarted.connect(self.media_restarted)
        signals.room_ending.connect(self.end_room)
        signals.workflow_happened.connect(self.workflow_changed)
        signals.workflow_happened.connect(self._expert_left)

    # -- connection -------------------------------------------------------------------------------

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        """Check the token and the seat; refuse with a reason the page shows in Chinese."""
        store = self.services.store
        request = environ.get("aiohttp.request")
        remote = request.remote if request is not None else environ.get("REMOTE_ADDR")
        session_id: str | None = None
        try:
            grants = await self.guard.socket_grants(environ, auth)
            session_id = grants.session_id
            await self.guard.check(grants, Action.SEAT, session_id=session_id)
            if session_id is None or grants.seat_key is None:
                raise NotYourRoom()
            participant = await store.get_participant(grants.participant_id)
            session = await store.get_session(session_id)
            if participant.session_id != session.id:
                raise NotYourRoom()
            if participant.venue_id != grants.venue_id or participant.seat_no != grants.seat_no:
                raise NotYourRoom("该凭证与专家的机位安排不符")
            venue = await store.get_venue(participant.venue_id or "")
            check_expert_seat(session, venue, participant)
        except Exception as exc:
            await refuse_connection(self.services, NAMESPACE, exc, session_id, remote)

        await follow_room(self.services, NAMESPACE, grants, session, remote)
        try:
            room = await self.services.rooms.get(session.id)
        except (ConnectionLost, WireError, TimeoutError) as exc:
            # A media worker is being replaced: the page retries this code after a pause.
            logger.warning("room %s cannot open now: %s", session.id, exc)
            self.services.metrics.refused("media_unavailable")
            raise socketio.exceptions.ConnectionRefusedError(
                "媒体服务正在恢复，请稍候，页面将自动重试", {"code": "media_unavailable"}
            ) from None
        key = seat_key(venue.id, participant.seat_no or 0)
        previous = room.seats.get(key)
        state = SeatState(key=key, sid=sid, participant_id=participant.id)
        room.seats[key] = state
        self._by_sid[sid] = (room, state)
        self._grants[sid] = grants
        await self.enter_room(sid, session_room(session.id))
        await self.services.events.append(
            "seat_connected",
            {
                "seat": key,
                "token": grants.token_id,
                "remote": remote,
                "replaces": previous is not None,
            },
            session_id=session.id,
            actor=participant.id,
        )
        if previous is not None:
            await self._replace(room, previous)
        await self._push_roster(room)
        workflow = await self.services.workflow.state(session.id)
        await self.emit("workflow", {"state": state_json(workflow), "happened": None}, to=sid)
        # Warnings not yet acknowledged at this seat are shown again (after a reload, say).
        for warning in room.warnings_sent.values():
            if warning.is_for(key) and key not in warning.acknowledged:
                await self.emit("warning", warning.payload(), to=sid)
        await tell_cluster(self, self.services, [(sid, grants)])

    async def renew_cluster_notices(self) -> None:
        """Renew every seat's notice (its hand-over login expires)."""
        await tell_cluster(self, self.services, list(self._grants.items()))

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        """The socket is gone: free the seat's media unless another connection took the seat."""
        self._grants.pop(sid, None)
        entry = self._by_sid.pop(sid, None)
        if entry is None:
            return
        room, state = entry
        if room.seats.get(state.key) is state:
            await self._close_seat_media(room, state)
            if room.seats.get(state.key) is state:  # the room may have closed meanwhile
                del room.seats[state.key]
            await self.services.events.append(
                "seat_disconnected",
                {"seat": state.key, "reason": str(reason) if reason is not None else None},
                session_id=room.id,
                actor=state.participant_id,
            )
            await self._push_roster(room)
            self.services.rooms.release(room)

    def connection_grants(self, sid: str) -> Grants | None:
        """The grants the seat connected with."""
        return self._grants.get(sid)

    # -- events -----------------------------------------------------------------------------------

    @acked("join")
    async def on_join(self, sid: str, data: Any) -> dict[str, Any]:
        """Seat details and ICE servers for the page."""
        parse_payload(JoinRequest, data)
        room, state = self._entry(sid)
        seat = room.roster_seat(state.key)
        assert seat is not None  # checked at connect
        await self.services.events.append(
            "seat_joined", {"seat": state.key}, session_id=room.id, actor=state.participant_id
        )
        return {
            "ok": True,
            "seat": {
                "key": state.key,
                "session_id": room.id,
                "project_name": room.session.project_name,
                "project_code": room.session.project_code,
                "label": seat.label,
                "venue_name": seat.venue_name,
                "venue_kind": str(seat.venue_kind),
                "seat_no": seat.seat_no,
                "expert_name": seat.expert_name,
            },
            **self.services.config.ice.grant(state.participant_id, time.time()).as_json(),
            "roster": roster_for_experts(room.roster_payload()),
        }

    @acked("offer")
    async def on_offer(self, sid: str, data: Any) -> dict[str, Any]:
        """Answer the seat's offer; its tracks join the room."""
        request = parse_payload(OfferRequest, data)
        room, state = self._entry(sid)
        answer = (
            await room.media_request(
                "negotiate", seat=state.key, sdp=request.sdp, roles=dict(request.roles)
            )
        )["sdp"]
        await self.services.events.append(
            "media_negotiated",
            {"seat": state.key, "roles": sorted(request.roles.values())},
            session_id=room.id,
            actor=state.participant_id,
        )
        return {"ok": True, "type": "answer", "sdp": answer}

    @acked("ice_candidate")
    async def on_ice_candidate(self, sid: str, data: Any) -> dict[str, Any]:
        """A trickled ICE candidate of the browser."""
        request = parse_payload(IceCandidateRequest, data)
        room, state = self._entry(sid)
        await room.media_request("add_candidate", seat=state.key, candidate=request.model_dump())
        return {"ok": True}

    @acked("leave")
    async def on_leave(self, sid: str, data: Any) -> dict[str, Any]:
        """The expert leaves the seat on purpose."""
        parse_payload(LeaveRequest, data)
        room, state = self._entry(sid)
        await self.services.events.append(
            "seat_left", {"seat": state.key}, session_id=room.id, actor=state.participant_id
        )
        await self._close_seat_media(room, state)
        return {"ok": True}

    @acked("ack_warning")
    async def on_ack_warning(self, sid: str, data: Any) -> dict[str, Any]:
        """The expert acknowledged a supervisor's warning (logged once per seat)."""
        request = parse_payload(AckWarningRequest, data)
        room, state = self._entry(sid)
        warning = room.warnings_sent.get(request.id)
        if warning is None or not warning.is_for(state.key):
            raise InvalidRequest("没有这条提醒")
        if state.key in warning.acknowledged:
            return {"ok": True, "already": True}
        warning.acknowledged.add(state.key)
        await self.services.events.append(
            "warning_acknowledged",
            {"id": warning.id, "seat": state.key},
            session_id=room.id,
            actor=state.participant_id,
        )
        return {"ok": True}

    async def deliver_warning(self, room: Room, warning: SentWarning) -> int:
        """Show a supervisor's warning on its seat (or every seat); how many seats got it."""
        room.warnings_sent[warning.id] = warning
        delivered = 0
        for state in list(room.seats.values()):
            if warning.is_for(state.key):
                await self.emit("warning", warning.payload(), to=state.sid)
                delivered += 1
        return delivered

    # -- helpers ----------------------------------------------------------------------------------

    async def _close_seat_media(self, room: Room, state: SeatState) -> None:
        """Close a seat's media in the worker (nothing to do if the worker is gone)."""
        state.tracks.clear()
        with contextlib.suppress(WireError):
            await room.media_request("close_seat", seat=state.key)

    def _entry(self, sid: str) -> tuple[Room, SeatState]:
        entry = self._by_sid.get(sid)
        if entry is None or entry[0].seats.get(entry[1].key) is not entry[1]:
            raise NotYourRoom("该连接已不在评标室中")
        return entry

    async def _replace(self, room: Room, previous: SeatState) -> None:
        """A newer connection took the seat: tell the old one why, then drop it."""
        self._by_sid.pop(previous.sid, None)
        self._grants.pop(previous.sid, None)
        await self.emit(
            "replaced",
            {"code": "seat_replaced", "message": "该机位已在另一台设备或窗口登录，本窗口已断开"},
            to=previous.sid,
        )
        await self._close_seat_media(room, previous)
        await self.services.events.append(
            "seat_replaced",
            {"seat": previous.key},
            session_id=room.id,
            actor=previous.participant_id,
        )
        await self.disconnect(previous.sid)

    async def roster_reloaded(self, room: Room) -> None:
        """The roster was read again (experts imported): every seat gets it."""
        await self._push_roster(room)

    def _expert_left(self, session_id: str, state: WorkflowState, happened: Happened) -> None:
        # Whoever no longer takes part loses the seat's connection at once.
        if happened.kind in LEFT_MESSAGES:
            self.services.tasks.spawn(
                self._send_away(session_id, str(happened.data["expert"]), happened.kind),
                name="expert-left",
            )

    async def _send_away(self, session_id: str, expert_id: str, happened: str) -> None:
        room = self.services.rooms.find(session_id)
        if room is not None:
            if happened == "expert_replaced":
                await self.services.rooms.refresh_roster(room)
            await self.expert_left(room, expert_id, happened)  # pushes the roster on

    async def expert_left(self, room: Room, expert_id: str, happened: str) -> None:
        """An expert no longer takes part (withdrew, was excused, or was replaced): their
        connection is told why and ended at once, and everyone gets the new roster."""
        message = LEFT_MESSAGES.get(happened, "您不再参加本场评标，本窗口已断开")
        for state in list(room.seats.values()):
            if state.participant_id != expert_id:
                continue
            self._by_sid.pop(state.sid, None)
            self._grants.pop(state.sid, None)
            del room.seats[state.key]
            await self.emit("replaced", {"code": happened, "message": message}, to=state.sid)
            await self._close_seat_media(room, state)
            await self.disconnect(state.sid)
        await self._push_roster(room)

    async def log_refusal(self, sid: str, event: str, err: RoomError) -> None:
        """Every refused request is an event of the session it was aimed at."""
        entry = self._by_sid.get(sid)
        await self.services.events.append(
            "request_refused",
            {"event": event, "code": err.code, "seat": entry[1].key if entry else None},
            session_id=entry[0].id if entry else None,
            actor=entry[1].participant_id if entry else None,
        )

    def _schedule_roster(self, room: Room) -> None:
        self.services.tasks.spawn(self._push_roster(room), name=f"roster-{room.id}")

    async def _push_roster(self, room: Room) -> None:
        with contextlib.suppress(WireError):
            await room.media_request("set_online", seats=sorted(room.seats))
        await self.emit(
            "roster", roster_for_experts(room.roster_payload()), room=session_room(room.id)
        )
        self._signals.roster_changed(room)

    async def media_restarted(self, room: Room) -> None:
        """The room's media was restarted (its worker died): every seat negotiates again."""
        await self.emit(
            "media_restart",
            {"message": "媒体服务已恢复，正在重新连接音视频"},
            room=session_room(room.id),
        )
        await self._push_roster(room)

    def workflow_changed(self, session_id: str, state: WorkflowState, happened: Happened) -> None:
        """Tell every seat of the session where the committee stands and what just happened
        (as far as experts are told: ``roomserver.disclosure``)."""
        data = happened_for_experts(happened.kind, happened.data)
        payload = {"state": state_json(state), "happened": {"kind": happened.kind, "data": data}}
        self.services.tasks.spawn(
            self.emit("workflow", payload, room=session_room(session_id)), name="seat-workflow"
        )

    async def end_room(self, room: Room, notice: str | None = None) -> None:
        """The session ended: tell its seats why, close their media and connections."""
        message = notice or "主场已发出评审结束指令，本场评标结束。"
        await self.emit(
            "session_ended",
            {"message": f"{message}请按工作人员指引离场。"},
            room=session_room(room.id),
        )
        await self._disconnect_seats(room)

    async def send_elsewhere(self, room: Room) -> None:
        """The room is pinned to another node now: its seats are disconnected, and sent there
        when they reconnect."""
        await self._disconnect_seats(room)

    async def _disconnect_seats(self, room: Room) -> None:
        for sid, (entry_room, state) in list(self._by_sid.items()):
            if entry_room is not room:
                continue
            self._by_sid.pop(sid, None)
            room.seats.pop(state.key, None)
            await self.disconnect(sid)

    async def notify_shutdown(self) -> None:
        """Tell every seat that the server is going away (it will reconnect)."""
        await self.emit("server_shutdown", {"message": "服务器正在重启，连接将自动恢复"})

    async def close_all(self) -> None:
        """Close every seat's media (at shutdown)."""
        self._by_sid.clear()
