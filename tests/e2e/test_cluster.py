"""Seat pages in real Chromium follow their room across the nodes of a cluster: a link that
reaches a node not hosting the room is sent on to the room's node with a hand-over login, and
when that node is killed (kill -9) the pages open themselves on the node left, which took the
room over, and go live again there with nobody touching them."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import pytest

from tests.e2e.conftest import RunningServer, free_port
from tests.postgres import PostgresServer
from tests.redisserver import RedisServer

pytestmark = [pytest.mark.e2e, pytest.mark.postgresql]

BACK_WITHIN_S = 10.0
GRID_TIME = "document.querySelector('video[data-role=grid]').currentTime"


class Node(RunningServer):
    """``roomserver serve`` as one node of the test's cluster."""

    def __init__(self, root: Path, node_id: str, log_path: Path, shared: list[str]) -> None:
        super().__init__(root / node_id / "data", free_port(), log_path)
        self.node_id = node_id
        self.shared = [
            *shared,
            "--node-id",
            node_id,
            "--public-url",
            self.base_url,
            "--workers",
            "1",
        ]

    def _cli(self, *args: str) -> list[str]:
        return [*super()._cli(*args), *self.shared]

    def kill9(self) -> float:
        """kill -9 the node and its media workers at once; the wall time of the kill."""
        proc = self._proc
        assert proc is not None
        workers = [child.pid for child in psutil.Process(proc.pid).children()]
        killed_at = time.time()
        proc.send_signal(signal.SIGKILL)
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=10)
        return killed_at


@pytest.fixture
def cluster(
    tmp_path: Path, artifacts: Path, postgres_server: PostgresServer, redis_server: RedisServer
) -> Iterator[tuple[Node, Node]]:
    database = postgres_server.url(postgres_server.create_database("cluster_e2e"))
    shared = [
        "--database-url",
        database,
        "--redis-url",
        redis_server.url,
        "--keys-dir",
        str(tmp_path / "keys"),
        "--archive-dir",
        str(tmp_path / "archive"),
    ]
    nodes = (
        Node(tmp_path, "a", artifacts / "cluster-node-a.log", shared),
        Node(tmp_path, "b", artifacts / "cluster-node-b.log", shared),
    )
    for node in nodes:
        node.log_path.unlink(missing_ok=True)
    try:
        yield nodes
    finally:
        for node in nodes:
            node.stop()


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def test_seat_pages_follow_their_room_to_another_node(
    cluster: tuple[Node, Node], open_seat: Any, artifacts: Path
) -> None:
    a, b = cluster
    # Node b alone first: the room is placed on it when its first seat arrives.
    b.start()
    links = [
        p for p in json.loads(b.run_cli("load-session", "--seats", "2")) if "/seat?" in p["url"]
    ]
    first = open_seat(links[0]["url"])
    first.wait_live()
    a.start()
    # The second expert's link reaches node a, which sends the page on to node b.
    second = open_seat(links[1]["url"].replace(b.base_url, a.base_url))
    second.wait_live()
    assert origin(second.page.url) == b.base_url
    assert "handover" not in second.page.url and "code" not in second.page.url
    second.page.screenshot(path=str(artifacts / "cluster-seat-on-b.png"))

    killed_at = b.kill9()
    for seat in (first, second):
        try:
            seat.page.wait_for_function(
                f"() => location.origin === {json.dumps(a.base_url)}"
                " && document.body.dataset.state === 'live'",
                timeout=(BACK_WITHIN_S + 5) * 1000,
            )
        except Exception as exc:
            banner = seat.page.locator("#banner-text").inner_text()
            raise AssertionError(
                f"seat not live on node a: at {seat.page.url} state={seat.state()!r} "
                f"banner={banner!r} errors={seat.errors}"
            ) from exc
        back = time.time() - killed_at
        print(f"seat page live again on node a {back:.2f} s after the kill")
        assert back <= BACK_WITHIN_S
        start = seat.page.evaluate(GRID_TIME)
        seat.page.wait_for_function(f"() => {GRID_TIME} > {start} + 0.5", timeout=10000)
        assert seat.errors == [] or all("net::" in e or "WebSocket" in e for e in seat.errors)
    second.page.screenshot(path=str(artifacts / "cluster-seat-after-failover.png"))
