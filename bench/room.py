"""Room benchmark: N synthetic seats against a fresh server; prints CPU, loss, grid fps, delay.

    python bench/room.py [--seats 2,5,10] [--duration 30] [--warmup 6]

For each N: a fresh data directory and server subprocess (loopback, ICE on 127.0.0.1), a load
session of N experts (``signaling.cli load-session``), and N seat processes. Each seat sends
pre-encoded media (VP8 640x480 15 fps camera with the frame counter and its VP8 320x240
preview, as the seat page sends them; Opus tone; VP8 1280x720 5 fps desktop), so a seat costs
little more than packetizing; ``--no-preview`` leaves the preview out. Three seats decode the grid
and read their own counter back from their tile to measure the delay through the server; the
others count the encoded grid frames they receive without decoding them. On a machine with
two or more CPUs the server is pinned to one CPU and the seats to the others (``--no-pin`` to
turn off), so that the load generator does not take the server's core and "% of one core" means
what it says. The figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from bench.common import (  # noqa: E402
    cli,
    cpu_seconds,
    cpu_split,
    free_port,
    get,
    link_token,
    start_server,
    stop_processes,
    tree_cpu_seconds,
    udp_rcvbuf_errors,
    wait_healthy,
)
from bench.metrics import (  # noqa: E402
    histogram_window,
    metric_delta,
    metric_sum,
    parse_metrics,
    thread_cpu_pct,
)
from bench.room_report import (  # noqa: E402
    ROLES,
    Result,
    _percentile,
    print_result,
    print_summary,
    print_supervision,
)
from bench.supervisor import (  # noqa: E402
    Supervisor,
    SupervisorJob,
    ask_supervisor,
    focus_delays,
    mark_supervisor,
    start_supervisor,
)

CAMERA_FPS = 15
DESKTOP_FPS = 5
SETTLE_S = 1.0
READY_TIMEOUT = 60.0
REPLY_TIMEOUT = 15.0
# Seats that decode the grid to measure the delay; the others count encoded frames only.
DELAY_SEATS = 3


def describe_loops(loops: dict[str, list[bytes]], desktop: bool = True) -> str:
    """What each seat sends, for the benchmarks' headers."""

    def kbit(role: str) -> float:
        return sum(len(p) for p in loops[role]) * 8 / 10 / 1000  # the loops last 10 s

    parts = [f"camera VP8 640x480 {CAMERA_FPS} fps ~{kbit('camera'):.0f} kbit/s with counter"]
    if "preview" in loops:
        parts.append(f"preview VP8 320x240 {CAMERA_FPS} fps ~{kbit('preview'):.0f} kbit/s")
    else:
        parts.append("no preview (the grid decodes the camera)")
    parts.append(f"desktop VP8 1280x720 {DESKTOP_FPS} fps" if desktop else "no desktop")
    return ", ".join(parts)


# ---- seat process ----------------------------------------------------------------------------


@dataclass
class SeatJob:
    """What one seat process needs: where to join and the pre-encoded loops to send."""

    index: int
    base_url: str
    token: str
    camera: list[bytes]
    microphone: list[bytes]
    desktop: list[bytes] | None
    cpus: set[int] | None = None
    # Decodes the grid and reads its own counter back (the delay); the other seats only count
    # the encoded grid frames they receive, so that the load generator stays cheap.
    measure: bool = True
    # Counts the grid below aiortc's receivers (SyntheticSeat count_rtp): the cheapest seat.
    count_rtp: bool = False
    # The camera's preview loop (320x240), sent as the seat page sends it; None: no preview.
    preview: list[bytes] | None = None
    # The URLs of a cluster's nodes: the seat finds its room again when its node is lost.
    cluster: tuple[str, ...] = ()


def seat_process(job: SeatJob, conn: Connection) -> None:
    """Entry point of a seat process: run one SyntheticSeat until told to stop."""
    if job.cpus:
        os.sched_setaffinity(0, job.cpus)  # before any thread exists, so that all inherit it
    run_child(_run_seat(job, conn), conn)


def run_child(main: Coroutine[Any, Any, None], conn: Connection) -> None:
    """Run a child process's `main`; an error is sent to the parent, never swallowed."""
    try:
        asyncio.run(main)
    except Exception as exc:  # report instead of dying silently
        with contextlib.suppress(OSError):
            conn.send(("error", repr(exc)))
    finally:
        conn.close()


class BenchSeat:
    """One synthetic seat of a benchmark: its pre-encoded tracks and what it has counted."""

    def __init__(self, job: SeatJob) -> None:
        from media.testing.synthetic import PreEncodedAudioTrack, PreEncodedVideoTrack
        from signaling.testing.seat import SyntheticSeat

        self.camera = PreEncodedVideoTrack(job.camera, CAMERA_FPS)
        self.microphone = PreEncodedAudioTrack(job.microphone)
        self.desktop = PreEncodedVideoTrack(job.desktop, DESKTOP_FPS) if job.desktop else None
        self.preview = PreEncodedVideoTrack(job.preview, CAMERA_FPS) if job.preview else None
        self.tracks = [
            t for t in (self.camera, self.microphone, self.desktop, self.preview) if t is not None
        ]
        self.seat = SyntheticSeat(
            job.base_url,
            job.token,
            camera=self.camera,
            microphone=self.microphone,
            desktop=self.desktop,
            preview=self.preview,
            decode_grid=False,
            keep_grid_frames=1,
            measure_delay=job.measure,
            decode=job.measure,
            count_rtp=job.count_rtp,
            name=f"bench-seat-{job.index}",
            start_timeout=READY_TIMEOUT,
            cluster=job.cluster,
        )

    async def join(self) -> dict[str, Any]:
        """Join the room and wait for the own tile; return the seat's key."""
        seat = self.seat
        await seat.start()
        await seat.wait_roster(lambda _: seat.own_tile_index() is not None, READY_TIMEOUT)
        own = seat.roster["seats"][seat.own_tile_index()] if seat.roster else {}
        return {"key": own.get("key"), "pid": os.getpid()}

    async def snapshot(self) -> dict[str, Any]:
        """Frames sent and grid frames received so far, with the seat's RTP statistics."""
        taken = {
            "t": time.time(),
            "sent": {
                "camera": self.camera.frames_sent,
                "microphone": self.microphone.frames_sent,
                "desktop": self.desktop.frames_sent if self.desktop else 0,
                "preview": self.preview.frames_sent if self.preview else 0,
            },
            "grid": self.seat.grid_frame_count,
            "misses": self.seat.delay_misses,
            "node": self.seat.base_url,
            "rejoined": self.rejoins(),
        }
        taken["rtp"] = await self.seat.inbound_stats()
        return taken

    def rejoins(self) -> list[tuple[float, float, float | None]]:
        """Each time the seat found its room again after losing its node: when the connection
        was lost, when media was connected again, and when the first grid frame after the loss
        arrived (None: none yet). Wall-clock times, comparable across the machine's processes.
        """
        times = self.seat.grid_times()
        found = []
        for lost_at, connected_at in self.seat.rejoined:
            after = bisect.bisect_right(times, lost_at)
            found.append((lost_at, connected_at, times[after] if after < len(times) else None))
        return found

    def stop_media(self) -> None:
        """End the seat's tracks (its media stops, the connection stays)."""
        for track in self.tracks:
            track.stop()

    async def close(self) -> None:
        """Leave the room."""
        await self.seat.close()


async def _run_seat(job: SeatJob, conn: Connection) -> None:
    """Join, report ready, then answer the parent's marks until ``stop``."""
    bench_seat = BenchSeat(job)
    try:
        conn.send(("ready", await bench_seat.join()))
        while True:
            message = await asyncio.to_thread(conn.recv)
            if message == "mark":
                conn.send(("mark", await bench_seat.snapshot()))
            elif message == "stop_media":
                bench_seat.stop_media()
                conn.send(("stopped", await bench_seat.snapshot()))
            elif message == "report":
                report = {
                    **await bench_seat.snapshot(),
                    "delays": list(bench_seat.seat.delays),
                    "camera_sent": bench_seat.camera.sent_at.entries(),
                }
                conn.send(("report", report))
            elif message == "stop":
                break
    finally:
        await bench_seat.close()


# ---- parent: server, metrics, measurement ----------------------------------------------------


def _dropped(metrics: dict[str, Any]) -> dict[str, float]:
    """``roomserver_frames_dropped_total`` by ``where``."""
    return {
        labels.get("where", "?"): value
        for labels, value in metrics.get("roomserver_frames_dropped_total", [])
    }


def _ask_all(conns: list[Connection], message: str, expect: str) -> list[dict[str, Any]]:
    """Send ``message`` to every seat and collect their ``expect`` replies."""
    for conn in conns:
        conn.send(message)
    return _collect(conns, message, expect)


def _collect(conns: list[Connection], message: str, expect: str) -> list[dict[str, Any]]:
    """Collect every seat's ``expect`` reply to ``message``."""
    replies = []
    for index, conn in enumerate(conns):
        if not conn.poll(REPLY_TIMEOUT):
            raise TimeoutError(f"seat {index} did not answer {message!r}")
        kind, data = conn.recv()
        if kind != expect:
            raise RuntimeError(f"seat {index}: {kind}: {data}")
        replies.append(data)
    return replies


def run_once(
    n: int,
    duration: float,
    warmup: float,
    loops: dict[str, list[bytes]],
    desktop: bool,
    pin: bool,
    *,
    label: str = "",
    server_args: tuple[str, ...] = (),
    supervise: bool = False,
) -> Result:
    """Start a fresh server and N seats, measure over ``duration`` s, tear everything down.

    `server_args` are more server flags; `supervise` adds a supervisor process that watches
    the room and focuses on the first seat.
    """
    result = Result(seats=n, label=label)
    supervisor: Supervisor | None = None
    port = free_port()
    ctx = mp.get_context("spawn")
    procs: list[mp.process.BaseProcess] = []
    conns: list[Connection] = []
    server: subprocess.Popen[bytes] | None = None
    server_cpus, seat_cpus = cpu_split(pin)
    with tempfile.TemporaryDirectory(prefix=f"bench-room-{n}-") as tmp:
        data_dir = Path(tmp) / "data"
        common = ["--data-dir", str(data_dir), "--bind", f"127.0.0.1:{port}"]
        try:
            links = json.loads(cli("load-session", "--seats", str(n), *common))
            experts = [link for link in links if link.get("role") == "expert"][:n]
            if len(experts) < n:
                raise RuntimeError(f"load session has {len(experts)} experts, need {n}")
            base_url = f"http://127.0.0.1:{port}"
            # One media worker: the room lives on one core, as it does in production.
            server = start_server(
                [*common, *server_args], Path(tmp) / "server.log", workers=1, cpus=server_cpus
            )
            wait_healthy(base_url, server)
            server_ps = psutil.Process(server.pid)

            for index, link in enumerate(experts):
                token = str(link["token"])
                job = SeatJob(
                    index,
                    base_url,
                    token,
                    loops["camera"],
                    loops[f"microphone{index % len(TONES)}"],
                    loops["desktop"] if desktop else None,
                    seat_cpus,
                    measure=index < DELAY_SEATS,
                    preview=loops.get("preview"),
                )
                parent_end, child_end = ctx.Pipe()
                proc = ctx.Process(
                    target=seat_process,
                    args=(job, child_end),
                    name=f"bench-seat-{index}",
                    daemon=True,
                )
                proc.start()
                child_end.close()
                procs.append(proc)
                conns.append(parent_end)
            keys = []
            deadline = time.monotonic() + READY_TIMEOUT
            for index, conn in enumerate(conns):
                if not conn.poll(max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(f"seat {index} not ready in {READY_TIMEOUT:.0f} s")
                kind, data = conn.recv()
                if kind != "ready":
                    raise RuntimeError(f"seat {index}: {kind}: {data}")
                keys.append(data["key"])
            seat_ps = [psutil.Process(p.pid) for p in procs if p.pid is not None]
            if supervise:
                url = cli("token", "--supervisor", "基准测试监督员", *common).strip()
                job = SupervisorJob(
                    base_url,
                    link_token(base_url, url),
                    str(experts[0]["session_id"]),
                    keys[0],
                    seat_cpus,
                )
                supervisor = start_supervisor(ctx, job, READY_TIMEOUT)

            time.sleep(warmup)  # steady state: every tile has a picture, rates have settled
            cpu0 = tree_cpu_seconds(server_ps)
            seats_cpu0 = sum(cpu_seconds(p) for p in seat_ps)
            watched0 = mark_supervisor(supervisor, REPLY_TIMEOUT)
            udp0 = udp_rcvbuf_errors()
            wall0 = time.monotonic()
            # Seats count what they sent while the server's counters are read: same instant.
            for conn in conns:
                conn.send("mark")
            metrics0 = parse_metrics(get(f"{base_url}/metrics"))
            marks0 = _collect(conns, "mark", "mark")

            time.sleep(duration)

            for conn in conns:
                conn.send("mark")
            metrics1 = parse_metrics(get(f"{base_url}/metrics"))
            marks1 = _collect(conns, "mark", "mark")
            wall1 = time.monotonic()
            cpu1 = tree_cpu_seconds(server_ps)
            seats_cpu1 = sum(cpu_seconds(p) for p in seat_ps)
            watched1 = mark_supervisor(supervisor, REPLY_TIMEOUT)
            udp1 = udp_rcvbuf_errors()
            if udp0 is not None and udp1 is not None:
                result.udp_rcvbuf_errors = udp1 - udp0
            result.grid_skipped = metric_delta(metrics0, metrics1, "roomserver_grid_frames_skipped")
            window = wall1 - wall0
            result.window_s = window
            if watched0 is not None and watched1 is not None:
                result.supervisor_cpu = (watched1.pop("cpu") - watched0.pop("cpu")) * 100 / window
                span = watched1["t"] - watched0["t"]
                result.supervisor_fps = {
                    k: (watched1[k] - watched0[k]) / span for k in watched1 if k != "t"
                }
            result.server_cpu = (cpu1 - cpu0) * 100.0 / window
            analysed = metric_delta(metrics0, metrics1, "roomserver_analysis_samples_total")
            analysing = "roomserver_analysis_samples_total" in metrics1  # absent when off
            result.analysis_rate = analysed / window / n if n and analysing else None
            for (_, role), pct in thread_cpu_pct(metrics0, metrics1, window).items():
                result.thread_cpu[role] = result.thread_cpu.get(role, 0.0) + pct
            result.seats_cpu = (seats_cpu1 - seats_cpu0) * 100.0 / window
            result.grid_fps = [
                (m1["grid"] - m0["grid"]) / (m1["t"] - m0["t"])
                for m0, m1 in zip(marks0, marks1, strict=True)
            ]
            fps_samples = [v for _, v in metrics1.get("roomserver_grid_fps", [])]
            result.server_grid_fps = fps_samples[0] if fps_samples else None
            result.stages = histogram_window(
                metrics0, metrics1, "roomserver_worker_grid_stage_seconds", "stage"
            )
            lag = [v for _, v in metrics1.get("roomserver_event_loop_lag_seconds", [])]
            result.loop_lag = lag[0] if lag else None
            d0, d1 = _dropped(metrics0), _dropped(metrics1)
            result.dropped = {k: d1[k] - d0.get(k, 0.0) for k in d1}
            for role in ROLES:
                result.window_sent[role] = sum(
                    m1["sent"][role] - m0["sent"][role]
                    for m0, m1 in zip(marks0, marks1, strict=True)
                )
                result.window_received[role] = int(
                    sum(
                        metric_delta(
                            metrics0,
                            metrics1,
                            "roomserver_inbound_frames_total",
                            seat=key,
                            kind=role,
                        )
                        for key in keys
                    )
                )
            grid0 = [m["rtp"].get("video", {}) for m in marks0]
            grid1 = [m["rtp"].get("video", {}) for m in marks1]
            pairs = list(zip(grid0, grid1, strict=True))
            result.grid_rtp = (
                sum(b.get("received", 0) - a.get("received", 0) for a, b in pairs),
                sum(b.get("lost", 0) - a.get("lost", 0) for a, b in pairs),
            )

            # Frames lost, whole run: stop sending, let what is in flight land, then count.
            stopped = _ask_all(conns, "stop_media", "stopped")
            time.sleep(SETTLE_S)
            metrics2 = parse_metrics(get(f"{base_url}/metrics"))
            for role in ROLES:
                result.sent[role] = sum(s["sent"][role] for s in stopped)
                result.received[role] = int(
                    sum(
                        metric_sum(metrics2, "roomserver_inbound_frames_total", seat=key, kind=role)
                        for key in keys
                    )
                )

            reports = _ask_all(conns, "report", "report")
            if supervisor is not None:
                focused = ask_supervisor(supervisor, "report", REPLY_TIMEOUT)
                result.focus_delays = focus_delays(
                    focused["counters"],
                    reports[0]["camera_sent"],
                    (marks0[0]["t"], marks1[0]["t"]),
                )
            for key, m0, m1, report in zip(keys, marks0, marks1, reports, strict=True):
                own = [d for t, d in report["delays"] if m0["t"] <= t <= m1["t"]]
                result.delays.extend(own)
                p95 = _percentile(own, 95)
                if p95 is not None:
                    result.seat_p95.append(p95)
                result.unread += m1["misses"] - m0["misses"]
                camera = "roomserver_inbound_frames_total"
                result.per_seat.append(
                    {
                        "seat": key,
                        "camera sent": m1["sent"]["camera"] - m0["sent"]["camera"],
                        "camera received": int(
                            metric_delta(metrics0, metrics1, camera, seat=key, kind="camera")
                        ),
                        "grid fps": (m1["grid"] - m0["grid"]) / (m1["t"] - m0["t"]),
                        "delay p50": _percentile(own, 50),
                        "delay p95": p95,
                        "unreadable": m1["misses"] - m0["misses"],
                    }
                )
        except Exception as exc:  # a benchmark reports what went wrong and moves on
            result.error = f"{type(exc).__name__}: {exc}"
            log_path = Path(tmp) / "server.log"
            if log_path.exists():
                tail = log_path.read_text(errors="replace").splitlines()[-15:]
                result.error += "\n    server log:\n    " + "\n    ".join(tail)
        finally:
            if supervisor is not None:
                stop_processes([supervisor[1]], [supervisor[0]], None)
            stop_processes(conns, procs, server)
    return result


# ---- report ----------------------------------------------------------------------------------


TONES = (330.0, 440.0, 550.0, 660.0, 770.0)


def build_loops(preview: bool = True) -> dict[str, list[bytes]]:
    """Pre-encode the media every seat replays (once, in the parent).

    The preview is the camera loop's pictures at 320x240 and 150 kbit/s, what the seat page
    sends beside its camera for the grid (``PREVIEW_*`` in web/rtc.js).
    """
    from media.testing.synthetic import camera_loop, desktop_loop, tone_loop

    colour = (200, 60, 40)
    loops = {
        "camera": [bytes(p) for p in camera_loop(colour, seconds=10, fps=CAMERA_FPS)],
        "desktop": [bytes(p) for p in desktop_loop(seconds=10, fps=DESKTOP_FPS)],
    }
    if preview:
        small = camera_loop(colour, seconds=10, fps=CAMERA_FPS, bitrate=150_000, size=(320, 240))
        loops["preview"] = [bytes(p) for p in small]
    for index, freq in enumerate(TONES):
        loops[f"microphone{index}"] = [bytes(p) for p in tone_loop(freq, seconds=1.0)]
    return loops


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark for each N and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seats", default="2,5,10", help="comma list of seat counts")
    parser.add_argument("--duration", type=float, default=30.0, help="measured window, seconds")
    parser.add_argument("--warmup", type=float, default=6.0, help="seconds before measuring")
    parser.add_argument("--no-desktop", action="store_true", help="seats send no desktop track")
    parser.add_argument(
        "--no-preview",
        action="store_true",
        help="seats send no preview: the server decodes their cameras for the grid",
    )
    parser.add_argument("--per-seat", action="store_true", help="also print one line per seat")
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="do not give the server a CPU of its own (seats on the others)",
    )
    parser.add_argument(
        "--supervision-seats",
        type=int,
        default=10,
        help="seats of the supervision runs (analysis off; supervisor in focus view); 0: none",
    )
    args = parser.parse_args(argv)
    counts = [int(x) for x in args.seats.split(",") if x.strip()]
    server_cpus, seat_cpus = cpu_split(not args.no_pin)
    pinning = (
        f"server pinned to CPU {sorted(server_cpus)}, seats to CPUs {sorted(seat_cpus)}"
        if server_cpus and seat_cpus
        else "no CPU pinning"
    )
    print(
        f"room benchmark: seats {counts}, window {args.duration:.0f} s, warm-up "
        f"{args.warmup:.0f} s, {psutil.cpu_count()} CPUs, {pinning}"
    )
    started = time.monotonic()
    loops = build_loops(preview=not args.no_preview)
    print(
        f"media per seat: {describe_loops(loops, not args.no_desktop)}, Opus 20 ms tone "
        f"(pre-encoded loops, pre-encode {time.monotonic() - started:.1f} s); delay measured "
        f"at {DELAY_SEATS} seats"
    )
    results = []
    for n in counts:
        result = run_once(
            n, args.duration, args.warmup, loops, not args.no_desktop, not args.no_pin
        )
        print_result(result, args.per_seat)
        results.append(result)
    if args.supervision_seats:
        n = args.supervision_seats
        baseline = next((r for r in results if r.seats == n and not r.error), None)
        variants = [("analysis off", ("--analysis-interval", "0"), False)]
        if baseline is None:
            variants.append(("analysis on", (), False))
        variants.append(("analysis on, supervisor in focus", (), True))
        for label, server_args, supervise in variants:
            result = run_once(
                n,
                args.duration,
                args.warmup,
                loops,
                not args.no_desktop,
                not args.no_pin,
                label=label,
                server_args=server_args,
                supervise=supervise,
            )
            print_result(result, args.per_seat)
            results.append(result)
    print_summary(results)
    if args.supervision_seats:
        print_supervision(results, args.supervision_seats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
