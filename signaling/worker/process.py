"""A media worker process: hosts the media of rooms (peers, grid, mixer, archive) for signaling.

Started by the signaling process with one end of a socket pair (``--fd``) and its settings
(``--settings`` JSON); everything it is asked goes over :mod:`signaling.wire`. A worker that dies
takes only its own rooms with it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from media.analysis import jpeg
from media.grid import GridCompositor, TileSpec
from media.ice import apply_host_candidate_policy, apply_port_range
from media.infostate import BadOpeningState
from media.mixencoder import packet_frame
from media.room import RoomMedia
from recorder.archive import ArchivedEvent, SessionArchive
from recorder.keys import Keyring
from recorder.manifest import GapEntry
from recorder.track import Gap
from roomserver.errors import InvalidRequest, NotFound
from roomserver.warnings import Transition
from signaling.metrics import LoopLagMonitor, Metrics
from signaling.tasks import TaskSet
from signaling.wire import Channel, WireError
from signaling.worker.broadcasting import BroadcastHost
from signaling.worker.camerafeed import CameraFeed, SourceFactory, rtsp_source
from signaling.worker.camerarelay import RelayedCamera, RelayedCameraSpec, RelayHost
from signaling.worker.peer import PeerSession
from signaling.worker.settings import WorkerSettings
from signaling.worker.turnprobe import probe_turn
from signaling.worker.viewer import ViewerSession

logger = logging.getLogger(__name__)

# A room of an evaluation (its picture the grid of its seats) or the hall of a bid opening
# (its picture the information screen, its seats the speakers, keyed by participant).
ROOM_KINDS = frozenset({"evaluation", "hall"})
# What a hall's archive calls its screen and its sound (an evaluation's: room-grid, room-mix).
HALL_SCREEN_TRACK = "hall-screen"


# A microphone or a camera sends all the time (a browser's Opus has no DTX): nothing of it for
# this long, and then frames again, is a gap in the record (a seat's network was down, say). A
# screen share pauses whenever its picture holds still and is not watched.
MEDIA_GAP_S = {"microphone": 1.0, "camera": 2.0}
NO_MEDIA = "no_media"


class RoomHost:
    """One room's media inside the worker; what a PeerSession needs of its room."""

    def __init__(
        self,
        session_id: str,
        name: str,
        labels: dict[str, str],
        media: RoomMedia,
    ) -> None:
        self.id = session_id
        self.name = name
        self.labels = labels
        self.media = media
        # The worker's report of a gap to the signaling process (the event log).
        self.on_gap: Callable[[Gap], None] | None = None
        # Track id -> the wall time of its latest frame, across the seat's connections.
        self.last_media: dict[str, float] = {}
        self.archive: SessionArchive | None = None
        self.peers: dict[str, PeerSession] = {}
        self.viewers: dict[str, ViewerSession] = {}
        self.cameras: dict[str, CameraFeed] = {}
        # Room camera id -> the staff, witnesses and host who belong in the venue it overlooks.
        self.attendants: dict[str, int] = {}
        self.online: set[str] = set()
        # Every seat that joined, so that its metric series go with the room.
        self.joined: set[str] = set()

    def seat_label(self, key: str) -> str:
        """The Chinese label of a seat."""
        return self.labels.get(key, key)

    def media_arrived(self, track_id: str, wall_time: float) -> None:
        """Note a recorded frame; after a silence longer than its kind's, record the gap (in the
        archive part's manifest and, through `on_gap`, in the session's event log)."""
        last = self.last_media.get(track_id)
        if last is not None and wall_time <= last:
            return
        self.last_media[track_id] = wall_time
        limit = MEDIA_GAP_S.get(track_id.rpartition("-")[2])
        if last is None or limit is None or wall_time - last <= limit:
            return
        gap = Gap(track_id, last, wall_time, NO_MEDIA)
        if self.archive is not None and not self.archive.sealed:
            self.archive.add_gap(GapEntry(track_id, last, wall_time, NO_MEDIA))
        if self.on_gap is not None:
            self.on_gap(gap)


class Worker:
    """Answers the signaling process's requests for the rooms placed on this process."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.tasks = TaskSet()
        self.rooms: dict[str, RoomHost] = {}
        self.channel: Channel | None = None
        self._keys = Keyring(Path(settings.archive_keys_dir), Path(settings.archive_keys_path))
        # The signaling process makes the first keys before it starts a worker; a worker
        # started on its own (embedding, tests) makes them itself.
        self._keys.ensure()
        self._process = psutil.Process()
        self._process.cpu_percent(None)
        self._lag = LoopLagMonitor(self.metrics.loop_lag, self.metrics.loop_delay)
        self._stopping = asyncio.Event()
        # A sub venue's node: its cameras for rooms on other nodes, recorded here while unlinked.
        self.relays = RelayHost(
            Path(settings.relay_root or Path(settings.archive_root).parent / "relay-archive"),
            keys=self._keys,
            recorder=settings.recorder,
            ice=settings.ice,
            spawn=lambda coro, name: self.tasks.spawn(coro, name=name),
        )
        # Offers of relayed cameras waiting for the sub venue node's answer, by offer id.
        self._relay_answers: dict[str, asyncio.Future[str]] = {}
        self.broadcasts = BroadcastHost(
            settings,
            self.rooms,
            send_event=self._event,
            spawn=lambda coro, name: self.tasks.spawn(coro, name=name),
        )

    async def run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve until the signaling process goes away or asks us to stop."""
        apply_host_candidate_policy(self.settings.ice.host_addresses)
        apply_port_range(self.settings.ice.port_range)
        self.channel = Channel(reader, writer, name=f"worker-{os.getpid()}", on_request=self.handle)
        await self.channel.start()
        await self._lag.start()
        closed = asyncio.ensure_future(self.channel.wait_closed())
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({closed, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
            stop.cancel()
            await self.close_all("interrupted")
            await self._lag.close()
            await self.tasks.close()
            await self.channel.close()

    async def close_all(self, state: str) -> None:
        """Close every broadcast and room, sealing each room's archive part."""
        await self.broadcasts.close_all()
        for session_id in list(self.rooms):
            await self._close_room(session_id, state)
        await self.relays.close_all()

    async def handle(self, method: str, params: dict[str, Any]) -> Any:
        """Dispatch one request from signaling."""
        handler = getattr(self, f"on_{method}", None)
        if handler is None:
            raise WireError("unknown_method", f"worker has no method {method}")
        return await handler(**params)

    # -- requests -------------------------------------------------------------------------------

    async def on_hello(self) -> dict[str, Any]:
        """Who this worker is."""
        return {"pid": os.getpid()}

    async def on_probe_turn(self, url: str, username: str, credential: str) -> dict[str, Any]:
        """``roomserver doctor``: allocate a relay on a TURN server and release it."""
        try:
            return await probe_turn(url, username, credential)
        except Exception as exc:  # unreachable, refused (aioice's TransactionFailed: 401...)
            return {"error": f"{type(exc).__name__}: {exc}"}

    async def on_open_room(
        self,
        session_id: str,
        project_code: str,
        project_name: str,
        tiles: list[dict[str, str]],
        record: bool = True,
        cameras: list[dict[str, Any]] | None = None,
        kind: str = "evaluation",
        screen: dict[str, Any] | None = None,
        muted: list[str] | None = None,
    ) -> dict[str, Any]:
        """Start a room's media and a new archive part; returns the part and its last seq.

        A hall (`kind` ``hall``) has its speakers as `tiles`, the information screen's first
        message as `screen` and the speakers muted now as `muted`."""
        if session_id in self.rooms:
            room = self.rooms[session_id]
            return {
                "part": room.archive.part if room.archive else None,
                "last_seq": room.archive.last_seq if room.archive else 0,
            }
        if kind not in ROOM_KINDS:
            raise InvalidRequest(f"没有这种会场：{kind[:20]}")
        media = RoomMedia(
            self.settings.media,
            name=project_code,
            warnings=self.settings.warnings,
            hall=kind == "hall",
        )
        if media.screen is not None and screen is not None:
            self._show_screen(media, screen)
        media.set_muted(set(muted or ()))
        await media.start()
        media.set_tiles([TileSpec(t["key"], t["label"]) for t in tiles])
        room = RoomHost(session_id, project_code, {t["key"]: t["label"] for t in tiles}, media)
        room.on_gap = lambda gap: self._gap(room, gap)
        self.rooms[session_id] = room
        if record:
            room.archive = await self._start_archive(room, project_name)
        for camera in cameras or []:
            await self._start_camera(room, camera)
        if isinstance(media.grid, GridCompositor):
            media.grid.on_stage = self.metrics.grid_stage
        media.tell_voice_stages(self.metrics.voice_stage)
        media.mixer.on_drop = self.metrics.frames_dropped
        if media.analysis is not None:
            media.analysis.seated = lambda key: self._seated(room, key)
            media.analysis.attendants = lambda key: room.attendants.get(
                key.removeprefix("camera:"), 0
            )

            def on_warning(seat: str, transition: Transition, snapshot: bytes | None) -> None:
                self.tasks.spawn(
                    self._camera_warning(room, seat, transition, snapshot),
                    name=f"camera-warning-{seat}",
                )

            media.analysis.on_warning = on_warning
        return {
            "part": room.archive.part if room.archive else None,
            "last_seq": room.archive.last_seq if room.archive else 0,
        }

    async def on_relay_camera(
        self, session_id: str, camera: dict[str, Any], offer: str
    ) -> dict[str, Any]:
        """A room's node asks for one of this sub venue's cameras: pull it and answer."""
        spec = RelayedCameraSpec(
            session_id=session_id,
            camera_id=str(camera["id"]),
            label=str(camera.get("label") or camera["id"]),
            venue_id=str(camera.get("venue_id") or ""),
            url=str(camera["url"]),
        )
        return {"sdp": await self.relays.offer(spec, offer)}

    async def on_relay_stop(self, session_id: str, ended_at: str | None = None) -> dict[str, Any]:
        """Stop relaying the session's cameras; its local archive (if any) is sealed, as ended
        when the session ended at `ended_at`."""
        return {"archive": await self.relays.stop(session_id, ended_at=ended_at)}

    async def on_camera_relay_answer(
        self, id: str, sdp: str | None = None, error: str | None = None
    ) -> dict[str, Any]:
        """The sub venue node's answer to a relayed camera's offer (or why there is none)."""
        waiting = self._relay_answers.get(id)
        if waiting is not None and not waiting.done():
            if sdp is not None:
                waiting.set_result(sdp)
            else:
                waiting.set_exception(RuntimeError(error or "no answer"))
        return {}

    async def on_record_events(
        self, session_id: str, events: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Append the session's events (in seq order) to its archive part."""
        room = self._room(session_id)
        if room.archive is None or room.archive.sealed:
            return {"last_seq": None}
        await room.archive.record_events([ArchivedEvent(**e) for e in events])
        return {"last_seq": room.archive.last_seq}

    async def on_negotiate(
        self, session_id: str, seat: str, sdp: str, roles: dict[str, str]
    ) -> dict[str, Any]:
        """Answer a seat's offer."""
        return {"sdp": await self._peer(session_id, seat).negotiate(sdp, roles)}

    async def on_add_candidate(self, session_id: str, seat: str, candidate: dict[str, Any]) -> None:
        """A trickled ICE candidate of a seat."""
        await self._peer(session_id, seat).add_candidate(candidate)

    async def on_close_seat(self, session_id: str, seat: str) -> None:
        """A seat left or was replaced: close its media."""
        room = self.rooms.get(session_id)
        if room is not None:
            peer = room.peers.pop(seat, None)
            if peer is not None:
                await peer.close()

    async def on_open_viewer(
        self,
        session_id: str,
        viewer: str,
        sdp: str,
        roles: dict[str, str],
        seat: str | None = None,
        camera: str | None = None,
    ) -> dict[str, Any]:
        """Answer a silent viewer's offer: the room (grid and mix), one seat or a room camera."""
        room = self._room(session_id)
        if seat is not None and seat not in room.labels:
            raise NotFound("该评标室没有这个机位")
        if camera is not None and camera not in room.cameras:
            raise NotFound("该评标室没有这个监控摄像头")
        previous = room.viewers.pop(viewer, None)
        if previous is not None:
            await previous.close()
        codec = room.cameras[camera].status.codec if camera is not None else None
        session = room.viewers[viewer] = ViewerSession(
            media=room.media,
            viewer=viewer,
            seat=seat,
            camera=camera,
            camera_codec=codec,
            ice=self.settings.ice,
        )
        try:
            return {"sdp": await session.negotiate(sdp, roles)}
        except Exception:
            if room.viewers.get(viewer) is session:
                del room.viewers[viewer]
            raise

    async def on_viewer_candidate(
        self, session_id: str, viewer: str, candidate: dict[str, Any]
    ) -> None:
        """A trickled ICE candidate of a viewer."""
        session = self._room(session_id).viewers.get(viewer)
        if session is None:
            raise NotFound("没有这个观看连接")
        await session.add_candidate(candidate)

    async def on_close_viewer(self, session_id: str, viewer: str) -> None:
        """A viewer stopped watching."""
        room = self.rooms.get(session_id)
        session = room.viewers.pop(viewer, None) if room is not None else None
        if session is not None:
            await session.close()

    # -- the broadcast of a hall (signaling.worker.broadcasting) --------------------------------

    async def on_broadcast_open(
        self, session_id: str, sources: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Broadcast the room's media from here; the streams and the pipe's address."""
        return await self.broadcasts.open(session_id, sources)

    async def on_broadcast_relay(
        self, session_id: str, streams: list[dict[str, Any]], origin: list[Any]
    ) -> dict[str, Any]:
        """Serve viewers of a broadcast made by another worker; the relay's pipe address."""
        return await self.broadcasts.relay(session_id, streams, origin)

    async def on_broadcast_pipe(
        self, session_id: str, address: list[Any], active: bool = True
    ) -> None:
        """Send the broadcast's packets to a relay in another worker too (or no more)."""
        await self.broadcasts.pipe(session_id, address, active=active)

    async def on_broadcast_viewer(
        self, session_id: str, viewer: str, sdp: str, roles: dict[str, str]
    ) -> dict[str, Any]:
        """Answer a broadcast viewer's receive-only offer."""
        return await self.broadcasts.viewer(session_id, viewer, sdp, roles)

    async def on_broadcast_candidate(
        self, session_id: str, viewer: str, candidate: dict[str, Any]
    ) -> None:
        """A trickled ICE candidate of a broadcast viewer."""
        await self.broadcasts.candidate(session_id, viewer, candidate)

    async def on_broadcast_leave(self, session_id: str, viewer: str) -> None:
        """A broadcast viewer stopped watching."""
        await self.broadcasts.leave(session_id, viewer)

    async def on_broadcast_close(self, session_id: str) -> None:
        """End the broadcast here (origin or relay)."""
        await self.broadcasts.close(session_id)

    async def on_snapshot(
        self, session_id: str, seat: str | None, stem: str, seat_only: bool = False
    ) -> dict[str, Any]:
        """Evidence of a warning raised by signaling: the seat's camera, else the room grid
        (never the grid when `seat_only`, as for an identity picture)."""
        room = self._room(session_id)
        data = None
        if seat is not None and room.media.analysis is not None:
            data = await room.media.analysis.snapshot(seat)
        picture = room.media.grid.last_picture
        if data is None and picture is not None and not seat_only:
            data = await asyncio.to_thread(jpeg, picture)
        return {"evidence": await self._evidence(room, stem, data)}

    async def on_set_tiles(self, session_id: str, tiles: list[dict[str, str]]) -> None:
        """The roster changed (experts imported into a live room): the grid's tiles again."""
        room = self._room(session_id)
        room.media.set_tiles([TileSpec(t["key"], t["label"]) for t in tiles])
        room.labels = {t["key"]: t["label"] for t in tiles}

    async def on_hall_screen(self, session_id: str, message: dict[str, Any]) -> None:
        """What a hall's information screen shows now (``media.infostate``'s message)."""
        media = self._room(session_id).media
        if media.screen is None:
            raise InvalidRequest("该会场没有开标信息屏")
        self._show_screen(media, message)

    async def on_set_muted(self, session_id: str, seats: list[str]) -> None:
        """The seats (a hall's speakers) muted now: nobody hears them in the mix."""
        self._room(session_id).media.set_muted(set(seats))

    @staticmethod
    def _show_screen(media: RoomMedia, message: dict[str, Any]) -> None:
        assert media.screen is not None
        try:
            media.screen.update(message)
        except BadOpeningState as exc:
            raise InvalidRequest(f"开标信息屏的内容不正确：{exc}") from exc

    async def on_set_online(self, session_id: str, seats: list[str]) -> None:
        """Which seats are connected (for the grid's placeholders and the room cameras)."""
        room = self._room(session_id)
        room.online = set(seats)
        room.media.set_online(room.online)

    async def on_close_room(self, session_id: str, state: str) -> dict[str, Any]:
        """Close a room and seal its archive part (``ended`` or ``interrupted``)."""
        return {"sealed": await self._close_room(session_id, state)}

    async def on_stats(self) -> dict[str, Any]:
        """Figures for /metrics."""
        return {
            "pid": os.getpid(),
            "cpu_percent": self._process.cpu_percent(None),
            "rss_bytes": self._process.memory_info().rss,
            "loop_lag_s": self._lag.last_s,
            "rooms": [
                {
                    "session_id": room.id,
                    # No count of viewers or grid receivers: /metrics must not show when a
                    # supervisor watches.
                    "seats": len(room.peers),
                    "grid_fps": room.media.grid.stats.fps,
                    "grid_frames_skipped": room.media.grid.stats.frames_skipped,
                    "analysis_interval_s": (
                        room.media.analysis.stats.interval_s if room.media.analysis else None
                    ),
                    "analysis_samples": (
                        room.media.analysis.stats.samples if room.media.analysis else 0
                    ),
                }
                for room in self.rooms.values()
            ],
            "broadcasts": self.broadcasts.stats(),
            # Viewers of a broadcast: the server's part of their join time (bench/broadcast.py).
            "broadcast_joins": list(self.broadcasts.recent_joins),
            "metrics": self.metrics.render().decode(),
        }

    async def on_shutdown(self) -> None:
        """Seal everything and exit."""
        self._stopping.set()

    # -- internals ------------------------------------------------------------------------------

    def _peer(self, session_id: str, seat: str) -> PeerSession:
        """The seat's peer session, made on first use."""
        room = self._room(session_id)
        peer = room.peers.get(seat)
        if peer is None:
            room.joined.add(seat)
            peer = room.peers[seat] = PeerSession(
                room=room,
                seat=seat,
                ice=self.settings.ice,
                metrics=self.metrics,
                on_change=lambda: self._tracks_changed(room, seat),
            )
        return peer

    def _room(self, session_id: str) -> RoomHost:
        room = self.rooms.get(session_id)
        if room is None:
            raise NotFound("该评标室不在此媒体进程上")
        return room

    async def _close_room(self, session_id: str, state: str) -> bool:
        room = self.rooms.get(session_id)
        if room is None:
            return False
        await self.broadcasts.close(session_id)  # its sources are the room's media
        del self.rooms[session_id]
        for camera in list(room.cameras.values()):
            await camera.close()
        room.cameras.clear()
        for viewer in list(room.viewers.values()):
            await viewer.close()
        room.viewers.clear()
        for peer in list(room.peers.values()):
            await peer.close()
        room.peers.clear()
        await room.media.close()
        # A seat's series end with its room: over months of sessions they would grow unbounded.
        self.metrics.forget_seats(room.joined)
        if room.archive is not None and not room.archive.sealed:
            await room.archive.seal(state)
            await room.archive.close()
            return True
        return False

    async def _start_archive(self, room: RoomHost, project_name: str) -> SessionArchive:
        archive = SessionArchive(
            Path(self.settings.archive_root),
            room.id,
            keys=self._keys,
            config=self.settings.recorder,
            project=project_name,
            on_gap=lambda gap: self._gap(room, gap),
        )
        await archive.open()
        hall = room.media.screen is not None
        grid = await archive.add_track(
            HALL_SCREEN_TRACK if hall else "room-grid",
            kind="video",
            codec="VP8",
            clock_rate=90_000,
            label="开标大厅信息屏" if hall else "评标室画面",
            request_keyframe=room.media.grid.request_keyframe,
        )
        started = False

        def record_grid(packet: Any, keyframe: bool) -> None:
            nonlocal started
            started = started or keyframe
            if started:
                grid.push(packet_frame(packet, kind="video", codec="VP8", clock_rate=90_000))

        room.media.grid.add_listener(record_grid)
        mix = await archive.add_track(
            "room-mix",
            kind="audio",
            codec="opus",
            clock_rate=48_000,
            label="开标大厅声音" if hall else "评标室声音",
            request_keyframe=None,
        )
        room.media.mix.add_listener(mix.push)
        return archive

    def _event(self, name: str, params: dict[str, Any]) -> None:
        if self.channel is not None:
            self.tasks.spawn(self.channel.event(name, params), name=name)

    def _tracks_changed(self, room: RoomHost, seat: str) -> None:
        peer = room.peers.get(seat)
        if self.channel is None or peer is None:
            return
        self.tasks.spawn(
            self.channel.event(
                "seat_media",
                {
                    "session_id": room.id,
                    "seat": seat,
                    "tracks": sorted(peer.tracks),
                    "state": peer.connection_state,
                },
            ),
            name=f"seat-media-{seat}",
        )

    async def _start_camera(self, room: RoomHost, camera: dict[str, Any]) -> None:
        """Pull a room camera: record it and forward it to supervisors as it comes."""

        async def report(params: dict[str, Any]) -> None:
            if self.channel is not None:
                await self.channel.event("room_camera", {"session_id": room.id, **params})

        feed = CameraFeed(
            camera_id=camera["id"],
            label=camera["label"],
            venue_id=camera.get("venue_id", ""),
            source=self._camera_source(room, camera),
            media=room.media,
            archive=room.archive,
            report=report,
            spawn=lambda coro, name: self.tasks.spawn(coro, name=name),
        )
        room.cameras[feed.camera_id] = feed
        room.attendants[feed.camera_id] = int(camera.get("attendants") or 0)
        await feed.start()

    def _camera_source(self, room: RoomHost, camera: dict[str, Any]) -> SourceFactory:
        """Over RTSP from here, or from the sub venue's node that pulls it (``relay``)."""
        node = camera.get("relay")
        if not node:
            return rtsp_source(str(camera["id"]), str(camera["url"]))

        async def negotiate(offer: str) -> str:
            offer_id = os.urandom(8).hex()
            answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            self._relay_answers[offer_id] = answer
            try:
                if self.channel is None:
                    raise RuntimeError("no signaling")
                await self.channel.event(
                    "camera_relay_offer",
                    {"session_id": room.id, "camera": camera, "offer": offer, "id": offer_id},
                )
                return await asyncio.wait_for(answer, timeout=20)
            finally:
                self._relay_answers.pop(offer_id, None)

        return lambda on_frame, on_status: RelayedCamera(
            str(camera["id"]),
            str(node),
            ice=self.settings.ice,
            negotiate=negotiate,
            on_frame=on_frame,
            on_status=on_status,
        )

    @staticmethod
    def _seated(room: RoomHost, key: str) -> int:
        """Experts online in the venue a room camera (``camera:<id>``) overlooks."""
        feed = room.cameras.get(key.removeprefix("camera:"))
        venue = feed.venue_id if feed is not None else ""
        return sum(1 for seat in room.online if venue and seat.split(":", 1)[0] == venue)

    async def _camera_warning(
        self, room: RoomHost, seat: str, transition: Transition, snapshot: bytes | None
    ) -> None:
        """A warning from a seat's camera starts (with its evidence picture) or ends."""
        evidence = None
        if transition.starts:
            evidence = await self._evidence(room, f"{transition.kind}-{seat}", snapshot)
        if self.channel is not None:
            await self.channel.event(
                "camera_warning",
                {
                    "session_id": room.id,
                    "seat": seat,
                    "kind": str(transition.kind),
                    "starts": transition.starts,
                    "at": transition.at,
                    "evidence": evidence,
                },
            )

    async def _evidence(
        self, room: RoomHost, stem: str, data: bytes | None
    ) -> dict[str, Any] | None:
        """Store an evidence picture in the room's archive part; its path, part and digests."""
        archive = room.archive
        if data is None or archive is None or archive.sealed:
            return None
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        safe = re.sub(r"[^A-Za-z0-9_.-]", "-", stem)[:80]
        name = f"{safe}-{stamp}-{os.urandom(3).hex()}.jpg"
        try:
            stored = await archive.add_evidence(name, data)
        except (OSError, ValueError, RuntimeError) as exc:
            logger.error("room %s: evidence %s not stored: %s", room.id, name, exc)
            return None
        return {**stored, "part": archive.part}

    def _gap(self, room: RoomHost, gap: Gap) -> None:
        if self.channel is not None:
            self.tasks.spawn(
                self.channel.event(
                    "recording_gap",
                    {
                        "session_id": room.id,
                        "track": gap.track,
                        "from": round(gap.wall_start, 3),
                        "to": round(gap.wall_end, 3),
                        "reason": gap.reason,
                    },
                ),
                name=f"gap-{room.id}",
            )


async def serve(fd: int, settings: WorkerSettings) -> None:
    """Run a worker on an inherited socket."""
    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_connection(sock=sock)
    worker = Worker(settings)
    loop = asyncio.get_running_loop()
    # SIGTERM to the worker alone (not through signaling) still seals its rooms.
    loop.add_signal_handler(signal.SIGTERM, worker._stopping.set)
    # SIGINT goes to the whole process group on Ctrl-C: signaling orders the shutdown.
    loop.add_signal_handler(signal.SIGINT, lambda: None)
    await worker.run(reader, writer)
