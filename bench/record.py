"""Recording benchmark: this recorder against aiortc's MediaRecorder, and archive verify speed.

    python bench/record.py [--streams 10] [--duration 20] [--warmup 4] [--archive-mb 200]

The same streams (N/2 seats, each a camera, VP8 640x480 15 fps, and a microphone, Opus 20 ms)
are sent as pre-encoded packets by real aiortc peer connections in a sender process and
received over loopback (ICE on 127.0.0.1 only) by real aiortc ``RTCPeerConnection``s in a
receiving process. Four variants run one after another, each in a fresh receiving process:

    A  encoded-frame tap (``media.tap``, no decoding), nothing recorded   baseline of B
    B  tap + one ``recorder.track.TrackRecorder`` per stream               this recorder
    C  aiortc decodes, a blackhole reads every frame                      baseline of D
    D  aiortc decodes, one ``aiortc.contrib.media.MediaRecorder`` per stream (one file each)

With two or more CPUs the receiving process is pinned to one CPU and the senders (and this
process) to the others (``--no-pin`` to turn off). The CPU (user + system, all threads) of the
receiving process is taken over the same window in every variant; a recorder's cost is its
variant minus its baseline. Frames are counted where they are sent, where they reach the
recorder, and in the written files (PyAV). Then a session archive of ``--archive-mb`` is
written through ``SessionArchive`` (pre-encoded loops replayed without the network), sealed,
and ``recorder.verify.verify_archive`` is timed against ``sha256sum`` and ``openssl dgst -sm3``
on the same files, in turns, five times each after a warm-up round, and the medians compared
with the targets: verify at least 80 % of sha256sum's speed, and at least 90 % of the slower
digest's (SM3), which bounds a verifier that computes both. ``--only-verify`` runs this part
alone. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import shutil
import stat
import sys
import tempfile
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

from bench.common import (  # noqa: E402
    ask_child,
    cpu_seconds,
    cpu_split,
    stop_processes,
    udp_rcvbuf_errors,
)
from bench.record_receiver import ReceiverJob, receiver_process  # noqa: E402
from bench.record_report import (  # noqa: E402
    print_cpu,
    print_frames,
    print_summary,
    print_variants,
    print_verify,
)
from bench.record_setup import (  # noqa: E402
    CAMERA_FPS,
    FINISH_TIMEOUT,
    FLOWING_TIMEOUT,
    READY_TIMEOUT,
    REPLY_TIMEOUT,
    SETTLE_S,
    TONES,
    VARIANT_LABELS,
    VARIANTS,
    Stream,
    VariantResult,
    count_packets,
    limit_ice_to_loopback,
    plan_streams,
    quiet_logs,
)
from bench.record_verify import VerifyResult, measure_verify  # noqa: E402

# ---- sender process --------------------------------------------------------------------------


@dataclass
class SenderJob:
    """What the sender process needs: the streams and the pre-encoded loops to replay."""

    streams: list[Stream]
    camera: list[tuple[bytes, bool]]
    microphones: list[list[bytes]]
    cpus: set[int] | None


def sender_process(job: SenderJob, conn: Connection) -> None:
    """Entry point of the sender process: one peer connection per seat, pre-encoded media."""
    if job.cpus:
        os.sched_setaffinity(0, job.cpus)
    try:
        asyncio.run(_run_sender(job, conn))
    except Exception:
        with contextlib.suppress(OSError):
            conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


async def _run_sender(job: SenderJob, conn: Connection) -> None:
    import av
    from aiortc import (
        RTCBundlePolicy,
        RTCConfiguration,
        RTCPeerConnection,
        RTCRtpSender,
        RTCSessionDescription,
    )

    from media.testing.synthetic import PreEncodedAudioTrack, PreEncodedVideoTrack

    quiet_logs()
    limit_ice_to_loopback()
    camera_packets = []
    for data, key in job.camera:
        packet = av.Packet(data)
        packet.is_keyframe = key
        camera_packets.append(packet)
    seats = sorted({s.seat for s in job.streams})
    pcs: list[Any] = []
    tracks: dict[str, Any] = {}
    conn.send(("ready", os.getpid()))
    try:
        while True:
            message = await asyncio.to_thread(conn.recv)
            kind = message[0]
            if kind == "offer":
                offers = []
                for seat in seats:
                    pc = RTCPeerConnection(
                        RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
                    )
                    pcs.append(pc)
                    for stream in (s for s in job.streams if s.seat == seat):
                        if stream.kind == "video":
                            track: Any = PreEncodedVideoTrack(camera_packets, CAMERA_FPS)
                            transceiver = pc.addTransceiver(track, direction="sendonly")
                            codecs = RTCRtpSender.getCapabilities("video").codecs
                            transceiver.setCodecPreferences(
                                [c for c in codecs if c.mimeType in ("video/VP8", "video/rtx")]
                            )
                        else:
                            loop = job.microphones[seat % len(job.microphones)]
                            track = PreEncodedAudioTrack(loop)
                            pc.addTransceiver(track, direction="sendonly")
                        tracks[stream.id] = track
                    await pc.setLocalDescription(await pc.createOffer())
                    offers.append(pc.localDescription.sdp)
                conn.send(("offers", offers))
            elif kind == "answers":
                for pc, sdp in zip(pcs, message[1], strict=True):
                    await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
                deadline = time.monotonic() + READY_TIMEOUT
                while any(pc.connectionState != "connected" for pc in pcs):
                    if time.monotonic() > deadline or any(
                        pc.connectionState in ("failed", "closed") for pc in pcs
                    ):
                        states = [pc.connectionState for pc in pcs]
                        raise ConnectionError(f"peer connections not connected: {states}")
                    await asyncio.sleep(0.05)
                conn.send(("connected", None))
            elif kind == "mark":
                conn.send(("mark", {k: t.frames_sent for k, t in tracks.items()}))
            elif kind == "stop_media":
                for track in tracks.values():
                    track.stop()
                conn.send(("stopped", {k: t.frames_sent for k, t in tracks.items()}))
            elif kind == "stop":
                break
    finally:
        for pc in pcs:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pc.close(), 5)


# ---- parent: one variant ---------------------------------------------------------------------


def _await_ready(conn: Connection, who: str) -> int:
    if not conn.poll(READY_TIMEOUT):
        raise TimeoutError(f"{who} not ready in {READY_TIMEOUT:.0f} s")
    kind, data = conn.recv()
    if kind != "ready":
        raise RuntimeError(f"{who}: {kind}: {data}")
    return int(data)


def run_variant(
    variant: str,
    streams: list[Stream],
    duration: float,
    warmup: float,
    sender_job: SenderJob,
    rx_cpus: set[int] | None,
    mr_format: str,
    work: Path,
) -> VariantResult:
    """Run one variant in a fresh receiving process and sender process; tear both down."""
    result = VariantResult(variant)
    ctx = mp.get_context("spawn")
    out_dir = work / variant
    procs: list[Any] = []
    conns: list[Connection] = []
    try:
        rx_parent, rx_child = ctx.Pipe()
        rx = ctx.Process(
            target=receiver_process,
            args=(ReceiverJob(variant, streams, str(out_dir), mr_format, rx_cpus), rx_child),
            name=f"bench-record-rx-{variant}",
            daemon=True,
        )
        tx_parent, tx_child = ctx.Pipe()
        tx = ctx.Process(
            target=sender_process, args=(sender_job, tx_child), name="bench-record-tx", daemon=True
        )
        for proc, child, parent in ((rx, rx_child, rx_parent), (tx, tx_child, tx_parent)):
            proc.start()
            child.close()
            procs.append(proc)
            conns.append(parent)
        rx_ps = psutil.Process(_await_ready(rx_parent, "receiver"))
        tx_ps = psutil.Process(_await_ready(tx_parent, "sender"))

        offers = ask_child(tx_parent, ("offer",), "offers", READY_TIMEOUT)
        answers = [
            ask_child(rx_parent, ("offer", seat, sdp), "answer", READY_TIMEOUT)
            for seat, sdp in enumerate(offers)
        ]
        ask_child(tx_parent, ("answers", answers), "connected", READY_TIMEOUT)
        deadline = time.monotonic() + FLOWING_TIMEOUT
        while not ask_child(rx_parent, ("flowing",), "flowing", REPLY_TIMEOUT):
            if time.monotonic() > deadline:
                raise TimeoutError(f"not every stream reached the receiver in {FLOWING_TIMEOUT} s")
            time.sleep(0.2)

        time.sleep(warmup)
        ask_child(rx_parent, ("mark",), "mark", REPLY_TIMEOUT)  # resets the loop-lag maximum
        udp0 = udp_rcvbuf_errors()
        cpu0, tx_cpu0 = cpu_seconds(rx_ps), cpu_seconds(tx_ps)
        wall0 = time.monotonic()
        sent0 = ask_child(tx_parent, ("mark",), "mark", REPLY_TIMEOUT)
        mark0 = ask_child(rx_parent, ("mark",), "mark", REPLY_TIMEOUT)

        time.sleep(duration)

        sent1 = ask_child(tx_parent, ("mark",), "mark", REPLY_TIMEOUT)
        mark1 = ask_child(rx_parent, ("mark",), "mark", REPLY_TIMEOUT)
        wall1 = time.monotonic()
        cpu1, tx_cpu1 = cpu_seconds(rx_ps), cpu_seconds(tx_ps)
        udp1 = udp_rcvbuf_errors()
        window = wall1 - wall0
        result.window_s = window
        result.cpu_pct = (cpu1 - cpu0) * 100 / window
        result.sender_cpu_pct = (tx_cpu1 - tx_cpu0) * 100 / window
        result.writer_cpu_pct = (mark1["writer_cpu_s"] - mark0["writer_cpu_s"]) * 100 / window
        result.lag_max = mark1["lag_max"]
        result.rss_mb = mark1["rss"] / 1e6
        if udp0 is not None and udp1 is not None:
            result.udp_drops = udp1 - udp0
        for s in streams:
            result.sent_w[s.id] = sent1[s.id] - sent0[s.id]
            c0, c1 = mark0["counts"][s.id], mark1["counts"][s.id]
            result.received_w[s.id] = c1["received"] - c0["received"]
            result.recorded_w[s.id] = c1["recorded"] - c0["recorded"]

        result.sent = ask_child(tx_parent, ("stop_media",), "stopped", REPLY_TIMEOUT)
        time.sleep(SETTLE_S)  # what is in flight lands
        result.final = ask_child(rx_parent, ("finish",), "finished", FINISH_TIMEOUT)
        with contextlib.suppress(OSError):
            tx_parent.send(("stop",))
        _count_files(variant, streams, out_dir, mr_format, result)
    except Exception as exc:  # a benchmark reports what went wrong and moves on
        result.error = f"{type(exc).__name__}: {exc}"
        for conn in conns:
            with contextlib.suppress(OSError, EOFError):
                while conn.poll(0):
                    kind, data = conn.recv()
                    if kind == "error":
                        result.error += f"\n    child: {str(data).strip().splitlines()[-1]}"
    finally:
        stop_processes(conns, procs, None, ask=None)
    return result


def _count_files(
    variant: str, streams: list[Stream], out_dir: Path, mr_format: str, result: VariantResult
) -> None:
    for s in streams:
        if variant == "recorder":
            paths = sorted((out_dir / "media" / s.id).glob("*.webm"))
        elif variant == "mediarecorder":
            paths = [out_dir / f"{s.id}.{mr_format}"]
        else:
            continue
        frames = size = 0
        result.segment_files += len(paths)
        for path in paths:
            if not path.exists():
                result.file_errors.append(f"{path.name}: missing")
                continue
            size += path.stat().st_size
            try:
                frames += count_packets(path)
            except Exception as exc:
                result.file_errors.append(f"{s.id}/{path.name}: {exc}")
        result.files[s.id] = (frames, size)


# ---- main ------------------------------------------------------------------------------------


def build_loops() -> tuple[list[tuple[bytes, bool]], list[list[bytes]]]:
    """Pre-encode the camera loop (10 s, keyframe every 2 s) and one tone loop per seat."""
    from media.testing.synthetic import camera_loop, tone_loop

    camera = [
        (bytes(p), bool(p.is_keyframe))
        for p in camera_loop((200, 60, 40), seconds=10, fps=CAMERA_FPS)
    ]
    microphones = [[bytes(p) for p in tone_loop(f, seconds=1.0)] for f in TONES]
    return camera, microphones


def _force_rmtree(path: Path) -> None:
    """Remove a tree that holds sealed (read-only) parts."""
    for root, dirs, _ in os.walk(path):
        for name in dirs:
            with contextlib.suppress(OSError):
                os.chmod(Path(root, name), stat.S_IRWXU)
    shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=10, help="streams (2 per seat)")
    parser.add_argument("--duration", type=float, default=20.0, help="CPU window per variant, s")
    parser.add_argument("--warmup", type=float, default=4.0, help="seconds before the window")
    parser.add_argument(
        "--archive-mb",
        type=float,
        default=200.0,
        help="size of the archive for the verify timing (0: skip)",
    )
    parser.add_argument(
        "--mr-format",
        default="webm",
        choices=("webm", "mp4"),
        help="MediaRecorder's file type (webm: VP8 + Opus; mp4: H.264 + AAC)",
    )
    parser.add_argument("--no-pin", action="store_true", help="no CPU pinning")
    parser.add_argument(
        "--only-verify",
        action="store_true",
        help="only the archive verify figure (no recording variants)",
    )
    args = parser.parse_args(argv)
    if args.streams < 1:
        parser.error("--streams must be at least 1")
    started = time.monotonic()
    streams = plan_streams(args.streams)
    n = len(streams)
    seats = len({s.seat for s in streams})
    videos = sum(1 for s in streams if s.kind == "video")
    rx_cpus, tx_cpus = cpu_split(not args.no_pin)
    camera, microphones = build_loops()
    kbit = sum(len(d) for d, _ in camera) * 8 / (len(camera) / CAMERA_FPS) / 1000
    mic_kbit = sum(len(p) for p in microphones[0]) * 8 / (len(microphones[0]) * 0.02) / 1000
    pinning = (
        f"receiving process pinned to CPU {sorted(rx_cpus)}, senders and this process to "
        f"{sorted(tx_cpus)}"
        if rx_cpus and tx_cpus
        else "no CPU pinning"
    )
    print(
        f"recording benchmark: {n} streams = {seats} seats x (camera VP8 640x480 {CAMERA_FPS} "
        f"fps ~{kbit:.0f} kbit/s + microphone Opus 20 ms ~{mic_kbit:.0f} kbit/s)"
        f"{'' if videos * 2 == n else ' (last seat camera only)'}"
    )
    print(
        f"  pre-encoded loops sent by real aiortc peer connections (one sender process, one "
        f"peer connection per seat) over loopback, received by real aiortc peer connections; "
        f"{psutil.cpu_count()} CPUs, {pinning}"
    )
    print(
        "  only the archive verify figure (--only-verify)"
        if args.only_verify
        else f"  per variant: a fresh receiving process, {args.warmup:.0f} s warm-up, CPU window "
        f"{args.duration:.0f} s (user + system, all threads); MediaRecorder writes one "
        f".{args.mr_format} per stream "
        f"({'libvpx VP8 + libopus' if args.mr_format == 'webm' else 'libx264 + AAC'}: it "
        "re-encodes what aiortc decoded)"
    )
    sys.stdout.flush()

    if tx_cpus:
        os.sched_setaffinity(0, tx_cpus)  # keep this process off the receiving CPU
    work = Path(tempfile.mkdtemp(prefix="bench-record-"))
    results: dict[str, VariantResult] = {}
    verify: VerifyResult | None = None
    try:
        sender_job = SenderJob(streams, camera, microphones, tx_cpus)
        for variant in () if args.only_verify else VARIANTS:
            t = time.monotonic()
            results[variant] = run_variant(
                variant,
                streams,
                args.duration,
                args.warmup,
                sender_job,
                rx_cpus,
                args.mr_format,
                work,
            )
            r = results[variant]
            state = f"FAILED ({r.error.splitlines()[0]})" if r.error else f"{r.cpu_pct:.1f} %"
            print(
                f"  ran {VARIANT_LABELS[variant]:<28} {time.monotonic() - t:5.1f} s   "
                f"receiving CPU {state}"
            )
            sys.stdout.flush()
            if variant in ("recorder", "mediarecorder"):
                continue
            shutil.rmtree(work / variant, ignore_errors=True)
        if results:
            print_variants(results, n)
            print_cpu(results, n)
            print_frames(results, streams)
        sys.stdout.flush()
        if tx_cpus:
            os.sched_setaffinity(0, (rx_cpus or set()) | tx_cpus)
        if args.archive_mb > 0:
            verify = measure_verify(work, streams, camera, microphones, int(args.archive_mb * 1e6))
            print_verify(verify, n)
        print_summary(results, verify, n)
    finally:
        _force_rmtree(work)
    print(f"\ntotal time {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
