"""A cluster's bid openings run on the node that leads it: a bidder whose link reaches another
node is sent on to the leader's hall, and a request about the opening that reaches another node
is answered by the leader; when the leader is lost, the next one takes the opening up."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
import socketio

from tests.cluster.conftest import Cluster
from tests.cluster.nodes import ClusterNode

pytestmark = [pytest.mark.network, pytest.mark.postgresql]


def test_the_openings_run_on_the_leader(cluster: Cluster) -> None:
    cluster.run(openings_on_the_leader)


class Hall:
    """A bidder's hall connection: the ``opening`` it was shown, and why it was refused."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.shown: dict[str, Any] = {}
        self.refusals: list[Any] = []
        self.got = asyncio.Event()
        self.client.on("opening", self._opening, namespace="/hall")
        self.client.on("connect_error", self.refusals.append, namespace="/hall")

    async def _opening(self, data: dict[str, Any]) -> None:
        self.shown = data
        self.got.set()


async def hall_opening(url: str, token: str) -> tuple[str, dict[str, Any]]:
    """Connect a bidder's hall to `url`, following a ``moved`` refusal once; the node that
    took it and the ``opening`` it was shown."""
    for _ in range(2):
        hall = Hall()
        try:
            await hall.client.connect(
                url,
                namespaces=["/hall"],
                auth={"token": token},
                transports=["websocket"],
                wait_timeout=15,
            )
        except socketio.exceptions.ConnectionError:
            moved = hall.refusals[-1]["data"] if hall.refusals else {}
            assert moved.get("code") == "moved", hall.refusals
            url = moved["url"]
            continue
        try:
            await asyncio.wait_for(hall.got.wait(), 10)
            return url, hall.shown
        finally:
            await hall.client.disconnect()
    raise AssertionError("sent on more than once")


async def openings_on_the_leader(nodes: list[ClusterNode]) -> None:
    a, b = nodes
    await a.start()
    await b.start()
    people = json.loads((await a.cli("demo", "--json"))[1])
    bidder = next(p for p in people if p["role"] == "bidder")
    admin = {"Authorization": f"Bearer {(await a.cli('token', '--admin'))[1].strip()}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{a.base_url}/api/cluster", headers=admin) as resp:
            leader_id = (await resp.json())["leader"]
        leader, other = (a, b) if leader_id == "a" else (b, a)
        # The bidder's hall on the other node is sent on to the leader's.
        took, shown = await hall_opening(other.base_url, str(bidder["token"]))
        assert took == leader.base_url
        assert shown["me"]["id"] == bidder["participant_id"] and "phase" in shown
        # A request about the opening that reaches the other node is the leader's answer.
        path = f"/api/sessions/{bidder['session_id']}/opening"
        answers = []
        for node in (leader, other):
            async with http.get(f"{node.base_url}{path}", headers=admin) as resp:
                assert resp.status == 200, await resp.text()
                answers.append(await resp.json())
        assert answers[0]["phase"] == answers[1]["phase"]
        # A request with a body through the other node: the leader takes back a link.
        tenderer = next(p for p in people if p["role"] == "tenderer")
        async with http.post(
            f"{other.base_url}/api/sessions/{bidder['session_id']}/links/"
            f"{tenderer['participant_id']}/revoke",
            json={"reason": "测试收回链接"},
            headers=admin,
        ) as resp:
            assert resp.status == 200, await resp.text()
            assert (await resp.json())["revoked"]

        # The leader is lost: the other node leads, and its hall shows the opening.
        await leader.kill9()
        took, shown = await hall_opening(other.base_url, str(bidder["token"]))
        assert took == other.base_url
        assert shown["me"]["id"] == bidder["participant_id"] and "phase" in shown
