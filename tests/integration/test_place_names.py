"""A name says which place it is: no two trading centres of one name, no two evaluation rooms of
one name in the same centre. Refused by the store (a unique index decides between requests at
once) and over REST as 409 ``duplicate_name`` in Chinese, when a place is added and when a room
is renamed; a database that already held twins is upgraded with them numbered apart. Every test
runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from roomserver.config import StoreConfig
from roomserver.errors import DuplicateName, InvalidRequest
from roomserver.migrate import upgrade
from roomserver.model import Centre, Venue, new_id
from roomserver.store import SqlStore
from tests.integration.conftest import RunningServer

CENTRE = "铁岭市公共资源交易中心"
ROOM = "铁岭第一评标室"


@pytest.fixture
def server_database_url(store_config: StoreConfig) -> str:
    """The server's database, on every engine."""
    return store_config.database_url


async def test_the_store_refuses_a_second_centre_or_room_of_a_name(
    store_config: StoreConfig,
) -> None:
    async with SqlStore(store_config) as store:
        tieling = Centre(new_id(), CENTRE, "铁岭")
        await store.add_centre(tieling)
        with pytest.raises(DuplicateName) as refused:
            await store.add_centre(Centre(new_id(), CENTRE, "铁岭"))
        assert refused.value.code == "duplicate_name"
        assert refused.value.message == f"已有名为“{CENTRE}”的交易中心"
        fushun = Centre(new_id(), "抚顺市公共资源交易中心", "抚顺")
        await store.add_centre(fushun)

        first = Venue(new_id(), tieling.id, ROOM, "铁岭", 6)
        await store.add_venue(first)
        with pytest.raises(DuplicateName, match=f"该交易中心已有名为“{ROOM}”的评标室"):
            await store.add_venue(Venue(new_id(), tieling.id, ROOM, "铁岭", 5))
        # Another centre's room may have the same name.
        await store.add_venue(Venue(new_id(), fushun.id, ROOM, "抚顺", 5))
        # An id taken is still said as such.
        with pytest.raises(InvalidRequest, match="编号重复") as taken:
            await store.add_venue(Venue(first.id, tieling.id, "铁岭第九评标室", "铁岭", 5))
        assert not isinstance(taken.value, DuplicateName)

        second = Venue(new_id(), tieling.id, "铁岭第二评标室", "铁岭", 5)
        await store.add_venue(second)
        now = datetime.now(UTC)
        with pytest.raises(DuplicateName):
            await store.places.update_venue(second.id, name=ROOM, now=now)
        assert (await store.get_venue(second.id)).name == "铁岭第二评标室"
        # Its own name again, and a change that leaves the name, are no clash.
        await store.places.update_venue(second.id, name="铁岭第二评标室", seat_count=6, now=now)
        renamed = await store.places.update_venue(second.id, name="铁岭第三评标室", now=now)
        assert renamed.name == "铁岭第三评标室"
        names = sorted(v.name for v in await store.list_venues() if v.centre_id == tieling.id)
        assert names == ["铁岭第一评标室", "铁岭第三评标室"]


async def test_of_requests_at_once_for_one_name_exactly_one_is_stored(
    store_config: StoreConfig,
) -> None:
    async with SqlStore(store_config) as one, SqlStore(store_config) as other:
        tries = [
            store.add_centre(Centre(new_id(), CENTRE, "铁岭"))
            for store in (one, other, one, other, one, other)
        ]
        results = await asyncio.gather(*tries, return_exceptions=True)
        assert sum(r is None for r in results) == 1, results
        assert all(isinstance(r, DuplicateName) for r in results if r is not None), results
        centre = next(c for c in await one.places.centres() if c.name == CENTRE)
        rooms = [
            store.add_venue(Venue(new_id(), centre.id, ROOM, "铁岭", 5))
            for store in (one, other, one, other)
        ]
        results = await asyncio.gather(*rooms, return_exceptions=True)
        assert sum(r is None for r in results) == 1, results
        assert all(isinstance(r, DuplicateName) for r in results if r is not None), results
    assert [c.name for c in await _centres(store_config)].count(CENTRE) == 1


async def _centres(config: StoreConfig) -> list[Centre]:
    async with SqlStore(config) as store:
        return await store.places.centres()


async def _call(
    http: aiohttp.ClientSession, server: RunningServer, method: str, path: str, **kw: Any
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {server.tokens.issue_admin()}"}
    async with http.request(method, server.base_url + path, headers=headers, **kw) as r:
        return r.status, await r.json(content_type=None)


async def test_the_api_refuses_twins_with_409_in_chinese(room_server: RunningServer) -> None:
    server = room_server
    store = server.services.store
    async with aiohttp.ClientSession() as http:
        centre = {"name": CENTRE, "city": "铁岭"}
        status, tieling = await _call(http, server, "POST", "/api/centres", json=centre)
        assert status == 201, tieling
        # The same name, with spaces around it: the name as stored is the same.
        twin = {"name": f"  {CENTRE} ", "city": "铁岭"}
        status, problem = await _call(http, server, "POST", "/api/centres", json=twin)
        assert status == 409, problem
        assert problem["code"] == "duplicate_name"
        assert problem["detail"] == f"已有名为“{CENTRE}”的交易中心"
        # The demo's centre keeps its name to itself too.
        demo = {"name": "沈阳市公共资源交易中心", "city": "沈阳"}
        status, problem = await _call(http, server, "POST", "/api/centres", json=demo)
        assert (status, problem["code"]) == (409, "duplicate_name")

        room = {"centre_id": tieling["id"], "name": ROOM, "city": "铁岭", "seat_count": 6}
        status, first = await _call(http, server, "POST", "/api/venues", json=room)
        assert status == 201, first
        status, problem = await _call(http, server, "POST", "/api/venues", json=room)
        assert status == 409 and problem["code"] == "duplicate_name", problem
        assert problem["detail"] == f"该交易中心已有名为“{ROOM}”的评标室"
        # A room of that name in another centre is another room.
        elsewhere = {**room, "centre_id": server.demo.venues[0].centre_id}
        status, other = await _call(http, server, "POST", "/api/venues", json=elsewhere)
        assert status == 201, other

        second = {**room, "name": "铁岭第二评标室"}
        status, renamed = await _call(http, server, "POST", "/api/venues", json=second)
        assert status == 201
        path = f"/api/venues/{renamed['id']}"
        status, problem = await _call(http, server, "POST", path, json={"name": ROOM})
        assert status == 409 and problem["code"] == "duplicate_name", problem
        assert problem["detail"] == f"该交易中心已有名为“{ROOM}”的评标室"
        status, kept = await _call(http, server, "GET", path)
        assert kept["name"] == "铁岭第二评标室"
        # The other fields of a refused change are not kept either.
        change = {"name": ROOM, "seat_count": 5}
        status, problem = await _call(http, server, "POST", path, json=change)
        assert status == 409
        status, kept = await _call(http, server, "GET", path)
        assert (kept["name"], kept["seat_count"]) == ("铁岭第二评标室", 6)
        status, moved = await _call(http, server, "POST", path, json={"name": "铁岭第三评标室"})
        assert status == 200 and moved["name"] == "铁岭第三评标室"

    # Only what was stored is on the record.
    events = await store.list_events()
    added = [e.data["name"] for e in events if e.kind == "centre_added"]
    assert added == [CENTRE]
    rooms = [e.data["name"] for e in events if e.kind == "venue_added"]
    assert sorted(rooms) == sorted([ROOM, ROOM, "铁岭第二评标室"])
    changed = [e.data["name"] for e in events if e.kind == "venue_changed"]
    assert changed == ["铁岭第三评标室"]


async def test_a_database_holding_twins_is_upgraded_with_them_numbered_apart(
    store_config: StoreConfig, tmp_path: Path
) -> None:
    engine = create_async_engine(store_config.database_url)
    sqlite_file = engine.url.get_backend_name() == "sqlite" and engine.url.database
    if sqlite_file:
        Path(sqlite_file).parent.mkdir(parents=True, exist_ok=True)
    venue = "INSERT INTO venues (id, centre_id, name, city, seat_count) VALUES"
    async with engine.begin() as conn:
        await conn.run_sync(upgrade, "0011")
        for insert in (
            f"INSERT INTO centres (id, name, city) VALUES ('c1', '{CENTRE}', '铁岭')",
            f"INSERT INTO centres (id, name, city) VALUES ('c2', '{CENTRE}', '铁岭')",
            f"INSERT INTO centres (id, name, city) VALUES ('c3', '{CENTRE}（2）', '铁岭')",
            f"{venue} ('v1', 'c1', '{ROOM}', '铁岭', 6)",
            f"{venue} ('v2', 'c1', '{ROOM}', '铁岭', 6)",
            f"{venue} ('v3', 'c1', '{ROOM}', '铁岭', 6)",
            f"{venue} ('v4', 'c2', '{ROOM}', '铁岭', 6)",
        ):
            await conn.exec_driver_sql(insert)
    await engine.dispose()
    async with SqlStore(store_config) as store:
        centres = {c.id: c.name for c in await store.places.centres()}
        venues = {v.id: v.name for v in await store.list_venues()}
        assert centres == {"c1": CENTRE, "c2": f"{CENTRE}（3）", "c3": f"{CENTRE}（2）"}
        assert venues == {"v1": ROOM, "v2": f"{ROOM}（2）", "v3": f"{ROOM}（3）", "v4": ROOM}
        with pytest.raises(DuplicateName):
            await store.add_centre(Centre(new_id(), CENTRE, "铁岭"))
