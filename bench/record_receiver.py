"""The recording benchmark's receiving process: one variant's peer connections and recorders."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from bench.record_setup import (  # noqa: E402
    AUDIO_CLOCK,
    LAG_PERIOD_S,
    VIDEO_CLOCK,
    Stream,
    limit_ice_to_loopback,
)
from signaling.metrics import ThreadCpuCollector  # noqa: E402

_THREADS = ThreadCpuCollector()

# ---- receiving process -----------------------------------------------------------------------


@dataclass
class ReceiverJob:
    """What the receiving process does: which variant, where it writes."""

    variant: str
    streams: list[Stream]
    out_dir: str
    mr_format: str
    cpus: set[int] | None


def receiver_process(job: ReceiverJob, conn: Connection) -> None:
    """Entry point of the receiving process."""
    if job.cpus:
        os.sched_setaffinity(0, job.cpus)
    try:
        Path(job.out_dir).mkdir(parents=True, exist_ok=True)
        asyncio.run(_run_receiver(job, conn))
    except Exception:
        with contextlib.suppress(OSError):
            conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def _make_counting_track(source: Any) -> Any:
    from aiortc.mediastreams import MediaStreamTrack

    class CountingTrack(MediaStreamTrack):
        """Passes the source's frames on and counts them."""

        def __init__(self) -> None:
            super().__init__()
            self.kind = source.kind
            self.frames = 0

        async def recv(self) -> Any:
            frame = await source.recv()
            self.frames += 1
            return frame

    return CountingTrack()


class _ErrorLog(logging.Handler):
    """Keeps the warnings and errors logged in the receiving process."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.first: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if len(self.first) < 5:
            self.first.append(f"{record.name}: {record.getMessage()}"[:300])


class _Receiver:
    """The receiving side of one variant."""

    def __init__(self, job: ReceiverJob) -> None:
        self.job = job
        self.out = Path(job.out_dir)
        self.by_seat: dict[int, dict[str, Stream]] = {}
        for s in job.streams:
            self.by_seat.setdefault(s.seat, {})[s.kind] = s
        self.pcs: list[Any] = []
        self.receivers: dict[str, Any] = {}
        self.taps: dict[str, Any] = {}
        self.tap_base: dict[str, int] = {}
        self.recorders: dict[str, Any] = {}
        self.counting: dict[str, Any] = {}
        self.sources: dict[str, Any] = {}
        self.sinks: dict[str, Any] = {}  # MediaRecorder or MediaBlackhole per stream
        self.tasks: set[asyncio.Task[Any]] = set()
        self.gaps: list[Any] = []
        self.lag_max = 0.0
        self.loop_errors: list[str] = []
        self.errors = _ErrorLog()
        logging.getLogger().addHandler(self.errors)
        self.setup_failures: list[str] = []

    # -- signaling -----------------------------------------------------------------------------

    async def answer(self, seat: int, sdp: str) -> str:
        from aiortc import (
            RTCBundlePolicy,
            RTCConfiguration,
            RTCPeerConnection,
            RTCSessionDescription,
        )

        pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self.pcs.append(pc)
        pc.on("track", lambda track: self._on_track(pc, seat, track))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return str(pc.localDescription.sdp)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.setup_failures.append(repr(task.exception()))

    def _on_track(self, pc: Any, seat: int, track: Any) -> None:
        from media.tap import install_tap

        stream = self.by_seat.get(seat, {}).get(track.kind)
        if stream is None:
            return
        receiver = next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track)
        self.receivers[stream.id] = receiver
        variant = self.job.variant
        if variant in ("tap", "recorder"):
            tap = install_tap(receiver)
            self.taps[stream.id] = tap
            if variant == "recorder":
                self._spawn(self._start_recorder(stream, receiver, tap))
        else:
            self.sources[stream.id] = track
            counting = _make_counting_track(track)
            self.counting[stream.id] = counting
            self._spawn(self._start_decoded_sink(stream, counting))

    async def _start_recorder(self, stream: Stream, receiver: Any, tap: Any) -> None:
        from media.tap import send_pli
        from recorder.config import RecorderConfig
        from recorder.track import TrackRecorder

        video = stream.kind == "video"
        last_pli = [0.0]

        def request_keyframe() -> None:
            now = time.monotonic()
            if now - last_pli[0] >= 1.0:
                last_pli[0] = now
                self._spawn(send_pli(receiver))

        recorder = TrackRecorder(
            part_dir=self.out,
            track_id=stream.id,
            kind=stream.kind,
            codec="VP8" if video else "opus",
            clock_rate=VIDEO_CLOCK if video else AUDIO_CLOCK,
            config=RecorderConfig(),
            on_segment=lambda segment: None,
            on_gap=self.gaps.append,
            request_keyframe=request_keyframe if video else None,
        )
        await recorder.start()
        self.recorders[stream.id] = recorder
        self.tap_base[stream.id] = tap.frames
        tap.add_sink(recorder.push)

    async def _start_decoded_sink(self, stream: Stream, counting: Any) -> None:
        from aiortc.contrib.media import MediaBlackhole, MediaRecorder

        sink: Any
        if self.job.variant == "mediarecorder":
            sink = MediaRecorder(str(self.out / f"{stream.id}.{self.job.mr_format}"))
        else:
            sink = MediaBlackhole()
        sink.addTrack(counting)
        await sink.start()
        self.sinks[stream.id] = sink

    # -- measuring -----------------------------------------------------------------------------

    async def lag_monitor(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(LAG_PERIOD_S)
            self.lag_max = max(self.lag_max, loop.time() - before - LAG_PERIOD_S)

    def counts(self) -> dict[str, dict[str, int]]:
        """Per stream: frames received by the recording side and frames recorded so far."""
        out: dict[str, dict[str, int]] = {}
        for s in self.job.streams:
            entry = {"received": 0, "recorded": 0, "dropped": 0}
            if s.id in self.taps:
                tap = self.taps[s.id]
                entry["received"] = tap.frames - self.tap_base.get(s.id, 0)
                entry["tap"] = tap.frames
            if s.id in self.recorders:
                entry["recorded"] = self.recorders[s.id].frames_written
                entry["dropped"] = self.recorders[s.id].frames_dropped
            if s.id in self.counting:
                entry["received"] = self.counting[s.id].frames
                entry["recorded"] = self.counting[s.id].frames
            out[s.id] = entry
        return out

    def snapshot(self) -> dict[str, Any]:
        lag, self.lag_max = self.lag_max, 0.0
        return {
            "t": time.time(),
            "counts": self.counts(),
            "lag_max": lag,
            # The recorders' writer threads, ended ones included.
            "writer_cpu_s": _THREADS.totals().get("recorder", 0.0),
            "rss": psutil.Process().memory_info().rss,
        }

    def flowing(self) -> bool:
        """Whether every stream has reached the recording side (and, for B, a recorder)."""
        counts = self.counts()
        for s in self.job.streams:
            if self.job.variant in ("tap", "recorder"):
                if counts[s.id].get("tap", 0) == 0:
                    return False
                if self.job.variant == "recorder" and s.id not in self.recorders:
                    return False
            elif counts[s.id]["received"] == 0 or s.id not in self.sinks:
                return False
        return True

    async def rtp_lost(self) -> int:
        lost = 0
        for receiver in self.receivers.values():
            with contextlib.suppress(Exception):
                report = await receiver.getStats()
                for stats in report.values():
                    if getattr(stats, "type", "") == "inbound-rtp":
                        lost += max(0, int(getattr(stats, "packetsLost", 0) or 0))
        return lost

    async def finish(self) -> dict[str, Any]:
        """Close the recorders (B) or stop the sinks (C, D), then the peer connections."""
        lost = await self.rtp_lost()
        backlog: dict[str, int] = {}
        for sid, source in self.sources.items():
            queued = getattr(source, "_queue", None)  # private: frames decoded, never read
            backlog[sid] = queued.qsize() if queued is not None else -1
        started = time.monotonic()
        stop_errors: list[str] = []
        for sid, recorder in self.recorders.items():
            try:
                await recorder.close()
            except Exception as exc:
                stop_errors.append(f"{sid}: {exc!r}")
        for sid, sink in self.sinks.items():
            try:
                await asyncio.wait_for(sink.stop(), 60)
            except Exception as exc:
                stop_errors.append(f"{sid}: {exc!r}")
        stop_s = time.monotonic() - started
        counts = self.counts()
        for pc in self.pcs:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pc.close(), 5)
        return {
            "counts": counts,
            "backlog": backlog,
            "rtp_lost": lost,
            "stop_s": stop_s,
            "stop_errors": stop_errors,
            "gaps": [(g.track, g.reason, round(g.wall_end - g.wall_start, 3)) for g in self.gaps],
            "log_errors": self.errors.count,
            "log_first": self.errors.first,
            "loop_errors": self.loop_errors,
            "setup_failures": self.setup_failures,
        }


async def _run_receiver(job: ReceiverJob, conn: Connection) -> None:
    # Warnings are counted and reported by _ErrorLog, not printed as they come.
    logging.getLogger().setLevel(logging.WARNING)
    for name in ("aioice", "aiortc", "av"):
        logging.getLogger(name).setLevel(logging.WARNING)
    limit_ice_to_loopback()
    state = _Receiver(job)
    loop = asyncio.get_running_loop()

    def on_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        text = f"{context.get('message')}: {exc!r}" if exc else str(context.get("message"))
        state.loop_errors.append(text[:300])

    loop.set_exception_handler(on_loop_error)
    monitor = asyncio.create_task(state.lag_monitor())
    conn.send(("ready", os.getpid()))
    try:
        while True:
            message = await asyncio.to_thread(conn.recv)
            kind = message[0]
            if kind == "offer":
                conn.send(("answer", await state.answer(message[1], message[2])))
            elif kind == "flowing":
                conn.send(("flowing", state.flowing()))
            elif kind == "mark":
                conn.send(("mark", state.snapshot()))
            elif kind == "finish":
                conn.send(("finished", await state.finish()))
                break
    finally:
        monitor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await monitor
