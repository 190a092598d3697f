"""Devices and connections of the sessions, for ops engineers (运维技术人员, 6.4, 7.2.6-6) and the
people of a venue: what is connected, what is missing or failing, and the platform faults
recorded, never what anybody says or shows (no names, no pictures, no votes).

- ``GET /api/health/sessions``: the sessions running or due within half a day, each in brief,
  for an ops engineer of the province or of one centre (only that centre's sessions);
- ``GET /api/sessions/{session_id}/health``: one session's venues, seats, room cameras, media
  worker, the open device warnings and the incidents.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from roomserver.errors import RoomError
from roomserver.model import Session, SessionState, Venue
from roomserver.policy import Action
from roomserver.warnings import WarningKind
from signaling.gate.guard import grants_of, route
from signaling.gate.health import HealthList, SessionHealth
from signaling.http.api import SERVICES
from signaling.services.container import Services
from signaling.services.rooms import roster_offline

# Sessions due within this of now are listed besides the live ones.
HORIZON_S = 12 * 3600
# What a device or a connection does wrong; the others (an empty seat, a second face, lateness)
# are the supervisors' business.
DEVICE_WARNINGS = frozenset(
    {
        WarningKind.CAMERA_DARK,
        WarningKind.CAMERA_FROZEN,
        WarningKind.CAMERA_LOST,
        WarningKind.MICROPHONE_LOST,
        WarningKind.DESKTOP_STOPPED,
        WarningKind.DESKTOP_MISSING,
        WarningKind.SEAT_DISCONNECTED,
        WarningKind.ROOM_CAMERA_DOWN,
    }
)
CAMERA_KEYS = ("id", "label", "state", "detail", "codec", "recorded")


def _iso(at: float | None) -> str | None:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds") if at else None


def _session_json(session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "project_code": session.project_code,
        "project_name": session.project_name,
        "state": str(session.state),
        "scheduled_start": session.scheduled_start.isoformat(),
    }


def _venues_json(session: Session, venues: Mapping[str, Venue]) -> list[dict[str, Any]]:
    """The session's venues, main first: where a seat or an incident is."""
    return [
        {
            "id": venue_id,
            "name": venues[venue_id].name,
            "city": venues[venue_id].city,
            "kind": str(session.venue_kind(venue_id)),
        }
        for venue_id in session.venue_ids()
    ]


async def _health(
    services: Services, session: Session, venues: Mapping[str, Venue]
) -> dict[str, Any]:
    room = services.rooms.find(session.id)
    live = room is not None and not room.ended
    roster = (
        room.roster_payload()
        if room is not None
        else await roster_offline(services.store, session.id)
    )
    seats = []
    for seat in roster["seats"]:
        state = room.seats.get(seat["key"]) if room is not None else None
        seats.append(
            {
                "key": seat["key"],
                "label": seat["label"],
                "venue_id": seat["venue_id"],
                "venue_kind": seat["venue_kind"],
                "online": state is not None,
                "connected_at": _iso(state.connected_at) if state else None,
                "media_state": state.media_state if state else None,
                "tracks": sorted(state.tracks) if state else [],
            }
        )
    warnings = [
        {k: w[k] for k in ("id", "kind", "seat", "label", "message", "started_at")}
        for w in services.warnings.for_session(session.id)
        if w["kind"] in DEVICE_WARNINGS
    ]
    workflow = await services.workflow.state(session.id)
    incidents = [
        {
            "number": i.number,
            "venue": i.venue,
            "kind": i.kind,
            "description": i.description,
            "handling": list(i.handling),
            "result": i.result,
        }
        for i in workflow.incidents
    ]
    worker = None
    if room is not None:
        stats = room.stats
        worker = {
            "index": room.worker.index,
            "grid_fps": stats.get("grid_fps"),
            "grid_frames_skipped": stats.get("grid_frames_skipped"),
        }
    return {
        "session": _session_json(session),
        "live": live,
        "paused": workflow.paused,
        "worker": worker,
        "venues": _venues_json(session, venues),
        "seats": seats,
        "cameras": [
            {k: c.get(k) for k in CAMERA_KEYS} for c in (room.cameras.values() if room else ())
        ],
        "warnings": warnings,
        "incidents": incidents,
    }


async def session_health(request: web.Request) -> web.Response:
    """``GET /api/sessions/{session_id}/health``: one session's devices and connections."""
    services = request.app[SERVICES]
    session = await services.store.get_session(request.match_info["session_id"])
    venues = {v: await services.store.get_venue(v) for v in session.venue_ids()}
    answer = SessionHealth.model_validate(await _health(services, session, venues))
    return web.json_response(answer.model_dump(mode="json"))


async def health_list(request: web.Request) -> web.Response:
    """``GET /api/health/sessions``: the sessions running or due soon, in brief (those of the
    token's centre, for a token of one centre)."""
    services = request.app[SERVICES]
    scope = grants_of(request).centre_id
    venues = {v.id: v for v in await services.store.list_venues()}
    now = time.time()
    items = []
    for session in await services.store.list_sessions():
        if session.state == SessionState.ENDED:
            continue
        room = services.rooms.find(session.id)
        # In a cluster, a room live on another node is told by that node.
        node = None if room is not None else await _node_of(services, session.id)
        if (
            room is None
            and node is None
            and abs(session.scheduled_start.timestamp() - now) > HORIZON_S
        ):
            continue
        if scope is not None and venues[session.main_venue_id].centre_id != scope:
            continue
        if node is not None:
            try:
                health = await services.cluster.call(
                    node, "session_health", {"session_id": session.id}
                )
            except (TimeoutError, RoomError):
                health = await _health(services, session, venues)  # its node just went
        else:
            health = await _health(services, session, venues)
        seats = health["seats"]
        items.append(
            {
                "session": health["session"],
                "live": health["live"],
                "paused": health["paused"],
                "worker": health["worker"]["index"] if health["worker"] else None,
                "seats_online": sum(1 for s in seats if s["online"]),
                "seats_expected": len(seats),
                "cameras_down": sum(1 for c in health["cameras"] if c["state"] != "up"),
                "warnings": len(health["warnings"]),
                "incidents_open": sum(1 for i in health["incidents"] if i["result"] is None),
            }
        )
    items.sort(key=lambda item: (not item["live"], item["session"]["scheduled_start"]))
    answer = HealthList.model_validate({"items": items})
    return web.json_response(answer.model_dump(mode="json"))


async def _node_of(services: Services, session_id: str) -> str | None:
    """The other node of the cluster where the session's room lives, if it does."""
    if services.cluster.alone:
        return None
    placement = await services.store.cluster.placement(session_id)
    return services.cluster.node_of(session_id, placement)


def serve_health(services: Services) -> None:
    """Answer other nodes' ops lists about the rooms that live here."""

    async def session_health(params: dict[str, Any]) -> dict[str, Any]:
        session = await services.store.get_session(str(params.get("session_id")))
        venues = {v: await services.store.get_venue(v) for v in session.venue_ids()}
        return await _health(services, session, venues)

    services.cluster.serve("session_health", session_health)


def add_health_routes(app: web.Application) -> None:
    """Register the routes of the sessions' device and connection health."""
    route(
        app,
        "GET",
        "/api/health/sessions",
        health_list,
        Action.SESSION_HEALTH,
        answer=HealthList,
        tag="health",
        summary="运行中及即将开始的评标场次的设备与网络状况",
    )
    route(
        app,
        "GET",
        "/api/sessions/{session_id}/health",
        session_health,
        Action.SESSION_HEALTH,
        answer=SessionHealth,
        tag="health",
        summary="一场评标的机位、监控摄像头、媒体进程与平台故障",
    )
