"""The roster and the venue's doors: experts drawn by the expert management system (5.5.9),
the replacement of an expert who withdrew or took leave, and door-access entries (5.4.2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from roomserver.errors import InvalidRequest
from roomserver.model import Participant, Role, id_last4, new_id
from roomserver.policy import Action
from roomserver.rules import check_seat, takes_door_entries
from roomserver.workflow import Phase
from signaling.gate.guard import body_of, grants_of, route
from signaling.gate.schemas import DoorEntry, ExpertsImport, ReplacementRequest
from signaling.http.api import SEATS, SERVICES
from signaling.http.links import issue_participant_url, revoke_links
from signaling.services.workflow import state_json

MAX_IMPORT = 30


def _expert_json(p: Participant, url: str) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "venue_id": p.venue_id,
        "seat_no": p.seat_no,
        "id_last4": p.id_last4,
        "url": url,
    }


async def hand_over_seat(
    request: web.Request, expert_id: str, replacement: Participant
) -> dict[str, Any]:
    """The replaced expert's links end with their seat (they open nothing of theirs any more);
    the replacement's seat and new link, to hand over at the venue."""
    await revoke_links(request, "专家已被替换", subject=expert_id)
    by = grants_of(request).participant_id
    _, url = await issue_participant_url(request, replacement, by=by)
    return _expert_json(replacement, url)


async def import_experts(request: web.Request) -> web.Response:
    """``POST /api/sessions/{id}/experts`` {experts: [{name, venue_id, seat_no, id_number?}]}
    (admin, for the expert management system): the drawn experts, before check-in opens.

    All or none are stored. An ID number is checked and kept to its last four digits. The
    answer gives each expert's seat link.
    """
    services = request.app[SERVICES]
    grants = grants_of(request)
    body = body_of(request, ExpertsImport)
    session_id = request.match_info["session_id"]
    session = await services.store.get_session(session_id)
    if (await services.workflow.state(session_id)).phase != Phase.SCHEDULED:
        raise InvalidRequest("签到开始后不能再导入专家；请使用替换专家")
    venues = {v: await services.store.get_venue(v) for v in session.venue_ids()}
    experts: list[Participant] = []
    seats: set[tuple[str, int]] = set()
    for i, entry in enumerate(body.experts, 1):
        venue = venues.get(entry.venue_id)
        if venue is None:
            raise InvalidRequest(f"第 {i} 名专家的评标室不属于本场评标")
        check_seat(session, venue, entry.seat_no)
        if (venue.id, entry.seat_no) in seats:
            raise InvalidRequest(f"第 {i} 名专家的机位与名单中其他专家重复")
        seats.add((venue.id, entry.seat_no))
        experts.append(
            Participant(
                id=new_id(),
                session_id=session.id,
                role=Role.EXPERT,
                name=entry.name,
                venue_id=venue.id,
                seat_no=entry.seat_no,
                id_last4=id_last4(entry.id_number) if entry.id_number else None,
            )
        )
    await services.store.add_experts(experts)
    services.workflow.forget(session_id)  # the roster changed: rebuilt on next use
    room = services.rooms.find(session_id)
    if room is not None:
        # Experts already online see the newcomers in the roster and in the grid.
        await services.rooms.refresh_roster(room)
        await request.app[SEATS].roster_reloaded(room)
    await services.events.append(
        "experts_imported",
        {
            "experts": [
                {"id": p.id, "name": p.name, "venue": p.venue_id, "seat": p.seat_no}
                for p in experts
            ]
        },
        session_id=session.id,
        actor=grants.participant_id,
    )
    links = []
    for p in experts:
        _, url = await issue_participant_url(request, p, by=grants.participant_id)
        links.append(_expert_json(p, url))
    return web.json_response({"experts": links}, status=201)


async def replace_expert(request: web.Request) -> web.Response:
    """``POST /api/sessions/{id}/experts/{expert_id}/replacement`` {name, id_number?, reason?}:
    the host or the venue's staff give the seat of an expert who withdrew (回避) or took leave
    to the expert newly drawn; the answer has the new expert's seat link."""
    services = request.app[SERVICES]
    grants = grants_of(request)
    body = body_of(request, ReplacementRequest)
    state, happened, replacement = await services.workflow.replace_expert(
        request.match_info["session_id"],
        grants,
        request.match_info["expert_id"],
        name=body.name,
        id_number=body.id_number,
        reason=body.reason,
    )
    seat = await hand_over_seat(request, request.match_info["expert_id"], replacement)
    return web.json_response(
        {"happened": happened.kind, "state": state_json(state), "replacement": seat},
        status=201,
    )


# An entry's own time may be this far from the server's clock.
DOOR_HORIZON = timedelta(hours=12)
DOOR_DIRECTIONS = {"in": "进入", "out": "离开"}


async def door_access(request: web.Request) -> web.Response:
    """``POST /api/venues/{venue_id}/door-access`` {name, direction: in|out, at?, card?}: an
    entry or exit posted by the venue's access-control system (5.4.2), filed in the activity
    record of every session of the venue that is live or about to start
    (``roomserver.rules.takes_door_entries``)."""
    services = request.app[SERVICES]
    grants = grants_of(request)
    body = body_of(request, DoorEntry)
    venue = await services.store.get_venue(request.match_info["venue_id"])
    name, direction, card = body.name, body.direction, body.card
    now = datetime.now(UTC)
    at = now
    if body.at is not None:
        try:
            at = datetime.fromisoformat(body.at)
        except ValueError as exc:
            raise InvalidRequest("at 必须是带时区的 ISO 8601 时间") from exc
        if at.tzinfo is None or abs(at - now) > DOOR_HORIZON:
            raise InvalidRequest("at 必须带时区，且在当前时间前后 12 小时内")
    data = {
        "venue": venue.id,
        "venue_name": venue.name,
        "name": name,
        "direction": direction,
        "at": at.astimezone(UTC).isoformat(),
        # A card number is kept to its last four digits, like an ID number on the roster.
        "card_last4": card[-4:] if card else None,
    }
    filed = []
    for session in await services.store.list_sessions():
        if not takes_door_entries(session, venue.id, now):
            continue
        await services.events.append(
            "door_access", data, session_id=session.id, actor=grants.participant_id
        )
        filed.append(session.id)
    if not filed:
        await services.events.append("door_access", data, actor=grants.participant_id)
    return web.json_response({"sessions": filed}, status=201)


def add_roster_routes(app: web.Application) -> None:
    """Register the roster and door-access routes."""
    route(
        app,
        "POST",
        "/api/sessions/{session_id}/experts",
        import_experts,
        Action.EXPERTS_IMPORT,
        body=ExpertsImport,
        summary="导入专家管理系统抽取的专家名单（5.5.9）",
    )
    route(
        app,
        "POST",
        "/api/sessions/{session_id}/experts/{expert_id}/replacement",
        replace_expert,
        Action.EXPERT_REPLACE,
        body=ReplacementRequest,
        summary="以补抽的专家替换请假或缺席的专家",
    )
    route(
        app,
        "POST",
        "/api/venues/{venue_id}/door-access",
        door_access,
        Action.DOOR_ACCESS,
        body=DoorEntry,
        summary="评标室门禁系统报送出入记录",
    )
