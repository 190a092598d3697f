"""One WebM segment file: encoded frames muxed as they come, flushed often, fsynced at close.

A frame's length is known only when the next one comes, and the file states each frame's
length (the muxer writes the segment's Duration from the last one's). So the newest frame is
held back until the next one comes and muxed then, with the real interval as its length; the
last frame of a segment gets its real length too when the caller knows the frame that comes
after it (the one opening the next segment), and otherwise the interval before it.

Used from a writer thread; every call may block on the disk.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from recorder.ports import EncodedFrame
from recorder.vp8 import keyframe_size

_MS = Fraction(1, 1000)
_OPUS_RATE = 48000
_OPUS_CHANNELS = 2
# RTP timestamps are 32-bit and wrap; a difference past half the range is a step backwards.
_RTP_MOD = 1 << 32
_RTP_HALF = 1 << 31
# Frame length assumed for the end of a segment of one frame (no second frame to measure) when
# the frame after it is not known.
_DEFAULT_FRAME_MS = {"audio": 20.0, "video": 1000.0 / 15}
_CLUSTER_SIZE_LIMIT = 4 * 1024 * 1024


def opus_head(channels: int = _OPUS_CHANNELS, pre_skip: int = 0) -> bytes:
    """An OpusHead (RFC 7845 5.1) for WebM's CodecPrivate, channel mapping family 0."""
    return b"OpusHead" + struct.pack("<BBHIhB", 1, channels, pre_skip, _OPUS_RATE, 0, 0)


def muxer_options(flush_interval_ms: int) -> dict[str, str]:
    """Matroska muxer options under which a crash loses at most `flush_interval_ms` of media."""
    # The muxer keeps the open cluster in memory and writes it when the next cluster starts:
    # half the interval leaves room for the frame that closes it and for the writer's queue.
    return {
        "cluster_time_limit": str(max(100, flush_interval_ms // 2)),
        "cluster_size_limit": str(_CLUSTER_SIZE_LIMIT),
        "flush_packets": "1",
    }


# Container and file suffix per track codec: WebM for what browsers play from WebM, fragmented
# MP4 for H.264 (room cameras), which Chromium plays from MP4 only.
SEGMENT_FORMATS: dict[tuple[str, str], tuple[str, str]] = {
    ("video", "vp8"): ("webm", ".webm"),
    ("audio", "opus"): ("webm", ".webm"),
    ("video", "h264"): ("mp4", ".mp4"),
}


def segment_suffix(kind: str, codec: str) -> str:
    """The file suffix of a segment of this track (``.webm`` or ``.mp4``)."""
    found = SEGMENT_FORMATS.get((kind, codec.lower()))
    if found is None:
        raise ValueError(f"unsupported track {kind}/{codec}")
    return found[1]


def mp4_options(flush_interval_ms: int) -> dict[str, str]:
    """Fragmented MP4 under which a crash loses at most about `flush_interval_ms` of media."""
    return {
        "movflags": "frag_keyframe+empty_moov+default_base_moof",
        "frag_duration": str(max(100, flush_interval_ms // 2) * 1000),  # microseconds
        "flush_packets": "1",
    }


@dataclass(frozen=True)
class SegmentResult:
    """What one closed segment holds."""

    path: Path
    frames: int
    media_duration_s: float
    wall_start: float
    wall_end: float
    first_keyframe: bool
    # Frames whose timestamp did not increase and were moved 1 ms after the one before.
    timestamps_bumped: int = 0
    # False when the segment was abandoned after a write error: then the counts above cover only
    # what had reached the file before the error, and the file has no Cues or duration.
    complete: bool = True


class SegmentWriter:
    """Writes one track's frames into one WebM (or fragmented MP4) file without transcoding."""

    def __init__(
        self,
        path: Path,
        *,
        kind: str,
        codec: str,
        clock_rate: int,
        flush_interval_ms: int,
        size: tuple[int, int] | None = None,
        extradata: bytes | None = None,
    ) -> None:
        """Prepare `path`; the file is created by the first `write` (VP8 needs its size).

        H.264 needs its picture `size` and its SPS/PPS (`extradata`) from the source.
        """
        if (kind, codec.lower()) not in SEGMENT_FORMATS:
            raise ValueError(f"unsupported track {kind}/{codec}: VP8, H.264 or Opus only")
        if codec.lower() == "h264" and (size is None or not extradata):
            raise ValueError("an H.264 track needs its picture size and its SPS/PPS")
        self._format = SEGMENT_FORMATS[(kind, codec.lower())][0]
        self._given_size = size
        self._extradata = extradata
        if clock_rate <= 0:
            raise ValueError(f"clock_rate must be positive, not {clock_rate}")
        self.path = path
        self.kind = kind
        self.codec = codec
        self.clock_rate = clock_rate
        self.flush_interval_ms = flush_interval_ms
        self.size: tuple[int, int] | None = None
        self._container: Any = None
        self._stream: Any = None
        self._closed = False
        self._last_rtp = 0
        self._ticks = 0  # unwrapped RTP ticks of the last frame since the first
        self._last_pts = -1
        # The interval before the newest frame: its length if no frame comes after it.
        self._frame_ms = _DEFAULT_FRAME_MS[kind]
        # The newest frame's packet, muxed when its length is known (next frame, or close).
        self._held: Any = None
        self._wall_start = 0.0
        self._last_received = 0.0
        self._first_keyframe = False
        self._bumped = 0
        self.frames = 0  # frames taken, the held one included
        # The frames muxed so far, the held one left out: count, and the last one's pts, length
        # (as the file states it) and wall time.
        self._muxed_frames = 0
        self._muxed_pts = -1
        self._muxed_frame_ms = self._frame_ms
        self._muxed_received = 0.0
        # What the muxer has handed to the OS: whole clusters, i.e. every frame before the one
        # that started the cluster still in memory. Known from the file growing during a mux.
        self._file_size = 0
        self._flushed_frames = 0
        self._flushed_pts = -1
        self._flushed_frame_ms = self._frame_ms
        self._flushed_received = 0.0

    # -- writing -----------------------------------------------------------------------------

    def write(self, frame: EncodedFrame) -> None:
        """Take one frame; the first one of a video segment must be a keyframe.

        The frame is held until the next one comes (or `close`), and the one held before it is
        muxed now, its length the interval up to this one. A kill -9 therefore loses the held
        frame besides the muxer's open cluster: one frame more than muxing at once would.
        """
        if self._closed:
            raise ValueError(f"segment {self.path} is closed")
        if self._container is None:
            self._open(frame)
            pts = 0
        else:
            pts = self._next_pts(frame)
        if self._held is not None:
            self._mux_held(pts - self._last_pts)
        packet = av.Packet(frame.data)
        packet.pts = pts
        packet.dts = pts
        packet.time_base = _MS
        packet.stream = self._stream
        # Every Opus packet stands alone; marking it lets players start anywhere.
        packet.is_keyframe = frame.keyframe or self.kind == "audio"
        self._held = packet
        if self.frames:
            self._frame_ms = float(pts - self._last_pts)
        self._last_pts = pts
        self._last_received = frame.wall_time
        self.frames += 1

    def _mux_held(self, length_ms: float) -> None:
        """Mux the held frame (the newest taken) as lasting `length_ms`."""
        packet = self._held
        length = max(1, round(length_ms))
        packet.duration = length
        self._container.mux_one(packet)
        self._held = None
        # The file grows only when a cluster is written, and the frame that starts a cluster
        # stays in memory: growth now means every frame muxed before this one is in the file.
        size = os.stat(self.path).st_size
        if size != self._file_size:
            self._file_size = size
            self._flushed_frames = self._muxed_frames
            self._flushed_pts = self._muxed_pts
            self._flushed_frame_ms = self._muxed_frame_ms
            self._flushed_received = self._muxed_received
        self._muxed_frames += 1
        self._muxed_pts = self._last_pts
        self._muxed_frame_ms = float(length)
        self._muxed_received = self._last_received

    def _length_to(self, frame: EncodedFrame) -> float | None:
        """The newest frame's length if `frame` comes right after it (None if not after it)."""
        ticks = self._ticks + self._delta(frame.rtp_timestamp)
        length = round(ticks * 1000 / self.clock_rate) - self._last_pts
        return float(length) if length > 0 else None

    def offset_s(self, frame: EncodedFrame) -> float:
        """Media time of `frame` from the segment's first frame, before any bump (0 if empty)."""
        if self._container is None:
            return 0.0
        return (self._ticks + self._delta(frame.rtp_timestamp)) / self.clock_rate

    @property
    def muxed_frames(self) -> int:
        """Frames handed to the muxer so far: all taken but the held one."""
        return self._muxed_frames

    @property
    def media_duration_s(self) -> float:
        """Media time taken so far, the newest frame counted as long as the one before it."""
        if not self.frames:
            return 0.0
        return (self._last_pts + self._frame_ms) / 1000

    def _delta(self, rtp_timestamp: int) -> int:
        delta = (rtp_timestamp - self._last_rtp) % _RTP_MOD
        return delta - _RTP_MOD if delta >= _RTP_HALF else delta

    def _next_pts(self, frame: EncodedFrame) -> int:
        self._ticks += self._delta(frame.rtp_timestamp)
        self._last_rtp = frame.rtp_timestamp
        pts = round(self._ticks * 1000 / self.clock_rate)
        if pts <= self._last_pts:
            # A browser restarting its RTP clock, or a duplicate: players (Chromium's MSE first)
            # reject a block before the one before it, so keep order and count the repair.
            self._bumped += 1
            pts = self._last_pts + 1
            self._ticks = pts * self.clock_rate // 1000
        return pts

    def _open(self, frame: EncodedFrame) -> None:
        if self.kind == "video":
            if self._format == "mp4":
                self.size = self._given_size if frame.keyframe else None
            else:
                self.size = keyframe_size(frame.data) if frame.keyframe else None
            if self.size is None:
                raise ValueError("the first frame of a video segment must be a keyframe")
        self._last_rtp = frame.rtp_timestamp
        self._wall_start = frame.wall_time
        self._first_keyframe = frame.keyframe or self.kind == "audio"
        options = (
            mp4_options(self.flush_interval_ms)
            if self._format == "mp4"
            else muxer_options(self.flush_interval_ms)
        )
        container = av.open(str(self.path), "w", format=self._format, options=options)
        try:
            if self._format == "mp4":
                assert self.size is not None and self._extradata is not None
                stream = _h264_stream(container, self.size, self._extradata)
            elif self.kind == "video":
                assert self.size is not None
                width, height = self.size
                stream = container.add_mux_stream("vp8", width=width, height=height)
            else:
                stream = _opus_stream(container)
            stream.time_base = _MS
        except BaseException:
            container.close()
            raise
        self._container = container
        self._stream = stream

    # -- closing -----------------------------------------------------------------------------

    def close(self, next_frame: EncodedFrame | None = None) -> SegmentResult:
        """Mux the held frame, write the trailer (Cues, duration), fsync the file and its
        folder; return the counts.

        `next_frame` is the frame that comes right after this segment's last one (it opens the
        next segment): it gives the last frame its real length. Without it (a loss, an idle
        track, the end) the last frame lasts as long as the interval before it (1/15 s in a
        segment of one video frame).
        """
        if self._closed:
            return self._result(complete=True)
        self._closed = True
        if self._container is None:
            return self._result(complete=True)
        if self._held is not None:
            length = self._length_to(next_frame) if next_frame is not None else None
            self._mux_held(self._frame_ms if length is None else length)
        container, self._container = self._container, None
        container.close()
        _fsync_file_and_dir(self.path)
        return self._result(complete=True)

    def abort(self) -> SegmentResult:
        """After a write error: close what can be closed, never raise, report what is on disk.

        The held frame is not muxed: it never reached the file.
        """
        self._closed = True
        self._held = None
        container, self._container = self._container, None
        if container is not None:
            try:
                container.close()
            except Exception:  # the file is already broken: keep what reached it
                pass
        try:
            _fsync_file_and_dir(self.path)
        except OSError:
            pass
        return self._result(complete=False)

    def _result(self, *, complete: bool) -> SegmentResult:
        if complete:
            frames, last_pts, frame_ms, last_received = (
                self._muxed_frames,
                self._muxed_pts,
                self._muxed_frame_ms,
                self._muxed_received,
            )
        else:
            frames, last_pts, frame_ms, last_received = (
                self._flushed_frames,
                self._flushed_pts,
                self._flushed_frame_ms,
                self._flushed_received,
            )
        if not frames:
            return SegmentResult(
                path=self.path,
                frames=0,
                media_duration_s=0.0,
                wall_start=self._wall_start,
                wall_end=self._wall_start,
                first_keyframe=self._first_keyframe,
                timestamps_bumped=self._bumped,
                complete=complete,
            )
        # Anchor the span on the last frame: early frames of a stream carry arrival times (no
        # RTCP sender report yet), later ones the sender's clock, which is the one to trust.
        return SegmentResult(
            path=self.path,
            frames=frames,
            media_duration_s=(last_pts + frame_ms) / 1000,
            wall_start=last_received - last_pts / 1000,
            wall_end=last_received + frame_ms / 1000,
            first_keyframe=self._first_keyframe,
            timestamps_bumped=self._bumped,
            complete=complete,
        )


def _opus_stream(container: Any) -> Any:
    """An Opus stream with our own OpusHead: pre-skip 0, no CodecDelay, never an encoder."""
    # add_mux_stream cannot set channels or extradata, and an opened libopus encoder would
    # write its own pre-skip (312) and CodecDelay. A stream made from an unopened encoder
    # stream as template is never opened: its parameters are exactly those set here.
    scratch = av.open(io.BytesIO(), "w", format="webm")
    try:
        template = scratch.add_stream("libopus", rate=_OPUS_RATE, layout="stereo")
        stream = container.add_stream_from_template(template, opaque=True)
    finally:
        scratch.close()
    stream.codec_context.sample_rate = _OPUS_RATE
    stream.codec_context.layout = "stereo"
    stream.codec_context.extradata = opus_head()
    return stream


def _h264_stream(container: Any, size: tuple[int, int], extradata: bytes) -> Any:
    """An H.264 stream for frames as the camera sent them (Annex B), with its SPS/PPS."""
    # As for Opus: an unopened encoder stream as template, so nothing is ever encoded here.
    scratch = av.open(io.BytesIO(), "w", format="mp4")
    try:
        template = scratch.add_stream("h264")
        stream = container.add_stream_from_template(template, opaque=True)
    finally:
        scratch.close()
    stream.codec_context.width, stream.codec_context.height = size
    stream.codec_context.pix_fmt = "yuv420p"
    stream.codec_context.extradata = extradata
    return stream


def _fsync_file_and_dir(path: Path) -> None:
    """Make the file and its directory entry durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
