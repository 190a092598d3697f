"""HTTP routes: pages, health, metrics and the REST API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

import web as web_package
from recorder.archive import EVIDENCE_DIR, EVIDENCE_NAME
from recorder.seal import part_name
from roomserver.disclosure import roster_for_experts
from roomserver.errors import InvalidRequest, NotFound, PayloadTooLarge, RoomError
from roomserver.letters import (
    COMMITMENT_CLAUSES,
    COMMITMENT_LEAD,
    COMMITMENT_SHA256,
    COMMITMENT_TITLE,
)
from roomserver.model import Role, Session
from roomserver.policy import Action
from signaling.errors import problem_response
from signaling.gate.guard import body_of, grants_of, public_prefix, query_of, route
from signaling.gate.schemas import ActivityQuery, EndRequest, WorkflowRequest
from signaling.http.webassets import require_vendor_bundle
from signaling.services.container import Services
from signaling.services.readiness import readiness
from signaling.services.rooms import roster_offline
from signaling.services.workflow import MAX_REPORT_BYTES, log_size, state_json
from signaling.sockets.console import CONSOLE_ROLES, activity_json, event_venue
from signaling.sockets.seat import SeatNamespace

SERVICES: web.AppKey[Services] = web.AppKey("services", Services)
SEATS: web.AppKey[SeatNamespace] = web.AppKey("seats", SeatNamespace)
WEB_DIR = Path(web_package.__file__).resolve().parent
MAX_FIELDS_CHARS = 700 * 1024  # a handwritten signature is a PNG of a few tens of KB
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the link's code is in the page URL until it is exchanged
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


async def healthz(request: web.Request) -> web.Response:
    """Liveness and readiness: the database answers."""
    services = request.app[SERVICES]
    await services.store.is_empty()
    return web.json_response({"status": "ok", "rooms": len(list(services.rooms))})


async def livez(request: web.Request) -> web.Response:
    """Liveness: the process answers (nothing else is asked, so that a slow database never
    gets a live server restarted)."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: the database answers, a media worker takes rooms, the archive's disk has
    room (``signaling.services.readiness``); 503 with the failing checks otherwise."""
    checks = await readiness(request.app[SERVICES])
    ok = all(c.ok for c in checks)
    return web.json_response(
        {"status": "ok" if ok else "unavailable", "checks": [c.as_json() for c in checks]},
        status=200 if ok else 503,
    )


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition (the workers are asked for their figures first), for a
    scraper on this machine only; it needs no token and names no session."""
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
        "<link rel=stylesheet href=/static/index.css><body><h1>远程异地评标系统</h1>"
        "<p>请使用工作人员发给您的个人链接进入评标室。</p></body></html>"
    )
    return web.Response(text=html, content_type="text/html", headers=PAGE_HEADERS)


async def session_roster(request: web.Request) -> web.Response:
    """``GET /api/sessions/{id}/roster``: seats and who is online, for those who run or watch
    the session (``roomserver.policy``)."""
    services = request.app[SERVICES]
    grants = grants_of(request)
    session_id = request.match_info["session_id"]
    room = services.rooms.find(session_id)
    if room is not None:
        roster = room.roster_payload()
    else:
        roster = await roster_offline(services.store, session_id)
    if grants.role == Role.STAFF:  # venue staff see their own venue's seats
        roster["seats"] = [s for s in roster["seats"] if s["venue_id"] == grants.venue_id]
    if grants.role == Role.EXPERT:
        roster = roster_for_experts(roster)
    return web.json_response(roster)


async def evidence_picture(request: web.Request) -> web.FileResponse:
    """``GET /api/sessions/{id}/evidence/{part}/{name}``: a warning's snapshot from the archive.

    The token may come as ``?token=`` (an ``<img>`` cannot send a header).
    """
    services = request.app[SERVICES]
    session_id = request.match_info["session_id"]
    part, name = request.match_info["part"], request.match_info["name"]
    if not 1 <= int(part) <= 9999 or not EVIDENCE_NAME.fullmatch(name):
        raise NotFound("没有这张证据图片")
    await services.store.get_session(session_id)  # NotFound for an unknown session
    path = services.config.archive_dir / session_id / part_name(int(part)) / EVIDENCE_DIR / name
    if not path.is_file():
        raise NotFound("没有这张证据图片")
    return web.FileResponse(path, headers={"Cache-Control": "private, max-age=3600"})


async def end_session_route(request: web.Request) -> web.Response:
    """``POST /api/sessions/{id}/end`` {reason?}: the end instruction of the main venue's host
    (the workflow's ``end``: every seated expert has signed), or an administrator's forced end,
    which needs a reason and says so in the record (``force_end``)."""
    services = request.app[SERVICES]
    grants = grants_of(request)
    body = body_of(request, EndRequest)
    session_id = request.match_info["session_id"]
    if grants.role == Role.ADMIN:
        if body.reason is None:
            raise InvalidRequest("管理员强制结束评标须说明原因（reason）")
        kind, fields = "force_end", {"reason": body.reason}
    else:
        kind, fields = "end", {}
    await services.workflow.command(session_id, grants, kind, fields)
    session = await services.store.get_session(session_id)
    return web.json_response({"session_id": session.id, "state": str(session.state)})


async def workflow_state(request: web.Request) -> web.Response:
    """``GET /api/sessions/{id}/workflow``: where the committee stands."""
    services = request.app[SERVICES]
    session_id = request.match_info["session_id"]
    return web.json_response(state_json(await services.workflow.state(session_id)))


async def workflow_command(request: web.Request) -> web.Response:
    """``POST /api/sessions/{id}/workflow`` {kind, fields?}: one command of the committee's
    workflow (``roomserver.workflow.COMMANDS``) by the bearer of a token of that session; an
    expert's ``sign`` carries the handwritten signature as ``handwriting_png`` (base64 PNG)."""
    services = request.app[SERVICES]
    grants = grants_of(request)
    body = body_of(request, WorkflowRequest)
    fields = dict(body.fields)
    if log_size(fields) > MAX_FIELDS_CHARS:
        raise PayloadTooLarge("fields 不能超过 700 KB")
    # An expert acts for themselves: the service names them where the command has the field.
    state, happened = await services.workflow.command(
        request.match_info["session_id"], grants, body.kind, fields
    )
    return web.json_response({"happened": happened.kind, "state": state_json(state)})


async def read_file_body(request: web.Request, limit: int, too_large: str) -> bytes:
    """A file sent as the body, read from the stream with its own `limit` (the app's body
    limit is 1 MB); PayloadTooLarge with `too_large` beyond it."""
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(too_large)
        chunks.append(chunk)
    return b"".join(chunks)


async def upload_report(request: web.Request) -> web.Response:
    """``POST /api/sessions/{id}/report`` (body: the PDF): the leader or host puts the
    evaluation report up for signing, or replaces it (every signature is then needed again)."""
    services = request.app[SERVICES]
    grants = grants_of(request)  # the policy and the declared size were checked before reading
    pdf = await read_file_body(request, MAX_REPORT_BYTES, "评标报告不能超过 50 MB")
    state, happened = await services.workflow.put_up_report(
        request.match_info["session_id"], grants, pdf
    )
    return web.json_response({"happened": happened.kind, "state": state_json(state)})


async def current_report(request: web.Request) -> web.FileResponse:
    """``GET /api/sessions/{id}/report?token=``: the report the experts are asked to sign."""
    services = request.app[SERVICES]
    session_id = request.match_info["session_id"]
    state = await services.workflow.state(session_id)
    if state.report_sha256 is None:
        raise NotFound("评标报告尚未上传")
    path = services.config.archive_dir / session_id / "documents" / f"{state.report_sha256}.pdf"
    if not path.is_file():
        raise NotFound("评标报告文件不在档案中")
    if request.http_range.start in (None, 0):
        # Who read which report, and when, is part of the record, as archive access is.
        await services.events.append(
            "report_read",
            {"report_sha256": state.report_sha256},
            session_id=session_id,
            actor=grants_of(request).participant_id,
        )
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
    grants = grants_of(request)
    session_id = request.match_info["session_id"]
    evidence = await services.workflow.identity_snapshot(
        session_id, grants, request.match_info["expert_id"]
    )
    name = str(evidence["path"]).rsplit("/", 1)[-1]
    url = f"/api/sessions/{session_id}/evidence/{evidence['part']}/{name}"
    return web.json_response({"evidence": evidence, "url": url}, status=201)


async def session_activity(request: web.Request) -> web.Response:
    """``GET /api/sessions/{id}/activity?after=SEQ``: the session's event log, oldest first."""
    services = request.app[SERVICES]
    grants = grants_of(request)
    session_id = request.match_info["session_id"]
    query = query_of(request, ActivityQuery)
    events = await services.store.list_events(session_id, after_seq=query.after)
    if grants.role == Role.STAFF:
        # Venue staff see their own venue's record (and what concerns no venue in particular).
        events = [e for e in events if event_venue(e) in (None, grants.venue_id)]
    return web.json_response([activity_json(e) for e in events])


async def commitment_letter(request: web.Request) -> web.Response:
    """``GET /api/commitment-letter``: the commitment letter (承诺书) a seat shows, and the digest
    the ``commit`` command records."""
    return web.json_response(
        {
            "title": COMMITMENT_TITLE,
            "lead": COMMITMENT_LEAD,
            "clauses": list(COMMITMENT_CLAUSES),
            "sha256": COMMITMENT_SHA256,
        }
    )


async def list_workers(request: web.Request) -> web.Response:
    """``GET /api/workers`` (admin): media workers, their processes and rooms."""
    services = request.app[SERVICES]
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


async def cluster_status(request: web.Request) -> web.Response:
    """``GET /api/cluster`` (admin, ops): the nodes of the cluster with their heartbeat and
    load, which node leads, and where each room lives; alone: this server only."""
    services = request.app[SERVICES]
    return web.json_response(await services.cluster.status())


async def drain_worker(request: web.Request) -> web.Response:
    """``POST /api/workers/{index}/drain`` (admin): move every room off a worker."""
    services = request.app[SERVICES]
    grants = grants_of(request)
    try:
        worker = services.workers.workers[int(request.match_info["index"])]
    except IndexError as exc:
        raise NotFound("没有这个媒体进程") from exc
    moved = await services.rooms.drain(worker)
    moved += await services.halls.drain(worker)
    await services.events.append(
        "worker_drained", {"worker": worker.index, "rooms": moved}, actor=grants.participant_id
    )
    return web.json_response({"worker": worker.index, "moved": moved, "draining": True})


async def whoami(request: web.Request) -> web.Response:
    """``GET /api/me``: who the bearer is, and the session (and venue) they belong to."""
    services = request.app[SERVICES]
    grants = grants_of(request)
    body: dict[str, Any] = {"role": str(grants.role), "participant_id": grants.participant_id}
    if ":" in grants.participant_id:
        # A token for no roster entry (auditor, centre-wide supervisor, tenderer, bidder, the
        # public): its subject is ROLE:NAME.
        body["name"] = grants.participant_id.split(":", 1)[1]
        if grants.centre_id is not None:
            # An administrator, supervisor or ops engineer of one trading centre.
            centre = await services.store.places.centre(grants.centre_id)
            body["centre"] = {"id": centre.id, "name": centre.name, "city": centre.city}
        if grants.session_id is not None:
            # A link of one session (a public viewer's of an opening's broadcast).
            body["session"] = _session_of(await services.store.get_session(grants.session_id))
    elif grants.session_id is not None:
        participant = await services.store.get_participant(grants.participant_id)
        session = await services.store.get_session(grants.session_id)
        body.update(
            name=participant.name, venue_id=participant.venue_id, session=_session_of(session)
        )
    return web.json_response(body)


def _session_of(session: Session) -> dict[str, Any]:
    """A session as ``/api/me`` names it."""
    return {
        "id": session.id,
        "project_code": session.project_code,
        "project_name": session.project_name,
        "scheduled_start": session.scheduled_start.isoformat(),
        "state": str(session.state),
    }


async def overview_page(request: web.Request) -> web.FileResponse:
    """The session overview for hosts, staff, supervisors and archivists."""
    return web.FileResponse(WEB_DIR / "overview.html", headers=PAGE_HEADERS)


async def console_page(request: web.Request) -> web.FileResponse:
    """The venue console (评标室控制台) of hosts, venue staff and witnesses."""
    return web.FileResponse(WEB_DIR / "console.html", headers=PAGE_HEADERS)


async def admin_page(request: web.Request) -> web.FileResponse:
    """The administration console (管理后台): centres, venues and their bookings."""
    return web.FileResponse(WEB_DIR / "admin.html", headers=PAGE_HEADERS)


async def wall_page(request: web.Request) -> web.FileResponse:
    """The supervision wall (监督墙): every live room the supervisor's token covers."""
    return web.FileResponse(WEB_DIR / "wall.html", headers=PAGE_HEADERS)


async def ops_page(request: web.Request) -> web.FileResponse:
    """The ops page (运维监控) of ops engineers: the sessions' devices and connections, platform
    faults and the media workers."""
    return web.FileResponse(WEB_DIR / "ops.html", headers=PAGE_HEADERS)


async def hall_page(request: web.Request) -> web.FileResponse:
    """The bid opening hall (不见面开标大厅) of bidders, the tenderer and its agency."""
    return web.FileResponse(WEB_DIR / "hall.html", headers=PAGE_HEADERS)


async def opening_page(request: web.Request) -> web.FileResponse:
    """The opening console (开标控制台) of a bid opening's host and witness."""
    return web.FileResponse(WEB_DIR / "opening.html", headers=PAGE_HEADERS)


async def live_page(request: web.Request) -> web.FileResponse:
    """The public broadcast of a bid opening (开标直播): one way, the host's camera and the hall's
    information screen with the speakers' sound."""
    return web.FileResponse(WEB_DIR / "live.html", headers=PAGE_HEADERS)


# The pages of the people of a bid opening: the hall, its console, the broadcast.
OPENING_PAGES = {
    Role.HOST: "/opening",
    Role.WITNESS: "/opening",
    Role.BIDDER: "/hall",
    Role.TENDERER: "/hall",
    Role.AGENCY: "/hall",
    # Supervisors watch the hall's broadcast (the wall shows evaluation rooms).
    Role.SUPERVISOR: "/live",
    Role.PUBLIC: "/live",
}


def participant_url(
    base: str, role: Role, code: str, *, kiosk: bool = False, opening: bool = False
) -> str:
    """The personal link of a participant, carrying its code: an expert's seat, a supervisor's
    wall, the venue console of hosts, staff and witnesses, the archive, the administration
    console, the ops page, or the overview; at a bid opening (`opening`), the hall, the opening
    console or the broadcast."""
    if opening and role in OPENING_PAGES:
        return f"{base}{OPENING_PAGES[role]}?code={code}"
    if role == Role.EXPERT:
        return f"{base}/seat?code={code}" + ("&auto=1" if kiosk else "")
    if role == Role.SUPERVISOR:
        return f"{base}/wall?code={code}"
    if role in CONSOLE_ROLES:
        return f"{base}/console?code={code}"
    if role in (Role.ARCHIVIST, Role.AUDITOR, Role.TENDERER, Role.BIDDER):
        return f"{base}/archive?code={code}"
    if role == Role.ADMIN:
        return f"{base}/admin?code={code}"
    if role == Role.OPS:
        return f"{base}/ops?code={code}"
    return f"{base}/overview?code={code}"


def add_routes(app: web.Application) -> None:
    """Register every HTTP route of this module, each with its row of the policy table."""
    for path, page in (
        ("/", index_page),
        ("/seat", seat_page),
        ("/overview", overview_page),
        ("/wall", wall_page),
        ("/console", console_page),
        ("/admin", admin_page),
        ("/ops", ops_page),
        ("/hall", hall_page),
        ("/opening", opening_page),
        ("/live", live_page),
    ):
        route(app, "GET", path, page, Action.PAGE)
    route(app, "GET", "/healthz", healthz, Action.HEALTH, summary="运行状态：数据库可用即正常")
    route(app, "GET", "/livez", livez, Action.HEALTH, summary="存活检查：进程在响应")
    route(
        app,
        "GET",
        "/readyz",
        readyz,
        Action.HEALTH,
        summary="就绪检查：数据库、媒体进程与档案磁盘空间",
    )
    route(app, "GET", "/metrics", metrics, Action.METRICS)
    route(
        app, "GET", "/api/me", whoami, Action.WHOAMI, summary="当前凭证代表的人员及其所属评标场次"
    )
    route(
        app,
        "GET",
        "/api/commitment-letter",
        commitment_letter,
        Action.COMMITMENT_LETTER,
        summary="评标专家承诺书全文及其摘要",
    )
    route(
        app,
        "GET",
        "/api/workers",
        list_workers,
        Action.WORKERS_READ,
        summary="媒体进程列表及其负载",
    )
    route(
        app,
        "GET",
        "/api/cluster",
        cluster_status,
        Action.CLUSTER_READ,
        summary="集群节点、主节点及各评标室所在节点",
    )
    route(
        app,
        "POST",
        "/api/workers/{index}/drain",
        drain_worker,
        Action.WORKERS_DRAIN,
        summary="将一个媒体进程上的评标室全部迁出（维护）",
    )
    sessions = "/api/sessions/{session_id}"
    route(
        app,
        "GET",
        f"{sessions}/roster",
        session_roster,
        Action.ROSTER_READ,
        summary="评标场次的人员与机位名单",
    )
    route(
        app,
        "POST",
        f"{sessions}/end",
        end_session_route,
        Action.SESSION_END,
        body=EndRequest,
        summary="评审结束指令（主场主持人）或管理员强制结束（须说明原因）",
    )
    route(
        app,
        "GET",
        f"{sessions}/workflow",
        workflow_state,
        Action.WORKFLOW_READ,
        summary="评标流程当前状态",
    )
    route(
        app,
        "POST",
        f"{sessions}/workflow",
        workflow_command,
        Action.WORKFLOW_COMMAND,
        body=WorkflowRequest,
        summary="执行一项评标流程操作（签到、推选组长、表决、签名等）",
    )
    route(
        app,
        "POST",
        f"{sessions}/report",
        upload_report,
        Action.REPORT_UPLOAD,
        body_limit=MAX_REPORT_BYTES,
        summary="上传评标报告（PDF）",
    )
    route(
        app,
        "GET",
        f"{sessions}/report",
        current_report,
        Action.REPORT_READ,
        query_token=True,
        summary="下载当前评标报告",
    )
    route(
        app,
        "POST",
        f"{sessions}/identity/{{expert_id}}",
        identity_snapshot,
        Action.IDENTITY_SNAPSHOT,
        summary="从专家机位摄像头拍摄身份核验照片",
    )
    route(
        app,
        "GET",
        f"{sessions}/activity",
        session_activity,
        Action.ACTIVITY_READ,
        query=ActivityQuery,
        summary="评标场次的活动记录（按序号递增）",
    )
    route(
        app,
        "GET",
        f"{sessions}/evidence/{{part}}/{{name}}",
        evidence_picture,
        Action.EVIDENCE_READ,
        query_token=True,
        summary="查看存档的证据图片（身份核验、告警截图）",
    )
    app.router.add_static("/static/", WEB_DIR, show_index=False, append_version=False)
    public_prefix(app, "/static")
    # The pages' shared modules (web/lib/) have a route of their own: a file name has no "/".
    app.router.add_static("/static/lib/", WEB_DIR / "lib", show_index=False, append_version=False)
    public_prefix(app, "/static/lib")
    # The Socket.IO client comes with the package (web/vendor/): no server starts without it.
    vendor = require_vendor_bundle(WEB_DIR)
    app.router.add_static("/vendor/socket.io-client/", vendor, show_index=False)
    public_prefix(app, "/vendor/socket.io-client")
