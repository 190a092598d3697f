"""A session's requests carried to the node of its room (a cluster; nothing alone).

What a request does to a session may need its live room: ending it closes the room and seals
its part, a replaced expert's seat is sent off, a revoked link's connections end. The room lives
on one node (signaling.services.cluster), so a request under ``/api/sessions/{id}/`` that reaches
another node is relayed to that one, as it came (method, path, query, body, the caller's
credentials), and its answer returned as it went. The node that answers checks the policy table
as for any request; a relayed request is never relayed again. A room whose node is lost, or a
session without a live room, is served where the request arrived: the shared database holds it.
A bid opening runs on the node that leads the cluster, and its requests go there.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web

from roomserver.errors import NotFound, Unavailable
from roomserver.model import SessionKind
from signaling.errors import problem_response
from signaling.http.api import SERVICES
from signaling.services.container import Services

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SESSION_PATH = re.compile(r"^/api/sessions/([0-9a-f]{32})(?:/|$)")
RELAYED = "X-Roomserver-Relayed"
# Headers of the caller's that the room's node needs; the rest are the connection's own.
FORWARDED = ("Authorization", "Cookie", "Content-Type", "Accept", "X-Expect-Subject", "Origin")
RETURNED = ("Content-Type", "Content-Disposition", "Cache-Control")
RELAY_TIMEOUT_S = 60.0


class SessionRelay:
    """The middleware and the HTTP client it relays with."""

    def __init__(self) -> None:
        self._http: aiohttp.ClientSession | None = None
        self._openings: dict[str, bool] = {}

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Relay a session's request to the node of its room, if that is another node."""
        match = SESSION_PATH.match(request.path)
        services = request.app.get(SERVICES)
        if (
            match is None
            or services is None
            or services.cluster.alone
            or RELAYED in request.headers
        ):
            return await handler(request)
        session_id = match.group(1)
        placement = await services.store.cluster.placement(session_id)
        if placement is not None and placement.node_id != services.cluster.node_id:
            url = services.cluster.url_of(placement.node_id)
        elif placement is None and await self._is_opening(services, session_id):
            try:
                url = await services.cluster.leader_url()  # the leader runs the bid openings
            except Unavailable as exc:
                return problem_response(exc)
        else:
            url = None
        if url is None:
            return await handler(request)
        try:
            return await self._relay(request, url, services.cluster.node_id)
        except aiohttp.ClientError as exc:
            # The room's node stopped answering between the look-up and the request.
            return problem_response(Unavailable(f"本场所在的服务器暂时无法访问：{exc}"))

    async def _is_opening(self, services: Services, session_id: str) -> bool:
        """Whether the session is a bid opening (a session's kind never changes: kept)."""
        known = self._openings.get(session_id)
        if known is None:
            try:
                session = await services.store.get_session(session_id)
            except NotFound:
                return False
            known = self._openings[session_id] = session.kind == SessionKind.OPENING
        return known

    async def _relay(self, request: web.Request, url: str, node_id: str) -> web.Response:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=RELAY_TIMEOUT_S))
        headers = {k: request.headers[k] for k in FORWARDED if k in request.headers}
        headers[RELAYED] = node_id
        async with self._http.request(
            request.method,
            f"{url}{request.path_qs}",
            headers=headers,
            # Streamed as it comes (a sealed bid is up to 200 MiB); the room's node checks its size.
            data=request.content if request.body_exists else None,
            allow_redirects=False,
        ) as answer:
            data = await answer.read()
            response = web.Response(status=answer.status, body=data)
            for name in RETURNED:
                if name in answer.headers:
                    response.headers[name] = answer.headers[name]
            for cookie in answer.headers.getall("Set-Cookie", []):
                response.headers.add("Set-Cookie", cookie)
        logger.info("%s %s relayed to %s: %d", request.method, request.path, url, answer.status)
        return response

    async def close(self) -> None:
        """Close the HTTP client (the app's cleanup)."""
        if self._http is not None:
            await self._http.close()
            self._http = None
