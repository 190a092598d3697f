"""One room monitoring camera inside a media worker: pulled, recorded, forwarded, analysed.

The camera's frames go, as they came, to the archive (a track per connection: each connection's
timestamps start again), to the supervisors' viewers and, keyframes only, to the room's
analysis; every change of the camera's state is reported to signaling.

Where the frames come from is the feed's source: the camera itself over RTSP
(``media.rtsp.RtspCamera``), or a sub venue's node that pulls it there and sends it on
(``signaling.worker.relayedcamera``). On a sub venue's node the feed has no room: its frames go
to the link towards the room's node (``listeners``), and to an archive of that node's own only
while the link is down (``set_archive``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

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


class CameraSource(Protocol):
    """What a feed pulls its camera's frames from (``RtspCamera`` is one)."""

    status: CameraStatus

    @property
    def display_url(self) -> str: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


SourceFactory = Callable[
    [Callable[[EncodedFrame], None], Callable[[CameraStatus], None]], CameraSource
]


def rtsp_source(camera_id: str, url: str) -> SourceFactory:
    """The camera pulled over RTSP from here."""
    return lambda on_frame, on_status: RtspCamera(
        camera_id, url, on_frame=on_frame, on_status=on_status
    )


class CameraFeed:
    """A room camera of one room, from its source to the archive and the viewers."""

    def __init__(
        self,
        *,
        camera_id: str,
        label: str,
        venue_id: str,
        source: SourceFactory,
        media: RoomMedia | None,
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
        # Who else takes every frame as it came (a sub venue's link to the room's node).
        self.listeners: list[Callable[[EncodedFrame], None]] = []
        self.puller = source(self._on_frame, self._on_status)

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

    async def set_archive(self, archive: SessionArchive | None) -> None:
        """Record into `archive` from now on (None: record no more); the track in the archive
        before ends, and one starts in the new one if the camera is up."""
        async with self._lock:
            if archive is self._archive:
                return
            await self._record(None)
            self._archive = archive
            await self._record(self.status)

    def _on_frame(self, frame: EncodedFrame) -> None:
        if frame.codec in FORWARDED_CODECS:
            # Viewers and the analysis start at any keyframe: it must carry what it needs.
            shown = with_parameter_sets(frame, self.status.extradata)
            media = self._media
            if media is not None:
                media.forwards.publish(self.key, "roomcam", shown)
                if frame.keyframe and media.analysis is not None:
                    media.analysis.room_camera_keyframe(self.key, shown.data, frame.codec)
            for listener in self.listeners:
                listener(shown)
        if self._recorder is not None:
            self._recorder.push(frame)

    def _on_status(self, status: CameraStatus) -> None:
        self._spawn(self._changed(status), f"camera-{self.camera_id}")

    async def _changed(self, status: CameraStatus) -> None:
        """Came up: a new recording track. Went down: the track ends. Either way: tell."""
        async with self._lock:
            analysis = self._media.analysis if self._media is not None else None
            if status.state != CameraState.UP and analysis is not None:
                await analysis.room_camera_ended(self.key)
            await self._record(status)
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

    async def _record(self, status: CameraStatus | None) -> None:
        """End the camera's track; start a new one when `status` is a camera that is up."""
        archive = self._archive
        writable = archive is not None and not archive.sealed
        track_id = f"room-camera-{self.camera_id}"
        recorder, self._recorder = self._recorder, None
        if recorder is not None and archive is not None and writable:
            await archive.remove_track(track_id, recorder)
        if status is None or status.state != CameraState.UP or not writable or self._closed:
            return
        recordable = status.codec in RECORDED_CODECS and (
            status.codec != "H264" or (status.size is not None and status.extradata is not None)
        )
        if recordable:
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
