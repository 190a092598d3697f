"""Nodes of a cluster for the tests: servers as processes sharing one PostgreSQL database, one
Redis, one keys folder and one archive location, each with a data directory of its own."""

from __future__ import annotations

from pathlib import Path

from tests.serverproc import ServerProcess


class ClusterNode(ServerProcess):
    """``roomserver serve`` as node `node_id` of the cluster."""

    def __init__(
        self,
        root: Path,
        node_id: str,
        *,
        database_url: str,
        redis_url: str,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        (root / node_id).mkdir(parents=True, exist_ok=True)
        super().__init__(root / node_id / "data", database_url=database_url)
        self.node_id = node_id
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
            *super().common,
            "--keys-dir",
            str(self.keys_dir),
            "--archive-dir",
            str(self.archive_dir),
        ]
