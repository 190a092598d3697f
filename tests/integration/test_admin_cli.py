"""A production start: an empty data directory gets no demo, and the first administrator comes
from ``roomserver admin create``, whose link is the only line it prints."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import aiohttp

from roomserver.config import StoreConfig
from roomserver.store import SqlStore
from tests.serverproc import ServerProcess


async def test_serve_creates_nothing_and_an_admin_link_logs_in(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = ServerProcess(data)
    await server.start()
    try:
        code, out = await server.cli("admin", "create", "王管理员")
        assert code == 0
        lines = out.strip().splitlines()
        assert len(lines) == 1, out
        url = urlparse(lines[0])
        assert url.path == "/admin"
        code_param = parse_qs(url.query)["code"][0]
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.post(f"{server.base_url}/api/login", json={"code": code_param}) as r:
                assert r.status == 200, await r.text()
            async with http.get(f"{server.base_url}/api/me") as r:
                me = await r.json()
            assert me["role"] == "admin" and me["name"] == "王管理员"
            async with http.get(f"{server.base_url}/api/centres") as r:
                assert r.status == 200 and (await r.json())["items"] == []
    finally:
        await server.stop()
    async with SqlStore(StoreConfig(f"sqlite+aiosqlite:///{data / 'roomserver.db'}")) as store:
        assert await store.is_empty()
        assert await store.list_venues() == []


async def test_an_administrator_of_one_centre_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = ServerProcess(data)
    await server.start()
    try:
        code, out = await server.cli("admin", "create", "省管理员")
        province_code = parse_qs(urlparse(out.strip()).query)["code"][0]
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.post(f"{server.base_url}/api/login", json={"code": province_code}) as r:
                assert r.status == 200
            body = {"name": "沈阳市公共资源交易中心", "city": "沈阳", "region_code": "210100"}
            async with http.post(f"{server.base_url}/api/centres", json=body) as r:
                centre = await r.json()
                assert r.status == 201, centre
        code, out = await server.cli(
            "admin", "create", "沈阳管理员", "--centre", "0" * 32, check=False
        )
        assert code == 1 and out.strip() == ""
        code, out = await server.cli("admin", "create", "沈阳管理员", "--centre", centre["id"])
        assert code == 0
        centre_code = parse_qs(urlparse(out.strip()).query)["code"][0]
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.post(f"{server.base_url}/api/login", json={"code": centre_code}) as r:
                assert r.status == 200
            async with http.get(f"{server.base_url}/api/me") as r:
                me = await r.json()
            assert me["centre"] == {"id": centre["id"], "name": body["name"], "city": "沈阳"}
            async with http.post(f"{server.base_url}/api/centres", json=body) as r:
                assert r.status == 403 and (await r.json())["code"] == "role_not_allowed"
        code, out = await server.cli("token", "--ops", "李工", "--centre", centre["id"])
        assert code == 0 and urlparse(out.strip()).path == "/ops"
    finally:
        await server.stop()


async def test_the_demo_has_a_public_bid_opening_with_its_hall_links(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data")
    await server.start()
    try:
        links = await server.demo()
        opening = [link for link in links if link["session_id"] != server.session_id]
        pages = {link["role"]: urlparse(link["url"]).path for link in opening}
        assert pages == {
            "host": "/opening",
            "witness": "/opening",
            "tenderer": "/hall",
            "agency": "/hall",
            "bidder": "/hall",
            "public": "/live",
        }
        assert sum(1 for link in opening if link["role"] == "bidder") == 3
        public = next(link for link in opening if link["role"] == "public")
        url = f"{server.base_url}/api/sessions/{public['session_id']}/opening"
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": f"Bearer {public['token']}"}
            async with http.get(url, headers=headers) as r:
                seen = await r.json()
                assert r.status == 200, seen
        # Before the deadline the public sees the countdown, not who is bidding.
        assert seen["public"] is True and seen["bidders"] == []
        assert seen["submitted_count"] is None
    finally:
        await server.stop()
