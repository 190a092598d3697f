"""The cluster's shared state in a real database, SQLite and PostgreSQL: heartbeats, a room
pinned once however many nodes place it at once, a lost node's room moved by one node only,
and a lease held by one node at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from roomserver.clusterstore import NodeInfo, least_loaded
from roomserver.config import StoreConfig
from roomserver.store import SqlStore

NOW = 1_800_000_000.0
DEAD_AFTER_S = 5.0


@pytest.fixture
async def stores(store_config: StoreConfig) -> AsyncIterator[tuple[SqlStore, SqlStore]]:
    """Two stores on one database, as two nodes have."""
    async with SqlStore(store_config) as a, SqlStore(store_config) as b:
        yield a, b


def node(node_id: str, **kw: object) -> NodeInfo:
    defaults: dict[str, object] = {
        "url": f"https://{node_id}.example.cn",
        "started_at": NOW - 60,
        "heartbeat_at": NOW,
    }
    return NodeInfo(node_id=node_id, **{**defaults, **kw})  # type: ignore[arg-type]


async def test_heartbeats_are_written_and_read_back(stores: tuple[SqlStore, SqlStore]) -> None:
    a, b = stores
    await a.cluster.beat(node("a", centres=("c1",), capacity=3, rooms=1, load=0.25))
    await b.cluster.beat(node("b"))
    await a.cluster.beat(node("a", centres=("c1",), capacity=3, rooms=2, heartbeat_at=NOW + 1))
    nodes = await b.cluster.nodes()
    assert [n.node_id for n in nodes] == ["a", "b"]
    assert nodes[0] == node("a", centres=("c1",), capacity=3, rooms=2, heartbeat_at=NOW + 1)
    assert nodes[0].alive(NOW + 1 + DEAD_AFTER_S, DEAD_AFTER_S)
    assert not nodes[0].alive(NOW + 1.1 + DEAD_AFTER_S, DEAD_AFTER_S)


async def test_a_room_placed_at_once_by_two_nodes_is_pinned_to_one(
    stores: tuple[SqlStore, SqlStore],
) -> None:
    a, b = stores
    for attempt in range(5):
        room = f"room-{attempt}"
        first, second = await asyncio.gather(
            a.cluster.place(room, "a", NOW), b.cluster.place(room, "b", NOW)
        )
        assert first == second
        assert first.node_id in {"a", "b"} and first.epoch == 1
        assert await a.cluster.placement(room) == first


async def test_a_lost_nodes_room_is_moved_by_one_node_only(
    stores: tuple[SqlStore, SqlStore],
) -> None:
    a, b = stores
    seen = await a.cluster.place("room", "lost", NOW)
    to_a, to_b = await asyncio.gather(
        a.cluster.move(seen, "a", NOW + 6), b.cluster.move(seen, "b", NOW + 6)
    )
    moved = [p for p in (to_a, to_b) if p is not None]
    assert len(moved) == 1
    assert moved[0].epoch == 2
    assert await b.cluster.placement("room") == moved[0]
    # A move with a stale epoch does nothing, nor does a release by a node not holding it.
    assert await a.cluster.move(seen, "a", NOW + 7) is None
    assert not await a.cluster.release("room", "lost")
    assert await a.cluster.placements(moved[0].node_id) == [moved[0]]
    assert await a.cluster.release("room", moved[0].node_id)
    assert await b.cluster.placement("room") is None
    # A session that ended is unpinned wherever it was.
    await a.cluster.place("ended", "b", NOW)
    await a.cluster.forget("ended")
    assert await b.cluster.placement("ended") is None


async def test_a_lease_is_held_by_one_node_until_it_expires(
    stores: tuple[SqlStore, SqlStore],
) -> None:
    a, b = stores
    took = await asyncio.gather(
        a.cluster.take_lease("webhooks", "a", NOW, 10),
        b.cluster.take_lease("webhooks", "b", NOW, 10),
    )
    assert sorted(took) == [False, True]
    holder = await a.cluster.lease_holder("webhooks", NOW)
    other = "b" if holder == "a" else "a"
    assert await a.cluster.take_lease("webhooks", holder, NOW + 5, 10)  # renewed
    assert not await b.cluster.take_lease("webhooks", other, NOW + 14, 10)
    assert await b.cluster.take_lease("webhooks", other, NOW + 15.5, 10)  # expired: taken
    assert await a.cluster.lease_holder("webhooks", NOW + 16) == other
    await a.cluster.drop_lease("webhooks", holder)  # not held by it: nothing happens
    assert await a.cluster.lease_holder("webhooks", NOW + 16) == other
    await a.cluster.drop_lease("webhooks", other)
    assert await a.cluster.lease_holder("webhooks", NOW + 16) is None


def test_a_new_room_goes_to_the_least_loaded_node_allowed_for_its_centre() -> None:
    nodes = [
        node("a", rooms=2, capacity=4),
        node("b", rooms=1, capacity=4, centres=("c2",)),
        node("c", rooms=1, capacity=4, heartbeat_at=NOW - 10),  # lost
        node("d", rooms=0, capacity=4, hosts_rooms=False),  # a sub venue's relay
        node("e", rooms=1, capacity=4, state="draining"),
    ]
    assert least_loaded(nodes, "c1", NOW, DEAD_AFTER_S).node_id == "a"  # type: ignore[union-attr]
    assert least_loaded(nodes, "c2", NOW, DEAD_AFTER_S).node_id == "b"  # type: ignore[union-attr]
    assert least_loaded([node("a", rooms=4, capacity=4)], "c1", NOW, DEAD_AFTER_S) is None
