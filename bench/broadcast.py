"""Broadcast benchmark: what each viewer of a hall's live broadcast costs the server's workers.

    python bench/broadcast.py [--steps 50,100,150,200] [--modes lean:1,lean:N,aiortc:1]
                              [--window 10] [--settle 3] [--join-rate 25]

One broadcast as a bid-opening hall sends it (开标直播): the host's camera, 1280x720 VP8 at
about 1.2 Mbit/s and 30 fps, forwarded as it arrives; the hall's screen, here the room grid
composed and encoded once by the server at 5 fps and 300 kbit/s (a low-rate picture, as the
information screen is); and the room's sound, mixed and encoded once (Opus, 48 kbit/s). For
each mode, real media worker processes (``python -m signaling.worker``, each pinned to a CPU of
its own as the server runs them) host the hall's room on worker 0, where the host sits
(``bench/broadcast_load.py``: a pre-encoded camera loop that restarts at its keyframe when the
server asks for one, as a browser sends a keyframe on request, and an Opus tone). This process
plays the signaling process: ``signaling.services.broadcasts.Broadcasts`` opens the broadcast
and places every viewer.

Viewers are added in steps (50 at a time by default, ``--join-rate`` a second) by processes of
cheap viewers: real aiortc peers that make the offer a viewer's page makes and complete ICE and
DTLS, then count the SRTP packets by their clear RTP headers without decrypting them
(``bench/broadcast_load.py``), so that the load generator does not eat the cores being
measured. In one-worker modes the load runs on the other CPUs; with a worker on every CPU the
load shares them.

At each step, once every new viewer has its first camera packet and the rest settled, a window
is measured: the workers' CPU time (psutil, user + system of each worker process) per viewer in
ms a second, over and above the same broadcast with no viewer (measured first), and a packet
sent; the packets each viewer lost (gaps in each stream's sequence numbers, nothing sent again)
and the camera frames it got a second (the host sends 30: a sender that drops frames before it
numbers their packets, as aiortc's does when it falls behind, loses no sequence number); and
the join time of the step's viewers, from the offer to the first packet of any stream and of
the camera, seen by the viewer and at the worker. On loopback a worker's system calls also do
the viewers' receiving, and the kernel may count that work to whichever process it interrupts:
the share printed is the workers' own. Each mode starts with ``bench/probe.py``'s speed probe,
as this machine's speed varies from minute to minute; its other users show in the load average.
Modes: ``lean`` is the broadcast's own path (``media.broadcast``), ``aiortc`` the reference,
an aiortc sender per viewer and stream (``MediaConfig.broadcast_sender``); the number after
the colon is the workers (``N``: one per CPU). Targets: at most 3.7 ms of CPU a second per
viewer (what Janus spends forwarding an audio and a video stream on this kind of machine),
flat as viewers grow; under 0.5 % loss; joins within 1 s at the 95th percentile. Figures are
printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import multiprocessing as mp
import os
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import psutil  # noqa: E402

from bench.broadcast_load import HostJob, host_process, viewers_process  # noqa: E402
from bench.broadcast_report import (  # noqa: E402
    ModeResult,
    StepResult,
    loss,
    percentile,
    percents,
    print_step,
    print_summary,
)
from bench.common import cpu_seconds, machine  # noqa: E402
from bench.metrics import Metrics, largest_loop_delay, parse_metrics  # noqa: E402
from bench.probe import SpeedProbe  # noqa: E402
from media.config import MediaConfig  # noqa: E402
from signaling.config import IceConfig  # noqa: E402
from signaling.services.broadcasts import Broadcasts, BroadcastSource  # noqa: E402
from signaling.services.pool import WorkerPool, WorkerProcess  # noqa: E402
from signaling.services.signals import Signals  # noqa: E402
from signaling.worker.settings import WorkerSettings  # noqa: E402

SESSION = "bench-hall"
HOST = "hall:1"
CAMERA_FPS = 30
CAMERA_BITRATE = 1_200_000
VIEWERS_PER_PROCESS = 100
# A mode this far past its capacity stops adding viewers: this much lost, the camera under
# this rate at its viewers (a sender that drops frames before numbering them loses no
# sequence number), or a viewer who could not join.
STOP_LOSS_PCT = 10.0
STOP_CAMERA_FPS = 0.9 * CAMERA_FPS
SOURCES = [
    BroadcastSource("camera", "seat", key=HOST),
    BroadcastSource("screen", "grid"),
    BroadcastSource("sound", "mix"),
]


class Load:
    """The viewers' processes, and the answers this process gives their offers."""

    def __init__(self, broadcasts: Broadcasts, count: int, cpus: set[int] | None) -> None:
        self._broadcasts = broadcasts
        context = mp.get_context("spawn")
        self._conns: list[Connection] = []
        self._procs: list[Any] = []
        for _ in range(count):
            ours, theirs = context.Pipe()
            proc = context.Process(target=viewers_process, args=(theirs, cpus, "127.0.0.1"))
            proc.start()
            theirs.close()
            self._conns.append(ours)
            self._procs.append(proc)
        self._replies: dict[int, asyncio.Future[Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.refused = 0
        self.pids = [int(p.pid) for p in self._procs]
        loop = asyncio.get_running_loop()
        for index, conn in enumerate(self._conns):
            loop.add_reader(conn.fileno(), self._readable, index)

    def _readable(self, index: int) -> None:
        conn = self._conns[index]
        try:
            kind, data = conn.recv()
        except (EOFError, OSError):
            asyncio.get_running_loop().remove_reader(conn.fileno())
            return
        if kind == "offer":
            task = asyncio.create_task(self._answer(index, *data))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif kind == "error":
            print(f"  viewers' process {index} failed: {data}", file=sys.stderr)
        else:
            future = self._replies.pop(index, None)
            if future is not None and not future.done():
                future.set_result(data)

    async def _answer(self, index: int, vid: str, sdp: str, roles: dict[str, str]) -> None:
        try:
            answer = await self._broadcasts.viewer(SESSION, sdp, roles, viewer=vid)
        except Exception as exc:
            self.refused += 1
            print(f"  viewer {vid} refused: {exc}", file=sys.stderr)
            self._conns[index].send(("refused", (vid,)))
            return
        self._conns[index].send(("answer", (vid, answer.sdp)))

    def join(self, vid: str, number: int) -> None:
        """Add viewer `vid` in the process whose turn it is."""
        self._conns[number % len(self._conns)].send(("join", [vid]))

    async def snapshot(self) -> dict[str, dict[str, Any]]:
        """Every viewer's counts now."""
        loop = asyncio.get_running_loop()
        futures = []
        for index, conn in enumerate(self._conns):
            future = self._replies[index] = loop.create_future()
            conn.send(("snapshot", None))
            futures.append(future)
        merged: dict[str, dict[str, Any]] = {}
        for part in await asyncio.wait_for(asyncio.gather(*futures), 60):
            merged.update(part)
        return merged

    async def stop(self) -> None:
        """Close every viewer and end the processes."""
        loop = asyncio.get_running_loop()
        for index, conn in enumerate(self._conns):
            future = self._replies[index] = loop.create_future()
            with contextlib.suppress(OSError):
                conn.send(("stop", None))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(future, 30)
            loop.remove_reader(conn.fileno())
        for proc in self._procs:
            await asyncio.to_thread(proc.join, 10)
            if proc.is_alive():
                proc.kill()
        for conn in self._conns:
            conn.close()


def worker_cpu(pool: WorkerPool) -> list[float]:
    """CPU seconds of each worker process so far."""
    return [cpu_seconds(psutil.Process(w.pid)) if w.pid else 0.0 for w in pool.workers]


def worker_system_cpu(pool: WorkerPool) -> float:
    """CPU seconds the workers spent in the kernel so far (system calls, and on loopback the
    viewers' receiving too)."""
    return sum(float(psutil.Process(w.pid).cpu_times().system) for w in pool.workers if w.pid)


async def wait_joined(load: Load, vids: list[str], within: float) -> dict[str, dict[str, Any]]:
    """Until every viewer of `vids` has a camera packet (or `within` s passed): the snapshot."""
    deadline = time.monotonic() + within
    while True:
        snap = await load.snapshot()
        if all(snap.get(v, {}).get("join_camera") is not None for v in vids):
            return snap
        if time.monotonic() > deadline:
            return snap
        await asyncio.sleep(0.5)  # the load processes report only when asked


async def open_hall(pool: WorkerPool, job: HostJob) -> tuple[Any, Connection]:
    """The hall's room on worker 0, with the host in it (a process of its own)."""
    origin = pool.workers[0]
    await origin.request(
        "open_room",
        {
            "session_id": SESSION,
            "project_code": "BENCH",
            "project_name": "开标大厅",
            "tiles": [{"key": HOST, "label": "开标大厅 · 主持人"}],
            "record": False,
        },
    )
    origin.rooms.add(SESSION)
    context = mp.get_context("spawn")
    ours, theirs = context.Pipe()
    proc = context.Process(target=host_process, args=(job, theirs))
    proc.start()
    theirs.close()
    kind, sdp, roles = await asyncio.to_thread(ours.recv)
    if kind != "offer":
        raise RuntimeError(f"host: {sdp}")
    answer = await origin.request(
        "negotiate", {"session_id": SESSION, "seat": HOST, "sdp": sdp, "roles": roles}
    )
    ours.send(("answer", answer["sdp"]))
    kind, data = await asyncio.to_thread(ours.recv)
    if kind != "ready":
        raise RuntimeError(f"host: {data}")
    return proc, ours


async def wait_flowing(origin: WorkerProcess, within: float) -> None:
    """Until the room composes its grid and its host's camera reaches the broadcast (a poll:
    the worker reports when asked)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        stats = await origin.request("stats", {})
        grid = sum(r["grid_fps"] for r in stats["rooms"] if r["session_id"] == SESSION)
        camera = sum(
            b["streams"]["camera"]["frames"]
            for b in stats["broadcasts"]
            if b["session_id"] == SESSION
        )
        # The aiortc reference feeds no stream of its own: the grid's pictures must do.
        if grid > 0 and (camera >= 30 or stats["broadcasts"] and not camera and grid > 2):
            return
        await asyncio.sleep(0.25)
    raise TimeoutError("the hall's media does not flow")


async def dropped_frames(pool: WorkerPool) -> int:
    """Frames the workers' streams dropped so far (held back too long)."""
    total = 0
    for worker in pool.workers:
        stats = await worker.request("stats", {})
        total += sum(b["frames_dropped"] for b in stats["broadcasts"])
    return total


async def run_mode(path: str, workers: int, args: argparse.Namespace, job: HostJob) -> ModeResult:
    """A fresh set of workers, the hall, the broadcast, then the viewers step by step."""
    result = ModeResult(f"{path}, {workers} worker{'s' if workers > 1 else ''}")
    cpus = sorted(os.sched_getaffinity(0))
    load_cpus = set(cpus[workers:]) or None  # the workers take the first CPUs, one each
    with tempfile.TemporaryDirectory(prefix="bench-broadcast-") as tmp:
        settings = WorkerSettings(
            archive_root=str(Path(tmp) / "archive"),
            archive_keys_dir=str(Path(tmp) / "secrets" / "archive-keys"),
            archive_keys_path=str(Path(tmp) / "archive-keys.json"),
            media=MediaConfig(
                analysis_interval_s=0, grid_fps=5, grid_bitrate=300_000, broadcast_sender=path
            ),
            ice=IceConfig(host_addresses=("127.0.0.1",)),
            log_level="WARNING",
        )
        signals = Signals()
        pool = WorkerPool(workers, settings, signals)
        origin = pool.workers[0]
        broadcasts = Broadcasts(
            pool,
            lambda s: origin if s == SESSION else None,
            signals,
            seats=lambda w: 1 if w is origin else 0,
        )

        def on_event(worker: WorkerProcess, name: str, params: dict[str, Any]) -> None:
            if name == "broadcast_viewer":
                broadcasts.viewer_state(params)

        signals.worker_event.connect(on_event)
        signals.freeze()
        await pool.start()
        host = load = None
        try:
            job.cpus = load_cpus
            host = await open_hall(pool, job)
            await broadcasts.open(SESSION, SOURCES)
            await wait_flowing(origin, 30)
            await asyncio.sleep(args.settle)
            cpu0, t0 = worker_cpu(pool), time.monotonic()
            await asyncio.sleep(args.window)
            cpu1, t1 = worker_cpu(pool), time.monotonic()
            idle = [(b - a) / (t1 - t0) for a, b in zip(cpu0, cpu1, strict=True)]
            result.idle_cpu_pct = [100 * x for x in idle]
            print(f"  no viewer: workers' CPU {percents(result.idle_cpu_pct)} of one core each")
            steps = [int(s) for s in args.steps.split(",")]
            load = Load(broadcasts, max(1, math.ceil(steps[-1] / VIEWERS_PER_PROCESS)), load_cpus)
            count = 0
            for target in steps:
                metrics_before = await worker_metrics(pool)
                vids = [f"v{n}" for n in range(count, target)]
                for vid in vids:
                    load.join(vid, count)
                    count += 1
                    await asyncio.sleep(1 / args.join_rate)
                joined = await wait_joined(load, vids, 60)
                await asyncio.sleep(args.settle)
                step = await measure(pool, broadcasts, load, idle, args.window)
                ok = [joined[v] for v in vids if joined.get(v, {}).get("join_camera") is not None]
                step.joined, step.asked = len(ok), len(vids)
                server = await server_joins(pool, vids)
                for q in (50, 95):
                    step.joins[f"first{q}"] = percentile([j["join"] for j in ok], q)
                    step.joins[f"camera{q}"] = percentile([j["join_camera"] for j in ok], q)
                    step.joins[f"connected{q}"] = percentile([a for a, _b in server], q)
                    step.joins[f"server{q}"] = percentile([b for _a, b in server], q)
                step.loop_delay = largest_loop_delay(metrics_before, await worker_metrics(pool))
                step.keyframe_waits = await keyframe_waits(origin)
                step.load_average = os.getloadavg()[0]
                result.steps.append(step)
                print_step(step)
                if (
                    step.loss_mean_pct > STOP_LOSS_PCT
                    or step.camera_fps < STOP_CAMERA_FPS
                    or step.joined < step.asked
                ):
                    result.stopped = (
                        f"stopped at {target} viewers: {step.loss_mean_pct:.1f} % lost, camera at "
                        f"{step.camera_fps:.1f} fps, {step.joined} of {step.asked} joined"
                    )
                    print(f"  {result.stopped}")
                    break
        finally:
            if load is not None:
                await load.stop()
            await broadcasts.close_all()
            if host is not None:
                proc, conn = host
                with contextlib.suppress(OSError):
                    conn.send(("stop", None))
                await asyncio.to_thread(proc.join, 10)
                if proc.is_alive():
                    proc.kill()
                conn.close()
            await pool.close()
    return result


async def measure(
    pool: WorkerPool, broadcasts: Broadcasts, load: Load, idle: list[float], window: float
) -> StepResult:
    """One measured window with the viewers there are now."""
    drops0 = await dropped_frames(pool)
    viewer_pids, worker_pids = load.pids, [w.pid for w in pool.workers if w.pid]
    sockets0 = udp_drops(viewer_pids), udp_drops(worker_pids)
    snap0, cpu0, t0 = await load.snapshot(), worker_cpu(pool), time.monotonic()
    system0 = worker_system_cpu(pool)
    await asyncio.sleep(window)
    snap1, cpu1, t1 = await load.snapshot(), worker_cpu(pool), time.monotonic()
    system1 = worker_system_cpu(pool)
    sockets1 = udp_drops(viewer_pids), udp_drops(worker_pids)
    elapsed = t1 - t0
    rates = [(b - a) / elapsed for a, b in zip(cpu0, cpu1, strict=True)]
    losses, packets, camera, camera_frames = [], 0, 0, 0
    for vid, after in snap1.items():
        before = snap0.get(vid)
        if before is None or before.get("join_camera") is None:
            continue
        lost, received = loss(before, after)
        losses.append(lost)
        packets += received
        camera_frames += after["camera_frames"] - before["camera_frames"]
        ssrc = after["camera"]
        if ssrc in before["streams"] and ssrc in after["streams"]:
            camera += after["streams"][ssrc][0] - before["streams"][ssrc][0]
    viewers = max(1, len(losses))
    extra = sum(rates) - sum(idle)
    return StepResult(
        viewers=len(losses),
        per_worker=broadcasts.viewers(SESSION),
        cpu_pct=[100 * r for r in rates],
        ms_per_viewer=1000 * extra / viewers,
        us_per_packet=1e6 * extra * elapsed / max(1, packets),
        pps_per_viewer=packets / elapsed / viewers,
        camera_pps=camera / elapsed / viewers,
        camera_fps=camera_frames / elapsed / viewers,
        loss_mean_pct=float(np.mean(losses)) if losses else math.nan,
        loss_max_pct=max(losses) if losses else math.nan,
        viewer_drops=dropped_between(sockets0[0], sockets1[0]),
        server_drops=dropped_between(sockets0[1], sockets1[1]),
        dropped_frames=await dropped_frames(pool) - drops0,
        system_pct=100 * (system1 - system0) / max(1e-9, sum(cpu1) - sum(cpu0)),
    )


def udp_drops(pids: list[int]) -> dict[str, int]:
    """Datagrams dropped so far at each open UDP socket of these processes (full buffers), by
    the socket's inode."""
    inodes = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if link.startswith("socket:["):
                        inodes.add(link[8:-1])
    drops = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 12 and fields[9] in inodes:
                drops[fields[9]] = int(fields[12])
    return drops


def dropped_between(before: dict[str, int], after: dict[str, int]) -> int:
    """Datagrams dropped between two readings, at the sockets open at both."""
    return sum(after[inode] - before[inode] for inode in after.keys() & before.keys())


async def worker_metrics(pool: WorkerPool) -> Metrics:
    """The workers' own metrics now (their event loops' delays among them)."""
    merged: Metrics = {}
    for worker in pool.workers:
        stats = await worker.request("stats", {})
        for name, samples in parse_metrics(stats["metrics"]).items():
            # Named as the signaling process shows a worker's histogram (signaling.metrics).
            shown = name.replace("roomserver_", "roomserver_worker_", 1)
            labelled = [({**labels, "worker": str(worker.index)}, v) for labels, v in samples]
            merged.setdefault(shown, []).extend(labelled)
    return merged


async def keyframe_waits(origin: WorkerProcess) -> list[float]:
    """Seconds from the origin's keyframe requests to the camera's keyframes (latest ones)."""
    stats = await origin.request("stats", {})
    for entry in stats["broadcasts"]:
        if entry["session_id"] == SESSION and "camera" in entry["streams"]:
            return list(entry["streams"]["camera"].get("keyframe_latencies", []))
    return []


async def server_joins(pool: WorkerPool, vids: list[str]) -> list[tuple[float, float]]:
    """The server's part of these viewers' joins: offer to first packet, and to every stream's."""
    wanted, found = set(vids), []
    for worker in pool.workers:
        stats = await worker.request("stats", {})
        found += [(a, b) for v, a, b in stats.get("broadcast_joins", []) if v in wanted]
    return found


def build_host(args: argparse.Namespace) -> HostJob:
    """The host's pre-encoded camera and microphone (once, in this process)."""
    from media.testing.synthetic import camera_loop, tone_loop

    camera = [
        bytes(p)
        for p in camera_loop(
            (60, 110, 170),
            seconds=args.loop_seconds,
            fps=CAMERA_FPS,
            bitrate=CAMERA_BITRATE,
            keyframe_interval=None,
            size=(1280, 720),
        )
    ]
    microphone = [bytes(p) for p in tone_loop(440, seconds=1.0)]
    return HostJob(camera=camera, microphone=microphone, fps=CAMERA_FPS)


async def main_async(args: argparse.Namespace) -> None:
    """Every mode in turn."""
    job = build_host(args)
    kbits = sum(len(p) for p in job.camera) * 8 / (len(job.camera) / CAMERA_FPS) / 1000
    cpus = len(os.sched_getaffinity(0))
    print(f"== broadcast benchmark on {machine()} ==")
    print(
        f"  camera 1280x720 VP8 {CAMERA_FPS} fps, {kbits:.0f} kbit/s (its loop; keyframes on "
        f"request); screen 960x720 VP8 5 fps 300 kbit/s; sound Opus 48 kbit/s"
    )
    results = []
    for mode in args.modes.split(","):
        path, _, count = mode.partition(":")
        workers = cpus if count == "N" else int(count or 1)
        probe = SpeedProbe().best_of()
        print(
            f"== {path}, {workers} worker(s) == (speed probe: {probe.python_ms:.0f} ms Python, "
            f"{probe.codec_ms:.0f} ms codec; a slower machine takes longer, bench/probe.py)"
        )
        results.append(await run_mode(path, workers, args, job))
    print_summary(results)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="50,100,150,200", help="viewer counts, in order")
    parser.add_argument("--modes", default="lean:1,lean:N,aiortc:1", help="path:workers list")
    parser.add_argument("--window", type=float, default=10.0, help="measured seconds a step")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds before each window")
    parser.add_argument("--join-rate", type=float, default=25.0, help="viewers joining a second")
    parser.add_argument("--loop-seconds", type=float, default=10.0, help="the camera's loop")
    args = parser.parse_args(argv)
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
