"""Opus encoding of the room's audio: the whole mix once (archive, silent listeners), and each
seat's mix-minus once per tick for all seats in one call of an encoding thread."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from typing import Any

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError

from media.fanout import PacketFanout, PacketTrack
from media.mixer import FULL_MIX, AudioMixer, MixTrack
from media.tap import EncodedFrame

logger = logging.getLogger(__name__)

OPUS_RATE = 48_000
OPUS_BITRATE = 48_000
# libopus's complexity (0 to 10; FFmpeg's default is 10). From 7 up, libopus also runs its
# signal analysis (speech or music, tonality) on every frame: the eleven frames of a tick in a
# room of ten cost 1.2 ms at 10 and 0.83 ms at 6 (bench/mix.py), 550 frames a second.
OPUS_COMPLEXITY = 6


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

    def remove_listener(self, listener: Callable[[EncodedFrame], None]) -> None:
        """Stop giving frames to `listener`."""
        if listener in self._listeners:
            self._listeners.remove(listener)

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
        encoder = opus_encoder()
        # About 0.08 ms of CPU a 20 ms frame (bench/mix.py): cheap enough for the event loop.
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


class _Listener:
    """One seat's mix-minus encoder and the tracks that send it."""

    def __init__(self, key: str, on_taken: Callable[[float], None]) -> None:
        self.key = key
        self.fanout = PacketFanout("audio", on_taken=on_taken)
        self.encoder = opus_encoder()


def opus_encoder() -> av.AudioCodecContext:
    """The Opus encoder of the room's audio (mono, 48 kHz, 48 kbit/s), opened on its first frame."""
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = OPUS_RATE
    encoder.layout = "mono"
    encoder.format = "s16"
    encoder.bit_rate = OPUS_BITRATE
    encoder.time_base = Fraction(1, OPUS_RATE)
    encoder.options = {"compression_level": str(OPUS_COMPLEXITY)}
    return encoder


class MixMinusEncoder:
    """Encodes every seat's mix-minus (Opus) each 20 ms tick, all seats in one thread call.

    Handing raw frames to aiortc costs a thread round trip per seat and frame (500 a second in
    a room of ten) around 0.15 ms of encoding each; here a tick's encodes go to the encoding
    thread together and the packets reach each seat's sender as they are.
    """

    def __init__(self, mixer: AudioMixer, *, name: str) -> None:
        self._mixer = mixer
        self._name = name
        self._listeners: dict[str, _Listener] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        mixer.on_mixes = self._on_mixes
        # Told how long the voice spent in the encoder's stages, in seconds (event loop):
        # "encode" (a tick's mixes to their packets back on the loop, once a tick) and "send"
        # (a packet's wait for the seat's sender, once a packet).
        self.on_stage: Callable[[str, float], None] | None = None

    async def start(self) -> None:
        """Start the encoding thread."""
        self._loop = asyncio.get_running_loop()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"mixminus-{self._name}")

    async def close(self) -> None:
        """End every seat's track and the encoding thread; safe to call twice."""
        for listener in self._listeners.values():
            listener.fanout.close()
            self._mixer.want_samples(listener.key, False)
        self._listeners.clear()
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True)

    def subscribe(self, key: str) -> PacketTrack:
        """A track of the room's audio as heard at seat `key` (everyone but `key`)."""
        listener = self._listeners.get(key)
        if listener is None:
            listener = self._listeners[key] = _Listener(key, self._sent)
            self._mixer.want_samples(key, True)
        return listener.fanout.subscribe()

    def _on_mixes(self, mixes: dict[str, np.ndarray], pts: int) -> None:
        """Called by the mixer every tick, on the event loop."""
        for key, listener in list(self._listeners.items()):
            if not len(listener.fanout):  # the seat's sender went away
                del self._listeners[key]
                self._mixer.want_samples(key, False)
        if self._executor is None or not mixes:
            return
        jobs = [(self._listeners[k], v) for k, v in mixes.items() if k in self._listeners]
        submitted = time.monotonic()
        future = self._executor.submit(_encode_all, jobs, pts)
        future.add_done_callback(lambda done: self._encoded(done, submitted))

    def _sent(self, waited: float) -> None:
        if self.on_stage is not None:
            self.on_stage("send", waited)

    def _encoded(self, future: Any, submitted: float) -> None:
        """In the encoding thread: hand the packets to the loop (in tick order)."""
        loop = self._loop
        if loop is None or loop.is_closed() or future.cancelled():
            return
        if future.exception() is not None:
            logger.error("mix-minus %s: encoding failed", self._name, exc_info=future.exception())
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._publish, future.result(), submitted)

    def _publish(self, results: list[tuple[_Listener, list[av.Packet]]], submitted: float) -> None:
        if self.on_stage is not None:
            self.on_stage("encode", time.monotonic() - submitted)
        for listener, packets in results:
            for packet in packets:
                listener.fanout.publish(packet, True)


def _encode_all(
    jobs: list[tuple[_Listener, np.ndarray]], pts: int
) -> list[tuple[_Listener, list[av.Packet]]]:
    out = []
    for listener, samples in jobs:
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = OPUS_RATE
        frame.pts = pts
        frame.time_base = Fraction(1, OPUS_RATE)
        packets = list(listener.encoder.encode(frame))
        for packet in packets:
            packet.time_base = Fraction(1, OPUS_RATE)
        out.append((listener, packets))
    return out
