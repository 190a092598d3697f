"""Nodes of a cluster for the tests: servers as processes sharing one PostgreSQL database, one
Redis, one keys folder and one archive location, each with a data directory of its own and a
host of its own on the test's network.

```
        ns lan: a bridge, 10.30.0.0/24
       /            |               \\
  ns a: node a   ns b: node b    ns client: the test's seats, walls and REST calls
  10.30.0.11     10.30.0.12      10.30.0.21
                 ns r: node r (a sub venue's), 10.30.0.13
```

Each node listens on port 8080 of its own address, with its media on that address (``ice_host``).
PostgreSQL and Redis listen on Unix sockets, which every namespace reaches. The test's own body
runs on the client host (``ClusterNet.run``): a thread that entered that namespace runs an event
loop, so that its sockets, and the nodes and commands it starts, are that host's (a node is
moved onto its own host by ``ip netns exec``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from tests.network.netns import Namespaces, require_namespaces
from tests.serverproc import ServerProcess

T = TypeVar("T")
# r: a sub venue's node (hosts no rooms, relays its venue's cameras).
ADDRESSES = {"a": "10.30.0.11", "b": "10.30.0.12", "r": "10.30.0.13", "client": "10.30.0.21"}
PORT = 8080


class ClusterNode(ServerProcess):
    """``roomserver serve`` as node `node_id` of the cluster, on its own host."""

    def __init__(
        self,
        root: Path,
        node_id: str,
        *,
        ns: Namespaces,
        database_url: str,
        redis_url: str,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        (root / node_id).mkdir(parents=True, exist_ok=True)
        super().__init__(root / node_id / "data", database_url=database_url)
        self.node_id = node_id
        self.ns = ns
        self.address = ADDRESSES[node_id]
        self.port = PORT
        self.base_url = f"http://{self.address}:{PORT}"
        self.ice_host = self.address
        self.keys_dir = root / "keys"
        self.archive_dir = root / "archive"
        self.extra_args = (
            "--redis-url",
            redis_url,
            "--node-id",
            node_id,
            "--public-url",
            self.base_url,
            "--workers",
            "1",
            *extra_args,
        )

    @property
    def common(self) -> list[str]:
        """This node's flags, and the folders every node shares."""
        return [
            "--data-dir",
            str(self.data_dir),
            "--bind",
            f"0.0.0.0:{PORT}",
            "--database-url",
            str(self.database_url),
            "--keys-dir",
            str(self.keys_dir),
            "--archive-dir",
            str(self.archive_dir),
        ]

    def launcher(self) -> list[str]:
        """The node is started on its own host."""
        return ["ip", "netns", "exec", self.ns.full(self.node_id)]


class ClusterNet:
    """The test's network: the nodes' hosts and the client's, on one bridge."""

    def __init__(self, prefix: str) -> None:
        require_namespaces()
        self.ns = Namespaces(prefix)

    def build(self) -> None:
        self.ns.add("lan")
        for name, address in ADDRESSES.items():
            self.ns.add(name)
            self.ns.link(("lan", f"p-{name}", None), (name, "eth0", f"{address}/24"))
        self.ns.bridge("lan", "br0", [f"p-{name}" for name in ADDRESSES])

    def run(self, body: Callable[[], Awaitable[T]]) -> T:
        """Run the test's body on the client host, in an event loop of its own."""
        return self.ns.call("client", lambda: asyncio.run(body()))  # type: ignore[arg-type]

    def close(self) -> None:
        self.ns.close()


@contextmanager
def cluster_net() -> Iterator[ClusterNet]:
    """A network for one test, removed after it."""
    net = ClusterNet(f"rsk{os.getpid() % 100000}")
    try:
        net.build()
        yield net
    finally:
        net.close()
