"""The health probes an operator and a load balancer use: ``/livez`` says the process answers,
``/readyz`` whether it can take a session (database, media workers, the archive's disk, the
event table's hash chain as found at start), and ``/metrics`` the archive's free space."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import aiohttp

from tests.integration.conftest import start_server


async def test_a_ready_server_says_so_check_by_check(tmp_path: Path) -> None:
    test_server, server = await start_server(tmp_path / "data")
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{server.base_url}/livez") as r:
                assert r.status == 200 and (await r.json())["status"] == "ok"
            async with http.get(f"{server.base_url}/readyz") as r:
                body = await r.json()
                assert r.status == 200, body
            assert body["status"] == "ok"
            assert [c["name"] for c in body["checks"]] == [
                "database",
                "workers",
                "archive_disk",
                "event_chain",
                "cluster",
            ]
            assert all(c["ok"] for c in body["checks"])
            assert body["checks"][3]["detail"].startswith("事件表哈希链完整")
            assert "媒体进程 1/1 可用" in body["checks"][1]["detail"]
            assert body["checks"][4]["detail"] == "单机运行"
            async with http.get(f"{server.base_url}/metrics") as r:
                text = await r.text()
            free = next(
                line
                for line in text.splitlines()
                if line.startswith("roomserver_archive_free_bytes ")
            )
            assert float(free.split()[1]) > 0
    finally:
        await test_server.close()


async def test_a_full_archive_disk_makes_the_server_unready_but_alive(tmp_path: Path) -> None:
    # More free space asked for than any disk here has.
    test_server, server = await start_server(tmp_path / "data", "--min-free-disk-gb", "900000")
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{server.base_url}/readyz") as r:
                body = await r.json()
                assert r.status == 503, body
            assert body["status"] == "unavailable"
            disk = next(c for c in body["checks"] if c["name"] == "archive_disk")
            assert disk["ok"] is False and "下限 900000 GB" in disk["detail"]
            assert all(c["ok"] for c in body["checks"] if c["name"] != "archive_disk")
            async with http.get(f"{server.base_url}/livez") as r:
                assert r.status == 200
    finally:
        await test_server.close()


async def test_without_a_media_worker_taking_rooms_the_server_is_unready(tmp_path: Path) -> None:
    test_server, server = await start_server(tmp_path / "data")
    try:
        admin = {"Authorization": f"Bearer {server.tokens.issue_admin()}"}
        async with aiohttp.ClientSession() as http:
            # The only worker drained for maintenance: it takes no new room.
            async with http.post(f"{server.base_url}/api/workers/0/drain", headers=admin) as r:
                assert r.status == 200, await r.text()
            async with http.get(f"{server.base_url}/readyz") as r:
                body = await r.json()
                assert r.status == 503, body
        workers = next(c for c in body["checks"] if c["name"] == "workers")
        assert workers["ok"] is False and "没有可接收新会场的媒体进程" in workers["detail"]
    finally:
        await test_server.close()


async def test_a_changed_event_row_makes_the_restarted_server_unready(tmp_path: Path) -> None:
    """A row of the event table edited in the database, between two runs of the server."""
    test_server, server = await start_server(tmp_path / "data")
    try:
        appended = await server.services.store.append_event(
            "note", {"text": "监督意见：无异议"}, session_id=server.demo.session.id
        )
    finally:
        await test_server.close()
    db = sqlite3.connect(server.config.data_dir / "roomserver.db")
    with db:
        db.execute(
            "UPDATE events SET data = ? WHERE seq = ?",
            (json.dumps({"text": "监督意见：有异议"}), appended.seq),
        )
    db.close()

    test_server, server = await start_server(tmp_path / "data")
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{server.base_url}/readyz") as r:
                body = await r.json()
                assert r.status == 503, body
            chain = next(c for c in body["checks"] if c["name"] == "event_chain")
            assert chain["ok"] is False
            assert chain["detail"].startswith(f"事件表哈希链断裂：seq {appended.seq}: its digests")
            assert all(c["ok"] for c in body["checks"] if c["name"] != "event_chain")
            async with http.get(f"{server.base_url}/livez") as r:
                assert r.status == 200
    finally:
        await test_server.close()
