"""Whether the server can take a session now (``/readyz``): each check with its verdict.

Liveness (``/livez``) is only that the process answers; readiness is what a load balancer or an
operator needs before sending people to it: the database answers, a media worker can take a
room, the archive's disk has room for what is being recorded, and the event table's hash chain
was intact when the server started. A check that fails says why,
in words an operator reads, without naming a session or a person (the route is open to anyone,
like ``/healthz``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from signaling.metrics import free_bytes

if TYPE_CHECKING:
    from signaling.services.container import Services

# The database must answer within this long for the server to count as ready.
DATABASE_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Check:
    """One readiness check: its name, whether it passed, and what it found."""

    name: str
    ok: bool
    detail: str

    def as_json(self) -> dict[str, object]:
        """As ``/readyz`` shows it."""
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


async def database(services: Services) -> Check:
    """The database answers a query in time."""
    try:
        await asyncio.wait_for(services.store.is_empty(), DATABASE_TIMEOUT_S)
    except TimeoutError:
        return Check("database", False, f"数据库 {DATABASE_TIMEOUT_S:.0f} 秒内无响应")
    except Exception as exc:  # any failure of the engine is the verdict, not a crash
        return Check("database", False, f"数据库不可用：{type(exc).__name__}")
    return Check("database", True, "数据库正常")


def workers(services: Services) -> Check:
    """At least one media worker is alive and takes new rooms."""
    pool = services.workers.workers
    taking = [w for w in pool if w.alive and not w.draining]
    alive = [w for w in pool if w.alive]
    if not taking:
        words = f"没有可接收新会场的媒体进程（存活 {len(alive)}/{len(pool)}）"
        return Check("workers", False, words)
    return Check("workers", True, f"媒体进程 {len(taking)}/{len(pool)} 可用")


async def archive_disk(services: Services) -> Check:
    """The archive's disk has at least ``min_free_disk_gb`` free."""
    config = services.config
    free = await asyncio.to_thread(free_bytes, config.archive_dir)
    need = int(config.min_free_disk_gb * 1e9)
    words = f"档案磁盘剩余 {free / 1e9:.1f} GB（下限 {config.min_free_disk_gb:g} GB）"
    return Check("archive_disk", free >= need, words)


async def cluster(services: Services) -> Check:
    """In a cluster: Redis answers and this node's heartbeat is being written."""
    return Check("cluster", *await services.cluster.health())


def event_chain(services: Services) -> Check:
    """The event table's hash chain was intact when the server started."""
    chain = services.event_chain
    return Check("event_chain", chain.ok, chain.summary())


async def readiness(services: Services) -> list[Check]:
    """Every check, in a fixed order."""
    return [
        await database(services),
        workers(services),
        await archive_disk(services),
        event_chain(services),
        await cluster(services),
    ]
