"""WallClient: a real client of the supervision wall (Socket.IO ``/wall`` + aiortc viewers).

It does what the wall page does: connects with a supervisor token, follows the ``rooms`` pushes,
opens receive-only viewer connections (``watch`` a room, ``focus`` a seat) and writes notes and
warnings. Tests and benchmarks use it to check what a supervisor actually receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
import socketio
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media.recovery import give_video_frames_when_whole
from media.testing.testpattern import read_counter
from signaling.testing.receiving import Pushes

logger = logging.getLogger(__name__)

NAMESPACE = "/wall"
CALL_TIMEOUT = 10.0
VIEW_ROLES = {
    "watch": ("grid", "mix"),
    "focus": ("camera", "desktop", "mix"),
    "camera": ("roomcam",),
}


class WallError(Exception):
    """The server refused a request of the wall (code and Chinese message as sent)."""

    def __init__(self, event: str, code: str, message: str) -> None:
        super().__init__(f"{event}: {code}: {message}")
        self.code = code
        self.message = message


@dataclass
class ReceivedTrack:
    """What one role of a viewer received: frame count, the last picture, its size, and for a
    role whose counters are read, (``time.time()`` at arrival, counter) for each new counter."""

    role: str
    frames: int = 0
    size: tuple[int, int] | None = None
    last_rgb: np.ndarray | None = None
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    counters: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=20_000))


class Viewer:
    """One receive-only connection of the wall."""

    def __init__(
        self,
        viewer: str,
        session_id: str,
        seat: str | None,
        *,
        keep_rgb: bool,
        camera: str | None = None,
        read_counters: Collection[str] = (),
    ) -> None:
        self.viewer = viewer
        self.session_id = session_id
        self.seat = seat
        self.camera = camera
        self.mode = "camera" if camera else "focus" if seat is not None else "watch"
        self.tracks = {role: ReceivedTrack(role) for role in VIEW_ROLES[self.mode]}
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self._keep_rgb = keep_rgb
        self._read_counters = frozenset(read_counters)
        self._roles: dict[int, str] = {}
        self._transceivers: list[tuple[RTCRtpTransceiver, str]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.pc.on("track", self._on_track)

    def add_transceivers(self) -> None:
        """Receive-only transceivers, one per role of the view, in role order."""
        for role in VIEW_ROLES[self.mode]:
            kind = "audio" if role == "mix" else "video"  # grid, camera, desktop, roomcam
            transceiver = self.pc.addTransceiver(kind, direction="recvonly")
            self._roles[id(transceiver.receiver)] = role
            self._transceivers.append((transceiver, role))

    def roles_by_mid(self) -> dict[str, str]:
        """Each transceiver's role by its mid (known once the offer is made)."""
        roles: dict[str, str] = {}
        for transceiver, role in self._transceivers:
            if transceiver.mid is None:
                raise RuntimeError(f"the {role} transceiver has no mid: make the offer first")
            roles[transceiver.mid] = role
        return roles

    def _on_track(self, track: MediaStreamTrack) -> None:
        receiver = next(t.receiver for t in self.pc.getTransceivers() if t.receiver.track is track)
        role = self._roles[id(receiver)]
        if track.kind == "video":
            # A frame is shown when it is whole, as in a browser (aiortc's own jitter buffer
            # waits for the next frame's first packet).
            give_video_frames_when_whole(receiver)
        task = asyncio.create_task(self._consume(role, track), name=f"viewer-{role}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _consume(self, role: str, track: MediaStreamTrack) -> None:
        received = self.tracks[role]
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if isinstance(frame, av.VideoFrame):
                arrived_at = time.time()
                received.size = (frame.width, frame.height)
                if role in self._read_counters:
                    self._read_counter(received, frame, arrived_at)
                if self._keep_rgb:
                    received.last_rgb = await asyncio.to_thread(frame.to_ndarray, format="rgb24")
            async with received.arrived:
                received.frames += 1
                received.arrived.notify_all()

    @staticmethod
    def _read_counter(received: ReceivedTrack, frame: av.VideoFrame, arrived_at: float) -> None:
        """Note a new frame counter of the test pattern (the whole picture is the camera's)."""
        luma = frame.to_ndarray(format="gray")
        counter = read_counter(luma, (0, 0, frame.width, frame.height))
        if counter is None or (received.counters and received.counters[-1][1] == counter):
            return
        received.counters.append((arrived_at, counter))

    async def wait_frames(self, role: str, n: int, timeout: float) -> ReceivedTrack:  # noqa: ASYNC109
        """Wait until `role` has received `n` more frames (counted from the call)."""
        received = self.tracks[role]
        async with received.arrived:
            target = received.frames + n
            try:
                await asyncio.wait_for(
                    received.arrived.wait_for(lambda: received.frames >= target), timeout
                )
            except TimeoutError:
                raise TimeoutError(
                    f"viewer {self.viewer}: {role} has {received.frames} frames, wanted {target}"
                ) from None
        return received

    async def close(self) -> None:
        """Close the connection and stop the consumers."""
        await self.pc.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)


class WallClient:
    """A supervisor's wall, driven from Python."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        keep_rgb: bool = True,
        read_counters: Collection[str] = (),
    ) -> None:
        """``read_counters`` names the roles (``camera``, say) whose pictures carry the test
        pattern's frame counter: each viewer notes when each new counter arrived."""
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._keep_rgb = keep_rgb
        self._read_counters = tuple(read_counters)
        self._sio = socketio.AsyncClient(reconnection=False)
        self._ids = itertools.count(1)
        self.hello: dict[str, Any] | None = None
        self.rooms: list[dict[str, Any]] = []
        #: Other pushes: (event, data) for ``media_restart``, ``room_closed``, ``connect_error``.
        self._pushes = Pushes()
        self.events: list[tuple[str, Any]] = self._pushes.items
        self.viewers: dict[str, Viewer] = {}
        self._rooms_changed = asyncio.Condition()

    async def connect(self) -> None:
        """Connect with the token; WallError with the server's reason if refused."""
        self._sio.on("hello", self._on_hello, namespace=NAMESPACE)
        self._sio.on("rooms", self._on_rooms, namespace=NAMESPACE)
        for event in ("media_restart", "room_closed", "connect_error"):
            self._sio.on(event, self._recorder(event), namespace=NAMESPACE)
        try:
            await self._sio.connect(
                self.base_url,
                namespaces=[NAMESPACE],
                auth={"token": self._token},
                transports=["websocket"],
                wait_timeout=CALL_TIMEOUT,
            )
        except socketio.exceptions.ConnectionError as exc:
            refusal = next((d for e, d in self.events if e == "connect_error"), None)
            data = refusal.get("data") if isinstance(refusal, dict) else None
            code = (data or {}).get("code", "connect_failed") if isinstance(data, dict) else "?"
            message = refusal.get("message", str(exc)) if isinstance(refusal, dict) else str(exc)
            raise WallError("connect", str(code), str(message)) from exc

    async def close(self) -> None:
        """Close every viewer and the socket."""
        for viewer in list(self.viewers.values()):
            await viewer.close()
        self.viewers.clear()
        with contextlib.suppress(Exception):
            await self._sio.disconnect()

    async def __aenter__(self) -> WallClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ---- rooms ----------------------------------------------------------------------------------

    def room(self, session_id: str) -> dict[str, Any] | None:
        """The latest pushed info of a room."""
        return next((r for r in self.rooms if r["session_id"] == session_id), None)

    async def wait_rooms(
        self,
        predicate: Callable[[list[dict[str, Any]]], bool],
        timeout: float,  # noqa: ASYNC109 - a deadline per wait is this API's contract
    ) -> list[dict[str, Any]]:
        """Wait until the latest ``rooms`` push satisfies `predicate`."""
        async with self._rooms_changed:
            try:
                await asyncio.wait_for(
                    self._rooms_changed.wait_for(lambda: predicate(self.rooms)), timeout
                )
            except TimeoutError:
                raise TimeoutError(f"wall: rooms not as expected: {self.rooms}") from None
        return self.rooms

    # ---- viewing --------------------------------------------------------------------------------

    async def watch(self, session_id: str) -> Viewer:
        """Watch a room (grid and mix)."""
        return await self._view("watch", session_id, None)

    async def focus(self, session_id: str, seat: str) -> Viewer:
        """Watch one seat (camera and desktop as sent, and the room's mix)."""
        return await self._view("focus", session_id, seat)

    async def watch_camera(self, session_id: str, camera: str) -> Viewer:
        """Watch a room monitoring camera."""
        return await self._view("camera", session_id, None, camera=camera)

    async def unwatch(self, viewer: Viewer) -> None:
        """Close a viewer."""
        self.viewers.pop(viewer.viewer, None)
        await viewer.close()
        await self.call("unwatch", {"viewer": viewer.viewer})

    async def _view(
        self, event: str, session_id: str, seat: str | None, *, camera: str | None = None
    ) -> Viewer:
        viewer = Viewer(
            f"v{next(self._ids)}",
            session_id,
            seat,
            keep_rgb=self._keep_rgb,
            camera=camera,
            read_counters=self._read_counters,
        )
        viewer.add_transceivers()
        await viewer.pc.setLocalDescription(await viewer.pc.createOffer())
        payload: dict[str, Any] = {
            "session_id": session_id,
            "viewer": viewer.viewer,
            "type": "offer",
            "sdp": viewer.pc.localDescription.sdp,
            "roles": viewer.roles_by_mid(),
        }
        if seat is not None:
            payload["seat"] = seat
        if camera is not None:
            payload["camera"] = camera
        try:
            answer = await self.call(event, payload)
            await viewer.pc.setRemoteDescription(
                RTCSessionDescription(sdp=answer["sdp"], type="answer")
            )
        except BaseException:
            await viewer.close()
            raise
        self.viewers[viewer.viewer] = viewer
        return viewer

    # ---- notes and warnings ---------------------------------------------------------------------

    async def note(self, session_id: str, text: str, seat: str | None = None) -> dict[str, Any]:
        """Write a supervision note; returns its seq and time."""
        return await self.call("note", {"session_id": session_id, "text": text, "seat": seat})

    async def warn(self, session_id: str, text: str, seat: str | None = None) -> dict[str, Any]:
        """Send a warning to a seat (or the room); returns its id and how many seats got it."""
        return await self.call("warn", {"session_id": session_id, "text": text, "seat": seat})

    async def call(self, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        """One acknowledged request; WallError if refused."""
        answer = await self._sio.call(event, payload, namespace=NAMESPACE, timeout=CALL_TIMEOUT)
        if not isinstance(answer, dict):
            raise WallError(event, "bad_answer", repr(answer))
        if not answer.get("ok"):
            error = answer.get("error") or {}
            raise WallError(event, str(error.get("code")), str(error.get("message")))
        return answer

    # ---- pushes ---------------------------------------------------------------------------------

    async def _on_hello(self, data: dict[str, Any]) -> None:
        self.hello = data

    async def _on_rooms(self, data: dict[str, Any]) -> None:
        async with self._rooms_changed:
            self.rooms = list(data.get("rooms", []))
            self._rooms_changed.notify_all()

    def _recorder(self, event: str) -> Callable[..., Any]:
        """Return a handler that records a push under ``event``."""
        return self._pushes.recorder(event)

    async def wait_event(self, name: str, timeout: float) -> Any:  # noqa: ASYNC109
        """Until a push `name` has arrived; its data (the first one's)."""
        return await self._pushes.wait(name, timeout)
