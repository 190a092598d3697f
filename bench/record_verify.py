"""The recording benchmark's archive for ``verify``: built without the network, then timed."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


from bench.record_setup import (  # noqa: E402
    AUDIO_CLOCK,
    AUDIO_FRAME_TICKS,
    CAMERA_FPS,
    VERIFY_REPEATS,
    VIDEO_CLOCK,
    Stream,
)

# ---- the archive for verify ------------------------------------------------------------------


@dataclass
class VerifyResult:
    """Archive size and hashing throughputs (warm)."""

    media_seconds: int = 0
    build_s: float = 0.0
    frames: int = 0
    frames_dropped: int = 0
    segments: int = 0
    files: int = 0
    bytes: int = 0
    ok: bool = False
    differences: list[str] = field(default_factory=list)
    # VERIFY_REPEATS timings of each, taken in turns over the same files (warm-up excluded).
    verify_s: list[float] = field(default_factory=list)
    sha256sum_s: list[float] = field(default_factory=list)
    openssl_sm3_s: list[float] = field(default_factory=list)
    warmup_s: dict[str, float] = field(default_factory=dict)
    sums_agree: bool | None = None
    sm3_agree: bool | None = None
    hashlib_sha256_s: float = 0.0
    hashlib_sm3_s: float = 0.0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SyntheticFrame:
    """An encoded frame as ``recorder.ports.EncodedFrame`` describes it, made up, not received."""

    kind: str
    codec: str
    data: bytes
    rtp_timestamp: int
    clock_rate: int
    keyframe: bool
    wall_time: float


async def build_archive(
    root: Path,
    streams: list[Stream],
    camera: list[tuple[bytes, bool]],
    microphones: list[list[bytes]],
    target_bytes: int,
    result: VerifyResult,
) -> Path:
    """Write a session through SessionArchive as fast as the writers take it; seal it."""
    from recorder.archive import ArchivedEvent, SessionArchive
    from recorder.config import RecorderConfig
    from recorder.keys import Keyring

    camera_rate = sum(len(d) for d, _ in camera) / (len(camera) / CAMERA_FPS)
    mic_rates = [sum(len(p) for p in loop) / (len(loop) * 0.02) for loop in microphones]
    per_second = sum(
        camera_rate if s.kind == "video" else mic_rates[s.seat % len(mic_rates)] for s in streams
    )
    seconds = max(1, math.ceil(target_bytes / per_second))
    result.media_seconds = seconds
    config = RecorderConfig()
    keyring = Keyring(root / "secrets" / "archive-keys", root / "archive-keys.json")
    keyring.ensure()
    archive = SessionArchive(
        root,
        "bench-session",
        keys=keyring,
        config=config,
        project="bench/record.py",
    )
    await archive.open()
    t0 = time.time() - seconds
    now = datetime.now(UTC).isoformat()
    await archive.record_events(
        [
            ArchivedEvent(1, now, "session_opened", None, {"bench": "record.py"}),
            *(
                ArchivedEvent(2 + i, now, "seat_joined", f"seat{s + 1}", {"seat": s + 1})
                for i, s in enumerate(sorted({x.seat for x in streams}))
            ),
        ]
    )
    recorders = {}
    for s in streams:
        video = s.kind == "video"
        recorders[s.id] = await archive.add_track(
            s.id,
            kind=s.kind,
            codec="VP8" if video else "opus",
            clock_rate=VIDEO_CLOCK if video else AUDIO_CLOCK,
            label=s.id,
            request_keyframe=None,
        )
    pushed = dict.fromkeys(recorders, 0)
    index = dict.fromkeys(recorders, 0)
    max_queue = config.max_queued_frames
    for _ in range(seconds):
        for s in streams:
            recorder = recorders[s.id]
            if s.kind == "video":
                per, ticks, rate = CAMERA_FPS, VIDEO_CLOCK // CAMERA_FPS, VIDEO_CLOCK
            else:
                per, ticks, rate = 50, AUDIO_FRAME_TICKS, AUDIO_CLOCK
            for _ in range(per):
                i = index[s.id]
                if s.kind == "video":
                    data, key = camera[i % len(camera)]
                else:
                    loop = microphones[s.seat % len(microphones)]
                    data, key = loop[i % len(loop)], True
                recorder.push(
                    SyntheticFrame(
                        kind=s.kind,
                        codec="VP8" if s.kind == "video" else "opus",
                        data=data,
                        rtp_timestamp=(i * ticks) & 0xFFFFFFFF,
                        clock_rate=rate,
                        keyframe=key,
                        wall_time=t0 + i * ticks / rate,
                    )
                )
                index[s.id] = i + 1
                pushed[s.id] += 1
        # Never let a queue fill: a full queue drops frames (the live path's behaviour). The
        # writer threads signal nothing, so poll how far they are behind.
        while any(  # noqa: ASYNC110
            pushed[k] - r.frames_written - r.frames_dropped > max_queue // 3
            for k, r in recorders.items()
        ):
            await asyncio.sleep(0.002)
    result.frames = sum(pushed.values())
    result.frames_dropped = sum(r.frames_dropped for r in recorders.values())
    await archive.record_events(
        [
            ArchivedEvent(100, datetime.now(UTC).isoformat(), "session_ended", None, {}),
        ]
    )
    await archive.seal("ended")
    await archive.close()
    return archive.session_dir


def measure_verify(
    work: Path,
    streams: list[Stream],
    camera: list[tuple[bytes, bool]],
    microphones: list[list[bytes]],
    target_bytes: int,
) -> VerifyResult:
    """Build the archive, then time verify_archive, sha256sum and `openssl dgst -sm3` over the
    same files, in turns, VERIFY_REPEATS times each after a warm-up round; and each hash alone
    in Python (warm)."""
    from recorder.hashing import CHUNK_BYTES, _new
    from recorder.seal import part_files
    from recorder.verify import verify_archive

    result = VerifyResult()
    try:
        started = time.monotonic()
        session = asyncio.run(
            build_archive(work / "archive", streams, camera, microphones, target_bytes, result)
        )
        result.build_s = time.monotonic() - started
        files: list[Path] = []
        for part in sorted(p for p in session.iterdir() if p.name.startswith("part-")):
            files += [
                f for _, f in sorted(part_files(part).items()) if f.is_file() and not f.is_symlink()
            ]
        result.files = len(files)
        result.segments = sum(1 for f in files if f.suffix == ".webm")
        result.bytes = sum(f.stat().st_size for f in files)

        report = None
        sums_out = sm3_out = ""

        def run_verify() -> None:
            nonlocal report
            report = verify_archive(session)

        def run_sha256sum() -> None:
            nonlocal sums_out
            sums_out = subprocess.run(
                ["sha256sum", *map(str, files)],
                capture_output=True,
                text=True,
                check=True,
                timeout=600,
            ).stdout

        def run_openssl_sm3() -> None:
            nonlocal sm3_out
            sm3_out = subprocess.run(
                ["openssl", "dgst", "-sm3", *map(str, files)],
                capture_output=True,
                text=True,
                check=True,
                timeout=600,
            ).stdout

        timed = (
            ("verify", run_verify, result.verify_s),
            ("sha256sum", run_sha256sum, result.sha256sum_s),
            ("openssl dgst -sm3", run_openssl_sm3, result.openssl_sm3_s),
        )
        # In turns, so that whatever else the machine does falls on all three alike; the first
        # round warms the page cache and is not counted.
        for round_ in range(VERIFY_REPEATS + 1):
            for name, run, times in timed:
                t = time.perf_counter()
                run()
                took = time.perf_counter() - t
                if round_ == 0:
                    result.warmup_s[name] = took
                else:
                    times.append(took)
        assert report is not None
        result.ok = report.ok
        result.differences = [f"{d.where}: {d.what}" for d in report.differences[:5]]
        if report.bytes != result.bytes:
            result.differences.append(
                f"verify hashed {report.bytes} bytes, files hold {result.bytes}"
            )
        # Cross-checks: sha256sum agrees with each part's SHA256SUMS, openssl's SM3 with the
        # manifests' (the segments) and the seals' (the manifests).
        listed = {}
        for part in {f.parent for f in files if f.name == "SHA256SUMS"}:
            for line in (part / "SHA256SUMS").read_text().splitlines():
                digest, rel = line.split("  ", 1)
                listed[str(part / rel)] = digest
        got = {}
        for line in sums_out.splitlines():
            digest, path = line.split("  ", 1)
            got[path] = digest
        result.sums_agree = all(got.get(path) == digest for path, digest in listed.items())
        sm3_listed = {}
        for part in {f.parent for f in files if f.name == "manifest.json"}:
            manifest = json.loads((part / "manifest.json").read_bytes())
            for segment in manifest["segments"]:
                sm3_listed[str(part / segment["path"])] = segment["sm3"]
            sm3_listed[str(part / "manifest.json")] = json.loads((part / "seal.json").read_bytes())[
                "manifest_sm3"
            ]
        sm3_got = {}
        for line in sm3_out.splitlines():
            name, digest = line.rsplit("= ", 1)
            sm3_got[name[len("SM3(") : -1]] = digest.strip()
        result.sm3_agree = all(sm3_got.get(p) == d for p, d in sm3_listed.items())

        def hash_all(algorithm: str) -> float:
            buffer = bytearray(CHUNK_BYTES)
            view = memoryview(buffer)
            t = time.perf_counter()
            for path in files:
                h = _new(algorithm)
                with path.open("rb", buffering=0) as f:
                    while n := f.readinto(buffer):
                        h.update(view[:n])
                h.hexdigest()
            return time.perf_counter() - t

        result.hashlib_sha256_s = hash_all("sha256")
        result.hashlib_sm3_s = hash_all("sm3")
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    return result
