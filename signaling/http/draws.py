"""The expert pool and the draws of a lot over REST: sub venues (3.10) and experts (7.1.3).

A draw is two steps, each an event of the log that supervisors see (8.4-2: time, method, pool):
``…/draws/…`` commits (the facts, the pool, and the SHA-256 of a fresh secret seed are stored and
published: ``draw_committed``); ``POST /api/draws/{id}/reveal`` reveals (the seed, and the result
computed from it and the published facts: ``draw_revealed``). Drawn experts take the free seats of
their venue in the lot's session, as the expert management system's import does (5.5.9).
Anyone holding the record can check it (``roomserver.draws.verify``); ``GET /api/draws/{id}``
says whether it checks.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from roomserver.booking import Slot
from roomserver.draws import SEED_BYTES, Candidate, Draw, Need, commitment, verify
from roomserver.drawstore import DrawRecord
from roomserver.errors import InvalidRequest, NotDrawnHere
from roomserver.expertpool import PoolExpert
from roomserver.model import Participant, Role, Session, id_last4, new_id
from roomserver.policy import Action
from signaling.gate.draws import (
    DrawList,
    DrawOut,
    ExpertDraw,
    PoolImport,
    PoolImportOut,
    PoolPage,
    PoolQuery,
    RedrawOut,
    RedrawRequest,
    SubVenueDraw,
)
from signaling.gate.guard import body_of, grants_of, query_of, route
from signaling.http.api import SERVICES
from signaling.http.roster import hand_over_seat
from signaling.services.container import Services


def _expert_json(e: PoolExpert) -> dict[str, Any]:
    return {
        "id": e.id,
        "external_id": e.external_id,
        "name": e.name,
        "id_last4": e.id_last4,
        "specialties": list(e.specialties),
        "city": e.city,
        "employer": e.employer,
        "active": e.active,
    }


async def _names(services: Services, record: DrawRecord) -> dict[str, str]:
    ids = [cid for _, cid in record.result or ()]
    if record.kind == "experts":
        return {k: e.name for k, e in (await services.store.draws.experts(ids)).items()}
    return {v: (await services.store.get_venue(v)).name for v in ids}


async def _draw_json(services: Services, record: DrawRecord) -> dict[str, Any]:
    names = await _names(services, record)
    verified = None
    if record.revealed and record.result is not None:
        verified = verify(
            Draw.from_facts_json(record.facts), record.seed_hex, record.commitment, record.result
        )
    return DrawOut.model_validate(
        {
            "id": record.id,
            "kind": record.kind,
            "subject": record.subject,
            "session_id": record.session_id,
            "facts": record.facts,
            "facts_sha256": hashlib.sha256(record.facts.encode("ascii")).hexdigest(),
            "commitment": record.commitment,
            "revealed": record.revealed,
            "seed": record.seed_hex if record.revealed else None,
            "result": [
                {"label": label, "id": cid, "name": names.get(cid, "")}
                for label, cid in record.result
            ]
            if record.result is not None
            else None,
            "created_by": record.created_by,
            "created_at": record.created_at,
            "revealed_at": record.revealed_at,
            "verified": verified,
        }
    ).model_dump(mode="json")


async def import_pool(request: web.Request) -> web.Response:
    """``POST /api/experts/pool``: experts of the expert management system, added or updated."""
    services = request.app[SERVICES]
    body = body_of(request, PoolImport)
    ids = [e.external_id for e in body.experts]
    if len(set(ids)) != len(ids):
        raise InvalidRequest("专家编号不能重复")
    experts = [
        PoolExpert(
            id=new_id(),
            external_id=e.external_id,
            name=e.name,
            specialties=tuple(e.specialties),
            city=e.city,
            employer=e.employer,
            id_last4=id_last4(e.id_number) if e.id_number else None,
            active=e.active,
        )
        for e in body.experts
    ]
    added, updated = await services.store.draws.import_pool(experts, datetime.now(UTC))
    await services.events.append(
        "expert_pool_imported",
        {"added": added, "updated": updated},
        actor=grants_of(request).participant_id,
    )
    return web.json_response({"added": added, "updated": updated})


async def list_pool(request: web.Request) -> web.Response:
    """``GET /api/experts/pool?q=&page=&per_page=``: a page of the pool."""
    query = query_of(request, PoolQuery)
    found, total = await request.app[SERVICES].store.draws.search_pool(
        text=query.q, page=query.page, per_page=query.per_page
    )
    return web.json_response(
        {
            "items": [_expert_json(e) for e in found],
            "total": total,
            "page": query.page,
            "per_page": query.per_page,
        }
    )


async def _commit(request: web.Request, draw: Draw, session_id: str | None) -> web.Response:
    record = await _committed(request, draw, session_id)
    return web.json_response(await _draw_json(request.app[SERVICES], record), status=201)


async def _committed(request: web.Request, draw: Draw, session_id: str | None) -> DrawRecord:
    services = request.app[SERVICES]
    seed = secrets.token_bytes(SEED_BYTES)
    draw.result(seed)  # a pool that cannot serve the needs is refused now, before anything
    record = DrawRecord(
        id=new_id(),
        kind=draw.kind,
        subject=draw.subject,
        session_id=session_id,
        facts=draw.facts_json(),
        commitment=commitment(seed),
        seed_hex=seed.hex(),
        revealed=False,
        result=None,
        created_by=grants_of(request).participant_id,
        created_at=datetime.now(UTC),
        revealed_at=None,
    )
    await services.store.draws.commit(record)
    answer = await _draw_json(services, record)
    published = {k: answer[k] for k in ("id", "kind", "subject", "facts", "facts_sha256")}
    await services.events.append(
        "draw_committed",
        {**published, "commitment": record.commitment, "pool": len(draw.pool)},
        session_id=session_id,
        actor=record.created_by,
    )
    return record


async def draw_sub_venues(request: web.Request) -> web.Response:
    """``POST /api/lots/{lot_id}/draws/sub-venues``: commit a draw of sub venues (3.10)."""
    services = request.app[SERVICES]
    store = services.store
    body = body_of(request, SubVenueDraw)
    lot = await store.projects.lot(request.match_info["lot_id"])
    main = await store.get_venue(body.main_venue_id)
    centres = {c.id: c for c in await store.places.centres()}
    province = centres[main.centre_id].province
    if not province:
        raise InvalidRequest("主场所在交易中心没有行政区划代码，无法在上级区域内抽取副场")
    slot = Slot(body.starts_at, body.ends_at)
    venues = [
        v
        for v in await store.list_venues()
        if v.sub_capable
        and v.centre_id != main.centre_id
        and centres[v.centre_id].province == province
    ]
    free = await store.bookings.vacancy(venues, slot)
    pool = tuple(
        Candidate(v.id, {"province": (province,), "city": (v.city,)})
        for v in venues
        if len(free[v.id]) >= body.seats
    )
    draw = Draw("sub_venues", lot.id, pool, (Need(body.count, {"province": province}, "副场"),))
    return await _commit(request, draw, lot.session_id)


def _free_seats(
    session: Session, venue_seats: dict[str, int], people: list[Participant]
) -> dict[str, list[int]]:
    taken = {(p.venue_id, p.seat_no) for p in people if p.seat_no is not None}
    return {
        v: [n for n in range(1, venue_seats[v] + 1) if (v, n) not in taken]
        for v in session.venue_ids()
    }


async def draw_experts(request: web.Request) -> web.Response:
    """``POST /api/lots/{lot_id}/draws/experts``: commit a draw of experts for the lot's
    session (7.1.3)."""
    services = request.app[SERVICES]
    store = services.store
    body = body_of(request, ExpertDraw)
    lot = await store.projects.lot(request.match_info["lot_id"])
    if lot.session_id is None:
        raise InvalidRequest("请先开设该标段的评标场次，再抽取专家")
    session = await store.get_session(lot.session_id)
    seats = {v: (await store.get_venue(v)).seat_count for v in session.venue_ids()}
    free = _free_seats(session, seats, await store.list_participants(session.id))
    wanted: dict[str, int] = {}
    for need in body.needs:
        if need.venue_id not in free:
            raise InvalidRequest("抽取的专家只能安排在本场评标的评标室")
        wanted[need.venue_id] = wanted.get(need.venue_id, 0) + need.count
    for venue_id, count in wanted.items():
        if count > len(free[venue_id]):
            raise InvalidRequest(f"评标室只剩 {len(free[venue_id])} 个空机位，不够 {count} 位专家")
    pool = await store.draws.pool()
    drawn_before = {
        cid
        for record in await store.draws.draws_of(lot.id)
        if record.kind == "experts"
        for _, cid in record.result or ()
    }
    needs = tuple(
        Need(
            need.count,
            {
                **({"specialty": need.specialty} if need.specialty else {}),
                **({"city": need.city} if need.city else {}),
            },
            need.venue_id,
        )
        for need in body.needs
    )
    excluded = {e.id for e in pool if e.external_id in set(body.exclude_external_ids)}
    draw = Draw(
        "experts",
        lot.id,
        tuple(e.candidate() for e in pool),
        needs,
        excluded_ids=frozenset(excluded | drawn_before),
        exclusions={"employer": frozenset(body.exclude_employers)}
        if body.exclude_employers
        else {},
    )
    return await _commit(request, draw, session.id)


async def reveal_draw(request: web.Request) -> web.Response:
    """``POST /api/draws/{draw_id}/reveal``: publish the seed and the result; drawn experts take
    their seats in the lot's session."""
    services = request.app[SERVICES]
    store = services.store
    record = await store.draws.draw(request.match_info["draw_id"])
    if record.revealed:
        raise InvalidRequest("该抽取已经揭示")
    draw = Draw.from_facts_json(record.facts)
    result = draw.result(bytes.fromhex(record.seed_hex))
    by = grants_of(request).participant_id
    seated: list[Participant] = []
    if record.kind == "experts" and record.session_id is not None:
        session = await store.get_session(record.session_id)
        seats = {v: (await store.get_venue(v)).seat_count for v in session.venue_ids()}
        free = _free_seats(session, seats, await store.list_participants(session.id))
        pool = await store.draws.experts([cid for _, cid in result])
        for venue_id, cid in result:
            if not free.get(venue_id):
                raise InvalidRequest("评标室已没有足够的空机位，本次抽取不能揭示，请重新抽取")
            expert = pool[cid]
            seated.append(
                Participant(
                    id=new_id(),
                    session_id=session.id,
                    role=Role.EXPERT,
                    name=expert.name,
                    venue_id=venue_id,
                    seat_no=free[venue_id].pop(0),
                    id_last4=expert.id_last4,
                )
            )
        await store.add_experts(seated)
    participants = {cid: p.id for (_, cid), p in zip(result, seated, strict=True)} if seated else {}
    revealed = await _revealed(services, record, result, seated, participants, by)
    return web.json_response(await _draw_json(services, revealed))


async def _revealed(
    services: Services,
    record: DrawRecord,
    result: list[tuple[str, str]],
    seated: list[Participant],
    participants: dict[str, str],
    by: str,
) -> DrawRecord:
    revealed = await services.store.draws.reveal(record.id, result, datetime.now(UTC), participants)
    await services.events.append(
        "draw_revealed",
        {
            "id": record.id,
            "kind": record.kind,
            "seed": revealed.seed_hex,
            "result": [[label, cid] for label, cid in result],
            "seated": [
                {"participant": p.id, "venue": p.venue_id, "seat": p.seat_no} for p in seated
            ],
        },
        session_id=record.session_id,
        actor=by,
    )
    return revealed


def _need_of(draw: Draw, label: str, candidate: Candidate) -> Need:
    for need in draw.needs:
        if need.label == label and candidate.meets(need.conditions):
            return need
    raise InvalidRequest("找不到该专家抽取时的条件")


async def redraw_expert(request: web.Request) -> web.Response:
    """``POST /api/sessions/{session_id}/experts/{expert_id}/redraw`` {reason}: an expert who
    asked for leave, withdrew or was excused is replaced at once by one drawn from the same
    pool on the same conditions (7.1.3-3b); the draw is committed and revealed in turn. The
    answer has the replacement's seat link; the replaced expert's links are revoked. With no
    draw to repeat (NotDrawnHere) the replacement is named through ``…/replacement``."""
    services = request.app[SERVICES]
    store = services.store
    body = body_of(request, RedrawRequest)
    session_id, expert_id = request.match_info["session_id"], request.match_info["expert_id"]
    grants = grants_of(request)
    # A replacement the workflow would refuse is refused before anything is drawn.
    await services.workflow.check_replacement(session_id, grants, expert_id, body.reason)
    lot = await store.projects.lot_of_session(session_id)
    if lot is None:
        raise NotDrawnHere("该评标场次不是由标段开设的，请按专家管理系统的补抽结果填写替补专家")
    records = [r for r in await store.draws.draws_of(lot.id) if r.kind == "experts"]
    origin = next((r for r in records if expert_id in r.participants.values()), None)
    if origin is None or origin.result is None:
        raise NotDrawnHere(
            "该专家不是由本系统抽取的，无法按原条件补抽；请按专家管理系统的补抽结果填写替补专家"
        )
    cid = next(c for c, p in origin.participants.items() if p == expert_id)
    label = next(lab for lab, c in origin.result if c == cid)
    first = Draw.from_facts_json(origin.facts)
    candidate = next(c for c in first.pool if c.id == cid)
    need = _need_of(first, label, candidate)
    drawn = {c for r in records for _, c in r.result or ()}
    pool = await store.draws.pool()
    draw = Draw(
        "experts",
        lot.id,
        tuple(e.candidate() for e in pool),
        (Need(1, need.conditions, need.label),),
        excluded_ids=frozenset(first.excluded_ids | drawn),
        exclusions=first.exclusions,
    )
    record = await _committed(request, draw, session_id)
    result = draw.result(bytes.fromhex(record.seed_hex))
    picked = (await store.draws.experts([result[0][1]]))[result[0][1]]
    _, _, replacement = await services.workflow.replace_expert(
        session_id,
        grants,
        expert_id,
        name=picked.name,
        id_number=None,
        reason=body.reason,
        last4=picked.id_last4,
    )
    revealed = await _revealed(
        services, record, result, [replacement], {picked.id: replacement.id}, grants.participant_id
    )
    seat = await hand_over_seat(request, expert_id, replacement)
    answer = RedrawOut.model_validate({**await _draw_json(services, revealed), "replacement": seat})
    return web.json_response(answer.model_dump(mode="json"), status=201)


async def get_draw(request: web.Request) -> web.Response:
    """``GET /api/draws/{draw_id}``: a draw's record, and whether it checks."""
    services = request.app[SERVICES]
    record = await services.store.draws.draw(request.match_info["draw_id"])
    return web.json_response(await _draw_json(services, record))


async def list_draws(request: web.Request) -> web.Response:
    """``GET /api/lots/{lot_id}/draws``: a lot's draws."""
    services = request.app[SERVICES]
    lot = await services.store.projects.lot(request.match_info["lot_id"])
    records = await services.store.draws.draws_of(lot.id)
    return web.json_response({"items": [await _draw_json(services, r) for r in records]})


def add_draw_routes(app: web.Application) -> None:
    """Register the pool and draw routes."""
    route(
        app,
        "POST",
        "/api/experts/pool",
        import_pool,
        Action.POOL_MANAGE,
        body=PoolImport,
        answer=PoolImportOut,
        tag="experts",
        summary="导入或更新专家库（专家管理系统）",
    )
    route(
        app,
        "GET",
        "/api/experts/pool",
        list_pool,
        Action.POOL_READ,
        query=PoolQuery,
        answer=PoolPage,
        tag="experts",
        summary="专家库（可搜索、分页）",
    )
    route(
        app,
        "POST",
        "/api/lots/{lot_id}/draws/sub-venues",
        draw_sub_venues,
        Action.DRAW,
        body=SubVenueDraw,
        answer=DrawOut,
        tag="draws",
        summary="抽取副场：公布候选与种子承诺（3.10）",
    )
    route(
        app,
        "POST",
        "/api/lots/{lot_id}/draws/experts",
        draw_experts,
        Action.DRAW,
        body=ExpertDraw,
        answer=DrawOut,
        tag="draws",
        summary="抽取专家：公布候选、条件与种子承诺（7.1.3）",
    )
    route(
        app,
        "POST",
        "/api/draws/{draw_id}/reveal",
        reveal_draw,
        Action.DRAW,
        answer=DrawOut,
        summary="揭示种子与抽取结果；抽中的专家入座",
    )
    route(
        app,
        "POST",
        "/api/sessions/{session_id}/experts/{expert_id}/redraw",
        redraw_expert,
        Action.EXPERT_REPLACE,
        body=RedrawRequest,
        answer=RedrawOut,
        tag="draws",
        summary="专家请假、回避或离席后，按原条件从专家库补抽并替换（7.1.3）",
    )
    route(
        app,
        "GET",
        "/api/draws/{draw_id}",
        get_draw,
        Action.DRAW_READ,
        answer=DrawOut,
        summary="抽取记录及其校验结果",
    )
    route(
        app,
        "GET",
        "/api/lots/{lot_id}/draws",
        list_draws,
        Action.DRAW_READ,
        answer=DrawList,
        tag="draws",
        summary="标段的全部抽取记录",
    )
