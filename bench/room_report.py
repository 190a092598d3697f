"""How the room benchmark reports: one block per run, a summary, and the supervision costs."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

TARGET_CPU = 100.0
TARGET_FPS = 14.0
TARGET_LOSS = 0.5
ROLES = ("camera", "microphone", "desktop", "preview")
# The grid's stages at the server (signaling.metrics.GRID_STAGES): ingress is from the seat's
# clock (its RTCP sender reports) to the frame's arrival, so it holds the seat's sending, the
# network and the server's jitter buffer; the rest of the delay is the receiving seat's jitter
# buffer, decoding and reading its tile.
GRID_STAGES = ("ingress", "wait", "compose", "encode", "send")
TARGET_DELAY_P95 = 0.120
TARGET_FOCUS_P95 = 0.060


def _percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) of values, or None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass
class Result:
    """What one run with N seats measured."""

    seats: int
    label: str = ""  # what differs from the default run (analysis off, a supervisor...)
    window_s: float = 0.0
    server_cpu: float = 0.0
    thread_cpu: dict[str, float] = field(default_factory=dict)  # the media worker's, by role
    seats_cpu: float = 0.0
    grid_fps: list[float] = field(default_factory=list)
    server_grid_fps: float | None = None
    sent: dict[str, int] = field(default_factory=dict)
    received: dict[str, int] = field(default_factory=dict)
    window_sent: dict[str, int] = field(default_factory=dict)
    window_received: dict[str, int] = field(default_factory=dict)
    grid_rtp: tuple[int, int] = (0, 0)
    per_seat: list[dict[str, Any]] = field(default_factory=list)
    udp_rcvbuf_errors: int | None = None
    grid_skipped: float | None = None
    dropped: dict[str, float] = field(default_factory=dict)
    delays: list[float] = field(default_factory=list)
    seat_p95: list[float] = field(default_factory=list)
    unread: int = 0
    loop_lag: float | None = None
    analysis_rate: float | None = None  # camera pictures analysed a second, per seat
    supervisor_cpu: float | None = None  # the supervisor process (load generator side)
    supervisor_fps: dict[str, float] = field(default_factory=dict)  # what it received
    # The focused seat's camera as forwarded to the supervisor: delay of each new picture.
    focus_delays: list[float] = field(default_factory=list)
    # The grid's stages at the server (window): stage -> (frames, mean s, p95 bound s).
    stages: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    error: str | None = None

    def loss_pct(self, role: str, window: bool = False) -> float | None:
        """Incoming frames of ``role`` lost, % of those sent (whole run, or the window)."""
        sent = (self.window_sent if window else self.sent).get(role, 0)
        received = (self.window_received if window else self.received).get(role, 0)
        if not sent:
            return None
        return max(0, sent - received) * 100.0 / sent


def _fmt(value: float | None, spec: str, unit: str = "") -> str:
    """Format a possibly missing figure."""
    return "n/a" if value is None else f"{value:{spec}}{unit}"


def print_result(r: Result, per_seat: bool = False) -> None:
    """Print one N's table."""
    label = f", {r.label}" if r.label else ""
    print(f"\n== {r.seats} seats{label}, window {r.window_s:.1f} s ==")
    if r.error:
        print(f"  FAILED: {r.error}")
        return
    target = r.seats == 10
    rows = []
    cpu_per_seat = r.server_cpu / r.seats if r.seats else 0.0
    rows.append(
        (
            "server CPU",
            f"{r.server_cpu:.1f} % of one core ({cpu_per_seat:.1f} % per seat)",
            f"target <= {TARGET_CPU:.0f} %" if target else "",
        )
    )
    if r.thread_cpu:
        split = sorted(r.thread_cpu.items(), key=lambda item: -item[1])
        rows.append(
            (
                "  media worker by thread",
                ", ".join(f"{role} {pct:.1f}" for role, pct in split if pct >= 0.05) + " %",
                "",
            )
        )
    rows.append(("seat processes CPU", f"{r.seats_cpu:.1f} % of one core (the load generator)", ""))
    fps = r.grid_fps
    rows.append(
        (
            "grid fps per seat",
            f"min {_fmt(min(fps) if fps else None, '.1f')}  median "
            f"{_fmt(statistics.median(fps) if fps else None, '.1f')}  "
            f"(server gauge {_fmt(r.server_grid_fps, '.1f')})",
            f"target >= {TARGET_FPS:.0f}" if target else "",
        )
    )
    loss = "  ".join(
        f"{role} {_fmt(r.loss_pct(role), '.2f', ' %')} "
        f"({r.received.get(role, 0)}/{r.sent.get(role, 0)})"
        for role in ROLES
    )
    window_loss = "  ".join(
        f"{role} {_fmt(r.loss_pct(role, window=True), '.2f', ' %')} "
        f"({r.window_received.get(role, 0)}/{r.window_sent.get(role, 0)})"
        for role in ROLES
    )
    rows.append(
        (
            "incoming frames lost",
            window_loss + "  (window)",
            f"target < {TARGET_LOSS} %" if target else "",
        )
    )
    # Whole run: exact counts (sending stopped, in-flight frames landed), start-up included.
    rows.append(("", loss + "  (whole run)", ""))
    received, lost = r.grid_rtp
    rows.append(("grid RTP at the seats", f"{received} packets received, {lost} lost (window)", ""))
    dropped = ", ".join(f"{k} {v:.0f}" for k, v in sorted(r.dropped.items())) or "none"
    rows.append(("server frames dropped", dropped + " (window)", ""))
    rows.append(
        (
            "grid frames skipped",
            f"{_fmt(r.grid_skipped, '.0f')} (server behind its schedule, window)",
            "",
        )
    )
    rows.append(
        (
            "UDP receive-buffer drops",
            f"{_fmt(r.udp_rcvbuf_errors, 'd')} datagrams (kernel, system-wide, window)",
            "",
        )
    )
    rows.append(
        (
            "glass-to-glass delay",
            f"p50 {_ms(_percentile(r.delays, 50))}"
            f"  p95 {_ms(_percentile(r.delays, 95))}  worst seat p95 "
            f"{_ms(max(r.seat_p95) if r.seat_p95 else None)}  (n={len(r.delays)}, "
            f"unreadable tiles {r.unread})",
            f"target p95 <= {TARGET_DELAY_P95 * 1000:.0f} ms",
        )
    )
    if r.stages:
        known = sum(r.stages[s][1] for s in GRID_STAGES if s in r.stages)
        median = _percentile(r.delays, 50)
        rest = f"; the rest of the p50 {_ms(median - known)}" if median is not None else ""
        rows.append(
            (
                "grid stages (server)",
                "  ".join(
                    f"{s} {_ms(r.stages[s][1])} (p95 <= {_ms(r.stages[s][2])})"
                    for s in GRID_STAGES
                    if s in r.stages
                )
                + f"  (means, window){rest}",
                "",
            )
        )
    rows.append(("server event-loop lag", _ms(r.loop_lag) + " (last sample)", ""))
    if r.analysis_rate is not None:
        rows.append(
            (
                "camera analysis",
                f"{r.analysis_rate:.2f} pictures a second per seat (window; 1 configured, "
                "fewer when its thread is slow)",
                "",
            )
        )
    if r.supervisor_cpu is not None:
        got = "  ".join(f"{k} {v:.1f}/s" for k, v in r.supervisor_fps.items())
        rows.append(("supervisor received", got + " (window)", ""))
        rows.append(
            (
                "focused camera delay",
                f"p50 {_ms(_percentile(r.focus_delays, 50))}  p95 "
                f"{_ms(_percentile(r.focus_delays, 95))}  (n={len(r.focus_delays)}; from the "
                "seat's sending to the supervisor's decoded picture, forwarded as sent)",
                f"target p95 <= {TARGET_FOCUS_P95 * 1000:.0f} ms",
            )
        )
        rows.append(
            ("supervisor process CPU", f"{r.supervisor_cpu:.1f} % of one core (client side)", "")
        )
    width = max(len(name) for name, _, _ in rows)
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value}" + (f"   [{note}]" if note else ""))
    if per_seat:
        print("  per seat (window): camera received/sent, grid fps, delay p50/p95, unreadable")
        for seat in r.per_seat:
            print(
                f"    {seat['seat']}  {seat['camera received']}/{seat['camera sent']}  "
                f"{seat['grid fps']:.1f} fps  {_ms(seat['delay p50'])} / "
                f"{_ms(seat['delay p95'])}  {seat['unreadable']}"
            )


def _ms(seconds: float | None) -> str:
    """Seconds as milliseconds, or n/a."""
    return "n/a" if seconds is None else f"{seconds * 1000:.0f} ms"


def print_summary(results: list[Result]) -> None:
    """Print one line per N."""
    print("\n== summary ==")
    print(
        f"  {'run':<42}  {'server CPU %':>12}  {'grid fps min':>12}  {'camera lost %':>13}  "
        f"{'delay p50':>9}  {'delay p95':>9}"
    )
    for r in results:
        name = f"{r.seats} seats" + (f", {r.label}" if r.label else "")
        if r.error:
            print(f"  {name:<42}  failed")
            continue
        print(
            f"  {name:<42}  {r.server_cpu:>12.1f}  "
            f"{_fmt(min(r.grid_fps) if r.grid_fps else None, '.1f'):>12}  "
            f"{_fmt(r.loss_pct('camera', window=True), '.2f'):>13}  "
            f"{_ms(_percentile(r.delays, 50)):>9}  "
            f"{_ms(_percentile(r.delays, 95)):>9}"
        )
    print(
        f"  targets at 10 seats: server <= {TARGET_CPU:.0f} % of one core, grid >= "
        f"{TARGET_FPS:.0f} fps, < {TARGET_LOSS} % frames lost"
    )


def print_supervision(results: list[Result], seats: int) -> None:
    """What analysis and a supervisor in focus view add to a room of `seats` seats."""

    def run(label: str) -> Result | None:
        return next(
            (r for r in results if r.seats == seats and r.label == label and not r.error), None
        )

    off, on, watched = (
        run("analysis off"),
        run("") or run("analysis on"),
        run("analysis on, supervisor in focus"),
    )
    print(f"\n== supervision costs, {seats} seats (server CPU, % of one core) ==")
    if off and on:
        print(f"  camera analysis:          {on.server_cpu - off.server_cpu:+.1f}")
    if on and watched:
        print(f"  supervisor in focus view: {watched.server_cpu - on.server_cpu:+.1f}")
    if watched:
        ok = (
            watched.server_cpu <= TARGET_CPU
            and bool(watched.grid_fps)
            and min(watched.grid_fps) >= TARGET_FPS
            and all((watched.loss_pct(role, window=True) or 0.0) < TARGET_LOSS for role in ROLES)
        )
        print(
            f"  with both: {watched.server_cpu:.1f} % CPU, grid min "
            f"{_fmt(min(watched.grid_fps) if watched.grid_fps else None, '.1f')} fps, camera lost "
            f"{_fmt(watched.loss_pct('camera', window=True), '.2f', ' %')}: "
            f"{'within' if ok else 'NOT within'} the room's targets"
        )
