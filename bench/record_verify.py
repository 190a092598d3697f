"""The recording benchmark's archive for ``verify``: built without the network, then timed."""

from __future__ import annotations

import asyncio
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
    verify_s: list[float] = field(default_factory=list)
    sha256sum_s: list[float] = field(default_factory=list)
    sums_agree: bool | None = None
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
    """Build the archive, then time verify_archive, sha256sum and each hash alone (warm)."""
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

        for _ in range(2):  # the first run warms the page cache; the second is reported
            t = time.perf_counter()
            report = verify_archive(session)
            result.verify_s.append(time.perf_counter() - t)
        result.ok = report.ok
        result.differences = [f"{d.where}: {d.what}" for d in report.differences[:5]]
        if report.bytes != result.bytes:
            result.differences.append(
                f"verify hashed {report.bytes} bytes, files hold {result.bytes}"
            )
        output = ""
        for _ in range(2):
            t = time.perf_counter()
            done = subprocess.run(
                ["sha256sum", *map(str, files)],
                capture_output=True,
                text=True,
                check=True,
                timeout=300,
            )
            result.sha256sum_s.append(time.perf_counter() - t)
            output = done.stdout
        # Cross-check: sha256sum agrees with each part's SHA256SUMS.
        listed = {}
        for part in {f.parent for f in files if f.name == "SHA256SUMS"}:
            for line in (part / "SHA256SUMS").read_text().splitlines():
                digest, rel = line.split("  ", 1)
                listed[str(part / rel)] = digest
        got = {}
        for line in output.splitlines():
            digest, path = line.split("  ", 1)
            got[path] = digest
        result.sums_agree = all(got.get(path) == digest for path, digest in listed.items())

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
