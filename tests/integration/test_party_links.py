"""Tenderers' and bidders' archive links of a session, asked of the real server: listed by party
with the state of each party's latest link (nobody else's links, no other session's), revoked
(every open link of the party, a page holding one stops at once) and re-issued within the same
access window; each step on the record and in the archive access log. Every test runs on SQLite
and on PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import aiohttp
import pytest

from recorder.accesslog import ACCESS_LOG, check_access_log
from roomserver.config import StoreConfig
from roomserver.demo import create_load_session
from roomserver.model import Role
from signaling.http.links import issue_link, participant_link, unrostered_link
from tests import polling
from tests.integration.conftest import RunningServer

BIDDER, TENDERER = "某建设集团有限公司", "某市教育局"


@pytest.fixture
def server_database_url(store_config: StoreConfig) -> str:
    """The server's database, on every engine."""
    return store_config.database_url


def _code(url: str) -> str:
    return parse_qs(urlparse(url).query)["code"][0]


class Caller:
    """REST calls with one bearer token."""

    def __init__(self, http: aiohttp.ClientSession, server: RunningServer, token: str) -> None:
        self.http, self.server = http, server
        self.headers = {"Authorization": f"Bearer {token}"}
        self.links = f"{server.base_url}/api/archive/sessions/{server.demo.session.id}/party-links"

    async def call(self, method: str, url: str, **kw: Any) -> tuple[int, Any]:
        async with self.http.request(method, url, headers=self.headers, **kw) as r:
            return r.status, await r.json(content_type=None)

    async def parties(self) -> list[dict[str, Any]]:
        status, answer = await self.call("GET", self.links)
        assert status == 200, answer
        items: list[dict[str, Any]] = answer["items"]
        return items


async def _login(server: RunningServer, code: str) -> tuple[int, Any, str]:
    """A code exchanged for its cookie: the status, the answer and the session token."""
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server.base_url}/api/login", json={"code": code}) as r:
            cookie = r.cookies.get("roomserver_session")
            return r.status, await r.json(), cookie.value if cookie else ""


async def _me(server: RunningServer, token: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {token}"}
        async with http.get(f"{server.base_url}/api/me", headers=headers) as r:
            return r.status, await r.json()


async def test_a_sessions_party_links_are_listed_revoked_and_reissued(
    room_server: RunningServer,
) -> None:
    server = room_server
    services = server.services
    sid = server.demo.session.id
    window = (datetime.now(UTC) + timedelta(days=10)).replace(microsecond=0)

    async def party(role: Role, name: str, session_id: str = sid) -> tuple[str, str]:
        link = unrostered_link(
            role, name, by="admin:admin", expires_at=window, session_id=session_id
        )
        return link.id, await issue_link(services.store, services.events.append, link)

    first, first_code = await party(Role.BIDDER, BIDDER)
    tenderer, tenderer_code = await party(Role.TENDERER, TENDERER)
    second, second_code = await party(Role.BIDDER, BIDDER)  # the same bidder, once more
    other = await create_load_session(services.store, 1, now=datetime.now(UTC))
    elsewhere, _ = await party(Role.BIDDER, BIDDER, other.session.id)
    host = participant_link(server.participant(Role.HOST), by="admin:admin", ttl_s=3600)
    await issue_link(services.store, services.events.append, host)

    async with aiohttp.ClientSession() as http:
        admin = Caller(http, server, server.tokens.issue_admin())
        archivist = Caller(http, server, server.token(server.participant(Role.ARCHIVIST)))
        chair = Caller(http, server, server.token(server.participant(Role.HOST)))

        # Listed by party, in the order they were first given a link; nobody else's links.
        listed = await admin.parties()
        assert [(p["role"], p["name"]) for p in listed] == [
            ("bidder", BIDDER),
            ("tenderer", TENDERER),
        ]
        bidder = listed[0]["link"]
        assert (bidder["id"], bidder["state"], bidder["open"]) == (second, "active", 2)
        assert datetime.fromisoformat(bidder["expires_at"]) == window
        assert await archivist.parties() == listed
        status, problem = await chair.call("GET", admin.links)
        assert (status, problem["code"]) == (403, "role_not_allowed")

        # The bidder's page is open; revoking by either of its links ends both, and the page.
        status, _, token = await _login(server, first_code)
        assert status == 200 and (await _me(server, token))[0] == 200
        reason = {"reason": "投标人已撤回异议"}
        status, answer = await admin.call("POST", f"{admin.links}/{first}/revoke", json=reason)
        assert status == 200 and sorted(answer["revoked"]) == sorted([first, second]), answer
        status, problem = await _me(server, token)
        assert (status, problem["code"]) == (401, "link_revoked")
        status, problem, _ = await _login(server, second_code)
        assert (status, problem["code"]) == (401, "link_revoked")
        bidder = (await admin.parties())[0]["link"]
        assert (bidder["state"], bidder["reason"], bidder["open"]) == (
            "revoked",
            reason["reason"],
            0,
        )
        for link in (first, second):
            await polling.wait_event(services.store, sid, "link_revoked", link=link)
        status, problem = await admin.call("POST", f"{admin.links}/{second}/revoke", json=reason)
        assert status == 404, problem  # nothing open to revoke

        # Re-issued: a new address within the same window.
        status, issued = await archivist.call("POST", f"{admin.links}/{first}/reissue", json={})
        assert status == 201, issued
        assert (issued["role"], issued["name"], issued["revoked"]) == ("bidder", BIDDER, [])
        assert datetime.fromisoformat(issued["expires_at"]) == window
        assert "/archive?code=" in issued["url"], issued
        status, login, _ = await _login(server, _code(issued["url"]))
        assert status == 200 and (login["role"], login["session_id"]) == ("bidder", sid)
        bidder = (await admin.parties())[0]["link"]
        assert (bidder["id"], bidder["state"], bidder["open"]) == (issued["link_id"], "active", 1)
        # A re-issue of an open link ends it.
        status, again = await admin.call(
            "POST", f"{admin.links}/{tenderer}/reissue", json={"reason": "链接遗失"}
        )
        assert status == 201 and again["revoked"] == [tenderer], again
        status, problem, _ = await _login(server, tenderer_code)
        assert (status, problem["code"]) == (401, "link_revoked")
        await polling.wait_event(services.store, sid, "link_issued", link=again["link_id"])

        # Only a party's link of this session names a party here.
        for link in (host.id, elsewhere, "0" * 32):
            for how in ("revoke", "reissue"):
                status, problem = await admin.call(
                    "POST", f"{admin.links}/{link}/{how}", json=reason
                )
                assert (status, problem["code"]) == (404, "not_found"), (link, how, problem)
        # A party whose window is over gets no new link.
        ended = unrostered_link(
            Role.BIDDER,
            "某监理公司",
            by="admin:admin",
            expires_at=datetime.now(UTC) - timedelta(seconds=1),
            session_id=sid,
        )
        await issue_link(services.store, services.events.append, ended)
        status, problem = await admin.call("POST", f"{admin.links}/{ended.id}/reissue", json={})
        assert status == 400 and "调阅期限已过" in problem["detail"], problem
        assert (await admin.parties())[-1]["link"]["state"] == "expired"

    # Who revoked and re-issued whose link, in the hash-chained access log.
    path = server.config.data_dir / ACCESS_LOG
    count, problems = check_access_log(path)
    assert count == 3 and not problems, problems
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    kinds = [(line["kind"], line["data"].get("name")) for line in lines]
    assert kinds == [
        ("party_link_revoked", BIDDER),
        ("party_link_issued", BIDDER),
        ("party_link_issued", TENDERER),
    ], kinds
    assert sorted(lines[0]["data"]["links"]) == sorted([first, second])
    assert lines[1]["actor"] == server.participant(Role.ARCHIVIST).id
