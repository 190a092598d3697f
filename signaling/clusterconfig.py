"""A node's place in a cluster: its name, the Redis it shares with the others, what it hosts.

Without ``redis_url`` the server runs alone (the embedded default): every room is its own and
nothing is written about nodes. With it, the server is one node of a cluster that shares the
database (PostgreSQL), Redis, the archive location and the keys folder; see
``signaling.services.cluster``.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# name: (type, default, help), merged into signaling.config.OPTIONS.
CLUSTER_OPTIONS: dict[str, tuple[str, Any, str]] = {
    "redis_url": (
        "str",
        None,
        "Redis shared by the nodes of a cluster, e.g. redis://10.0.0.5:6379/0 (empty: alone)",
    ),
    "node_id": ("str", None, "this node's name in the cluster (default: the host name)"),
    "node_centres": (
        "list",
        [],
        "centre ids whose rooms this node may host (repeatable; none: any centre)",
    ),
    "node_capacity": ("int", 4, "evaluation rooms this node hosts at most"),
    "node_rooms": ("int", 1, "1: this node hosts rooms; 0: it only relays a sub venue's cameras"),
    "heartbeat": ("float", 1.0, "seconds between a node's heartbeats"),
    "node_dead_after": (
        "float",
        5.0,
        "seconds without a heartbeat after which a node is lost and its rooms move",
    ),
}


@dataclass(frozen=True)
class ClusterConfig:
    """The node's settings in a cluster."""

    redis_url: str
    node_id: str
    centres: tuple[str, ...] = ()
    capacity: int = 4
    hosts_rooms: bool = True
    heartbeat_s: float = 1.0
    dead_after_s: float = 5.0


def cluster_config(settings: Mapping[str, Any]) -> ClusterConfig | None:
    """The cluster settings, or None for a server that runs alone; ValueError when wrong."""
    redis_url = settings["redis_url"] or None
    if redis_url is None:
        return None
    if not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("redis_url must be a redis://, rediss:// or unix:// URL")
    node_id = (settings["node_id"] or socket.gethostname()).strip()
    if not node_id or len(node_id) > 64 or not node_id.isprintable():
        raise ValueError("node_id must be 1 to 64 printable characters")
    capacity = int(settings["node_capacity"])
    if not 0 <= capacity <= 1000:
        raise ValueError("node_capacity must be between 0 and 1000")
    heartbeat = float(settings["heartbeat"])
    dead_after = float(settings["node_dead_after"])
    if not 0.1 <= heartbeat <= 60:
        raise ValueError("heartbeat must be between 0.1 and 60 seconds")
    if dead_after < 3 * heartbeat:
        raise ValueError("node_dead_after must be at least three heartbeats")
    return ClusterConfig(
        redis_url=redis_url,
        node_id=node_id,
        centres=tuple(settings["node_centres"] or ()),
        capacity=capacity,
        hosts_rooms=bool(int(settings["node_rooms"])),
        heartbeat_s=heartbeat,
        dead_after_s=dead_after,
    )
