"""How the capacity benchmark reports: what a step measured, a block per step, the summary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.metrics import Metrics, metric_delta
from bench.room import CAMERA_FPS, DESKTOP_FPS
from bench.room_report import ROLES, TARGET_FPS, TARGET_LOSS, _fmt

# A step counts only if the seats sent at least this share of their nominal frames.
MIN_SENT_PCT = 99.0
TARGET_ROOMS = 2  # on a 2-core machine
TARGET_CORES = 2

SEATS_PER_ROOM = 10
# Frames a second each seat sends, by kind.
NOMINAL_RATES = {
    "camera": CAMERA_FPS,
    "microphone": 50.0,
    "desktop": DESKTOP_FPS,
    "preview": CAMERA_FPS,
}


# ---- what a step measured --------------------------------------------------------------------


@dataclass
class RoomFigures:
    """One room over one window."""

    number: int
    session: str
    worker: int | None = None
    sent: dict[str, int] = field(default_factory=dict)
    # Frames its seats should have sent in the window at their nominal rates.
    offered: dict[str, float] = field(default_factory=dict)
    received: dict[str, int] = field(default_factory=dict)
    grid_fps: list[float] = field(default_factory=list)
    # The server's figures are its worker's (/metrics names no session): the slowest grid of
    # the worker's rooms, the grid frames they skipped, and the pictures analysed a second per
    # seat of the worker (1 as configured; less when the worker is busy).
    server_fps: float | None = None
    skipped: float = 0.0
    analysis_rate: float | None = None

    def loss_pct(self, role: str) -> float | None:
        """Frames of ``role`` its seats sent that the server did not receive, % (window)."""
        sent = self.sent.get(role, 0)
        if not sent:
            return None
        return max(0, sent - self.received.get(role, 0)) * 100.0 / sent

    def sent_pct(self, role: str) -> float | None:
        """Frames of ``role`` its seats sent, % of their nominal rate over the window."""
        offered = self.offered.get(role, 0.0)
        return self.sent.get(role, 0) * 100.0 / offered if offered else None

    @property
    def roles(self) -> list[str]:
        """The kinds of frames the room's seats send."""
        return [role for role in ROLES if role in self.offered]

    def problem(self) -> str | None:
        """Why this room is beyond the limits, or None."""
        for role in self.roles:
            sent = self.sent_pct(role)
            if sent is not None and sent < MIN_SENT_PCT:
                # The load generator fell behind: the server was not given the full load.
                return (
                    f"room {self.number}: its seats sent only {sent:.1f} % of their {role} "
                    "frames (the load generator fell behind)"
                )
        for role in self.roles:
            loss = self.loss_pct(role)
            if loss is None:
                return f"room {self.number}: no {role} frames sent"
            if loss > TARGET_LOSS:
                return f"room {self.number}: {role} lost {loss:.2f} % > {TARGET_LOSS} %"
        low = min(self.grid_fps, default=0.0)
        if low < TARGET_FPS:
            return f"room {self.number}: grid {low:.1f} fps < {TARGET_FPS:.0f} at a seat"
        return None


@dataclass
class Step:
    """All rooms over one window, with the last one just added."""

    rooms: int
    ready_s: float = 0.0
    window_s: float = 0.0
    room_figures: list[RoomFigures] = field(default_factory=list)
    server_cpu: float = 0.0
    signaling_cpu: float = 0.0
    worker_cpu: dict[int, float] = field(default_factory=dict)
    # Per worker, its event loop's largest delay in the window (a histogram bucket's bound).
    worker_loop_delay_s: dict[int, float] = field(default_factory=dict)
    # Per worker, % of one core by thread role (event loop, grid, analysis, mix-minus...).
    worker_threads: dict[int, dict[str, float]] = field(default_factory=dict)
    seats_cpu: float = 0.0
    machine_cpu: float = 0.0
    other_cpu: float = 0.0  # the machine less the server, the seats and this process
    archive_mb: float = 0.0
    udp_drops: int | None = None  # datagrams the kernel dropped, receive buffer full
    error: str | None = None

    def problem(self) -> str | None:
        """Why this step is beyond the limits, or None when every room is within them."""
        if self.error:
            return f"failed: {self.error.splitlines()[0]}"
        return next((p for r in self.room_figures if (p := r.problem())), None)


@dataclass
class ModeResult:
    """One server configuration: the steps it went through and why it stopped."""

    workers: int
    run: int = 1  # which repetition (--repeat)
    # bench.probe's time just before this run, in % of the first probe's (above 100: slower)
    probe_pct: float | None = None
    steps: list[Step] = field(default_factory=list)
    stopped: str = ""
    error: str | None = None

    @property
    def held(self) -> Step | None:
        """The last step of the unbroken run of steps within the limits."""
        held = None
        for step in self.steps:
            if step.problem():
                break
            held = step
        return held


def room_figures(
    figures: RoomFigures,
    links: list[dict[str, Any]],
    roles: list[str],
    marks: tuple[list[dict[str, Any]], list[dict[str, Any]]],
    metrics: tuple[Metrics, Metrics],
    *,
    window_s: float,
    rooms_on_worker: int,
    worker_label: str | None = None,
) -> RoomFigures:
    """One room's window, filled into `figures`: what its seats sent (their two marks) against
    what the server received, and its worker's grid and analysis (two scrapes of the /metrics
    of the server that hosts it, `window_s` apart). `worker_label` is the worker's label there
    (default: the figures' worker); `rooms_on_worker` shares its analysis among its seats."""
    (seats0, seats1), (metrics0, metrics1) = marks, metrics
    # /metrics names no session: a room's frames are those of its seats (each room has
    # venues of its own), its grid and analysis figures those of its worker.
    keys = [f"{link['venue_id']}:{link['seat']}" for link in links if link.get("role") == "expert"]
    for role in roles:
        figures.sent[role] = sum(
            b["sent"][role] - a["sent"][role] for a, b in zip(seats0, seats1, strict=True)
        )
        figures.offered[role] = sum(
            (b["t"] - a["t"]) * NOMINAL_RATES[role] for a, b in zip(seats0, seats1, strict=True)
        )
        figures.received[role] = int(
            sum(
                metric_delta(
                    metrics0, metrics1, "roomserver_inbound_frames_total", seat=key, kind=role
                )
                for key in keys
            )
        )
    figures.grid_fps = [
        (b["grid"] - a["grid"]) / (b["t"] - a["t"]) for a, b in zip(seats0, seats1, strict=True)
    ]
    if figures.worker is None:
        return figures
    worker = worker_label if worker_label is not None else str(figures.worker)
    fps = [
        v for labels, v in metrics1.get("roomserver_grid_fps", []) if labels.get("worker") == worker
    ]
    figures.server_fps = fps[0] if fps else None
    figures.skipped = metric_delta(
        metrics0, metrics1, "roomserver_grid_frames_skipped", worker=worker
    )
    samples = metric_delta(metrics0, metrics1, "roomserver_analysis_samples_total", worker=worker)
    figures.analysis_rate = samples / window_s / (max(1, rooms_on_worker) * SEATS_PER_ROOM)
    return figures


# ---- report ----------------------------------------------------------------------------------


def _loop_delay(seconds: float | None) -> str:
    """A worker's largest event-loop delay in the window, after its CPU figure."""
    return "" if seconds is None else f" loop delay <= {seconds * 1000:.0f} ms"


def print_step(step: Step, names: Mapping[int, str] | None = None) -> None:
    """One step: its totals on a line, then a line per room. `names` names the workers
    (default ``w0``, ``w1``...: the nodes of a cluster, say)."""
    if step.error:
        print(f"  {step.rooms} rooms  FAILED: {step.error}", flush=True)
        return

    def name(worker: int | None) -> str:
        if worker is None:
            return "w-"
        return names[worker] if names and worker in names else f"w{worker}"

    workers = "  ".join(
        f"{name(i)} {cpu:.0f} %{_loop_delay(step.worker_loop_delay_s.get(i))}"
        for i, cpu in sorted(step.worker_cpu.items())
    )
    print(
        f"  {step.rooms} room{'s' if step.rooms > 1 else ' '}  server {step.server_cpu:5.1f} % "
        f"({step.server_cpu / step.rooms:5.1f} % per room; signaling {step.signaling_cpu:.1f} %"
        f"  {workers})  seats {step.seats_cpu:5.1f} %  machine {step.machine_cpu:.0f} %"
        f" (others {step.other_cpu:.0f} %)  "
        f"[joined in {step.ready_s:.1f} s, window {step.window_s:.1f} s, archive "
        f"+{step.archive_mb:.1f} MB, UDP receive-buffer drops {_fmt(step.udp_drops, 'd')}]"
    )
    for worker, split in sorted(step.worker_threads.items()):
        roles = sorted(split.items(), key=lambda item: -item[1])
        shown = ", ".join(f"{role} {pct:.0f}" for role, pct in roles if pct >= 0.5)
        print(f"      {name(worker)} by thread: {shown + ' %' if shown else 'idle'}")
    for r in step.room_figures:
        loss = "  ".join(f"{role} {_fmt(r.loss_pct(role), '5.2f', ' %')}" for role in r.roles)
        sent = min((r.sent_pct(role) or 0.0 for role in r.roles), default=0.0)
        print(
            f"      room {r.number} on {name(r.worker)}: sent >= {sent:.1f} % of nominal"
            f"  lost {loss}  grid min "
            f"{min(r.grid_fps, default=0.0):4.1f} fps (its worker's slowest "
            f"{_fmt(r.server_fps, '.1f')}, skipped {r.skipped:.0f})  "
            f"analysis {_fmt(r.analysis_rate, '.2f')}/s a seat"
            + (f"  <- {p}" if (p := r.problem()) else "")
        )
    print(f"      -> {step.problem() or 'within limits'}", flush=True)


def _target_line(workers: int, rooms: list[int]) -> str:
    """``2 workers: 2 (met)``, or over several runs ``2 workers: 2 1 2 (met in 2 of 3 runs)``."""
    name = f"{workers} worker{'s' if workers > 1 else ''}"
    met = sum(1 for count in rooms if count >= TARGET_ROOMS)
    if len(rooms) == 1:
        return f"{name}: {rooms[0]} ({'met' if met else 'not met'})"
    return f"{name}: {' '.join(map(str, rooms))} (met in {met} of {len(rooms)} runs)"


def print_summary(results: list[ModeResult], cpus: int, max_rooms: int) -> None:
    """Rooms held and CPU per room for each mode, and the target."""
    print("\n== summary ==")
    repeated = any(result.run > 1 for result in results)
    print(
        f"  {'workers':>7}  {'run  ' if repeated else ''}{'rooms held':>10}  "
        f"{'server CPU %':>12}  {'CPU % per room':>14}  "
        f"{'seats CPU %':>11}  {'others CPU %':>12}  {'probe %':>7}  stopped by"
    )
    for result in results:
        held = result.held
        rooms = held.rooms if held else 0
        shown = f">={rooms}" if held and result.stopped.startswith("--max-rooms") else str(rooms)
        run = f"{result.run:>3}  " if repeated else ""
        print(
            f"  {result.workers:>7}  {run}{shown:>10}  "
            f"{_fmt(held.server_cpu if held else None, '.1f'):>12}  "
            f"{_fmt(held.server_cpu / held.rooms if held else None, '.1f'):>14}  "
            f"{_fmt(held.seats_cpu if held else None, '.1f'):>11}  "
            f"{_fmt(held.other_cpu if held else None, '.1f'):>12}  "
            f"{_fmt(result.probe_pct, '.0f'):>7}  {result.stopped}"
        )
    for result in results:
        over = next((s for s in result.steps if s.problem() and not s.error), None)
        if over is not None:
            run = f" (run {result.run})" if repeated else ""
            print(
                f"  {result.workers} worker{'s' if result.workers > 1 else ''}{run}, first step "
                f"over the limits: {over.rooms} room{'s' if over.rooms > 1 else ''}, server "
                f"{over.server_cpu:.1f} % ({over.server_cpu / over.rooms:.1f} % per room), "
                f"seats {over.seats_cpu:.1f} %, machine {over.machine_cpu:.0f} %"
            )
    print(
        "  CPU in % of one core, over the window of the last step held; rooms held: the last "
        f"step at which every room lost <= {TARGET_LOSS} % of each kind and showed >= "
        f"{TARGET_FPS:.0f} fps at every seat; probe: the time of a fixed piece of work just "
        "before the run, in % of the first probe's (above 100: the machine ran slower)"
    )
    held: dict[int, list[int]] = {}
    for result in results:
        held.setdefault(result.workers, []).append(result.held.rooms if result.held else 0)
    met = ", ".join(_target_line(workers, rooms) for workers, rooms in held.items())
    print(
        f"  target on a {TARGET_CORES}-core machine: {TARGET_ROOMS} full rooms -> {met}"
        f"  (this machine: {cpus} CPUs; --max-rooms {max_rooms})"
    )
    print(
        "  the seats (the load generator, a process per room) share this machine with the "
        "server and take CPU from it: see the seats column"
    )
