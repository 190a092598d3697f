"""Configuration of the recorder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RecorderConfig:
    """How the archive is written."""

    # A new segment starts at the first keyframe after this many seconds (audio: at once).
    segment_seconds: float = 10.0
    # Clusters are written (and flushed to the OS) at least this often: the most a crash loses.
    flush_interval_ms: int = 1000
    # A video track with no frame for this long closes its segment (see TrackRecorder).
    video_idle_close_s: float = 10.0
    # Frames waiting for the disk, per track; beyond this they are dropped and a gap is recorded.
    max_queued_frames: int = 900
    # The writer takes its frames in batches this far apart: waking a thread for every frame
    # (about 800 a second in a room of ten seats) costs more than writing them.
    write_batch_ms: int = 100
    retention_years: int = 15
    # The RFC 3161 time-stamping authority each seal asks for a token (recorder.timestamp),
    # the PEM file of its certificate, and how long it has to answer; no URL: none.
    tsa_url: str | None = None
    tsa_certificate: str | None = None
    tsa_timeout_s: float = 10.0


@dataclass(frozen=True)
class CopiesConfig:
    """Where the archive is copied, and how often and how fast its copies are checked again."""

    # The second location every sealed part is copied to (副本): a folder inside another
    # machine's disk or a store at another site, mounted here; None: no replica.
    replica: Path | None = None
    # Megabytes a second the copy and its verification read at most (0: no limit).
    replica_rate_mb_s: float = 50.0
    # Seconds before a copy that could not be made (replica unmounted, full) is tried again.
    replica_retry_s: float = 300.0
    # Every copy, primary and replica, is verified again this many days after its last check.
    reverify_days: float = 30.0
    # Megabytes a second a re-verification reads at most (0: no limit).
    reverify_rate_mb_s: float = 20.0

    def __post_init__(self) -> None:
        if self.replica is not None and not self.replica.is_absolute():
            raise ValueError("archive_replica must be an absolute path")
        if self.replica_rate_mb_s < 0 or self.reverify_rate_mb_s < 0:
            raise ValueError("replica_rate and reverify_rate are 0 (no limit) or more MB/s")
        if not 10 <= self.replica_retry_s <= 86400:
            raise ValueError("replica_retry must be between 10 seconds and a day")
        if not 0.01 <= self.reverify_days <= 3650:
            raise ValueError("reverify_days must be between 0.01 and 3650 days")
