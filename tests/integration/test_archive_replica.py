"""The archive's replica and its re-verification on the real server: a session recorded by a real
seat is copied to the replica once sealed and verifies there on its own; a replica file changed
afterwards is found by the re-verification and shown in /metrics and on the archive list, the
primary untouched; a replica that is away fails no recording and is filled once it is back; a
part recovered after kill -9 is copied too; `archive replicate` copies what came before."""

from __future__ import annotations

import asyncio
import hashlib
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from media.testing.synthetic import CounterVideoTrack, ToneAudioTrack
from recorder.archive import list_parts
from recorder.manifest import Manifest
from recorder.verify import verify_archive
from roomserver.config import StoreConfig
from roomserver.copies import PRIMARY, REPLICA
from roomserver.model import Role
from roomserver.store import SqlStore
from signaling.testing.seat import SyntheticSeat
from tests import polling
from tests.integration.conftest import RunningServer, start_server
from tests.serverproc import ServerProcess

ROOT = Path(__file__).resolve().parents[2]


def tree(folder: Path) -> dict[str, tuple[str, int, int]]:
    """Every file and folder under `folder`: digest (files), mode, modification time."""
    found: dict[str, tuple[str, int, int]] = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        found[path.relative_to(folder).as_posix()] = (digest, info.st_mode, info.st_mtime_ns)
    return found


async def record_and_end(server: RunningServer) -> str:
    """The demo session recorded by one seat for about two seconds, then ended by an
    administrator; returns its id once its part is sealed."""
    session_id = server.demo.session.id
    expert = server.experts[0]
    async with (
        SyntheticSeat(
            server.base_url,
            server.token(expert),
            camera=CounterVideoTrack((200, 40, 40)),
            microphone=ToneAudioTrack(440.0),
            name="seat-0",
        ) as seat,
        aiohttp.ClientSession() as http,
    ):
        await seat.wait_grid_frames(30, 20)
        admin = {"Authorization": f"Bearer {server.tokens.issue_admin()}"}
        url = f"{server.base_url}/api/sessions/{session_id}/end"
        async with http.post(url, json={"reason": "副本测试"}, headers=admin) as r:
            assert r.status == 200, await r.text()
    await polling.wait_event(server.services.store, session_id, "recording_sealed", within=20)
    return session_id


async def copy_state(server: RunningServer, session_id: str, location: str) -> str | None:
    copy = (await server.services.store.copies.of_session(session_id)).get(location)
    return copy.state if copy else None


async def wait_copy(server: RunningServer, session_id: str, location: str, state: str) -> None:
    async def reached() -> bool:
        return await copy_state(server, session_id, location) == state

    await polling.poll_until(reached, 60, f"{location} copy of {session_id} {state}")


async def metrics(server: RunningServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """/metrics as {(sample name, labels): value}."""
    async with aiohttp.ClientSession() as http, http.get(f"{server.base_url}/metrics") as r:
        text = await r.text()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("roomserver_archive")
    }


def verifications(shown: dict[Any, float], location: str, result: str) -> float:
    labels = (("location", location), ("result", result))
    return shown[("roomserver_archive_verifications_total", labels)]


async def listed(server: RunningServer, session_id: str) -> dict[str, dict[str, Any]]:
    """The session's copies as the archive page's list shows them, by location."""
    token = server.token(server.participant(Role.ARCHIVIST))
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{server.base_url}/api/archive/sessions",
            headers={"Authorization": f"Bearer {token}"},
        ) as r,
    ):
        assert r.status == 200
        entries = await r.json()
    entry = next(e for e in entries if e["id"] == session_id)
    return {c["location"]: c for c in entry["copies"]}


async def cli(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "signaling.cli",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode()


@pytest.fixture
async def replicated(tmp_path: Path) -> AsyncIterator[tuple[RunningServer, Path]]:
    """A server whose archive is copied to a replica folder (another disk, in production)."""
    replica = tmp_path / "mnt" / "replica"
    replica.mkdir(parents=True)
    server, running = await start_server(tmp_path / "data", "--archive-replica", str(replica))
    try:
        yield running, replica
    finally:
        await server.close()


async def test_a_sealed_session_is_copied_verified_there_and_listed(
    replicated: tuple[RunningServer, Path],
) -> None:
    server, replica = replicated
    session_id = await record_and_end(server)
    await wait_copy(server, session_id, REPLICA, "verified")

    primary = server.config.archive_dir / session_id
    copy = replica / session_id
    assert [p.name for _n, p in list_parts(copy)] == [p.name for _n, p in list_parts(primary)]
    # File for file the primary's, read-only as there.
    assert {k: v[:2] for k, v in tree(copy).items()} == {k: v[:2] for k, v in tree(primary).items()}
    code, out = await cli("archive", "verify", str(copy), "--data-dir", str(server.config.data_dir))
    assert code == 0 and "INTACT" in out, out

    copies = await listed(server, session_id)
    assert copies[REPLICA]["state"] == "verified" and copies[REPLICA]["verified_at"]
    assert copies[PRIMARY]["state"] == "unchecked"  # not yet the sweep's turn
    shown = await metrics(server)
    assert shown[("roomserver_archive_replications_total", (("result", "ok"),))] >= 1
    assert verifications(shown, REPLICA, "ok") >= 1
    assert shown[("roomserver_archive_replica_bytes_total", ())] > 0


async def test_a_replica_file_changed_later_is_found_by_the_re_verification(
    replicated: tuple[RunningServer, Path],
) -> None:
    server, replica = replicated
    session_id = await record_and_end(server)
    await wait_copy(server, session_id, REPLICA, "verified")
    primary = server.config.archive_dir / session_id
    before = tree(primary)

    # A byte of a segment in the replica turns (a disk rotting, a hand at work): same size.
    part = replica / session_id / "part-0001"
    manifest = Manifest.from_json((part / "manifest.json").read_bytes())
    segment = part / manifest.segments[0].path
    segment.chmod(0o644)
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0xFF
    segment.write_bytes(bytes(data))
    # A month later the copies are due again.
    store = server.services.store
    month_ago = datetime.now(UTC) - timedelta(days=31)
    checked = (await store.copies.of_session(session_id))[REPLICA]
    await store.copies.save(replace(checked, verified_at=month_ago, checked_at=month_ago))
    server.services.sweep.wake()

    async def found() -> bool:
        shown = await metrics(server)
        return verifications(shown, REPLICA, "failed") >= 1

    await polling.poll_until(found, 60, "the re-verification finds the changed segment")
    shown = await metrics(server)
    assert shown[("roomserver_archive_copies_failed", ())] == 1
    assert verifications(shown, PRIMARY, "ok") >= 1
    assert shown[("roomserver_archive_oldest_verification_age_seconds", ())] < 60

    copies = await listed(server, session_id)
    assert copies[REPLICA]["state"] == "failed"
    assert manifest.segments[0].path in copies[REPLICA]["detail"]
    assert copies[PRIMARY]["state"] == "verified"
    assert tree(primary) == before, "the primary must not change"
    assert verify_archive(primary).ok


async def test_a_replica_away_fails_no_recording_and_is_filled_once_back(
    tmp_path: Path,
) -> None:
    away = tmp_path / "mnt" / "replica"  # a file where the mounted folder should be
    away.parent.mkdir()
    away.write_bytes(b"")
    server, running = await start_server(
        tmp_path / "data", "--archive-replica", str(away), "--replica-retry", "10"
    )
    try:
        session_id = await record_and_end(running)
        await wait_copy(running, session_id, REPLICA, "copy_failed")
        primary = running.config.archive_dir / session_id
        # The recording was sealed as ever, and the hall of the demo's opening records on.
        assert verify_archive(primary).ok
        assert running.demo.opening is not None
        hall = running.config.archive_dir / running.demo.opening.id
        assert not (list_parts(hall)[-1][1] / "seal.json").exists()
        copies = await listed(running, session_id)
        assert copies[REPLICA]["state"] == "copy_failed"
        assert "not a folder" in copies[REPLICA]["detail"]
        shown = await metrics(running)
        assert shown[("roomserver_archive_replications_total", (("result", "failed"),))] >= 1
        assert shown[("roomserver_archive_copies_failed", ())] == 1
        before = tree(primary)

        away.unlink()
        away.mkdir()  # mounted again
        await wait_copy(running, session_id, REPLICA, "verified")
        assert verify_archive(away / session_id).ok
        assert tree(primary) == before, "the primary must not change"
        shown = await metrics(running)
        assert shown[("roomserver_archive_copies_failed", ())] == 0
    finally:
        await server.close()


async def test_archive_replicate_copies_what_was_recorded_before(tmp_path: Path) -> None:
    server, running = await start_server(tmp_path / "data")
    try:
        session_id = await record_and_end(running)
    finally:
        await server.close()  # the opening's hall is sealed too, as interrupted
    replica = tmp_path / "mnt" / "replica"
    replica.mkdir(parents=True)
    common = ("--data-dir", str(running.config.data_dir), "--archive-replica", str(replica))
    code, out = await cli("archive", "replicate", *common)
    assert code == 0, out
    assert out.count("COPIED") == 2 and session_id in out, out
    code, out = await cli("archive", "verify", str(replica / session_id), *common)
    assert code == 0 and "INTACT" in out, out
    code, out = await cli("archive", "replicate", *common)
    assert code == 0 and "副本已完整" in out, out


async def test_a_part_recovered_after_a_crash_is_copied_too(tmp_path: Path) -> None:
    replica = tmp_path / "mnt" / "replica"
    replica.mkdir(parents=True)
    proc = ServerProcess(
        tmp_path / "data", extra_args=("--segment-seconds", "3", "--archive-replica", str(replica))
    )
    await proc.demo()
    await proc.start()
    try:
        seat = SyntheticSeat(
            proc.base_url,
            proc.token(0),
            camera=CounterVideoTrack((40, 200, 40)),
            microphone=ToneAudioTrack(660.0),
            name="seat-0",
        )
        await seat.start()
        await seat.wait_grid_frames(60, 30)
        await proc.kill9()
        await seat.close()
        assert not (replica / proc.session_id).exists()

        await proc.start()  # recovery seals part 1 as interrupted, then it is copied
        config = StoreConfig(database_url=f"sqlite+aiosqlite:///{proc.data_dir / 'roomserver.db'}")
        async with SqlStore(config) as store:

            async def copied() -> bool:
                copy = (await store.copies.of_session(proc.session_id)).get(REPLICA)
                return copy is not None and copy.state == "verified"

            await polling.poll_until(copied, 60, "the recovered part verified in the replica")
        part = replica / proc.session_id / "part-0001"
        manifest = Manifest.from_json((part / "manifest.json").read_bytes())
        assert manifest.state == "interrupted" and any(s.repaired for s in manifest.segments)
        code, out = await proc.cli("archive", "verify", str(part.parent), check=False)
        assert code == 0 and "INTACT" in out, out
    finally:
        await proc.stop()
