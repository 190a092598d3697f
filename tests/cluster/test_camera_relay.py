"""A sub venue's node (standard 8.2-3): it hosts no rooms, pulls its venue's room camera over
RTSP on its own host (the camera is on that host's loopback: nothing else could reach it) and
sends it to the room's node, which shows and records it; with the link between the two cut, the
sub venue's node records the camera itself, and after the session's end hands its sealed archive
over into the session's archive, where it is verified and joined."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from media.testing.synthetic import CounterVideoTrack, ToneAudioTrack
from recorder.archive import list_parts
from recorder.manifest import Manifest
from roomserver.config import StoreConfig
from roomserver.store import SqlStore
from signaling.gate.tokens import TokenIssuer, load_or_create_key
from signaling.testing.seat import SyntheticSeat
from signaling.testing.wall import WallClient
from tests import polling
from tests.cluster.conftest import Cluster
from tests.cluster.nodes import ADDRESSES, ClusterNode
from tests.rtsp import RtspSource, require_gstreamer

pytestmark = [pytest.mark.network, pytest.mark.postgresql]

CAMERA_PORT = 8554
WITHIN_S = 40.0
CUT = f"""
table inet cut {{
  chain input {{
    type filter hook input priority 0; policy accept; ip saddr {ADDRESSES["a"]} drop;
  }}
  chain output {{
    type filter hook output priority 0; policy accept; ip daddr {ADDRESSES["a"]} drop;
  }}
}}
"""


def test_a_sub_venue_node_relays_its_camera_records_it_when_cut_off_and_hands_it_over(
    cluster: Cluster,
) -> None:
    require_gstreamer()
    cluster.run(lambda nodes: relayed_camera(cluster, nodes))


def media_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("part-*/media/room-camera-*/*") if p.stat().st_size)


async def relayed_camera(cluster: Cluster, nodes: list[ClusterNode]) -> None:
    a = nodes[0]
    await a.start()
    links: list[dict[str, Any]] = json.loads((await a.cli("load-session", "--seats", "11"))[1])
    session_id = str(links[0]["session_id"])
    sub_venue = str(links[10]["venue_id"])
    admin = (await a.cli("token", "--admin"))[1].strip()
    auth = {"Authorization": f"Bearer {admin}"}
    camera = RtspSource(CAMERA_PORT, launcher=("ip", "netns", "exec", cluster.net.ns.full("r")))
    async with aiohttp.ClientSession(headers=auth) as http:
        async with http.post(
            f"{a.base_url}/api/venues/{sub_venue}", json={"camera_urls": [camera.url]}
        ) as resp:
            assert resp.status == 200, await resp.text()
            centre = (await resp.json())["centre_id"]
    camera.start()
    r = cluster.node("r", "--node-rooms", "0", "--node-centres", centre)
    seat = SyntheticSeat(
        a.base_url,
        str(links[0]["token"]),
        name="main-seat",
        camera=CounterVideoTrack((200, 60, 40)),
        microphone=ToneAudioTrack(440),
    )
    tokens = TokenIssuer(
        load_or_create_key(a.keys_dir / "secrets" / "token.key"), default_ttl_s=3600
    )
    wall = WallClient(a.base_url, tokens.issue_supervisor("省监督"))
    async with SqlStore(StoreConfig(database_url=cluster.database_url)) as store:
        try:
            await r.start()
            async with aiohttp.ClientSession(headers=auth) as http:
                await polling.poll_until(
                    lambda: node_listed(http, a, "r"), 10, "node a knows node r"
                )
            await seat.start()
            await seat.wait_grid_frames(5, timeout=20)

            # Node a shows and records the sub venue's camera, which reaches it through r.
            up = await polling.wait_event(
                store, session_id, "room_camera", within=WITHIN_S, state="up", relay="r"
            )
            assert up.data["recorded"] and up.data["viewable"], up.data
            # A supervisor on node a watches it.
            await wall.connect()
            viewer = await wall.watch_camera(session_id, str(up.data["id"]))
            await viewer.wait_frames("roomcam", 15, timeout=WITHIN_S)
            await wall.unwatch(viewer)

            # The link cut: a shows the camera down, r records it on its own disk.
            cluster.net.ns.nft("r", CUT)
            await polling.wait_event(
                store, session_id, "room_camera", within=WITHIN_S, state="down", relay="r"
            )
            local = r.data_dir / "relay-archive" / session_id
            await polling.wait_until(
                lambda: bool(media_files(local)), WITHIN_S, "node r records the camera"
            )

            # The link back: a shows it again (a second "up"), r stops recording it.
            cluster.net.ns.nft_flush("r", "inet cut")
            await polling.poll_until(
                lambda: counted(store, session_id, "room_camera", 2, state="up"),
                WITHIN_S,
                "the camera up again on node a",
            )
            viewer = await wall.watch_camera(session_id, str(up.data["id"]))
            await viewer.wait_frames("roomcam", 30, timeout=WITHIN_S)

            # The session ends: r hands its sealed archive over into the session's archive.
            async with aiohttp.ClientSession(headers=auth) as http:
                async with http.post(
                    f"{a.base_url}/api/sessions/{session_id}/end", json={"reason": "测试结束"}
                ) as resp:
                    assert resp.status == 200, await resp.text()
            joined = await polling.wait_event(
                store, session_id, "relay_recording_joined", within=WITHIN_S, node="r"
            )
            assert joined.data["verified"] and joined.data["parts"] >= 1, joined.data
        finally:
            await wall.close()
            await seat.close()
            camera.stop()
    await a.stop()
    await r.stop()

    # What r recorded while cut off is in the session's archive now, and no longer at r.
    assert not local.exists()
    relayed = a.archive_dir / session_id / "relayed" / "r" / session_id
    parts = list_parts(relayed)
    assert parts, relayed
    assert Manifest.from_json((parts[-1][1] / "manifest.json").read_bytes()).state == "ended"
    segments = [
        s
        for _n, p in parts
        for s in Manifest.from_json((p / "manifest.json").read_bytes()).segments
    ]
    assert any(s.track.startswith("room-camera-") for s in segments), segments
    # Node a recorded the camera before and after the cut.
    main = [
        s
        for _n, p in list_parts(a.archive_dir / session_id)
        for s in Manifest.from_json((p / "manifest.json").read_bytes()).segments
        if s.track.startswith("room-camera-")
    ]
    assert len(main) >= 2, main
    code, out = await a.cli("archive", "verify", session_id, check=False)
    assert code == 0, out
    assert "relayed/r/" in out, out


async def node_listed(http: aiohttp.ClientSession, node: ClusterNode, node_id: str) -> bool:
    async with http.get(f"{node.base_url}/api/cluster") as resp:
        return any(n["node_id"] == node_id for n in (await resp.json())["nodes"])


async def counted(store: SqlStore, session_id: str, kind: str, at_least: int, **data: Any) -> bool:
    found = [
        e
        for e in await store.list_events(session_id)
        if e.kind == kind and all(e.data.get(k) == v for k, v in data.items())
    ]
    return len(found) >= at_least
