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
"""

from __future__ import annotations

import asyncio
import logging
import threading
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


def open_decoder(decoders: dict[str, str], codec: str) -> av.CodecContext:
    """A new decoder for RTP codec `codec`; ValueError for a codec the room does not decode."""
    name = decoders.get(codec)
    if name is None:
        raise ValueError(f"no decoder for codec {codec!r}")
    return av.CodecContext.create(name, "r")


class CameraDecoder:
    """A seat camera's encoded frames, decoded by the thread that shows them.

    ``push`` is called on the event loop (a sink of the receiver tap); ``decode_pending`` in
    the consumer's thread (the grid's), which decodes every waiting frame in order and keeps the
    newest picture in ``picture``. Decoding starts, and after any loss restarts, on a keyframe.
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
        self._pending: deque[EncodedFrame] = deque()
        self._await_keyframe = True
        self._context: av.CodecContext | None = None
        self._codec = ""
        #: The newest decoded picture, or None before the first one.
        self.picture: av.VideoFrame | None = None
        self.frames_decoded = 0
        self.frames_dropped = 0
        self.decode_errors = 0

    def push(self, frame: EncodedFrame) -> None:
        """An encoded frame from the seat (event loop)."""
        dropped = 0
        with self._lock:
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
                self._pending.append(frame)
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
                frame = self._pending.popleft()
            try:
                for picture in self._decoder(frame.codec).decode(av.Packet(frame.data)):
                    self.picture = picture  # type: ignore[assignment]
                    self.frames_decoded += 1
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

    def _decoder(self, codec: str) -> av.CodecContext:
        if self._context is None or codec != self._codec:
            context = open_decoder(VIDEO_DECODERS, codec)
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
        self._context: av.CodecContext | None = None
        self._codec = ""
        self.frames_decoded = 0
        self.decode_errors = 0

    def push(self, frame: EncodedFrame) -> None:
        """An encoded frame from the seat (event loop)."""
        try:
            decoded = self._decoder(frame.codec).decode(av.Packet(frame.data))
        except (av.error.FFmpegError, ValueError) as exc:
            self.decode_errors += 1
            if self.decode_errors == 1 or self.decode_errors % 500 == 0:
                logger.info("microphone decoder: %s (%d errors)", exc, self.decode_errors)
            return
        for audio in decoded:
            self.frames_decoded += 1
            self._deliver(audio)  # type: ignore[arg-type]

    def _decoder(self, codec: str) -> av.CodecContext:
        if self._context is None or codec != self._codec:
            context = open_decoder(AUDIO_DECODERS, codec)
            context.sample_rate = 48_000
            # libopus folds a stereo stream into one channel as it decodes: what the mixer
            # takes, with neither a second channel synthesised nor a conversion after.
            context.layout = "mono"
            context.format = "s16"
            self._context, self._codec = context, codec
        return self._context
