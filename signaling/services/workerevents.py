"""What the media workers report about their rooms, and who handles it: one table.

A worker tells the signaling process what it sees with wire events (``Channel.event`` in
``signaling.worker.process``); the pool passes them on (``Signals.worker_event``), and each name
has one handler in ``WorkerEvents.table``. A name not in the table is logged and dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from signaling.services.broadcasts import Broadcasts
from signaling.services.camerarelay import CameraRelays
from signaling.services.events import EventLog
from signaling.services.halls import HallRooms
from signaling.services.monitoring import WarningCenter
from signaling.services.pool import WorkerProcess
from signaling.services.rooms import RoomManager
from signaling.services.signals import Signals
from signaling.tasks import TaskSet

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], None]


class WorkerEvents:
    """Routes each worker event to its handler (built once, connected to the pool's signal)."""

    def __init__(
        self,
        *,
        rooms: RoomManager,
        relays: CameraRelays,
        halls: HallRooms,
        broadcasts: Broadcasts,
        warnings: WarningCenter,
        events: EventLog,
        tasks: TaskSet,
        signals: Signals,
    ) -> None:
        self._rooms = rooms
        self._halls = halls
        self._warnings = warnings
        self._events = events
        self._tasks = tasks
        self._signals = signals
        self.table: dict[str, Handler] = {
            # A seat's tracks and their state, as the worker receives them.
            "seat_media": self._seat_media,
            # A track's recording has a gap (its sender went away, or the worker was late).
            "recording_gap": self._recording_gap,
            # A seat camera warning (face, darkness, a frozen picture) starts or ends.
            "camera_warning": self._camera_warning,
            # A room monitoring camera came up, went down or is not what it should be.
            "room_camera": self._room_camera,
            # A room camera pulled by a sub venue's node: the worker's offer, for that node.
            "camera_relay_offer": relays.offered,
            # A broadcast viewer connected, or went away without leaving.
            "broadcast_viewer": broadcasts.viewer_state,
        }
        signals.worker_event.connect(self.dispatch)

    def dispatch(self, worker: WorkerProcess, name: str, params: dict[str, Any]) -> None:
        """Hand one event of `worker` to its handler."""
        handler = self.table.get(name)
        if handler is None:
            logger.warning("media worker %d sent an unknown event %r", worker.index, name)
            return
        handler(params)

    def _seat_media(self, params: dict[str, Any]) -> None:
        room = self._rooms.find(str(params.get("session_id")))
        state = room.seats.get(str(params.get("seat"))) if room is not None else None
        if room is None or state is None:
            return
        state.tracks = set(params.get("tracks") or [])
        state.media_state = str(params.get("state"))
        self._signals.seat_media(room)

    def _recording_gap(self, params: dict[str, Any]) -> None:
        session_id = str(params.get("session_id"))
        if self._rooms.find(session_id) is None and self._halls.find(session_id) is None:
            return
        data = {k: params.get(k) for k in ("track", "from", "to", "reason")}
        self._tasks.spawn(
            self._events.append("recording_gap", data, session_id=session_id),
            name=f"gap-event-{session_id}",
        )

    def _camera_warning(self, params: dict[str, Any]) -> None:
        self._tasks.spawn(self._warnings.camera_warning(params), name="camera-warning")

    def _room_camera(self, params: dict[str, Any]) -> None:
        self._tasks.spawn(self._room_camera_changed(params), name="room-camera")

    async def _room_camera_changed(self, params: dict[str, Any]) -> None:
        room = await self._rooms.camera_changed(params)
        if room is not None:
            self._warnings.camera_status(room, str(params.get("camera")), str(params.get("state")))
            self._signals.room_changed(room)
