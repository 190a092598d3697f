"""Mix-minus: each listener hears everybody but itself."""

from __future__ import annotations

import asyncio

import av
import numpy as np

from media.config import MediaConfig
from media.mixer import FULL_MIX, AudioMixer


def frame(value: int, samples: int = 960, channels: int = 2) -> av.AudioFrame:
    data = np.full((1, samples * channels), value, dtype=np.int16)
    f = av.AudioFrame.from_ndarray(data, format="s16", layout="stereo" if channels == 2 else "mono")
    f.sample_rate = 48_000
    return f


def test_each_listener_gets_all_others() -> None:
    mixer = AudioMixer(MediaConfig())
    for key in ("a", "b", "c", FULL_MIX):
        mixer.subscribe(key)
    for _ in range(3):  # past the 40 ms prefill
        mixer.push("a", frame(100))
        mixer.push("b", frame(20))
        mixer.push("c", frame(3))
    mixes = mixer.mix_once()
    assert set(mixes) == {"a", "b", "c", FULL_MIX}
    assert (mixes["a"] == 23).all()
    assert (mixes["b"] == 103).all()
    assert (mixes["c"] == 120).all()
    assert (mixes[FULL_MIX] == 123).all()


def test_sources_wait_for_prefill_and_clip() -> None:
    mixer = AudioMixer(MediaConfig())
    mixer.subscribe("x")
    mixer.push("a", frame(30000))
    assert (mixer.mix_once()["x"] == 0).all()  # 20 ms buffered < 40 ms prefill
    mixer.push("a", frame(30000))
    mixer.push("b", frame(30000))
    mixer.push("b", frame(30000))
    assert (mixer.mix_once()["x"] == 32767).all()


def test_a_flooding_source_is_bounded() -> None:
    mixer = AudioMixer(MediaConfig(audio_max_buffer_ms=200))
    for _ in range(100):
        mixer.push("a", frame(1))
    assert mixer._sources["a"].samples <= 48_000 * 200 // 1000


def test_other_rates_and_layouts_are_resampled() -> None:
    mixer = AudioMixer(MediaConfig())
    mixer.subscribe("x")
    for _ in range(6):
        f = frame(1000, samples=320, channels=1)
        f.sample_rate = 16_000
        mixer.push("a", f)
    out = mixer.mix_once()["x"]
    assert len(out) == 960 and abs(int(np.median(out)) - 1000) <= 2


async def test_tracks_receive_paced_frames_and_stop_cleanly() -> None:
    mixer = AudioMixer(MediaConfig())
    track = mixer.subscribe("a")
    async with mixer:
        frames = [await asyncio.wait_for(track.recv(), 2) for _ in range(5)]
    assert [f.pts for f in frames] == sorted(f.pts for f in frames)
    assert all(f.samples == 960 and f.sample_rate == 48_000 for f in frames)
    assert track.readyState == "ended"
