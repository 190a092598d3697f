"""Decoding where a seat's picture or sound is used, instead of in a thread per track.

aiortc decodes each received track in a thread of its own and hands every decoded frame back
to the event loop. In a room of ten seats that is twenty threads woken about 650 times a
second, each time handing the interpreter lock across on the worker's one core, and as many
round trips into the event loop. Here the encoded frames from the receiver tap go to the room
as they are:

- a camera's frames wait in a :class:`CameraDecoder` until the grid's thread composes the next
  picture and decodes them there (about one frame per seat per grid frame);
- a microphone's Opus frames are decoded on the event loop as they arrive (about 0.05 ms each),
  straight into the mixer, by a :class:`MicrophoneDecoder`.

A seat may also send a preview of its camera, a small copy (320x240) for the grid and the
analysis. The grid then decodes the preview, and the camera itself (640x480) is not decoded:
its frames are only recorded and forwarded, and a still at full size for evidence is decoded
from a keyframe asked for when one is needed (:meth:`CameraDecoder.fresh_picture`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable

import av

from media.tap import EncodedFrame

logger = logging.getLogger(__name__)

# The decoders of PyAV (FFmpeg) by RTP codec name.
VIDEO_DECODERS = {"VP8": "vp8", "H264": "h264"}
AUDIO_DECODERS = {"opus": "libopus"}
# Camera frames waiting beyond this are dropped and a keyframe is asked for: a stalled
# consumer must never grow memory without bound (two seconds at 15 fps).
MAX_PENDING_FRAMES = 30
# How long a still at full size waits for the keyframe it asked for (a PLI round trip, and the
# seat encoding a keyframe, take a few hundred milliseconds).
FRESH_PICTURE_TIMEOUT_S = 2.0


def open_video_decoder(codec: str) -> av.VideoCodecContext:
    """A new decoder for video RTP codec `codec`; ValueError for a codec the room does not
    decode."""
    context = _open_decoder(VIDEO_DECODERS, codec)
    if not isinstance(context, av.VideoCodecContext):
        raise TypeError(f"decoder {context.name!r} does not decode video")
    return context


def open_audio_decoder(codec: str) -> av.AudioCodecContext:
    """A new decoder for audio RTP codec `codec`; ValueError for a codec the room does not
    decode."""
    context = _open_decoder(AUDIO_DECODERS, codec)
    if not isinstance(context, av.AudioCodecContext):
        raise TypeError(f"decoder {context.name!r} does not decode audio")
    return context


def _open_decoder(decoders: dict[str, str], codec: str) -> av.CodecContext:
    name = decoders.get(codec)
    if name is None:
        raise ValueError(f"no decoder for codec {codec!r}")
    return av.CodecContext.create(name, "r")


def decode_keyframe(frame: EncodedFrame) -> av.VideoFrame | None:
    """The picture of one keyframe, decoded on its own (None if it does not decode)."""
    try:
        pictures = open_video_decoder(frame.codec).decode(av.Packet(frame.data))
    except (av.error.FFmpegError, ValueError) as exc:
        logger.info("keyframe did not decode: %s", exc)
        return None
    return pictures[-1] if pictures else None


class CameraDecoder:
    """A seat camera's encoded frames, decoded by the thread that shows them.

    ``push`` is called on the event loop (a sink of the receiver tap); ``decode_pending`` in
    the consumer's thread (the grid's), which decodes every waiting frame in order and keeps the
    newest picture in ``picture``. Decoding starts, and after any loss restarts, on a keyframe.
    A camera whose pictures nobody shows (``set_decoding(False)``) keeps no frames at all.
    """

    def __init__(
        self,
        *,
        request_keyframe: Callable[[], None],
        on_drop: Callable[[int], None] | None = None,
        max_pending: int = MAX_PENDING_FRAMES,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._request_keyframe = request_keyframe
        self._on_drop = on_drop
        self._max_pending = max_pending
        self._lock = threading.Lock()
        # Each frame with when it arrived (wall clock).
        self._pending: deque[tuple[EncodedFrame, float]] = deque()
        self._await_keyframe = True
        self._context: av.VideoCodecContext | None = None
        self._codec = ""
        self._decoding = True
        self._keyframe_waiters: list[asyncio.Future[EncodedFrame]] = []
        #: Whether a keyframe has come, decoded or not; ``on_start`` is called at the first one.
        self.started = False
        self.on_start: Callable[[], None] | None = None
        #: The newest decoded picture, or None before the first one.
        self.picture: av.VideoFrame | None = None
        self.frames_decoded = 0
        self.frames_dropped = 0
        self.decode_errors = 0
        #: Of the newest frame decoded: its sender's wall clock and when it arrived here.
        self.newest_sent = self.newest_arrived = 0.0

    def push(self, frame: EncodedFrame) -> None:
        """An encoded frame from the seat (event loop)."""
        if frame.keyframe and not self.started:
            self.started = True
            if self.on_start is not None:
                self.on_start()
        if frame.keyframe and self._keyframe_waiters:
            waiters, self._keyframe_waiters = self._keyframe_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(frame)
        dropped = 0
        with self._lock:
            if not self._decoding:
                return
            if self._await_keyframe:
                if not frame.keyframe:
                    return
                self._await_keyframe = False
            if len(self._pending) >= self._max_pending:
                dropped = len(self._pending) + 1
                self.frames_dropped += dropped
                self._pending.clear()
                self._await_keyframe = True
            else:
                self._pending.append((frame, time.time()))
        if dropped:
            if self._on_drop is not None:
                self._on_drop(dropped)
            self._ask_keyframe()

    def decode_pending(self) -> av.VideoFrame | None:
        """Decode every waiting frame (consumer thread); return the newest picture."""
        while True:
            with self._lock:
                if not self._pending:
                    return self.picture
                frame, arrived = self._pending.popleft()
            try:
                for picture in self._decoder(frame.codec).decode(av.Packet(frame.data)):
                    self.picture = picture
                    self.frames_decoded += 1
                    self.newest_sent, self.newest_arrived = frame.wall_time, arrived
            except (av.error.FFmpegError, ValueError) as exc:
                self.decode_errors += 1
                logger.info("camera decoder: %s; waiting for a keyframe", exc)
                with self._lock:
                    self.frames_dropped += len(self._pending)
                    self._pending.clear()
                    self._await_keyframe = True
                    self._context = None
                self._loop.call_soon_threadsafe(self._ask_keyframe)
                return self.picture

    def pending(self) -> int:
        """Frames waiting to be decoded."""
        return len(self._pending)

    @property
    def decoding(self) -> bool:
        """Whether the camera's frames are kept for decoding."""
        return self._decoding

    def set_decoding(self, decoding: bool) -> None:
        """Keep the camera's frames for decoding, or leave them alone (event loop).

        Decoding starts again on a keyframe, which is asked for; until then ``picture`` is None.
        """
        with self._lock:
            if decoding == self._decoding:
                return
            self._decoding = decoding
            self._pending.clear()
            self._await_keyframe = True
            self.picture = None
        if decoding:
            self._ask_keyframe()

    async def fresh_picture(
        self, within_s: float = FRESH_PICTURE_TIMEOUT_S
    ) -> av.VideoFrame | None:
        """A picture from the camera's next keyframe, asked for now (event loop).

        A still at full size of a camera that is not being decoded; None if no keyframe comes
        within `within_s` seconds or it does not decode.
        """
        waiter: asyncio.Future[EncodedFrame] = self._loop.create_future()
        self._keyframe_waiters.append(waiter)
        self._ask_keyframe()
        try:
            frame = await asyncio.wait_for(waiter, within_s)
        except TimeoutError:
            return None
        finally:
            if waiter in self._keyframe_waiters:
                self._keyframe_waiters.remove(waiter)
        return await asyncio.to_thread(decode_keyframe, frame)

    def _decoder(self, codec: str) -> av.VideoCodecContext:
        if self._context is None or codec != self._codec:
            context = open_video_decoder(codec)
            context.thread_count = 1  # ten cameras share one core: threads would only wait
            self._context, self._codec = context, codec
        return self._context

    def _ask_keyframe(self) -> None:
        try:
            self._request_keyframe()
        except Exception:
            logger.exception("camera decoder: keyframe request failed")


class MicrophoneDecoder:
    """A seat microphone's Opus frames, decoded on the event loop into ``deliver``."""

    def __init__(self, deliver: Callable[[av.AudioFrame], None]) -> None:
        self._deliver = deliver
        self._context: av.AudioCodecContext | None = None
        self._codec = ""
        # Told each frame's time from its sender's clock (its sender reports) to its arrival.
        self.on_ingress: Callable[[float], None] | None = None
        self.frames_decoded = 0
        self.decode_errors = 0

    def push(self, frame: EncodedFrame) -> None:
        """An encoded frame from the seat (event loop)."""
        if self.on_ingress is not None:
            self.on_ingress(time.time() - frame.wall_time)
        try:
            decoded = self._decoder(frame.codec).decode(av.Packet(frame.data))
        except (av.error.FFmpegError, ValueError) as exc:
            self.decode_errors += 1
            if self.decode_errors == 1 or self.decode_errors % 500 == 0:
                logger.info("microphone decoder: %s (%d errors)", exc, self.decode_errors)
            return
        for audio in decoded:
            self.frames_decoded += 1
            self._deliver(audio)

    def _decoder(self, codec: str) -> av.AudioCodecContext:
        if self._context is None or codec != self._codec:
            context = open_audio_decoder(codec)
            context.sample_rate = 48_000
            # libopus folds a stereo stream into one channel as it decodes: what the mixer
            # takes, with neither a second channel synthesised nor a conversion after.
            context.layout = "mono"
            context.format = "s16"
            self._context, self._codec = context, codec
        return self._context
