"""Personal links, asked of the real server: a code is exchanged for an HttpOnly, SameSite=Strict
cookie and is kept only as its hash; a revoked link stops REST and Socket.IO at once and the
revocation is on the record; a re-issued link works and the old one does not; an expired party
link is refused; a page opened for one person does not act with another person's cookie.

Links live in the store: every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import aiohttp
import pytest
import socketio
from sqlalchemy import select

from roomserver.config import StoreConfig
from roomserver.links import code_hash
from roomserver.model import Participant, Role
from roomserver.tables import LinkRow
from signaling.cli.main import main
from signaling.gate.guard import SESSION_COOKIE
from signaling.http.links import issue_link, unrostered_link
from tests import polling
from tests.integration.conftest import RunningServer


@pytest.fixture
def server_database_url(store_config: StoreConfig) -> str:
    """The server's database, on every engine."""
    return store_config.database_url


def _code(url: str) -> str:
    return parse_qs(urlparse(url).query)["code"][0]


def _http() -> aiohttp.ClientSession:
    # The test server is 127.0.0.1: aiohttp keeps cookies of an IP address only when unsafe.
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def _issue(server: RunningServer, participant: Participant) -> dict[str, Any]:
    admin = {"Authorization": f"Bearer {server.tokens.issue_admin()}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{server.base_url}/api/tokens", json={"participant_id": participant.id}, headers=admin
        ) as r:
            assert r.status == 201, await r.text()
            body: dict[str, Any] = await r.json()
    return body


async def _login(http: aiohttp.ClientSession, server: RunningServer, code: str) -> Any:
    async with http.post(f"{server.base_url}/api/login", json={"code": code}) as r:
        return r.status, await r.json(), r.headers.getall("Set-Cookie", [])


class Refused(Exception):
    """A Socket.IO connect refused, with the code the server gave."""


async def _console(server: RunningServer, cookie: str, **auth: str) -> socketio.AsyncClient:
    """A console connection that authenticates with the cookie alone (no token in `auth`)."""
    client = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    client.on("connect_error", lambda data: errors.append(data), namespace="/console")
    try:
        await client.connect(
            server.base_url,
            namespaces=["/console"],
            headers={"Cookie": f"{SESSION_COOKIE}={cookie}"},
            auth=auth or None,
            transports=["websocket"],
            wait_timeout=10,
        )
    except socketio.exceptions.ConnectionError as exc:
        data = errors[0] if errors else {}
        raise Refused(str((data.get("data") or {}).get("code")), data.get("message")) from exc
    return client


def _cookie(http: aiohttp.ClientSession) -> str:
    return next(c.value for c in http.cookie_jar if c.key == SESSION_COOKIE)


async def test_a_code_becomes_an_httponly_strict_cookie_and_only_its_hash_is_kept(
    room_server: RunningServer,
) -> None:
    server = room_server
    expert = server.experts[0]
    issued = await _issue(server, expert)
    assert "/seat?code=" in issued["url"] and "." not in _code(issued["url"])
    code = _code(issued["url"])
    assert len(code) >= 16

    async with server.services.store._db() as db:  # what the database holds of the link
        rows = list(await db.scalars(select(LinkRow).where(LinkRow.id == issued["link_id"])))
    assert len(rows) == 1 and rows[0].code_sha256 == code_hash(code)
    assert code not in repr([getattr(rows[0], c.key) for c in LinkRow.__table__.columns])

    async with _http() as http:
        status, body, cookies = await _login(http, server, code)
        assert status == 200, body
        assert body == {
            "role": "expert",
            "session_id": expert.session_id,
            "participant_id": expert.id,
            "name": expert.name,
            "page": "/seat",
        }
        (set_cookie,) = cookies
        assert set_cookie.startswith(f"{SESSION_COOKIE}=")
        flags = {part.strip().lower() for part in set_cookie.split(";")}
        assert {"httponly", "samesite=strict", "path=/"} <= flags
        assert "secure" not in flags  # served over plain HTTP here
        async with http.get(f"{server.base_url}/api/me") as r:
            assert r.status == 200
            assert (await r.json())["participant_id"] == expert.id

    # The code opens nothing by itself: it is not a bearer token, nor a ?token=.
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {code}"}
        async with http.get(f"{server.base_url}/api/me", headers=headers) as r:
            assert r.status == 401
        async with http.get(
            f"{server.base_url}/api/sessions/{expert.session_id}/report", params={"token": code}
        ) as r:
            assert r.status == 401
        status, body, _ = await _login(http, server, code[:-1] + ("A" if code[-1] != "A" else "B"))
        assert status == 401 and body["code"] == "invalid_token"
    used = await polling.wait_event(
        server.services.store, expert.session_id, "link_used", link=issued["link_id"]
    )
    assert used.actor == expert.id


async def test_a_revoked_link_stops_rest_and_socketio_at_once_and_is_on_the_record(
    room_server: RunningServer,
) -> None:
    server = room_server
    sid = server.demo.session.id
    witness = server.participant(Role.WITNESS)
    issued = await _issue(server, witness)
    async with _http() as http:
        status, body, _ = await _login(http, server, _code(issued["url"]))
        assert status == 200, body
        cookie = _cookie(http)
        console = await _console(server, cookie, subject=witness.id)
        revoked: list[Any] = []
        console.on("revoked", lambda data: revoked.append(data), namespace="/console")
        try:
            assert console.connected
            roster = f"{server.base_url}/api/sessions/{sid}/activity"
            async with http.get(roster) as r:
                assert r.status == 200

            host = {"Authorization": f"Bearer {server.token(server.participant(Role.HOST))}"}
            async with http.post(
                f"{server.base_url}/api/sessions/{sid}/links/{witness.id}/revoke",
                json={"reason": "见证人更换"},
                headers=host,
            ) as r:
                assert r.status == 200, await r.text()
                assert (await r.json())["revoked"] == [issued["link_id"]]

            await polling.wait_until(
                lambda: not console.connected, 10, "the console of the revoked link is closed"
            )
            assert revoked and revoked[0]["code"] == "link_revoked"
            async with http.get(roster) as r:
                assert r.status == 401
                assert (await r.json())["code"] == "link_revoked"
            # The bearer token issued with the link is of the link too.
            bearer = {"Authorization": f"Bearer {issued['token']}"}
            async with aiohttp.ClientSession() as plain, plain.get(roster, headers=bearer) as r:
                assert r.status == 401
            status, body, _ = await _login(http, server, _code(issued["url"]))
            assert status == 401 and body["code"] == "link_revoked"
            try:
                again = await _console(server, cookie)
            except Refused as exc:
                assert exc.args[0] == "link_revoked"
            else:
                await again.disconnect()
                raise AssertionError("a revoked link's cookie opened the console")
        finally:
            await console.disconnect()
    event = await polling.wait_event(
        server.services.store, sid, "link_revoked", link=issued["link_id"]
    )
    assert event.data["reason"] == "见证人更换"
    assert event.actor == server.participant(Role.HOST).id


async def test_a_reissued_link_works_and_the_old_one_does_not(room_server: RunningServer) -> None:
    server = room_server
    sid = server.demo.session.id
    expert = server.experts[1]
    old = await _issue(server, expert)
    host_sub = Participant("hostsub0000", sid, Role.HOST, "副场主持人", venue_id=expert.venue_id)
    if expert.venue_id == server.demo.session.main_venue_id:
        host_sub = Participant(
            "hostsub0000", sid, Role.HOST, "副场主持人", server.demo.session.sub_venue_ids[0]
        )
    await server.services.store.add_participant(host_sub)
    reissue = f"{server.base_url}/api/sessions/{sid}/links/{expert.id}/reissue"
    async with aiohttp.ClientSession() as http:
        sub = {"Authorization": f"Bearer {server.token(host_sub)}"}
        async with http.post(reissue, json={}, headers=sub) as r:
            assert r.status == 403  # a sub venue's host runs the room, not the links
        admin = {"Authorization": f"Bearer {server.tokens.issue_admin()}"}
        async with http.post(reissue, json={"reason": "专家换用备用电脑"}, headers=admin) as r:
            assert r.status == 201, await r.text()
            new = await r.json()
    assert new["revoked"] == [old["link_id"]] and "/seat?code=" in new["url"]
    async with _http() as http:
        status, body, _ = await _login(http, server, _code(old["url"]))
        assert status == 401 and body["code"] == "link_revoked"
        status, body, _ = await _login(http, server, _code(new["url"]))
        assert status == 200 and body["participant_id"] == expert.id
    await polling.wait_event(server.services.store, sid, "link_issued", link=new["link_id"])
    await polling.wait_event(server.services.store, sid, "link_revoked", link=old["link_id"])


async def test_a_party_link_past_its_window_is_refused(room_server: RunningServer) -> None:
    server = room_server
    services = server.services
    sid = server.demo.session.id
    now = datetime.now(UTC)
    codes = {}
    for name, expires_at in (
        ("投标人甲", now - timedelta(seconds=1)),
        ("投标人乙", now + timedelta(seconds=2)),
    ):
        link = unrostered_link(Role.BIDDER, name, by="test", expires_at=expires_at, session_id=sid)
        codes[name] = await issue_link(services.store, services.events.append, link)
    async with _http() as http:
        status, body, _ = await _login(http, server, codes["投标人甲"])
        assert status == 401 and body["code"] == "token_expired"
        status, body, _ = await _login(http, server, codes["投标人乙"])
        assert status == 200 and body["page"] == "/archive"
        async with http.get(f"{server.base_url}/api/me") as r:
            assert r.status == 200
        cookie = _cookie(http)
    await asyncio.sleep(2.2)  # the link's own end: no event marks it
    # The browser drops the cookie at its Max-Age; the server refuses it whoever still sends it.
    async with aiohttp.ClientSession() as http:
        headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
        async with http.get(f"{server.base_url}/api/me", headers=headers) as r:
            assert r.status == 401
            assert (await r.json())["code"] == "token_expired"


async def test_a_page_opened_for_one_person_does_not_act_with_anothers_cookie(
    room_server: RunningServer,
) -> None:
    server = room_server
    sid = server.demo.session.id
    witness, host = server.participant(Role.WITNESS), server.participant(Role.HOST)
    issued = await _issue(server, witness)
    async with _http() as http:
        status, _, _ = await _login(http, server, _code(issued["url"]))
        assert status == 200
        activity = f"{server.base_url}/api/sessions/{sid}/activity"
        async with http.get(activity, headers={"X-Expect-Subject": witness.id}) as r:
            assert r.status == 200
        async with http.get(activity, headers={"X-Expect-Subject": host.id}) as r:
            assert r.status == 401
            problem = await r.json()
        assert problem["code"] == "other_identity"
        assert problem["detail"] == "本浏览器已用其他链接登录，请重新打开您的个人链接"
        try:
            client = await _console(server, _cookie(http), subject=host.id)
        except Refused as exc:
            assert exc.args == (
                "other_identity",
                "本浏览器已用其他链接登录，请重新打开您的个人链接",
            )
        else:
            await client.disconnect()
            raise AssertionError("a console opened for the host connected as the witness")


async def test_an_api_clients_token_from_the_command_line_ends_with_its_link(
    room_server: RunningServer,
) -> None:
    server = room_server
    same_server = [
        "--data-dir",
        str(server.config.data_dir),
        "--database-url",
        server.config.store.database_url,
    ]

    def cli(*args: str) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main([*args, *same_server]) == 0
        return out.getvalue().strip()

    admin = await asyncio.to_thread(cli, "token", "--admin")
    door = await asyncio.to_thread(cli, "token", "--door", server.demo.venues[0].id)
    async with _http() as http:
        workers = f"{server.base_url}/api/workers"
        async with http.get(workers, headers={"Authorization": f"Bearer {admin}"}) as r:
            assert r.status == 200
        await asyncio.to_thread(cli, "link", "revoke", "admin:admin", "--reason", "管理工具停用")
        async with http.get(workers, headers={"Authorization": f"Bearer {admin}"}) as r:
            assert r.status == 401
            assert (await r.json())["code"] == "link_revoked"
        # The venue's door system keeps its own token.
        door_url = f"{server.base_url}/api/venues/{server.demo.venues[0].id}/door-access"
        entry = {"name": "张三", "direction": "in"}
        headers = {"Authorization": f"Bearer {door}"}
        async with http.post(door_url, json=entry, headers=headers) as r:
            assert r.status == 201, await r.text()
