"""Every response carries the security headers; documents carry the Content-Security-Policy."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from signaling.http.headers import CONTENT_SECURITY_POLICY
from tests.integration.conftest import RunningServer, start_server

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
                # Plain HTTP pins nothing (tests/integration/test_tls.py: HSTS over HTTPS).
                assert "Strict-Transport-Security" not in r.headers, path
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


async def test_behind_an_https_proxy_every_response_carries_hsts(tmp_path: Path) -> None:
    """A reverse proxy terminates TLS: the server speaks HTTP to it, the pages are HTTPS."""
    server, running = await start_server(tmp_path / "data", "--public-url", "https://pb.example.cn")
    try:
        async with aiohttp.ClientSession() as http:
            for path in ("/seat", "/static/lib/dom.js", "/healthz"):
                async with http.get(running.base_url + path) as r:
                    assert r.headers.get("Strict-Transport-Security") == "max-age=31536000"
    finally:
        await server.close()
