"""Janus benchmark: the same synthetic seats through Janus's VideoRoom and through this server.

    python bench/janus.py [--seats 10] [--subscribers 4] [--duration 20] [--warmup 6]

On the same machine in the same run, one after the other, each system gets N seats (default
10) that publish what bench/room.py's seats send, from the same pre-encoded loops: camera VP8
640x480 15 fps, its VP8 320x240 preview, an Opus tone, desktop VP8 1280x720 5 fps: 4 streams a
seat. The system is pinned to one CPU and the load (seat and subscriber processes) to the
others (``--no-pin`` to turn off). Each is measured over three windows: ingest (the seats
only), forward (K subscribers more, default 4, each receiving one seat's camera), and ingest
again once the subscribers have left. Ingest is the two ingest windows' mean (the difference
between them shows how much the machine drifted); the forward cost is the forward window's
increase over that mean, per forwarded camera.

Janus (Debian's ``janus`` package; skipped with a message when /usr/bin/janus is absent) runs
with a configuration folder written to a temporary directory (HTTP transport, VideoRoom plugin
only, the room recording every stream), driven over its REST API (bench/janus_api.py) by aiortc
peers: publishers, and subscribers to a feed's camera. Janus gathers no candidate on a
loopback interface, so its part of the run is in a network namespace of its own
(``unshare -n``) with a veth pair holding one address (10.77.0.1) that Janus and the peers
use; nothing leaves the namespace. Its CPU is the janus process's.

This server runs as bench/room.py runs it (loopback, one media worker, a load session, analysis
on as configured by default), the seats are room.py's; its subscribers are supervisors' focus
views that ask for the camera only (the forwarded path of media/forward.py: packets as the seat
sent them, no decoding). Its CPU is the server process tree's; besides taking in and recording
the streams it composes and encodes the grid, mixes and encodes the mix-minus and analyses the
cameras, so its ingest share is the whole minus those threads (``/metrics``
``roomserver_thread_cpu_seconds_total``: grid, mixminus, analysis); what it sends the seats
(the grid and the mix, packetized on the event loop) stays in the share.

Ratios are this server's figure per stream over Janus's. Target: ingest share <= 3x Janus's per
stream. A figure from a window in which media did not flow (streams missing at the receiver,
subscribers without frames) is marked so. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from bench import janus_api  # noqa: E402
from bench.common import (  # noqa: E402
    cli,
    cpu_seconds,
    cpu_split,
    free_port,
    get,
    link_token,
    machine,
    start_server,
    stop_processes,
    tree_cpu_seconds,
    wait_healthy,
)
from bench.janus_report import ROLES, compare, report_janus, report_ours  # noqa: E402
from bench.metrics import metric_delta, parse_metrics, thread_cpu_pct  # noqa: E402
from bench.room import (  # noqa: E402
    CAMERA_FPS,
    DESKTOP_FPS,
    TONES,
    SeatJob,
    build_loops,
    describe_loops,
    run_child,
    seat_process,
)

# The address of the Janus run's network namespace (its own veth pair, nothing else there).
JANUS_ADDRESS = "10.77.0.1"
READY_TIMEOUT = 60.0
REPLY_TIMEOUT = 20.0
FORWARD_SETTLE_S = 3.0


# ---- load processes: Janus publishers, subscribers of either system --------------------------


@dataclass
class JanusSeatJob:
    """One Janus publisher: the room's API and the loops it sends."""

    index: int
    base_url: str
    loops: dict[str, list[bytes]]
    cpus: set[int] | None = None


def janus_seat_process(job: JanusSeatJob, conn: Connection) -> None:
    """Entry point of a Janus publisher process: publish until told to stop."""
    if job.cpus:
        os.sched_setaffinity(0, job.cpus)
    run_child(_janus_seat(job, conn), conn)


async def _janus_seat(job: JanusSeatJob, conn: Connection) -> None:
    from media.testing.synthetic import PreEncodedAudioTrack, PreEncodedVideoTrack

    janus_api.offer_only(JANUS_ADDRESS)
    loops = job.loops
    tracks = {
        "camera": PreEncodedVideoTrack(loops["camera"], CAMERA_FPS),
        "preview": PreEncodedVideoTrack(loops["preview"], CAMERA_FPS),
        "microphone": PreEncodedAudioTrack(loops[f"microphone{job.index % len(TONES)}"]),
        "desktop": PreEncodedVideoTrack(loops["desktop"], DESKTOP_FPS),
    }
    session = janus_api.JanusSession(job.base_url)
    pc = None
    try:
        await session.start()
        feed, pc = await janus_api.publish(session, list(tracks.values()), f"seat-{job.index}")
        await _connected(pc)
        mid = pc.getTransceivers()[0].mid  # the camera's
        conn.send(("ready", {"feed": feed, "mid": mid}))
        while True:
            message = await asyncio.to_thread(conn.recv)
            if message == "mark":
                conn.send(("mark", {"sent": {r: t.frames_sent for r, t in tracks.items()}}))
            elif message == "stop":
                break
    finally:
        if pc is not None:
            await pc.close()
        await session.close()


async def _connected(pc: Any) -> None:
    """Until a peer connection is connected (a poll with a deadline)."""
    deadline = time.monotonic() + READY_TIMEOUT
    while pc.connectionState != "connected":
        if pc.connectionState in ("failed", "closed") or time.monotonic() > deadline:
            raise RuntimeError(f"publisher's peer connection {pc.connectionState}")
        await asyncio.sleep(0.05)


@dataclass
class SubscriberJob:
    """K subscribers in one process: Janus feeds (feed, mid) or this server's seats (session,
    seat key), each receiving one camera."""

    system: str  # "janus" or "ours"
    base_url: str
    targets: list[tuple[str, str]]
    token: str = ""
    cpus: set[int] | None = None


def subscriber_process(job: SubscriberJob, conn: Connection) -> None:
    """Entry point of the subscribers' process: receive until told to stop."""
    if job.cpus:
        os.sched_setaffinity(0, job.cpus)
    run_child(_subscribe(job, conn), conn)


async def _subscribe(job: SubscriberJob, conn: Connection) -> None:
    async with contextlib.AsyncExitStack() as stack:
        subscriptions: list[janus_api.Subscription] = []
        if job.system == "janus":
            janus_api.offer_only(JANUS_ADDRESS)
            session = janus_api.JanusSession(job.base_url)
            stack.push_async_callback(session.close)
            await session.start()
            for feed, mid in job.targets:
                subscriptions.append(await janus_api.subscribe(session, int(feed), mid))
                stack.push_async_callback(subscriptions[-1].close)
        else:
            from signaling.testing.wall import WallClient

            janus_api.offer_only("127.0.0.1")
            wall = await stack.enter_async_context(
                WallClient(job.base_url, job.token, keep_rgb=False)
            )
            for index, (session_id, seat) in enumerate(job.targets):
                subscriptions.append(await _focus_camera(wall, session_id, seat, f"k{index}"))
                stack.push_async_callback(subscriptions[-1].close)
        deadline = time.monotonic() + READY_TIMEOUT
        while any(s.frames < 5 for s in subscriptions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"subscribers' frames: {[s.frames for s in subscriptions]}")
            await asyncio.sleep(0.1)
        conn.send(("ready", [s.frames for s in subscriptions]))
        while True:
            message = await asyncio.to_thread(conn.recv)
            if message == "mark":
                conn.send(("mark", {"frames": [s.frames for s in subscriptions]}))
            elif message == "stop":
                break


async def _focus_camera(wall: Any, session_id: str, seat: str, viewer: str) -> Any:
    """A supervisor's focus view on `seat` that asks for its camera only."""
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    subscription = janus_api.Subscription(RTCPeerConnection(RTCConfiguration(iceServers=[])))
    pc = subscription.pc
    transceiver = pc.addTransceiver("video", direction="recvonly")
    pc.on("track", lambda track: janus_api.count_frames(subscription, track))
    await pc.setLocalDescription(await pc.createOffer())
    answer = await wall.call(
        "focus",
        {
            "session_id": session_id,
            "viewer": viewer,
            "seat": seat,
            "type": "offer",
            "sdp": pc.localDescription.sdp,
            "roles": {transceiver.mid: "camera"},
        },
    )
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
    return subscription


# ---- the two windows, the same for both systems ----------------------------------------------


@dataclass
class Load:
    """The processes of one system's run: the measured server, the seats, the subscribers."""

    server: psutil.Process
    seats: list[Connection]
    seat_procs: list[mp.process.BaseProcess]
    read: Callable[[], dict[str, Any]]  # the system's own counters, read at each mark
    subscribers: Connection | None = None
    marks: list[dict[str, Any]] = field(default_factory=list)

    def mark(self) -> dict[str, Any]:
        """CPU, the system's counters, what the seats sent and subscribers got: one instant."""
        conns = self.seats + ([self.subscribers] if self.subscribers else [])
        for conn in conns:
            conn.send("mark")
        taken: dict[str, Any] = {"t": time.monotonic(), "cpu": tree_cpu_seconds(self.server)}
        taken["load_cpu"] = sum(
            cpu_seconds(psutil.Process(p.pid)) for p in self.seat_procs if p.pid is not None
        )
        taken["counters"] = self.read()
        replies = collect(conns, "mark")
        taken["sent"] = {r: sum(m["sent"][r] for m in replies[: len(self.seats)]) for r in ROLES}
        taken["frames"] = replies[-1]["frames"] if self.subscribers else []
        self.marks.append(taken)
        return taken


def collect(conns: list[Connection], expect: str) -> list[Any]:
    """Every child's `expect` reply."""
    replies = []
    for index, conn in enumerate(conns):
        if not conn.poll(REPLY_TIMEOUT):
            raise TimeoutError(f"child {index} did not answer {expect!r}")
        kind, data = conn.recv()
        if kind != expect:
            raise RuntimeError(f"child {index}: {kind}: {data}")
        replies.append(data)
    return replies


def start_child(
    ctx: Any, target: Callable[..., None], job: Any, name: str
) -> tuple[mp.process.BaseProcess, Connection]:
    """A child process with a pipe; it is not waited for."""
    parent_end, child_end = ctx.Pipe()
    proc = ctx.Process(target=target, args=(job, child_end), name=name, daemon=True)
    proc.start()
    child_end.close()
    return proc, parent_end


def measure(
    load: Load, args: argparse.Namespace, start_subscribers: Callable[[], Connection]
) -> dict[str, Any]:
    """Three windows: ingest; K subscribers more (forward); the subscribers gone, ingest
    again (so that a drift of the machine shows, and the two ingest windows are averaged)."""
    time.sleep(args.warmup)
    load.mark()
    time.sleep(args.duration)
    load.mark()
    load.subscribers = start_subscribers()
    time.sleep(FORWARD_SETTLE_S)
    load.mark()
    time.sleep(args.duration)
    load.mark()
    subscribers, load.subscribers = load.subscribers, None
    subscribers.send("stop")
    subscribers.poll(REPLY_TIMEOUT)  # readable at its end: it closes its pipe
    time.sleep(FORWARD_SETTLE_S)
    load.mark()
    time.sleep(args.duration)
    load.mark()
    windows = {}
    for name, index in (("ingest", 0), ("forward", 2), ("ingest_after", 4)):
        first, last = load.marks[index], load.marks[index + 1]
        span = last["t"] - first["t"]
        windows[name] = {
            "s": span,
            "cpu": (last["cpu"] - first["cpu"]) * 100 / span,
            "load_cpu": (last["load_cpu"] - first["load_cpu"]) * 100 / span,
            "sent_fps": {r: (last["sent"][r] - first["sent"][r]) / span for r in ROLES},
            "sub_fps": [
                (b - a) / span for a, b in zip(first["frames"], last["frames"], strict=False)
            ],
            "counters": (first["counters"], last["counters"]),
        }
    return windows


# ---- Janus (in its own network namespace) ----------------------------------------------------


def janus_side(folder: Path, args: argparse.Namespace) -> int:
    """The Janus run, inside the namespace: prints its figures as one JSON line."""
    loops = pickle.loads((folder / "loops.pickle").read_bytes())
    server_cpus, load_cpus = cpu_split(not args.no_pin)
    port, admin_port = free_port(), free_port()
    base_url, admin_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{admin_port}"
    janus = janus_api.start_janus(folder / "conf", port, admin_port, JANUS_ADDRESS, server_cpus)
    ctx = mp.get_context("spawn")
    procs: list[mp.process.BaseProcess] = []
    conns: list[Connection] = []
    rec_dir = folder / "rec"
    try:
        rec_dir.mkdir(parents=True)
        info = asyncio.run(_create_room(base_url, janus, args.seats, rec_dir))
        for index in range(args.seats):
            job = JanusSeatJob(index, base_url, loops, load_cpus)
            proc, conn = start_child(ctx, janus_seat_process, job, f"janus-seat-{index}")
            procs.append(proc)
            conns.append(conn)
        feeds = collect(conns, "ready")
        load = Load(
            psutil.Process(janus.pid),
            list(conns),
            list(procs),
            lambda: asyncio.run(janus_api.janus_stats(admin_url)),
        )

        def start_subscribers() -> Connection:
            targets = [
                (str(feeds[i % len(feeds)]["feed"]), str(feeds[i % len(feeds)]["mid"]))
                for i in range(args.subscribers)
            ]
            job = SubscriberJob("janus", base_url, targets, cpus=load_cpus)
            proc, conn = start_child(ctx, subscriber_process, job, "janus-subscribers")
            procs.append(proc)
            conns.append(conn)
            collect([conn], "ready")
            return conn

        result = measure(load, args, start_subscribers)
        recorded = list(rec_dir.glob("*.mjr"))
        result["version"] = info.get("version_string", "?")
        result["recordings"] = (len(recorded), sum(p.stat().st_size for p in recorded))
    except Exception as exc:  # a benchmark reports what went wrong
        log = (folder / "conf" / "janus.log").read_text(errors="replace").splitlines()[-15:]
        result = {"error": f"{type(exc).__name__}: {exc}", "log": log}
    finally:
        stop_processes(conns, procs, None)
        janus.terminate()
        try:
            janus.wait(15)
        except subprocess.TimeoutExpired:
            janus.kill()
            janus.wait(5)
    print("RESULT " + json.dumps(result), flush=True)
    return 0


async def _create_room(
    base_url: str, janus: subprocess.Popen[bytes], seats: int, rec_dir: Path
) -> dict[str, Any]:
    """The VideoRoom room every seat joins, recording every stream; Janus's info."""
    await janus_api.wait_janus(base_url, janus)
    session = janus_api.JanusSession(base_url)
    try:
        await session.start()
        handle = await session.attach()
        await session.request(
            handle,
            {
                "request": "create",
                "room": janus_api.ROOM,
                "publishers": seats + 1,
                "videocodec": "vp8",
                "audiocodec": "opus",
                "bitrate": 0,
                "record": True,
                "rec_dir": str(rec_dir),
            },
        )
    finally:
        await session.close()
    import aiohttp

    async with aiohttp.ClientSession() as http, http.get(f"{base_url}/janus/info") as answer:
        return dict(await answer.json(content_type=None))


def run_janus(args: argparse.Namespace, loops: dict[str, list[bytes]]) -> dict[str, Any] | None:
    """Janus's run in a network namespace of its own; None (with a message) when skipped."""
    missing = [p for p in ("unshare", "ip") if shutil.which(p) is None]
    if not janus_api.installed():
        print("Janus: skipped, /usr/bin/janus is absent (Debian: apt-get install janus)")
        return None
    if missing or os.geteuid() != 0:
        print(f"Janus: skipped, needs root and {', '.join(missing) or 'unshare, ip'}")
        return None
    with tempfile.TemporaryDirectory(prefix="bench-janus-") as tmp:
        (Path(tmp) / "loops.pickle").write_bytes(pickle.dumps(loops))
        net = (
            "ip link set lo up && ip link add jbench0 type veth peer name jbench1"
            f" && ip addr add {JANUS_ADDRESS}/32 dev jbench0"
            ' && ip link set jbench0 up && ip link set jbench1 up && exec "$0" "$@"'
        )
        command = [sys.executable, __file__, "--janus-side", tmp, *sys.argv[1:]]
        done = subprocess.run(
            ["unshare", "-n", "sh", "-c", net, *command],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            timeout=600,
            check=False,
        )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    if not lines:
        return {"error": f"the Janus run exited with {done.returncode} and no figures"}
    return dict(json.loads(lines[-1][len("RESULT ") :]))


# ---- this server -----------------------------------------------------------------------------


def run_ours(args: argparse.Namespace, loops: dict[str, list[bytes]]) -> dict[str, Any]:
    """This server's run, as bench/room.py starts it."""
    server_cpus, load_cpus = cpu_split(not args.no_pin)
    ctx = mp.get_context("spawn")
    procs: list[mp.process.BaseProcess] = []
    conns: list[Connection] = []
    server = None
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="bench-janus-ours-") as tmp:
        common = ["--data-dir", str(Path(tmp) / "data"), "--bind", f"127.0.0.1:{port}"]
        try:
            links = json.loads(cli("load-session", "--seats", str(args.seats), *common))
            experts = [link for link in links if link.get("role") == "expert"][: args.seats]
            flags = ["--analysis-interval", "0"] if args.analysis_off else []
            server = start_server(
                [*common, *flags], Path(tmp) / "server.log", workers=1, cpus=server_cpus
            )
            wait_healthy(base_url, server)
            for index, link in enumerate(experts):
                job = SeatJob(
                    index,
                    base_url,
                    str(link["token"]),
                    loops["camera"],
                    loops[f"microphone{index % len(TONES)}"],
                    loops["desktop"],
                    load_cpus,
                    measure=False,
                    count_rtp=True,
                    preview=loops["preview"],
                )
                proc, conn = start_child(ctx, seat_process, job, f"bench-seat-{index}")
                procs.append(proc)
                conns.append(conn)
            keys = [str(r["key"]) for r in collect(conns, "ready")]
            session_id = str(experts[0]["session_id"])
            load = Load(
                psutil.Process(server.pid),
                list(conns),
                list(procs),
                lambda: dict(parse_metrics(get(f"{base_url}/metrics"))),
            )

            def start_subscribers() -> Connection:
                url = cli("token", "--supervisor", "基准测试监督员", *common).strip()
                targets = [(session_id, keys[i % len(keys)]) for i in range(args.subscribers)]
                job = SubscriberJob("ours", base_url, targets, link_token(base_url, url), load_cpus)
                proc, conn = start_child(ctx, subscriber_process, job, "bench-subscribers")
                procs.append(proc)
                conns.append(conn)
                collect([conn], "ready")
                return conn

            result = measure(load, args, start_subscribers)
            for window in result.values():
                first, last = window.pop("counters")
                threads: dict[str, float] = {}
                for (_, role), pct in thread_cpu_pct(first, last, window["s"]).items():
                    threads[role] = threads.get(role, 0.0) + pct
                window["threads"] = threads
                window["received_fps"] = {
                    role: metric_delta(first, last, "roomserver_inbound_frames_total", kind=role)
                    / window["s"]
                    for role in ROLES
                }
            return result
        except Exception as exc:  # a benchmark reports what went wrong
            log = Path(tmp) / "server.log"
            tail = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
            return {"error": f"{type(exc).__name__}: {exc}", "log": tail}
        finally:
            stop_processes(conns, procs, server)


def main(argv: list[str] | None = None) -> int:
    """Run Janus, then this server, with the same seats; print the figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seats", type=int, default=10, help="publishing seats (4 streams each)")
    parser.add_argument("--subscribers", type=int, default=4, help="forwarded cameras")
    parser.add_argument("--duration", type=float, default=20.0, help="each window, seconds")
    parser.add_argument("--warmup", type=float, default=6.0, help="seconds before measuring")
    parser.add_argument("--no-pin", action="store_true", help="no CPU of its own for the server")
    parser.add_argument("--analysis-off", action="store_true", help="this server's analysis off")
    parser.add_argument("--janus-side", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.janus_side is not None:
        return janus_side(args.janus_side, args)
    server_cpus, load_cpus = cpu_split(not args.no_pin)
    pinning = (
        f"server pinned to CPU {sorted(server_cpus)}, load to CPUs {sorted(load_cpus)}"
        if server_cpus and load_cpus
        else "no CPU pinning"
    )
    print(
        f"janus benchmark: {args.seats} seats x 4 streams, {args.subscribers} subscribers, "
        f"windows {args.duration:.0f} s, warm-up {args.warmup:.0f} s, {machine()}, {pinning}"
    )
    loops = build_loops()
    print(f"media per seat: {describe_loops(loops)}, Opus 20 ms tone (pre-encoded loops)")
    janus = run_janus(args, loops)
    janus_figures = report_janus(janus, args) if janus is not None else None
    ours_figures = report_ours(run_ours(args, loops), args)
    if janus_figures is not None and ours_figures is not None:
        compare(janus_figures, ours_figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
