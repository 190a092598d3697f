"""Fixtures of the cluster tests: two nodes on one PostgreSQL database and one Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cluster.nodes import ClusterNode
from tests.postgres import PostgresServer
from tests.redisserver import RedisServer


@pytest.fixture
async def nodes(
    tmp_path: Path, postgres_server: PostgresServer, redis_server: RedisServer
) -> AsyncIterator[list[ClusterNode]]:
    """Nodes a and b (started by the test), stopped however it ends."""
    database = postgres_server.url(postgres_server.create_database("cluster"))
    made = [
        ClusterNode(
            tmp_path,
            node_id,
            database_url=database,
            redis_url=redis_server.url,
            extra_args=("--segment-seconds", "3"),
        )
        for node_id in ("a", "b")
    ]
    yield made
    for node in made:
        await node.stop()
