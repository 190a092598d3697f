"""This server as one node of a cluster: its heartbeat, where each room lives, who leads.

Nodes share the database (PostgreSQL), Redis, the archive location and the keys folder. Each
node writes its row in ``cluster_nodes`` every ``heartbeat`` seconds (roomserver.clusterstore).
A room is pinned to one node the first time anybody asks for it: the least loaded node allowed
for the centre of its main venue, chosen by whichever node is asked, and written so that a second
node placing it at the same moment reads the first one's choice. Seats, consoles and walls that
reach another node are sent on to the room's node (``home``): the refusal names the node and
carries a hand-over login for it (signaling.gate.tokens). The pages follow it as a person
would follow a link; media then flows straight between the page and that node.

A node whose heartbeat is older than ``node_dead_after`` is lost. The leader (the node holding
the ``leader`` lease) moves each of its rooms to the least loaded node left, by a compare-and-set
on the placement; any node asked for such a room moves it too (the first move wins). The room
opens on its new node when its seats come back, which recovers and seals the part the lost node
left open in the shared archive (`RoomManager`), so each track shows one gap. A node that finds a
room of its own pinned elsewhere (it was taken for lost, say, while its loop stalled) closes its
copy at its next heartbeat, and a node that cannot write its heartbeat for ``node_dead_after``
closes its rooms: a room never records on two nodes for longer than that.

The leader also does what one node of the cluster does at a time: the webhook pushes, the daily
usage push and the bid openings (their clocks and their halls).

Without ``redis_url`` the server runs alone: every room is its own, nothing is written about
nodes, and it leads from the start.

Redis carries what every node's pages need from the others (and the calls and notices between
nodes, ``signaling.services.nodecalls``): python-socketio's manager (an emit to
a Socket.IO room reaches its members on every node), each node's live rooms as its walls list them
(a hash per node, refreshed with the heartbeat, gone when the node is), and a notice when they
change. Hand-over logins are spent there once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import aiohttp

from roomserver.clusterstore import NodeInfo, Placement, least_loaded
from roomserver.errors import Unavailable
from roomserver.model import Session
from roomserver.store import SqlStore
from signaling.clusterconfig import ClusterConfig
from signaling.services.nodecalls import NodeCalls
from signaling.tasks import TaskSet

logger = logging.getLogger(__name__)

LEADER = "leader"
LIVE_KEY = "roomserver:live:{node}"
CHANGED_CHANNEL = "roomserver:changed"
SPENT_KEY = "roomserver:handover:{jti}"
PROBE_S = 1.0

Callback = Callable[[], Awaitable[None]]


class Cluster:
    """This node's view of the cluster (or of itself alone)."""

    def __init__(
        self,
        config: ClusterConfig | None,
        url: str,
        store: SqlStore,
        tasks: TaskSet,
        *,
        rooms_hosted: Callable[[], list[str]],
    ) -> None:
        self.config = config
        self.url = url.rstrip("/")
        self._store = store
        self._tasks = tasks
        self._rooms_hosted = rooms_hosted
        self._started_at = time.time()
        self._nodes: dict[str, NodeInfo] = {}
        self._leading = config is None
        self._lead_start: list[Callback] = []
        self._lead_stop: list[Callback] = []
        self._on_lost: list[Callable[[list[str]], Awaitable[None]]] = []
        self._on_changed: list[Callable[[], None]] = []
        self._calls = NodeCalls(config.node_id if config is not None else "", tasks)
        self._every_minute: list[Callback] = []
        self._beats = 0
        self._told: list[str] = []
        self._loop: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._last_beat = time.monotonic()
        self._published: dict[str, str] = {}
        self._redis: Any = None
        self._http: aiohttp.ClientSession | None = None
        self._closing = False

    # -- who and where --------------------------------------------------------------------------

    @property
    def alone(self) -> bool:
        """Whether the server runs without a cluster."""
        return self.config is None

    @property
    def node_id(self) -> str:
        """This node's name ("" alone)."""
        return self.config.node_id if self.config is not None else ""

    @property
    def leading(self) -> bool:
        """Whether this node does the cluster's one-at-a-time work now."""
        return self._leading

    def nodes(self) -> list[NodeInfo]:
        """The nodes alive at the last heartbeat, this one included."""
        if self.config is None:
            return []
        now = time.time()
        return [n for n in self._nodes.values() if n.alive(now, self.config.dead_after_s)]

    def peer_urls(self) -> list[str]:
        """Where the other live nodes that host rooms are reached, least loaded first."""
        others = [n for n in self.nodes() if n.node_id != self.node_id and n.hosts_rooms]
        others.sort(key=lambda n: (n.rooms / max(n.capacity, 1), n.node_id))
        return [n.url for n in others]

    def url_of(self, node_id: str) -> str | None:
        """The URL of a live node, if it is one."""
        node = self._nodes.get(node_id)
        if node is None or self.config is None:
            return None
        return node.url if node.alive(time.time(), self.config.dead_after_s) else None

    async def home(self, room_id: str, centre_id: str | None) -> str | None:
        """Where `room_id` lives: None for here, else the URL of its node. An unplaced room, or
        one whose node was lost, is placed now (here, if this node is the least loaded)."""
        if self.config is None:
            return None
        cluster = self._store.cluster
        placement = await cluster.placement(room_id)
        for _ in range(5):
            if placement is None:
                target = await self._target(centre_id)
                placement = await cluster.place(room_id, target, time.time())
            if placement.node_id == self.node_id:
                return None
            if await self._up(placement.node_id):
                url = self.url_of(placement.node_id)
                if url is not None:
                    return url
            moved = await self._move(placement, centre_id)
            placement = moved if moved is not None else await cluster.placement(room_id)
        raise Unavailable("暂时没有可以承载本场的服务器，请稍候，页面将自动重试")

    async def _up(self, node_id: str) -> bool:
        """Whether a node is up: it beats and it answers. A node that beat recently but does
        not answer (killed a moment ago, say) is waited for until it answers again or its
        heartbeat is too old: nobody is sent to a node that is gone. One that beats on without
        answering (its address not reached from here, say) is not waited for forever."""
        assert self.config is not None
        deadline = time.monotonic() + 2 * self.config.dead_after_s
        while True:
            if time.monotonic() > deadline:
                raise Unavailable("本场所在的服务器暂时无法访问，请稍候，页面将自动重试")
            url = self.url_of(node_id)
            if url is None:
                await self._refresh_nodes()  # it may have come up since the last heartbeat
                url = self.url_of(node_id)
                if url is None:
                    return False
            if await self._answers(url):
                return True
            await asyncio.sleep(self.config.heartbeat_s)  # its next heartbeat, or its silence
            await self._refresh_nodes()

    async def _answers(self, url: str) -> bool:
        """Whether the node at `url` answers its liveness probe within a second."""
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=PROBE_S))
        try:
            async with self._http.get(f"{url}/livez", ssl=False) as answer:
                return answer.status == 200
        except (aiohttp.ClientError, TimeoutError, OSError):
            return False

    async def home_of(self, session: Session) -> str | None:
        """`home` of a session's room, placed by the centre of its main venue."""
        if self.config is None:
            return None
        venue = await self._store.get_venue(session.main_venue_id)
        return await self.home(session.id, venue.centre_id)

    async def leader_url(self) -> str | None:
        """None when this node leads (or runs alone), else the URL of the node that does. While
        the leader is being replaced (lost, its lease not yet expired or not yet taken) this
        waits for the next one: nobody is sent to a node that is gone."""
        if self.config is None:
            return None
        deadline = time.monotonic() + 2 * self.config.dead_after_s
        while not self._leading:
            holder = await self._store.cluster.lease_holder(LEADER, time.time())
            if holder is not None and holder != self.node_id and await self._answers_now(holder):
                return self.url_of(holder)
            if time.monotonic() > deadline:
                raise Unavailable("集群正在选出新的主节点，请稍候，页面将自动重试")
            await asyncio.sleep(self.config.heartbeat_s)  # the heartbeat that takes the lease
        return None

    async def _answers_now(self, node_id: str) -> bool:
        url = self.url_of(node_id)
        return url is not None and await self._answers(url)

    async def health(self) -> tuple[bool, str]:
        """Whether this node can serve as a node of its cluster now, and what was found."""
        if self.config is None or self._redis is None:
            return True, "单机运行"
        try:
            await asyncio.wait_for(self._redis.ping(), PROBE_S * 3)
        except Exception as exc:  # any failure of the client is the verdict, not a crash
            return False, f"Redis 不可用：{type(exc).__name__}"
        age = time.monotonic() - self._last_beat
        if age > self.config.dead_after_s:
            return False, f"本节点 {age:.0f} 秒未能写入心跳，其余节点视其为失联"
        role = "主节点" if self._leading else "节点"
        return True, f"{role} {self.node_id}，{len(self.nodes())} 个节点在线"

    async def status(self) -> dict[str, Any]:
        """The cluster as ``GET /api/cluster`` shows it."""
        if self.config is None:
            return {"alone": True, "node_id": None, "leader": None, "nodes": [], "rooms": []}
        now = time.time()
        nodes = await self._store.cluster.nodes()
        return {
            "alone": False,
            "node_id": self.node_id,
            "leader": await self._store.cluster.lease_holder(LEADER, now),
            "nodes": [
                {
                    "node_id": n.node_id,
                    "url": n.url,
                    "state": n.state,
                    "alive": n.alive(now, self.config.dead_after_s),
                    "hosts_rooms": n.hosts_rooms,
                    "centres": list(n.centres),
                    "capacity": n.capacity,
                    "rooms": n.rooms,
                    "load": n.load,
                    "heartbeat_age_s": round(now - n.heartbeat_at, 3),
                }
                for n in nodes
            ],
            "rooms": [
                {"room_id": p.room_id, "node_id": p.node_id, "epoch": p.epoch}
                for p in await self._store.cluster.placements()
            ],
        }

    async def session_ended(self, session_id: str) -> None:
        """A session ended: its room is unpinned, even if no room ever opened for it (a console
        that placed it, no seat that came)."""
        if self.config is None:
            return
        try:
            await self._store.cluster.forget(session_id)
        except Exception:  # the session has ended all the same; the row is only a pointer
            logger.exception("session %s: could not unpin its room", session_id)

    async def closed(self, room_id: str) -> None:
        """This node's room closed: unpin it, so that its next opening is placed afresh."""
        if self.config is not None and not self._closing:
            await self._store.cluster.release(room_id, self.node_id)

    # -- leading and losing ---------------------------------------------------------------------

    def while_leading(self, start: Callback, stop: Callback) -> None:
        """Run `start` when this node becomes the leader and `stop` when it no longer is."""
        self._lead_start.append(start)
        self._lead_stop.append(stop)

    def when_rooms_lost(self, handler: Callable[[list[str]], Awaitable[None]]) -> None:
        """Call `handler` with the rooms of this node that are pinned elsewhere now."""
        self._on_lost.append(handler)

    def every_minute(self, handler: Callback) -> None:
        """Await `handler` about once a minute while in a cluster, and whenever a node came or
        went (the pages' notices renewed)."""
        self._every_minute.append(handler)

    def when_changed(self, handler: Callable[[], None]) -> None:
        """Call `handler` when another node's live rooms changed (the walls list them)."""
        self._on_changed.append(handler)

    # -- live rooms of every node ---------------------------------------------------------------

    async def publish_live(self, rooms: dict[str, dict[str, Any]]) -> None:
        """Tell the other nodes this node's live rooms as the walls show them."""
        if self._redis is None:
            return
        encoded = {
            sid: json.dumps(info, ensure_ascii=False, sort_keys=True) for sid, info in rooms.items()
        }
        if encoded == self._published:
            return
        key = LIVE_KEY.format(node=self.node_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if encoded:
                pipe.hset(key, mapping=encoded)
                pipe.expire(key, max(int(self._dead_after() * 2), 2))
            pipe.publish(CHANGED_CHANNEL, self.node_id)
            await pipe.execute()
        self._published = encoded

    async def remote_live(self) -> dict[str, dict[str, Any]]:
        """The live rooms of the other live nodes: session id -> its wall info and its node."""
        if self._redis is None:
            return {}
        found: dict[str, dict[str, Any]] = {}
        for node in self.nodes():
            if node.node_id == self.node_id:
                continue
            for sid, text in (
                await self._redis.hgetall(LIVE_KEY.format(node=node.node_id))
            ).items():
                info = json.loads(text)
                info["node_url"] = node.url
                found[sid.decode() if isinstance(sid, bytes) else sid] = info
        return found

    # -- between nodes (signaling.services.nodecalls) -------------------------------------------

    def serve(self, method: str, handler: Callable[[dict[str, Any]], Awaitable[Any]]) -> None:
        """Answer `method` when another node calls it here (``call``)."""
        self._calls.serve(method, handler)

    async def call(self, node_id: str, method: str, params: dict[str, Any]) -> Any:
        """Call `method` on node `node_id`; its answer (``NodeCalls.call``)."""
        return await self._calls.call(node_id, method, params)

    async def notify(self, kind: str, data: dict[str, Any]) -> None:
        """Tell every other node `kind` (``when_notified``); nothing alone."""
        await self._calls.notify(kind, data)

    def when_notified(
        self, kind: str, handler: Callable[[dict[str, Any]], Awaitable[None]]
    ) -> None:
        """Await `handler` with the data of every `kind` notice from another node."""
        self._calls.when_notified(kind, handler)

    def node_of(self, room_id: str, placement: Placement | None) -> str | None:
        """The live node other than this one that `placement` pins `room_id` to, if any."""
        if placement is None or placement.node_id == self.node_id:
            return None
        return placement.node_id if self.url_of(placement.node_id) is not None else None

    async def spend_handover(self, jti: str, ttl_s: int) -> bool:
        """Spend a hand-over login once; False when it was spent before."""
        if self._redis is None:
            return False
        return bool(
            await self._redis.set(SPENT_KEY.format(jti=jti), self.node_id, nx=True, ex=ttl_s)
        )

    # -- life -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect to Redis, write the first heartbeat and start beating (or lead, alone)."""
        if self.config is None:
            for start in self._lead_start:
                await start()
            return
        import redis.asyncio as aioredis  # only a cluster needs the client

        self._redis = aioredis.from_url(self.config.redis_url)
        self._calls.redis = self._redis
        await self._redis.ping()
        await self._beat()
        await self._refresh_nodes()
        await self._lead()
        self._loop = asyncio.create_task(self._run(), name="cluster-heartbeat")
        self._listener = asyncio.create_task(self._listen(), name="cluster-changes")
        logger.info(
            "node %s in the cluster at %s (%d nodes alive)",
            self.node_id,
            self.url,
            len(self.nodes()),
        )

    async def close(self) -> None:
        """Stop leading, say this node has stopped, stop beating; rooms are closed by then."""
        self._closing = True
        for task in (self._loop, self._listener):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._leading:
            await self._stop_leading()
        if self.config is None:
            return
        with contextlib.suppress(Exception):
            for placement in await self._store.cluster.placements(self.node_id):
                await self._store.cluster.release(placement.room_id, self.node_id)
            await self._store.cluster.drop_lease(LEADER, self.node_id)
            await self._store.cluster.beat(self._info(state="stopped"))
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.delete(LIVE_KEY.format(node=self.node_id))
                await self._redis.publish(CHANGED_CHANNEL, self.node_id)
            await self._redis.aclose()
        if self._http is not None:
            await self._http.close()

    # -- inside ---------------------------------------------------------------------------------

    def _dead_after(self) -> float:
        return self.config.dead_after_s if self.config is not None else 0.0

    def _info(self, state: str = "up") -> NodeInfo:
        assert self.config is not None
        return NodeInfo(
            node_id=self.config.node_id,
            url=self.url,
            centres=self.config.centres,
            capacity=self.config.capacity,
            rooms=len(self._rooms_hosted()),
            load=_load(),
            hosts_rooms=self.config.hosts_rooms,
            state=state,
            started_at=self._started_at,
            heartbeat_at=time.time(),
        )

    async def _beat(self) -> None:
        await self._store.cluster.beat(self._info())
        self._last_beat = time.monotonic()

    async def _refresh_nodes(self) -> None:
        self._nodes = {n.node_id: n for n in await self._store.cluster.nodes()}

    async def _target(self, centre_id: str | None) -> str:
        await self._refresh_nodes()
        # Rooms counted by their placements: a node reports the rooms it opened only at its
        # next heartbeat, and two rooms placed within it must not both go to the same node.
        placed: dict[str, int] = {}
        for placement in await self._store.cluster.placements():
            placed[placement.node_id] = placed.get(placement.node_id, 0) + 1
        nodes = [
            replace(n, rooms=max(n.rooms, placed.get(n.node_id, 0))) for n in self._nodes.values()
        ]
        chosen = least_loaded(nodes, centre_id, time.time(), self._dead_after())
        if chosen is None:
            raise Unavailable("暂时没有可以承载本场的服务器，请稍候，页面将自动重试")
        return chosen.node_id

    async def _move(self, seen: Placement, centre_id: str | None) -> Placement | None:
        target = await self._target(centre_id)
        moved = await self._store.cluster.move(seen, target, time.time())
        if moved is not None:
            logger.warning(
                "room %s moved from lost node %s to %s", seen.room_id, seen.node_id, target
            )
        return moved

    async def _run(self) -> None:
        assert self.config is not None
        while True:
            await asyncio.sleep(self.config.heartbeat_s)
            try:
                await self._beat()
                if self._published and self._redis is not None:
                    # The live rooms last told stay as long as this node beats.
                    key = LIVE_KEY.format(node=self.node_id)
                    await self._redis.expire(key, max(int(self._dead_after() * 2), 2))
                await self._refresh_nodes()
                await self._lead()
                if self._leading:
                    await self._move_lost_rooms()
                await self._drop_rooms_pinned_elsewhere()
                self._beats += 1
                peers = self.peer_urls()
                # Pages are told again when a node came or went, and about once a minute.
                if (
                    peers != self._told
                    or self._beats % max(int(60 / self.config.heartbeat_s), 1) == 0
                ):
                    self._told = peers
                    for handler in self._every_minute:
                        await handler()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("cluster heartbeat failed")
                if time.monotonic() - self._last_beat > self.config.dead_after_s:
                    # Taken for lost by now: the rooms may open elsewhere, so not here too.
                    await self._lose(self._rooms_hosted())

    async def _lead(self) -> None:
        assert self.config is not None
        ttl = self.config.dead_after_s
        holds = await self._store.cluster.take_lease(LEADER, self.node_id, time.time(), ttl)
        if holds and not self._leading:
            self._leading = True
            logger.info("node %s leads the cluster", self.node_id)
            for start in self._lead_start:
                await start()
        elif not holds and self._leading:
            await self._stop_leading()

    async def _stop_leading(self) -> None:
        self._leading = False
        for stop in reversed(self._lead_stop):
            try:
                await stop()
            except Exception:
                logger.exception("stopping the leader's work failed")

    async def _move_lost_rooms(self) -> None:
        now = time.time()
        lost = {
            n.node_id
            for n in self._nodes.values()
            if n.state != "stopped" and not n.alive(now, self._dead_after())
        }
        if not lost:
            return
        for placement in await self._store.cluster.placements():
            if placement.node_id in lost:
                with contextlib.suppress(Unavailable):  # no node left for it: asked again later
                    await self._move(placement, None)

    async def _drop_rooms_pinned_elsewhere(self) -> None:
        hosted = self._rooms_hosted()
        if not hosted:
            return
        mine = {p.room_id for p in await self._store.cluster.placements(self.node_id)}
        elsewhere = [room for room in hosted if room not in mine]
        if elsewhere:
            logger.warning("rooms %s are pinned to another node now: closing them here", elsewhere)
            await self._lose(elsewhere)

    async def _lose(self, rooms: list[str]) -> None:
        for handler in self._on_lost:
            try:
                await handler(rooms)
            except Exception:
                logger.exception("closing rooms pinned elsewhere failed")

    async def _listen(self) -> None:
        assert self._redis is not None
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(CHANGED_CHANNEL, *self._calls.channels())
        try:
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                channel, data = message.get("channel"), message.get("data")
                channel = channel.decode() if isinstance(channel, bytes) else str(channel)
                data = data.decode() if isinstance(data, bytes) else str(data)
                if channel != CHANGED_CHANNEL:
                    self._calls.received(channel, data)
                elif data != self.node_id:
                    for handler in self._on_changed:
                        handler()
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()


def _load() -> float:
    """The machine's CPU in use, 0..1 (since the last call)."""
    import psutil

    return round(psutil.cpu_percent(interval=None) / 100.0, 3)
