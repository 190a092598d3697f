"""Personal links (个人链接): issue, exchange for a session cookie, revoke and re-issue.

A printed link carries a short random code (``roomserver.links``). The page posts it to
``/api/login`` and gets an HttpOnly, SameSite=Strict cookie holding a session token whose
``lid`` names the link; the guard checks that link on every request and event. Revoking a link
ends its cookies and closes its open connections at once; re-issuing revokes the old links of
that person and gives a new one. Every issue, use and revocation is an event of the session.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from roomserver.errors import InvalidToken, NotFound
from roomserver.links import Link, code_hash, new_code
from roomserver.model import Participant, Role, SessionKind, new_id
from roomserver.policy import Action
from roomserver.store import SqlStore
from signaling.gate.centres import centres_of, own_centre
from signaling.gate.guard import GUARD_KEY, SESSION_COOKIE, body_of, grants_of, route
from signaling.gate.schemas import LinkReissueRequest, LinkRevokeRequest, LoginRequest, TokenRequest
from signaling.gate.tokens import HANDOVER_TTL_S
from signaling.http.api import SERVICES, participant_url

# How an event is recorded: the app's EventLog (archive and listeners), or the store (CLI).
Append = Callable[..., Awaitable[Any]]


async def issue_link(
    store: SqlStore,
    append: Append,
    link: Link,
) -> str:
    """Store `link` under a fresh code and record it (``link_issued``); the code, shown once."""
    code = new_code()
    await store.add_link(link, code_hash(code))
    await append(
        "link_issued",
        {
            "link": link.id,
            "subject": link.subject,
            "role": str(link.role),
            "expires_at": link.expires_at.isoformat(),
            "by": link.issued_by,
        },
        session_id=link.session_id,
        actor=link.issued_by,
    )
    return code


def participant_link(participant: Participant, *, by: str, ttl_s: int) -> Link:
    """A link that stands for a participant on the roster, valid for `ttl_s` seconds."""
    now = datetime.now(UTC)
    return Link(
        id=new_id(),
        subject=participant.id,
        role=participant.role,
        name=participant.name,
        issued_at=now,
        issued_by=by,
        expires_at=now + timedelta(seconds=ttl_s),
        participant_id=participant.id,
        session_id=participant.session_id,
        venue_id=participant.venue_id,
        seat_no=participant.seat_no,
    )


def unrostered_link(
    role: Role,
    name: str,
    *,
    by: str,
    expires_at: datetime,
    session_id: str | None = None,
    venue_id: str | None = None,
    centre_id: str | None = None,
) -> Link:
    """A link for somebody on no roster (administrator, supervisor, ops engineer, auditor,
    tenderer, bidder): ROLE:NAME; `centre_id` limits it to one trading centre, whose people
    are ROLE@CENTRE:NAME (the same name at two centres is two people)."""
    return Link(
        id=new_id(),
        subject=f"{role}@{centre_id}:{name}" if centre_id else f"{role}:{name}",
        role=role,
        name=name,
        issued_at=datetime.now(UTC),
        issued_by=by,
        expires_at=expires_at,
        session_id=session_id,
        venue_id=venue_id,
        centre_id=centre_id,
    )


async def issue_participant_url(
    request: web.Request, participant: Participant, *, by: str, ttl_s: int | None = None
) -> tuple[Link, str]:
    """Issue a participant's link from a request's handler; the link and its URL."""
    services = request.app[SERVICES]
    link = participant_link(participant, by=by, ttl_s=ttl_s or services.config.token_ttl_s)
    code = await issue_link(services.store, services.events.append, link)
    session = await services.store.get_session(participant.session_id)
    opening = session.kind == SessionKind.OPENING
    url = participant_url(services.config.base_url, participant.role, code, opening=opening)
    return link, url


async def issue_token(request: web.Request) -> web.Response:
    """``POST /api/tokens`` {participant_id, ttl_s?}: an administrator issues a participant's
    link, and a bearer token of that link for an API client (both end when it is revoked)."""
    services = request.app[SERVICES]
    grants = grants_of(request)
    body = body_of(request, TokenRequest)
    participant = await services.store.get_participant(body.participant_id)
    if grants.centre_id is not None:
        named = {"session_id": participant.session_id} if participant.session_id else {}
        own_centre(grants, await centres_of(services.store, named) or frozenset())
    link, url = await issue_participant_url(
        request, participant, by=grants.participant_id, ttl_s=body.ttl_s
    )
    token = services.tokens.issue_link_session(link)
    return web.json_response({"token": token, "url": url, "link_id": link.id}, status=201)


def link_state(links: list[Link], now: datetime) -> dict[str, Any] | None:
    """The state of somebody's latest link (of `links`, oldest first): active, revoked or
    expired, and how many of their links are open; None when they have none."""
    if not links:
        return None
    latest = links[-1]
    state = "revoked" if latest.revoked_at else "expired" if now >= latest.expires_at else "active"
    return {
        "id": latest.id,
        "state": state,
        "issued_at": latest.issued_at,
        "expires_at": latest.expires_at,
        "revoked_at": latest.revoked_at,
        "reason": latest.reason,
        "open": sum(1 for k in links if k.revoked_at is None and now < k.expires_at),
    }


def page_of(role: Role, *, opening: bool = False) -> str:
    """The page a role's link opens (at a bid opening, the opening's pages)."""
    return participant_url("", role, "", opening=opening).split("?", 1)[0]


async def login(request: web.Request) -> web.Response:
    """``POST /api/login`` {code}: a personal link's code for a session cookie (HttpOnly,
    SameSite=Strict); the answer says who logged in and which page is theirs."""
    services = request.app[SERVICES]
    body = body_of(request, LoginRequest)
    if body.handover is not None:
        link, token = await _handed_over(request, body.handover)
    else:
        found = await services.store.link_by_code(code_hash(body.code or ""))
        if found is None:
            raise InvalidToken("链接无效，请使用工作人员发给您的个人链接")
        link, token = found, services.tokens.issue_link_session(found)
    now = datetime.now(UTC)
    link.check(now)
    opening = False
    if link.session_id is not None and link.participant_id is not None:
        session = await services.store.get_session(link.session_id)
        opening = session.kind == SessionKind.OPENING
    await services.events.append(
        "link_used",
        {
            "link": link.id,
            "role": str(link.role),
            "remote": request.remote,
            **({"node": services.cluster.node_id} if body.handover is not None else {}),
        },
        session_id=link.session_id,
        actor=link.subject,
    )
    response = web.json_response(
        {
            "role": str(link.role),
            "session_id": link.session_id,
            "participant_id": link.subject,
            "name": link.name,
            "page": page_of(link.role, opening=opening),
        }
    )
    # Secure whenever people reach the server over HTTPS, also behind a proxy that ends TLS.
    secure = request.secure or services.config.base_url.startswith("https://")
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max(int((link.expires_at - now).total_seconds()), 1),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=secure,
    )
    return response


async def _handed_over(request: web.Request, handover: str) -> tuple[Link, str]:
    """The link and session token of a hand-over login from another node of the cluster,
    spent here (a second use is refused)."""
    services = request.app[SERVICES]
    grants, token = services.tokens.redeem_handover(handover)
    link = await services.store.get_link(grants.link_id) if grants.link_id else None
    if link is None:
        raise InvalidToken("转接凭证无效，请重新打开您的个人链接")
    if not await services.cluster.spend_handover(grants.token_id, HANDOVER_TTL_S):
        raise InvalidToken("转接凭证已使用，请重新打开您的个人链接")
    return link, token


async def revoke_links(
    request: web.Request,
    reason: str,
    *,
    subject: str | None = None,
    link_id: str | None = None,
    session_id: str | None = None,
) -> list[Link]:
    """Revoke `subject`'s open links (or the link `link_id`), each an event (``link_revoked``);
    the open connections of those links end at once."""
    services = request.app[SERVICES]
    by = grants_of(request).participant_id
    revoked = await services.store.revoke_links(
        by=by, reason=reason, subject=subject, link_id=link_id, session_id=session_id
    )
    for link in revoked:
        await services.events.append(
            "link_revoked",
            {"link": link.id, "subject": link.subject, "role": str(link.role), "reason": reason},
            session_id=link.session_id,
            actor=by,
        )
    await request.app[GUARD_KEY].links_revoked(link.id for link in revoked)
    return revoked


async def revoke_link(request: web.Request) -> web.Response:
    """``POST /api/sessions/{id}/links/{participant_id}/revoke`` {reason}: the main venue's host
    or an administrator takes back a participant's links (or one link, by its id)."""
    session_id = request.match_info["session_id"]
    body = body_of(request, LinkRevokeRequest)
    who = request.match_info["participant_id"]
    revoked = await revoke_links(request, body.reason, subject=who, session_id=session_id)
    if not revoked:  # not a participant's id: one link's, a tenderer's or bidder's say
        revoked = await revoke_links(request, body.reason, link_id=who, session_id=session_id)
    if not revoked:
        raise NotFound("没有可收回的链接")
    return web.json_response({"revoked": [link.id for link in revoked]})


async def reissue_link(request: web.Request) -> web.Response:
    """``POST /api/sessions/{id}/links/{participant_id}/reissue`` {reason?, ttl_s?}: a new link
    for a participant of the session; their old links are revoked."""
    services = request.app[SERVICES]
    session_id = request.match_info["session_id"]
    body = body_of(request, LinkReissueRequest)
    participant = await services.store.get_participant(request.match_info["participant_id"])
    if participant.session_id != session_id:
        raise NotFound("未找到该参与人员")
    revoked = await revoke_links(
        request, body.reason, subject=participant.id, session_id=session_id
    )
    by = grants_of(request).participant_id
    link, url = await issue_participant_url(request, participant, by=by, ttl_s=body.ttl_s)
    return web.json_response(
        {
            "link_id": link.id,
            "url": url,
            "expires_at": link.expires_at.isoformat(),
            "revoked": [old.id for old in revoked],
        },
        status=201,
    )


def add_link_routes(app: web.Application) -> None:
    """Register the login and the link management routes with their rows."""
    route(
        app,
        "POST",
        "/api/login",
        login,
        Action.LOGIN,
        body=LoginRequest,
        summary="用个人链接中的代码登录，取得会话 Cookie",
    )
    route(
        app,
        "POST",
        "/api/tokens",
        issue_token,
        Action.ISSUE_TOKEN,
        body=TokenRequest,
        summary="为参与人员签发登录凭证与个人链接（管理员）",
    )
    links = "/api/sessions/{session_id}/links/{participant_id}"
    route(
        app,
        "POST",
        f"{links}/revoke",
        revoke_link,
        Action.LINK_MANAGE,
        body=LinkRevokeRequest,
        summary="收回参与人员的个人链接",
    )
    route(
        app,
        "POST",
        f"{links}/reissue",
        reissue_link,
        Action.LINK_MANAGE,
        body=LinkReissueRequest,
        summary="重新发放参与人员的个人链接（旧链接作废）",
    )
