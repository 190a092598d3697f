"""A page's ICE servers: ``GET /api/sessions/{session_id}/ice-servers``.

A seat gets its servers with its join, the supervision wall with its hello; with
``turn_secret`` configured their TURN credentials are of the TURN REST scheme (coturn's
``use-auth-secret``): a username ``expiry:participant`` and its HMAC, valid ``turn_ttl``
seconds. A page that stays longer asks here again before they expire (``ice_renew_in_s``) and
hands the new ones to its peer connections (``RTCPeerConnection.setConfiguration``), so that an
ICE restart or a new connection finds the relay open; a credential copied off a page stops
opening the relay when it expires.
"""

from __future__ import annotations

import time

from aiohttp import web

from roomserver.policy import Action
from signaling.gate.guard import grants_of, route
from signaling.gate.iceservers import IceServers
from signaling.http.api import SERVICES


async def ice_servers(request: web.Request) -> web.Response:
    """The asker's ICE servers, with TURN credentials of their own."""
    grants = grants_of(request)
    grant = request.app[SERVICES].config.ice.grant(grants.participant_id, time.time())
    answer = IceServers.model_validate(grant.as_json())
    return web.json_response(answer.model_dump(mode="json"), headers={"Cache-Control": "no-store"})


def add_ice_routes(app: web.Application) -> None:
    """Register the route of the pages' ICE servers."""
    route(
        app,
        "GET",
        "/api/sessions/{session_id}/ice-servers",
        ice_servers,
        Action.ICE_SERVERS,
        answer=IceServers,
        tag="media",
        summary="本页面的 STUN/TURN 服务器及其临时凭证（到期前再取）",
    )
