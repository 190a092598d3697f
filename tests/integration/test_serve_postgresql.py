"""``roomserver demo`` and ``roomserver serve`` with ``--database-url`` on PostgreSQL: the server
starts on it, and a session's event log is written there and read back in seq order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import aiohttp
import pytest

from roomserver.config import StoreConfig
from roomserver.store import SqlStore
from tests.serverproc import ServerProcess

pytestmark = pytest.mark.postgresql


@pytest.fixture
async def server(tmp_path: Path, postgres_url: str) -> AsyncIterator[ServerProcess]:
    """``roomserver serve`` on a fresh PostgreSQL database, the demo created there first."""
    proc = ServerProcess(
        tmp_path / "data", extra_args=("--workers", "1"), database_url=postgres_url
    )
    await proc.demo()
    await proc.start()
    try:
        yield proc
    finally:
        await proc.stop()


def _link(server: ServerProcess, role: str) -> dict[str, Any]:
    return next(link for link in server.links if link["role"] == role)


async def _activity(
    http: aiohttp.ClientSession, server: ServerProcess, token: str, after: int = 0
) -> list[dict[str, Any]]:
    url = f"{server.base_url}/api/sessions/{server.session_id}/activity"
    headers = {"Authorization": f"Bearer {token}"}
    async with http.get(url, params={"after": str(after)}, headers=headers) as r:
        assert r.status == 200, await r.text()
        body: list[dict[str, Any]] = await r.json()
    return body


async def test_serve_keeps_a_sessions_event_log_in_postgresql(
    server: ServerProcess, postgres_url: str
) -> None:
    host = _link(server, "host")
    expert = _link(server, "expert")
    async with aiohttp.ClientSession() as http:
        # `roomserver demo` logged every link it issued, in the database the server now reads.
        issued = await _activity(http, server, host["token"])
        # (The demo's bid opening is a session of its own, with its own links.)
        links = [link for link in server.links if link["session_id"] == server.session_id]
        assert [e["kind"] for e in issued] == ["link_issued"] * len(links)
        assert {e["data"]["link"] for e in issued} == {link["link_id"] for link in links}
        last = issued[-1]["seq"]

        # The server appends: an expert exchanges the code of their link for a cookie.
        code = parse_qs(urlparse(expert["url"]).query)["code"][0]
        async with http.post(f"{server.base_url}/api/login", json={"code": code}) as r:
            assert r.status == 200, await r.text()
        newer = await _activity(http, server, host["token"], after=last)
    assert [(e["kind"], e["actor"]) for e in newer] == [("link_used", expert["participant_id"])]

    # All of it is in PostgreSQL, and nothing went to a SQLite file in the data directory.
    async with SqlStore(StoreConfig(database_url=postgres_url)) as store:
        stored = await store.list_events(server.session_id)
        everything = await store.list_events()
    assert [(e.seq, e.kind, e.at.isoformat()) for e in stored] == [
        (e["seq"], e["kind"], e["at"]) for e in issued + newer
    ]
    # The whole log (the server's own events besides the session's) has no gap.
    assert [e.seq for e in everything] == list(range(1, len(everything) + 1))
    assert not list(server.data_dir.glob("*.db"))
