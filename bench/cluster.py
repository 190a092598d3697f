"""Cluster benchmark: two one-core nodes, 10-seat rooms until one falls short, a node killed.

    python bench/cluster.py [--max-rooms 4] [--window 15] [--settle 5] [--runs 5]
                            [--rooms-per-node 1] [--after-window 10] [--part both]

Two nodes (``roomserver serve`` with ``--redis-url``, ``--node-id``, ``--workers 1``), each
confined to one core (``taskset -c``: the node and its media worker, which stays on the node's
only CPU) and in a network namespace of its own with its own address (``ip netns exec``, ICE on
that address); a bridge joins them to the load generator's namespace, in which this script runs
again (``ip netns exec``) with its seat processes. They share one PostgreSQL database and one
Redis (tests/postgres.py, tests/redisserver.py: Unix sockets, which every namespace reaches), one
keys folder and one archive location; each has its own data directory.

Part 1, capacity: one load session of 10 experts per room (``signaling.cli load-session``), a
room at a time, its seats (bench/capacity.py's: one process per room) all pointed at node a, which
sends them on to the node the room is placed on; the rooms are measured and judged as
bench/capacity.py judges them, and adding stops at the first room that falls short. Prints the
steps, the rooms held on each node and where each room went.

Part 2, a node's death, ``--runs`` times on a fresh cluster: ``--rooms-per-node`` rooms on each
node, then kill -9 of one node and its worker (node b in odd runs, node a, which leads, in even
ones); every seat of its rooms finds the room again by itself (SyntheticSeat with ``cluster``),
and the time from the kill until its media is connected and grid frames arrive again is taken.
The rooms on the node left are then measured over ``--after-window`` seconds, the sessions are
ended, and the killed rooms' archives are verified (``signaling.cli archive verify``).

Skips (exit 0) without root, PostgreSQL, redis-server, ip, nft or taskset. Figures are printed,
never asserted: the two nodes and the load generator share this machine's CPUs.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: the repository's packages, from its root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.capacity import _no_interrupt, _sigterm, fill_rooms
from bench.capacity_report import ModeResult, Step, print_step
from bench.cluster_nodes import (
    DEAD_AFTER_S,
    LOAD,
    NAMES,
    NODES,
    ClusterBench,
    build_network,
    missing,
)
from bench.cluster_report import (
    DeathRun,
    SeatBack,
    load_average,
    print_capacity,
    print_deaths,
    print_run,
    print_setup,
)
from bench.common import ROOT
from bench.room import build_loops
from tests.network.netns import Namespaces
from tests.postgres import PostgresServer

LIVE_TIMEOUT_S = 60.0  # a seat not live again by then never came back
POLL_S = 0.25  # how often the seats are asked whether they are back


# ---- part 1: capacity ------------------------------------------------------------------------


def capacity(
    args: argparse.Namespace, prefix: str, postgres: PostgresServer, loops: dict[str, list[bytes]]
) -> ModeResult:
    """Add rooms to a fresh cluster until one falls short; print each step."""
    print("\n== part 1: capacity, rooms of 10 seats added one at a time ==", flush=True)
    result = ModeResult(len(NODES))
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        fill_rooms(ClusterBench(prefix, Path(tmp), postgres, loops), args, result, names=NAMES)
    return result


# ---- part 2: a node's death ------------------------------------------------------------------


def wait_back(
    bench: ClusterBench, rooms: list[int], killed_at: float
) -> tuple[list[SeatBack], list[list[dict[str, Any]]]]:
    """Until every seat of `rooms` (numbers) is live again, or LIVE_TIMEOUT_S; the seats'
    times and their last marks."""
    deadline = time.monotonic() + LIVE_TIMEOUT_S
    while True:
        marks = bench.marks()
        seats = []
        for number in rooms:
            for mark in marks[number - 1]:
                back = [r for r in mark["rejoined"] if r[0] >= killed_at - 1.0]
                _, connected_at, grid_at = back[0] if back else (0.0, None, None)
                seats.append(
                    SeatBack(
                        number,
                        connected_at - killed_at if connected_at is not None else None,
                        max(connected_at, grid_at) - killed_at
                        if connected_at is not None and grid_at is not None
                        else None,
                        next((n.name for n in NODES if n.url == mark["node"]), mark["node"]),
                    )
                )
        if all(s.live_s is not None for s in seats) or time.monotonic() > deadline:
            return seats, marks
        time.sleep(POLL_S)


def death_run(
    run: int,
    args: argparse.Namespace,
    prefix: str,
    postgres: PostgresServer,
    loops: dict[str, list[bytes]],
) -> DeathRun:
    """A fresh cluster with rooms on both nodes, one node killed, its seats followed."""
    result = DeathRun(run, load=load_average())
    rooms = args.rooms_per_node * len(NODES)
    with tempfile.TemporaryDirectory(prefix=f"bench-cluster-death{run}-") as tmp:
        bench = ClusterBench(prefix, Path(tmp), postgres, loops)
        try:
            bench.start(rooms)
            for _ in range(rooms):
                bench.add_room()
            time.sleep(args.settle)
            homes = bench.homes()
            numbers = {session: n for n, (session, _) in enumerate(bench.rooms, start=1)}
            for node in NODES:
                result.rooms[node.name] = sorted(
                    numbers[s] for s, (index, _) in homes.items() if index == node.index
                )
            silent = [
                number
                for number, room in enumerate(bench.marks(), start=1)
                if any(seat["grid"] == 0 for seat in room)
            ]
            if silent:
                raise RuntimeError(f"rooms {silent}: a seat had no grid frame before the kill")
            # Node b in odd runs, node a (the first up, which leads) in even ones; a node
            # without rooms is not worth killing.
            victim = NODES[run % 2]
            if not result.rooms[victim.name]:
                victim = next(n for n in NODES if result.rooms[n.name])
            result.victim = victim.name
            killed_rooms = result.rooms[victim.name]
            killed_at = bench.kill(victim)
            result.seats, marks = wait_back(bench, killed_rooms, killed_at)
            result.disturbed = sum(
                1
                for number, room in enumerate(marks, start=1)
                if number not in killed_rooms
                for seat in room
                if seat["rejoined"]
            )
            if args.after_window > 0:
                bench.follow_rooms()
                result.after = Step(len(bench.rooms))
                # "joined in": the last of the killed rooms' seats was live again after that.
                result.after.ready_s = max(result.live(), default=0.0)
                bench.measure(result.after, args.after_window)
            bench.end_sessions()
            for number in killed_rooms:
                ok, what = bench.verify(bench.rooms[number - 1][0])
                result.archives[number] = what
                result.archives_ok = result.archives_ok and ok
        except Exception as exc:  # a benchmark reports what went wrong and moves on
            result.error = f"{type(exc).__name__}: {exc}"
            if tail := bench.server_log_tail():
                result.error += "\n    server logs:\n    " + tail
        finally:
            with _no_interrupt():
                bench.close()
    print_run(result)
    if result.after is not None and result.after.room_figures:
        print(f"      every room, on the node left, over {args.after_window:.0f} s after that:")
        print_step(result.after, NAMES)
    return result


# ---- the load generator's namespace ----------------------------------------------------------


def inside(args: argparse.Namespace) -> int:
    """The benchmark proper, run in the load generator's namespace."""
    signal.signal(signal.SIGTERM, _sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    started = time.monotonic()
    loops = build_loops(preview=not args.no_preview)
    print_setup(args.window, args.settle, loops)
    postgres = PostgresServer()
    postgres.start()
    held: ModeResult | None = None
    runs: list[DeathRun] = []
    try:
        if args.part in ("both", "capacity"):
            held = capacity(args, args.inside, postgres, loops)
        if args.part in ("both", "death"):
            print(
                f"\n== part 2: a node's death, {args.runs} runs, {args.rooms_per_node} room(s) "
                "per node ==",
                flush=True,
            )
            for run in range(1, args.runs + 1):
                runs.append(death_run(run, args, args.inside, postgres, loops))
    except KeyboardInterrupt:
        print("\ninterrupted: every process was stopped and every temp dir removed")
        return 130
    finally:
        with _no_interrupt():
            postgres.stop()
    if held is not None:
        print_capacity(held, NAMES, args.max_rooms)
    if runs:
        print_deaths(runs, DEAD_AFTER_S)
    print(f"  load average {load_average()} at the end; total {time.monotonic() - started:.0f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Make the namespaces, run the benchmark in the load generator's, remove them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-rooms", type=int, default=4, help="part 1 stops adding here")
    parser.add_argument("--window", type=float, default=15.0, help="measured window, seconds")
    parser.add_argument(
        "--settle", type=float, default=5.0, help="seconds between a room joining and measuring"
    )
    parser.add_argument("--runs", type=int, default=5, help="part 2: nodes killed, one a run")
    parser.add_argument(
        "--rooms-per-node", type=int, default=1, help="part 2: rooms on each node before a kill"
    )
    parser.add_argument(
        "--after-window",
        type=float,
        default=10.0,
        help="part 2: seconds the rooms are measured on the node left (0: not measured)",
    )
    parser.add_argument(
        "--part", choices=("both", "capacity", "death"), default="both", help="what to run"
    )
    parser.add_argument(
        "--no-preview", action="store_true", help="seats send no preview (see capacity.py)"
    )
    parser.add_argument("--inside", help=argparse.SUPPRESS)  # the namespaces' prefix
    args = parser.parse_args(argv)
    if args.inside:
        return inside(args)
    if reason := missing():
        print(f"cluster benchmark skipped: {reason}")
        return 0
    namespaces = Namespaces(f"rsbench{os.getpid()}")
    try:
        build_network(namespaces)
        command = [
            "ip",
            "netns",
            "exec",
            namespaces.full(LOAD),
            sys.executable,
            str(Path(__file__).resolve()),
            "--inside",
            namespaces.prefix,
            *(argv if argv is not None else sys.argv[1:]),
        ]
        benchmark = subprocess.Popen(command, cwd=ROOT)
        while True:
            try:
                return benchmark.wait()
            except KeyboardInterrupt:
                continue  # the benchmark stops its own processes first
    finally:
        namespaces.close()


if __name__ == "__main__":
    sys.exit(main())
