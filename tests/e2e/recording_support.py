"""What the archive's end-to-end test uses: the pages' own marks, decoding, signal analysis."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np

from media.testing.testpattern import check_word, read_counter
from recorder.manifest import SegmentEntry
from tests.e2e.conftest import SeatPage, SyncedMediaFiles

AUDIO_RATE = 48000
CAMERA_RECT = (0, 0, 640, 480)


# ---- ground truth from the browser -----------------------------------------------------------

# Installed in each seat page before its own scripts: reads clones of the camera and microphone
# tracks of the page's first getUserMedia (same source, same frames) with MediaStreamTrackProcessor
# and keeps, on the browser's capture clock, the counter of every picture and the start of every
# 1 kHz beep. A beep starts at an upward zero crossing (both waves start there at phase 0); it is
# the crossing before the first of five 1 ms periods that follow a 2.27 ms (440 Hz) one. Each
# stream's capture timestamps are tied to performance.now() by their smallest delivery delay.
DEVICE_MARKS_JS = """
(() => {
  const marks = { video: [], videoLag: null, beeps: [], audioLag: null, errors: [],
                  timeOrigin: performance.timeOrigin };
  window.__deviceMarks = marks;
  const devices = navigator.mediaDevices;
  if (!devices || typeof MediaStreamTrackProcessor === "undefined") {
    marks.errors.push("MediaStreamTrackProcessor is missing");
    return;
  }
  const lag = (old, now) => (old === null ? now : Math.min(old, now));
  async function watchVideo(track) {
    const reader = new MediaStreamTrackProcessor({ track }).readable.getReader();
    for (;;) {
      const { value: frame, done } = await reader.read();
      if (done) return;
      const now = performance.now();
      try {
        const at = frame.timestamp / 1000;
        marks.videoLag = lag(marks.videoLag, now - at);
        if (frame.format !== "I420" || frame.codedWidth !== 640) continue;
        const pixels = new Uint8Array(frame.allocationSize());
        await frame.copyTo(pixels);
        let value = 0, check = 0;
        for (let i = 0; i < 16; i++) {
          const x = i * 32 + 16;
          value = value * 2 + (pixels[16 * 640 + x] > 128 ? 1 : 0);
          check = check * 2 + (pixels[48 * 640 + x] > 128 ? 1 : 0);
        }
        marks.video.push([at, value, check]);
      } finally {
        frame.close();
      }
    }
  }
  async function watchAudio(track) {
    const reader = new MediaStreamTrackProcessor({ track }).readable.getReader();
    let previous = 0, crossing = null, shortRun = 0, afterTone = false, start = null;
    for (;;) {
      const { value: data, done } = await reader.read();
      if (done) return;
      const now = performance.now();
      try {
        const n = data.numberOfFrames, ms = 1000 / data.sampleRate, at = data.timestamp / 1000;
        marks.audioLag = lag(marks.audioLag, now - (at + n * ms));
        const pcm = new Float32Array(n);
        data.copyTo(pcm, { planeIndex: 0, format: "f32-planar" });
        for (let i = 0; i < n; i++) {
          const sample = pcm[i];
          if (previous < 0 && sample >= 0) {
            const t = at + (i - sample / (sample - previous)) * ms;
            if (crossing !== null) {
              const period = t - crossing;
              if (period > 0.8 && period < 1.25) {
                if (shortRun === 0) start = crossing;
                shortRun += 1;
                if (shortRun === 5 && afterTone) marks.beeps.push(start);
              } else {
                shortRun = 0;
                afterTone = period > 2.0 && period < 2.6;
              }
            }
            crossing = t;
          }
          previous = sample;
        }
      } finally {
        data.close();
      }
    }
  }
  const original = devices.getUserMedia.bind(devices);
  let watching = false;
  devices.getUserMedia = async (constraints) => {
    const stream = await original(constraints);
    const [camera] = stream.getVideoTracks();
    const [microphone] = stream.getAudioTracks();
    if (!watching && camera && microphone) {
      watching = true;
      watchVideo(camera.clone()).catch((e) => marks.errors.push(`camera: ${e}`));
      watchAudio(microphone.clone()).catch((e) => marks.errors.push(`microphone: ${e}`));
    }
    return stream;
  };
})();
"""


class MarkedSeat(SeatPage):
    """A seat page (as SeatPage opens it) that also reads its own camera and microphone."""

    def __init__(self, browser: Any, url: str) -> None:
        self.context = browser.new_context(
            viewport={"width": 1920, "height": 1080}, locale="zh-CN", timezone_id="Asia/Shanghai"
        )
        self.context.add_init_script(DEVICE_MARKS_JS)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.started = time.monotonic()
        self.page.goto(url)

    def device_marks(self, media: SyncedMediaFiles) -> tuple[list[float], list[float]]:
        """On the wall clock: where each camera loop started, and each beep, as captured."""
        marks = self.page.evaluate("window.__deviceMarks")
        assert not marks["errors"], f"reading the devices in the page failed: {marks['errors']}"
        assert marks["videoLag"] is not None and marks["audioLag"] is not None, marks
        origin = marks["timeOrigin"]
        loops = [
            (origin + at + marks["videoLag"]) / 1000 - (value + media.repeated_frames) / media.fps
            for at, value, check in marks["video"]
            if value and check == check_word(value)
        ]
        beeps = [(origin + at + marks["audioLag"]) / 1000 for at in marks["beeps"]]
        return loops, beeps


# ---- decoding ----------------------------------------------------------------------------


@dataclass
class DecodedSegment:
    """One segment file as PyAV decodes it, placed on the wall clock the manifest gives it."""

    entry: SegmentEntry
    frames: int = 0  # decoded pictures (video) or decoded Opus packets (audio)
    media_s: float = 0.0  # decoded media time, the last frame's length included
    times: list[float] = field(default_factory=list)  # media time of each frame from the first
    sizes: set[tuple[int, int]] = field(default_factory=set)
    counters: list[int | None] = field(default_factory=list)  # camera only
    pcm: np.ndarray | None = None  # audio: mono PCM at 48 kHz ...
    pcm_start_s: float = 0.0  # ... whose first sample is at this media time

    def wall(self, media_s: float) -> float:
        """The archive's wall clock at a media time of this segment: the manifest's wall_start
        (the wall time of the segment's first frame) plus the media time since."""
        return self.entry.wall_start + media_s

    def counted(self) -> list[tuple[float, int | None]]:
        """(wall clock, counter read) of each camera picture."""
        return [(self.wall(t), c) for t, c in zip(self.times, self.counters, strict=True)]


def mono(frame: Any) -> np.ndarray:
    """The samples of a decoded audio frame, channels averaged, as float32."""
    samples = frame.to_ndarray().astype(np.float32)
    if frame.format.is_planar:
        return samples.mean(axis=0)
    return samples.reshape(-1, len(frame.layout.channels)).mean(axis=1)


def decode_segment(part_dir: Path, entry: SegmentEntry, read_counters: bool) -> DecodedSegment:
    """Decode every frame of a segment (a decoding error fails the test)."""
    out = DecodedSegment(entry)
    with av.open(str(part_dir / entry.path)) as container:
        frames: Iterator[Any] = container.decode(container.streams[0])  # one stream per file
        if entry.kind == "video":
            for frame in frames:
                out.times.append(float(frame.time))
                out.sizes.add((frame.width, frame.height))
                if read_counters:
                    out.counters.append(read_counter(frame.to_ndarray(format="gray"), CAMERA_RECT))
            # A frame lasts until the next one; the last one as long as the file says: its
            # Duration (from media time 0) ends it. The recorder gives it its real length when
            # it knows the frame after it (the next segment's first), else a guess.
            t = out.times
            assert container.duration is not None, f"{entry.path} states no duration"
            out.media_s = container.duration / 1e6 - t[0] if t else 0.0
        else:
            chunks = []
            for frame in frames:
                if not out.times:
                    out.pcm_start_s = float(frame.time)
                out.times.append(float(frame.time))
                chunks.append(mono(frame))
            out.pcm = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
            out.media_s = out.pcm.size / AUDIO_RATE
    out.frames = len(out.times)
    return out


# ---- signal analysis -----------------------------------------------------------------------


def dominant_hz(pcm: np.ndarray, below_hz: float = AUDIO_RATE / 2) -> tuple[float, float]:
    """The strongest frequency of `pcm` under `below_hz` (Hann window), and by how many dB it
    stands above the median of the spectrum."""
    spectrum = np.abs(np.fft.rfft(pcm * np.hanning(pcm.size)))
    freqs = np.fft.rfftfreq(pcm.size, 1 / AUDIO_RATE)
    spectrum[0] = 0.0
    band = np.where(freqs < below_hz, spectrum, 0.0)
    peak = int(np.argmax(band))
    floor = max(float(np.median(spectrum)), 1e-12)
    return float(freqs[peak]), 20 * float(np.log10(max(band[peak], 1e-12) / floor))


def middle(pcm: np.ndarray, seconds: float) -> np.ndarray:
    """`seconds` of `pcm` from its middle (all of it when shorter)."""
    n = int(seconds * AUDIO_RATE)
    start = max(0, (pcm.size - n) // 2)
    return pcm[start : start + n]


def beep_onsets(pcm: np.ndarray, hz: float) -> list[float]:
    """Seconds from the first sample of `pcm` at which a `hz` beep starts.

    The envelope of the `hz` component over a 10 ms Hann window, every 1 ms (the 440 Hz tone,
    560 Hz away, is far outside the window's main lobe). A beep starts where its envelope first
    reaches half of that beep's peak: there the window's centre is on the onset. A beep cut by
    the start of the segment has no onset in it and is left out.
    """
    win, hop = int(0.010 * AUDIO_RATE), int(0.001 * AUDIO_RATE)
    if pcm.size < 2 * win:
        return []
    t = np.arange(pcm.size) / AUDIO_RATE
    kernel = np.hanning(win)
    env = np.abs(np.convolve(pcm * np.exp(-2j * np.pi * hz * t), kernel / kernel.sum(), "valid"))
    env = env[::hop]
    centres = (np.arange(env.size) * hop + win / 2) / AUDIO_RATE
    above = env > 0.2 * env.max()
    onsets: list[float] = []
    i = 0
    while i < env.size:
        if not above[i]:
            i += 1
            continue
        j = i
        while j < env.size and above[j]:
            j += 1
        half = 0.5 * env[i:j].max()
        k = i
        while k > 0 and env[k - 1] >= half:
            k -= 1
        while env[k] < half:
            k += 1
        if k > 0 and (not onsets or centres[k] - onsets[-1] > 1.0):
            onsets.append(float(centres[k]))
        i = j
    return onsets


def counter_steps(values: list[int], file_frames: int) -> dict[str, int]:
    """Classify the steps between consecutive counter reads of a looping camera.

    ``next`` +1 (modulo the file's length: 43 -> 0 is a step of 1); ``wraps`` arrivals at 0;
    ``wrap_repeat`` frame 0 shown again right after a wrap, which Chromium does once per loop;
    ``repeated`` any other picture shown twice; ``skipped`` frames missing (a step of k counts
    k - 1) in ``jumps`` steps.
    """
    found = {"next": 0, "wraps": 0, "wrap_repeat": 0, "repeated": 0, "skipped": 0, "jumps": 0}
    for i in range(1, len(values)):
        a, b = values[i - 1], values[i]
        found["wraps"] += int(b == 0 and a != 0)
        step = (b - a) % file_frames
        if step == 1:
            found["next"] += 1
        elif step == 0 and b == 0 and i >= 2 and values[i - 2] != 0:
            found["wrap_repeat"] += 1
        elif step == 0:
            found["repeated"] += 1
        else:
            found["skipped"] += step - 1
            found["jumps"] += 1
    return found


def stats(values: list[float]) -> dict[str, Any]:
    """min / median / max / spread of a list of seconds, rounded to the millisecond."""
    if not values:
        return {"n": 0}
    arr = np.asarray(values)
    return {
        "n": int(arr.size),
        "min": round(float(arr.min()), 3),
        "median": round(float(np.median(arr)), 3),
        "max": round(float(arr.max()), 3),
        "spread": round(float(arr.max() - arr.min()), 3),
    }
