"""Mix-minus: each listener hears everybody but itself."""

from __future__ import annotations

import asyncio
import time
from fractions import Fraction

import av
import numpy as np

from media.config import MediaConfig
from media.mixencoder import opus_encoder
from media.mixer import FULL_MIX, LEVEL_WINDOW_TICKS, AudioMixer
from media.room import RoomMedia
from media.tap import EncodedFrame
from signaling.metrics import VOICE_STAGES


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
    assert mixer.stats.overflow_frames == 100 - 10  # ten 20 ms frames kept, counted out


def test_other_rates_and_layouts_are_resampled() -> None:
    mixer = AudioMixer(MediaConfig())
    mixer.subscribe("x")
    for _ in range(6):
        f = frame(1000, samples=320, channels=1)
        f.sample_rate = 16_000
        mixer.push("a", f)
    out = mixer.mix_once()["x"]
    assert len(out) == 960 and abs(int(np.median(out)) - 1000) <= 2


def test_audio_a_burst_piled_up_is_played_off_a_frame_a_window() -> None:
    """A source 180 ms deep (late audio that came in a burst after an underrun), then steady:
    its delay falls a frame each window of ticks until less than the prefill stays unused, and
    nothing is heard missing; a source at its prefill is never trimmed."""
    mixer = AudioMixer(MediaConfig())  # 40 ms prefill
    mixer.want_samples(FULL_MIX, True)
    told: list[tuple[str, int]] = []
    mixer.on_drop = lambda where, count: told.append((where, count))
    for _ in range(9):
        mixer.push("deep", frame(1000))
    mixer.push("steady", frame(500))
    heard = []
    for _ in range(10 * LEVEL_WINDOW_TICKS):
        mixer.push("deep", frame(1000))
        mixer.push("steady", frame(500))
        heard.append(mixer.mix_once()[FULL_MIX])
    # 180, 160, ... 40 ms left unused over a window: each a frame too many, down to 20 ms.
    assert mixer.stats.trimmed_frames == 8
    assert told == [("mix_trimmed", 1)] * 8  # counted where the server's metrics count drops
    assert mixer._sources["deep"].samples == 960
    assert mixer._sources["steady"].samples == 960
    assert mixer.stats.overflow_frames == 0
    # Both sources in every tick from the first, at their level: no gap, no step.
    assert all(int(m.min()) == int(m.max()) == 1500 for m in heard)


async def test_tracks_receive_paced_frames_and_stop_cleanly() -> None:
    mixer = AudioMixer(MediaConfig())
    track = mixer.subscribe("a")
    async with mixer:
        frames = [await asyncio.wait_for(track.recv(), 2) for _ in range(5)]
    assert [f.pts for f in frames] == sorted(f.pts for f in frames)
    assert all(f.samples == 960 and f.sample_rate == 48_000 for f in frames)
    assert track.readyState == "ended"


def opus_frames(count: int, sent_before_s: float) -> list[EncodedFrame]:
    """`count` 20 ms Opus frames of a tone, each stamped as sent `sent_before_s` ago."""
    encoder = opus_encoder()
    tone = (8000 * np.sin(2 * np.pi * 440 * np.arange(960 * count) / 48_000)).astype(np.int16)
    out = []
    for index in range(count):
        pcm = av.AudioFrame.from_ndarray(
            tone[960 * index : 960 * (index + 1)].reshape(1, -1), format="s16", layout="mono"
        )
        pcm.sample_rate, pcm.pts, pcm.time_base = 48_000, 960 * index, Fraction(1, 48_000)
        for packet in encoder.encode(pcm):
            out.append(
                EncodedFrame(
                    kind="audio",
                    codec="opus",
                    data=bytes(packet),
                    rtp_timestamp=960 * index,
                    clock_rate=48_000,
                    keyframe=True,
                    wall_time=time.time() - sent_before_s,
                )
            )
    return out


async def test_the_voice_tells_the_time_it_spends_in_each_stage() -> None:
    """A microphone frame from its sender's clock to its arrival, its wait in the mixer's buffer
    for the tick that takes it, the tick's mixing, the encoding of the seats' mixes, and each
    packet's wait for the seat's sender: what bench/voice.py prints as the server's share."""
    stages: list[tuple[str, float]] = []
    room = RoomMedia(MediaConfig(analysis_interval_s=0), name="voice")
    room.tell_voice_stages(lambda stage, seconds: stages.append((stage, seconds)))
    async with room:
        speaker = room.attach_microphone("a")
        heard = room.mix_minus.subscribe("b")
        # Half a second of voice arrives at once, sent 30 ms before: the mixer takes it 20 ms
        # a tick, so each frame waits one tick longer than the one before.
        for encoded in opus_frames(25, sent_before_s=0.03):
            speaker.push(encoded)
        packets = [await asyncio.wait_for(heard.recv(), 2) for _ in range(10)]
    assert len(packets) == 10
    assert {stage for stage, _ in stages} == set(VOICE_STAGES)
    ingress = [s for stage, s in stages if stage == "ingress"]
    assert len(ingress) == 25 and all(0.03 <= s < 1.0 for s in ingress)
    buffer = [s for stage, s in stages if stage == "buffer"]
    assert len(buffer) >= 10 and buffer == sorted(buffer)
    assert buffer[9] - buffer[0] >= 9 * 0.02 * 0.5  # ticks 20 ms apart, however late
    assert all(0 <= s < 1.0 for _, s in stages)
    # Ten packets taken by one sender: ten told.
    assert len([s for stage, s in stages if stage == "send"]) >= 10
