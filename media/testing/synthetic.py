"""Synthetic media tracks for tests and benchmarks: counter cameras, tones, pre-encoded loops.

Raw tracks (``CounterVideoTrack``, ``ToneAudioTrack``) return ``av`` frames that aiortc encodes.
Pre-encoded tracks (``PreEncodedVideoTrack``, ``PreEncodedAudioTrack``) return ``av.Packet``s
that aiortc's ``RTCRtpSender`` only packetizes, so a benchmark seat costs almost no CPU. On that
path aiortc ignores keyframe requests, so the video loops carry a keyframe every
``keyframe_interval`` frames instead.

Video tracks record ``sent_at[counter] = time.time()`` when a frame leaves ``recv()``, so a
receiver that reads the counter back (``media.testpattern.read_counter``) can compute the delay.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import time
from collections import deque
from collections.abc import Iterable, Sequence

import av
import cv2
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media.testing.testpattern import MASK, draw_counter, solid_frame

VIDEO_CLOCK_RATE = 90_000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_RATE)
AUDIO_RATE = 48_000
AUDIO_PTIME = 0.020
#: A track more than this far behind its schedule re-anchors instead of bursting to catch up.
MAX_LATENESS = 0.5


class SentLog:
    """Bounded map of frame counter to the ``time.time()`` at which that frame was returned."""

    def __init__(self, maxlen: int = 4096) -> None:
        """Keep at most ``maxlen`` entries; the oldest are forgotten first."""
        self._times: dict[int, float] = {}
        self._order: deque[tuple[int, float]] = deque()
        self._maxlen = maxlen

    def record(self, counter: int, when: float) -> None:
        """Remember that the frame carrying ``counter`` was sent at ``when``."""
        counter &= MASK
        self._times[counter] = when
        self._order.append((counter, when))
        while len(self._order) > self._maxlen:
            old, old_when = self._order.popleft()
            # A looped counter may have been sent again since: keep the newer time.
            if self._times.get(old) == old_when:
                del self._times[old]

    def entries(self) -> list[tuple[int, float]]:
        """Every (counter, time sent) kept, oldest first; a looped counter appears each time."""
        return list(self._order)

    def get(self, counter: int, default: float | None = None) -> float | None:
        """Return when ``counter`` was last sent, or ``default``."""
        return self._times.get(counter & MASK, default)

    def __getitem__(self, counter: int) -> float:
        """Return when ``counter`` was last sent; KeyError when unknown."""
        return self._times[counter & MASK]

    def __contains__(self, counter: object) -> bool:
        """Return whether ``counter`` is known."""
        return isinstance(counter, int) and (counter & MASK) in self._times

    def __len__(self) -> int:
        """Return the number of remembered counters."""
        return len(self._times)


class _PacedTrack(MediaStreamTrack):
    """A track that returns one item every ``period`` seconds of real time."""

    def __init__(self, period: float) -> None:
        """Pace items ``period`` seconds apart, starting at the first ``recv()``."""
        super().__init__()
        self._period = period
        self._anchor: float | None = None
        self._anchor_index = 0
        self._index = 0
        #: Items returned so far.
        self.frames_sent = 0

    async def _next_index(self) -> int:
        """Sleep until the next item is due and return its index (monotonic across loops)."""
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._anchor is None:
            self._anchor = now
            self._anchor_index = self._index
        due = self._anchor + (self._index - self._anchor_index) * self._period
        if now - due > MAX_LATENESS:
            # Fell far behind (a stalled loop): start a fresh schedule instead of a burst.
            self._anchor = now
            self._anchor_index = self._index
            due = now
        if due > now:
            await asyncio.sleep(due - now)
        if self.readyState != "live":
            raise MediaStreamError
        index = self._index
        self._index += 1
        self.frames_sent += 1
        return index


class CounterVideoTrack(_PacedTrack):
    """Camera of one solid colour with the frame counter drawn in the top-left corner."""

    kind = "video"

    def __init__(
        self,
        color_rgb: tuple[int, int, int],
        fps: float = 15,
        size: tuple[int, int] = (640, 480),
        *,
        pattern: bool = True,
        clock: bool = False,
    ) -> None:
        """Produce ``size`` frames of ``color_rgb`` at ``fps``; ``pattern=False``: no counter.

        ``clock=True`` draws the wall clock in frame periods (``time.time() * fps``) instead of
        the frame index, so that two cameras' counters name the same instant: what a player
        that keeps tracks in sync must show side by side.
        """
        super().__init__(1.0 / fps)
        self._fps = fps
        self._background = solid_frame(color_rgb, None, size)
        self._pattern = pattern
        self._clock = clock
        self.sent_at = SentLog()

    async def recv(self) -> av.VideoFrame:
        """Return the next frame when it is due."""
        index = await self._next_index()
        rgb = self._background.copy()
        counter = (round(time.time() * self._fps) if self._clock else index) & MASK
        if self._pattern:
            draw_counter(rgb, counter)
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = round(index * VIDEO_CLOCK_RATE / self._fps)
        frame.time_base = VIDEO_TIME_BASE
        self.sent_at.record(counter, time.time())
        return frame


class PictureVideoTrack(_PacedTrack):
    """Camera showing a given picture (a scene), switchable while it runs, with the counter.

    The counter keeps the picture changing as a live camera's does; ``pattern=False`` sends the
    picture unchanged (a frozen or black camera).
    """

    kind = "video"

    def __init__(self, rgb: np.ndarray, fps: float = 15, *, pattern: bool = True) -> None:
        super().__init__(1.0 / fps)
        self._fps = fps
        self._picture = rgb
        self._pattern = pattern

    def show(self, rgb: np.ndarray, *, pattern: bool | None = None) -> None:
        """Show `rgb` from the next frame on (same size as before)."""
        if rgb.shape != self._picture.shape:
            raise ValueError(f"picture {rgb.shape} differs from {self._picture.shape}")
        self._picture = rgb
        if pattern is not None:
            self._pattern = pattern

    async def recv(self) -> av.VideoFrame:
        """Return the next frame when it is due."""
        index = await self._next_index()
        rgb = self._picture
        if self._pattern:
            rgb = rgb.copy()
            draw_counter(rgb, index & MASK)
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = round(index * VIDEO_CLOCK_RATE / self._fps)
        frame.time_base = VIDEO_TIME_BASE
        return frame


class ToneAudioTrack(_PacedTrack):
    """Microphone playing a continuous sine tone in 20 ms s16 frames."""

    kind = "audio"

    def __init__(
        self,
        freq_hz: float,
        sample_rate: int = AUDIO_RATE,
        *,
        amplitude: float = 0.3,
        channels: int = 1,
    ) -> None:
        """Play ``freq_hz`` at ``amplitude`` (of full scale) on 1 or 2 identical channels."""
        super().__init__(AUDIO_PTIME)
        if channels not in (1, 2):
            raise ValueError("channels must be 1 or 2")
        self._freq = freq_hz
        self._rate = sample_rate
        self._samples = round(sample_rate * AUDIO_PTIME)
        self._amplitude = amplitude * 32767
        self._channels = channels
        self._time_base = fractions.Fraction(1, sample_rate)

    async def recv(self) -> av.AudioFrame:
        """Return the next 20 ms frame when it is due."""
        index = await self._next_index()
        pts = index * self._samples
        t = (pts + np.arange(self._samples)) / self._rate
        mono = (np.sin(2 * math.pi * self._freq * t) * self._amplitude).astype(np.int16)
        if self._channels == 2:
            data = np.repeat(mono, 2).reshape(1, -1)
            layout = "stereo"
        else:
            data = mono.reshape(1, -1)
            layout = "mono"
        frame = av.AudioFrame.from_ndarray(data, format="s16", layout=layout)
        frame.sample_rate = self._rate
        frame.pts = pts
        frame.time_base = self._time_base
        return frame


class _PreEncodedTrack(_PacedTrack):
    """Replays a loop of encoded packets in real time with monotonically increasing pts."""

    def __init__(
        self, packets: Sequence[av.Packet | bytes], period: float, ticks: int, clock_rate: int
    ) -> None:
        """Replay ``packets``, one per ``period`` seconds, ``ticks`` clock units apart."""
        super().__init__(period)
        if not packets:
            raise ValueError("no packets to replay")
        self._payloads = [bytes(p) for p in packets]
        self._keyframes = [bool(getattr(p, "is_keyframe", False)) for p in packets]
        self._ticks = ticks
        self._time_base = fractions.Fraction(1, clock_rate)
        self._start = 0  # the index at which the loop last started over
        self._restart = False

    def restart(self) -> None:
        """Replay from the loop's first packet on (a keyframe: what a camera asked for one
        sends next); the timestamps go on."""
        self._restart = True

    async def _next_packet(self) -> tuple[int, av.Packet]:
        """Return (index in the loop, packet) when the next packet is due."""
        index = await self._next_index()
        if self._restart:
            self._restart = False
            self._start = index
        position = (index - self._start) % len(self._payloads)
        packet = av.Packet(self._payloads[position])
        packet.pts = index * self._ticks
        packet.dts = packet.pts
        packet.time_base = self._time_base
        packet.is_keyframe = self._keyframes[position]
        return position, packet


class PreEncodedVideoTrack(_PreEncodedTrack):
    """Video track replaying a pre-encoded VP8 loop; the counter is the index in the loop."""

    kind = "video"

    def __init__(self, packets: Sequence[av.Packet | bytes], fps: float) -> None:
        """Replay ``packets`` (one per frame, the first a keyframe) at ``fps``."""
        super().__init__(packets, 1.0 / fps, round(VIDEO_CLOCK_RATE / fps), VIDEO_CLOCK_RATE)
        self.sent_at = SentLog()

    async def recv(self) -> av.Packet:
        """Return the next encoded frame when it is due."""
        position, packet = await self._next_packet()
        self.sent_at.record(position, time.time())
        return packet


class PreEncodedAudioTrack(_PreEncodedTrack):
    """Audio track replaying a pre-encoded loop of 20 ms Opus packets."""

    kind = "audio"

    def __init__(self, packets: Sequence[av.Packet | bytes], ptime: float = AUDIO_PTIME) -> None:
        """Replay ``packets`` of ``ptime`` seconds each (48 kHz Opus clock)."""
        super().__init__(packets, ptime, round(AUDIO_RATE * ptime), AUDIO_RATE)

    async def recv(self) -> av.Packet:
        """Return the next Opus packet when it is due."""
        _, packet = await self._next_packet()
        return packet


def encode_vp8_loop(
    frames: Iterable[np.ndarray],
    fps: float,
    bitrate: int,
    *,
    keyframe_interval: int | None = None,
) -> list[av.Packet]:
    """Encode RGB frames into VP8, one packet per frame, a keyframe first (and every interval)."""
    encoder: av.VideoCodecContext | None = None
    packets: list[av.Packet] = []
    count = 0
    for index, rgb in enumerate(frames):
        if encoder is None:
            encoder = av.CodecContext.create("libvpx", "w")
            encoder.width = rgb.shape[1]
            encoder.height = rgb.shape[0]
            encoder.pix_fmt = "yuv420p"
            encoder.time_base = fractions.Fraction(1, round(fps))
            encoder.framerate = fractions.Fraction(round(fps), 1)
            encoder.bit_rate = bitrate
            # Realtime, no look-ahead: exactly one visible packet per input frame.
            encoder.options = {
                "deadline": "realtime",
                "cpu-used": "8",
                "lag-in-frames": "0",
                "auto-alt-ref": "0",
            }
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        frame.pts = index
        frame.time_base = encoder.time_base
        if index == 0 or (keyframe_interval and index % keyframe_interval == 0):
            frame.pict_type = av.video.frame.PictureType.I
        packets.extend(encoder.encode(frame))
        count += 1
    if encoder is None:
        raise ValueError("no frames to encode")
    packets.extend(encoder.encode(None))
    if len(packets) != count:
        raise RuntimeError(f"VP8 encoder gave {len(packets)} packets for {count} frames")
    if not packets[0].is_keyframe:
        raise RuntimeError("VP8 loop does not start with a keyframe")
    return packets


def encode_opus_loop(
    samples: np.ndarray, sample_rate: int = AUDIO_RATE, bitrate: int = 32_000
) -> list[av.Packet]:
    """Encode mono samples (float in [-1, 1] or int16) into 20 ms Opus packets."""
    if samples.dtype != np.int16:
        samples = (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)
    per_packet = round(sample_rate * AUDIO_PTIME)
    count = len(samples) // per_packet
    if count == 0:
        raise ValueError("fewer samples than one 20 ms packet")
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = sample_rate
    encoder.layout = "stereo"
    encoder.format = "s16"
    encoder.bit_rate = bitrate
    encoder.time_base = fractions.Fraction(1, sample_rate)
    packets: list[av.Packet] = []
    for index in range(count):
        chunk = samples[index * per_packet : (index + 1) * per_packet]
        frame = av.AudioFrame.from_ndarray(
            np.repeat(chunk, 2).reshape(1, -1), format="s16", layout="stereo"
        )
        frame.sample_rate = sample_rate
        frame.pts = index * per_packet
        frame.time_base = encoder.time_base
        packets.extend(encoder.encode(frame))
    packets.extend(encoder.encode(None))
    # The flush adds the encoder delay as a tail packet: a loop keeps whole input packets only.
    return packets[:count]


def counter_frames(
    color_rgb: tuple[int, int, int],
    count: int,
    size: tuple[int, int] = (640, 480),
    *,
    motion: bool = False,
) -> list[np.ndarray]:
    """Return ``count`` frames of ``color_rgb`` carrying counters 0..count-1.

    With ``motion`` the area below the pattern holds a drifting texture, so that the VP8 loop
    costs a real camera's bitrate and decode time instead of a still image's.
    """
    width, height = size
    frames = []
    texture = None
    if motion:
        rng = np.random.default_rng(11)
        coarse = rng.integers(0, 256, (height // 8 + 8, width // 8 + 8, 3), dtype=np.uint8)
        texture = np.repeat(np.repeat(coarse, 8, axis=0), 8, axis=1).astype(np.int16) - 128
    for index in range(count):
        frame = solid_frame(color_rgb, None, size)
        if texture is not None:
            dx = index % 64
            dy = (index // 2) % 64
            window = texture[dy : dy + height - 80, dx : dx + width] // 3
            below = frame[80:].astype(np.int16) + window
            frame[80:] = np.clip(below, 0, 255).astype(np.uint8)
        draw_counter(frame, index)
        frames.append(frame)
    return frames


def desktop_frames(count: int, size: tuple[int, int] = (1280, 720)) -> list[np.ndarray]:
    """Return ``count`` document-like desktop frames with a moving cursor bar and the counter."""
    width, height = size
    base = np.full((height, width, 3), 245, dtype=np.uint8)
    base[: height // 12] = (40, 70, 120)  # title bar
    rng = np.random.default_rng(7)
    for line, y in enumerate(range(height // 6, height - 40, 28)):
        length = int(rng.integers(width // 3, width - 120))
        base[y : y + 12, 80 : 80 + length] = 90 + (line % 3) * 30
    frames = []
    for index in range(count):
        frame = base.copy()
        bar = (index * 17) % max(1, height - 200) + 100
        frame[bar : bar + 24, 60 : width - 60] = (250, 220, 120)
        draw_counter(frame, index)
        frames.append(frame)
    return frames


def tone_samples(freq_hz: float, seconds: float, sample_rate: int = AUDIO_RATE) -> np.ndarray:
    """Return ``seconds`` of a sine tone at 0.3 of full scale as float32 mono samples."""
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    return (0.3 * np.sin(2 * math.pi * freq_hz * t)).astype(np.float32)


def voice_samples(
    pitch_hz: float, seconds: float, *, beat_hz: float = 3.0, sample_rate: int = AUDIO_RATE
) -> np.ndarray:
    """``seconds`` of a voiced sound as int16 mono, peaks at 0.37 of full scale.

    The harmonics of `pitch_hz` up to 4 kHz, each at 1/k of the first (a voice's falling
    spectrum), swelling and fading `beat_hz` times a second like syllables. Unlike a pure tone
    it keeps a codec's analysis of the signal busy, as speech does.
    """
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    count = max(1, int(4000 / pitch_hz))
    sound = sum(np.sin(2 * math.pi * k * pitch_hz * t) / k for k in range(1, count + 1))
    sound = sound * (0.6 + 0.4 * np.sin(2 * math.pi * beat_hz * t))
    return (sound / np.abs(sound).max() * 12_000).astype(np.int16)


def camera_loop(
    color_rgb: tuple[int, int, int],
    seconds: float = 10.0,
    fps: float = 15,
    bitrate: int = 500_000,
    keyframe_interval: int | None = 30,
    *,
    motion: bool = True,
    size: tuple[int, int] = (640, 480),
) -> list[av.Packet]:
    """Pre-encode a VP8 camera loop whose counter is the index in the loop.

    The pictures are drawn at 640x480 (the counter's size) and scaled to `size` if it differs:
    ``size=(320, 240)`` with a lower bitrate is the seat page's preview of the same camera.
    """
    frames = counter_frames(color_rgb, round(seconds * fps), motion=motion)
    if size != (640, 480):
        frames = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
    return encode_vp8_loop(frames, fps, bitrate, keyframe_interval=keyframe_interval)


def desktop_loop(
    seconds: float = 10.0,
    fps: float = 5,
    bitrate: int = 800_000,
    keyframe_interval: int | None = 10,
) -> list[av.Packet]:
    """Pre-encode a 1280x720 VP8 desktop loop."""
    frames = desktop_frames(round(seconds * fps))
    return encode_vp8_loop(frames, fps, bitrate, keyframe_interval=keyframe_interval)


def tone_loop(freq_hz: float, seconds: float = 1.0, bitrate: int = 32_000) -> list[av.Packet]:
    """Pre-encode a loop of Opus packets of a sine tone (whole cycles loop without a click)."""
    return encode_opus_loop(tone_samples(freq_hz, seconds), bitrate=bitrate)


class BurstAudioTrack(ToneAudioTrack):
    """Microphone that is silent but for a short tone every ``period_s``: one word at a time,
    whose start is told in ``bursts`` (wall-clock seconds of each burst's first frame, when
    aiortc took it to encode and send) and found again in what a listener hears."""

    def __init__(
        self, freq_hz: float = 1000.0, *, period_s: float = 1.0, burst_s: float = 0.1
    ) -> None:
        super().__init__(freq_hz)
        self._period_frames = round(period_s / AUDIO_PTIME)
        self._burst_frames = max(1, round(burst_s / AUDIO_PTIME))
        #: When each burst began, in wall-clock seconds.
        self.bursts: list[float] = []

    async def recv(self) -> av.AudioFrame:
        """The next 20 ms frame when it is due: the tone within a burst, silence otherwise."""
        frame = await super().recv()
        index = int(frame.pts or 0) // self._samples
        phase = index % self._period_frames
        if phase >= self._burst_frames:
            silent = av.AudioFrame.from_ndarray(
                np.zeros((1, self._samples), dtype=np.int16), format="s16", layout="mono"
            )
            silent.sample_rate = frame.sample_rate
            silent.pts = frame.pts
            silent.time_base = frame.time_base
            return silent
        if phase == 0:
            self.bursts.append(time.time())
        return frame
