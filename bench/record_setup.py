"""What the recording benchmark's processes share: the plan of streams, constants, results."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


TARGET_RATIO = 10.0  # MediaRecorder CPU per stream / ours
TARGET_VERIFY_PCT = 80.0  # verify_archive throughput, % of sha256sum's
# ... and % of the slower digest it must compute, SM3 (`openssl dgst -sm3`): the limit for a
# verifier that checks both digests of every byte.
TARGET_VERIFY_SM3_PCT = 90.0
VERIFY_REPEATS = 5  # each timing, after one round that warms the page cache; medians reported
CAMERA_FPS = 15
VIDEO_CLOCK = 90_000
AUDIO_CLOCK = 48_000
AUDIO_FRAME_TICKS = 960  # 20 ms at 48 kHz
TONES = (330.0, 440.0, 550.0, 660.0, 770.0)
READY_TIMEOUT = 60.0
REPLY_TIMEOUT = 20.0
FINISH_TIMEOUT = 90.0
FLOWING_TIMEOUT = 20.0
SETTLE_S = 1.0
LAG_PERIOD_S = 0.02
KEPT_UP = 0.95  # MediaRecorder took at least this share of the video frames sent

VARIANTS = ("tap", "recorder", "decode", "mediarecorder")
VARIANT_LABELS = {
    "tap": "A  tap, nothing recorded",
    "recorder": "B  tap + TrackRecorder",
    "decode": "C  decode + blackhole",
    "mediarecorder": "D  decode + MediaRecorder",
}


@dataclass(frozen=True)
class Stream:
    """One recorded stream: a seat's camera or microphone."""

    id: str
    seat: int
    kind: str  # "video" or "audio"


def plan_streams(n: int) -> list[Stream]:
    """Streams 0, 1 are seat 1's camera and microphone, 2, 3 seat 2's, ... (odd n: last camera)."""
    out = []
    for k in range(n):
        seat = k // 2
        if k % 2 == 0:
            out.append(Stream(f"seat{seat + 1}-camera", seat, "video"))
        else:
            out.append(Stream(f"seat{seat + 1}-microphone", seat, "audio"))
    return out


def limit_ice_to_loopback() -> None:
    from media.ice import apply_host_candidate_policy

    apply_host_candidate_policy(["127.0.0.1"])


def quiet_logs() -> None:
    logging.basicConfig(level=logging.ERROR)
    for name in ("aioice", "aiortc", "av"):
        logging.getLogger(name).setLevel(logging.ERROR)


@dataclass
class VariantResult:
    """What one variant measured."""

    variant: str
    window_s: float = 0.0
    cpu_pct: float = 0.0  # receiving process, % of one core
    sender_cpu_pct: float = 0.0
    writer_cpu_pct: float = 0.0  # recorder writer threads alone (B)
    lag_max: float = 0.0  # worst event-loop lateness in the window, s
    rss_mb: float = 0.0
    udp_drops: int | None = None
    sent_w: dict[str, int] = field(default_factory=dict)  # window, per stream
    received_w: dict[str, int] = field(default_factory=dict)
    recorded_w: dict[str, int] = field(default_factory=dict)
    sent: dict[str, int] = field(default_factory=dict)  # whole run
    final: dict[str, Any] = field(default_factory=dict)
    files: dict[str, tuple[int, int]] = field(default_factory=dict)  # stream: (frames, bytes)
    file_errors: list[str] = field(default_factory=list)
    segment_files: int = 0
    error: str | None = None


def count_packets(path: Path) -> int:
    """Packets (frames) of the first stream of a media file, read with PyAV."""
    import av

    with av.open(str(path)) as container:
        return sum(1 for p in container.demux(container.streams[0]) if p.size)
