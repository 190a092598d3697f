"""One track's recorder: a bounded queue filled on the event loop, one writer thread, segments.

The event loop only ever puts a frame on the queue (or drops it); the writer thread owns every
file and takes the frames in batches (``write_batch_ms`` apart) without ever waiting on the
queue, so that a frame costs no thread wake-up. Finished segments and gaps are handed back to
the loop with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from recorder.config import RecorderConfig
from recorder.ports import EncodedFrame
from recorder.segments import SegmentResult, SegmentWriter, segment_suffix
from recorder.vp8 import keyframe_size

log = logging.getLogger(__name__)

_STOP = object()
_SEGMENT_NAME = re.compile(r"^(\d{6})\.(?:webm|mp4)$")
_TRACK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# A keyframe request that went unanswered is repeated this often, not on every frame.
_KEYFRAME_REPEAT_S = 1.0
_RETRY_FIRST_S = 1.0
_RETRY_MAX_S = 30.0
_JOIN_TIMEOUT_S = 30.0
# Errors that mean the disk or the muxer refused the data (ENOSPC, EIO, EROFS, ...).
_WRITE_ERRORS = (OSError, av.error.FFmpegError)


@dataclass(frozen=True)
class FinishedSegment:
    """A closed segment file, ready to be hashed and journaled."""

    track: str
    index: int
    path: Path
    relative: str
    kind: str
    codec: str
    frames: int
    media_duration_s: float
    wall_start: float
    wall_end: float
    # False when abandoned after a write error: no Cues, maybe a torn last cluster (repairable).
    complete: bool = True


@dataclass(frozen=True)
class Gap:
    """A span of wall time in which frames of a track arrived but were not recorded."""

    track: str
    wall_start: float
    wall_end: float
    reason: str


class TrackRecorder:
    """Records one track's encoded frames into rolling WebM segments without transcoding."""

    def __init__(
        self,
        *,
        part_dir: Path,
        track_id: str,
        kind: str,
        codec: str,
        clock_rate: int,
        config: RecorderConfig,
        on_segment: Callable[[FinishedSegment], None],
        on_gap: Callable[[Gap], None],
        request_keyframe: Callable[[], None] | None,
        size: tuple[int, int] | None = None,
        extradata: bytes | None = None,
    ) -> None:
        """Describe the track; nothing touches the disk before `start`.

        `size` and `extradata` (SPS/PPS) describe an H.264 source; VP8 carries them in-band.
        """
        if not _TRACK_ID.match(track_id):
            raise ValueError(f"track id {track_id!r} cannot name a folder")
        if kind not in {"audio", "video"}:
            raise ValueError(f"kind must be audio or video, not {kind!r}")
        self.track_id = track_id
        self.kind = kind
        self.codec = codec
        self.clock_rate = clock_rate
        self.part_dir = part_dir.absolute()
        self.folder = self.part_dir / "media" / track_id
        self._config = config
        self._on_segment = on_segment
        self._on_gap = on_gap
        self._request_keyframe = request_keyframe
        self._size = size
        self._extradata = extradata
        self._suffix = segment_suffix(kind, codec)
        self._queue: queue.Queue[Any] = queue.Queue(config.max_queued_frames)
        self._flush_s = config.flush_interval_ms / 1000
        self._batch_s = config.write_batch_ms / 1000
        # Set once _STOP is queued: the writer's pauses between batches end at once.
        self._wake = threading.Event()
        # How long a silent track keeps its segment open. Closing costs video a keyframe (the
        # next segment must start on one), and a screen share pauses whenever the picture
        # holds still; while open, a crash loses only the frames of the unwritten cluster,
        # whose media time is under the cluster limit (half the flush interval).
        self._idle_s = self._flush_s if kind == "audio" else config.video_idle_close_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._accepting = False
        self._closed: asyncio.Future[None] | None = None
        self.segments = 0
        # Loop side: frames refused by a full queue, and the drought in progress.
        self._dropped_on_loop = 0
        self._drought: tuple[float, float] | None = None
        # Writer side (only the writer thread touches these).
        self.frames_written = 0
        self._dropped_in_writer = 0
        self._segment: SegmentWriter | None = None
        self._index = 0
        self._next_index = 1
        self._last_write = 0.0
        self._pending_gap: tuple[float, float, str] | None = None
        self._retry_at = 0.0
        self._retry_s = _RETRY_FIRST_S
        self._keyframe_asked_at: float | None = None

    @property
    def frames_dropped(self) -> int:
        """Frames received but not recorded (queue full, waiting for a keyframe, write error)."""
        return self._dropped_on_loop + self._dropped_in_writer

    # -- lifecycle (event loop) --------------------------------------------------------------

    async def start(self) -> None:
        """Create the track's folder and start the writer thread."""
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._next_index = await asyncio.to_thread(self._prepare_folder)
        self._thread = threading.Thread(
            target=self._run, name=f"recorder-{self.track_id}", daemon=True
        )
        self._accepting = True
        if self.kind == "video":
            # A recorder that joins mid-stream cannot start before the next keyframe.
            self._keyframe_asked_at = time.monotonic()
            self._ask_keyframe()
        self._thread.start()

    async def close(self) -> None:
        """Stop taking frames, write what is queued, close the segment; safe to call twice."""
        if self._closed is not None:
            await asyncio.shield(self._closed)
            return
        self._closed = asyncio.get_running_loop().create_future()
        try:
            await self._shutdown()
        finally:
            self._closed.set_result(None)

    async def __aenter__(self) -> TrackRecorder:
        """Start on entering the block."""
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Close on leaving the block."""
        await self.close()

    async def _shutdown(self) -> None:
        self._accepting = False
        thread = self._thread
        if thread is not None and thread.is_alive():
            try:
                # Blocks only while the queue is full, and the writer is draining it.
                await asyncio.to_thread(self._queue.put, _STOP, True, _JOIN_TIMEOUT_S)
            except queue.Full:
                log.error("recorder %s: writer does not drain its queue", self.track_id)
            self._wake.set()  # the writer looks at once: what is left ends with _STOP
            await asyncio.to_thread(thread.join, _JOIN_TIMEOUT_S)
            if thread.is_alive():
                log.error("recorder %s: writer thread did not stop", self.track_id)
        if self._drought is not None:
            start, last = self._drought
            self._drought = None
            self._emit_gap(Gap(self.track_id, start, last, "queue_full"))

    # -- the hot path (event loop) -----------------------------------------------------------

    def push(self, frame: EncodedFrame) -> None:
        """Queue one frame for the writer; never blocks: a full queue drops the frame."""
        if not self._accepting:
            self._dropped_on_loop += 1
            return
        lost_before = self._drought is not None
        try:
            self._queue.put_nowait((frame, lost_before))
        except queue.Full:
            self._dropped_on_loop += 1
            start = frame.wall_time if self._drought is None else self._drought[0]
            self._drought = (start, frame.wall_time)
            return
        if self._drought is not None:
            gap = Gap(self.track_id, self._drought[0], frame.wall_time, "queue_full")
            self._drought = None
            # Not from inside push: the caller's callback must not run on the hot path.
            assert self._loop is not None
            self._loop.call_soon(self._emit_gap, gap)

    # -- callbacks (event loop) --------------------------------------------------------------

    def _emit_segment(self, segment: FinishedSegment) -> None:
        self.segments += 1
        try:
            self._on_segment(segment)
        except Exception:
            log.exception("recorder %s: on_segment failed for %s", self.track_id, segment.path)

    def _emit_gap(self, gap: Gap) -> None:
        try:
            self._on_gap(gap)
        except Exception:
            log.exception("recorder %s: on_gap failed", self.track_id)

    def _ask_keyframe(self) -> None:
        if self._request_keyframe is None:
            return
        try:
            self._request_keyframe()
        except Exception:
            log.exception("recorder %s: keyframe request failed", self.track_id)

    def _to_loop(self, callback: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is gone: nobody is left to tell
            log.warning("recorder %s: loop closed, %s not delivered", self.track_id, args)

    # -- the writer thread -------------------------------------------------------------------

    def _prepare_folder(self) -> int:
        self.folder.mkdir(parents=True, exist_ok=True)
        names = (_SEGMENT_NAME.match(p.name) for p in self.folder.iterdir())
        used = [int(m.group(1)) for m in names if m]
        return max(used, default=0) + 1

    def _run(self) -> None:
        try:
            while True:
                item = self._next_item()
                if item is _STOP:
                    break
                try:
                    if item is None:
                        self._on_idle()
                    else:
                        self._handle(*item)
                except Exception:
                    # A bug must cost a frame, not the thread: the queue would fill for good.
                    log.exception("recorder %s: writer step failed", self.track_id)
                    if item is not None:
                        self._dropped_in_writer += 1
        finally:
            self._finish()

    def _next_item(self) -> Any:
        """The next queued frame, ``_STOP``, or None once the track has been idle long enough.

        The writer never waits on the queue itself, so the loop's puts wake nobody: when the
        queue is empty it looks again after ``write_batch_ms`` (or at the idle deadline, if
        sooner) and takes everything that gathered meanwhile.
        """
        while True:
            try:
                return self._queue.get_nowait()
            except queue.Empty:
                pass
            idle = self._idle_timeout()
            if idle is not None and idle <= 0:
                return None
            self._wake.wait(self._batch_s if idle is None else min(self._batch_s, idle))

    def _idle_timeout(self) -> float | None:
        if self._segment is None:
            return None
        return max(0.0, self._last_write + self._idle_s - time.monotonic())

    def _on_idle(self) -> None:
        # The muxer writes a cluster only when the next one starts: with no frame coming, the
        # open cluster would sit in memory past the flush interval, so end the segment instead.
        if self._segment is not None:
            self._close_segment()
            if self.kind == "video":
                # The next frame must be a keyframe to open a segment: ask now, while the
                # source is idle (a screen share sends again only when the picture changes),
                # rather than drop frames until one comes by itself.
                self._want_keyframe(time.monotonic())

    def _finish(self) -> None:
        if self._segment is not None:
            self._close_segment()
        if self._pending_gap is not None:
            start, last, reason = self._pending_gap
            self._pending_gap = None
            self._to_loop(self._emit_gap, Gap(self.track_id, start, last, reason))

    def _handle(self, frame: EncodedFrame, lost_before: bool) -> None:
        now = time.monotonic()
        video = self.kind == "video"
        if lost_before and video and self._segment is not None:
            # Frames after a dropped one reference what is missing: only a keyframe may follow.
            self._close_segment()
        if now < self._retry_at:
            self._drop(frame, "write_error")
            return
        size = self._keyframe_size(frame) if video and frame.keyframe else None
        if self._segment is None:
            if video and size is None:
                self._drop(frame, "no_keyframe")
                self._want_keyframe(now)
                return
            self._open_segment(frame)
        elif self._roll_due(frame, size, now):
            # This frame comes right after the segment's last one: it gives that one its length.
            self._close_segment(frame)
            if now < self._retry_at:  # closing failed: back off like any write error
                self._drop(frame, "write_error")
                return
            self._open_segment(frame)
        if size is not None:
            self._keyframe_asked_at = None
        self._write(frame, now)

    def _keyframe_size(self, frame: EncodedFrame) -> tuple[int, int] | None:
        """A keyframe's picture size: from a VP8 frame itself, given for H.264."""
        if self._suffix == ".mp4":
            return self._size
        return keyframe_size(frame.data)

    def _roll_due(self, frame: EncodedFrame, size: tuple[int, int] | None, now: float) -> bool:
        segment = self._segment
        assert segment is not None
        if self.kind == "audio":
            return segment.offset_s(frame) >= self._config.segment_seconds
        if size is not None and size != segment.size:
            return True  # a new resolution gets a segment whose header says so
        if segment.offset_s(frame) < self._config.segment_seconds:
            return False
        if size is not None:
            return True
        self._want_keyframe(now)
        return False

    def _want_keyframe(self, now: float) -> None:
        if self._request_keyframe is None:
            return
        asked = self._keyframe_asked_at
        if asked is None or now - asked >= _KEYFRAME_REPEAT_S:
            self._keyframe_asked_at = now
            self._to_loop(self._ask_keyframe)

    def _drop(self, frame: EncodedFrame, reason: str) -> None:
        self._dropped_in_writer += 1
        if self._pending_gap is None:
            self._pending_gap = (frame.wall_time, frame.wall_time, reason)
        else:
            start, _, first_reason = self._pending_gap
            self._pending_gap = (start, frame.wall_time, first_reason)

    def _open_segment(self, frame: EncodedFrame) -> None:
        self._index = self._next_index
        self._next_index += 1
        self._segment = SegmentWriter(
            self.folder / f"{self._index:06d}{self._suffix}",
            kind=self.kind,
            codec=self.codec,
            clock_rate=self.clock_rate,
            flush_interval_ms=self._config.flush_interval_ms,
            size=self._size,
            extradata=self._extradata,
        )
        if self._pending_gap is not None:
            start, _, reason = self._pending_gap
            self._pending_gap = None
            self._to_loop(self._emit_gap, Gap(self.track_id, start, frame.wall_time, reason))

    def _write(self, frame: EncodedFrame, now: float) -> None:
        segment = self._segment
        assert segment is not None
        try:
            segment.write(frame)
        except _WRITE_ERRORS as exc:
            self._fail(segment, exc, frame)
            return
        self.frames_written += 1
        self._last_write = now

    def _close_segment(self, next_frame: EncodedFrame | None = None) -> None:
        """Close the open segment; `next_frame`, when it opens the next one, ends its last frame.

        Without it (a loss, an idle track, the end) the last frame's length is a guess.
        """
        segment, self._segment = self._segment, None
        assert segment is not None
        try:
            result = segment.close(next_frame)
        except _WRITE_ERRORS as exc:
            self._fail(segment, exc, None)
            return
        self._retry_s = _RETRY_FIRST_S
        self._deliver(result)

    def _fail(self, segment: SegmentWriter, exc: BaseException, frame: EncodedFrame | None) -> None:
        """A write error: keep what reached the disk, record the gap, retry after a back-off."""
        self._segment = None
        written = segment.frames
        # Frames held by the writer never reached the muxer: with none muxed, no frame can be
        # in the file (a header at most).
        muxed = segment.muxed_frames
        result = segment.abort()
        log.warning(
            "recorder %s: write error in %s (%s); retrying in %.0f s",
            self.track_id,
            segment.path.name,
            exc,
            self._retry_s,
        )
        lost = max(0, written - result.frames)
        self.frames_written -= lost
        self._dropped_in_writer += lost + (1 if frame is not None else 0)
        if result.frames:
            start = result.wall_end
        elif written:
            start = result.wall_start
        else:
            start = frame.wall_time if frame is not None else result.wall_start
        if muxed:
            # Kept and journaled even when no whole cluster is known to have reached it: a
            # torn cluster may still hold frames that repair_segment can recover.
            self._deliver(result, keep_empty=True)
        else:
            self._discard_empty(segment.path)
        last = frame.wall_time if frame is not None else start
        if self._pending_gap is None:
            self._pending_gap = (start, last, "write_error")
        self._retry_at = time.monotonic() + self._retry_s
        self._retry_s = min(self._retry_s * 2, _RETRY_MAX_S)

    def _discard_empty(self, path: Path) -> None:
        # Only our own file with a header at most (no frame reached it) is removed, and its
        # number is used again: the archive never shows a segment that holds nothing.
        try:
            path.unlink(missing_ok=True)
        except OSError:
            return
        self._next_index = self._index

    def _deliver(self, result: SegmentResult, *, keep_empty: bool = False) -> None:
        if not result.frames and not keep_empty:
            self._discard_empty(result.path)
            return
        segment = FinishedSegment(
            track=self.track_id,
            index=self._index,
            path=result.path,
            relative=os.path.relpath(result.path, self.part_dir).replace(os.sep, "/"),
            kind=self.kind,
            codec=self.codec,
            frames=result.frames,
            media_duration_s=result.media_duration_s,
            wall_start=result.wall_start,
            wall_end=result.wall_end,
            complete=result.complete,
        )
        self._to_loop(self._emit_segment, segment)
