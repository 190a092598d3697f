"""Configuration of the recorder."""

from __future__ import annotations

from dataclasses import dataclass


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
