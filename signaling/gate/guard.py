"""Where every HTTP route and Socket.IO event meets the policy table (``roomserver.policy``).

Routes are registered with ``route(app, method, path, handler, action)``; the middleware finds
the route's action, checks its path parameters (``signaling.gate.inputs``), verifies the token, asks
the table and checks the declared body size, all before the handler runs, so that no handler
reads a body or touches a store for somebody who may not. A route without a row is refused.

Socket.IO namespaces derive from ``GuardedNamespace``: the connection's action is checked at
connect by the namespace (it knows its token), and every event is checked again against its own
row before its handler runs, so a participant who withdrew, or whose session ended, loses the
connection's use at once. An event a namespace does not list is refused.

A request's token comes from ``Authorization: Bearer`` (API clients), else the session cookie a
page got for its personal link's code (``signaling.http.links``), else ``?token=`` where the route
allows it. The explicit header goes first: a client that names a token means that one, whatever
cookie its jar holds. A token opened with a link (``lid``) is checked against the links table on
every request and event, so that a revoked link stops working at once. A page states whom it
was opened for (``X-Expect-Subject``, ``auth.subject``): one browser holds one cookie, and a tab
opened for somebody else must not act as whoever logged in last.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.cookies import CookieError, SimpleCookie
from typing import Any, TypeVar
from urllib.parse import unquote

import socketio
from aiohttp import web
from pydantic import BaseModel

from roomserver.errors import InvalidRequest, InvalidToken, NotYourRoom, PayloadTooLarge, RoomError
from roomserver.links import LinkRevoked, OtherIdentity
from roomserver.model import Role, SessionState
from roomserver.policy import (
    POLICY,
    Action,
    Grants,
    Reach,
    Target,
    decide,
    needs_facts,
    require,
)
from roomserver.store import SqlStore
from roomserver.workflow import Phase, WorkflowState
from signaling.errors import error_ack
from signaling.gate.centres import centres_of
from signaling.gate.inputs import MAX_BODY_BYTES, clean, loads, path_params, validate
from signaling.gate.tokens import TokenIssuer
from signaling.metrics import is_loopback
from signaling.services.events import EventLog

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# The cookie a page's code is exchanged for; the header and auth field a page names its bearer in.
SESSION_COOKIE = "roomserver_session"
EXPECT_SUBJECT = "X-Expect-Subject"


@dataclass(frozen=True)
class Endpoint:
    """A route's row: its action, whether ``?token=`` may carry the token, its body limit, and
    what the API document says of it (``signaling.http.openapi``): the models of its body, query
    and answer, which the middleware applies before the handler, and its operation."""

    action: Action
    query_token: bool = False  # for <img>, <video> and downloads, which send no header
    body_limit: int = MAX_BODY_BYTES
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    answer: type[BaseModel] | None = None
    operation_id: str = ""
    tag: str = ""
    summary: str = ""


ENDPOINTS: web.AppKey[dict[tuple[str, str], Endpoint]] = web.AppKey("endpoints", dict)
GUARD_KEY: web.AppKey[Guard] = web.AppKey("guard")
# The grants the middleware verified (None for an open route).
GRANTS: web.RequestKey[Grants | None] = web.RequestKey("grants")
# The body and query as the route's models, checked by the middleware.
BODY: web.RequestKey[BaseModel] = web.RequestKey("body", BaseModel)
QUERY: web.RequestKey[BaseModel] = web.RequestKey("query", BaseModel)
M = TypeVar("M", bound=BaseModel)


def route(
    app: web.Application,
    method: str,
    path: str,
    handler: Handler,
    action: Action,
    *,
    query_token: bool = False,
    body_limit: int = MAX_BODY_BYTES,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    answer: type[BaseModel] | None = None,
    tag: str = "",
    summary: str = "",
) -> None:
    """Register a route with its row of the policy table.

    `body` and `query` are checked before the handler runs (the handler reads them with
    ``body_of`` and ``query_of``); with `answer` they describe the operation in the API
    document, whose ``operationId`` is the handler's name and whose `summary` says, in Chinese,
    what it does. `tag` groups operations (default: the path's first segment after ``/api/``).
    """
    resource = app.router.add_route(method, path, handler).resource
    assert resource is not None
    endpoints = app.setdefault(ENDPOINTS, {})
    operation_id = handler.__name__
    taken = [key for key, e in endpoints.items() if e.operation_id == operation_id]
    if taken:
        raise ValueError(f"operation {operation_id} is already {taken[0]}")
    endpoints[(method, resource.canonical)] = Endpoint(
        action,
        query_token,
        body_limit,
        body=body,
        query=query,
        answer=answer,
        operation_id=operation_id,
        tag=tag or _default_tag(path),
        summary=summary,
    )


def _default_tag(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        return parts[1]
    return "pages"


async def _checked_inputs(request: web.Request, endpoint: Endpoint) -> None:
    if endpoint.body is not None:
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge as exc:
            raise PayloadTooLarge("请求体过大") from exc
        request[BODY] = validate(endpoint.body, loads(raw) if raw else {})
    if endpoint.query is not None:
        request[QUERY] = validate(endpoint.query, dict(request.query))


def body_of(request: web.Request, model: type[M]) -> M:
    """The body the middleware checked against the route's `model`."""
    body = request.get(BODY)
    if not isinstance(body, model):
        raise TypeError(f"route declares no body of {model.__name__}")
    return body


def query_of(request: web.Request, model: type[M]) -> M:
    """The query the middleware checked against the route's `model`."""
    query = request.get(QUERY)
    if not isinstance(query, model):
        raise TypeError(f"route declares no query of {model.__name__}")
    return query


def public_prefix(app: web.Application, path: str) -> None:
    """Mark a resource registered by a library (static files, Socket.IO) as open to anyone."""
    endpoints = app.setdefault(ENDPOINTS, {})
    for method in ("GET", "POST"):
        endpoints[(method, path)] = Endpoint(Action.PAGE)


def endpoint_of(request: web.Request) -> Endpoint | None:
    """The row of the request's route (HEAD shares GET's)."""
    resource = request.match_info.route.resource
    if resource is None:
        return None
    method = "GET" if request.method == "HEAD" else request.method
    endpoints = request.app[ENDPOINTS]
    return endpoints.get((method, resource.canonical)) or endpoints.get(
        (method, resource.canonical.rstrip("/") + "/")
    )


def grants_of(request: web.Request) -> Grants:
    """The grants the policy middleware verified for this request."""
    grants = request.get(GRANTS)
    if grants is None:
        raise InvalidToken("缺少登录凭证")
    return grants


class Guard:
    """Verifies tokens and finds the facts the policy's live rules need."""

    def __init__(
        self,
        tokens: TokenIssuer,
        store: SqlStore,
        events: EventLog,
        workflow_state: Callable[[str], Awaitable[WorkflowState]],
    ) -> None:
        self.tokens = tokens
        self._store = store
        self._events = events
        self._workflow_state = workflow_state
        self._namespaces: list[GuardedNamespace] = []

    async def log_refusal(
        self, grants: Grants, what: str, err: RoomError, session_id: str | None
    ) -> None:
        """A valid token refused: an event of the session it aimed at (of none, when the token
        is not of that session). A missing or forged token is only counted: logging every such
        request would let anybody fill a session's record."""
        await self._events.append(
            "request_refused",
            {"event": what, "code": err.code, "session": session_id},
            session_id=session_id if grants.session_id == session_id else None,
            actor=grants.participant_id,
        )

    async def request_grants(self, request: web.Request, *, query_token: bool) -> Grants:
        """The grants of the bearer token, else the session cookie, else ``?token=`` where
        allowed; a link's grants only while the link stands, and only for the expected bearer."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            token = request.cookies.get(SESSION_COOKIE) or ""
        if not token and query_token:
            token = request.query.get("token", "")
        if not token:
            raise InvalidToken("缺少登录凭证")
        grants = self.tokens.verify(token.strip())
        expected = request.headers.get(EXPECT_SUBJECT)
        # Percent-encoded by the page: a party's subject is ROLE:NAME with a Chinese name.
        if expected is not None and unquote(expected) != grants.participant_id:
            raise OtherIdentity()
        await self.check_link(grants)
        return grants

    async def socket_grants(self, environ: Mapping[str, Any], auth: Any) -> Grants:
        """The grants of a Socket.IO connect: ``auth.token``, else the handshake's cookie."""
        auth = auth if isinstance(auth, dict) else {}
        token = auth.get("token")
        if token is None:
            cookie = SimpleCookie()
            try:
                cookie.load(str(environ.get("HTTP_COOKIE", "")))
            except CookieError:
                pass
            morsel = cookie.get(SESSION_COOKIE)
            token = morsel.value if morsel is not None else None
        grants = self.tokens.verify(token)
        expected = auth.get("subject")
        if expected is not None and expected != grants.participant_id:
            raise OtherIdentity()
        await self.check_link(grants)
        return grants

    async def check_link(self, grants: Grants) -> None:
        """Refuse the grants of a link that was revoked or has expired."""
        if grants.link_id is None:
            return
        link = await self._store.get_link(grants.link_id)
        if link is None:
            raise LinkRevoked()
        link.check(datetime.now(UTC))

    def add_namespace(self, namespace: GuardedNamespace) -> None:
        """A namespace whose connections end when their link is revoked."""
        self._namespaces.append(namespace)

    async def links_revoked(self, link_ids: Iterable[str]) -> int:
        """Disconnect every open connection of these links; how many were closed."""
        ids = set(link_ids)
        closed = 0
        for namespace in self._namespaces:
            closed += await namespace.drop_links(ids)
        return closed

    async def target(
        self,
        grants: Grants | None,
        action: Action,
        *,
        session_id: str | None = None,
        venue_id: str | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Target:
        """The target, with whether its session ended and whether the asker left it, and for a
        token of one centre the centres of what the request names (`params`: the path's)."""
        centre_ids = None
        if grants is not None and grants.centre_id is not None:
            named = dict(params or {})
            if session_id is not None:
                named["session_id"] = session_id
            centre_ids = await centres_of(self._store, named)
        if (
            grants is None
            or session_id is None
            or grants.session_id != session_id
            or not needs_facts(grants, action)
        ):
            return Target(session_id=session_id, venue_id=venue_id, centre_ids=centre_ids)
        session = await self._store.get_session(session_id)
        ended = session.state == SessionState.ENDED
        left = False
        if grants.role == Role.EXPERT:
            await self._store.get_participant(grants.participant_id)  # NotFound if unknown
            state = await self._workflow_state(session_id)
            ended = ended or state.phase == Phase.ENDED
            left = (
                grants.participant_id in state.withdrawn
                or grants.participant_id in state.excused
                or grants.participant_id not in state.venues
            )
        return Target(
            session_id=session_id,
            venue_id=venue_id,
            ended=ended,
            left=left,
            main_venue_id=session.main_venue_id,
            centre_ids=centre_ids,
        )

    async def check(
        self,
        grants: Grants | None,
        action: Action,
        *,
        session_id: str | None = None,
        venue_id: str | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Grants:
        """The grants when the table allows `action`; its refusal's error otherwise."""
        target = await self.target(
            grants, action, session_id=session_id, venue_id=venue_id, params=params
        )
        return require(grants, action, target)


@web.middleware
async def policy_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Path parameters, token, policy row and body size, in that order, before the handler."""
    if request.match_info.http_exception is not None:
        raise request.match_info.http_exception  # no such route, or not this method
    endpoint = endpoint_of(request)
    if endpoint is None:
        logger.error("route %s %s has no row in the policy table", request.method, request.path)
        raise NotYourRoom("该接口未开放")
    path_params(request.match_info)
    grants: Grants | None = None
    reach = POLICY[endpoint.action].reach
    if reach == Reach.LOCAL:
        decision = decide(None, endpoint.action, Target(local=is_loopback(request.remote)))
        if decision.error is not None:
            raise decision.error
    elif reach != Reach.ANYONE:
        guard = request.app[GUARD_KEY]
        grants = await guard.request_grants(request, query_token=endpoint.query_token)
        session_id = request.match_info.get("session_id")
        try:
            await guard.check(
                grants,
                endpoint.action,
                session_id=session_id,
                venue_id=request.match_info.get("venue_id"),
                params=request.match_info,
            )
        except RoomError as err:
            resource = request.match_info.route.resource  # None only for aiohttp's own routes
            what = f"{request.method} {resource.canonical if resource else request.path}"
            await guard.log_refusal(grants, what, err, session_id)
            raise
    length = request.content_length
    if length is not None and length > endpoint.body_limit:
        raise PayloadTooLarge(f"请求体不能超过 {endpoint.body_limit // 1024} KB")
    request[GRANTS] = grants
    await _checked_inputs(request, endpoint)
    return await handler(request)


class GuardedNamespace(socketio.AsyncNamespace):
    """A Socket.IO namespace whose every event asks the policy table before its handler."""

    # Every event the namespace handles, and the action it asks for.
    events: Mapping[str, Action] = {}

    def __init__(self, namespace: str, guard: Guard) -> None:
        super().__init__(namespace)
        self.guard = guard
        self._link_of: dict[str, str] = {}  # sid -> the link its connection was opened with
        guard.add_namespace(self)

    async def drop_links(self, link_ids: set[str]) -> int:
        """Disconnect the connections opened with any of these links."""
        sids = [sid for sid, lid in self._link_of.items() if lid in link_ids]
        for sid in sids:
            revoked = {"code": LinkRevoked.code, "message": LinkRevoked.default_message}
            await self.emit("revoked", revoked, to=sid)
            await self.disconnect(sid)
        return len(sids)

    def connection_grants(self, sid: str) -> Grants | None:
        """The grants a connection was opened with (None when it is gone)."""
        raise NotImplementedError

    def event_session(self, sid: str, grants: Grants, data: Any) -> str | None:
        """The session an event is about: the connection's, unless the payload names one."""
        return grants.session_id

    async def trigger_event(self, event: str, *args: Any) -> Any:
        """Check the event's row, then run its handler; refusals are answered as acks."""
        if event == "connect":
            result = await super().trigger_event(event, *args)
            grants = self.connection_grants(args[0])
            if grants is not None and grants.link_id is not None:
                self._link_of[args[0]] = grants.link_id
            return result
        if event == "disconnect":
            self._link_of.pop(args[0], None)
            return await super().trigger_event(event, *args)
        action = self.events.get(event)
        try:
            if action is None:
                raise InvalidRequest(f"不支持的请求：{event[:40]}")
            sid = args[0]
            data = args[1] if len(args) > 1 else None
            clean(data)
            grants = self.connection_grants(sid)
            if grants is None:
                raise NotYourRoom("连接已失效，请刷新页面")
            session_id = self.event_session(sid, grants, data)
        except Exception as exc:
            return error_ack(exc)
        try:
            await self.guard.check_link(grants)
            await self.guard.check(grants, action, session_id=session_id)
        except RoomError as err:
            await self.guard.log_refusal(grants, f"{self.namespace}:{event}", err, session_id)
            return error_ack(err)
        return await super().trigger_event(event, *args)
