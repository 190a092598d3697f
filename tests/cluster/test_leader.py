"""One node of a cluster does what one node at a time must do: the webhook pushes. Events
written on any node are pushed once, by the leader, in order and signed; when the leader is
killed, the other node takes over within the lease and pushes on from where the cursor stood,
nothing lost (a push in flight may come again under its idempotency key)."""

from __future__ import annotations

import time

import aiohttp
import pytest

from tests.cluster.conftest import Cluster
from tests.cluster.nodes import ADDRESSES, ClusterNode
from tests.integration.platform_support import Admin
from tests.integration.webhook_support import Receiver, in_order_once, subscribe, venue

pytestmark = [pytest.mark.network, pytest.mark.postgresql]

TAKEN_OVER_WITHIN_S = 10.0


async def cluster_status(admin: Admin) -> dict:
    answer: dict = await admin.call("GET", "/api/cluster", 200)
    return answer


def test_the_leader_pushes_once_and_the_next_leader_goes_on(cluster: Cluster) -> None:
    cluster.run(pushes_across_the_loss_of_the_leader)


async def pushes_across_the_loss_of_the_leader(nodes: list[ClusterNode]) -> None:
    a, b = nodes
    await a.start()
    await b.start()
    admin_token = (await a.cli("token", "--admin"))[1].strip()
    async with Receiver(host=ADDRESSES["client"]) as receiver, aiohttp.ClientSession() as http:
        on_a, on_b = Admin(http, a.base_url, admin_token), Admin(http, b.base_url, admin_token)
        for node in (a, b):
            async with http.get(f"{node.base_url}/readyz") as resp:
                ready = await resp.json()
            check = next(c for c in ready["checks"] if c["name"] == "cluster")
            assert check["ok"] and "2 个节点在线" in check["detail"], check
        # `roomserver doctor` of a node finds Redis, the shared folders and its name its own.
        _, report = await a.cli("doctor", *a.extra_args, check=False)
        line = next(x for x in report.splitlines() if "集群" in x)
        assert "[正常]" in line and "2 个节点在线" in line, report
        status = await cluster_status(on_b)
        assert {n["node_id"] for n in status["nodes"] if n["alive"]} == {"a", "b"}
        leader = status["leader"]
        assert leader in {"a", "b"}
        # Subscribed through one node, events written through both.
        hook = await subscribe(on_b, receiver.url, ["venues"])
        receiver.secret = hook["secret"]
        await venue(on_a, "铁岭")
        await venue(on_b, "朝阳")
        await receiver.until("four venue pushes", lambda got: len(in_order_once(got)) >= 4)
        pushed = in_order_once(receiver.accepted())
        assert [p.body["kind"] for p in pushed] == ["centre_added", "venue_added"] * 2
        assert all(p.signed for p in pushed)
        seqs = [p.body["seq"] for p in pushed]
        assert seqs == sorted(seqs)
        # Nobody else pushes: each event came once (no retry was needed).
        assert len(receiver.got) == 4

        # The leader is killed; the other node leads within the lease and pushes on.
        dead, alive = (a, on_b) if leader == "a" else (b, on_a)
        killed_at = await dead.kill9()
        await venue(alive, "葫芦岛")
        await receiver.until(
            "the pushes after the leader's loss",
            lambda got: len(in_order_once(got)) >= 6,
            within=TAKEN_OVER_WITHIN_S + 5,
        )
        taken_over = time.time() - killed_at
        assert taken_over <= TAKEN_OVER_WITHIN_S, f"{taken_over:.1f} s"
        status = await cluster_status(alive)
        assert status["leader"] == ("b" if leader == "a" else "a")
        later = in_order_once(receiver.accepted())[4:]
        assert [p.body["kind"] for p in later] == ["centre_added", "venue_added"]
        assert [p.body["seq"] for p in later] == sorted(p.body["seq"] for p in later)
