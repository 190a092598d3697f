"""What the broadcast benchmark measured at each step, and how it is printed."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

TARGET_MS = 3.7
TARGET_LOSS_PCT = 0.5
TARGET_JOIN_S = 1.0


@dataclass
class StepResult:
    """The figures of one step of one mode."""

    viewers: int
    per_worker: dict[int, int]
    cpu_pct: list[float]  # of each worker, % of one core
    ms_per_viewer: float  # over and above the broadcast with no viewer, at the rate received
    us_per_packet: float  # the same CPU, a packet sent to a viewer
    pps_per_viewer: float
    camera_pps: float  # of those, the camera's
    camera_fps: float  # camera frames a viewer received a second (the host sends 30)
    loss_mean_pct: float
    loss_max_pct: float
    viewer_drops: int  # datagrams the viewers' sockets dropped (the load generator was late)
    server_drops: int  # datagrams the workers' sockets dropped
    dropped_frames: int
    joins: dict[str, float] = field(default_factory=dict)  # percentiles, seconds
    joined: int = 0
    asked: int = 0
    loop_delay: dict[int, float] = field(default_factory=dict)  # worst, by worker, joins included
    load_average: float = 0.0  # of the machine, over the last minute (others use it too)
    keyframe_waits: list[float] = field(default_factory=list)  # the camera's, latest, seconds
    system_pct: float = 0.0  # of the workers' CPU, in the kernel


@dataclass
class ModeResult:
    """One mode's run."""

    label: str
    idle_cpu_pct: list[float] = field(default_factory=list)
    steps: list[StepResult] = field(default_factory=list)
    camera_kbits: float = 0.0
    stopped: str = ""


def loss(before: dict[str, Any], after: dict[str, Any]) -> tuple[float, int]:
    """% of one viewer's packets lost between two snapshots, and the packets it received."""
    expected = received = 0
    for ssrc, (count, highest) in after["streams"].items():
        if ssrc not in before["streams"]:
            continue
        old_count, old_highest = before["streams"][ssrc]
        expected += highest - old_highest
        received += count - old_count
    if expected <= 0:
        return 100.0, received
    return max(0.0, (expected - received) * 100.0 / expected), received


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile, NaN for none."""
    return float(np.percentile(values, q)) if values else math.nan


def percents(values: list[float]) -> str:
    """Percentages, one for each worker."""
    return " + ".join(f"{v:.1f} %" for v in values)


def print_step(step: StepResult) -> None:
    """The step's figures, on three lines."""
    spread = ", ".join(f"w{k}:{v}" for k, v in sorted(step.per_worker.items()))
    j = step.joins
    print(
        f"  {step.viewers:4d} viewers ({spread}): workers' CPU {percents(step.cpu_pct)}; "
        f"{step.ms_per_viewer:.2f} ms/s a viewer at {step.pps_per_viewer:.0f} packets/s "
        f"(camera {step.camera_pps:.0f}, {step.camera_fps:.1f} fps), "
        f"{step.us_per_packet:.1f} us a packet; "
        f"{step.system_pct:.0f} % of the CPU in the kernel"
    )
    print(
        f"        lost {step.loss_mean_pct:.3f} % a viewer (worst {step.loss_max_pct:.2f} %); "
        f"joined {step.joined}/{step.asked}: first packet p50/p95 "
        f"{j.get('first50', math.nan):.2f}/{j.get('first95', math.nan):.2f} s, camera "
        f"{j.get('camera50', math.nan):.2f}/{j.get('camera95', math.nan):.2f} s; at the worker, "
        f"offer to first packet {j.get('connected50', math.nan):.2f}/"
        f"{j.get('connected95', math.nan):.2f} s, to every stream's "
        f"{j.get('server50', math.nan):.2f}/{j.get('server95', math.nan):.2f} s"
    )
    delays = ", ".join(f"w{w}: {d * 1000:.0f} ms" for w, d in sorted(step.loop_delay.items()))
    waits = step.keyframe_waits
    print(
        f"        camera keyframes {percentile(waits, 50):.2f}/{max(waits or [math.nan]):.2f} s "
        f"after asked (p50/max); workers' event loops late by at most {delays or '?'} "
        f"(joins included); machine load average {step.load_average:.1f}"
    )
    notes = []
    if step.viewer_drops:
        notes.append(f"{step.viewer_drops} datagrams dropped at the viewers' full sockets")
    if step.server_drops:
        notes.append(f"{step.server_drops} dropped at the workers' full sockets")
    if step.dropped_frames:
        notes.append(f"{step.dropped_frames} frames held back too long and dropped")
    if notes:
        print(f"        ({'; '.join(notes)})")


def print_summary(results: list[ModeResult]) -> None:
    """Each mode at its last step, against the targets."""
    print("== summary (the last step of each mode) ==")
    for result in results:
        if not result.steps:
            print(f"  {result.label}: no step measured")
            continue
        last = result.steps[-1]
        per_step = [s.ms_per_viewer for s in result.steps]
        verdicts = [
            _verdict(last.ms_per_viewer <= TARGET_MS, f"{last.ms_per_viewer:.2f} ms/s a viewer"),
            _verdict(
                last.loss_mean_pct < TARGET_LOSS_PCT,
                f"{last.loss_mean_pct:.3f} % lost, camera at {last.camera_fps:.1f} fps",
            ),
            _verdict(
                last.joins.get("camera95", math.inf) <= TARGET_JOIN_S,
                f"join p95 {last.joins.get('camera95', math.nan):.2f} s",
            ),
        ]
        print(
            f"  {result.label}, {last.viewers} viewers: {'; '.join(verdicts)}; "
            f"ms/s a viewer by step {', '.join(f'{v:.2f}' for v in per_step)}"
            + (f"; {result.stopped}" if result.stopped else "")
        )
    print(
        f"  targets: <= {TARGET_MS} ms/s a viewer, flat; < {TARGET_LOSS_PCT} % lost; "
        f"join p95 <= {TARGET_JOIN_S} s"
    )


def _verdict(ok: bool, text: str) -> str:
    return f"{text} ({'met' if ok else 'NOT met'})"
