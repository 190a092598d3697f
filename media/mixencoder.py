"""The whole room's mix, encoded once (Opus) for the archive and for silent listeners."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from fractions import Fraction

import av
from aiortc.mediastreams import MediaStreamError

from media.fanout import PacketFanout, PacketTrack
from media.mixer import FULL_MIX, AudioMixer, MixTrack
from media.tap import EncodedFrame

logger = logging.getLogger(__name__)

OPUS_RATE = 48_000
OPUS_BITRATE = 48_000


def packet_frame(packet: av.Packet, *, kind: str, codec: str, clock_rate: int) -> EncodedFrame:
    """An encoded frame made by the server itself, in the shape the tap gives for received ones."""
    assert packet.pts is not None and packet.time_base is not None
    ticks = int(packet.pts * packet.time_base * clock_rate)
    return EncodedFrame(
        kind=kind,
        codec=codec,
        data=bytes(packet),
        rtp_timestamp=ticks & 0xFFFFFFFF,
        clock_rate=clock_rate,
        keyframe=kind == "audio" or bool(packet.is_keyframe),
        wall_time=time.time(),
    )


class MixEncoder:
    """Subscribes to the full mix (everyone) and encodes it to Opus once, for all listeners."""

    def __init__(self, mixer: AudioMixer, *, name: str) -> None:
        self._mixer = mixer
        self._name = name
        self._listeners: list[Callable[[EncodedFrame], None]] = []
        self._fanout = PacketFanout("audio")
        self._track: MixTrack | None = None
        self._task: asyncio.Task[None] | None = None
        self.frames = 0

    def add_listener(self, listener: Callable[[EncodedFrame], None]) -> None:
        """Give every encoded Opus frame to `listener` (called on the event loop)."""
        self._listeners.append(listener)

    def subscribe(self) -> PacketTrack:
        """A new listener of the encoded mix (a supervisor hears everyone; costs no encode)."""
        return self._fanout.subscribe()

    async def start(self) -> None:
        """Start encoding."""
        if self._task is None:
            self._track = self._mixer.subscribe(FULL_MIX)
            self._task = asyncio.create_task(self._run(), name=f"mix-encoder-{self._name}")

    async def close(self) -> None:
        """Stop encoding; safe to call twice."""
        task, self._task = self._task, None
        self._fanout.close()
        if self._track is not None:
            self._track.stop()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        assert self._track is not None
        encoder = av.CodecContext.create("libopus", "w")
        encoder.sample_rate = OPUS_RATE
        encoder.layout = "mono"
        encoder.format = "s16"
        encoder.bit_rate = OPUS_BITRATE
        encoder.time_base = Fraction(1, OPUS_RATE)
        # 0.15 ms of CPU a 20 ms frame (testing.md): cheap enough for the event loop.
        try:
            while True:
                frame = await self._track.recv()
                for packet in encoder.encode(frame):
                    packet.time_base = Fraction(1, OPUS_RATE)
                    encoded = packet_frame(packet, kind="audio", codec="opus", clock_rate=OPUS_RATE)
                    self.frames += 1
                    self._fanout.publish(packet, True)
                    for listener in tuple(self._listeners):
                        try:
                            listener(encoded)
                        except Exception:
                            logger.exception("mix listener failed (%s)", self._name)
        except MediaStreamError:
            return
