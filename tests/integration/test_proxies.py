"""Behind the centre's reverse proxy: the person's address from ``X-Forwarded-For`` is what the
record and the policy see, but only when the request comes from a proxy the configuration
trusts; anybody else's forwarded headers are ignored."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import aiohttp

from tests.integration.conftest import RunningServer, start_server

OUTSIDE = "203.0.113.7"  # a seat computer in another city, as the proxy saw it


async def _login_remote(server: RunningServer, headers: dict[str, str]) -> Any:
    """Log in with a fresh link of the first expert; the address its ``link_used`` event kept."""
    admin = {"Authorization": f"Bearer {server.tokens.issue_admin()}"}
    expert = server.experts[0]
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{server.base_url}/api/tokens", json={"participant_id": expert.id}, headers=admin
        ) as r:
            assert r.status == 201, await r.text()
            url = (await r.json())["url"]
        code = parse_qs(urlparse(url).query)["code"][0]
        async with http.post(
            f"{server.base_url}/api/login", json={"code": code}, headers=headers
        ) as r:
            assert r.status == 200, await r.text()
    events = await server.services.store.list_events(expert.session_id)
    return [e.data["remote"] for e in events if e.kind == "link_used"][-1]


async def test_a_trusted_proxys_client_address_is_recorded_and_gets_no_local_reach(
    tmp_path: Path,
) -> None:
    test_server, server = await start_server(tmp_path / "data", "--trusted-proxy", "127.0.0.1")
    try:
        forwarded = {"X-Forwarded-For": OUTSIDE, "X-Forwarded-Proto": "https"}
        assert await _login_remote(server, forwarded) == OUTSIDE
        async with aiohttp.ClientSession() as http:
            # /metrics is for a scraper on this machine: a person through the proxy is not one.
            async with http.get(f"{server.base_url}/metrics", headers=forwarded) as r:
                assert r.status == 403
            async with http.get(f"{server.base_url}/metrics") as r:
                assert r.status == 200
    finally:
        await test_server.close()


async def test_forwarded_headers_from_an_untrusted_peer_are_ignored(tmp_path: Path) -> None:
    # The proxy is another machine: this (loopback) peer is not it, whatever it claims.
    test_server, server = await start_server(tmp_path / "data", "--trusted-proxy", "10.9.9.9")
    try:
        assert await _login_remote(server, {"X-Forwarded-For": OUTSIDE}) == "127.0.0.1"
    finally:
        await test_server.close()
