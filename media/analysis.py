"""Looking at the seats' cameras: who is there, darkness, a frozen picture (standard 4.2, 8.4, 10).

Each seat's latest decoded camera picture is sampled about once a second (never every frame:
finding the faces in a 320x240 colour picture costs about 4 ms of CPU, ``media.presence``; a
room camera's people are counted with OpenCV's frontal Haar cascade at 640 wide, about 20 ms
and up to twice that in a busy media worker), in the room's analysis thread, away from the
event loop and the media. The thread runs at a lower priority than the media. When the CPU it
spends on a pass over a room's seats is more than its share of a core, the room samples less
often (up to ``MAX_INTERVAL_S``) and says so in its stats; time spent waiting for a busy core
is not counted, as the lower priority already keeps the analysis behind the media.
The rules that turn samples into warnings are ``roomserver.warnings``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import av
import cv2
import cv2.data  # the cascades' directory; cv2's stubs do not declare the submodule
import numpy as np

from media.decode import CameraDecoder
from media.presence import Box, FaceDetector, SeatPresence, model_path
from roomserver.warnings import (
    RoomCameraRules,
    SeatCameraRules,
    Transition,
    WarningThresholds,
)

logger = logging.getLogger(__name__)

CASCADE = "haarcascade_frontalface_default.xml"
MAX_INTERVAL_S = 5.0
JPEG_QUALITY = 85
# Niceness of the analysis thread: the grid encoder and the network come first on a busy core.
ANALYSIS_NICE = 10

WarningCallback = Callable[[str, Transition, bytes | None], None]


# Decoded pictures are shared with the grid's thread, which scales them with swscale contexts
# of its own. The planes are only read, and copied, here.
YUV420_FORMATS = frozenset({"yuv420p", "yuvj420p"})


def _plane(frame: av.VideoFrame, index: int) -> np.ndarray:
    """A copy of one plane without its line padding."""
    plane = frame.planes[index]
    rows = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width].copy()


def luma(frame: av.VideoFrame, width: int) -> np.ndarray:
    """The frame's luma plane scaled to `width` (aspect kept), as an HxW uint8 array."""
    if frame.format.name not in YUV420_FORMATS and frame.format.name != "gray":
        raise ValueError(f"cannot analyse {frame.format.name} pictures")
    height = max(2, round(frame.height * width / frame.width / 2) * 2)
    return cv2.resize(_plane(frame, 0), (width, height), interpolation=cv2.INTER_AREA)


def colour(frame: av.VideoFrame, width: int) -> np.ndarray:
    """The frame scaled to `width` (aspect kept, even height) as an HxWx3 BGR array."""
    if frame.format.name not in YUV420_FORMATS:
        raise ValueError(f"cannot analyse {frame.format.name} pictures")
    height = max(2, round(frame.height * width / frame.width / 2) * 2)
    y = cv2.resize(_plane(frame, 0), (width, height), interpolation=cv2.INTER_AREA)
    half = (width // 2, height // 2)
    u = cv2.resize(_plane(frame, 1), half, interpolation=cv2.INTER_AREA)
    v = cv2.resize(_plane(frame, 2), half, interpolation=cv2.INTER_AREA)
    i420 = np.concatenate([y.reshape(-1), u.reshape(-1), v.reshape(-1)]).reshape(-1, width)
    return cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420)


def jpeg(frame: av.VideoFrame) -> bytes:
    """The frame as a JPEG at its own size (the evidence snapshot)."""
    if frame.format.name not in YUV420_FORMATS:
        raise ValueError(f"cannot snapshot {frame.format.name} pictures")
    width, height = frame.width - frame.width % 2, frame.height - frame.height % 2
    y = _plane(frame, 0)[:height, :width]
    u = _plane(frame, 1)[: height // 2, : width // 2]
    v = _plane(frame, 2)[: height // 2, : width // 2]
    i420 = np.concatenate([y.reshape(-1), u.reshape(-1), v.reshape(-1)]).reshape(-1, width)
    bgr = cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420)
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()


def _yield_to_media() -> None:
    """Run the analysis thread at a lower priority than the media threads (Linux: per thread)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), ANALYSIS_NICE)
    except (AttributeError, OSError) as exc:  # not Linux, or not allowed: run as is
        logger.debug("analysis thread priority unchanged: %s", exc)


def _timed(work: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """`work(*args)` and the CPU seconds it took this thread (not the time it waited for one)."""
    started = time.thread_time()
    result = work(*args)
    return result, time.thread_time() - started


class FaceCounter:
    """OpenCV's frontal face cascade, for the room cameras' small faces; one per thread (a
    cascade is not thread-safe)."""

    def __init__(self) -> None:
        path = cv2.data.haarcascades + CASCADE
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise RuntimeError(f"OpenCV face cascade missing: {path}")

    def find(self, gray: np.ndarray, min_fraction: float = 0.1) -> list[Box]:
        """Faces in a luma picture, at least `min_fraction` of its width wide."""
        side = max(20, int(gray.shape[1] * min_fraction))
        faces = self._cascade.detectMultiScale(
            gray, scaleFactor=1.15, minNeighbors=5, minSize=(side, side)
        )
        return [Box(float(x), float(y), float(w), float(h), 1.0) for x, y, w, h in faces]

    def count(self, gray: np.ndarray, min_fraction: float = 0.1) -> int:
        """How many faces `find` finds."""
        return len(self.find(gray, min_fraction))


@dataclass
class AnalysisStats:
    """What a room's analysis did, for /metrics."""

    interval_s: float = 1.0
    passes: int = 0
    samples: int = 0
    last_pass_ms: float = 0.0  # CPU time of the analysis thread
    slowed_passes: int = 0  # passes after which the interval was longer than configured


class _Seat:
    """A seat's camera as the analysis thread sees it (touched only in that thread)."""

    def __init__(self, thresholds: WarningThresholds) -> None:
        self.rules = SeatCameraRules(thresholds)
        self.presence = SeatPresence()


# A room camera overlooks a venue: its faces are smaller, and looked at in a wider picture.
ROOM_CAMERA_WIDTH = 640
ROOM_CAMERA_MIN_FACE = 0.04


class _RoomCamera:
    """A room camera as the analysis thread sees it: its decoder and its rules."""

    def __init__(self, thresholds: WarningThresholds, codec: str) -> None:
        self.rules = RoomCameraRules(thresholds)
        self.codec = codec
        self.decoder = av.CodecContext.create("h264" if codec == "H264" else "vp8", "r")


class RoomAnalysis:
    """Samples the seats' cameras of one room and reports warnings that start or end."""

    def __init__(
        self,
        *,
        name: str,
        thresholds: WarningThresholds,
        interval_s: float = 1.0,
        width: int = 320,
        max_share: float = 0.25,
    ) -> None:
        self._name = name
        self._thresholds = thresholds
        self._base_interval = interval_s
        self._width = width
        self._max_share = max_share
        # Seat -> its latest picture, or the decoder that holds it.
        self._latest: dict[str, av.VideoFrame | CameraDecoder] = {}
        # Seat -> its camera at full size, when the pictures sampled are those of its preview.
        self._full: dict[str, CameraDecoder] = {}
        self._seats: dict[str, _Seat] = {}
        # Room camera key -> its latest keyframe and codec.
        self._keyframes: dict[str, tuple[bytes, str]] = {}
        self._room_cameras: dict[str, _RoomCamera] = {}
        # How many experts are seated where a room camera looks, and how many of the venue's
        # staff, witnesses and host belong there (set by the room's owner).
        self.seated: Callable[[str], int] = lambda camera: 0
        self.attendants: Callable[[str], int] = lambda camera: 0
        self._executor: ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self._faces: FaceCounter | None = None
        self._detector: FaceDetector | None = None
        self.on_warning: WarningCallback | None = None
        self.stats = AnalysisStats(interval_s=interval_s)

    async def start(self) -> None:
        """Start sampling (``ModelMissing`` when the face model is not installed)."""
        model_path()
        if self._task is None:
            self._executor = ThreadPoolExecutor(
                1, thread_name_prefix=f"analysis-{self._name}", initializer=_yield_to_media
            )
            self._task = asyncio.create_task(self._run(), name=f"analysis-{self._name}")

    async def close(self) -> None:
        """Stop sampling; safe to call twice."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        executor, self._executor = self._executor, None
        if executor is not None:
            try:
                await asyncio.wait_for(asyncio.to_thread(executor.shutdown, wait=True), 5)
            except TimeoutError:
                # Never hold up closing the room (and sealing its archive) for the analysis.
                logger.error("analysis %s: its thread did not stop within 5 s", self._name)

    def update_frame(self, seat: str, frame: av.VideoFrame) -> None:
        """The seat's latest decoded camera picture (called for every frame: only stored)."""
        self._latest[seat] = frame

    def watch(self, seat: str, camera: CameraDecoder, *, full: CameraDecoder | None = None) -> None:
        """Sample the seat's pictures from `camera`, whichever is newest when a sample is due.

        `full` is the seat's camera at full size when `camera` is its preview: evidence stills
        are taken from it.
        """
        self._latest[seat] = camera
        if full is None:
            self._full.pop(seat, None)
        else:
            self._full[seat] = full

    def _picture(self, seat: str) -> av.VideoFrame | None:
        entry = self._latest.get(seat)
        return entry.picture if isinstance(entry, CameraDecoder) else entry

    def room_camera_keyframe(self, camera: str, data: bytes, codec: str = "VP8") -> None:
        """A keyframe of a room camera, VP8 or H.264 with its SPS/PPS in front (only keyframes:
        they decode on their own)."""
        self._keyframes[camera] = (data, codec)

    async def room_camera_ended(self, camera: str) -> None:
        """The room camera stopped sending."""
        self._keyframes.pop(camera, None)
        if self._executor is None:
            return
        loop = asyncio.get_running_loop()
        transitions = await loop.run_in_executor(self._executor, self._stop_room_camera, camera)
        for transition in transitions:
            self._report(camera, transition, None)

    async def camera_ended(self, seat: str) -> None:
        """The seat's camera stopped: the warnings drawn from its pictures end."""
        self._latest.pop(seat, None)
        self._full.pop(seat, None)
        if self._executor is None:
            return
        loop = asyncio.get_running_loop()
        transitions = await loop.run_in_executor(self._executor, self._stop_seat, seat)
        for transition in transitions:
            self._report(seat, transition, None)

    def has_picture(self, seat: str) -> bool:
        """Whether a picture of the seat's camera is there to be taken."""
        return self._picture(seat) is not None

    async def snapshot(self, seat: str) -> bytes | None:
        """A JPEG of the seat's camera now, at full size, if it has a picture."""
        frame = self._picture(seat)
        if frame is None or self._executor is None:
            return None
        return await self._evidence(seat, frame)

    async def _evidence(self, seat: str, frame: av.VideoFrame) -> bytes | None:
        """`frame` as a JPEG, or rather a still of the seat's camera at full size when `frame`
        is a picture of its preview (the still is the camera's next keyframe, asked for now)."""
        full = self._full.get(seat)
        if full is not None and not full.decoding:
            still = await full.fresh_picture()
            if still is not None:
                frame = still
        if self._executor is None:
            return None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, jpeg, frame)

    # -- the loop -------------------------------------------------------------------------------

    async def _run(self) -> None:
        """One pass over the seats per interval, one seat at a time, spread over the interval.

        A whole pass at once (10 seats, about 140 ms) would take the core from the grid's
        encoder for several of its frames; one seat at a time takes at most a part of one.
        """
        loop = asyncio.get_running_loop()
        while True:
            seats = list(self._latest) + list(self._keyframes)
            if not seats:
                await asyncio.sleep(self.stats.interval_s)
                continue
            slot = self.stats.interval_s / len(seats)
            spent = 0.0
            for seat in seats:
                slot_start = loop.time()
                # A seat whose camera sends nothing new is sampled again: its picture is frozen.
                frame = self._picture(seat)
                keyframe = self._keyframes.get(seat)
                if frame is not None or keyframe is not None:
                    try:
                        if frame is not None:
                            results, cpu = await loop.run_in_executor(
                                self._executor, _timed, self._pass, {seat: frame}
                            )
                        else:
                            assert keyframe is not None
                            results, cpu = await loop.run_in_executor(
                                self._executor,
                                _timed,
                                self._room_camera_pass,
                                seat,
                                *keyframe,
                                self.seated(seat),
                                self.attendants(seat),
                            )
                    except Exception:
                        logger.exception("analysis %s: sampling %s failed", self._name, seat)
                        results, cpu = [], 0.0
                    spent += cpu
                    for _, transition, evidence in results:
                        if isinstance(evidence, av.VideoFrame):
                            evidence = await self._evidence(seat, evidence)
                        self._report(seat, transition, evidence)
                await asyncio.sleep(max(0.0, slot - (loop.time() - slot_start)))
            self.record_pass(spent, len(seats))

    def record_pass(self, spent: float, samples: int) -> None:
        """Keep a pass within its share of a core: sample less often when passes are slow."""
        stats = self.stats
        stats.passes += 1
        stats.samples += samples
        stats.last_pass_ms = spent * 1000
        wanted = max(self._base_interval, spent / self._max_share)
        stats.interval_s = min(MAX_INTERVAL_S, wanted)
        if stats.interval_s > self._base_interval:
            stats.slowed_passes += 1

    def _report(self, seat: str, transition: Transition, snapshot: bytes | None) -> None:
        if self.on_warning is not None:
            try:
                self.on_warning(seat, transition, snapshot)
            except Exception:
                logger.exception("analysis %s: warning callback failed", self._name)

    # -- work done in the analysis thread -------------------------------------------------------

    def _pass(
        self, due: dict[str, av.VideoFrame]
    ) -> list[tuple[str, Transition, av.VideoFrame | None]]:
        if self._detector is None:
            self._detector = FaceDetector()
        out: list[tuple[str, Transition, av.VideoFrame | None]] = []
        for seat, frame in due.items():
            at = time.time()
            state = self._seats.get(seat)
            if state is None:
                state = self._seats[seat] = _Seat(self._thresholds)
            picture = colour(frame, self._width)
            gray = cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY)
            observation = state.presence.observe(gray, self._detector.detect(picture), at)
            transitions = state.rules.observe(observation)
            # The picture that completed the condition is the evidence of a warning that starts
            # (made a JPEG on the event loop's side, where a still at full size can be waited for).
            out += [(seat, t, frame if t.starts else None) for t in transitions]
        return out

    def _room_camera_pass(
        self, camera: str, keyframe: bytes, codec: str, seated: int, attendants: int
    ) -> list[tuple[str, Transition, bytes | None]]:
        if self._faces is None:
            self._faces = FaceCounter()
        state = self._room_cameras.get(camera)
        if state is None or state.codec != codec:
            state = self._room_cameras[camera] = _RoomCamera(self._thresholds, codec)
        frames = state.decoder.decode(av.Packet(keyframe))
        if not frames:
            return []
        frame = frames[-1]
        if frame.format.name not in YUV420_FORMATS:
            frame = frame.reformat(format="yuv420p")  # our own frame: no other thread has it
        gray = luma(frame, ROOM_CAMERA_WIDTH)
        faces = self._faces.count(gray, ROOM_CAMERA_MIN_FACE)
        transitions = state.rules.observe(
            time.time(), faces=faces, seated=seated, attendants=attendants
        )
        snapshot = jpeg(frame) if any(t.starts for t in transitions) else None
        return [(camera, t, snapshot if t.starts else None) for t in transitions]

    def _stop_room_camera(self, camera: str) -> list[Transition]:
        state = self._room_cameras.pop(camera, None)
        return state.rules.stop(time.time()) if state is not None else []

    def _stop_seat(self, seat: str) -> list[Transition]:
        state = self._seats.pop(seat, None)
        return state.rules.stop(time.time()) if state is not None else []
