"""Capacity benchmark: rooms of 10 synthetic seats added one by one until a room falls behind.

    python bench/capacity.py [--max-rooms 4] [--window 15] [--settle 5] [--modes 1,N] [--repeat 1]

For each mode (``--workers 1``, then ``--workers N`` with N the machine's CPU count) a fresh
data directory and server subprocess (loopback, ICE on 127.0.0.1; recording is always on, so
every room is archived), one load session of 10 experts per room (``signaling.cli
load-session``), and then, one room at a time: 10 seats join the room, all in one process per
room (bench/room.py's seats: pre-encoded VP8 640x480 15 fps camera with the counter and its
VP8 320x240 preview, Opus tone, VP8 1280x720 5 fps desktop; the grid they receive is read and
counted, not looked into; ``--no-preview``: seats that send no preview), the
rooms settle, and every room is measured over a window: frames the server received per kind
(``/metrics``) against frames its seats sent, the grid rate at each seat and at the server, and
the CPU of the server (signaling process and media workers), of each worker and of the seats'
processes. Adding stops when a room loses more than 0.5 % of the frames of a kind, when a
room's grid falls below 14 fps at one of its seats, when its seats could not send 99 % of their
nominal frames, or at ``--max-rooms``. The load generator shares the machine with the server:
N workers need every core, so a room's seats are only kept off the CPU of the room's own
worker. With ``--repeat K`` the modes run K times, taking turns, and the summary says in how
many runs each mode held the target: the machine's speed varies from run to run, and one run
near the limit says little. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from bench.capacity_report import (  # noqa: E402
    MIN_SENT_PCT,
    SEATS_PER_ROOM,
    ModeResult,
    RoomFigures,
    Step,
    print_step,
    print_summary,
    room_figures,
)
from bench.common import (  # noqa: E402
    cli,
    cpu_seconds,
    free_port,
    get,
    start_server,
    stop_processes,
    udp_rcvbuf_errors,
    wait_healthy,
)
from bench.metrics import (  # noqa: E402
    Metrics,
    largest_loop_delay,
    parse_metrics,
    thread_cpu_pct,
)
from bench.probe import ProbeTime, SpeedProbe  # noqa: E402
from bench.room import (  # noqa: E402
    READY_TIMEOUT,
    TONES,
    BenchSeat,
    SeatJob,
    _collect,
    build_loops,
    describe_loops,
    run_child,
)
from bench.room_report import ROLES, TARGET_FPS, TARGET_LOSS  # noqa: E402
from media.tap import is_vp8_keyframe  # noqa: E402

STEP_OVERHEAD_S = 25.0  # first guess of a step's cost beyond settle + window (seats starting)
FEATURES = (
    "camera, microphone, desktop, recording and camera analysis (on by default in the server)"
)


# ---- seat process ----------------------------------------------------------------------------


def room_load_process(jobs: list[SeatJob], conn: Connection) -> None:
    """All the seats of one room in one process (one event loop), as bench/room.py seats.

    The seats count the grid frames they receive by the RTP packets that end them, without
    putting the frames together (SyntheticSeat ``count_rtp``). One process per
    room rather than per seat: the load generator shares the machine with the server, and ten
    seats on one event loop cost about half of what ten processes cost (their packets arrive
    together and are handled in one pass of the loop). A step counts only if every room's
    seats sent at least ``MIN_SENT_PCT`` of their nominal frames: a generator that falls behind
    would lighten the server's load. The process leaves the terminal's process group, so that
    Ctrl-C reaches only the parent, which stops its rooms in order.
    """
    os.setpgrp()
    run_child(_run_room(jobs, conn), conn)


async def _run_room(jobs: list[SeatJob], conn: Connection) -> None:
    """Join every seat, report ready, then answer the parent's marks until ``stop``."""
    seats = [BenchSeat(job) for job in jobs]
    try:
        joined = await asyncio.gather(*(seat.join() for seat in seats))
        conn.send(("ready", joined))
        while True:
            message = await asyncio.to_thread(conn.recv)
            if message == "mark":
                conn.send(("mark", list(await asyncio.gather(*(s.snapshot() for s in seats)))))
            elif message == "stop":
                break
    finally:
        await asyncio.gather(*(seat.close() for seat in seats), return_exceptions=True)


def staggered(loop: list[bytes], index: int, count: int) -> list[bytes]:
    """The VP8 loop of seat `index` of `count`, rotated so that the seats' keyframes spread.

    Seats started together would otherwise send their keyframes (several times the size of
    the other frames, and dearer to decode) in the same instant, every one of them, which real
    seats joining one by one do not. The rotation keeps the loop seamless: it wraps at frame 0,
    a keyframe, and every other frame follows the frame it was encoded after.
    """
    keyframes = [i for i, data in enumerate(loop) if is_vp8_keyframe(data)]
    if len(keyframes) < 2:
        return loop
    shift = (index * (keyframes[1] - keyframes[0]) // max(1, count)) % len(loop)
    return loop[shift:] + loop[:shift]


# ---- running one mode ------------------------------------------------------------------------


@contextlib.contextmanager
def _no_interrupt() -> Iterator[None]:
    """Let a clean-up finish: a second Ctrl-C does not cut it short."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _safe_cpu(proc: psutil.Process) -> float:
    """CPU seconds of a process, 0 once it is gone."""
    try:
        return cpu_seconds(proc)
    except psutil.Error:
        return 0.0


def _machine_busy() -> float:
    """CPU seconds the whole machine spent busy (all CPUs)."""
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def _archive_bytes(data_dir: Path) -> int:
    """Bytes under the archive folder (recordings being written)."""
    total = 0
    for path in (data_dir / "archive").rglob("*"):
        with contextlib.suppress(OSError):  # a file may go (renamed, sealed) while we look
            total += path.stat().st_size if path.is_file() else 0
    return total


def _workers(base_url: str, admin: str) -> list[dict[str, Any]]:
    """``GET /api/workers``: each worker's index, pid and rooms."""
    request = Request(f"{base_url}/api/workers", headers={"Authorization": f"Bearer {admin}"})
    with urlopen(request, timeout=5) as resp:
        return list(json.loads(resp.read()))


def keep_off(pid: int, taken: set[int]) -> None:
    """Run every thread of process `pid` on the CPUs other than `taken` (if any are left)."""
    cpus = set(os.sched_getaffinity(0)) - taken
    if not cpus:
        return
    with contextlib.suppress(psutil.Error):
        for thread in psutil.Process(pid).threads():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(thread.id, cpus)


class Bench:
    """One server with its rooms, a process of seats each; ``close()`` stops every process."""

    def __init__(self, workers: int, tmp: Path, loops: dict[str, list[bytes]]) -> None:
        self.workers = workers
        self.tmp = tmp
        self.loops = loops
        # The kinds the seats send: the preview only if its loop was built (not --no-preview).
        self.roles = [role for role in ROLES if role != "preview" or "preview" in loops]
        self.data_dir = tmp / "data"
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self.common = ["--data-dir", str(self.data_dir), "--bind", f"127.0.0.1:{port}"]
        self.ctx = mp.get_context("spawn")
        self.server: subprocess.Popen[bytes] | None = None
        self.server_ps: psutil.Process | None = None
        self.admin = ""
        self.sessions: list[list[dict[str, Any]]] = []  # links of each prepared room
        self.rooms: list[tuple[str, Connection]] = []  # session id, its seats' process
        self.conns: list[Connection] = []
        self.procs: list[mp.process.BaseProcess] = []
        # The URLs of a cluster's nodes, for seats that follow their room when its node is lost.
        self.cluster: tuple[str, ...] = ()

    def start(self, rooms: int) -> None:
        """Create the rooms' sessions and an admin token, then start the server."""
        for _ in range(rooms):
            self.sessions.append(
                json.loads(cli("load-session", "--seats", str(SEATS_PER_ROOM), *self.common))
            )
        self.admin = cli("token", "--admin", *self.common).strip()
        # Its own session: Ctrl-C reaches this process, which stops the seats first.
        self.server = start_server(
            self.common, self.tmp / "server.log", workers=self.workers, own_session=True
        )
        self.server_ps = psutil.Process(self.server.pid)
        wait_healthy(self.base_url, self.server)

    def add_room(self) -> float:
        """Start the next room's seats (one process); seconds until all have joined."""
        started = time.monotonic()
        links = self.sessions[len(self.rooms)]
        experts = [link for link in links if link.get("role") == "expert"]
        jobs = [
            SeatJob(
                len(self.rooms) * SEATS_PER_ROOM + index,
                self.base_url,
                str(link["token"]),
                staggered(self.loops["camera"], index, len(experts)),
                self.loops[f"microphone{index % len(TONES)}"],
                staggered(self.loops["desktop"], index, len(experts)),
                measure=False,
                count_rtp=True,
                preview=staggered(self.loops["preview"], index, len(experts))
                if "preview" in self.loops
                else None,
                cluster=self.cluster,
            )
            for index, link in enumerate(experts)
        ]
        ours, theirs = self.ctx.Pipe()
        proc = self.ctx.Process(
            target=room_load_process,
            args=(jobs, theirs),
            name=f"capacity-room-{len(self.rooms) + 1}",
            daemon=True,
        )
        self.procs.append(proc)
        self.conns.append(ours)  # in step with procs: close() pairs them
        proc.start()
        theirs.close()
        self.rooms.append((experts[0]["session_id"], ours))
        # A room that dies is "ready" too: _collect then says what it said.
        if not ours.poll(READY_TIMEOUT):
            raise TimeoutError(f"the room's seats did not join in {READY_TIMEOUT:.0f} s")
        _collect([ours], "join", "ready")
        self._keep_off_its_worker(experts[0]["session_id"], proc)
        return time.monotonic() - started

    def _keep_off_its_worker(self, session: str, proc: mp.process.BaseProcess) -> None:
        """Run a room's seats on the CPUs other than its own media worker's.

        In a deployment the seats are other machines. Here the kernel tends to put a process
        woken by a worker's packets on the worker's own CPU, where the seats and their room then
        take turns on one core while another core idles; which of the two happens changes from
        run to run. Keeping them apart makes runs comparable; the seats still share every CPU
        with the other rooms' workers, and nothing is taken off the machine.
        """
        taken: set[int] = set()
        for worker in _workers(self.base_url, self.admin):
            if session in worker.get("rooms", []) and worker.get("pid"):
                with contextlib.suppress(psutil.Error):
                    taken |= set(psutil.Process(worker["pid"]).cpu_affinity() or [])
        if proc.pid is not None:
            keep_off(proc.pid, taken)

    def measure(self, step: Step, window: float) -> None:
        """Measure every room over ``window`` seconds into ``step``."""
        assert self.server_ps is not None
        placement = _workers(self.base_url, self.admin)
        workers = {w["index"]: psutil.Process(w["pid"]) for w in placement if w.get("pid")}
        seats = [psutil.Process(p.pid) for p in self.procs if p.pid is not None]
        me = psutil.Process()

        def cpu() -> tuple[float, ...]:
            # Server: the signaling process and everything it started (its media workers).
            children = self.server_ps.children(recursive=True) if self.server_ps else []
            signaling = _safe_cpu(self.server_ps) if self.server_ps else 0.0
            return (
                time.monotonic(),
                signaling,
                signaling + sum(_safe_cpu(c) for c in children),
                *(_safe_cpu(workers[i]) for i in sorted(workers)),
                sum(_safe_cpu(p) for p in seats),
                _safe_cpu(me),
                _machine_busy(),
            )

        archive0, udp0 = _archive_bytes(self.data_dir), udp_rcvbuf_errors()
        before, (metrics0, marks0) = cpu(), self._mark()
        time.sleep(window)
        (metrics1, marks1), after = self._mark(), cpu()
        step.worker_loop_delay_s = largest_loop_delay(metrics0, metrics1)
        step.archive_mb = (_archive_bytes(self.data_dir) - archive0) / 1e6
        udp1 = udp_rcvbuf_errors()
        step.udp_drops = None if udp0 is None or udp1 is None else udp1 - udp0

        wall = after[0] - before[0]
        step.window_s = wall
        pct = [(b - a) * 100.0 / wall for a, b in zip(before, after, strict=True)]
        step.signaling_cpu, step.server_cpu = pct[1], pct[2]
        step.worker_cpu = dict(zip(sorted(workers), pct[3:-3], strict=True))
        step.seats_cpu, step.machine_cpu = pct[-3], pct[-1]
        step.other_cpu = max(0.0, pct[-1] - pct[2] - pct[-3] - pct[-2])
        for (worker, role), share in thread_cpu_pct(metrics0, metrics1, wall).items():
            step.worker_threads.setdefault(worker, {})[role] = share

        where = {room: w["index"] for w in placement for room in w.get("rooms", [])}
        self.figure_rooms(step, where, (marks0, marks1), lambda _: (metrics0, metrics1), wall)

    def figure_rooms(
        self,
        step: Step,
        where: dict[str, int],
        marks: tuple[list[list[dict[str, Any]]], list[list[dict[str, Any]]]],
        scrapes: Callable[[int | None], tuple[Metrics, Metrics]],
        window_s: float,
        labels: Mapping[int, str] | None = None,
    ) -> None:
        """Each room's figures over a window into `step`: `where` names each room's worker (by
        session), `marks` are the seats' two marks, `scrapes` gives the two /metrics of the
        server of a worker, in which `labels` names it (default: its number)."""
        hosted = Counter(where.values())
        for number, (session, _) in enumerate(self.rooms, start=1):
            worker = where.get(session)
            step.room_figures.append(
                room_figures(
                    RoomFigures(number, session, worker),
                    self.sessions[number - 1],
                    self.roles,
                    (marks[0][number - 1], marks[1][number - 1]),
                    scrapes(worker),
                    window_s=window_s,
                    rooms_on_worker=hosted[worker] if worker is not None else 1,
                    worker_label=labels.get(worker) if labels and worker is not None else None,
                )
            )

    def _mark(self) -> tuple[dict[str, Any], list[list[dict[str, Any]]]]:
        """The server's counters and every seat's (by room), taken at the same instant."""
        for conn in self.conns:
            conn.send("mark")
        metrics = parse_metrics(get(f"{self.base_url}/metrics"))
        return metrics, _collect(self.conns, "mark", "mark")

    def server_log_tail(self, lines: int = 15) -> str:
        """The end of the server's log."""
        path = self.tmp / "server.log"
        if not path.exists():
            return ""
        return "\n    ".join(path.read_text(errors="replace").splitlines()[-lines:])

    def close(self) -> None:
        """Stop the seats, then the server, then whatever the server left behind."""
        leftovers: list[psutil.Process] = []
        if self.server_ps is not None:
            with contextlib.suppress(psutil.Error):
                leftovers = self.server_ps.children(recursive=True)
        started = [(c, p) for c, p in zip(self.conns, self.procs, strict=True) if p.pid]
        try:
            stop_processes([c for c, _ in started], [p for _, p in started], None)
        finally:
            for conn in self.conns:  # those of seats that never started too
                conn.close()
            stop_processes([], [], self.server)
            for proc in leftovers:  # media workers run in sessions of their own
                with contextlib.suppress(psutil.Error):
                    if proc.is_running():
                        proc.kill()


def fill_rooms(
    bench: Bench,
    args: argparse.Namespace,
    result: ModeResult,
    deadline: float = math.inf,
    names: Mapping[int, str] | None = None,
) -> None:
    """Start `bench`, add rooms one at a time until one falls behind, ``args.max_rooms`` is
    reached or the `deadline` leaves no time for the next, print each step (`names` naming the
    workers) into `result`; then close the bench."""
    try:
        bench.start(args.max_rooms)
        step_cost = args.settle + args.window + STEP_OVERHEAD_S
        for rooms in range(1, args.max_rooms + 1):
            if time.monotonic() + step_cost > deadline:
                result.stopped = f"time budget: no time left for {rooms} rooms"
                break
            began = time.monotonic()
            step = Step(rooms)
            result.steps.append(step)
            try:
                step.ready_s = bench.add_room()
                time.sleep(args.settle)
                bench.measure(step, args.window)
            except Exception as exc:  # a benchmark reports what went wrong and stops
                step.error = f"{type(exc).__name__}: {exc}"
                if tail := bench.server_log_tail():
                    step.error += "\n    server log:\n    " + tail
            print_step(step, names)
            step_cost = time.monotonic() - began
            if problem := step.problem():
                result.stopped = problem
                break
        else:
            result.stopped = f"--max-rooms {args.max_rooms} reached"
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        if tail := bench.server_log_tail():
            result.error += "\n    server log:\n    " + tail
        result.stopped = "failed"
        print(f"  FAILED: {result.error}")
    finally:
        with _no_interrupt():
            bench.close()


def run_mode(
    workers: int,
    args: argparse.Namespace,
    loops: dict[str, list[bytes]],
    deadline: float,
    *,
    run: int = 1,
    probe: tuple[SpeedProbe, ProbeTime] | None = None,
) -> ModeResult:
    """Add rooms to a fresh server with ``workers`` media workers until one falls behind."""
    result = ModeResult(workers, run=run)
    title = f"{workers} media worker{'s' if workers > 1 else ''}"
    if args.repeat > 1:
        title += f", run {run} of {args.repeat}"
    print(f"\n== {title} ==", flush=True)
    if probe is not None:
        speed, first = probe
        now = speed.best_of()
        result.probe_pct = now.relative_to(first)
        print(
            f"  speed probe on the idle machine: Python {now.python_ms:.0f} ms, codec "
            f"{now.codec_ms:.0f} ms: {result.probe_pct:.0f} % of the first probe's time"
        )
    with tempfile.TemporaryDirectory(prefix=f"bench-capacity-{workers}w-") as tmp:
        fill_rooms(Bench(workers, Path(tmp), loops), args, result, deadline)
    return result


def parse_modes(text: str, cpus: int) -> list[int]:
    """``1,N`` -> worker counts, N being the machine's CPU count; repeats dropped."""
    modes: list[int] = []
    for part in text.split(","):
        part = part.strip().upper()
        if part:
            count = cpus if part == "N" else int(part)
            if count < 1:
                raise argparse.ArgumentTypeError("worker counts start at 1")
            if count not in modes:
                modes.append(count)
    return modes


def _sigterm(signum: int, frame: Any) -> None:
    """SIGTERM cleans up like Ctrl-C."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run each mode and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-rooms", type=int, default=4, help="stop adding rooms here")
    parser.add_argument("--window", type=float, default=15.0, help="measured window, seconds")
    parser.add_argument(
        "--settle",
        type=float,
        default=5.0,
        help="seconds between a room's seats joining and the window",
    )
    parser.add_argument(
        "--modes", default="1,N", help="comma list of media worker counts; N = this machine's CPUs"
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=340.0,
        help="seconds for each repetition: no room is added that would not fit",
    )
    parser.add_argument(
        "--no-preview",
        action="store_true",
        help="seats send no preview: the server decodes their cameras for the grid",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the modes this many times, in turn, and count the runs that met the target",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat: at least 1")
    cpus = len(os.sched_getaffinity(0))
    try:
        modes = parse_modes(args.modes, cpus)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        parser.error(f"--modes: {exc}")
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in background
    print(
        f"capacity benchmark: rooms of {SEATS_PER_ROOM} seats added one at a time, up to "
        f"{args.max_rooms}; modes {modes} media workers; {cpus} CPUs; the server pins each "
        "worker to a CPU, and a room's seats run on the other CPUs"
    )
    print(f"  per room: {FEATURES}")
    loops = build_loops(preview=not args.no_preview)
    print(
        f"  per seat: {describe_loops(loops)}, Opus 20 ms tone (pre-encoded); the grid is "
        "received and counted, not looked into"
    )
    print(
        f"  limits: a room loses > {TARGET_LOSS} % of a kind's frames, or its grid < "
        f"{TARGET_FPS:.0f} fps at a seat; window {args.window:.0f} s after {args.settle:.0f} s "
        "settling"
    )
    print(
        "  the seats run on this same machine and compete with the server for its CPUs; a "
        f"step counts only if they sent >= {MIN_SENT_PCT:.0f} % of their nominal frames; CPU "
        "figures are % of one core"
    )
    results: list[ModeResult] = []
    try:
        busy0 = _machine_busy()
        time.sleep(2.0)
        print(
            f"  machine busy before the start: {(_machine_busy() - busy0) * 50:.0f} % of one "
            "core (other load)"
        )
        print(f"  pre-encoded the media in {time.monotonic() - started:.1f} s")
        speed = SpeedProbe()
        first = speed.best_of()
        print(
            f"  speed probe (bench/probe.py): Python {first.python_ms:.0f} ms, codec "
            f"{first.codec_ms:.0f} ms of CPU; each run is probed again before it starts"
        )
        # Modes take turns, so that a slow spell of the machine does not fall on one mode only.
        runs = [(run, workers) for run in range(1, args.repeat + 1) for workers in modes]
        for index, (run, workers) in enumerate(runs):
            left = started + args.budget * args.repeat - time.monotonic()
            deadline = time.monotonic() + left / (len(runs) - index)
            results.append(run_mode(workers, args, loops, deadline, run=run, probe=(speed, first)))
    except KeyboardInterrupt:
        print("\ninterrupted: every process was stopped and every temp dir removed")
        if results:
            print_summary(results, cpus, args.max_rooms)
        return 130
    print_summary(results, cpus, args.max_rooms)
    print(f"  total {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
