"""Projects, lots, a lot's evaluation session and its people over REST (7.1, 5.5.5).

A centre's administrator (or the provincial scheduling system) enters a project with its lots,
books venues for a lot (``signaling.http.places``), and opens the lot's evaluation session on
those bookings; the session's host, staff, witness and supervisors are added to it, and the
experts come from the draw (5.5.9). Every step is an event of the log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from roomserver.booking import QUARTER, Booking, BookingState, Slot
from roomserver.errors import InvalidRequest
from roomserver.links import Link
from roomserver.model import Participant, Role, Session, SessionKind, SessionState, new_id
from roomserver.openingstate import PHASE_LABELS as OPENING_PHASE_LABELS
from roomserver.openingstate import Phase
from roomserver.policy import Action
from roomserver.projects import Lot, Project
from roomserver.workflow import PHASE_LABELS
from signaling.gate.centres import own_centre
from signaling.gate.guard import body_of, grants_of, query_of, route
from signaling.gate.projects import (
    FeeList,
    LotOut,
    LotRequest,
    PeopleList,
    PersonOut,
    PersonRequest,
    ProjectOut,
    ProjectPage,
    ProjectQuery,
    ProjectRequest,
    ReviewOut,
    ReviewRequest,
    SessionRequest,
)
from signaling.http.api import SERVICES
from signaling.http.links import link_state
from signaling.services.container import Services
from signaling.services.workflow import EVENT_KIND as WORKFLOW_EVENT


async def _forced_end(services: Services, session_id: str) -> dict[str, Any] | None:
    """The forced end of an ended session, from its log: nothing is accepted after the end, so
    a forced end is the session's last workflow event."""
    last = await services.store.last_event(session_id, WORKFLOW_EVENT)
    if last is None or last.data.get("happened") != "session_forced_end":
        return None
    details = last.data.get("details", {})
    phase = str(details.get("phase", ""))
    labels = {str(p): label for p, label in PHASE_LABELS.items()}
    return {
        "reason": details.get("reason", ""),
        "at": last.at,
        "by": last.actor,
        "phase": phase,
        "phase_label": labels.get(phase, phase),
    }


async def _summary(services: Services, s: Session) -> dict[str, Any]:
    """A session in brief, with why it was re-convened (复议) or ended by force."""
    reason = None
    if s.review_of is not None:
        opened = await services.store.last_event(s.id, "re_review_opened")
        reason = opened.data.get("reason") if opened is not None else None
    return {
        "id": s.id,
        "state": str(s.state),
        "scheduled_start": s.scheduled_start,
        "main_venue_id": s.main_venue_id,
        "sub_venue_ids": list(s.sub_venue_ids),
        "review_of": s.review_of,
        "review_reason": reason,
        "forced_end": (
            await _forced_end(services, s.id) if s.state == SessionState.ENDED else None
        ),
    }


async def _opening_summary(services: Services, lot: Lot) -> dict[str, Any] | None:
    """The lot's bid opening in brief, if it has one. Its phase comes from its log once it has
    bidders (an opening without them has not begun: nothing can happen in it yet)."""
    opening = await services.store.projects.opening_of_lot(lot.id)
    if opening is None:
        return None
    session = await services.store.get_session(opening.session_id)
    people = await services.store.list_participants(session.id)
    bidders = sum(1 for p in people if p.role == Role.BIDDER)
    phase = (await services.openings.state(session.id)).phase if bidders else Phase.SCHEDULED
    return {
        "id": session.id,
        "state": str(session.state),
        "phase": str(phase),
        "phase_label": OPENING_PHASE_LABELS[phase],
        "venue_id": session.main_venue_id,
        "deadline": opening.terms.deadline,
        "bidders": bidders,
        **opening.terms.as_json(),
    }


async def _lot_json(
    services: Services, lot: Lot, reviews: dict[str, list[Session]] | None = None
) -> dict[str, Any]:
    session = None
    if lot.session_id is not None:
        session = await _summary(services, await services.store.get_session(lot.session_id))
    return LotOut.model_validate(
        {
            "id": lot.id,
            "code": lot.code,
            "name": lot.name,
            "position": lot.position,
            "session": session,
            "reviews": [
                await _summary(services, r) for r in (reviews or {}).get(lot.session_id or "", [])
            ],
            "opening": await _opening_summary(services, lot),
        }
    ).model_dump(mode="json")


async def _project_json(services: Services, p: Project, lots: list[Lot]) -> dict[str, Any]:
    opened = [lot.session_id for lot in lots if lot.session_id is not None]
    reviews = await services.store.projects.reviews(opened) if opened else {}
    return ProjectOut.model_validate(
        {
            "id": p.id,
            "centre_id": p.centre_id,
            "code": p.code,
            "name": p.name,
            "tenderer": p.tenderer,
            "created_at": p.created_at,
            "created_by": p.created_by,
            "lots": [await _lot_json(services, lot, reviews) for lot in lots],
        }
    ).model_dump(mode="json")


async def list_projects(request: web.Request) -> web.Response:
    """``GET /api/projects?q=&centre_id=&page=&per_page=``: a page of projects."""
    services = request.app[SERVICES]
    query = query_of(request, ProjectQuery)
    # An administrator of one centre sees that centre's projects.
    scope = grants_of(request).centre_id
    if scope is not None and query.centre_id:
        own_centre(grants_of(request), query.centre_id)
    found, total = await services.store.projects.search(
        text=query.q,
        centre_id=scope or query.centre_id,
        page=query.page,
        per_page=query.per_page,
    )
    items = [await _project_json(services, p, []) for p in found]
    return web.json_response(
        {"items": items, "total": total, "page": query.page, "per_page": query.per_page}
    )


async def add_project(request: web.Request) -> web.Response:
    """``POST /api/projects``: a project of a centre with its lots."""
    services = request.app[SERVICES]
    body = body_of(request, ProjectRequest)
    own_centre(grants_of(request), body.centre_id)
    centre = await services.store.places.centre(body.centre_id)
    by = grants_of(request).participant_id
    codes = [lot.code for lot in body.lots]
    if len(set(codes)) != len(codes):
        raise InvalidRequest("同一项目的标段编号不能重复")
    project = Project(
        id=new_id(),
        centre_id=centre.id,
        code=body.code,
        name=body.name,
        tenderer=body.tenderer,
        created_at=datetime.now(UTC),
        created_by=by,
    )
    await services.store.projects.add_project(project)
    lots = [
        Lot(id=new_id(), project_id=project.id, code=lot.code, name=lot.name, position=i + 1)
        for i, lot in enumerate(body.lots)
    ]
    for lot in lots:
        await services.store.projects.add_lot(lot)
    answer = await _project_json(services, project, lots)
    await services.events.append("project_added", answer, actor=by)
    return web.json_response(answer, status=201)


async def get_project(request: web.Request) -> web.Response:
    """``GET /api/projects/{project_id}``: a project with its lots, their sessions and the
    re-reviews (复议) of those, and their bid openings (开标)."""
    services = request.app[SERVICES]
    project = await services.store.projects.project(request.match_info["project_id"])
    lots = await services.store.projects.lots(project.id)
    return web.json_response(await _project_json(services, project, lots))


async def add_lot(request: web.Request) -> web.Response:
    """``POST /api/projects/{project_id}/lots``: one more lot."""
    services = request.app[SERVICES]
    body = body_of(request, LotRequest)
    project = await services.store.projects.project(request.match_info["project_id"])
    position = len(await services.store.projects.lots(project.id)) + 1
    lot = Lot(id=new_id(), project_id=project.id, code=body.code, name=body.name, position=position)
    await services.store.projects.add_lot(lot)
    answer = await _lot_json(services, lot)
    await services.events.append(
        "lot_added", {"project": project.id, **answer}, actor=grants_of(request).participant_id
    )
    return web.json_response(answer, status=201)


def _booking_for(held: list[Booking], lot: Lot, venue_id: str, start: datetime) -> Booking:
    for booking in held:
        if (
            booking.venue_id == venue_id
            and booking.lot_id == lot.id
            and booking.state == BookingState.ACTIVE
            and booking.slot.starts_at <= start < booking.slot.ends_at
        ):
            return booking
    raise InvalidRequest("评标室在开始时间没有为本标段预约，请先预约场地机位")


async def open_session(request: web.Request) -> web.Response:
    """``POST /api/lots/{lot_id}/session``: the lot's evaluation session, on venues booked for
    the lot at its start (7.1.2)."""
    services = request.app[SERVICES]
    body = body_of(request, SessionRequest)
    lot = await services.store.projects.lot(request.match_info["lot_id"])
    if lot.session_id is not None:
        raise InvalidRequest("该标段已有评标场次")
    project = await services.store.projects.project(lot.project_id)
    session = Session(
        id=new_id(),
        project_code=project.code,
        project_name=lot.session_title(project),
        main_venue_id=body.main_venue_id,
        sub_venue_ids=tuple(body.sub_venue_ids),
        scheduled_start=body.scheduled_start,
    )
    for venue_id in session.venue_ids():
        venue = await services.store.get_venue(venue_id)  # NotFound for an unknown venue
        if venue_id == session.main_venue_id and not venue.main_capable:
            raise InvalidRequest(f"{venue.name}不能作为主场")
        if venue_id != session.main_venue_id and not venue.sub_capable:
            raise InvalidRequest(f"{venue.name}不能作为副场")
    at_start = Slot(session.scheduled_start, session.scheduled_start + QUARTER)
    held = await services.store.bookings.find(during=at_start, active_only=True)
    bookings = [
        _booking_for(held, lot, venue_id, session.scheduled_start)
        for venue_id in session.venue_ids()
    ]
    await services.store.projects.open_session(lot.id, session)
    await services.store.bookings.attach([b.id for b in bookings], session.id)
    by = grants_of(request).participant_id
    answer = await _lot_json(services, await services.store.projects.lot(lot.id))
    await services.events.append(
        "session_opened",
        {"project": project.id, "lot": lot.id, "bookings": [b.id for b in bookings], **answer},
        session_id=session.id,
        actor=by,
    )
    return web.json_response(answer, status=201)


async def add_person(request: web.Request) -> web.Response:
    """``POST /api/sessions/{session_id}/people``: a host, staff member, witness, supervisor or
    ops engineer of the session (their link is issued with ``POST /api/tokens``)."""
    services = request.app[SERVICES]
    body = body_of(request, PersonRequest)
    session = await services.store.get_session(request.match_info["session_id"])
    role = Role(body.role)
    opening = session.kind == SessionKind.OPENING
    if role in (Role.TENDERER, Role.AGENCY) and not opening:
        raise InvalidRequest("招标人和招标代理机构只参加开标")
    if role == Role.STAFF and opening:
        raise InvalidRequest("开标场次没有评标室工作人员")
    if role in (Role.HOST, Role.STAFF) and body.venue_id is None:
        raise InvalidRequest("主持人和工作人员须指定所在评标室")
    if body.venue_id is not None:
        session.venue_kind(body.venue_id)  # NotYourRoom if not one of the session's venues
    person = Participant(
        id=new_id(), session_id=session.id, role=role, name=body.name, venue_id=body.venue_id
    )
    await services.store.add_participant(person)
    answer = PersonOut(
        id=person.id,
        session_id=session.id,
        role=str(role),
        name=person.name,
        venue_id=person.venue_id,
    ).model_dump(mode="json")
    await services.events.append(
        "person_added", answer, session_id=session.id, actor=grants_of(request).participant_id
    )
    return web.json_response(answer, status=201)


async def list_people(request: web.Request) -> web.Response:
    """``GET /api/sessions/{session_id}/people``: everybody of the session, experts with their
    seats, each with the state of their latest link (a link's code is never shown again)."""
    services = request.app[SERVICES]
    session = await services.store.get_session(request.match_info["session_id"])
    people = await services.store.list_participants(session.id)
    links: dict[str, list[Link]] = {}
    for link in await services.store.session_links(session.id):
        links.setdefault(link.subject, []).append(link)
    now = datetime.now(UTC)
    items = [
        {
            "id": p.id,
            "role": str(p.role),
            "name": p.name,
            "venue_id": p.venue_id,
            "seat_no": p.seat_no,
            "id_last4": p.id_last4,
            "replaced_by": p.replaced_by,
            "link": link_state(links.get(p.id, []), now),
        }
        for p in people
    ]
    return web.json_response(PeopleList.model_validate({"items": items}).model_dump(mode="json"))


async def re_review(request: web.Request) -> web.Response:
    """``POST /api/sessions/{session_id}/re-review``: re-convene the committee of an ended
    session (复议, 7.2.4-2) as a new session linked to it, with its own record: in the same
    venues and seats, or in one venue."""
    services = request.app[SERVICES]
    store = services.store
    body = body_of(request, ReviewRequest)
    first = await store.get_session(request.match_info["session_id"])
    if first.state != SessionState.ENDED:
        raise InvalidRequest("只有已结束的评标可以复议")
    state = await services.workflow.state(first.id)
    people = await store.list_participants(first.id)
    committee = [p for p in people if p.role == Role.EXPERT and p.id in state.seated]
    if body.venue_id is None:
        main, subs = first.main_venue_id, first.sub_venue_ids
    else:
        main, subs = body.venue_id, ()
        venue = await store.get_venue(main)
        if not venue.main_capable:  # the one venue is the re-review's main venue
            raise InvalidRequest(f"{venue.name}不能作为主场")
        if len(committee) > venue.seat_count:
            raise InvalidRequest("该评标室的机位不够全体专家就座")
    session = Session(
        id=new_id(),
        project_code=first.project_code,
        project_name=f"{first.project_name}（复议）",
        main_venue_id=main,
        sub_venue_ids=subs,
        scheduled_start=body.scheduled_start,
        review_of=first.id,
    )
    await store.add_session(session)
    experts = [
        Participant(
            id=new_id(),
            session_id=session.id,
            role=Role.EXPERT,
            name=p.name,
            venue_id=p.venue_id if body.venue_id is None else main,
            seat_no=p.seat_no if body.venue_id is None else i + 1,
            id_last4=p.id_last4,
        )
        for i, p in enumerate(sorted(committee, key=lambda p: (p.venue_id or "", p.seat_no or 0)))
    ]
    await store.add_experts(experts)
    answer = {
        "session": {**await _summary(services, session), "review_reason": body.reason},
        "review_of": first.id,
        "experts": [e.id for e in experts],
    }
    answer = ReviewOut.model_validate(answer).model_dump(mode="json")
    await services.events.append(
        "re_review_opened",
        {**answer, "reason": body.reason},
        session_id=session.id,
        actor=grants_of(request).participant_id,
    )
    return web.json_response(answer, status=201)


async def session_fees(request: web.Request) -> web.Response:
    """``GET /api/sessions/{session_id}/fees``: the experts' fee records of an ended session."""
    services = request.app[SERVICES]
    session = await services.store.get_session(request.match_info["session_id"])
    records = await services.outcomes.fees(session.id)
    return web.json_response({"items": [r.as_json() for r in records]})


def add_project_routes(app: web.Application) -> None:
    """Register the project, lot, session and people routes."""
    read, manage = Action.PROJECTS_READ, Action.PROJECTS_MANAGE
    route(
        app,
        "GET",
        "/api/projects",
        list_projects,
        read,
        query=ProjectQuery,
        answer=ProjectPage,
        summary="项目列表（可搜索、分页）",
    )
    route(
        app,
        "POST",
        "/api/projects",
        add_project,
        manage,
        body=ProjectRequest,
        answer=ProjectOut,
        summary="录入项目及其标段（5.5.5）",
    )
    route(
        app,
        "GET",
        "/api/projects/{project_id}",
        get_project,
        read,
        answer=ProjectOut,
        summary="项目详情：标段及其评标场次（含复议场次）和开标场次",
    )
    route(
        app,
        "POST",
        "/api/projects/{project_id}/lots",
        add_lot,
        manage,
        body=LotRequest,
        answer=LotOut,
        summary="为项目增加标段",
    )
    route(
        app,
        "POST",
        "/api/lots/{lot_id}/session",
        open_session,
        manage,
        body=SessionRequest,
        answer=LotOut,
        tag="projects",
        summary="在已预约的评标室开设标段的评标场次",
    )
    route(
        app,
        "POST",
        "/api/sessions/{session_id}/re-review",
        re_review,
        manage,
        body=ReviewRequest,
        answer=ReviewOut,
        summary="复议：原评标委员会在同一评标室或一个评标室重新评审，另立记录（7.2.4）",
    )
    route(
        app,
        "GET",
        "/api/sessions/{session_id}/fees",
        session_fees,
        read,
        answer=FeeList,
        summary="评标结束后各专家的劳务费记录（5.5.6）",
    )
    route(
        app,
        "GET",
        "/api/sessions/{session_id}/people",
        list_people,
        Action.PEOPLE_READ,
        answer=PeopleList,
        summary="评标场次的全部人员（专家及其机位、主持人等）及其个人链接的状态",
    )
    route(
        app,
        "POST",
        "/api/sessions/{session_id}/people",
        add_person,
        manage,
        body=PersonRequest,
        answer=PersonOut,
        summary="为评标场次安排主持人、工作人员、见证人或监督人员",
    )
