"""Join benchmark: from opening a seat page to its first grid frame shown, and every seat page
live again after a server restart.

    python bench/join.py [--joins 20] [--restarts 5] [--pages 2]

A fresh server (loopback, ICE on 127.0.0.1, one media worker) with a load session of 10 experts;
on a machine with two or more CPUs the server is pinned to one CPU and the clients to the others.

- **Join**: nine synthetic seats (``bench/room.py``'s, in one process: camera with preview,
  microphone, desktop) keep the room full; the tenth seat is opened in headless Chromium (fake
  camera and microphone) by its kiosk link, in a fresh browser context each time (nothing cached:
  a seat computer opening its link), ``--joins`` times. A join lasts from the page's navigation
  to the first grid frame the page presents (``requestVideoFrameCallback`` on the grid's
  ``<video>``), both on the machine's clock. Target: p95 <= 1.0 s.
- **Restart**: a second room of 10 seats, live: ``--pages`` Chromium seat pages (one client core
  holds two at full rate) and synthetic seats for the rest, which find the server again as a
  page does (every 0.2 s); the server is stopped (SIGTERM, as an operator stops it), then started
  again, ``--restarts`` times. Per seat: from the start command to the first grid frame it
  received after it. Target: p95 <= 3.0 s. The server's own start (command to ``/healthz``) is
  printed beside, since it is part of every seat's figure.

Besides the join's figure, its steps as the page lives them (document parsed, devices, peer
connection, offer, answer, tracks, ICE, DTLS, first grid frame: medians from the navigation),
and the browser's share of the grid's delay: the seat page is left live in the full room for
``--window`` seconds after it settled, and each grid frame's time from its last packet's arrival
to the display the page's compositor expects for it (``requestVideoFrameCallback``'s
``receiveTime`` and ``expectedDisplayTime``) is printed with the page's own statistics of its
video jitter buffer and decoding. The same for a seat's camera as the server forwards it: a
supervisor's wall page (``roomserver token --supervisor``) focused on the room's first seat.
Headless, the display is the compositor's own clock: its figure moved between runs (medians 7
to 83 ms here) where the statistics did not (11 to 24 ms held, 2 to 3 ms decoding). After a
restart, the pages' steps back are printed the same way, from the start command.

Figures are printed against their targets, never asserted.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.capacity import room_load_process  # noqa: E402
from bench.common import (  # noqa: E402
    cli,
    cpu_split,
    free_port,
    machine,
    start_child,
    start_server,
    stop_processes,
    wait_healthy,
)
from bench.room import TONES, SeatJob, build_loops  # noqa: E402
from signaling.testing.chromium import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402
from tests.network.chromium import KEEP_PEERS  # noqa: E402

JOIN_TARGET_S = 1.0
RESTART_TARGET_S = 3.0
# In every page, before its own scripts: the machine-clock time (ms since the epoch) of every grid
# frame presented, the first one, and the first one after a moment the bench sets (``since``).
WATCH_GRID = """
window.__grid = {first: null, since: null, after: null, frames: 0, held: []};
document.addEventListener('DOMContentLoaded', () => {
  const video = document.querySelector('video[data-role=grid]');
  if (!video) return; // not a seat page
  const frame = (now, meta) => {
    const at = performance.timeOrigin + now;
    const grid = window.__grid;
    grid.frames += 1;
    // The browser's own share: from the frame's last packet received to its display.
    if (meta.receiveTime !== undefined && grid.held.length < 10000) {
      grid.held.push(meta.expectedDisplayTime - meta.receiveTime);
    }
    if (grid.first === null) grid.first = at;
    if (grid.since !== null && grid.after === null && at > grid.since) grid.after = at;
    video.requestVideoFrameCallback(frame);
  };
  video.requestVideoFrameCallback(frame);
});
"""
# In a join's page: when each step of a join happened (machine-clock ms since the epoch, each time),
# seen from outside the page's code: the document parsed, camera and microphone asked for and
# given, the peer connection made, the offer set, the server's answer given, ICE and DTLS up,
# the grid's track.
WATCH_PHASES = """
window.__phases = {};
(() => {
  const mark = (name) => {
    (window.__phases[name] ||= []).push(performance.timeOrigin + performance.now());
  };
  document.addEventListener('DOMContentLoaded', () => mark('document'));
  const devices = navigator.mediaDevices;
  const getUserMedia = devices.getUserMedia.bind(devices);
  devices.getUserMedia = async (...args) => {
    mark('devices asked');
    const stream = await getUserMedia(...args);
    mark('devices given');
    return stream;
  };
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = function (...args) {
    const pc = new Native(...args);
    mark('connection made');
    const setLocal = pc.setLocalDescription.bind(pc);
    pc.setLocalDescription = (...a) => { mark('offer set'); return setLocal(...a); };
    const setRemote = pc.setRemoteDescription.bind(pc);
    pc.setRemoteDescription = (...a) => { mark('answer given'); return setRemote(...a); };
    pc.addEventListener('iceconnectionstatechange', () => {
      if (pc.iceConnectionState === 'connected') mark('ICE up');
    });
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'connected') mark('DTLS up');
    });
    pc.addEventListener('track', () => mark('tracks'));
    return pc;
  };
  window.RTCPeerConnection.prototype = Native.prototype;
})();
"""
PHASES = (
    "document",
    "devices asked",
    "devices given",
    "connection made",
    "offer set",
    "answer given",
    "tracks",
    "ICE up",
    "DTLS up",
)


def video_stats(inbound: str = "true") -> str:
    """A page function: its video statistics summed over its connections, the inbound ones
    only where the JavaScript expression `inbound` holds for them (``s``), the outbound all."""
    return """async () => {
  const out = {buffered: 0, emitted: 0, decoding: 0, decoded: 0,
               encoding: 0, encoded: 0, pacing: 0, packets: 0};
  for (const pc of window.__peers) {
    for (const s of (await pc.getStats()).values()) {
      if (s.type === "inbound-rtp" && s.kind === "video" && (INBOUND)) {
        out.buffered += s.jitterBufferDelay || 0;
        out.emitted += s.jitterBufferEmittedCount || 0;
        out.decoding += s.totalDecodeTime || 0;
        out.decoded += s.framesDecoded || 0;
      } else if (s.type === "outbound-rtp" && s.kind === "video") {
        out.encoding += s.totalEncodeTime || 0;
        out.encoded += s.framesEncoded || 0;
        out.pacing += s.totalPacketSendDelay || 0;
        out.packets += s.packetsSent || 0;
      }
    }
  }
  return out;
}""".replace("INBOUND", inbound)


# A seat page's video statistics (what it receives is the grid).
GRID_STATS = video_stats()
# In the wall page: each picture of the focus view's camera, from its last packet's arrival to
# its expected display; and the inbound video statistics of that camera's track alone.
WATCH_FOCUS = """
window.__focus = {held: []};
document.addEventListener('DOMContentLoaded', () => {
  const video = document.getElementById('focus-camera');
  const frame = (now, meta) => {
    const focus = window.__focus;
    if (meta.receiveTime !== undefined && focus.held.length < 10000) {
      focus.held.push(meta.expectedDisplayTime - meta.receiveTime);
    }
    video.requestVideoFrameCallback(frame);
  };
  video.requestVideoFrameCallback(frame);
});
"""
FOCUS_STATS = video_stats(
    "s.trackIdentifier === document.getElementById('focus-camera').srcObject"
    "?.getVideoTracks()[0]?.id"
)
# Seconds a page is left live before its share of the grid's delay is measured.
SETTLE_S = 3.0
# A page's steps back after a restart (the document and its devices stay).
RESTART_PHASES = PHASES[3:]
READY_TIMEOUT_S = 60.0
PAGE_TIMEOUT_S = 30.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def summary(name: str, values: list[float], target: float) -> str:
    if not values:
        return f"{name}: no samples"
    p95 = percentile(values, 95)
    verdict = "met" if p95 <= target else "NOT met"
    return (
        f"{name}: n={len(values)} p50 {statistics.median(values):.3f} s, p95 {p95:.3f} s, "
        f"max {max(values):.3f} s (target p95 <= {target:.1f} s: {verdict})"
    )


class Chromium:
    """One headless Chromium (Playwright), pinned to the client CPUs."""

    def __init__(self, cpus: set[int] | None) -> None:
        from playwright.sync_api import sync_playwright

        if cpus:
            os.sched_setaffinity(0, cpus)  # Chromium's processes inherit it
        self._playwright = sync_playwright().start()
        self.browser = self._playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )

    def page(self, url: str, *scripts: str) -> tuple[Any, Any, float]:
        """A fresh context and page opened at `url` (`scripts` run before the page's own, after
        the grid's watch); the epoch time of the navigation."""
        context = self.browser.new_context(
            viewport={"width": 1366, "height": 768}, locale="zh-CN", timezone_id="Asia/Shanghai"
        )
        for script in (WATCH_GRID, *scripts):
            context.add_init_script(script)
        page = context.new_page()
        started = time.time()
        page.goto(url, wait_until="commit")
        return context, page, started

    def close(self) -> None:
        self.browser.close()
        self._playwright.stop()


def wait_for(page: Any, expression: str, timeout_s: float = PAGE_TIMEOUT_S) -> Any:
    """Wait until `expression` is truthy in the page; its value (polled every 20 ms: the page's
    own clock times the frames, so the poll adds nothing to the figures)."""
    page.wait_for_function(f"() => {expression}", timeout=timeout_s * 1000, polling=20)
    return page.evaluate(f"() => {expression}")


def joins(chromium: Chromium, url: str, count: int) -> tuple[list[float], dict[str, list[float]]]:
    """Open the seat `count` times, each in a fresh context; seconds to its first grid frame,
    and to each of the join's ``PHASES`` (from the navigation)."""
    found = []
    phases: dict[str, list[float]] = {name: [] for name in PHASES}
    for _ in range(count):
        context, page, started = chromium.page(url, WATCH_PHASES)
        try:
            first = wait_for(page, "window.__grid && window.__grid.first")
            found.append(first / 1000 - started)
            for name, at in page.evaluate("() => window.__phases").items():
                if name in phases:
                    phases[name].append(at[0] / 1000 - started)
            wait_for(page, "document.body.dataset.state === 'live'")
        finally:
            context.close()
    return found, phases


def grid_at_page(chromium: Chromium, url: str, seconds: float) -> dict[str, Any]:
    """A seat page live in the room for `seconds` after it settled: each grid frame's time
    from its last packet's arrival to its display (``requestVideoFrameCallback``), and the
    page's statistics at the window's start and end."""
    context, page, _ = chromium.page(url, KEEP_PEERS)
    try:
        wait_for(page, "document.body.dataset.state === 'live'")
        return watch(page, "window.__grid", GRID_STATS, seconds)
    finally:
        context.close()


def focus_at_wall(chromium: Chromium, url: str, session_id: str, seconds: float) -> dict[str, Any]:
    """The wall page (a supervisor's link) focused on the first seat of `session_id` for
    `seconds` after it settled: what ``grid_at_page`` measures, for the seat's camera as the
    server forwards it."""
    context, page, _ = chromium.page(url, KEEP_PEERS, WATCH_FOCUS)
    room = f"article.room-tile[data-session='{session_id}']"
    try:
        wait_for(page, "document.body.dataset.state === 'ready'")
        page.wait_for_selector(f"{room}[data-live='1']", timeout=PAGE_TIMEOUT_S * 1000)
        page.click(f"{room} .btn-focus")
        page.click("#focus-seats li.seat-item button")
        wait_for(page, "Number(document.getElementById('focus-camera').dataset.frames) > 0")
        return watch(page, "window.__focus", FOCUS_STATS, seconds)
    finally:
        context.close()


def watch(page: Any, watcher: str, stats: str, seconds: float) -> dict[str, Any]:
    """After the page settled, `seconds` of its `watcher`'s pictures (their times from the last
    packet to the expected display) and its statistics `stats` at the window's start and end."""
    time.sleep(SETTLE_S)  # past the first pictures, which wait for the first keyframe
    page.evaluate(f"() => {{ {watcher}.held = []; }}")
    first = page.evaluate(stats)
    time.sleep(seconds)
    return {
        "held": page.evaluate(f"() => {watcher}.held"),
        "first": first,
        "last": page.evaluate(stats),
    }


def print_page_grid(measured: dict[str, Any], seconds: float, what: str) -> None:
    """The browser's share of a video's delay, as measured by ``grid_at_page`` or
    ``focus_at_wall``."""
    held = [ms / 1000 for ms in measured["held"]]
    first, last = measured["first"], measured["last"]
    emitted = last["emitted"] - first["emitted"]
    decoded = last["decoded"] - first["decoded"]
    if not held or emitted <= 0 or decoded <= 0:
        print(f"  {what}: no frames shown")
        return
    buffered = (last["buffered"] - first["buffered"]) / emitted
    decoding = (last["decoding"] - first["decoding"]) / decoded
    print(
        f"  {what} ({seconds:.0f} s, {len(held)} frames): from a "
        f"frame's last packet to its display p50 {statistics.median(held) * 1000:.0f} ms, "
        f"p95 {percentile(held, 95) * 1000:.0f} ms; its statistics: jitter buffer "
        f"{buffered * 1000:.1f} ms, decoding {decoding * 1000:.1f} ms (means)"
    )
    encoded = last["encoded"] - first["encoded"]
    packets = last["packets"] - first["packets"]
    if encoded > 0 and packets > 0:
        # The sending side of the same page (a seat page: its camera, preview and screen).
        encoding = (last["encoding"] - first["encoding"]) / encoded
        pacing = (last["pacing"] - first["pacing"]) / packets
        print(
            f"    and as it sends its videos: encoding {encoding * 1000:.1f} ms a frame, "
            f"{pacing * 1000:.1f} ms a packet in its pacer (means)"
        )


def print_phases(
    phases: dict[str, list[float]], joined: list[float], *, origin: str = "from the navigation"
) -> None:
    """The medians of a join's steps from its `origin`, each with what it added."""
    steps = [(name, statistics.median(v)) for name, v in phases.items() if v]
    if joined:
        steps.append(("first grid frame", statistics.median(joined)))
    before = 0.0
    parts = []
    for name, at in steps:
        parts.append(f"{name} {at:.3f} s (+{(at - max(before, 0.0)) * 1000:.0f} ms)")
        before = max(before, at)
    print(f"  steps {origin} (medians): " + ", ".join(parts))


def restarts(
    chromium: Chromium, urls: list[str], seats: Connection, count: int, restart: Any
) -> tuple[list[float], list[float], list[float], dict[str, list[float]]]:
    """Pages and synthetic seats live; the server restarted `count` times. Seconds from each
    start command to each page's and each synthetic seat's first grid frame after it, the
    server's own start each time, and to each of the pages' ``RESTART_PHASES``."""
    pages = [chromium.page(url, WATCH_PHASES) for url in urls]
    back: list[float] = []
    synthetic: list[float] = []
    starts: list[float] = []
    steps: dict[str, list[float]] = {name: [] for name in RESTART_PHASES}
    try:
        for _context, page, _started in pages:
            wait_for(page, "window.__grid && window.__grid.first")
        for _ in range(count):
            started, healthy = restart(lambda at: [mark(p, at) for _c, p, _s in pages])
            starts.append(healthy - started)
            for _context, page, _started in pages:
                after = wait_for(page, "window.__grid.after")
                back.append(after / 1000 - started)
                wait_for(page, "document.body.dataset.state === 'live'")
                for name, times in page.evaluate("() => window.__phases").items():
                    later = [t / 1000 - started for t in times if t / 1000 > started]
                    if name in steps and later:
                        steps[name].append(min(later))
            synthetic.extend(seats_back(seats, started))
    finally:
        for context, _page, _started in pages:
            context.close()
    return back, synthetic, starts, steps


def seats_back(seats: Connection, started: float) -> list[float]:
    """Each synthetic seat's first grid frame after `started`, in seconds from it."""
    deadline = time.monotonic() + PAGE_TIMEOUT_S
    while True:
        seats.send("mark")
        kind, marks = seats.recv()
        if kind != "mark":
            raise RuntimeError(f"synthetic seats: {kind}: {marks}")
        grids = [
            min(
                (g for _lost, _connected, g in m["rejoined"] if g is not None and g > started),
                default=None,
            )
            for m in marks
        ]
        if all(g is not None for g in grids):
            return [g - started for g in grids if g is not None]
        if time.monotonic() > deadline:
            raise TimeoutError(f"synthetic seats not back within {PAGE_TIMEOUT_S:.0f} s")
        time.sleep(0.2)  # the seats' process is asked again; it pushes nothing by itself


def mark(page: Any, at: float) -> None:
    page.evaluate(f"window.__grid.since = {at * 1000!r}; window.__grid.after = null")


def load_seats(
    base_url: str, experts: list[dict[str, Any]], cpus: set[int] | None, *, rejoin: bool = False
) -> tuple[mp.process.BaseProcess, Connection]:
    """Synthetic seats for `experts`, in one process; returns once every seat has joined. With
    `rejoin` they find the server again after losing it."""
    loops = build_loops()
    jobs = [
        SeatJob(
            index,
            base_url,
            str(link["token"]),
            loops["camera"],
            loops[f"microphone{index % len(TONES)}"],
            loops["desktop"],
            cpus,
            measure=False,
            count_rtp=True,
            preview=loops.get("preview"),
            cluster=(base_url,) if rejoin else (),
        )
        for index, link in enumerate(experts)
    ]
    return start_child(
        mp.get_context("spawn"),
        room_load_process,
        (jobs,),
        who="synthetic seats",
        timeout=READY_TIMEOUT_S,
    )


def run(args: argparse.Namespace) -> int:
    where = machine()  # before this process is pinned to the client CPUs
    server_cpus, client_cpus = cpu_split(not args.no_pin)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="bench-join-") as tmp:
        data_dir = Path(tmp) / "data"
        common = ["--data-dir", str(data_dir), "--bind", f"127.0.0.1:{port}"]
        log = Path(tmp) / "server.log"
        server: list[subprocess.Popen[bytes]] = []

        def start() -> tuple[float, float]:
            started = time.time()
            server.append(start_server(common, log, workers=1, cpus=server_cpus))
            wait_healthy(base_url, server[-1])
            return started, time.time()

        def restart(before_start: Any) -> tuple[float, float]:
            proc = server[-1]
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
            started = time.time()
            before_start(started)
            server.append(start_server(common, log, workers=1, cpus=server_cpus))
            wait_healthy(base_url, server[-1])
            return started, time.time()

        rooms = [json.loads(cli("load-session", "--seats", "10", *common)) for _ in range(2)]
        load: tuple[mp.process.BaseProcess, Connection] | None = None
        chromium: Chromium | None = None
        try:
            start()
            experts = [x for x in rooms[0] if x.get("role") == "expert"]
            load = load_seats(base_url, experts[:9], client_cpus)
            chromium = Chromium(client_cpus)
            joined, phases = joins(chromium, str(experts[9]["url"]), args.joins)
            at_page = grid_at_page(chromium, str(experts[9]["url"]), args.window)
            wall_url = cli("token", "--supervisor", "监督员", *common).strip()
            at_wall = focus_at_wall(chromium, wall_url, str(experts[0]["session_id"]), args.window)
            load[1].send("stop")
            load[0].join(30)
            load = None
            others = [x for x in rooms[1] if x.get("role") == "expert"]
            load = load_seats(base_url, others[args.pages :], client_cpus, rejoin=True)
            urls = [str(x["url"]) for x in others[: args.pages]]
            back, synthetic, starts, steps = [], [], [], {}
            if args.restarts:
                back, synthetic, starts, steps = restarts(
                    chromium, urls, load[1], args.restarts, restart
                )
        except Exception:
            print(f"server log (last lines):\n{log.read_text(errors='replace')[-3000:]}")
            raise
        finally:
            if chromium is not None:
                chromium.close()
            if load is not None:
                load[1].send("stop")
                load[0].join(30)
            stop_processes([], [], server[-1] if server else None)
    print(
        f"join benchmark on {where}; server on CPUs {server_cpus or 'any'}, clients on "
        f"{client_cpus or 'any'}"
    )
    print("join: a seat page opened by its kiosk link, 9 synthetic seats in the room")
    print("  " + summary("to the first grid frame shown", joined, JOIN_TARGET_S))
    print_phases(phases, joined)
    print_page_grid(at_page, args.window, "the grid at a Chromium seat page")
    print_page_grid(
        at_wall, args.window, "a seat's camera in the focus view of a Chromium wall page"
    )
    if not args.restarts:
        return 0
    print(
        f"restart: {args.pages} seat pages and {10 - args.pages} synthetic seats, server stopped "
        "(SIGTERM) and started again"
    )
    print("  " + summary("pages: start command to the next grid frame", back, RESTART_TARGET_S))
    print("  " + summary("synthetic seats: the same", synthetic, RESTART_TARGET_S))
    print("  " + summary("every seat", back + synthetic, RESTART_TARGET_S))
    print(
        f"  the server's own start (command to /healthz): "
        f"p50 {statistics.median(starts):.3f} s, max {max(starts):.3f} s"
    )
    print_phases({"server healthy": starts, **steps}, back, origin="from the start command")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--joins", type=int, default=20)
    parser.add_argument("--restarts", type=int, default=5)
    parser.add_argument("--pages", type=int, default=2)
    parser.add_argument(
        "--window", type=float, default=10.0, help="seconds the grid is watched at a seat page"
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and clients")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
