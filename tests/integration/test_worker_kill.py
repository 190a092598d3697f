"""Rooms are isolated in media workers: kill -9 of one worker leaves the other room untouched."""

from __future__ import annotations

import itertools
import json
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from media.testing.synthetic import CounterVideoTrack, ToneAudioTrack
from recorder.archive import list_parts
from recorder.manifest import Manifest
from signaling.testing.seat import SyntheticSeat
from tests.serverproc import ServerProcess

BACK_WITHIN_S = 5.0


def token_of(link: dict) -> str:
    return str(link["token"])


@pytest.fixture
async def stopper() -> AsyncIterator[list[ServerProcess]]:
    """Servers a test started are stopped however it ends."""
    servers: list[ServerProcess] = []
    yield servers
    for server in servers:
        await server.stop()


async def test_killing_one_worker_leaves_the_other_room_alone(
    tmp_path: Path, stopper: list[ServerProcess]
) -> None:
    server = ServerProcess(
        tmp_path / "data", extra_args=("--workers", "2", "--segment-seconds", "3")
    )
    stopper.append(server)
    rooms = [json.loads((await server.cli("load-session", "--seats", "2"))[1]) for _ in range(2)]
    await server.start()
    seats: list[list[SyntheticSeat]] = []
    try:
        for r, links in enumerate(rooms):
            seats.append(
                [
                    SyntheticSeat(
                        server.base_url,
                        token_of(link),
                        name=f"room{r}-seat{i}",
                        camera=CounterVideoTrack((200, 60 * i, 40 * r)),
                        microphone=ToneAudioTrack(440 + 220 * i),
                    )
                    for i, link in enumerate(links)
                ]
            )
        for seat in itertools.chain(*seats):
            await seat.start()
        for seat in itertools.chain(*seats):
            await seat.wait_grid_frames(15, timeout=20)

        admin = (await server.cli("token", "--admin"))[1].strip()
        async with aiohttp.ClientSession() as http:
            async with http.get(
                f"{server.base_url}/api/workers", headers={"Authorization": f"Bearer {admin}"}
            ) as resp:
                workers = await resp.json()
        session = [links[0]["session_id"] for links in rooms]
        hosting = {sid: w for w in workers for sid in w["rooms"]}
        assert hosting[session[0]]["index"] != hosting[session[1]]["index"], workers

        killed_at = time.time()
        os.kill(hosting[session[0]]["pid"], signal.SIGKILL)

        # The killed room's seats negotiate again and receive the grid within 5 s.
        for seat in seats[0]:
            await seat.wait_media_restart(BACK_WITHIN_S)
            await seat.wait_grid_frames(1, timeout=BACK_WITHIN_S)
            assert time.time() - killed_at <= BACK_WITHIN_S
        # The other room noticed nothing: its grid kept arriving, without a pause.
        for seat in seats[1]:
            await seat.wait_grid_frames(30, timeout=5)
            around = [t for t in seat.grid_times() if killed_at - 1 <= t <= killed_at + 2]
            assert around, "no grid frames around the kill"
            longest = max(b - a for a, b in itertools.pairwise(around))
            # 15 fps is 67 ms a frame; a restarted media path would pause for seconds. The
            # margin is for a loaded test machine, not for the server.
            assert longest < 1.0, f"{seat.name}: grid paused {longest:.2f} s"
            assert seat.media_restarts == 0
    finally:
        for seat in itertools.chain(*seats):
            await seat.close()

    for sid in session:
        ended = await server.cli("session", "end", sid, "--reason", "测试结束")
        assert ended[1].strip() == "ended"
    await server.stop()

    # The killed room's archive: part 1 recovered with one gap per track, part 2 ended.
    parts = list_parts(server.data_dir / "archive" / session[0])
    assert [n for n, _ in parts] == [1, 2]
    first = Manifest.from_json((parts[0][1] / "manifest.json").read_bytes())
    assert first.state == "interrupted"
    tracks = sorted({s.track for s in first.segments})
    assert sorted(g.track for g in first.gaps) == tracks
    assert {g.reason for g in first.gaps} == {"media_worker_lost"}
    # The other room's archive is one part, never interrupted.
    assert [n for n, _ in list_parts(server.data_dir / "archive" / session[1])] == [1]
    for sid in session:
        code, out = await server.cli("archive", "verify", sid, check=False)
        assert code == 0, out


async def test_a_room_is_drained_off_a_worker_without_losing_its_seats(
    tmp_path: Path, stopper: list[ServerProcess]
) -> None:
    server = ServerProcess(tmp_path / "data", extra_args=("--workers", "2"))
    stopper.append(server)
    links = json.loads((await server.cli("load-session", "--seats", "2"))[1])
    await server.start()
    seats = [
        SyntheticSeat(
            server.base_url,
            token_of(link),
            name=f"seat{i}",
            camera=CounterVideoTrack((40, 200, 40 * i)),
            microphone=ToneAudioTrack(550),
        )
        for i, link in enumerate(links)
    ]
    admin = {"Authorization": f"Bearer {(await server.cli('token', '--admin'))[1].strip()}"}
    session = links[0]["session_id"]
    try:
        for seat in seats:
            await seat.start()
            await seat.wait_grid_frames(10, timeout=20)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{server.base_url}/api/workers", headers=admin) as resp:
                before = {w["index"] for w in await resp.json() if session in w["rooms"]}
            (index,) = before
            async with http.post(
                f"{server.base_url}/api/workers/{index}/drain", headers=admin
            ) as resp:
                assert resp.status == 200
                assert (await resp.json())["moved"] == [session]
            for seat in seats:
                await seat.wait_media_restart(10)
                await seat.wait_grid_frames(10, timeout=10)
            async with http.get(f"{server.base_url}/api/workers", headers=admin) as resp:
                workers = await resp.json()
        assert [w["index"] for w in workers if session in w["rooms"]] != [index]
        assert next(w for w in workers if w["index"] == index)["draining"] is True
    finally:
        for seat in seats:
            await seat.close()
    ended = await server.cli("session", "end", session, "--reason", "测试结束")
    assert ended[1].strip() == "ended"
    await server.stop()
    parts = list_parts(server.data_dir / "archive" / session)
    states = [Manifest.from_json((p / "manifest.json").read_bytes()).state for _, p in parts]
    assert states == ["interrupted", "ended"]
    code, out = await server.cli("archive", "verify", session, check=False)
    assert code == 0, out
