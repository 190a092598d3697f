"""One room monitoring camera inside a media worker: pulled, recorded, forwarded, analysed.

The camera's frames go, as they came, to the archive (a track per connection: each connection's
timestamps start again), to the supervisors' viewers and, keyframes only, to the room's
analysis; every change of the camera's state is reported to signaling.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from media.forward import camera_key
from media.room import RoomMedia
from media.rtsp import (
    FORWARDED_CODECS,
    RECORDED_CODECS,
    CameraState,
    CameraStatus,
    RtspCamera,
    with_parameter_sets,
)
from media.tap import EncodedFrame
from recorder.archive import SessionArchive
from recorder.track import TrackRecorder

logger = logging.getLogger(__name__)


class CameraFeed:
    """A room camera of one room, from its RTSP URL to the archive and the viewers."""

    def __init__(
        self,
        *,
        camera_id: str,
        label: str,
        venue_id: str,
        url: str,
        media: RoomMedia,
        archive: SessionArchive | None,
        report: Callable[[dict[str, Any]], Awaitable[None]],
        spawn: Callable[[Coroutine[Any, Any, Any], str], Any],
    ) -> None:
        self.camera_id = camera_id
        self.label = label
        self.venue_id = venue_id
        self.key = camera_key(camera_id)
        self._media = media
        self._archive = archive
        self._report = report
        self._spawn = spawn
        self._recorder: TrackRecorder | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self.puller = RtspCamera(camera_id, url, on_frame=self._on_frame, on_status=self._on_status)

    @property
    def status(self) -> CameraStatus:
        """What the camera is doing now."""
        return self.puller.status

    async def start(self) -> None:
        """Start pulling."""
        logger.info("camera %s at %s", self.camera_id, self.puller.display_url)
        await self.puller.start()

    async def close(self) -> None:
        """Stop pulling (the archive's seal ends the camera's track)."""
        self._closed = True
        await self.puller.close()

    def _on_frame(self, frame: EncodedFrame) -> None:
        if frame.codec in FORWARDED_CODECS:
            # Viewers and the analysis start at any keyframe: it must carry what it needs.
            shown = with_parameter_sets(frame, self.status.extradata)
            self._media.forwards.publish(self.key, "roomcam", shown)
            if frame.keyframe and self._media.analysis is not None:
                self._media.analysis.room_camera_keyframe(self.key, shown.data, frame.codec)
        if self._recorder is not None:
            self._recorder.push(frame)

    def _on_status(self, status: CameraStatus) -> None:
        self._spawn(self._changed(status), f"camera-{self.camera_id}")

    async def _changed(self, status: CameraStatus) -> None:
        """Came up: a new recording track. Went down: the track ends. Either way: tell."""
        async with self._lock:
            if status.state != CameraState.UP and self._media.analysis is not None:
                await self._media.analysis.room_camera_ended(self.key)
            archive = self._archive
            writable = archive is not None and not archive.sealed
            track_id = f"room-camera-{self.camera_id}"
            recorder, self._recorder = self._recorder, None
            if recorder is not None and archive is not None and writable:
                await archive.remove_track(track_id, recorder)
            recordable = status.codec in RECORDED_CODECS and (
                status.codec != "H264" or (status.size is not None and status.extradata is not None)
            )
            if status.state == CameraState.UP and recordable and writable and not self._closed:
                assert archive is not None
                self._recorder = await archive.add_track(
                    track_id,
                    kind="video",
                    codec=str(status.codec),
                    clock_rate=90_000,
                    label=self.label,
                    request_keyframe=None,
                    size=status.size,
                    extradata=status.extradata,
                )
            await self._report(
                {
                    "camera": self.camera_id,
                    "state": status.state,
                    "detail": status.detail,
                    "codec": status.codec,
                    "recorded": self._recorder is not None,
                    "viewable": status.codec in FORWARDED_CODECS,
                }
            )
