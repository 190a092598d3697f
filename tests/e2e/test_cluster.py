"""Seat pages in real Chromium follow their room across the nodes of a cluster, on a network of
their own: nodes a and b and a seat computer are hosts of the test's network (namespaces on one
bridge, each with its own address), the nodes over HTTPS with certificates of a test authority,
sharing the test's PostgreSQL and Redis (on Unix sockets, which every namespace reaches). A link
that reaches node a while the room lives on b is sent on with a hand-over login; when b is killed
(kill -9, with its media worker) the pages open themselves on a, which took the room over, and
go live again there with nobody touching them."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import CHROMIUM, MediaFiles, SeatPage
from tests.network.certs import CertAuthority
from tests.network.chromium import launch_on
from tests.network.netns import Namespaces, require_namespaces
from tests.network.server import NamespacedServer, spki_hash
from tests.postgres import PostgresServer
from tests.redisserver import RedisServer
from tests.serverproc import kill_with_workers

pytestmark = [pytest.mark.e2e, pytest.mark.network, pytest.mark.postgresql]

BACK_WITHIN_S = 10.0
GRID_TIME = "document.querySelector('video[data-role=grid]').currentTime"
ADDRESSES = {"a": "10.20.0.11", "b": "10.20.0.12", "seat": "10.20.0.21"}


class Node(NamespacedServer):
    """A node of the cluster on its own host of the test's network."""

    def __init__(
        self,
        ns: Namespaces,
        name: str,
        folder: Path,
        authority: CertAuthority,
        shared: list[str],
        log_path: Path,
    ) -> None:
        address = ADDRESSES[name]
        super().__init__(
            ns,
            name,
            folder / name / "data",
            authority.issue(f"node-{name}", [address, "127.0.0.1"]),
            [
                *shared,
                "--node-id",
                name,
                "--bind",
                "0.0.0.0:443",
                "--public-url",
                f"https://{address}",
                "--ice-host",
                address,
                "--workers",
                "1",
            ],
            log_path,
            authority.cert_path,
        )
        self.url = f"https://{address}"

    def cli(self, *command: str) -> str:
        """A ``roomserver`` command on the cluster's shared database and keys; its output."""
        done = subprocess.run(
            [*self._cli(*command), *self.args],
            cwd=Path(__file__).resolve().parents[2],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{command} failed ({done.returncode}):\n{done.stderr[-4000:]}")
        return done.stdout

    def kill9(self) -> float:
        """kill -9 the node and its media worker at once; the wall time of the kill."""
        proc = self._proc
        assert proc is not None
        killed_at = kill_with_workers(proc.pid)
        proc.wait(timeout=10)
        return killed_at


@dataclass
class Cluster:
    ns: Namespaces
    a: Node
    b: Node
    trusted: str
    folder: Path


@pytest.fixture
def cluster(
    tmp_path: Path, artifacts: Path, postgres_server: PostgresServer, redis_server: RedisServer
) -> Iterator[Cluster]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    require_namespaces()
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
    authority = CertAuthority(tmp_path / "ca")
    ns = Namespaces(f"rsc{os.getpid() % 100000}")
    nodes = {
        name: Node(ns, name, tmp_path, authority, shared, artifacts / f"cluster-node-{name}.log")
        for name in ("a", "b")
    }
    try:
        ns.add("lan")
        for name, address in ADDRESSES.items():
            ns.add(name)
            ns.link(("lan", f"p-{name}", None), (name, "eth0", f"{address}/24"))
        ns.bridge("lan", "br0", [f"p-{name}" for name in ADDRESSES])
        for node in nodes.values():
            node.log_path.unlink(missing_ok=True)
        trusted = ",".join(spki_hash(node.tls.cert) for node in nodes.values())
        yield Cluster(ns, nodes["a"], nodes["b"], trusted, tmp_path)
    finally:
        for node in nodes.values():
            node.stop()
        ns.close()


@pytest.fixture
def seat_on(browser: Any, media_files: MediaFiles, cluster: Cluster) -> Iterator[Any]:
    """Open seat pages in a Chromium on the seat computer's host."""
    chromium = launch_on(
        browser.browser_type, cluster.ns, "seat", cluster.folder, media_files, {}, cluster.trusted
    )
    pages: list[SeatPage] = []

    def opener(url: str) -> SeatPage:
        page = SeatPage(chromium, url)
        pages.append(page)
        return page

    yield opener
    for page in pages:
        page.close()
    chromium.close()


def test_seat_pages_follow_their_room_to_another_node(
    cluster: Cluster, seat_on: Any, artifacts: Path
) -> None:
    a, b = cluster.a, cluster.b
    # Node b alone first: the room is placed on it when its first seat arrives.
    b.start()
    links = [p for p in json.loads(b.cli("load-session", "--seats", "2")) if "/seat?" in p["url"]]
    first = seat_on(links[0]["url"])
    first.wait_live()
    a.start()
    # The second expert's link reaches node a, which sends the page on to node b.
    second = seat_on(links[1]["url"].replace(b.url, a.url))
    second.wait_live()
    assert second.page.evaluate("location.origin") == b.url
    assert "handover" not in second.page.url and "code" not in second.page.url
    second.page.screenshot(path=str(artifacts / "cluster-seat-on-b.png"))

    killed_at = b.kill9()
    for seat in (first, second):
        try:
            seat.page.wait_for_function(
                f"() => location.origin === {json.dumps(a.url)}"
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
    second.page.screenshot(path=str(artifacts / "cluster-seat-after-failover.png"))
