"""BroadcastWatcher: a real viewer of a hall's broadcast (aiortc), which decodes what it gets.

It makes the receive-only offer a viewer's page makes (one transceiver per stream it wants,
``roles`` naming the stream of each mid) and then decodes every stream. With ``tap=True`` the
encoded frames are taken from aiortc's receivers (``media.tap``) and decoded with PyAV, so that
the watcher also knows whether the first frame of each video stream was a keyframe; otherwise
aiortc's own depacketizer and decoders do everything, as in any aiortc client.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media.decode import open_audio_decoder, open_video_decoder
from media.tap import EncodedFrame, install_tap
from media.testing.testpattern import read_counter
from signaling.testing.receiving import AudioRing, Progress


@dataclass
class WatchedStream:
    """What a watcher received of one stream."""

    name: str
    kind: str
    frames: Progress = field(default_factory=Progress)
    first_keyframe: bool | None = None  # with the tap: whether the first frame was a keyframe
    counters: list[int] = field(default_factory=list)  # read from the camera's test pattern
    size: tuple[int, int] | None = None
    audio: AudioRing = field(default_factory=lambda: AudioRing(2.0))

    def level(self) -> float:
        """RMS of the last second of sound (0 to 1)."""
        samples = self.audio.last(1.0)
        return float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0


class BroadcastWatcher:
    """One viewer of a broadcast, decoding each stream it asked for."""

    def __init__(self, streams: Sequence[tuple[str, str]], *, tap: bool = False) -> None:
        """`streams`: (kind, name) of each stream to watch, in the offer's order."""
        self.pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self._tap = tap
        self._names: dict[int, str] = {}
        self.streams: dict[str, WatchedStream] = {}
        for kind, name in streams:
            transceiver = self.pc.addTransceiver(kind, direction="recvonly")
            self._names[id(transceiver.receiver)] = name
            self.streams[name] = WatchedStream(name, kind)
        self._tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", self._on_track)

    async def offer(self) -> tuple[str, dict[str, str]]:
        """The offer and its roles (mid -> stream name)."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        roles = {
            str(t.mid): self._names[id(t.receiver)] for t in self.pc.getTransceivers() if t.mid
        }
        return self.pc.localDescription.sdp, roles

    async def accept(self, sdp: str) -> None:
        """The server's answer."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    async def wait_frames(self, name: str, count: int, within: float) -> None:
        """Until `count` more frames of stream `name` were decoded."""
        await self.streams[name].frames.wait_more(count, within, f"{name} frames")

    async def close(self) -> None:
        """Stop decoding and close the connection."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, MediaStreamError):
                await task
        await self.pc.close()

    def _on_track(self, track: MediaStreamTrack) -> None:
        receiver = next(t.receiver for t in self.pc.getTransceivers() if t.receiver.track is track)
        stream = self.streams[self._names[id(receiver)]]
        if self._tap:
            self._watch_encoded(receiver, stream)
        else:
            self._tasks.append(asyncio.create_task(self._read(track, stream), name=stream.name))

    def _watch_encoded(self, receiver: RTCRtpReceiver, stream: WatchedStream) -> None:
        tap = install_tap(receiver)
        decoder: Any = None

        def sink(frame: EncodedFrame) -> None:
            nonlocal decoder
            if stream.first_keyframe is None:
                stream.first_keyframe = frame.keyframe
            if decoder is None:
                decoder = (
                    open_video_decoder(frame.codec)
                    if frame.kind == "video"
                    else open_audio_decoder(frame.codec)
                )
            for decoded in decoder.decode(av.Packet(frame.data)):
                self._decoded(stream, decoded)

        tap.add_sink(sink)

    async def _read(self, track: MediaStreamTrack, stream: WatchedStream) -> None:
        while True:
            self._decoded(stream, await track.recv())

    @staticmethod
    def _decoded(stream: WatchedStream, frame: Any) -> None:
        if isinstance(frame, av.VideoFrame):
            luma = frame.to_ndarray(format="gray")
            stream.size = (frame.width, frame.height)
            counter = read_counter(luma, (0, 0, frame.width, frame.height))
            if counter is not None:
                stream.counters.append(counter)
        elif isinstance(frame, av.AudioFrame):
            array = frame.to_ndarray()
            scale = 1.0 if array.dtype.kind == "f" else 32768.0
            if frame.format.is_planar:
                first = array[0]
            else:
                first = array.reshape(-1)[:: len(frame.layout.channels)]
            stream.audio.write(first.astype(np.float32) / scale)
        stream.frames.add(1)
