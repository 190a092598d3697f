"""Room cameras relayed by a sub venue's node (standard 8.2-3): the signaling side of both ends.

A centre runs a node that hosts no rooms (``node_rooms = 0``) in its sub venue, with
``node_centres`` naming the centre: the cameras of that centre's venues are pulled over RTSP by
that node and reach the room's node over WebRTC (``signaling.worker.camerarelay``).

The room's node marks such a camera with the node (``relay_for``); its worker's offers
(``camera_relay_offer`` events) are carried there by a ``camera_relay`` call between nodes and
the answers brought back to the worker; when the room closes, or the session ends, every node
hears of it (``camera_relay_stop`` notice, with ``ended_at`` at the end).

The sub venue's node answers the calls through a media worker of its own and stops the session's
cameras when told. Once the session has ended it hands over what it recorded while no link
carried a camera: its local archive of the session, sealed, is copied into the session's archive
as ``relayed/<node>/<session>/`` (temporary names, fsync, rename: ``recorder.replica``), verified
there with the cluster's archive keys, and the hand-over is recorded in the session's events
(``relay_recording_joined``). What could not be handed over stays here and is tried again every
minute, as is any session whose end this node did not hear of.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recorder.archive import list_parts
from recorder.replica import copy_session
from recorder.seal import RELAYED_DIR
from recorder.verify import verify_archive
from roomserver.model import SessionState, Venue
from roomserver.store import SqlStore
from signaling.services.cluster import Cluster
from signaling.services.events import EventLog
from signaling.services.pool import WorkerPool, WorkerProcess
from signaling.services.rooms import RoomManager
from signaling.tasks import TaskSet

logger = logging.getLogger(__name__)


class CameraRelays:
    """This node's part in relaying sub venues' cameras, as the room's node or the venue's."""

    def __init__(
        self,
        *,
        cluster: Cluster,
        store: SqlStore,
        pool: WorkerPool,
        rooms: RoomManager,
        events: EventLog,
        tasks: TaskSet,
        archive_dir: Path,
        keys_path: Path,
        relay_root: Path,
    ) -> None:
        self._cluster = cluster
        self._store = store
        self._pool = pool
        self._rooms = rooms
        self._events = events
        self._tasks = tasks
        self._archive_dir = archive_dir
        self._keys_path = keys_path
        self.relay_root = relay_root
        # Session id -> the worker that relays its cameras here (its local archive is there).
        self._workers: dict[str, WorkerProcess] = {}
        self._handing: set[str] = set()
        if cluster.config is not None:
            cluster.serve("camera_relay", self._relay)
            cluster.when_notified("camera_relay_stop", self._stopped)
            cluster.every_minute(self.sweep)
            rooms.on_closed(self._room_closed)

    # -- the room's node ------------------------------------------------------------------------

    def relay_for(self, venue: Venue) -> str | None:
        """The live sub venue node that pulls `venue`'s cameras, or None (pulled here)."""
        found = sorted(
            n.node_id
            for n in self._cluster.nodes()
            if not n.hosts_rooms and venue.centre_id in n.centres
        )
        return found[0] if found else None

    def offered(self, params: dict[str, Any]) -> None:
        """A worker's offer for a relayed camera: carried to its node, the answer brought back."""
        self._tasks.spawn(self._carry(params), name="camera-relay-offer")

    async def _carry(self, params: dict[str, Any]) -> None:
        session_id = str(params.get("session_id"))
        camera = dict(params.get("camera") or {})
        answer: dict[str, Any] = {"id": params.get("id")}
        try:
            result = await self._cluster.call(
                str(camera.get("relay")),
                "camera_relay",
                {"session_id": session_id, "camera": camera, "offer": params.get("offer")},
            )
            answer["sdp"] = str(result["sdp"])
        except Exception as exc:  # the worker shows the camera down and offers again later
            logger.warning(
                "camera %s: no answer from node %s: %s", camera.get("id"), camera.get("relay"), exc
            )
            answer["error"] = str(exc)[:200]
        room = self._rooms.find(session_id)
        if room is not None:
            await room.worker.request("camera_relay_answer", answer)

    async def _room_closed(self, session_id: str) -> None:
        await self._cluster.notify("camera_relay_stop", {"session_id": session_id})

    async def session_ended(self, session_id: str) -> None:
        """Every sub venue node stops the session's cameras and hands over its recordings."""
        if self._cluster.config is None:
            return
        ended_at = datetime.now(UTC).isoformat()
        await self._cluster.notify(
            "camera_relay_stop", {"session_id": session_id, "ended_at": ended_at}
        )

    # -- the sub venue's node -------------------------------------------------------------------

    async def _relay(self, params: dict[str, Any]) -> dict[str, Any]:
        session_id = str(params["session_id"])
        worker = self._workers.get(session_id)
        if worker is None or not worker.alive:
            worker = self._workers[session_id] = self._pool.place()
        result = await worker.request(
            "relay_camera",
            {
                "session_id": session_id,
                "camera": dict(params["camera"]),
                "offer": str(params["offer"]),
            },
        )
        return {"sdp": result["sdp"]}

    async def _stopped(self, data: dict[str, Any]) -> None:
        session_id = str(data.get("session_id"))
        ended_at = data.get("ended_at")
        await self._stop(session_id, str(ended_at) if ended_at else None)

    async def _stop(self, session_id: str, ended_at: str | None) -> None:
        worker = self._workers.pop(session_id, None) if ended_at else self._workers.get(session_id)
        if worker is None and ended_at and (self.relay_root / session_id).is_dir():
            worker = self._pool.place()  # a closing part records the end (after a restart)
        if worker is not None and worker.alive:
            await worker.request("relay_stop", {"session_id": session_id, "ended_at": ended_at})
        if ended_at:
            await self.hand_over(session_id)

    async def sweep(self) -> None:
        """Sessions recorded here whose end this node missed, and hand-overs still owed."""
        if not self.relay_root.is_dir():
            return
        for folder in sorted(await asyncio.to_thread(lambda: list(self.relay_root.iterdir()))):
            if not folder.is_dir() or folder.name in self._handing:
                continue
            try:
                session = await self._store.get_session(folder.name)
            except Exception as exc:
                logger.warning("relayed recording %s: no such session: %s", folder.name, exc)
                continue
            if session.state == SessionState.ENDED:
                await self._stop(folder.name, datetime.now(UTC).isoformat())

    async def hand_over(self, session_id: str) -> bool:
        """Copy the session's local archive into the session's archive, verify it there, record
        it, and remove it here; False (and kept here) when any of it failed."""
        source = self.relay_root / session_id
        if session_id in self._handing or not source.is_dir():
            return False
        self._handing.add(session_id)
        try:
            return await self._hand_over(session_id, source)
        finally:
            self._handing.discard(session_id)

    async def _hand_over(self, session_id: str, source: Path) -> bool:
        parts = await asyncio.to_thread(list_parts, source)
        target_root = self._archive_dir / session_id / RELAYED_DIR / self._cluster.node_id
        try:
            await asyncio.to_thread(target_root.mkdir, parents=True, exist_ok=True)
            copied = await asyncio.to_thread(copy_session, source, target_root)
            keys = await asyncio.to_thread(self._keys_path.read_bytes)
            report = await asyncio.to_thread(
                verify_archive, target_root / session_id, known_keys=[keys]
            )
        except (OSError, ValueError) as exc:
            logger.error("relayed recording of %s not handed over: %s", session_id, exc)
            return False
        if not copied.ok or not report.ok or copied.missing:
            logger.error(
                "relayed recording of %s not handed over: copy %s, verify %s",
                session_id,
                copied,
                [f"{d.where}: {d.what}" for d in report.differences][:5],
            )
            return False
        await self._events.append(
            "relay_recording_joined",
            {
                "node": self._cluster.node_id,
                "folder": f"{RELAYED_DIR}/{self._cluster.node_id}/{session_id}",
                "parts": len(parts),
                "verified": True,
            },
            session_id=session_id,
        )
        await asyncio.to_thread(shutil.rmtree, source)
        logger.info("relayed recording of %s handed over (%d parts)", session_id, len(parts))
        return True
