"""Every response carries the security headers; documents carry the Content-Security-Policy."""

from __future__ import annotations

import aiohttp

from signaling.http.headers import CONTENT_SECURITY_POLICY
from tests.integration.conftest import RunningServer

PAGES = [
    "/",
    "/seat",
    "/console",
    "/wall",
    "/overview",
    "/archive",
    "/ops",
    "/hall",
    "/opening",
    "/static/favicon.svg",
]
OTHERS = ["/static/lib/dom.js", "/static/seat.css", "/healthz", "/api/me", "/no-such-page"]


async def test_pages_carry_the_policy_and_every_response_the_other_headers(
    room_server: RunningServer,
) -> None:
    async with aiohttp.ClientSession() as http:
        for path in PAGES + OTHERS:
            async with http.get(room_server.base_url + path) as r:
                assert r.headers.get("X-Content-Type-Options") == "nosniff", path
                assert r.headers.get("Referrer-Policy") == "no-referrer", path
                assert r.headers.get("X-Frame-Options") == "DENY", path
                policy = r.headers.get("Content-Security-Policy")
                if path in PAGES:
                    assert r.status == 200, path
                    assert policy == CONTENT_SECURITY_POLICY, path
                else:
                    assert policy is None, path
    for directive in ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"):
        assert directive in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY
