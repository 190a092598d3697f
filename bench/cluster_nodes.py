"""The cluster benchmark's nodes: two ``roomserver serve`` processes, each in a network
namespace of its own and on one CPU, sharing a PostgreSQL database, a Redis, a keys folder and an
archive location, with the rooms of bench/capacity.py measured across them (bench/cluster.py)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench.capacity import (
    Bench,
    _archive_bytes,
    _machine_busy,
    _safe_cpu,
    _workers,
    keep_off,
)
from bench.capacity_report import SEATS_PER_ROOM, Step
from bench.common import (
    ROOT,
    cli,
    get,
    start_server,
    stop_processes,
    udp_rcvbuf_errors,
    wait_healthy,
)
from bench.metrics import Metrics, largest_loop_delay, parse_metrics, thread_cpu_pct
from bench.room import _collect
from recorder.archive import list_parts
from recorder.manifest import Manifest
from tests.network.netns import Namespaces
from tests.postgres import PostgresServer, PostgresUnavailable, find_bin_dir
from tests.redisserver import RedisServer
from tests.serverproc import kill_with_workers


@dataclass(frozen=True)
class NodeSpec:
    """Where a node runs: its name, its namespace's address and the CPU it is confined to."""

    name: str
    address: str
    index: int

    @property
    def url(self) -> str:
        """The node's public URL (its address in its namespace)."""
        return f"http://{self.address}:{PORT}"


PORT = 8080
SUBNET = 24
NODES = (NodeSpec("a", "10.99.0.1", 0), NodeSpec("b", "10.99.0.2", 1))
LOAD_ADDRESS = "10.99.0.10"  # the load generator's, on the bridge
LOAD = "load"
DEAD_AFTER_S = 5.0  # the nodes' --node-dead-after (the default, said in the header)
NAMES = {node.index: node.name for node in NODES}


def node_cpus() -> list[int]:
    """The CPU each node is confined to: one each, in turn."""
    cpus = sorted(os.sched_getaffinity(0))
    return [cpus[node.index % len(cpus)] for node in NODES]


# ---- the cluster -----------------------------------------------------------------------------


class ClusterBench(Bench):
    """Two nodes in namespaces of their own with their Redis, database, shared folders and rooms,
    measured as bench/capacity.py measures one server; ``close()`` stops every process."""

    def __init__(
        self, prefix: str, tmp: Path, postgres: PostgresServer, loops: dict[str, list[bytes]]
    ) -> None:
        super().__init__(1, tmp, loops)
        # Made by the outer process (bench/cluster.py's main): only entered here, never removed.
        self.namespaces = Namespaces(prefix)
        self.database = postgres.url(postgres.create_database("cluster"))
        self.redis = RedisServer()
        self.cpus = node_cpus()
        self.servers: dict[int, subprocess.Popen[bytes]] = {}
        self.killed: set[int] = set()
        # Seats are sent to node a first; they follow their room to whichever node holds it.
        self.base_url = NODES[0].url
        self.common = self.flags(NODES[0])
        self.cluster = tuple(node.url for node in NODES)

    def flags(self, node: NodeSpec) -> list[str]:
        """A node's flags, for its server and for the CLI against its data."""
        return [
            "--data-dir",
            str(self.tmp / node.name),
            # Every address of its namespace: its own, and loopback, from which alone /metrics
            # answers (a scraper on the node's machine).
            "--bind",
            f"0.0.0.0:{PORT}",
            "--public-url",
            node.url,
            "--database-url",
            self.database,
            "--keys-dir",
            str(self.tmp / "keys"),
            # The shared archive: tmp/archive, where capacity's _archive_bytes(tmp) looks.
            "--archive-dir",
            str(self.tmp / "archive"),
        ]

    @property
    def alive(self) -> list[NodeSpec]:
        """The nodes not killed."""
        return [node for node in NODES if node.index not in self.killed]

    def start(self, rooms: int) -> None:
        """Redis, then the nodes one after the other (the first migrates the database), then
        the rooms' sessions and an admin token."""
        self.redis.start()
        for node in NODES:
            server = start_server(
                [*self.flags(node), "--redis-url", self.redis.url, "--node-id", node.name],
                self.tmp / f"node-{node.name}.log",
                workers=1,
                own_session=True,
                ice_host=node.address,
                launcher=[
                    "ip",
                    "netns",
                    "exec",
                    self.namespaces.full(node.name),
                    "taskset",
                    "-c",
                    str(self.cpus[node.index]),
                ],
            )
            self.servers[node.index] = server
            wait_healthy(node.url, server)
        for _ in range(rooms):
            self.sessions.append(
                json.loads(cli("load-session", "--seats", str(SEATS_PER_ROOM), *self.common))
            )
        self.admin = cli("token", "--admin", *self.common).strip()

    def homes(self) -> dict[str, tuple[int, dict[str, Any]]]:
        """Each live room's node and that node's worker, as the nodes list them."""
        found = {}
        for node in self.alive:
            for worker in _workers(node.url, self.admin):
                for room in worker.get("rooms", []):
                    found[room] = (node.index, worker)
        return found

    def _keep_off_its_worker(self, session: str, proc: Any) -> None:
        """Run a room's seats off the CPU of the node that holds the room (see Bench's)."""
        home = self.homes().get(session)
        if home is not None and proc.pid is not None:
            keep_off(proc.pid, {self.cpus[home[0]]})

    def _metrics(self) -> dict[int, Metrics]:
        """Every live node's /metrics, scraped on its own machine (in its namespace)."""
        return {
            node.index: parse_metrics(
                self.namespaces.call(node.name, lambda: get(f"http://127.0.0.1:{PORT}/metrics"))
            )
            for node in self.alive
        }

    def marks(self) -> list[list[dict[str, Any]]]:
        """Every seat's counters and rejoins, by room."""
        for conn in self.conns:
            conn.send("mark")
        rooms: list[Any] = _collect(self.conns, "mark", "mark")  # each room answers a list
        return rooms

    def _snapshot(self) -> tuple[dict[int, Metrics], list[list[dict[str, Any]]]]:
        """The live nodes' counters and every seat's (by room), taken at the same instant."""
        for conn in self.conns:
            conn.send("mark")
        metrics = self._metrics()
        rooms: list[Any] = _collect(self.conns, "mark", "mark")
        return metrics, rooms

    def _udp_drops(self) -> int | None:
        """UDP receive-buffer drops in the live nodes' namespaces and the seats' (this one)."""
        counts = [udp_rcvbuf_errors()]
        counts += [udp_rcvbuf_errors(self.servers[node.index].pid) for node in self.alive]
        return None if None in counts else sum(c for c in counts if c is not None)

    def follow_rooms(self) -> None:
        """Keep each room's seats off the CPU of the node that holds the room now (one moved)."""
        for session, conn in self.rooms:
            self._keep_off_its_worker(session, self.procs[self.conns.index(conn)])

    def measure(self, step: Step, window: float) -> None:
        """Measure every room over ``window`` seconds into ``step``: each live node's signaling
        process and worker are the step's workers, named after the node."""
        homes = self.homes()
        nodes = {node.index: psutil.Process(self.servers[node.index].pid) for node in self.alive}
        workers = {index: child for index, ps in nodes.items() for child in ps.children()[:1]}
        seats = [psutil.Process(p.pid) for p in self.procs if p.pid is not None]
        me = psutil.Process()

        def cpu() -> dict[str, float]:
            taken = {
                "t": time.monotonic(),
                "seats": sum(_safe_cpu(p) for p in seats),
                "me": _safe_cpu(me),
                "machine": _machine_busy(),
            }
            for index, ps in nodes.items():
                taken[f"signaling {index}"] = _safe_cpu(ps)
                taken[f"worker {index}"] = _safe_cpu(workers[index]) if index in workers else 0.0
            return taken

        archive0, udp0 = _archive_bytes(self.tmp), self._udp_drops()
        before, (metrics0, marks0) = cpu(), self._snapshot()
        time.sleep(window)
        (metrics1, marks1), after = self._snapshot(), cpu()
        wall = after["t"] - before["t"]
        pct = {key: (after[key] - before[key]) * 100.0 / wall for key in before}
        step.window_s = wall
        step.archive_mb = (_archive_bytes(self.tmp) - archive0) / 1e6
        udp1 = self._udp_drops()
        step.udp_drops = None if udp0 is None or udp1 is None else udp1 - udp0
        step.signaling_cpu = sum(pct[f"signaling {index}"] for index in nodes)
        step.worker_cpu = {index: pct[f"worker {index}"] for index in nodes}
        step.server_cpu = step.signaling_cpu + sum(step.worker_cpu.values())
        step.seats_cpu, step.machine_cpu = pct["seats"], pct["machine"]
        step.other_cpu = max(0.0, pct["machine"] - step.server_cpu - pct["seats"] - pct["me"])
        for index in nodes:
            delays = largest_loop_delay(metrics0[index], metrics1[index])
            if delays:
                step.worker_loop_delay_s[index] = max(delays.values())
            for (_, role), share in thread_cpu_pct(metrics0[index], metrics1[index], wall).items():
                split = step.worker_threads.setdefault(index, {})
                split[role] = split.get(role, 0.0) + share
        self.figure_rooms(
            step,
            {session: index for session, (index, _) in homes.items()},
            (marks0, marks1),
            lambda index: (metrics0[index], metrics1[index]) if index is not None else ({}, {}),
            wall,
            {index: str(worker.get("index", 0)) for index, worker in homes.values()},
        )

    def kill(self, node: NodeSpec) -> float:
        """kill -9 a node's signaling process and its media worker at once; the wall time."""
        server = self.servers[node.index]
        killed_at = kill_with_workers(server.pid)
        server.wait(10)
        self.killed.add(node.index)
        return killed_at

    def end_sessions(self) -> None:
        """Stop the seats, end every session through a live node, then stop the nodes left in
        order (their recordings sealed)."""
        started = [(c, p) for c, p in zip(self.conns, self.procs, strict=True) if p.pid]
        stop_processes([c for c, _ in started], [p for _, p in started], None)
        self.conns, self.procs = [], []
        node = self.alive[0]
        for session, _ in self.rooms:
            cli("session", "end", session, "--reason", "基准测试结束", *self.flags(node))
        for node in self.alive:
            stop_processes([], [], self.servers[node.index])

    def verify(self, session: str) -> tuple[bool, str]:
        """``archive verify`` of a session: whether it verifies, and what it found."""
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "signaling.cli",
                "archive",
                "verify",
                session,
                "--json",
                *self.flags(NODES[0]),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        try:
            report = json.loads(done.stdout)
        except ValueError:
            return False, f"exit {done.returncode}: {(done.stderr or done.stdout)[-500:]}"
        parts = []
        for number, folder in list_parts(self.tmp / "archive" / session):
            manifest = Manifest.from_json((folder / "manifest.json").read_bytes())
            reasons = sorted({gap.reason for gap in manifest.gaps})
            gaps = f", {len(manifest.gaps)} gaps ({', '.join(reasons)})" if reasons else ""
            parts.append(f"part {number} {manifest.state}{gaps}")
        what = (
            f"{'verifies' if report.get('ok') else 'DIFFERS'} (exit {done.returncode}): "
            f"{report.get('segments')} segments; {'; '.join(parts)}"
        )
        for difference in report.get("differences", [])[:5]:
            what += f"\n        {difference['where']}: {difference['what']}"
        return bool(report.get("ok")) and done.returncode == 0, what

    def server_log_tail(self, lines: int = 15) -> str:
        """The end of each node's log."""
        tails = []
        for node in NODES:
            path = self.tmp / f"node-{node.name}.log"
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                tails.append(f"node {node.name}:\n    " + "\n    ".join(tail))
        return "\n    ".join(tails)

    def close(self) -> None:
        """Stop the seats, the nodes (and any worker left behind), then Redis."""
        leftovers: list[psutil.Process] = []
        for server in self.servers.values():
            with contextlib.suppress(psutil.Error):
                leftovers += psutil.Process(server.pid).children(recursive=True)
        try:
            super().close()  # the seats; self.server is None: the nodes are ours
        finally:
            for server in self.servers.values():
                stop_processes([], [], server)
            for ps in leftovers:  # media workers run in sessions of their own
                with contextlib.suppress(psutil.Error):
                    if ps.is_running():
                        ps.kill()
            self.redis.stop()


def missing() -> str | None:
    """Why this machine cannot run the benchmark, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "nft", "taskset", "redis-server"):
        if shutil.which(tool) is None:
            return f"{tool} is missing (apt-get install iproute2 nftables util-linux redis-server)"
    try:
        find_bin_dir()
    except PostgresUnavailable as exc:
        return str(exc)
    return None


def build_network(namespaces: Namespaces) -> None:
    """A namespace per node and one for the load generator, whose bridge joins them all."""
    namespaces.add(LOAD)
    for node in NODES:
        namespaces.add(node.name)
        namespaces.link(
            (LOAD, f"to-{node.name}", None), (node.name, "eth0", f"{node.address}/{SUBNET}")
        )
    namespaces.bridge(LOAD, "br0", [f"to-{node.name}" for node in NODES])
    namespaces.ip(LOAD, "addr", "add", f"{LOAD_ADDRESS}/{SUBNET}", "dev", "br0")
