"""Prometheus metrics of the server (``GET /metrics``), on a registry owned by the app.

/metrics answers a scraper on this machine without a token; it names no session and shows
nothing of the supervisors (who watches which room is for the room's log, not for a scrape):
rooms are shown by media worker, frames by seat (``venue:number``) and kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

# Bounds of the event loop's delay histogram, seconds: from a loop keeping up to a stall.
LOOP_DELAY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Bounds of the grid's stage histogram, seconds: a frame's time in one stage of the grid.
GRID_STAGE_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0)
GRID_STAGES = ("ingress", "wait", "compose", "encode", "send")
# Bounds of the voice's stage histogram, seconds: finer, the voice's budget is 80 ms in all.
VOICE_STAGE_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.25)
# The voice through the mix-minus (``media.room.RoomMedia.tell_voice_stages``).
VOICE_STAGES = ("ingress", "buffer", "mix", "encode", "send")
# A media worker's histogram ``roomserver_X`` is shown as ``roomserver_worker_X{worker=...}``.
OWN_PREFIX, WORKER_PREFIX = "roomserver_", "roomserver_worker_"


@dataclass(frozen=True)
class RoomSample:
    """A room's figures at scrape time. Not shown one by one: /metrics names no session."""

    worker: int  # the media worker hosting the room
    seats_online: int
    grid_fps: float
    grid_frames_skipped: int
    # Seconds between samples of a seat's camera (above the configured value: machine busy).
    analysis_interval_s: float | None = None
    analysis_samples: int = 0


class _RoomCollector(Collector):
    """The rooms' figures, by media worker.

    /metrics is open to a scraper without a token, so it names no session and says nothing
    of who watches: a room's receivers (a supervisor on the wall among them) are not shown.
    """

    def __init__(self, sample: Callable[[], Iterable[RoomSample]]) -> None:
        self._sample = sample

    def collect(self) -> Iterator[Metric]:
        rooms = list(self._sample())
        count = GaugeMetricFamily("roomserver_rooms", "Rooms with media running")
        count.add_metric([], len(rooms))
        online = GaugeMetricFamily("roomserver_seats_online", "Seats connected")
        online.add_metric([], sum(room.seats_online for room in rooms))
        fps = GaugeMetricFamily(
            "roomserver_grid_fps",
            "Frames per second of the slowest room grid of a media worker",
            labels=["worker"],
        )
        skipped = GaugeMetricFamily(
            "roomserver_grid_frames_skipped",
            "Grid frames not made (behind schedule) in the rooms of a media worker",
            labels=["worker"],
        )
        interval = GaugeMetricFamily(
            "roomserver_analysis_interval_seconds",
            "Longest seconds between camera samples of a seat in the rooms of a media worker; "
            "longer than configured when busy",
            labels=["worker"],
        )
        samples = CounterMetricFamily(
            "roomserver_analysis_samples",
            "Seat camera pictures analysed (faces, dark, frozen) in the rooms of a media worker",
            labels=["worker"],
        )
        for worker in sorted({room.worker for room in rooms}):
            hosted = [room for room in rooms if room.worker == worker]
            label = [str(worker)]
            fps.add_metric(label, min(room.grid_fps for room in hosted))
            skipped.add_metric(label, sum(room.grid_frames_skipped for room in hosted))
            analysed = [room for room in hosted if room.analysis_interval_s is not None]
            if analysed:
                interval.add_metric(label, max(r.analysis_interval_s or 0.0 for r in analysed))
                samples.add_metric(label, sum(r.analysis_samples for r in analysed))
        yield from (count, online, fps, skipped, interval, samples)


class _WorkerCollector(Collector):
    """Each media worker's own figures and its counters, labelled with the worker."""

    def __init__(self, reports: Callable[[], list[dict[str, Any]]]) -> None:
        self._reports = reports

    def collect(self) -> Iterator[Metric]:
        reports = self._reports()
        gauges = {
            "cpu_percent": GaugeMetricFamily(
                "roomserver_worker_cpu_percent",
                "CPU of a media worker, % of one core",
                labels=["worker"],
            ),
            "rss_bytes": GaugeMetricFamily(
                "roomserver_worker_rss_bytes", "Memory of a media worker", labels=["worker"]
            ),
            "loop_lag_s": GaugeMetricFamily(
                "roomserver_worker_event_loop_lag_seconds",
                "Event loop lag of a media worker",
                labels=["worker"],
            ),
        }
        rooms = GaugeMetricFamily(
            "roomserver_worker_rooms", "Rooms on a media worker", labels=["worker"]
        )
        seats = GaugeMetricFamily(
            "roomserver_worker_seats", "Seats on a media worker", labels=["worker"]
        )
        counters: dict[str, CounterMetricFamily] = {}
        histograms: dict[str, HistogramMetricFamily] = {}
        parsed = [
            (report, list(text_string_to_metric_families(report.get("metrics", ""))))
            for report in reports
        ]
        # A counter's labels are those of every worker's samples: a worker without any (no
        # seat yet) must not fix the family's labels for the others.
        label_names: dict[str, set[str]] = {}
        for _report, families in parsed:
            for family in families:
                names = label_names.setdefault(family.name, set())
                names.update(k for s in family.samples for k in s.labels)
        for report, families in parsed:
            worker = str(report["index"])
            for key, gauge in gauges.items():
                gauge.add_metric([worker], float(report.get(key) or 0.0))
            rooms.add_metric([worker], len(report.get("rooms", [])))
            seats.add_metric([worker], sum(r["seats"] for r in report.get("rooms", [])))
            for family in families:
                if family.type == "histogram":
                    _relay_histogram(family, worker, histograms)
                    continue
                if family.type != "counter":
                    continue
                out = counters.get(family.name)
                if out is None:
                    labels = [*sorted(label_names[family.name]), "worker"]
                    out = counters[family.name] = CounterMetricFamily(
                        family.name, family.documentation, labels=labels
                    )
                for sample in family.samples:
                    if sample.name.endswith("_total"):
                        values = [sample.labels.get(k, "") for k in out._labelnames[:-1]]
                        out.add_metric([*values, worker], sample.value)
        yield from gauges.values()
        yield rooms
        yield seats
        yield from counters.values()
        yield from histograms.values()


def _relay_histogram(family: Metric, worker: str, out: dict[str, HistogramMetricFamily]) -> None:
    """Add a worker's histogram to `out` as ``roomserver_worker_...{worker=...}``."""
    name = WORKER_PREFIX + family.name.removeprefix(OWN_PREFIX)
    series: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
    for sample in family.samples:
        labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
        entry = series.setdefault(labels, {"buckets": [], "sum": 0.0})
        if sample.name.endswith("_bucket"):
            entry["buckets"].append((sample.labels["le"], sample.value))
        elif sample.name.endswith("_sum"):
            entry["sum"] = sample.value
    for labels, entry in series.items():
        target = out.get(name)
        if target is None:
            names = [k for k, _ in labels]
            target = out[name] = HistogramMetricFamily(
                name, family.documentation, labels=[*names, "worker"]
            )
        target.add_metric([*(v for _, v in labels), worker], entry["buckets"], entry["sum"])


def thread_role(name: str) -> str:
    """What a thread does, from its name: the first word (``grid-<room>_0`` -> ``grid``), and
    ``main`` for the thread that runs the event loop."""
    if name == "MainThread":
        return "main"
    match = re.match(r"[A-Za-z]+", name)
    return match.group(0).lower() if match else "other"


class ThreadCpuCollector(Collector):
    """CPU seconds of this process's threads, summed by role (``thread_role``).

    Shows which part of a media worker takes its core: the event loop (network, RTP, Opus
    decoding), the grid's composing and encoding, the analysis, the mix-minus encoding, the
    recorders. Threads started by libraries without a Python name count as ``other``. A thread
    that ended keeps its CPU in its role's total (as last read), so the totals never go back.
    """

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._alive: dict[int, tuple[str, float]] = {}  # native thread id -> role, seconds
        self._ended: dict[str, float] = {}

    def totals(self) -> dict[str, float]:
        """CPU seconds by role, since the process started."""
        roles = {t.native_id: thread_role(t.name) for t in threading.enumerate()}
        seen: dict[int, tuple[str, float]] = {}
        for thread in self._process.threads():
            role = roles.get(thread.id) or self._alive.get(thread.id, ("other", 0.0))[0]
            seen[thread.id] = (role, thread.user_time + thread.system_time)
        for tid, (role, seconds) in self._alive.items():
            again = seen.get(tid)
            # Gone, or its id taken by a new thread (whose time starts again from zero).
            if again is None or again[1] < seconds:
                self._ended[role] = self._ended.get(role, 0.0) + seconds
        self._alive = seen
        totals = dict(self._ended)
        for role, seconds in seen.values():
            totals[role] = totals.get(role, 0.0) + seconds
        return totals

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "roomserver_thread_cpu_seconds",
            "CPU time of the process's threads, by what they do",
            labels=["thread"],
        )
        try:
            totals = self.totals()
        except psutil.Error:  # a platform that does not show a process its threads
            totals = {}
        for role, seconds in sorted(totals.items()):
            family.add_metric([role], seconds)
        yield family


class CopyCounters:
    """What /metrics shows of the archive's copies (``signaling.services.copies``): checks and
    copies counted, and two gauges read at every scrape from the copies' latest figures."""

    def __init__(
        self, registry: CollectorRegistry, figures: Callable[[], tuple[float, int]]
    ) -> None:
        """`figures`: the longest any copy has gone unverified (s), and the sessions whose
        latest check of a copy failed or whose replica is missing."""
        self._verifications = Counter(
            "roomserver_archive_verifications",
            "Verifications of a copy of a session's archive, by location and result",
            ["location", "result"],
            registry=registry,
        )
        for location in ("primary", "replica"):  # at zero from the start, for rate() alerts
            for result in ("ok", "failed"):
                self._verifications.labels(location, result)
        self._copies = Counter(
            "roomserver_archive_replications",
            "Copies of a session's sealed parts to the replica, by result",
            ["result"],
            registry=registry,
        )
        for result in ("ok", "failed"):
            self._copies.labels(result)
        self._bytes = Counter(
            "roomserver_archive_replica_bytes", "Bytes written to the replica", registry=registry
        )
        oldest = Gauge(
            "roomserver_archive_oldest_verification_age_seconds",
            "The longest any copy of a sealed archive (primary or replica) has gone without a "
            "verification (never verified: since it was sealed)",
            registry=registry,
        )
        oldest.set_function(lambda: figures()[0])
        failed = Gauge(
            "roomserver_archive_copies_failed",
            "Sessions whose latest check of a copy failed, or whose replica is missing",
            registry=registry,
        )
        failed.set_function(lambda: float(figures()[1]))

    def verified(self, location: str, ok: bool) -> None:
        """Count one verification of a copy."""
        self._verifications.labels(location, "ok" if ok else "failed").inc()

    def copied(self, ok: bool, written: int) -> None:
        """Count one copy to the replica and the bytes it wrote."""
        self._copies.labels("ok" if ok else "failed").inc()
        self._bytes.inc(written)


# Where the media worker drops frames (``Metrics.frames_dropped``): a camera's decoder behind,
# a seat's audio left out of the room's mix (``media.mixer.AudioMixer.on_drop``).
DROP_PLACES = ("decoder", "mix_overflow", "mix_trimmed")


def free_bytes(path: Path) -> int:
    """Free bytes of the file system holding `path` (its nearest existing parent)."""
    place = path.resolve()
    while not place.exists() and place != place.parent:
        place = place.parent
    return shutil.disk_usage(place).free


class Metrics:
    """Counters and gauges of one server."""

    def __init__(
        self, *, media: bool = True, rooms: Callable[[], Iterable[RoomSample]] | None = None
    ) -> None:
        """`media`: this process receives media (a worker) and counts frames itself; `rooms`:
        the live rooms' figures, read at every scrape (the signaling process)."""
        self.registry = CollectorRegistry()
        self._media = media
        if media:
            # By seat (``venue:number``, a place, not a session) and kind of track.
            self._inbound_frames = Counter(
                "roomserver_inbound_frames",
                "Encoded frames received",
                ["seat", "kind"],
                registry=self.registry,
            )
            self._inbound_bytes = Counter(
                "roomserver_inbound_bytes",
                "Encoded bytes received",
                ["seat", "kind"],
                registry=self.registry,
            )
            self._dropped = Counter(
                "roomserver_frames_dropped",
                "Frames the server dropped",
                ["where"],
                registry=self.registry,
            )
            for where in DROP_PLACES:  # at zero from the start, so that a rate() alert sees it
                self._dropped.labels(where)
            self._grid_stage = Histogram(
                "roomserver_grid_stage_seconds",
                "A frame's time in each stage of a room grid: ingress (sender's clock to arrival), "
                "wait (arrival to the tick that decodes it), compose, encode, send (to a sender)",
                ["stage"],
                buckets=GRID_STAGE_BUCKETS,
                registry=self.registry,
            )
            self._stage_children = {stage: self._grid_stage.labels(stage) for stage in GRID_STAGES}
            self._voice_stage = Histogram(
                "roomserver_voice_stage_seconds",
                "The voice's time in each stage of the mix-minus: ingress (sender's clock to "
                "arrival), buffer (arrival to the mix's tick), mix, encode (the tick's mixes to "
                "their packets), send (to a sender)",
                ["stage"],
                buckets=VOICE_STAGE_BUCKETS,
                registry=self.registry,
            )
            self._voice_children = {
                stage: self._voice_stage.labels(stage) for stage in VOICE_STAGES
            }
            self.registry.register(ThreadCpuCollector())
        self._refused = Counter(
            "roomserver_refusals",
            "Refused connections and requests",
            ["code"],
            registry=self.registry,
        )
        self.loop_lag = Gauge(
            "roomserver_event_loop_lag_seconds",
            "Event loop lag, last measured",
            registry=self.registry,
        )
        self.loop_delay = Histogram(
            "roomserver_event_loop_delay_seconds",
            "How late the event loop woke up, every sample (0.5 s apart)",
            buckets=LOOP_DELAY_BUCKETS,
            registry=self.registry,
        )
        self._frame_children: dict[tuple[str, str], tuple[Counter, Counter]] = {}
        self._worker_reports: list[dict[str, Any]] = []
        self._worker_collector_added = False
        if rooms is not None:
            self.add_room_source(rooms)

    def set_worker_reports(self, reports: list[dict[str, Any]]) -> None:
        """The media workers' latest figures, shown at the next render."""
        if not self._worker_collector_added:
            self.registry.register(_WorkerCollector(lambda: self._worker_reports))
            self._worker_collector_added = True
        self._worker_reports = reports

    def add_room_source(self, sample: Callable[[], Iterable[RoomSample]]) -> None:
        """Report rooms from `sample` at every scrape."""
        self.registry.register(_RoomCollector(sample))

    def frame_received(self, seat: str, kind: str, size: int) -> None:
        """Count one incoming encoded frame of a seat (``venue:number``)."""
        key = (seat, kind)
        children = self._frame_children.get(key)
        if children is None:
            children = (
                self._inbound_frames.labels(*key),
                self._inbound_bytes.labels(*key),
            )
            self._frame_children[key] = children
        children[0].inc()
        children[1].inc(size)

    def forget_seats(self, seats: Iterable[str]) -> None:
        """Drop the frame series of `seats` (their room closed)."""
        gone = set(seats)
        for key in [k for k in self._frame_children if k[0] in gone]:
            del self._frame_children[key]
            self._inbound_frames.remove(*key)
            self._inbound_bytes.remove(*key)

    def watch_disk(self, path: Path) -> None:
        """Report the free bytes of the file system holding `path` (the archive) at every
        scrape."""
        gauge = Gauge(
            "roomserver_archive_free_bytes",
            "Free bytes of the archive's file system",
            registry=self.registry,
        )
        gauge.set_function(lambda: float(free_bytes(path)))

    def watch_archive_copies(self, figures: Callable[[], tuple[float, int]]) -> CopyCounters:
        """Count the archive's copies and checks; report `figures` at every scrape."""
        return CopyCounters(self.registry, figures)

    def grid_stage(self, stage: str, seconds: float) -> None:
        """A frame's time in one of the grid's ``GRID_STAGES`` (any thread). The ingress from
        a sender whose clock is not ours (its sender reports) is not counted below zero."""
        self._stage_children[stage].observe(max(0.0, seconds))

    def voice_stage(self, stage: str, seconds: float) -> None:
        """The voice's time in one of ``VOICE_STAGES`` (event loop); not counted below zero."""
        self._voice_children[stage].observe(max(0.0, seconds))

    def frames_dropped(self, where: str, count: int = 1) -> None:
        """Count frames dropped at `where`."""
        self._dropped.labels(where).inc(count)

    def refused(self, code: str) -> None:
        """Count a refusal by its error code."""
        self._refused.labels(code).inc()

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)


def is_loopback(remote: str | None) -> bool:
    """Whether a request's peer address is this machine (an IPv4-mapped address too)."""
    try:
        address = ipaddress.ip_address(remote or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


class LoopLagMonitor:
    """Measures how late the event loop wakes up: the figure behind a stalled room."""

    def __init__(
        self, gauge: Gauge, histogram: Histogram | None = None, interval_s: float = 0.5
    ) -> None:
        self._gauge = gauge
        self._histogram = histogram
        self._interval = interval_s
        self._task: asyncio.Task[None] | None = None
        self.last_s = 0.0

    async def start(self) -> None:
        """Start measuring."""
        self._task = asyncio.create_task(self._run(), name="loop-lag-monitor")

    async def close(self) -> None:
        """Stop measuring; safe to call twice."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self._interval
            await asyncio.sleep(self._interval)
            self.last_s = max(0.0, loop.time() - due)
            self._gauge.set(self.last_s)
            if self._histogram is not None:
                self._histogram.observe(self.last_s)
