"""The room's audio: every seat hears the others (mix-minus), never its own voice.

A source may be muted (禁言: a hall's host or witness silences a speaker): its audio is still
taken at every tick, so that it does not pile up and its voice comes back at once and in time
when unmuted, but it is in nobody's mix.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media.config import MediaConfig

logger = logging.getLogger(__name__)

FULL_MIX = "*"  # subscriber key of the whole room's mix (recording, supervision)
MAX_PENDING_FRAMES = 10
# Ticks over which a source's unused audio is watched: what stayed in its buffer after every
# take of this many ticks (2 s) was never needed against jitter, and is delay.
LEVEL_WINDOW_TICKS = 100


class _Source:
    """Decoded audio of one seat, as mono int16 at the mixer's rate."""

    def __init__(
        self, sample_rate: int, prefill: int, max_samples: int, dropped: Callable[[str, int], None]
    ) -> None:
        self.buffer: deque[np.ndarray] = deque()
        # When each chunk of the buffer came (monotonic), for the time the audio waits.
        self.arrivals: deque[float] = deque()
        # How long the first sample of the last take waited in the buffer, seconds.
        self.waited = 0.0
        self.samples = 0
        self.prefill = prefill
        self.max_samples = max_samples
        self.ready = False
        self.resampler: av.AudioResampler | None = None
        self.sample_rate = sample_rate
        self.dropped = dropped
        # The least audio left after a take in this window of ticks, and the window's ticks.
        self._spare = max_samples
        self._ticks = 0

    def push(self, frame: av.AudioFrame, at: float) -> None:
        for mono in self._to_mono(frame):
            self.buffer.append(mono)
            self.arrivals.append(at)
            self.samples += len(mono)
        while self.samples > self.max_samples:
            # The seat sends faster than we mix (clock drift, a burst): drop the oldest audio.
            old = self.buffer.popleft()
            self.arrivals.popleft()
            self.samples -= len(old)
            self.dropped("mix_overflow", 1)
        if self.samples >= self.prefill:
            self.ready = True

    def take(self, n: int, now: float) -> np.ndarray | None:
        if not self.ready:
            return None
        if self.samples < n:
            # Underrun: play silence until the jitter buffer is full again.
            self.ready = False
            self._spare, self._ticks = self.max_samples, 0
            return None
        self.waited = now - self.arrivals[0]
        out = self._read(n)
        self._spare = min(self._spare, self.samples)
        self._ticks += 1
        if self._ticks >= LEVEL_WINDOW_TICKS:
            # After an underrun the buffer fills to the prefill again, and the late audio that
            # comes in a burst then stands on top of it for good: the delay only grows. Audio
            # that a whole window never needed (more than the prefill left after every take)
            # is a frame too many: this tick plays two frames in one, the first fading into
            # the second, and the delay falls by a frame (at most one a window).
            if self._spare >= self.prefill and self.samples >= n:
                out = _crossfade(out, self._read(n))
                self.dropped("mix_trimmed", 1)
            self._spare, self._ticks = self.max_samples, 0
        return out

    def _read(self, n: int) -> np.ndarray:
        out = np.empty(n, dtype=np.int16)
        filled = 0
        while filled < n:
            chunk = self.buffer[0]
            take = min(n - filled, len(chunk))
            out[filled : filled + take] = chunk[:take]
            filled += take
            if take == len(chunk):
                self.buffer.popleft()
                self.arrivals.popleft()
            else:
                self.buffer[0] = chunk[take:]
        self.samples -= n
        return out

    def _to_mono(self, frame: av.AudioFrame) -> list[np.ndarray]:
        if frame.sample_rate == self.sample_rate and frame.format.name == "s16":
            return [_downmix(frame.to_ndarray(), len(frame.layout.channels))]
        if self.resampler is None:
            self.resampler = av.AudioResampler(format="s16", layout="mono", rate=self.sample_rate)
        return [f.to_ndarray().reshape(-1) for f in self.resampler.resample(frame)]


def _crossfade(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """One frame of int16 samples from two: `first` fading out as `second` fades in."""
    rising = np.linspace(0.0, 1.0, len(first), dtype=np.float32)
    mixed = first.astype(np.float32) * (1.0 - rising) + second.astype(np.float32) * rising
    return np.rint(mixed).astype(np.int16)


def _downmix(samples: np.ndarray, channels: int) -> np.ndarray:
    """Packed s16 with `channels` interleaved channels to mono."""
    flat = samples.reshape(-1)
    if channels <= 1:
        return flat.astype(np.int16, copy=True)
    if channels == 2:
        # The usual case (Opus from browsers is stereo): integer average, no float round trip.
        return ((flat[0::2].astype(np.int32) + flat[1::2]) >> 1).astype(np.int16)
    return flat.reshape(-1, channels).mean(axis=1).astype(np.int16)


class MixTrack(MediaStreamTrack):
    """Audio for one listener: 20 ms frames from the mixer; aiortc encodes them (Opus)."""

    kind = "audio"

    def __init__(self, mixer: AudioMixer, key: str) -> None:
        super().__init__()
        self._mixer = mixer
        self.key = key
        self._pending: deque[av.AudioFrame] = deque()
        self._ready = asyncio.Event()

    def push(self, frame: av.AudioFrame) -> None:
        """Queue a mixed frame; a listener that stops reading loses its oldest audio."""
        if len(self._pending) >= MAX_PENDING_FRAMES:
            self._pending.popleft()
            self._mixer.stats.dropped_frames += 1
        self._pending.append(frame)
        self._ready.set()

    async def recv(self) -> av.AudioFrame:
        """The next mixed frame."""
        while not self._pending:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        return self._pending.popleft()

    def stop(self) -> None:
        """End the track and leave the mixer."""
        if self.readyState == "live":
            self._mixer._unsubscribe(self)
        super().stop()
        self._ready.set()


@dataclass
class MixerStats:
    """What the mixer did since it started."""

    ticks: int = 0
    late_ticks: int = 0
    dropped_frames: int = 0  # mixed frames a listener's track did not take in time
    overflow_frames: int = 0  # a source's oldest frames, beyond the most its buffer holds
    trimmed_frames: int = 0  # a source's frames played into the next to shorten its delay


class AudioMixer:
    """Mixes seats' audio every 20 ms; each listener gets the sum of all seats but its own."""

    def __init__(self, config: MediaConfig, *, name: str = "room") -> None:
        self._config = config
        self._name = name
        self._rate = config.audio_sample_rate
        self._samples = config.audio_sample_rate * config.audio_frame_ms // 1000
        self._prefill = config.audio_sample_rate * config.audio_prefill_ms // 1000
        self._max = config.audio_sample_rate * config.audio_max_buffer_ms // 1000
        self._sources: dict[str, _Source] = {}
        self._muted: frozenset[str] = frozenset()
        self._listeners: dict[str, set[MixTrack]] = {}
        # Listeners whose mix is wanted as samples by a consumer of every tick (an encoder).
        self._sample_listeners: set[str] = set()
        self.on_mixes: Callable[[dict[str, np.ndarray], int], None] | None = None
        self._pts = 0
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.stats = MixerStats()
        # Told how long the voice spent in the mixer's stages, in seconds (event loop):
        # "buffer" (a source's audio from its arrival to the tick that takes it, once a source
        # and tick) and "mix" (a tick's mixing and hand-over, once a tick).
        self.on_stage: Callable[[str, float], None] | None = None
        # Told of a source's audio the mix left out (event loop): "mix_overflow" (beyond the
        # most a buffer holds) and "mix_trimmed" (played into the next frame), with a count of
        # frames. The seats' own recordings keep every frame; the room's mix does not.
        self.on_drop: Callable[[str, int], None] | None = None

    async def start(self) -> None:
        """Start the 20 ms mixing clock."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"mixer-{self._name}")

    async def close(self) -> None:
        """Stop mixing and end every listener track; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, timeout=5)
        for tracks in list(self._listeners.values()):
            for track in list(tracks):
                track.stop()
        self._listeners.clear()

    async def __aenter__(self) -> AudioMixer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def push(self, key: str, frame: av.AudioFrame) -> None:
        """Decoded audio from seat `key`."""
        source = self._sources.get(key)
        if source is None:
            source = self._sources[key] = _Source(
                self._rate, self._prefill, self._max, self._source_dropped
            )
        source.push(frame, time.monotonic())

    def _source_dropped(self, where: str, count: int) -> None:
        if where == "mix_trimmed":
            self.stats.trimmed_frames += count
        else:
            self.stats.overflow_frames += count
        if self.on_drop is not None:
            self.on_drop(where, count)

    def remove_source(self, key: str) -> None:
        """Seat `key` stopped sending audio."""
        self._sources.pop(key, None)

    def set_muted(self, keys: set[str] | frozenset[str]) -> None:
        """The sources heard by nobody from the next tick on (every other source is heard)."""
        self._muted = frozenset(keys)

    @property
    def muted(self) -> frozenset[str]:
        """The sources muted now."""
        return self._muted

    def subscribe(self, key: str) -> MixTrack:
        """Audio for the listener at seat `key` (all but `key`); FULL_MIX hears everyone."""
        track = MixTrack(self, key)
        self._listeners.setdefault(key, set()).add(track)
        return track

    def want_samples(self, key: str, wanted: bool) -> None:
        """Whether `key`'s mix goes to ``on_mixes`` each tick (as int16 samples)."""
        if wanted:
            self._sample_listeners.add(key)
        else:
            self._sample_listeners.discard(key)

    def _unsubscribe(self, track: MixTrack) -> None:
        tracks = self._listeners.get(track.key)
        if tracks is not None:
            tracks.discard(track)
            if not tracks:
                del self._listeners[track.key]

    def mix_once(self) -> dict[str, np.ndarray]:
        """Take one frame from every ready source and return each listener's mix."""
        n = self._samples
        now = time.monotonic()
        on_stage = self.on_stage
        taken: dict[str, np.ndarray] = {}
        for key, source in self._sources.items():
            chunk = source.take(n, now)
            if chunk is None:
                continue
            if on_stage is not None:
                on_stage("buffer", source.waited)
            if key not in self._muted:
                taken[key] = chunk.astype(np.int32)
        total = np.zeros(n, dtype=np.int32)
        for chunk in taken.values():
            total += chunk
        mixes: dict[str, np.ndarray] = {}
        for key in self._listeners.keys() | self._sample_listeners:
            own = taken.get(key)
            mix = total - own if own is not None and key != FULL_MIX else total
            mixes[key] = np.clip(mix, -32768, 32767).astype(np.int16)
        return mixes

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self._samples / self._rate
        next_due = loop.time()
        time_base = Fraction(1, self._rate)
        while True:
            self.stats.ticks += 1
            started = time.monotonic()
            mixes = self.mix_once()
            if self.on_mixes is not None and self._sample_listeners:
                wanted = {k: v for k, v in mixes.items() if k in self._sample_listeners}
                try:
                    self.on_mixes(wanted, self._pts)
                except Exception:
                    logger.exception("mixer %s: mix consumer failed", self._name)
            for key, samples in mixes.items():
                for track in tuple(self._listeners.get(key, ())):
                    frame = av.AudioFrame.from_ndarray(
                        samples.reshape(1, -1), format="s16", layout="mono"
                    )
                    frame.sample_rate = self._rate
                    frame.pts = self._pts
                    frame.time_base = time_base
                    track.push(frame)
            if self.on_stage is not None:
                self.on_stage("mix", time.monotonic() - started)
            self._pts += self._samples
            next_due += interval
            delay = next_due - loop.time()
            if delay < -0.2:
                # The loop was blocked; resynchronise rather than burst out stale audio.
                self.stats.late_ticks += 1
                next_due = loop.time()
                delay = 0.0
            await asyncio.sleep(max(0.0, delay))
