"""Two nodes on one PostgreSQL and one Redis: rooms placed across them, a seat that reaches the
wrong node sent on to its room's, every node's wall lists every room, a session's request
relayed to its room's node, and kill -9 of a node: its room comes back on the other within
10 s, its seats live again by themselves, one gap per track, and the archive verifies as one."""

from __future__ import annotations

import itertools
import json
import re
import time

import aiohttp
import pytest

from media.testing.synthetic import CounterVideoTrack, ToneAudioTrack
from recorder.archive import list_parts
from recorder.manifest import Manifest
from signaling.gate.tokens import TokenIssuer, load_or_create_key
from signaling.testing.seat import SyntheticSeat
from signaling.testing.wall import WallClient
from tests.cluster.conftest import Cluster
from tests.cluster.nodes import ClusterNode

pytestmark = [pytest.mark.network, pytest.mark.postgresql]

BACK_WITHIN_S = 10.0
SS_PID = re.compile(r"pid=(\d+)")
CANDIDATE_PORT = re.compile(r"^a=candidate:\S+ \d+ udp \d+ \S+ (\d+) typ host", re.MULTILINE)


def udp_ports(node: ClusterNode) -> set[int]:
    """The UDP ports the node's media worker has open, as its host sees them (``ss``)."""
    workers = set(node.worker_pids())
    ports = set()
    for line in node.ns.exec(node.node_id, "ss", "-Hunap").splitlines():
        fields = line.split()
        pids = {int(p) for p in SS_PID.findall(line)}
        if len(fields) >= 4 and pids & workers:
            ports.add(int(fields[3].rsplit(":", 1)[1]))
    return ports


def test_rooms_across_two_nodes_survive_the_loss_of_one(cluster: Cluster) -> None:
    cluster.run(two_nodes_and_the_loss_of_one)


async def two_nodes_and_the_loss_of_one(nodes: list[ClusterNode]) -> None:
    a, b = nodes
    await a.start()
    await b.start()
    rooms = [json.loads((await a.cli("load-session", "--seats", "2"))[1]) for _ in range(2)]
    sessions = [links[0]["session_id"] for links in rooms]
    cluster = [a.base_url, b.base_url]
    seats: list[list[SyntheticSeat]] = [
        [
            # Every seat's link points at node a; the room may live on b.
            SyntheticSeat(
                a.base_url,
                str(link["token"]),
                name=f"room{r}-seat{i}",
                camera=CounterVideoTrack((200, 60 * i, 40 * r)),
                microphone=ToneAudioTrack(440 + 220 * i),
                cluster=cluster,
            )
            for i, link in enumerate(links)
        ]
        for r, links in enumerate(rooms)
    ]
    tokens = TokenIssuer(
        load_or_create_key(a.keys_dir / "secrets" / "token.key"), default_ttl_s=3600
    )
    wall = WallClient(a.base_url, tokens.issue_supervisor("省监督"))
    try:
        for seat in itertools.chain(*seats):
            await seat.start()
        for seat in itertools.chain(*seats):
            await seat.wait_grid_frames(10, timeout=20)
        # The two rooms went to the two nodes, and both seats of a room to its node.
        homes = [{seat.base_url for seat in room} for room in seats]
        assert all(len(h) == 1 for h in homes), homes
        assert {h.pop() for h in homes} == set(cluster)
        on_b = next(r for r, room in enumerate(seats) if room[0].base_url == b.base_url)

        # A wall on node a lists both rooms live, the one on b as b tells it.
        await wall.connect()
        listed = await wall.wait_rooms(
            lambda rs: sum(1 for r in rs if r["session_id"] in sessions and r["live"]) == 2,
            timeout=10,
        )
        remote = next(r for r in listed if r["session_id"] == sessions[on_b])
        assert remote["seats_online"] == 2 and remote["node_url"] == b.base_url
        # The ops list on node a shows both rooms live, the one on b as b tells it.
        admin = (await a.cli("token", "--admin"))[1].strip()
        async with aiohttp.ClientSession() as http:
            async with http.get(
                f"{a.base_url}/api/health/sessions", headers={"Authorization": f"Bearer {admin}"}
            ) as resp:
                items = {i["session"]["id"]: i for i in (await resp.json())["items"]}
        assert all(items[sid]["live"] and items[sid]["seats_online"] == 2 for sid in sessions)
        # A request about the room on b that reaches a is b's answer (a has no such room).
        async with aiohttp.ClientSession() as http:
            async with http.get(
                f"{a.base_url}/api/sessions/{sessions[on_b]}/health",
                headers={"Authorization": f"Bearer {admin}"},
            ) as resp:
                health = await resp.json()
        assert health["live"] and sum(s["online"] for s in health["seats"]) == 2, health
        # It watches the room on b: the signalling goes through a, the pictures come straight
        # from b's media worker (the answer's candidates are b's worker's own ports).
        viewer = await wall.watch(sessions[on_b])
        await viewer.wait_frames("grid", 10, timeout=15)
        offered = {int(m) for m in CANDIDATE_PORT.findall(viewer.pc.remoteDescription.sdp)}
        assert offered and offered <= udp_ports(b), offered
        answer = await wall.warn(sessions[on_b], "请专家保持在座位上")
        assert answer["delivered"] == 2
        for seat in seats[on_b]:
            await seat.wait_event("warning", timeout=5)

        killed_at = await b.kill9()
        for seat in seats[on_b]:
            await seat.wait_rejoined(1, timeout=BACK_WITHIN_S + 5)
            lost_at, back_at = seat.rejoined[0]
            assert seat.base_url == a.base_url
            assert back_at - killed_at <= BACK_WITHIN_S, f"{seat.name}: {back_at - killed_at:.1f} s"
            print(f"{seat.name}: live again on node a {back_at - killed_at:.2f} s after the kill")
            await seat.wait_grid_frames(10, timeout=10)
        # The room that was on a noticed nothing.
        for seat in seats[1 - on_b]:
            assert seat.rejoined == []
        # The wall was told to watch again, and watches the room on a now.
        await wall.wait_event("media_restart", timeout=10)
        viewer = await wall.watch(sessions[on_b])
        await viewer.wait_frames("grid", 10, timeout=15)
        offered = {int(m) for m in CANDIDATE_PORT.findall(viewer.pc.remoteDescription.sdp)}
        assert offered <= udp_ports(a), offered

        # A session's request that reaches b's... b is gone: a answers it; one that reaches
        # a for a room on a is a's own. Both end the sessions through a.
        async with aiohttp.ClientSession() as http:
            for sid in sessions:
                async with http.post(
                    f"{a.base_url}/api/sessions/{sid}/end",
                    json={"reason": "测试结束"},
                    headers={"Authorization": f"Bearer {admin}"},
                ) as resp:
                    assert resp.status == 200, await resp.text()
            # Ended, the sessions are pinned to no node any more.
            async with http.get(
                f"{a.base_url}/api/cluster", headers={"Authorization": f"Bearer {admin}"}
            ) as resp:
                pinned = {r["room_id"] for r in (await resp.json())["rooms"]}
            assert not pinned & set(sessions), pinned
    finally:
        await wall.close()
        for seat in itertools.chain(*seats):
            await seat.close()
    await a.stop()

    # The room of the lost node: part 1 recovered by node a, one gap per track; part 2 ended.
    archive = a.archive_dir / sessions[on_b]
    parts = list_parts(archive)
    assert [n for n, _ in parts] == [1, 2]
    first = Manifest.from_json((parts[0][1] / "manifest.json").read_bytes())
    assert first.state == "interrupted"
    tracks = sorted({s.track for s in first.segments})
    assert sorted(g.track for g in first.gaps) == tracks
    assert {g.reason for g in first.gaps} == {"node_lost"}
    last = Manifest.from_json((parts[1][1] / "manifest.json").read_bytes())
    assert last.state == "ended"
    for sid in sessions:
        code, out = await a.cli("archive", "verify", sid, check=False)
        assert code == 0, out
    assert time.time() > killed_at
