"""Fixtures of the cluster tests: a network of their own, and two nodes on one PostgreSQL
database and one Redis."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aioice.ice
import pytest

from media.ice import apply_host_candidate_policy
from tests.cluster.nodes import ADDRESSES, ClusterNet, ClusterNode, cluster_net
from tests.postgres import PostgresServer
from tests.redisserver import RedisServer

pytestmark = [pytest.mark.network, pytest.mark.postgresql]


@dataclass
class Cluster:
    """The test's network and its two nodes (started and stopped by the test's body, on the
    client host: ``net.run``)."""

    net: ClusterNet
    nodes: list[ClusterNode]
    root: Path
    database_url: str
    redis_url: str

    def node(self, node_id: str, *extra_args: str) -> ClusterNode:
        """One more node (not started), stopped after the test's body like the others."""
        node = ClusterNode(
            self.root,
            node_id,
            ns=self.net.ns,
            database_url=self.database_url,
            redis_url=self.redis_url,
            extra_args=("--segment-seconds", "3", *extra_args),
        )
        self.nodes.append(node)
        return node

    def run(self, scenario: Callable[[list[ClusterNode]], Awaitable[None]]) -> None:
        """Run `scenario` with the nodes on the client host; the nodes are stopped after it."""

        async def body() -> None:
            try:
                await scenario(self.nodes)
            finally:
                for node in self.nodes:
                    await node.stop()

        # The test's own WebRTC peers offer the client host's address: the host candidates are
        # chosen process-wide (media.ice), and an earlier test of this process may have limited
        # them to loopback.
        chosen = aioice.ice.get_host_addresses
        apply_host_candidate_policy([ADDRESSES["client"]])
        try:
            self.net.run(body)
        finally:
            aioice.ice.get_host_addresses = chosen


@pytest.fixture
def cluster(
    tmp_path: Path, postgres_server: PostgresServer, redis_server: RedisServer
) -> Iterator[Cluster]:
    database = postgres_server.url(postgres_server.create_database("cluster"))
    with cluster_net() as net:
        nodes = [
            ClusterNode(
                tmp_path,
                node_id,
                ns=net.ns,
                database_url=database,
                redis_url=redis_server.url,
                extra_args=("--segment-seconds", "3"),
            )
            for node_id in ("a", "b")
        ]
        yield Cluster(net, nodes, tmp_path, database, redis_server.url)
