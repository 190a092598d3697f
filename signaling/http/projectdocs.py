"""A project's documents in its record (7.2.5-1): tender documents, bids, evaluation standards,
award notices, contracts, clarification replies and complaint decisions.

Each is written once under the name of its SHA-256 into the project's record folder
(``projects/<project>/documents/``, ``recorder.documents.store_document``) and cited, with its
SHA-256 and SM3, by a ``project_document_added`` event of the log; a document added again is the
same file. They are listed with the archives of the project's sessions for whoever reads whole
archives, and every reading is a line of the archive access log.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from aiohttp import web

from recorder.documents import PROJECT_SUFFIXES, store_document
from roomserver.errors import InvalidRequest, NotFound
from roomserver.policy import Action
from signaling.gate.guard import grants_of, query_of, route
from signaling.gate.projects import DocumentList, DocumentOut, DocumentQuery
from signaling.http.api import SERVICES, read_file_body
from signaling.http.archive import PLAYBACK
from signaling.http.records import document_url, project_documents

MAX_DOCUMENT_BYTES = 200 * 1024 * 1024
KIND_LABELS = {
    "tender": "招标文件",
    "bid": "投标文件",
    "standard": "评标办法",
    "clarification": "澄清答复",
    "award": "中标通知书",
    "contract": "合同",
    "complaint": "投诉处理决定",
    "other": "其他",
}
BY_CONTENT_TYPE = {content_type: suffix for suffix, content_type in PROJECT_SUFFIXES.items()}


async def add_document(request: web.Request) -> web.Response:
    """``POST /api/projects/{project_id}/documents?kind=&name=`` (body: the file, with its
    Content-Type): a document of the project's record, written once."""
    services = request.app[SERVICES]
    query = query_of(request, DocumentQuery)
    project = await services.store.projects.project(request.match_info["project_id"])
    suffix = BY_CONTENT_TYPE.get(request.content_type)
    if suffix is None:
        raise InvalidRequest("文件类型应为 PDF、OFD、图片、Word、Excel 或 ZIP")
    content = await read_file_body(request, MAX_DOCUMENT_BYTES, "文件不能超过 200 MB")
    if not content:
        raise InvalidRequest("文件为空")
    folder = services.config.projects_dir / project.id
    citation = await asyncio.to_thread(store_document, folder, content, suffix, PROJECT_SUFFIXES)
    data = {
        "project": project.id,
        "kind": query.kind,
        "name": query.name,
        "content_type": request.content_type,
        **citation,
    }
    event = await services.events.append(
        "project_document_added", data, actor=grants_of(request).participant_id
    )
    answer = DocumentOut.model_validate(
        {
            **data,
            "added_at": event.at,
            "added_by": event.actor or "",
            "url": document_url(project.id, citation["path"]),
        }
    ).model_dump(mode="json")
    return web.json_response(answer, status=201)


async def list_documents(request: web.Request) -> web.Response:
    """``GET /api/projects/{project_id}/documents``: the project's documents."""
    services = request.app[SERVICES]
    project = await services.store.projects.project(request.match_info["project_id"])
    return web.json_response({"items": await project_documents(services, project.id)})


async def read_document(request: web.Request) -> web.FileResponse:
    """``GET /api/projects/{project_id}/documents/{filename}``: one document, as it was
    added; the reading is logged."""
    services = request.app[SERVICES]
    project = await services.store.projects.project(request.match_info["project_id"])
    name = request.match_info["filename"]
    cited = next(
        (d for d in await project_documents(services, project.id) if d["url"].endswith(f"/{name}")),
        None,
    )
    path = services.config.projects_dir / project.id / "documents" / name
    if cited is None or not path.is_file():
        raise NotFound("未找到该项目资料")
    grants = grants_of(request)
    await request.app[PLAYBACK].record(
        "project_document_read", grants, project=project.id, document=cited["sha256"]
    )
    return web.FileResponse(
        path,
        headers={
            "Content-Type": cited["content_type"],
            "Content-Disposition": (
                f"attachment; filename*=UTF-8''{quote(cited['name'], safe='')}"
                f".{name.rsplit('.', 1)[-1]}"
            ),
        },
    )


def add_document_routes(app: web.Application) -> None:
    """Register the project document routes."""
    route(
        app,
        "POST",
        "/api/projects/{project_id}/documents",
        add_document,
        Action.PROJECTS_MANAGE,
        query=DocumentQuery,
        answer=DocumentOut,
        body_limit=MAX_DOCUMENT_BYTES,
        summary="向项目档案添加资料（招标文件、投标文件、中标通知书等，7.2.5）",
    )
    route(
        app,
        "GET",
        "/api/projects/{project_id}/documents",
        list_documents,
        Action.PROJECT_DOCUMENTS,
        answer=DocumentList,
        summary="项目档案中的资料",
    )
    route(
        app,
        "GET",
        "/api/projects/{project_id}/documents/{filename}",
        read_document,
        Action.PROJECT_DOCUMENTS,
        query_token=True,
        summary="下载项目资料（记入档案调阅日志）",
    )
