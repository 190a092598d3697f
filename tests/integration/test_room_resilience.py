"""Seats that send nothing, or only audio, never stall the grid or the mix of the others."""

from __future__ import annotations

import asyncio

import numpy as np
from aiortc.mediastreams import MediaStreamTrack

from media.testing.synthetic import CounterVideoTrack, ToneAudioTrack
from signaling.testing.seat import SyntheticSeat
from tests.integration.conftest import RunningServer


class SilentVideoTrack(MediaStreamTrack):
    """A camera that was granted but never delivers a frame."""

    kind = "video"

    async def recv(self) -> None:  # type: ignore[override]
        await asyncio.Event().wait()


def tone_level(samples: np.ndarray, rate: int, freq: float) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    return float(spectrum[np.argmin(np.abs(freqs - freq))])


async def test_silent_and_audio_only_seats_do_not_stall_the_room(
    room_server: RunningServer,
) -> None:
    e = room_server.experts
    full = SyntheticSeat(
        room_server.base_url,
        room_server.token(e[0]),
        camera=CounterVideoTrack((200, 40, 40)),
        microphone=ToneAudioTrack(440),
        name="full",
    )
    silent = SyntheticSeat(
        room_server.base_url, room_server.token(e[1]), camera=SilentVideoTrack(), name="silent"
    )
    audio_only = SyntheticSeat(
        room_server.base_url,
        room_server.token(e[3]),
        microphone=ToneAudioTrack(990),
        name="audio-only",
    )
    async with full, silent, audio_only:
        await full.wait_grid_frames(10, timeout=10)
        # The grid keeps coming while a seat in the room sends nothing (a stall would time out;
        # the frame rate itself is measured by bench/room.py, not here).
        await full.wait_grid_frames(30, timeout=10)
        # The silent seat still gets the grid; the audio-only seat hears the full seat.
        await silent.wait_grid_frames(10, timeout=10)
        await audio_only.wait_audio_seconds(1.5, timeout=10)
        await full.wait_audio_seconds(1.5, timeout=10)
        heard = audio_only.audio_samples(1.0)
        rate = audio_only.audio_sample_rate
        assert tone_level(heard, rate, 440) > 10 * tone_level(heard, rate, 990)
        heard = full.audio_samples(1.0)
        assert tone_level(heard, rate, 990) > 10 * tone_level(heard, rate, 440)
