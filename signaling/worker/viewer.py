"""A silent viewer's peer connection (a supervisor): receives a room's media, never sends any.

Two kinds of view, each one connection:

- ``watch``: the room grid the room already encodes for its seats and the room's whole mix,
  encoded once for every listener; a viewer costs packets, never an encode.
- ``focus``: one seat's camera and desktop exactly as the seat sent them (no decode, no
  re-encode), and the room's mix.
- ``camera``: a room monitoring camera exactly as it sent its pictures over RTSP.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from media.forward import camera_key
from media.room import RoomMedia
from media.tap import hook_keyframe_requests
from roomserver.errors import InvalidRequest
from signaling.config import IceConfig
from signaling.worker.peer import (
    MAX_PENDING_CANDIDATES,
    announce_address,
    apply_candidate,
    parse_offer,
    prefer_h264,
    prefer_vp8,
    rtc_configuration,
)

logger = logging.getLogger(__name__)

VIEW_ROLES: dict[str, dict[str, str]] = {
    "watch": {"grid": "video", "mix": "audio"},
    "focus": {"camera": "video", "desktop": "video", "mix": "audio"},
    "camera": {"roomcam": "video"},
}


class ViewerSession:
    """One viewer connection; its tracks are subscriptions to what the room already has."""

    def __init__(
        self,
        *,
        media: RoomMedia,
        viewer: str,
        seat: str | None,
        ice: IceConfig,
        camera: str | None = None,
        camera_codec: str | None = None,
        on_state: Callable[[str], None] | None = None,
    ) -> None:
        self.viewer = viewer
        self.seat = seat
        self.camera = camera
        self._camera_codec = camera_codec
        self.mode = "focus" if seat is not None else "camera" if camera is not None else "watch"
        self._media = media
        self._ice = ice
        self._on_state = on_state
        self._pc: RTCPeerConnection | None = None
        self._remote_set = False
        self._pending: list[dict[str, Any]] = []
        self._tracks: list[MediaStreamTrack] = []
        self._closed = False

    @property
    def connection_state(self) -> str:
        """The peer connection state, or ``new`` before the offer."""
        return self._pc.connectionState if self._pc is not None else "new"

    async def negotiate(self, sdp: str, roles: dict[str, str]) -> str:
        """Answer the viewer's receive-only offer (a viewer negotiates once)."""
        if self._pc is not None or self._closed:
            raise InvalidRequest("该观看连接已协商，请新建观看")
        sections = parse_offer(sdp, roles, VIEW_ROLES[self.mode])
        pc = self._pc = RTCPeerConnection(rtc_configuration(self._ice))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            logger.info("viewer %s: connection %s", self.viewer, pc.connectionState)
            if self._on_state is not None:
                self._on_state(pc.connectionState)

        try:
            for _mid, kind, role in sections:
                transceiver = pc.addTransceiver(self._track(role), direction="sendonly")
                if kind == "video" and role == "roomcam" and self._camera_codec == "H264":
                    prefer_h264(transceiver)
                elif kind == "video":
                    prefer_vp8(transceiver)
                    hook_keyframe_requests(transceiver.sender, self._keyframe_request(role))
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            self._remote_set = True
            for candidate in self._pending:
                await apply_candidate(pc, candidate)
            self._pending.clear()
            await pc.setLocalDescription(await pc.createAnswer())
        except InvalidRequest:
            await self.close()
            raise
        except Exception as exc:
            logger.info("viewer %s: negotiation failed: %s", self.viewer, exc)
            await self.close()
            raise InvalidRequest("无法建立观看连接：SDP 不被接受") from exc
        return announce_address(pc.localDescription.sdp, self._ice)

    async def add_candidate(self, candidate: dict[str, Any]) -> None:
        """A trickled ICE candidate of the viewer's browser."""
        if self._pc is None or not self._remote_set:
            if len(self._pending) >= MAX_PENDING_CANDIDATES:
                raise InvalidRequest("ICE 候选过多")
            self._pending.append(candidate)
            return
        await apply_candidate(self._pc, candidate)

    async def close(self) -> None:
        """End the subscriptions and the connection; safe to call twice."""
        self._closed = True
        for track in self._tracks:
            track.stop()
        self._tracks.clear()
        pc, self._pc = self._pc, None
        if pc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pc.close(), timeout=5)

    def _track(self, role: str) -> MediaStreamTrack:
        media = self._media
        if role == "grid":
            track: MediaStreamTrack = media.grid_track()
        elif role == "mix":
            track = media.full_mix_track()
        elif role == "roomcam":
            assert self.camera is not None
            track = media.forwards.subscribe(camera_key(self.camera), role)
        else:
            assert self.seat is not None
            track = media.forwards.subscribe(self.seat, role)
        self._tracks.append(track)
        return track

    def _keyframe_request(self, role: str) -> Callable[[], None]:
        if role == "grid":
            return self._media.grid.request_keyframe
        if role == "roomcam":
            # An RTSP camera cannot be asked: the viewer starts at the camera's next keyframe.
            return lambda: None
        seat = self.seat
        assert seat is not None
        return lambda: self._media.forwards.request_keyframe(seat, role)
