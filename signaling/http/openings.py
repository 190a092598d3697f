"""A lot's bid opening (开标) over REST: what the centre sets up, and what the hall and the
opening console send (7.2.3-4 to 9).

- ``POST /api/lots/{lot_id}/opening``: the opening's session, in a venue of the project's centre
  where the host sits, with the bid deadline and the tender documents' terms; the tenderer, its
  agency, the host, the witness and supervisors are added as the session's people
  (``POST /api/sessions/{id}/people``), the bidders with ``POST /api/sessions/{id}/bidders``;
- ``GET /api/sessions/{id}/opening``: the opening as the asker may see it
  (``roomserver.openingview``);
- ``POST /api/sessions/{id}/opening``: a command of the hall or the console
  (``signaling.gate.openings``);
- a bidder's own: its representative's sign-in with the face picture, the sealed bid (the
  blob as the body; the commitments in the query), the key it releases, an objection.

Refusals are answered as problem+json with the state machine's reason and logged as
``request_refused`` events of the opening.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StringConstraints

from roomserver.benchmark import Parameter
from roomserver.errors import InvalidRequest, NotFound
from roomserver.model import Participant, Role, Session, SessionKind, new_id
from roomserver.opening import Phase
from roomserver.openings import Opening, OpeningTerms
from roomserver.openingview import opening_view
from roomserver.policy import Action
from roomserver.sealing import DEFAULT_FIELDS, FieldSpec, SealLimits
from signaling.gate.guard import body_of, grants_of, query_of, route
from signaling.gate.openings import (
    BidderRequest,
    KeyRelease,
    ObjectionRequest,
    OpeningCommand,
    OpeningRequest,
    RecordRequest,
    SignInRequest,
    opening_fields,
)
from signaling.http.api import SERVICES, read_file_body
from signaling.http.links import issue_participant_url

JPEG_MAGIC = b"\xff\xd8\xff"
# The largest sealed bid the routes take (the service's limits may be lower).
MAX_BID_BYTES = SealLimits().max_blob_bytes


class BidQuery(BaseModel):
    """The commitments that come with a sealed bid."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    plaintext_sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")]
    key_sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")]


def _b64(value: str, what: str) -> bytes:
    text = value.split(",", 1)[1] if value.startswith("data:") else value
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest(f"{what}不是有效的 base64") from exc


async def _answer(request: web.Request, session_id: str, status: int = 200) -> web.Response:
    services = request.app[SERVICES]
    grants = grants_of(request)
    state = await services.openings.state(session_id)
    opening = await services.openings.opening(session_id)
    session = await services.store.get_session(session_id)
    body = {
        "session": {
            "id": session.id,
            "project_code": session.project_code,
            "project_name": session.project_name,
            "state": str(session.state),
            "venue_id": session.main_venue_id,
        },
        "public": opening.terms.public,
        "server_time": datetime.now(UTC).isoformat(),
        **opening_view(state, grants.role, grants.participant_id),
    }
    return web.json_response(body, status=status)


async def open_opening(request: web.Request) -> web.Response:
    """``POST /api/lots/{lot_id}/opening``: the lot's bid opening, in a venue of the project's
    centre (its opening room), with the bid deadline and the tender documents' terms."""
    services = request.app[SERVICES]
    body = body_of(request, OpeningRequest)
    lot = await services.store.projects.lot(request.match_info["lot_id"])
    project = await services.store.projects.project(lot.project_id)
    venue = await services.store.get_venue(body.venue_id)
    if venue.centre_id != project.centre_id:
        raise InvalidRequest("开标室应为项目所在交易中心的场地")
    if body.deadline <= datetime.now(UTC):
        raise InvalidRequest("投标截止时间应晚于现在")
    terms = OpeningTerms(
        deadline=body.deadline,
        fields=tuple(FieldSpec(**f.model_dump()) for f in body.fields)
        if body.fields
        else DEFAULT_FIELDS,
        min_bids=body.min_bids,
        decryption_minutes=body.decryption_minutes,
        benchmark=tuple(Parameter(p.name, p.label, tuple(p.candidates)) for p in body.benchmark),
        public=body.public,
    )
    session = Session(
        id=new_id(),
        project_code=project.code,
        project_name=f"{lot.session_title(project)} 开标",
        main_venue_id=venue.id,
        sub_venue_ids=(),
        scheduled_start=body.deadline,
        kind=SessionKind.OPENING,
    )
    await services.store.projects.open_opening(session, Opening(session.id, lot.id, terms))
    answer = {
        "id": session.id,
        "lot_id": lot.id,
        "venue_id": venue.id,
        "deadline": terms.deadline.isoformat(),
        **terms.as_json(),
    }
    await services.events.append(
        "opening_set_up",
        answer,
        session_id=session.id,
        actor=grants_of(request).participant_id,
    )
    return web.json_response(answer, status=201)


async def add_bidder(request: web.Request) -> web.Response:
    """``POST /api/sessions/{session_id}/bidders`` {name, credit_code?}: a bidder of the lot,
    and its representative's link to the hall (shown this once), valid until a link's term
    after the bid deadline."""
    services = request.app[SERVICES]
    body = body_of(request, BidderRequest)
    session_id = request.match_info["session_id"]
    opening = await services.store.projects.opening(session_id)  # NotFound if not an opening
    people = await services.store.list_participants(session_id)
    if any(p.role == Role.BIDDER and p.name == body.name for p in people):
        raise InvalidRequest(f"投标人“{body.name}”已在名单中")
    if any(p.role == Role.BIDDER for p in people):
        state = await services.openings.state(session_id)
        if state.phase not in (Phase.SCHEDULED, Phase.SUBMISSION):
            raise InvalidRequest("投标截止后不能再添加投标人")
    bidder = Participant(new_id(), session_id, Role.BIDDER, body.name)
    await services.store.add_participant(bidder)
    by = grants_of(request).participant_id
    await services.events.append(
        "bidder_added",
        {"bidder": bidder.id, "name": bidder.name, "credit_code": body.credit_code or None},
        session_id=session_id,
        actor=by,
    )
    await services.openings.bidders_changed(session_id)
    # The representative signs in and submits any time before the deadline, however far off,
    # and takes part in the opening after it: the link lasts a link's term past the deadline.
    term = services.config.token_ttl_s
    until_deadline = int((opening.terms.deadline - datetime.now(UTC)).total_seconds())
    link, url = await issue_participant_url(
        request, bidder, by=by, ttl_s=max(term, until_deadline + term)
    )
    answer = {
        "id": bidder.id,
        "name": bidder.name,
        "url": url,
        "link_id": link.id,
        "expires_at": link.expires_at.isoformat(),
    }
    return web.json_response(answer, status=201)


async def get_opening(request: web.Request) -> web.Response:
    """``GET /api/sessions/{session_id}/opening``: the opening as the asker may see it."""
    return await _answer(request, request.match_info["session_id"])


async def opening_command(request: web.Request) -> web.Response:
    """``POST /api/sessions/{session_id}/opening`` {kind, fields}: a command of the hall or
    the opening console; the answer is the opening as the asker sees it afterwards."""
    services = request.app[SERVICES]
    session_id = request.match_info["session_id"]
    body = body_of(request, OpeningCommand)
    fields = opening_fields(body.kind, body.fields)
    await services.openings.command(session_id, grants_of(request), body.kind, fields)
    return await _answer(request, session_id)


async def sign_in(request: web.Request) -> web.Response:
    """``POST /api/sessions/{session_id}/opening/sign-in``: the representative signs in."""
    services = request.app[SERVICES]
    session_id = request.match_info["session_id"]
    body = body_of(request, SignInRequest)
    picture = _b64(body.picture, "人脸照片")
    if not picture.startswith(JPEG_MAGIC):
        raise InvalidRequest("人脸照片应为 JPEG 图片")
    await services.openings.sign_in(
        session_id,
        grants_of(request),
        representative=body.representative,
        id_number=body.id_number,
        picture=picture,
    )
    return await _answer(request, session_id)


async def submit_bid(request: web.Request) -> web.Response:
    """``POST /api/sessions/{session_id}/bids?plaintext_sha256=&key_sha256=``: the sealed bid
    as the body (``application/octet-stream``), sealed in the bidder's browser."""
    services = request.app[SERVICES]
    session_id = request.match_info["session_id"]
    query = query_of(request, BidQuery)
    limit = services.openings.limits.max_blob_bytes
    too_large = f"密封投标文件不能超过 {limit // (1024 * 1024)} MB"
    blob = await read_file_body(request, limit, too_large)
    await services.openings.submit(
        session_id,
        grants_of(request),
        blob,
        query.plaintext_sha256.lower(),
        query.key_sha256.lower(),
    )
    return await _answer(request, session_id, 201)


async def release_key(request: web.Request) -> web.Response:
    """``POST /api/sessions/{session_id}/opening/key`` {key}: the bidder releases its key; the
    seal is opened at once and its result is in the answer."""
    services = request.app[SERVICES]
    session_id = request.match_info["session_id"]
    body = body_of(request, KeyRelease)
    key = _b64(body.key, "解密密钥")
    await services.openings.release_key(session_id, grants_of(request), key)
    return await _answer(request, session_id)


async def raise_objection(request: web.Request) -> web.Response:
    """``POST /api/sessions/{session_id}/opening/objections`` {text, attachment?,
    attachment_type?}: a bidder's objection."""
    services = request.app[SERVICES]
    session_id = request.match_info["session_id"]
    body = body_of(request, ObjectionRequest)
    attachment = None
    if body.attachment is not None:
        if body.attachment_type is None:
            raise InvalidRequest("请说明异议附件的类型")
        attachment = (_b64(body.attachment, "异议附件"), body.attachment_type)
    await services.openings.object(session_id, grants_of(request), body.text, attachment)
    return await _answer(request, session_id, 201)


async def put_up_record(request: web.Request) -> web.Response:
    """``POST /api/sessions/{session_id}/opening/record`` {again?}: the host puts up the
    opening record sheet, made from the opening's log (again after a change: every signature
    is then needed anew)."""
    services = request.app[SERVICES]
    session_id = request.match_info["session_id"]
    body = body_of(request, RecordRequest)
    await services.openings.put_up_record(session_id, grants_of(request), again=body.again)
    return await _answer(request, session_id, 201)


async def record_pdf(request: web.Request) -> web.Response:
    """``GET /api/sessions/{session_id}/opening/record``: the record sheet to sign (PDF)."""
    pdf = await request.app[SERVICES].openings.record_pdf(request.match_info["session_id"])
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={"Content-Disposition": 'inline; filename="opening-record.pdf"'},
    )


async def objection_attachment(request: web.Request) -> web.Response:
    """``GET /api/sessions/{session_id}/opening/objections/{number}/attachment``: the picture
    or PDF an objection came with."""
    number = request.match_info["number"]
    if not number.isdigit() or len(number) > 6:
        raise NotFound("没有这份异议附件")
    data, media_type, suffix = await request.app[SERVICES].openings.objection_attachment(
        request.match_info["session_id"], grants_of(request), int(number)
    )
    return web.Response(
        body=data,
        content_type=media_type,
        headers={"Content-Disposition": f'inline; filename="objection-{number}.{suffix}"'},
    )


def add_opening_routes(app: web.Application) -> None:
    """Register the bid opening's routes with their rows."""
    route(
        app,
        "POST",
        "/api/lots/{lot_id}/opening",
        open_opening,
        Action.PROJECTS_MANAGE,
        body=OpeningRequest,
        tag="openings",
        summary="为标段设立开标场次（投标截止时间、开标字段、最少有效投标数等）",
    )
    route(
        app,
        "POST",
        "/api/sessions/{session_id}/bidders",
        add_bidder,
        Action.PROJECTS_MANAGE,
        body=BidderRequest,
        tag="openings",
        summary="添加投标人并发放其进入开标大厅的个人链接",
    )
    opening = "/api/sessions/{session_id}/opening"
    route(
        app,
        "GET",
        opening,
        get_opening,
        Action.OPENING_READ,
        tag="openings",
        summary="开标情况（按查看人的身份显示）",
    )
    route(
        app,
        "POST",
        opening,
        opening_command,
        Action.OPENING_COMMAND,
        body=OpeningCommand,
        tag="openings",
        summary="开标大厅与开标控制台的操作",
    )
    route(
        app,
        "POST",
        f"{opening}/record",
        put_up_record,
        Action.OPENING_COMMAND,
        body=RecordRequest,
        tag="openings",
        summary="主持人生成开标记录表（PDF）供主持人、见证人签署",
    )
    route(
        app,
        "GET",
        f"{opening}/record",
        record_pdf,
        Action.OPENING_READ,
        query_token=True,
        tag="openings",
        summary="待签署的开标记录表（PDF）",
    )
    route(
        app,
        "POST",
        f"{opening}/sign-in",
        sign_in,
        Action.BID_SUBMIT,
        body=SignInRequest,
        tag="openings",
        summary="投标人代表签到（身份与人脸照片）",
    )
    route(
        app,
        "POST",
        "/api/sessions/{session_id}/bids",
        submit_bid,
        Action.BID_SUBMIT,
        query=BidQuery,
        body_limit=MAX_BID_BYTES,
        tag="openings",
        summary="递交在浏览器中加密的投标文件（密文）",
    )
    route(
        app,
        "POST",
        f"{opening}/key",
        release_key,
        Action.BID_SUBMIT,
        body=KeyRelease,
        tag="openings",
        summary="投标人提交解密密钥，服务器当即解密",
    )
    route(
        app,
        "POST",
        f"{opening}/objections",
        raise_objection,
        Action.BID_SUBMIT,
        body=ObjectionRequest,
        tag="openings",
        summary="投标人对唱标结果提出异议",
    )
    route(
        app,
        "GET",
        f"{opening}/objections/{{number}}/attachment",
        objection_attachment,
        Action.OPENING_READ,
        query_token=True,
        tag="openings",
        summary="异议所附的图片或 PDF（提出异议的投标人与答复、主持开标的人可看）",
    )
