"""How the cluster benchmark reports: the set-up, the rooms each node held, and the runs in
which a node was killed, with the time until every seat of its rooms was live again."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from bench.capacity import FEATURES
from bench.capacity_report import MIN_SENT_PCT, SEATS_PER_ROOM, ModeResult, Step
from bench.cluster_nodes import DEAD_AFTER_S, LOAD_ADDRESS, NODES, node_cpus
from bench.common import machine
from bench.probe import SpeedProbe
from bench.room import describe_loops
from bench.room_report import TARGET_FPS, TARGET_LOSS, _percentile
from tests.postgres import find_bin_dir

TARGET_LIVE_S = 10.0  # p95 over every seat of every run, from the kill to live again


# ---- set-up ----------------------------------------------------------------------------------


def load_average() -> str:
    """The machine's load average over 1, 5 and 15 minutes."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _first_line(command: list[str]) -> str:
    """The first line a version command prints, or why there is none."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except OSError as exc:
        return f"? ({exc})"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if lines else "?"


def versions(postgres_bin: Path) -> str:
    """The versions that shape the figures: Python, the WebRTC stack, the engines, the kernel."""
    packages = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("aiortc", "aioice", "av", "redis")
    )
    return (
        f"Python {platform.python_version()}, {packages}; "
        f"{_first_line([str(postgres_bin / 'postgres'), '--version'])}; "
        f"{_first_line(['redis-server', '--version'])}; Linux {platform.release()}"
    )


def print_setup(window: float, settle: float, loops: dict[str, list[bytes]]) -> None:
    """The machine, the versions, what runs where and what is measured; the speed probe."""
    cpus = node_cpus()
    print(f"cluster benchmark on {machine()}; load average {load_average()} at the start")
    print(f"  {versions(find_bin_dir())}")
    nodes = ", ".join(
        f"{n.name} at {n.address} (a namespace of its own, CPU {cpus[n.index]})" for n in NODES
    )
    print(
        f"  nodes: {nodes}; --workers 1 each; heartbeat 1 s, lost after {DEAD_AFTER_S:.0f} s; "
        "one PostgreSQL and one Redis on Unix sockets; the load generator at "
        f"{LOAD_ADDRESS} on every CPU, each room's seats kept off their node's CPU"
    )
    print(f"  per room: {SEATS_PER_ROOM} seats; {FEATURES}")
    print(f"  per seat: {describe_loops(loops)}, Opus 20 ms tone (pre-encoded)")
    print(
        f"  a room falls short when it loses > {TARGET_LOSS} % of a kind's frames, its grid "
        f"< {TARGET_FPS:.0f} fps at a seat, or its seats send < {MIN_SENT_PCT:.0f} % of their "
        f"frames; window {window:.0f} s after {settle:.0f} s settling; CPU in % of one core"
    )
    probe = SpeedProbe().best_of()
    print(
        f"  speed probe (bench/probe.py): Python {probe.python_ms:.0f} ms, codec "
        f"{probe.codec_ms:.0f} ms of CPU",
        flush=True,
    )


# ---- part 1: capacity ------------------------------------------------------------------------


def print_capacity(result: ModeResult, names: dict[int, str], max_rooms: int) -> None:
    """Rooms held in all and on each node, and where each room went."""
    print("\n== part 1 summary: capacity of the cluster ==")
    held = result.held
    rooms = held.rooms if held else 0
    shown = f">={rooms}" if held and result.stopped.startswith("--max-rooms") else str(rooms)
    per_node = {name: 0 for name in names.values()}
    for figures in held.room_figures if held else []:
        if figures.worker is not None:
            per_node[names[figures.worker]] += 1
    nodes = ", ".join(f"node {name}: {count}" for name, count in per_node.items())
    print(f"  rooms held: {shown} ({nodes}); stopped by: {result.stopped}")
    last = result.steps[-1] if result.steps else None
    if last is not None and last.room_figures:
        placed = ", ".join(
            f"room {r.number} -> {names[r.worker] if r.worker is not None else '?'}"
            for r in last.room_figures
        )
        print(f"  where the rooms went (seats all sent to node a first): {placed}")
    if held is not None:
        print(
            f"  at the last step held: nodes {held.server_cpu:.0f} % of one core in all "
            f"(signaling {held.signaling_cpu:.0f} %), seats {held.seats_cpu:.0f} %, machine "
            f"{held.machine_cpu:.0f} % (others {held.other_cpu:.0f} %)"
        )
    print(
        f"  held: every room lost <= {TARGET_LOSS} % of each kind and showed >= "
        f"{TARGET_FPS:.0f} fps at every seat, its seats sending >= 99 % of their frames; "
        f"--max-rooms {max_rooms}"
    )


# ---- part 2: a node's death ------------------------------------------------------------------


@dataclass
class SeatBack:
    """One seat of a killed node's room: seconds from the kill until it was back."""

    room: int
    connected_s: float | None  # media connected again
    live_s: float | None  # and its first grid frame after the loss arrived
    node: str = "?"  # where it is now


@dataclass
class DeathRun:
    """One run: two nodes with their rooms, one node killed, its seats followed."""

    run: int
    load: str = ""  # the machine's load average as the run started
    victim: str = "?"
    rooms: dict[str, list[int]] = field(default_factory=dict)  # node -> its room numbers
    seats: list[SeatBack] = field(default_factory=list)
    disturbed: int = 0  # seats of the other node's rooms that had to find their room again
    after: Step | None = None  # every room on the node left, measured after the recovery
    archives: dict[int, str] = field(default_factory=dict)  # killed room -> verify outcome
    archives_ok: bool = True
    error: str | None = None

    def live(self) -> list[float]:
        """Seconds to live again of the seats that came back."""
        return [s.live_s for s in self.seats if s.live_s is not None]


def _spread(values: list[float]) -> str:
    """p50 / p95 / max of seconds."""
    if not values:
        return "none"
    p50, p95 = _percentile(values, 50), _percentile(values, 95)
    return f"p50 {p50:.2f} s, p95 {p95:.2f} s, max {max(values):.2f} s"


def print_run(run: DeathRun) -> None:
    """One run: what was killed, when its seats were back, the other rooms, the archives."""
    rooms = "; ".join(f"node {n}: rooms {r or '-'}" for n, r in run.rooms.items())
    print(
        f"  run {run.run} (load average {run.load}): {rooms}; kill -9 of node {run.victim} "
        "(signaling and its worker)"
    )
    if run.seats:
        back = [s for s in run.seats if s.live_s is not None]
        connected = [s.connected_s for s in run.seats if s.connected_s is not None]
        where = sorted({s.node for s in back})
        print(
            f"      {len(back)} of {len(run.seats)} seats live again (on node "
            f"{', '.join(where) or '-'}): {_spread(run.live())}; media connected "
            f"{_spread(connected)}"
        )
        print(
            "      each seat, s: "
            + " ".join(f"{s.live_s:.2f}" if s.live_s is not None else "never" for s in run.seats)
        )
    print(f"      seats of the rooms on the node left that had to rejoin: {run.disturbed}")
    for room, outcome in sorted(run.archives.items()):
        print(f"      archive of room {room}: {outcome}")
    if run.error:
        print(f"      FAILED: {run.error}")


def print_deaths(runs: list[DeathRun], dead_after: float) -> None:
    """Every seat of every run against the target."""
    print("\n== part 2 summary: a node's death ==")
    live = [value for run in runs for value in run.live()]
    seats = sum(len(run.seats) for run in runs)
    never = seats - len(live)
    print(
        f"  {len(runs)} runs, {seats} seats of killed nodes' rooms; from the kill to live again "
        f"(media connected and grid frames arriving): {_spread(live)}"
    )
    p95 = _percentile(live, 95)
    met = p95 is not None and never == 0 and p95 <= TARGET_LIVE_S
    print(
        f"  target: p95 <= {TARGET_LIVE_S:.0f} s -> "
        f"{'met' if met else 'not met'}"
        + (f" ({never} seats never came back)" if never else "")
        + f"; a node is taken for lost after {dead_after:.0f} s without a heartbeat"
    )
    verified = sum(1 for run in runs if run.archives and run.archives_ok)
    print(f"  killed rooms' archives verify in {verified} of {len(runs)} runs")
    failed = [run.run for run in runs if run.error]
    if failed:
        print(f"  runs that failed: {failed}")
    sys.stdout.flush()
