"""A personal link's code exchanged for its session token, as a page does, for tests that then
call the API with it as a bearer token."""

from __future__ import annotations

import json
import urllib.request
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlparse

import aiohttp

from signaling.gate.guard import SESSION_COOKIE


def code_of(url: str) -> str:
    """The code of a personal link."""
    return parse_qs(urlparse(url).query)["code"][0]


def _token(set_cookie: str) -> str:
    cookie: SimpleCookie = SimpleCookie()
    cookie.load(set_cookie)
    return cookie[SESSION_COOKIE].value


async def session_token(base_url: str, url: str) -> str:
    """Log in with the link's code; the session token the cookie holds."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{base_url}/api/login", json={"code": code_of(url)}) as r,
    ):
        assert r.status == 200, await r.text()
        return _token(r.headers["Set-Cookie"])


def session_token_sync(base_url: str, url: str) -> str:
    """`session_token` for tests that do not run an event loop."""
    request = urllib.request.Request(
        f"{base_url}/api/login",
        data=json.dumps({"code": code_of(url)}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        return _token(r.headers["Set-Cookie"])
