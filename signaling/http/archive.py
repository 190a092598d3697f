"""Archive playback (调阅回放): the archive browser, a session's catalog for the synchronized
player, its files with HTTP range requests, verification and the evidence package.

Who sees what is ``roomserver.access``; every access (who, what, when) goes to the hash-chained
access log (``recorder.accesslog``) before it is served. A path is served only when the
session's catalog lists it and the viewer's scope covers it: nothing else under the archive
folder is reachable, and a refusal names no file.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from aiohttp import web

from recorder.accesslog import ACCESS_LOG, AccessLog
from recorder.archive import EVENTS, JOURNAL, is_sealed, list_parts
from recorder.catalog import SEGMENT_TYPES, Catalog, read_catalog
from recorder.documents import DOCUMENTS_DIR
from recorder.export import export_archive
from recorder.seal import MANIFEST_JSON
from recorder.verify import check_against_record, verify_archive
from roomserver.access import WHOLE, Scope, Viewer, archive_scope
from roomserver.copies import ArchiveCopy
from roomserver.errors import InvalidRequest, NotFound, NotYourRoom, RoomError
from roomserver.model import Role, Session
from roomserver.policy import Action, Grants, decide
from signaling.gate.guard import grants_of, query_of, route
from signaling.gate.schemas import ArchiveQuery
from signaling.http.api import (
    PAGE_HEADERS,
    SERVICES,
    WEB_DIR,
)
from signaling.http.records import project_documents
from signaling.services.archiving import package_extras, parts_in_record, trusted_tsa
from signaling.services.container import Services
from signaling.services.copies import copies_json

logger = logging.getLogger(__name__)

EXPORTS_DIR = "exports"
# Dates searched for are Beijing dates, as the record's times are read (China keeps no DST).
BEIJING = timezone(timedelta(hours=8))
# The player asks for a segment many times (ranges); its first read is what the log records.
FILE_TYPES = {**SEGMENT_TYPES, ".jpg": "image/jpeg", ".png": "image/png", ".pdf": "application/pdf"}


@dataclass
class ExportJob:
    """An evidence package being written for a viewer."""

    id: str
    session_id: str
    owner: str
    path: Path
    done: int = 0
    total: int = 0
    finished: bool = False
    error: str | None = None
    size: int = 0
    started: float = field(default_factory=time.time)


class Playback:
    """Archive reading for the pages: scopes, catalogs, verification and exports."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.root = services.config.archive_dir
        self.log = AccessLog(services.config.data_dir / ACCESS_LOG)
        self._verified: dict[str, tuple[tuple[int, int, int], dict[str, Any]]] = {}
        self.exports: dict[str, ExportJob] = {}
        self._catalogs: dict[str, tuple[tuple[Any, ...], Catalog]] = {}

    async def record(self, kind: str, grants: Grants, **data: Any) -> None:
        """One line of the access log, on disk before the access is served."""
        await asyncio.to_thread(
            self.log.record, kind, grants.participant_id, role=str(grants.role), **data
        )

    def scope(self, grants: Grants, catalog: Catalog) -> Scope:
        """What the bearer may see of the archive, judged on its own record (who supervised it,
        its workflow phases); NotYourRoom when nothing."""
        return archive_scope(
            Viewer(grants.participant_id, grants.role, grants.session_id),
            catalog.session_id,
            catalog.events,
            party_phases=self.services.config.party_phases,
            end=catalog.end or time.time(),
        )

    async def catalog(self, session_id: str) -> Catalog:
        """The archive's catalog, read again only when its parts changed: the player asks for
        every segment, in ranges, and each request is checked against it."""
        folder = self.root / session_id
        if not session_id.isalnum() or not folder.is_dir():
            raise NotFound("没有该场评标的归档")
        key = await asyncio.to_thread(_catalog_key, folder)
        cached = self._catalogs.get(session_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        catalog = await asyncio.to_thread(read_catalog, folder)
        self._catalogs[session_id] = (key, catalog)
        return catalog

    async def verification(self, session_id: str, *, run: bool) -> dict[str, Any] | None:
        """The last verification of an archive that has not changed since; run it if asked."""
        folder = self.root / session_id
        stamp = await asyncio.to_thread(_stamp, folder)
        cached = self._verified.get(session_id)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        if not run:
            return None
        keys = []
        listing = self.services.config.archive_keys_path
        if listing.is_file():
            keys = [listing.read_bytes()]
        report = await asyncio.to_thread(
            verify_archive,
            folder,
            trusted_keys=keys,
            trusted_tsa=trusted_tsa(self.services.config.recorder),
        )
        events = await self.services.store.list_events(session_id)
        if events:
            parts, ended = parts_in_record((e.kind, e.data) for e in events)
            await asyncio.to_thread(check_against_record, report, folder, parts, ended)
        # The archive's copies show a person's check as the sweep's (the page's list).
        await self.services.copies.primary_verified(session_id, report)
        result = {
            "ok": report.ok,
            "checked_at": datetime.now(UTC).isoformat(),
            "parts": report.parts,
            "segments": report.segments,
            "events": report.events,
            "key_trusted": report.key_trusted,
            "signers": [asdict(s) for s in report.signers],
            "timestamps": [asdict(t) for t in report.timestamps],
            "differences": [{"where": d.where, "what": d.what} for d in report.differences],
            "notes": report.notes,
        }
        self._verified[session_id] = (stamp, result)
        return result

    def close(self) -> None:
        self.log.close()


def _catalog_key(folder: Path) -> tuple[Any, ...]:
    """Changes when what the catalog is read from does: the parts, their manifests, journals
    and event logs, and the documents (sizes and change times)."""
    key: list[Any] = []
    for _number, part in list_parts(folder):
        for name in (MANIFEST_JSON, JOURNAL, EVENTS):
            path = part / name
            if path.exists():
                stat = path.stat()
                key.append((part.name, name, stat.st_size, stat.st_ctime_ns))
    documents = folder / DOCUMENTS_DIR
    if documents.is_dir():
        key.append(("documents", documents.stat().st_mtime_ns, len(list(documents.iterdir()))))
    return tuple(key)


def _stamp(folder: Path) -> tuple[int, int, int]:
    """Changes when the archive does: its files, their sizes and their latest change time
    (ctime, which no program can set back, so a byte changed in place is noticed too)."""
    stats = [f.stat() for f in folder.rglob("*") if f.is_file()]
    return len(stats), sum(s.st_size for s in stats), max((s.st_ctime_ns for s in stats), default=0)


PLAYBACK: web.AppKey[Playback] = web.AppKey("playback", Playback)


async def _opened(request: web.Request) -> tuple[Playback, Grants, Catalog, Scope]:
    """The archive a request names, who asks, and what they may see of it."""
    playback = request.app[PLAYBACK]
    grants = grants_of(request)
    catalog = await playback.catalog(request.match_info["session_id"])
    return playback, grants, catalog, playback.scope(grants, catalog)


def _session_json(session: Session | None, session_id: str) -> dict[str, Any]:
    if session is None:
        return {"id": session_id, "project_code": None, "project_name": "（无数据库记录）"}
    return {
        "id": session.id,
        "project_code": session.project_code,
        "project_name": session.project_name,
        "scheduled_start": session.scheduled_start.isoformat(),
        "state": str(session.state),
        "kind": str(session.kind),
    }


async def _session(services: Services, session_id: str) -> Session | None:
    try:
        return await services.store.get_session(session_id)
    except NotFound:
        return None


async def archive_page(request: web.Request) -> web.FileResponse:
    """The archive browser and synchronized player (档案调阅)."""
    return web.FileResponse(WEB_DIR / "archive.html", headers=PAGE_HEADERS)


async def list_archives(request: web.Request) -> web.Response:
    """``GET /api/archive/sessions?q=&from=&to=&venue=``: the archives the token may see."""
    services = request.app[SERVICES]
    playback = request.app[PLAYBACK]
    grants = grants_of(request)
    search = query_of(request, ArchiveQuery)
    query = search.q.lower()
    day_from, day_to = search.from_, search.to
    venue_q = search.venue
    root = playback.root
    names = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    venues = {v.id: v for v in await services.store.list_venues()}
    copies: dict[str, dict[str, ArchiveCopy]] = {}
    for copy in await services.store.copies.all():
        copies.setdefault(copy.session_id, {})[copy.location] = copy
    replica = services.config.copies.replica is not None
    out = []
    for session_id in names:
        catalog = await playback.catalog(session_id)
        try:
            scope = playback.scope(grants, catalog)
        except RoomError:
            continue
        session = await _session(services, session_id)
        if grants.centre_id is not None and (
            session is None
            or venues.get(session.main_venue_id) is None
            or venues[session.main_venue_id].centre_id != grants.centre_id
        ):
            continue  # another centre's (or a session this store does not know)
        start = catalog.start
        day = datetime.fromtimestamp(start, BEIJING).date().isoformat() if start else ""
        venue_names = (
            [venues[v].name for v in session.venue_ids() if v in venues] if session else []
        )
        names = [session.project_code, session.project_name] if session else []
        text = " ".join([session_id, *filter(None, names), *venue_names]).lower()
        if query and query not in text:
            continue
        if (day_from and day < day_from) or (day_to and day > day_to):
            continue
        if venue_q and not any(venue_q in name for name in venue_names):
            continue
        participants = await services.store.list_participants(session_id) if session else []
        parts = list_parts(root / session_id)
        sealed = sum(1 for _, p in parts if is_sealed(p))
        out.append(
            {
                **_session_json(session, session_id),
                "venues": venue_names,
                "experts": sum(1 for p in participants if p.role == Role.EXPERT and p.seat_no),
                "start": start,
                "duration_s": round((catalog.end or 0) - (start or 0), 1) if start else 0,
                "bytes": (await asyncio.to_thread(_stamp, root / session_id))[1],
                "sealed": bool(parts) and sealed == len(parts),
                "verification": await playback.verification(session_id, run=False),
                # Where the archive is kept and when each copy was last verified (存档副本).
                "copies": (
                    copies_json(copies.get(session_id, {}), sealed, replica)
                    if scope.whole
                    else None
                ),
            }
        )
    await playback.record("archive_listed", grants, query=query or None, results=len(out))
    return web.json_response(out)


async def archive_detail(request: web.Request) -> web.Response:
    """``GET /api/archive/sessions/{id}``: the catalog for the player, cut to the viewer's scope."""
    services = request.app[SERVICES]
    playback, grants, catalog, scope = await _opened(request)
    session_id = catalog.session_id
    body = catalog.as_json()
    body["scope"] = {"whole": scope.whole, "windows": list(scope.windows)}
    body["tracks"] = [
        {
            **t,
            "segments": [
                s for s in t["segments"] if scope.allows_span(s["wall_start"], s["wall_end"])
            ],
        }
        for t in body["tracks"]
        if scope.allows_track(t["id"])
    ]
    body["gaps"] = [g for g in body["gaps"] if scope.allows_track(g["track"])]
    body["events"] = [_party_view(e, scope) for e in body["events"] if _event_visible(e, scope)]
    session = await _session(services, session_id)
    body["session"] = _session_json(session, session_id)
    people = await services.store.list_participants(session_id) if session else []
    # The committee's names are not the parties' to see (评标委员会成员名单保密).
    body["people"] = (
        {p.id: {"name": p.name, "role": str(p.role)} for p in people} if scope.whole else {}
    )
    venues = {v.id: v.name for v in await services.store.list_venues()}
    body["venues"] = {v: venues.get(v, v) for v in (session.venue_ids() if session else ())}
    body["verification"] = (
        await playback.verification(session_id, run=False) if scope.whole else None
    )
    sealed = sum(1 for part in body["parts"] if part["sealed"])
    body["copies"] = (
        copies_json(
            await services.store.copies.of_session(session_id),
            sealed,
            services.config.copies.replica is not None,
        )
        if scope.whole
        else None
    )
    # The documents of the project whose lot this session evaluated (7.2.5-1).
    lot = await services.store.projects.lot_of_session(session_id) if session else None
    body["project_documents"] = (
        await project_documents(services, lot.project_id) if lot and scope.whole else []
    )
    body["viewer"] = {
        "role": str(grants.role),
        "exports": scope.whole,
        "grants": decide(grants, Action.ARCHIVE_GRANT).allowed,
    }
    await playback.record("archive_opened", grants, session=session_id, whole=scope.whole)
    return web.json_response(body)


def _party_view(event: dict[str, Any], scope: Scope) -> dict[str, Any]:
    """A workflow step as a party sees it: what happened and when, not who or with what."""
    if scope.whole:
        return event
    data = event.get("data") or {}
    return {
        **event,
        "actor": None,
        "data": {"happened": data.get("happened"), "phase": data.get("phase")},
    }


def _event_visible(event: dict[str, Any], scope: Scope) -> bool:
    if scope.whole:
        return True
    try:
        at = datetime.fromisoformat(str(event.get("at"))).timestamp()
    except ValueError:
        return False
    # A party sees the workflow of its windows, not who connected or what a supervisor wrote.
    return event.get("kind") == "workflow" and scope.allows_time(at)


async def archive_file(request: web.Request) -> web.StreamResponse:
    """``GET /api/archive/sessions/{id}/files/{path}``: a segment, picture or document the
    catalog lists and the scope covers, with range requests (the player seeks through them)."""
    playback, grants, catalog, scope = await _opened(request)
    session_id = catalog.session_id
    rel = request.match_info["path"]
    path = catalog.resolve(playback.root, rel)
    if path is None or not _file_in_scope(catalog, scope, rel):
        raise NotFound("没有该文件")
    if request.http_range.start in (None, 0):
        await playback.record("archive_file", grants, session=session_id, path=rel)
    return web.FileResponse(
        path,
        headers={
            "Content-Type": FILE_TYPES.get(path.suffix, "application/octet-stream"),
            "Cache-Control": "private, max-age=3600",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _file_in_scope(catalog: Catalog, scope: Scope, rel: str) -> bool:
    if scope.whole:
        return True
    for track in catalog.tracks.values():
        for segment in track.segments:
            if segment["path"] == rel:
                return scope.allows_track(track.id) and scope.allows_span(
                    segment["wall_start"], segment["wall_end"]
                )
    return False  # pictures and documents are for whole-archive viewers


async def verify_route(request: web.Request) -> web.Response:
    """``POST /api/archive/sessions/{id}/verify``: check the archive now (whole-scope viewers)."""
    playback, grants, catalog, scope = await _opened(request)
    session_id = catalog.session_id
    if scope != WHOLE:
        raise NotYourRoom("只有可调阅全部档案的人员可以校验")
    await playback.record("archive_verified", grants, session=session_id)
    return web.json_response(await playback.verification(session_id, run=True))


async def start_export(request: web.Request) -> web.Response:
    """``POST /api/archive/sessions/{id}/export``: write the evidence package in the background."""
    services = request.app[SERVICES]
    playback, grants, catalog, scope = await _opened(request)
    session_id = catalog.session_id
    if scope != WHOLE:
        raise NotYourRoom("只有可调阅全部档案的人员可以导出证据包")
    await asyncio.to_thread(_remove_old_packages, services.config.data_dir / EXPORTS_DIR)
    job_id = secrets.token_hex(8)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = services.config.data_dir / EXPORTS_DIR / f"{session_id}-{stamp}-{job_id}.tar"
    job = ExportJob(job_id, session_id, grants.participant_id, out)
    playback.exports[job_id] = job
    await playback.record("archive_exported", grants, session=session_id, package=out.name)
    extras = package_extras(services.config.archive_keys_path, services.config.recorder)

    def progress(done: int, total: int) -> None:
        job.done, job.total = done, total

    async def run() -> None:
        try:
            job.size = await asyncio.to_thread(
                export_archive,
                playback.root / session_id,
                out,
                extras=extras,
                progress=progress,
            )
        except OSError as exc:
            logger.error("export of %s failed: %s", session_id, exc)
            job.error = "导出失败，请联系管理员查看服务器日志"
        job.finished = True

    services.tasks.spawn(run(), name=f"export-{job_id}")
    return web.json_response(_job_json(job), status=202)


# A package is a copy for handing over: kept a day for its download, then removed.
PACKAGE_KEEP_S = 24 * 3600


def _remove_old_packages(folder: Path) -> None:
    if not folder.is_dir():
        return
    for package in folder.glob("*.tar"):
        if time.time() - package.stat().st_mtime > PACKAGE_KEEP_S:
            package.unlink(missing_ok=True)


def _job_json(job: ExportJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "session_id": job.session_id,
        "done": job.done,
        "total": job.total,
        "finished": job.finished,
        "error": job.error,
        "size": job.size,
        "name": job.path.name,
    }


def _job(request: web.Request, grants: Grants) -> ExportJob:
    job = request.app[PLAYBACK].exports.get(request.match_info["job_id"])
    if job is None or job.owner != grants.participant_id:
        raise NotFound("没有该导出任务")
    return job


async def export_status(request: web.Request) -> web.Response:
    """``GET /api/archive/exports/{job}``: progress of an export."""
    return web.json_response(_job_json(_job(request, grants_of(request))))


async def export_file(request: web.Request) -> web.FileResponse:
    """``GET /api/archive/exports/{job}/file``: the finished package."""
    grants = grants_of(request)
    job = _job(request, grants)
    if not job.finished or job.error or not job.path.is_file():
        raise InvalidRequest("证据包尚未生成")
    return web.FileResponse(
        job.path,
        headers={
            "Content-Type": "application/x-tar",
            "Content-Disposition": f'attachment; filename="{job.path.name}"',
        },
    )


def add_playback_routes(app: web.Application) -> None:
    """Register the archive pages and API, each with its row of the policy table."""
    route(app, "GET", "/archive", archive_page, Action.PAGE)
    archives = "/api/archive/sessions"
    route(
        app,
        "GET",
        archives,
        list_archives,
        Action.ARCHIVE_LIST,
        query=ArchiveQuery,
        summary="可调阅的档案列表（支持筛选）",
    )
    route(
        app,
        "GET",
        f"{archives}/{{session_id}}",
        archive_detail,
        Action.ARCHIVE_READ,
        summary="一场评标的档案目录（供同步回放）",
    )
    route(
        app,
        "GET",
        f"{archives}/{{session_id}}/files/{{path:.+}}",
        archive_file,
        Action.ARCHIVE_READ,
        query_token=True,
        summary="读取档案中的一个文件（支持 Range 请求）",
    )
    route(
        app,
        "POST",
        f"{archives}/{{session_id}}/verify",
        verify_route,
        Action.ARCHIVE_CHECK,
        summary="校验一场评标的档案完整性",
    )
    route(
        app,
        "POST",
        f"{archives}/{{session_id}}/export",
        start_export,
        Action.ARCHIVE_CHECK,
        summary="开始导出档案（后台任务）",
    )
    route(
        app,
        "GET",
        "/api/archive/exports/{job_id}",
        export_status,
        Action.ARCHIVE_JOB,
        summary="档案导出任务的进度",
    )
    route(
        app,
        "GET",
        "/api/archive/exports/{job_id}/file",
        export_file,
        Action.ARCHIVE_JOB,
        query_token=True,
        summary="下载导出的档案包",
    )
