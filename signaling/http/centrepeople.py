"""A trading centre's own people: its administrators, the supervisors of its sessions and its
ops engineers (运维技术人员), each with a personal link limited to the centre
(``roomserver.policy``: a token of one centre reaches that centre's venues, bookings, projects
and sessions only).

An administrator of the province, or of the centre, issues, lists, re-issues and revokes them;
each is an event (``link_issued``, ``link_revoked``). A link's code is shown once, when issued.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from aiohttp import web

from roomserver.errors import NotFound
from roomserver.links import Link
from roomserver.model import Role
from roomserver.policy import Action
from signaling.gate.guard import body_of, grants_of, route
from signaling.gate.places import (
    CentrePeople,
    CentrePersonOut,
    CentrePersonReissue,
    CentrePersonRequest,
    CentrePersonRevoke,
)
from signaling.http.api import SERVICES, participant_url
from signaling.http.links import issue_link, revoke_links, unrostered_link


def _person(link: Link, now: datetime, url: str | None = None) -> CentrePersonOut:
    state: Literal["active", "revoked", "expired"] = (
        "revoked" if link.revoked_at else "expired" if now >= link.expires_at else "active"
    )
    return CentrePersonOut(
        link_id=link.id,
        role=str(link.role),
        name=link.name,
        subject=link.subject,
        state=state,
        issued_at=link.issued_at,
        issued_by=link.issued_by,
        expires_at=link.expires_at,
        revoked_at=link.revoked_at,
        reason=link.reason,
        url=url,
    )


async def _issue(request: web.Request, role: Role, name: str, days: int) -> web.Response:
    services = request.app[SERVICES]
    centre = await services.store.places.centre(request.match_info["centre_id"])
    link = unrostered_link(
        role,
        name,
        by=grants_of(request).participant_id,
        expires_at=datetime.now(UTC) + timedelta(days=days),
        centre_id=centre.id,
    )
    code = await issue_link(services.store, services.events.append, link)
    url = participant_url(services.config.base_url, role, code)
    answer = _person(link, datetime.now(UTC), url)
    return web.json_response(answer.model_dump(mode="json"), status=201)


async def _link_of(request: web.Request) -> Link:
    store = request.app[SERVICES].store
    link = await store.get_link(request.match_info["link_id"])
    if link is None or link.centre_id != request.match_info["centre_id"]:
        raise NotFound("未找到该人员的链接")
    return link


async def list_centre_people(request: web.Request) -> web.Response:
    """``GET /api/centres/{centre_id}/people``: the centre's people, each by their latest
    link, newest first."""
    services = request.app[SERVICES]
    centre = await services.store.places.centre(request.match_info["centre_id"])
    latest: dict[str, Link] = {}
    for link in await services.store.centre_links(centre.id):
        latest[link.subject] = link  # oldest first: the last one stands
    now = datetime.now(UTC)
    people = sorted(latest.values(), key=lambda k: k.issued_at, reverse=True)
    answer = CentrePeople(items=[_person(k, now) for k in people])
    return web.json_response(answer.model_dump(mode="json"))


async def add_centre_person(request: web.Request) -> web.Response:
    """``POST /api/centres/{centre_id}/people`` {role, name, days?}: an administrator,
    supervisor or ops engineer of the centre, and their link (its URL shown this once)."""
    body = body_of(request, CentrePersonRequest)
    return await _issue(request, Role(body.role), body.name, body.days)


async def reissue_centre_person(request: web.Request) -> web.Response:
    """``POST /api/centres/{centre_id}/people/{link_id}/reissue`` {reason, days?}: a new link
    for the same person; their open links are revoked."""
    body = body_of(request, CentrePersonReissue)
    link = await _link_of(request)
    await revoke_links(request, body.reason, subject=link.subject)
    return await _issue(request, link.role, link.name, body.days)


async def revoke_centre_person(request: web.Request) -> web.Response:
    """``POST /api/centres/{centre_id}/people/{link_id}/revoke`` {reason}: the person's open
    links are taken back at once (their open connections end)."""
    body = body_of(request, CentrePersonRevoke)
    link = await _link_of(request)
    revoked = await revoke_links(request, body.reason, subject=link.subject)
    if not revoked:
        raise NotFound("该人员没有可收回的链接")
    return web.json_response({"revoked": [k.id for k in revoked]})


def add_centre_people_routes(app: web.Application) -> None:
    """Register the routes of a centre's people."""
    people = "/api/centres/{centre_id}/people"
    manage = Action.CENTRE_PEOPLE
    route(
        app,
        "GET",
        people,
        list_centre_people,
        manage,
        answer=CentrePeople,
        tag="centres",
        summary="交易中心的管理员、监督人员和运维技术人员",
    )
    route(
        app,
        "POST",
        people,
        add_centre_person,
        manage,
        body=CentrePersonRequest,
        answer=CentrePersonOut,
        tag="centres",
        summary="新增交易中心人员并发放其个人链接",
    )
    route(
        app,
        "POST",
        f"{people}/{{link_id}}/reissue",
        reissue_centre_person,
        manage,
        body=CentrePersonReissue,
        answer=CentrePersonOut,
        tag="centres",
        summary="重新发放交易中心人员的个人链接（旧链接作废）",
    )
    route(
        app,
        "POST",
        f"{people}/{{link_id}}/revoke",
        revoke_centre_person,
        manage,
        body=CentrePersonRevoke,
        tag="centres",
        summary="收回交易中心人员的个人链接",
    )
