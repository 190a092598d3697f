"""Make a segment left unfinished by a crash playable again, by remuxing its readable prefix."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RepairResult:
    """What a repair kept of one segment."""

    path: Path
    frames_kept: int
    media_duration_s: float
    original_size: int
    repaired_size: int
    ok: bool
    detail: str


def repair_segment(path: Path) -> RepairResult:
    """Remux the readable packets of `path` into a finished file of its own format in its
    place (WebM, or MP4 for an H.264 segment); never raises."""
    path = Path(path)
    try:
        original_size = path.stat().st_size
    except OSError as exc:
        return RepairResult(path, 0, 0.0, 0, 0, False, f"cannot stat: {exc}")
    tmp = path.with_name(f".{path.name}.repair-{os.getpid()}.tmp")
    # A fragmented MP4 cut mid-fragment still demuxes a shortened last packet: only what lies
    # inside whole top-level boxes counts.
    readable = _whole_boxes_end(path) if path.suffix == ".mp4" else original_size
    try:
        kept, duration_s, detail = _remux_prefix(path, tmp, readable)
    except Exception as exc:  # a bad file must never take the caller down
        _unlink_quietly(tmp)
        return RepairResult(path, 0, 0.0, original_size, original_size, False, f"{exc}")
    if not kept:
        _unlink_quietly(tmp)
        return RepairResult(
            path, 0, 0.0, original_size, original_size, False, f"nothing playable: {detail}"
        )
    try:
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent)
        repaired_size = path.stat().st_size
    except OSError as exc:
        _unlink_quietly(tmp)
        return RepairResult(path, 0, 0.0, original_size, original_size, False, f"{exc}")
    log.info("repaired %s: %d frames, %s", path, kept, detail)
    return RepairResult(path, kept, duration_s, original_size, repaired_size, True, detail)


def _remux_prefix(source: Path, target: Path, size: int) -> tuple[int, float, str]:
    """Copy packets until the first error or the first one cut by the end of the file."""
    try:
        src = av.open(str(source), "r")
    except Exception as exc:
        return 0, 0.0, f"unreadable: {exc}"
    with src:
        streams = [s for s in src.streams if s.type in ("audio", "video")]
        if not streams:
            return 0, 0.0, "no audio or video stream"
        in_stream = streams[0]
        packets, detail = _read_prefix(src, in_stream, size)
        if not packets:
            return 0, 0.0, detail
        time_base = in_stream.time_base
        first = packets[0].pts or 0
        last = packets[-1].pts or 0
        # What came after the last kept frame is lost: it lasts as long as the interval before
        # it. Every frame is given its length, so that the file's Duration says the same (a
        # demuxer may fill in lengths of its own, from a frame rate it guessed).
        step = last - (packets[-2].pts or 0) if len(packets) > 1 else 0
        for packet, after in zip(packets, packets[1:], strict=False):
            packet.duration = (after.pts or 0) - (packet.pts or 0)
        packets[-1].duration = step
        out = av.open(str(target), "w", format="mp4" if source.suffix == ".mp4" else "webm")
        try:
            out_stream = out.add_stream_from_template(in_stream, opaque=True)
            for packet in packets:
                packet.stream = out_stream
                out.mux_one(packet)
        finally:
            out.close()
    duration = float((last - first + step) * time_base) if time_base else 0.0
    return len(packets), duration, detail


def _read_prefix(src: Any, stream: Any, size: int) -> tuple[list[Any], str]:
    packets: list[Any] = []
    last_pts: int | None = None
    try:
        for packet in src.demux(stream):
            if packet.size == 0 or packet.pts is None:
                continue  # the demuxer's end-of-stream marker
            if packet.pos is not None and packet.pos >= 0 and packet.pos + packet.size > size:
                return packets, "last block cut by the end of the file"
            if last_pts is not None and packet.pts <= last_pts:
                return packets, f"timestamp went back at {packet.pts}"
            last_pts = packet.pts
            packets.append(packet)
    except Exception as exc:  # torn cluster, garbage after the last whole block
        return packets, f"stopped at first error: {exc}"
    return packets, "read to the end"


def _whole_boxes_end(path: Path) -> int:
    """Where the last whole top-level box of an MP4 file ends (its readable prefix)."""
    end = 0
    with path.open("rb") as f:
        total = os.fstat(f.fileno()).st_size
        while end + 8 <= total:
            f.seek(end)
            header = f.read(16)
            size = int.from_bytes(header[:4], "big")
            if size == 1 and len(header) >= 16:
                size = int.from_bytes(header[8:16], "big")  # 64-bit box size
            if size < 8 or end + size > total:
                break
            end += size
    return end


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass
