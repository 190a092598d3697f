"""A broadcast viewer the ordinary aiortc way: the reference the lean path is measured against.

Each stream is one of the room's packet tracks (``media.fanout.PacketTrack``, encoded once) on
an aiortc ``RTCRtpSender``, which packetizes every frame again for this viewer and sends each
packet through its own chain of coroutines; the supervisors' viewers work this way
(``signaling.worker.viewer``). ``MediaConfig.broadcast_sender = "aiortc"`` serves a broadcast's
viewers like this, on the origin worker only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from aiortc import RTCConfiguration, RTCIceCandidate, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from media.broadcast import StreamSpec
from media.broadcastviewer import prefer_codec
from media.tap import hook_keyframe_requests


@dataclass(frozen=True)
class TrackSource:
    """A stream as one of the room's packet tracks."""

    spec: StreamSpec
    subscribe: Callable[[], MediaStreamTrack]
    request_keyframe: Callable[[], None] | None


class ReferenceViewer:
    """One viewer as an aiortc connection with a sender per stream."""

    def __init__(
        self,
        sources: Mapping[str, TrackSource],
        *,
        configuration: RTCConfiguration,
        name: str,
        on_state: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self._sources = sources
        self._configuration = configuration
        self._on_state = on_state
        self._pc: RTCPeerConnection | None = None
        self._tracks: list[MediaStreamTrack] = []
        self._closed = False

    @property
    def connection_state(self) -> str:
        """The peer connection's state, ``new`` before the offer."""
        return self._pc.connectionState if self._pc is not None else "new"

    async def negotiate(self, sdp: str, sections: Sequence[str]) -> str:
        """Answer a receive-only offer asking for `sections` (stream names, in order)."""
        pc = self._pc = RTCPeerConnection(self._configuration)

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if self._on_state is not None:
                self._on_state(pc.connectionState)

        for name in sections:
            source = self._sources[name]
            track = source.subscribe()
            self._tracks.append(track)
            transceiver = pc.addTransceiver(track, direction="sendonly")
            prefer_codec(transceiver, source.spec)
            if source.request_keyframe is not None:
                hook_keyframe_requests(transceiver.sender, source.request_keyframe)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return str(pc.localDescription.sdp)

    async def add_candidate(self, candidate: RTCIceCandidate) -> None:
        """A trickled ICE candidate of the viewer."""
        if self._pc is not None:
            await self._pc.addIceCandidate(candidate)

    async def close(self) -> None:
        """Stop the tracks and close the connection; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        for track in self._tracks:
            track.stop()
        self._tracks.clear()
        pc, self._pc = self._pc, None
        if pc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pc.close(), timeout=5)
