"""HTTP routes: pages, health, metrics and the REST API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

import web as web_package
from recorder.archive import EVIDENCE_DIR, EVIDENCE_NAME
from recorder.seal import part_name
from roomserver.errors import (
    InvalidRequest,
    InvalidToken,
    NotFound,
    NotYourRoom,
    RoleNotAllowed,
    RoomError,
)
from roomserver.letters import (
    COMMITMENT_CLAUSES,
    COMMITMENT_LEAD,
    COMMITMENT_SHA256,
    COMMITMENT_TITLE,
)
from roomserver.model import Role
from signaling.console import CONSOLE_ROLES, activity_json, event_venue
from signaling.errors import problem_response
from signaling.rooms import roster_offline
from signaling.seats import SeatNamespace
from signaling.services import Services
from signaling.sessions import end_session
from signaling.tokens import Grants
from signaling.workflow import MAX_REPORT_BYTES, log_size, state_json

SERVICES: web.AppKey[Services] = web.AppKey("services", Services)
SEATS: web.AppKey[SeatNamespace] = web.AppKey("seats", SeatNamespace)
WEB_DIR = Path(web_package.__file__).resolve().parent
MAX_FIELDS_CHARS = 700 * 1024  # a handwritten signature is a PNG of a few tens of KB
# Front-end libraries installed from the npm registry by `make` (package.json at the repo root).
NODE_MODULES = WEB_DIR.parent / "node_modules"
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the join token is in the page URL
    "X-Content-Type-Options": "nosniff",
}


@web.middleware
async def problem_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Domain errors (and unexpected ones) become problem+json; HTTP errors pass through."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:
        if isinstance(exc, RoomError):
            request.app[SERVICES].metrics.refused(exc.code)
        return problem_response(exc)


def bearer_grants(request: web.Request) -> Grants:
    """The grants of the request's ``Authorization: Bearer`` token."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise InvalidToken("缺少登录凭证")
    return request.app[SERVICES].tokens.verify(token.strip())


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request's body as a JSON object; InvalidRequest otherwise."""
    try:
        body = await request.json()
    except ValueError as exc:
        raise InvalidRequest("请求体必须是 JSON") from exc
    if not isinstance(body, dict):
        raise InvalidRequest("请求体必须是 JSON 对象")
    return body


async def healthz(request: web.Request) -> web.Response:
    """Liveness and readiness: the database answers."""
    services = request.app[SERVICES]
    await services.store.is_empty()
    return web.json_response({"status": "ok", "rooms": len(list(services.rooms))})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition (the workers are asked for their figures first)."""
    services = request.app[SERVICES]
    services.metrics.set_worker_reports(await services.rooms.refresh_stats())
    body = services.metrics.render()
    return web.Response(
        body=body,
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Prometheus-Format": "0.0.4"},
    )


async def seat_page(request: web.Request) -> web.FileResponse:
    """The expert's seat page (the token is read by the page from the query)."""
    return web.FileResponse(WEB_DIR / "seat.html", headers=PAGE_HEADERS)


async def index_page(request: web.Request) -> web.Response:
    """A short landing page: participants open the personal links they were given."""
    html = (
        "<!doctype html><html lang=zh-CN><meta charset=utf-8><title>远程异地评标系统</title>"
        "<body style='font-family:sans-serif;margin:4em'><h1>远程异地评标系统</h1>"
        "<p>请使用工作人员发给您的个人链接进入评标室。</p></body></html>"
    )
    return web.Response(text=html, content_type="text/html", headers=PAGE_HEADERS)


async def issue_token(request: web.Request) -> web.Response:
    """``POST /api/tokens`` {participant_id, ttl_s?}: an admin issues a join token and link."""
    services = request.app[SERVICES]
    grants = bearer_grants(request)
    if grants.role != Role.ADMIN:
        raise RoleNotAllowed()
    try:
        body = await request.json()
    except ValueError as exc:
        raise InvalidRequest("请求体必须是 JSON") from exc
    if not isinstance(body, dict) or not isinstance(body.get("participant_id"), str):
        raise InvalidRequest("缺少 participant_id")
    ttl = body.get("ttl_s")
    if ttl is not None and (not isinstance(ttl, int) or not 60 <= ttl <= 30 * 24 * 3600):
        raise InvalidRequest("ttl_s 必须是 60 到 2592000 之间的整数")
    participant = await services.store.get_participant(body["participant_id"])
    token = services.tokens.issue(participant, ttl_s=ttl)
    await services.events.append(
        "token_issued",
        {"participant": participant.id, "role": str(participant.role), "by": grants.participant_id},
        session_id=participant.session_id,
        actor=grants.participant_id,
    )
    return web.json_response(
        {"token": token, "url": participant_url(services.config.base_url, participant.role, token)},
        status=201,
    )


async def session_roster(request: web.Request) -> web.Response:
    """``GET /api/sessions/{id}/roster``: seats and who is online (admin or own session)."""
    services = request.app[SERVICES]
    grants = bearer_grants(request)
    session_id = request.match_info["session_id"]
    if grants.role != Role.ADMIN and grants.session_id != session_id:
        raise NotYourRoom()
    room = services.rooms.find(session_id)
    if room is not None:
        roster = room.roster_payload()
    else:
        roster = await roster_offline(services.store, session_id)
    if grants.role == Role.STAFF:  # venue staff see their own venue's seats
        roster["seats"] = [s for s in roster["seats"] if s["venue_id"] == grants.venue_id]
    return web.json_response(roster)


# Who may look at a session's evidence pictures besides its own host, staff and witness.
EVIDENCE_ROLES_ANY_SESSION = frozenset({Role.ADMIN, Role.ARCHIVIST})
EVIDENCE_ROLES_OWN_SESSION = frozenset({Role.SUPERVISOR, Role.HOST, Role.STAFF, Role.WITNESS})


async def evidence_picture(request: web.Request) -> web.FileResponse:
    """``GET /api/sessions/{id}/evidence/{part}/{name}``: a warning's snapshot from the archive.

    The token may come as ``?token=`` (an ``<img>`` cannot send a header). A centre-wide
    supervisor token covers every session.
    """
    services = request.app[SERVICES]
    grants = _query_or_bearer(request)
    session_id = request.match_info["session_id"]
    own = grants.session_id == session_id or (
        grants.role == Role.SUPERVISOR and grants.session_id is None
    )
    if grants.role not in EVIDENCE_ROLES_ANY_SESSION and not (
        own and grants.role in EVIDENCE_ROLES_OWN_SESSION
    ):
        raise NotYourRoom("您无权查看该场评标的证据")
    part, name = request.match_info["part"], request.match_info["name"]
    if not part.isdigit() or not 1 <= int(part) <= 9999 or not EVIDENCE_NAME.fullmatch(name):
        raise NotFound("没有这张证据图片")
    await services.store.get_session(session_id)  # NotFound for an unknown session
    path = services.config.archive_dir / session_id / part_name(int(part)) / EVIDENCE_DIR / name
    if not path.is_file():
        raise NotFound("没有这张证据图片")
    return web.FileResponse(path, headers={"Cache-Control": "private, max-age=3600"})


async def end_session_route(request: web.Request) -> web.Response:
    """``POST /api/sessions/{id}/end``: the end instruction (admin, or the session's host)."""
    services = request.app[SERVICES]
    grants = bearer_grants(request)
    session_id = request.match_info["session_id"]
    allowed = grants.role == Role.ADMIN or (
        grants.role == Role.HOST and grants.session_id == session_id
    )
    if not allowed:
        raise RoleNotAllowed("只有主场主持人可以发出评审结束指令")
    session = await end_session(
        session_id,
        actor=grants.participant_id,
        store=services.store,
        events=services.events,
        rooms=services.rooms,
        archives=services.archives,
        seats=request.app.get(SEATS),
        warnings=services.warnings,
    )
    return web.json_response({"session_id": session.id, "state": str(session.state)})


async def workflow_state(request: web.Request) -> web.Response:
    """``GET /api/sessions/{id}/workflow``: where the committee stands (that session's tokens)."""
    services = request.app[SERVICES]
    grants = bearer_grants(request)
    session_id = request.match_info["session_id"]
    if grants.session_id != session_id:
        raise NotYourRoom()
    assert services.workflow is not None
    return web.json_response(state_json(await services.workflow.state(session_id)))


async def workflow_command(request: web.Request) -> web.Response:
    """``POST /api/sessions/{id}/workflow`` {kind, fields?}: one command of the committee's
    workflow (``roomserver.workflow.COMMANDS``) by the bearer of a token of that session; an
    expert's ``sign`` carries the handwritten signature as ``handwriting_png`` (base64 PNG)."""
    services = request.app[SERVICES]
    grants = bearer_grants(request)
    try:
        body = await request.json()
    except ValueError as exc:
        raise InvalidRequest("请求体必须是 JSON") from exc
    if not isinstance(body, dict) or not isinstance(body.get("kind"), str):
        raise InvalidRequest("缺少 kind")
    fields = body.get("fields") or {}
    if not isinstance(fields, dict) or log_size(fields) > MAX_FIELDS_CHARS:
        raise InvalidRequest("fields 必须是不超过 700 KB 的对象")
    assert services.workflow is not None
    state, happened = await services.workflow.command(
        request.match_info["session_id"], grants, body["kind"], fields
    )
    return web.json_response({"happened": happened.kind, "state": state_json(state)})


async def upload_report(request: web.Request) -> web.Response:
    """``POST /api/sessions/{id}/report`` (body: the PDF): the leader or host puts the
    evaluation report up for signing, or replaces it (every signature is then needed again)."""
    services = request.app[SERVICES]
    grants = bearer_grants(request)
    if request.content_length is not None and request.content_length > MAX_REPORT_BYTES:
        raise InvalidRequest("评标报告不能超过 50 MB")
    # Read from the stream with the report's own limit (the app's body limit is 1 MB).
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > MAX_REPORT_BYTES:
            raise InvalidRequest("评标报告不能超过 50 MB")
        chunks.append(chunk)
    pdf = b"".join(chunks)
    assert services.workflow is not None
    state, happened = await services.workflow.put_up_report(
        request.match_info["session_id"], grants, pdf
    )
    return web.json_response({"happened": happened.kind, "state": state_json(state)})


async def current_report(request: web.Request) -> web.FileResponse:
    """``GET /api/sessions/{id}/report?token=``: the report the experts are asked to sign."""
    services = request.app[SERVICES]
    grants = _query_or_bearer(request)
    session_id = request.match_info["session_id"]
    if grants.session_id != session_id:
        raise NotYourRoom()
    assert services.workflow is not None
    state = await services.workflow.state(session_id)
    if state.report_sha256 is None:
        raise NotFound("评标报告尚未上传")
    path = services.config.archive_dir / session_id / "documents" / f"{state.report_sha256}.pdf"
    if not path.is_file():
        raise NotFound("评标报告文件不在档案中")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "application/pdf",
            "Cache-Control": "private, no-store",
            "X-Content-SHA256": state.report_sha256,
        },
    )


async def identity_snapshot(request: web.Request) -> web.Response:
    """``POST /api/sessions/{id}/identity/{expert}``: staff take the expert's picture from the
    seat camera to compare with the roster before confirming the check-in (7.2.1)."""
    services = request.app[SERVICES]
    grants = bearer_grants(request)
    session_id = request.match_info["session_id"]
    assert services.workflow is not None
    evidence = await services.workflow.identity_snapshot(
        session_id, grants, request.match_info["expert_id"]
    )
    name = str(evidence["path"]).rsplit("/", 1)[-1]
    url = f"/api/sessions/{session_id}/evidence/{evidence['part']}/{name}"
    return web.json_response({"evidence": evidence, "url": url}, status=201)


# The session's activity record (7.2.5-3) is for those who run or watch it.
ACTIVITY_ROLES = frozenset({Role.HOST, Role.STAFF, Role.WITNESS, Role.SUPERVISOR})


async def session_activity(request: web.Request) -> web.Response:
    """``GET /api/sessions/{id}/activity?after=SEQ``: the session's event log, oldest first."""
    services = request.app[SERVICES]
    grants = bearer_grants(request)
    session_id = request.match_info["session_id"]
    if grants.role != Role.ADMIN and (
        grants.session_id != session_id or grants.role not in ACTIVITY_ROLES
    ):
        raise NotYourRoom("您无权查看该场评标的活动记录")
    try:
        after = int(request.query.get("after", "0"))
    except ValueError as exc:
        raise InvalidRequest("after 必须是整数") from exc
    events = await services.store.list_events(session_id, after_seq=after)
    if grants.role == Role.STAFF:
        # Venue staff see their own venue's record (and what concerns no venue in particular).
        events = [e for e in events if event_venue(e) in (None, grants.venue_id)]
    return web.json_response([activity_json(e) for e in events])


async def commitment_letter(request: web.Request) -> web.Response:
    """``GET /api/commitment-letter``: the commitment letter (承诺书) a seat shows, and the digest
    the ``commit`` command records."""
    bearer_grants(request)  # any valid token
    return web.json_response(
        {
            "title": COMMITMENT_TITLE,
            "lead": COMMITMENT_LEAD,
            "clauses": list(COMMITMENT_CLAUSES),
            "sha256": COMMITMENT_SHA256,
        }
    )


def _query_or_bearer(request: web.Request) -> Grants:
    token = request.query.get("token")
    if token is not None:
        return request.app[SERVICES].tokens.verify(token)
    return bearer_grants(request)


async def list_workers(request: web.Request) -> web.Response:
    """``GET /api/workers`` (admin): media workers, their processes and rooms."""
    services = request.app[SERVICES]
    if bearer_grants(request).role != Role.ADMIN:
        raise RoleNotAllowed()
    return web.json_response(
        [
            {
                "index": w.index,
                "pid": w.pid,
                "alive": w.alive,
                "generation": w.generation,
                "rooms": sorted(w.rooms),
                "seats": services.rooms.seats_on(w),
                "draining": w.draining,
            }
            for w in services.workers.workers
        ]
    )


async def drain_worker(request: web.Request) -> web.Response:
    """``POST /api/workers/{index}/drain`` (admin): move every room off a worker."""
    services = request.app[SERVICES]
    grants = bearer_grants(request)
    if grants.role != Role.ADMIN:
        raise RoleNotAllowed()
    try:
        worker = services.workers.workers[int(request.match_info["index"])]
    except (ValueError, IndexError) as exc:
        raise NotFound("没有这个媒体进程") from exc
    moved = await services.rooms.drain(worker)
    await services.events.append(
        "worker_drained", {"worker": worker.index, "rooms": moved}, actor=grants.participant_id
    )
    return web.json_response({"worker": worker.index, "moved": moved, "draining": True})


async def whoami(request: web.Request) -> web.Response:
    """``GET /api/me``: who the bearer is, and the session they belong to."""
    services = request.app[SERVICES]
    grants = bearer_grants(request)
    body: dict[str, Any] = {"role": str(grants.role), "participant_id": grants.participant_id}
    if ":" in grants.participant_id:
        # A token for no roster entry (auditor, centre-wide supervisor, tenderer, bidder):
        # its subject is ROLE:NAME.
        body["name"] = grants.participant_id.split(":", 1)[1]
    elif grants.session_id is not None:
        participant = await services.store.get_participant(grants.participant_id)
        session = await services.store.get_session(grants.session_id)
        body.update(
            name=participant.name,
            session={
                "id": session.id,
                "project_code": session.project_code,
                "project_name": session.project_name,
                "scheduled_start": session.scheduled_start.isoformat(),
                "state": str(session.state),
            },
        )
    return web.json_response(body)


async def overview_page(request: web.Request) -> web.FileResponse:
    """The session overview for hosts, staff, supervisors and archivists."""
    return web.FileResponse(WEB_DIR / "overview.html", headers=PAGE_HEADERS)


async def console_page(request: web.Request) -> web.FileResponse:
    """The venue console (评标室控制台) of hosts, venue staff and witnesses."""
    return web.FileResponse(WEB_DIR / "console.html", headers=PAGE_HEADERS)


async def wall_page(request: web.Request) -> web.FileResponse:
    """The supervision wall (监督墙): every live room the supervisor's token covers."""
    return web.FileResponse(WEB_DIR / "wall.html", headers=PAGE_HEADERS)


def participant_url(base: str, role: Role, token: str, *, kiosk: bool = False) -> str:
    """The personal link of a participant: an expert's seat, a supervisor's wall, the venue
    console of hosts, staff and witnesses, or the session overview."""
    if role == Role.EXPERT:
        return f"{base}/seat?token={token}" + ("&auto=1" if kiosk else "")
    if role == Role.SUPERVISOR:
        return f"{base}/wall?token={token}"
    if role in CONSOLE_ROLES:
        return f"{base}/console?token={token}"
    if role in (Role.ARCHIVIST, Role.AUDITOR, Role.TENDERER, Role.BIDDER):
        return f"{base}/archive?token={token}"
    return f"{base}/overview?token={token}"


def add_routes(app: web.Application) -> None:
    """Register every HTTP route."""
    app.router.add_get("/", index_page)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/seat", seat_page)
    app.router.add_get("/overview", overview_page)
    app.router.add_get("/wall", wall_page)
    app.router.add_get("/console", console_page)
    app.router.add_get("/api/me", whoami)
    app.router.add_get("/api/commitment-letter", commitment_letter)
    app.router.add_get("/api/workers", list_workers)
    app.router.add_post("/api/workers/{index}/drain", drain_worker)
    app.router.add_post("/api/tokens", issue_token)
    app.router.add_get("/api/sessions/{session_id}/roster", session_roster)
    app.router.add_post("/api/sessions/{session_id}/end", end_session_route)
    app.router.add_get("/api/sessions/{session_id}/workflow", workflow_state)
    app.router.add_post("/api/sessions/{session_id}/workflow", workflow_command)
    app.router.add_post("/api/sessions/{session_id}/report", upload_report)
    app.router.add_get("/api/sessions/{session_id}/report", current_report)
    app.router.add_post("/api/sessions/{session_id}/identity/{expert_id}", identity_snapshot)
    app.router.add_get("/api/sessions/{session_id}/activity", session_activity)
    app.router.add_get("/api/sessions/{session_id}/evidence/{part}/{name}", evidence_picture)
    app.router.add_static("/static/", WEB_DIR, show_index=False, append_version=False)
    vendor = NODE_MODULES / "socket.io-client" / "dist"
    if vendor.is_dir():
        app.router.add_static("/vendor/socket.io-client/", vendor, show_index=False)
