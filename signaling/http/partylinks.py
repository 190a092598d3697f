"""Tenderers' and bidders' archive links (招标人、投标人调阅链接, 4.3): issued for one session by
an archivist or an administrator, listed by party with the state of each party's latest link,
revoked and re-issued.

A party is its role and name (the link's subject, ``bidder:NAME``); a link id in a path names
the party whose link it is. A party's link ends `ttl_days` after the session ended, however late
it is issued (``roomserver.links.party_link_expiry``): that is the party's access window, which
a re-issue keeps. Issue, re-issue and revocation are events of the session (``link_issued``,
``link_revoked``) and lines of the archive access log, written before the answer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web

from roomserver.errors import InvalidRequest, NotFound
from roomserver.links import Link, party_link_expiry
from roomserver.model import Role
from roomserver.policy import Action
from signaling.gate.guard import body_of, grants_of, route
from signaling.gate.partylinks import (
    PartyLinkList,
    PartyLinkOut,
    PartyLinkReissueRequest,
    PartyLinkRequest,
    PartyLinkRevokeRequest,
    RevokedLinks,
)
from signaling.http.api import SERVICES, participant_url
from signaling.http.archive import PLAYBACK
from signaling.http.links import issue_link, link_state, revoke_links, unrostered_link

PARTIES = frozenset({Role.TENDERER, Role.BIDDER})


async def _issued(
    request: web.Request, role: Role, name: str, expires_at: datetime
) -> tuple[Link, str]:
    """A party's new link of the request's session, recorded; the link and its address."""
    services = request.app[SERVICES]
    grants = grants_of(request)
    session_id = request.match_info["session_id"]
    link = unrostered_link(
        role, name, by=grants.participant_id, expires_at=expires_at, session_id=session_id
    )
    code = await issue_link(services.store, services.events.append, link)
    await request.app[PLAYBACK].record(
        "party_link_issued", grants, session=session_id, party=str(role), name=name, link=link.id
    )
    return link, participant_url(services.config.base_url, role, code)


def _answer(link: Link, url: str, revoked: list[str]) -> web.Response:
    answer = PartyLinkOut.model_validate(
        {
            "url": url,
            "role": str(link.role),
            "name": link.name,
            "link_id": link.id,
            "expires_at": link.expires_at,
            "revoked": revoked,
        }
    )
    return web.json_response(answer.model_dump(mode="json"), status=201)


async def party_link(request: web.Request) -> web.Response:
    """``POST /api/archive/sessions/{id}/party-links`` {role: tenderer|bidder, name, ttl_days?}:
    a tenderer or bidder gets a link to the open part of one session's archive.

    A link that would already have ended is refused."""
    services = request.app[SERVICES]
    body = body_of(request, PartyLinkRequest)
    session_id = request.match_info["session_id"]
    catalog = await request.app[PLAYBACK].catalog(session_id)  # NotFound for no archive
    ended = await services.store.ended_at(session_id)
    if ended is None and catalog.end is not None:  # an interrupted session: its last recording
        ended = datetime.fromtimestamp(catalog.end, UTC)
    now = datetime.now(UTC)
    expires_at = party_link_expiry(now, ended, timedelta(days=body.ttl_days))
    if expires_at <= now:
        raise InvalidRequest(f"该场评标结束已超过 {body.ttl_days} 天，调阅期限已过")
    link, url = await _issued(request, Role(body.role), body.name, expires_at)
    return _answer(link, url, [])


async def _parties(request: web.Request) -> dict[str, list[Link]]:
    """The session's party links by party, each party's oldest first."""
    store = request.app[SERVICES].store
    session = await store.get_session(request.match_info["session_id"])  # NotFound
    parties: dict[str, list[Link]] = {}
    for link in await store.session_links(session.id):
        # A bidder at a bid opening is on its roster: their link is not an archive link.
        if link.role in PARTIES and link.participant_id is None:
            parties.setdefault(link.subject, []).append(link)
    return parties


async def _party_of(request: web.Request) -> list[Link]:
    """The links of the party whose link the path names, in the path's session."""
    link_id = request.match_info["link_id"]
    for links in (await _parties(request)).values():
        if any(link.id == link_id for link in links):
            return links
    raise NotFound("未找到该调阅链接")


async def list_party_links(request: web.Request) -> web.Response:
    """``GET /api/archive/sessions/{id}/party-links``: the tenderers and bidders the session's
    archive was opened to, each with their latest link's state (a link's code is never shown
    again)."""
    now = datetime.now(UTC)
    items = [
        {"role": str(links[0].role), "name": links[0].name, "link": link_state(links, now)}
        for links in (await _parties(request)).values()
    ]
    return web.json_response(PartyLinkList.model_validate({"items": items}).model_dump(mode="json"))


async def revoke_party_link(request: web.Request) -> web.Response:
    """``POST /api/archive/sessions/{id}/party-links/{link_id}/revoke`` {reason}: every open
    link of that link's party ends at once, open pages included."""
    body = body_of(request, PartyLinkRevokeRequest)
    party = await _party_of(request)
    session_id = request.match_info["session_id"]
    revoked = await revoke_links(
        request, body.reason, subject=party[0].subject, session_id=session_id
    )
    if not revoked:
        raise NotFound("该单位没有可收回的调阅链接")
    await request.app[PLAYBACK].record(
        "party_link_revoked",
        grants_of(request),
        session=session_id,
        party=str(party[0].role),
        name=party[0].name,
        links=[link.id for link in revoked],
        reason=body.reason,
    )
    return web.json_response(RevokedLinks(revoked=[link.id for link in revoked]).model_dump())


async def reissue_party_link(request: web.Request) -> web.Response:
    """``POST /api/archive/sessions/{id}/party-links/{link_id}/reissue`` {reason?}: a new link
    for that link's party, until the end of the party's window (its latest link's); its open
    links end. Refused once the window is over."""
    body = body_of(request, PartyLinkReissueRequest)
    party = await _party_of(request)
    latest = party[-1]
    if latest.expires_at <= datetime.now(UTC):
        raise InvalidRequest("该单位的调阅期限已过，不能重新发放；如需调阅，请重新授权")
    session_id = request.match_info["session_id"]
    revoked = await revoke_links(
        request, body.reason, subject=latest.subject, session_id=session_id
    )
    link, url = await _issued(request, latest.role, latest.name, latest.expires_at)
    return _answer(link, url, [old.id for old in revoked])


def add_party_link_routes(app: web.Application) -> None:
    """Register the party link routes, each with the row of ``ARCHIVE_GRANT``."""
    links = "/api/archive/sessions/{session_id}/party-links"
    route(
        app,
        "POST",
        links,
        party_link,
        Action.ARCHIVE_GRANT,
        body=PartyLinkRequest,
        answer=PartyLinkOut,
        summary="为招标人或投标人发放档案调阅链接",
    )
    route(
        app,
        "GET",
        links,
        list_party_links,
        Action.ARCHIVE_GRANT,
        answer=PartyLinkList,
        summary="本场评标已发放的招标人、投标人调阅链接及其状态",
    )
    route(
        app,
        "POST",
        f"{links}/{{link_id}}/revoke",
        revoke_party_link,
        Action.ARCHIVE_GRANT,
        body=PartyLinkRevokeRequest,
        answer=RevokedLinks,
        summary="收回招标人或投标人的调阅链接（该单位的有效链接全部作废）",
    )
    route(
        app,
        "POST",
        f"{links}/{{link_id}}/reissue",
        reissue_party_link,
        Action.ARCHIVE_GRANT,
        body=PartyLinkReissueRequest,
        answer=PartyLinkOut,
        summary="重新发放招标人或投标人的调阅链接（旧链接作废，调阅期限不变）",
    )
