"""The cluster's shared state in the database: nodes, the node each room is pinned to, leases.

Every node of a cluster writes its own row about once a second (its heartbeat). A node whose
heartbeat is older than the cluster's limit is taken as lost. A room is placed on one node by
inserting its row, so that of two nodes placing the same room at once, one insert wins and the
other reads the winner. A room moves only by a compare-and-set on the epoch it was seen with:
of two nodes moving a lost node's room at once, one succeeds. A lease is the same idea for a job
that one node at a time does (the webhook sender, the bid openings' clocks): taken when it is
free or expired, kept by renewing it.

Times are seconds since the epoch on the nodes' own clocks, which the centre keeps in step
(`roomserver doctor` compares them with its time server); a clock far off would make its node
look lost, or keep a lost one looking alive for as long as it is ahead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from roomserver.tables import ClusterLeaseRow, ClusterNodeRow, RoomPlacementRow


@dataclass(frozen=True)
class NodeInfo:
    """A node as it reports itself."""

    node_id: str
    url: str  # where browsers reach it, e.g. https://node-b.pb.example.cn
    centres: tuple[str, ...] = ()  # the centres whose rooms it may host; empty: any
    capacity: int = 4  # rooms it holds at most
    rooms: int = 0  # rooms it hosts now
    load: float = 0.0  # CPU in use, 0..1 of the machine
    hosts_rooms: bool = True  # False: a sub-venue node that relays cameras only
    state: str = "up"  # up, draining (no new rooms) or stopped (left in order)
    started_at: float = 0.0
    heartbeat_at: float = 0.0

    def alive(self, now: float, dead_after_s: float) -> bool:
        """Whether the node counts as running at `now`."""
        return self.state != "stopped" and now - self.heartbeat_at <= dead_after_s

    def may_host(self, centre_id: str | None) -> bool:
        """Whether a room of `centre_id` may be placed here."""
        if not self.hosts_rooms or self.state != "up" or self.rooms >= self.capacity:
            return False
        return not self.centres or centre_id is None or centre_id in self.centres


@dataclass(frozen=True)
class Placement:
    """The node a room is pinned to."""

    room_id: str
    node_id: str
    epoch: int
    placed_at: float


def _node(row: ClusterNodeRow) -> NodeInfo:
    return NodeInfo(
        node_id=row.node_id,
        url=row.url,
        centres=tuple(row.centres or ()),
        capacity=row.capacity,
        rooms=row.rooms,
        load=row.load,
        hosts_rooms=row.hosts_rooms,
        state=row.state,
        started_at=row.started_at,
        heartbeat_at=row.heartbeat_at,
    )


def _placement(row: RoomPlacementRow) -> Placement:
    return Placement(
        room_id=row.room_id, node_id=row.node_id, epoch=row.epoch, placed_at=row.placed_at
    )


class ClusterStore:
    """Nodes, placements and leases as the database holds them."""

    def __init__(self, db: Callable[[], AsyncSession]) -> None:
        self._db = db

    # -- nodes ----------------------------------------------------------------------------------

    async def beat(self, node: NodeInfo) -> None:
        """Write the node's row: its heartbeat, capacity and load."""
        values = {
            "url": node.url,
            "centres": list(node.centres),
            "capacity": node.capacity,
            "rooms": node.rooms,
            "load": node.load,
            "hosts_rooms": node.hosts_rooms,
            "state": node.state,
            "started_at": node.started_at,
            "heartbeat_at": node.heartbeat_at,
        }
        async with self._db() as db:
            result = await db.execute(
                update(ClusterNodeRow).where(ClusterNodeRow.node_id == node.node_id).values(values)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                db.add(ClusterNodeRow(node_id=node.node_id, **values))
            await db.commit()

    async def nodes(self) -> list[NodeInfo]:
        """Every node that ever reported, in node id order."""
        async with self._db() as db:
            rows = await db.scalars(select(ClusterNodeRow).order_by(ClusterNodeRow.node_id))
            return [_node(r) for r in rows]

    async def forget_node(self, node_id: str) -> None:
        """Remove a node's row (a node taken out of the cluster for good)."""
        async with self._db() as db:
            await db.execute(delete(ClusterNodeRow).where(ClusterNodeRow.node_id == node_id))
            await db.commit()

    # -- placements -----------------------------------------------------------------------------

    async def placement(self, room_id: str) -> Placement | None:
        """The node `room_id` is pinned to, if any."""
        async with self._db() as db:
            row = await db.get(RoomPlacementRow, room_id)
            return _placement(row) if row is not None else None

    async def placements(self, node_id: str | None = None) -> list[Placement]:
        """Every placement, or those of one node."""
        query = select(RoomPlacementRow).order_by(RoomPlacementRow.room_id)
        if node_id is not None:
            query = query.where(RoomPlacementRow.node_id == node_id)
        async with self._db() as db:
            return [_placement(r) for r in await db.scalars(query)]

    async def place(self, room_id: str, node_id: str, now: float) -> Placement:
        """Pin `room_id` to `node_id` unless it is pinned already; the placement that holds."""
        async with self._db() as db:
            db.add(RoomPlacementRow(room_id=room_id, node_id=node_id, epoch=1, placed_at=now))
            try:
                await db.commit()
                return Placement(room_id, node_id, 1, now)
            except IntegrityError:
                await db.rollback()
        held = await self.placement(room_id)
        if held is None:  # released between the insert and the read: place again
            return await self.place(room_id, node_id, now)
        return held

    async def move(self, seen: Placement, node_id: str, now: float) -> Placement | None:
        """Move a room from the node it was seen on to `node_id`; None when someone else moved
        or released it first."""
        async with self._db() as db:
            result = await db.execute(
                update(RoomPlacementRow)
                .where(
                    RoomPlacementRow.room_id == seen.room_id,
                    RoomPlacementRow.node_id == seen.node_id,
                    RoomPlacementRow.epoch == seen.epoch,
                )
                .values(node_id=node_id, epoch=seen.epoch + 1, placed_at=now)
            )
            await db.commit()
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
        return Placement(seen.room_id, node_id, seen.epoch + 1, now)

    async def release(self, room_id: str, node_id: str) -> bool:
        """Unpin a room from `node_id` (its room closed); False when it was pinned elsewhere."""
        async with self._db() as db:
            result = await db.execute(
                delete(RoomPlacementRow).where(
                    RoomPlacementRow.room_id == room_id, RoomPlacementRow.node_id == node_id
                )
            )
            await db.commit()
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def forget(self, room_id: str) -> None:
        """Unpin a room wherever it is pinned (its session ended)."""
        async with self._db() as db:
            await db.execute(delete(RoomPlacementRow).where(RoomPlacementRow.room_id == room_id))
            await db.commit()

    # -- leases ---------------------------------------------------------------------------------

    async def take_lease(self, name: str, node_id: str, now: float, ttl_s: float) -> bool:
        """Take or renew the lease `name` for `ttl_s`; False while another node holds it."""
        async with self._db() as db:
            result = await db.execute(
                update(ClusterLeaseRow)
                .where(
                    ClusterLeaseRow.name == name,
                    (ClusterLeaseRow.node_id == node_id) | (ClusterLeaseRow.expires_at < now),
                )
                .values(node_id=node_id, expires_at=now + ttl_s)
            )
            await db.commit()
            if result.rowcount == 1:  # type: ignore[attr-defined]
                return True
            db.add(ClusterLeaseRow(name=name, node_id=node_id, expires_at=now + ttl_s))
            try:
                await db.commit()
                return True
            except IntegrityError:
                await db.rollback()
                return False

    async def lease_holder(self, name: str, now: float) -> str | None:
        """The node holding lease `name` now, if any."""
        async with self._db() as db:
            row = await db.get(ClusterLeaseRow, name)
            return row.node_id if row is not None and row.expires_at >= now else None

    async def drop_lease(self, name: str, node_id: str) -> None:
        """Give up lease `name` if `node_id` holds it (a node stopping in order)."""
        async with self._db() as db:
            await db.execute(
                delete(ClusterLeaseRow).where(
                    ClusterLeaseRow.name == name, ClusterLeaseRow.node_id == node_id
                )
            )
            await db.commit()


def least_loaded(
    nodes: Sequence[NodeInfo], centre_id: str | None, now: float, dead_after_s: float
) -> NodeInfo | None:
    """The node a new room of `centre_id` goes to: alive, allowed, with room to spare, the
    fewest rooms for its capacity first, then the lowest load, then the node id (so that every
    node that decides at once decides the same)."""
    candidates = [n for n in nodes if n.alive(now, dead_after_s) and n.may_host(centre_id)]
    if not candidates:
        return None
    return min(candidates, key=lambda n: (n.rooms / max(n.capacity, 1), n.load, n.node_id))
