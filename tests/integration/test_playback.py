"""Archive playback through the real app: a session recorded by real seats, then found, opened,
played (range requests), verified and exported by the people entitled to, and by nobody else;
every access in the hash-chained access log."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tarfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from media.testing.synthetic import CounterVideoTrack, ToneAudioTrack
from recorder.accesslog import ACCESS_LOG, check_access_log
from recorder.eventlog import read_events
from recorder.export import unpack
from recorder.readme import TSA_VERIFY
from recorder.verify import verify_archive
from roomserver.model import Role
from signaling.testing.seat import SyntheticSeat
from tests import polling
from tests.integration.conftest import RunningServer, start_server
from tests.logins import session_token
from tests.tsa import LocalTsa


@pytest.fixture
async def recorded(tmp_path: Path) -> AsyncIterator[RunningServer]:
    """The demo session recorded for a few seconds by two seats, check-in opened, then ended;
    its seals time-stamped by a TSA on loopback."""
    tsa = LocalTsa(tmp_path / "tsa").start()
    server, running = await start_server(
        tmp_path / "data", "--tsa-url", tsa.url, "--tsa-certificate", str(tsa.certificate)
    )
    try:
        session_id = running.demo.session.id
        experts = running.experts
        async with AsyncExitStack() as stack, aiohttp.ClientSession() as http:
            seats = [
                await stack.enter_async_context(
                    SyntheticSeat(
                        running.base_url,
                        running.token(e),
                        camera=CounterVideoTrack(color),
                        microphone=ToneAudioTrack(440.0),
                        name=f"seat-{i}",
                    )
                )
                for i, (e, color) in enumerate(
                    ((experts[0], (200, 40, 40)), (experts[3], (40, 40, 200)))
                )
            ]
            await seats[0].wait_grid_frames(15, 15)
            host = {"Authorization": f"Bearer {running.token(running.participant(Role.HOST))}"}
            url = f"{running.base_url}/api/sessions/{session_id}"
            async with http.post(
                f"{url}/workflow", json={"kind": "open_check_in"}, headers=host
            ) as r:
                assert r.status == 200
            await seats[0].wait_grid_frames(30, 15)
            # Ended before the report was signed: an administrator's forced end.
            admin = {"Authorization": f"Bearer {running.tokens.issue_admin()}"}
            end = {"reason": "录像回放测试"}
            async with http.post(f"{url}/end", json=end, headers=admin) as r:
                assert r.status == 200, await r.text()
        await polling.wait_event(running.services.store, session_id, "recording_sealed", within=20)
        yield running
    finally:
        await server.close()
        tsa.stop()


async def get(
    http: aiohttp.ClientSession, url: str, token: str, **headers: str
) -> tuple[int, Any, dict[str, str]]:
    async with http.get(url, headers={"Authorization": f"Bearer {token}", **headers}) as r:
        body = await r.read()
        kind = r.headers.get("Content-Type", "")
        return r.status, (await r.json() if "json" in kind else body), dict(r.headers)


async def test_an_archivist_finds_plays_verifies_and_exports_a_session(
    recorded: RunningServer, tmp_path: Path
) -> None:
    server = recorded
    session_id = server.demo.session.id
    base = f"{server.base_url}/api/archive"
    archivist = server.token(server.participant(Role.ARCHIVIST))
    async with aiohttp.ClientSession() as http:
        status, found, _ = await get(http, f"{base}/sessions?q=LN-DEMO", archivist)
        # The demo lot's opening is recorded too, from the server's start (its hall's room).
        assert server.demo.opening is not None
        both = sorted([session_id, server.demo.opening.id])
        assert status == 200 and sorted(s["id"] for s in found) == both
        entry = next(s for s in found if s["id"] == session_id)
        assert entry["sealed"] and entry["experts"] == 6 and entry["duration_s"] > 1
        assert entry["venues"][0] == "沈阳第一评标室"
        status, none, _ = await get(http, f"{base}/sessions?q=no-such-project", archivist)
        assert none == []
        # Dates are Beijing dates; a day before the recording finds nothing.
        day = datetime.fromtimestamp(entry["start"], timezone(timedelta(hours=8))).date()
        status, same_day, _ = await get(http, f"{base}/sessions?from={day}&to={day}", archivist)
        assert sorted(s["id"] for s in same_day) == both
        before = day - timedelta(days=1)
        status, earlier, _ = await get(http, f"{base}/sessions?to={before}", archivist)
        assert earlier == []
        status, by_venue, _ = await get(http, f"{base}/sessions?venue=丹东", archivist)
        assert [s["id"] for s in by_venue] == [session_id]

        status, detail, _ = await get(http, f"{base}/sessions/{session_id}", archivist)
        assert status == 200 and detail["scope"]["whole"]
        tracks = {t["id"]: t for t in detail["tracks"]}
        assert {"room-grid", "room-mix"} <= set(tracks)
        cameras = [t for t in tracks.values() if t["id"].endswith("-camera")]
        assert len(cameras) == 2 and all(t["segments"] for t in cameras)
        kinds = {e["kind"] for e in detail["events"]}
        assert {"seat_connected", "workflow", "session_ended"} <= kinds

        # A segment, whole and by ranges; a range past the end is refused.
        segment = tracks["room-grid"]["segments"][0]
        url = f"{base}/sessions/{session_id}/files/{segment['path']}"
        status, whole, headers = await get(http, url, archivist)
        assert status == 200 and headers["Content-Type"] == "video/webm"
        assert len(whole) == segment["size"] and whole[:4] == b"\x1a\x45\xdf\xa3"
        status, part, headers = await get(http, url, archivist, Range="bytes=100-199")
        assert status == 206 and part == whole[100:200]
        status, _, _ = await get(http, url, archivist, Range=f"bytes={len(whole) + 10}-")
        assert status == 416

        # Verification and the evidence package.
        async with http.post(
            f"{base}/sessions/{session_id}/verify", headers={"Authorization": f"Bearer {archivist}"}
        ) as r:
            verdict = await r.json()
        assert verdict["ok"] and verdict["key_trusted"], verdict
        async with http.post(
            f"{base}/sessions/{session_id}/export", headers={"Authorization": f"Bearer {archivist}"}
        ) as r:
            assert r.status == 202
            job = await r.json()
        job_url = f"{base}/exports/{job['id']}"
        progress: list[dict[str, Any]] = []

        async def finished() -> bool:
            status, state, _ = await get(http, job_url, archivist)
            progress.append(state)
            return bool(state["finished"])

        for _ in range(200):
            if await finished():
                break
            await asyncio.sleep(0.05)  # the export's progress is polled, as the page does
        assert progress[-1]["error"] is None and progress[-1]["done"] == progress[-1]["total"]
        status, package, headers = await get(http, f"{job_url}/file", archivist)
        assert status == 200 and "attachment" in headers["Content-Disposition"]
        # Another person cannot fetch somebody's package.
        auditor = server.tokens.issue_auditor("审计一处")
        status, _, _ = await get(http, f"{job_url}/file", auditor)
        assert status == 404

    tar_path = tmp_path / "package.tar"
    tar_path.write_bytes(package)
    assert tarfile.is_tarfile(tar_path)
    folder = unpack(tar_path, tmp_path / "unpacked")
    assert (folder / "archive-keys.json").is_file() and (folder / "README.txt").is_file()
    # Every seal time-stamped by the TSA; the package holds its certificate, with which the
    # README's command checks a token without this software.
    assert (folder / "tsa-certificates.pem").is_file()
    parts = sorted(folder.glob("part-*"))
    assert parts and all((p / "seal.tsr").is_file() for p in parts)
    checked = await asyncio.to_thread(
        subprocess.run,
        ["sh", "-c", TSA_VERIFY],
        cwd=parts[0],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Verification: OK" in checked.stdout, checked
    configured_tsa = server.config.recorder.tsa_certificate
    verdict = verify_archive(
        folder,
        trusted_keys=[(folder / "archive-keys.json").read_bytes()],
        trusted_tsa=[await asyncio.to_thread(Path(str(configured_tsa)).read_bytes)],
    )
    assert verdict.ok and len(verdict.timestamps) == len(parts)
    assert all(t.trusted for t in verdict.timestamps)

    log = server.config.data_dir / ACCESS_LOG
    count, problems = check_access_log(log)
    assert problems == [] and count >= 5
    kinds = [(r["kind"], r["actor"]) for r in read_events(log)]
    archivist_id = server.participant(Role.ARCHIVIST).id
    for kind in ("archive_listed", "archive_opened", "archive_file", "archive_verified"):
        assert (kind, archivist_id) in kinds
    assert ("archive_exported", archivist_id) in kinds


async def test_who_may_see_what(recorded: RunningServer) -> None:
    server = recorded
    session_id = server.demo.session.id
    base = f"{server.base_url}/api/archive"
    archivist = server.token(server.participant(Role.ARCHIVIST))
    expert = server.token(server.experts[0])
    bidder = server.tokens.issue_party(Role.BIDDER, "甲建设集团", session_id)
    other_bidder = server.tokens.issue_party(Role.BIDDER, "乙公司", "another-session")
    wall = server.tokens.issue_supervisor("从未监督过的人")
    async with aiohttp.ClientSession() as http:
        _, detail, _ = await get(http, f"{base}/sessions/{session_id}", archivist)
        camera = next(t for t in detail["tracks"] if t["id"].endswith("-camera"))
        camera_url = f"{base}/sessions/{session_id}/files/{camera['segments'][0]['path']}"

        # An expert, a supervisor who never watched it, another session's bidder: refused,
        # and the listing shows them nothing.
        for token in (expert, wall, other_bidder):
            status, body, _ = await get(http, f"{base}/sessions/{session_id}", token)
            assert status == 403, body
            status, _, _ = await get(http, camera_url, token)
            assert status == 403
        for token in (wall, other_bidder):
            status, body, _ = await get(http, f"{base}/sessions", token)
            assert status == 200 and body == []
        status, body, _ = await get(http, f"{base}/sessions", expert)
        assert status == 403 and body["code"] == "role_not_allowed"

        # The session's bidder sees the check-in of the room, nothing of single seats.
        status, seen, _ = await get(http, f"{base}/sessions/{session_id}", bidder)
        assert status == 200 and not seen["scope"]["whole"]
        assert seen["scope"]["windows"] and seen["viewer"]["exports"] is False
        assert all(t["id"].startswith("room-") for t in seen["tracks"])
        assert {e["kind"] for e in seen["events"]} == {"workflow"}
        # What happened and when; not who, nor the committee's names.
        assert all(
            e["actor"] is None and set(e["data"]) == {"happened", "phase"} for e in seen["events"]
        )
        assert seen["people"] == {}
        assert seen["verification"] is None
        status, _, _ = await get(http, camera_url, bidder)
        assert status == 404
        async with http.post(
            f"{base}/sessions/{session_id}/export", headers={"Authorization": f"Bearer {bidder}"}
        ) as r:
            assert r.status == 403

        # An archivist opens the session to a bidder from the page; nobody else may.
        links = f"{base}/sessions/{session_id}/party-links"
        grant = {"role": "bidder", "name": "丙工程公司", "ttl_days": 7}
        for token in (bidder, expert):
            async with http.post(
                links, json=grant, headers={"Authorization": f"Bearer {token}"}
            ) as r:
                assert r.status == 403
        async with http.post(
            links, json=grant, headers={"Authorization": f"Bearer {archivist}"}
        ) as r:
            assert r.status == 201
            link = (await r.json())["url"]
        granted = await session_token(server.base_url, link)
        status, seen_too, _ = await get(http, f"{base}/sessions/{session_id}", granted)
        assert status == 200 and not seen_too["scope"]["whole"]

        # Paths outside the catalog are not served and say nothing of what is there.
        for path in (
            "../../secrets/token.key",
            "part-0001/seal.json",
            "%2e%2e/%2e%2e/roomserver.db",
        ):
            status, body, _ = await get(
                http, f"{base}/sessions/{session_id}/files/{path}", archivist
            )
            assert status == 404 and b"secrets" not in (body if isinstance(body, bytes) else b"")
        status, _, _ = await get(http, f"{base}/sessions/..%2Fsecrets", archivist)
        assert status == 400  # not a session id: refused before any folder is looked at


async def test_a_damaged_archive_still_opens_and_says_where_it_is_damaged(
    recorded: RunningServer,
) -> None:
    server = recorded
    session_id = server.demo.session.id
    base = f"{server.base_url}/api/archive/sessions/{session_id}"
    archivist = server.token(server.participant(Role.ARCHIVIST))
    folder = server.config.archive_dir / session_id
    async with aiohttp.ClientSession() as http:
        _, detail, _ = await get(http, base, archivist)
        segments = {t["id"]: t["segments"] for t in detail["tracks"]}
        camera = next(track for track in segments if track.endswith("-camera"))
        flipped, deleted = segments["room-grid"][0]["path"], segments[camera][0]["path"]
        async with http.post(
            f"{base}/verify", headers={"Authorization": f"Bearer {archivist}"}
        ) as r:
            assert (await r.json())["ok"]
        # Changed in place, same size: the verification kept from before must not be reused.
        data = bytearray((folder / flipped).read_bytes())
        data[len(data) // 2] ^= 0xFF
        (folder / flipped).write_bytes(bytes(data))
        (folder / deleted).unlink()

        status, again, _ = await get(http, base, archivist)
        assert status == 200 and [s["path"] for s in again["tracks"][0]["segments"]]
        status, _, _ = await get(http, f"{base}/files/{flipped}", archivist)
        assert status == 200  # what is there is served: the player plays what it can
        status, _, _ = await get(http, f"{base}/files/{deleted}", archivist)
        assert status == 404
        async with http.post(
            f"{base}/verify", headers={"Authorization": f"Bearer {archivist}"}
        ) as r:
            verdict = await r.json()
        assert not verdict["ok"]
        where = {d["where"] for d in verdict["differences"]}
        assert {flipped, deleted} <= where, where


async def test_the_command_line_issues_auditor_and_party_links(recorded: RunningServer) -> None:
    server = recorded
    session_id = server.demo.session.id

    async def cli(*args: str) -> str:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "signaling.cli",
            "token",
            *args,
            "--data-dir",
            str(server.config.data_dir),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        return out.decode().strip()

    auditor = await session_token(server.base_url, await cli("--auditor", "审计一处"))
    bidder_url = await cli("--party", "bidder:甲建设集团", "--session", session_id)
    bidder = await session_token(server.base_url, bidder_url)
    base = f"{server.base_url}/api/archive/sessions/{session_id}"
    async with aiohttp.ClientSession() as http:
        status, whole, _ = await get(http, base, auditor)
        assert status == 200 and whole["scope"]["whole"]
        status, part, _ = await get(http, base, bidder)
        assert status == 200 and not part["scope"]["whole"]
