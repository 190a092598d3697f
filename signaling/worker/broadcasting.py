"""The broadcasts of one media worker (开标直播): those it makes, those it relays, their viewers.

A broadcast is made (packetized once) by the worker that hosts the hall's room, its origin,
from that room's media; other workers relay it through a pipe (``media.broadcastpipe``) and
serve viewers too. Requests, each ``Worker.on_broadcast_*`` in ``signaling.worker.process``:

- ``broadcast_open(session_id, sources)``, on the room's worker: the streams, bound to the
  room's media; answers their specs, the pipe's address and whether it can be relayed;
- ``broadcast_relay(session_id, streams, origin)``, on another worker: a relay of the origin at
  that address; answers the relay's own address;
- ``broadcast_pipe(session_id, address, active)``, on the origin: send every packet to that relay
  too (``active`` false: no more);
- ``broadcast_viewer(session_id, viewer, sdp, roles)``: answer a viewer's receive-only offer
  (``roles`` maps each media section's mid to a stream name); ``broadcast_candidate`` and
  ``broadcast_leave`` for that viewer; ``broadcast_close(session_id)``.

The worker tells the signaling process ``broadcast_viewer`` events (``session_id``, ``viewer``,
``state``): ``connected``, and ``failed`` or ``closed`` (the viewer is gone, its place free).

Sources, by ``from``: ``seat`` (a seat's ``camera`` or ``desktop`` as it arrives; ``key`` the
seat), ``roomcam`` (a room camera as it came over RTSP, VP8 or H.264; ``key`` its id), ``grid``
(the room grid, encoded once, VP8) and ``mix`` (the room's whole sound, encoded once, Opus).

With ``MediaConfig.broadcast_sender = "aiortc"`` each viewer is an ordinary aiortc connection
whose senders packetize the room's packet tracks themselves (``signaling.worker.viewer``'s
way): the reference that ``bench/broadcast.py`` measures the lean path against; not relayed.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import av
from aiortc.sdp import candidate_from_sdp

from media.broadcast import Packetizer, StreamSpec
from media.broadcastpipe import PipeOrigin, PipeRelay
from media.broadcastviewer import Broadcast, BroadcastViewer
from media.forward import camera_key
from media.tap import EncodedFrame
from roomserver.errors import InvalidRequest, NotFound
from signaling.worker.broadcastref import ReferenceViewer, TrackSource
from signaling.worker.peer import (
    MAX_PENDING_CANDIDATES,
    announce_address,
    parse_offer,
    rtc_configuration,
)
from signaling.worker.settings import WorkerSettings

if TYPE_CHECKING:
    from signaling.worker.process import RoomHost

logger = logging.getLogger(__name__)

PAYLOAD_TYPES = {"VP8": 96, "H264": 102, "opus": 111}
STREAM_NAME = re.compile(r"^[a-z][a-z0-9_]{0,23}$")
SOURCE_KINDS = {"seat": "video", "roomcam": "video", "grid": "video", "mix": "audio"}
GONE_STATES = frozenset({"failed", "closed"})
RECENT_JOINS = 256
EventSender = Callable[[str, dict[str, Any]], None]
Spawner = Callable[[Any, str], Any]
Viewer = BroadcastViewer | ReferenceViewer


@dataclass
class _Source:
    """One stream of the origin: which of the room's media feeds it."""

    spec: StreamSpec
    kind_of: str  # seat, roomcam, grid or mix
    key: str = ""
    role: str = ""
    stop: Callable[[], None] = lambda: None


@dataclass
class Hosted:
    """A broadcast as this worker serves it."""

    session_id: str
    broadcast: Broadcast
    origin: PipeOrigin | None = None
    relay: PipeRelay | None = None
    sources: list[_Source] = field(default_factory=list)
    room: RoomHost | None = None
    viewers: dict[str, Viewer] = field(default_factory=dict)
    pending: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


class BroadcastHost:
    """The broadcasts this worker makes or relays, and their viewers here."""

    def __init__(
        self,
        settings: WorkerSettings,
        rooms: dict[str, RoomHost],
        *,
        send_event: EventSender,
        spawn: Spawner,
    ) -> None:
        self._settings = settings
        self._rooms = rooms
        self._send_event = send_event
        self._spawn = spawn
        self._hosted: dict[str, Hosted] = {}
        self._reference = settings.media.broadcast_sender == "aiortc"
        # (viewer, s from its offer to its first packet, s to a packet of every stream)
        self.recent_joins: deque[tuple[str, float, float]] = deque(maxlen=RECENT_JOINS)

    # -- the origin -----------------------------------------------------------------------------

    async def open(self, session_id: str, sources: list[dict[str, Any]]) -> dict[str, Any]:
        """Make the broadcast of the room's media here; its streams and pipe address."""
        hosted = self._hosted.get(session_id)
        if hosted is None:
            room = self._rooms.get(session_id)
            if room is None:
                raise NotFound("该会场不在此媒体进程上")
            bound = [self._bind(room, source) for source in sources]
            if not bound or len({b.spec.name for b in bound}) != len(bound):
                raise InvalidRequest("直播的媒体为空或有两路同名")
            broadcast = Broadcast(
                [b.spec for b in bound],
                name=session_id,
                keyframe_requests={
                    b.spec.name: request
                    for b in bound
                    if (request := self._keyframe_request(room, b)) is not None
                },
            )
            await broadcast.start()
            hosted = Hosted(session_id, broadcast, origin=PipeOrigin(broadcast), room=room)
            hosted.sources = bound
            if not self._reference:
                for source in bound:
                    source.stop = self._feed(room, source, broadcast)
            self._hosted[session_id] = hosted
        if hosted.origin is None:
            raise InvalidRequest("此媒体进程只转发该直播")
        address = await hosted.origin.start()
        return {
            "streams": [s.spec.to_wire() for s in hosted.broadcast.streams.values()],
            "origin": list(address),
            "relayable": not self._reference,
        }

    async def pipe(self, session_id: str, address: list[Any], *, active: bool = True) -> None:
        """Send the broadcast's packets to a relay at `address` too (or no more)."""
        origin = self._get(session_id).origin
        if origin is None:
            raise InvalidRequest("此媒体进程只转发该直播，不能再分发")
        relay = (str(address[0]), int(address[1]))
        if active:
            origin.add_relay(relay)
        else:
            origin.remove_relay(relay)

    def _bind(self, room: RoomHost, source: dict[str, Any]) -> _Source:
        """A stream for one source of the room."""
        name, kind_of = str(source.get("name", "")), str(source.get("from", ""))
        if not STREAM_NAME.match(name) or kind_of not in SOURCE_KINDS:
            raise InvalidRequest(f"直播媒体来源不正确：{name or '?'} / {kind_of or '?'}")
        key, role = str(source.get("key", "")), ""
        codec = "VP8"
        if kind_of == "seat":
            role = str(source.get("role", "camera"))
            if key not in room.labels or role not in ("camera", "desktop"):
                raise NotFound("该会场没有这个机位或媒体")
        elif kind_of == "roomcam":
            feed = room.cameras.get(key)
            if feed is None:
                raise NotFound("该会场没有这个监控摄像头")
            key, role = camera_key(key), "roomcam"
            codec = "H264" if feed.status.codec == "H264" else "VP8"
        elif kind_of == "mix":
            codec = "opus"
        spec = StreamSpec(
            name=name,
            kind=SOURCE_KINDS[kind_of],
            codec=codec,
            clock_rate=48_000 if codec == "opus" else 90_000,
            ssrc=random.getrandbits(32),
            payload_type=PAYLOAD_TYPES[codec],
        )
        return _Source(spec, kind_of, key, role)

    @staticmethod
    def _keyframe_request(room: RoomHost, source: _Source) -> Callable[[], None] | None:
        """How to ask the source for a keyframe (a room camera cannot be asked)."""
        media = room.media
        if source.kind_of == "seat":
            return lambda: media.forwards.request_keyframe(source.key, source.role)
        if source.kind_of == "grid":
            return media.grid.request_keyframe
        return None

    @staticmethod
    def _feed(room: RoomHost, source: _Source, broadcast: Broadcast) -> Callable[[], None]:
        """Packetize the source's frames into its stream; returns how to stop."""
        stream = broadcast.streams[source.spec.name]
        packetizer = Packetizer(
            source.spec,
            # In the lower half, as aiortc does: a wrap soon after the start breaks SRTP.
            first_sequence=random.getrandbits(15),
            timestamp_origin=random.getrandbits(32),
        )
        media = room.media

        def encoded(item: EncodedFrame) -> None:
            frame = packetizer.frame(
                item.data, item.rtp_timestamp, keyframe=item.keyframe, wall_time=item.wall_time
            )
            if frame is not None:
                stream.publish(frame)

        if source.kind_of in ("seat", "roomcam"):
            return media.forwards.listen(source.key, source.role, encoded)
        if source.kind_of == "mix":
            media.mix.add_listener(encoded)
            return lambda: media.mix.remove_listener(encoded)

        def grid(packet: av.Packet, keyframe: bool) -> None:
            assert packet.pts is not None
            frame = packetizer.frame(
                bytes(packet), int(packet.pts), keyframe=keyframe, wall_time=time.time()
            )
            if frame is not None:
                stream.publish(frame)

        media.grid.add_listener(grid)
        return lambda: media.grid.remove_listener(grid)

    # -- relays ---------------------------------------------------------------------------------

    async def relay(
        self, session_id: str, streams: list[dict[str, Any]], origin: list[Any]
    ) -> dict[str, Any]:
        """Serve the broadcast here too, fed by the origin's pipe; the relay's address."""
        hosted = self._hosted.get(session_id)
        if hosted is None:
            specs = [StreamSpec.from_wire(s) for s in streams]
            relay = PipeRelay(specs, origin=(str(origin[0]), int(origin[1])), name=session_id)
            hosted = Hosted(session_id, relay.broadcast, relay=relay)
            self._hosted[session_id] = hosted
        if hosted.relay is None:
            raise InvalidRequest("此媒体进程本身发出该直播")
        address = await hosted.relay.start()
        return {"address": list(address)}

    # -- viewers --------------------------------------------------------------------------------

    async def viewer(
        self, session_id: str, viewer: str, sdp: str, roles: dict[str, str]
    ) -> dict[str, Any]:
        """Answer a viewer's receive-only offer; a viewer that offers again starts over."""
        hosted = self._get(session_id)
        kinds = {name: s.spec.kind for name, s in hosted.broadcast.streams.items()}
        sections = parse_offer(sdp, roles, kinds)
        previous = hosted.viewers.pop(viewer, None)
        if previous is not None:
            await previous.close()
        configuration = rtc_configuration(self._settings.ice)

        def state(value: str) -> None:
            self._viewer_state(hosted, viewer, session, value)

        session: Viewer
        if self._reference:
            assert hosted.room is not None
            tracks = {s.spec.name: self._track_source(hosted.room, s) for s in hosted.sources}
            session = ReferenceViewer(
                tracks, configuration=configuration, name=viewer, on_state=state
            )
        else:
            session = BroadcastViewer(
                hosted.broadcast,
                configuration=configuration,
                name=viewer,
                on_state=state,
                on_joined=self._joined,
            )
        hosted.viewers[viewer] = session
        try:
            answer = await session.negotiate(sdp, [role for _mid, _kind, role in sections])
            for candidate in hosted.pending.pop(viewer, []):
                await self._apply_candidate(session, candidate)
        except Exception as exc:
            logger.info("broadcast %s: viewer %s not negotiated: %s", session_id, viewer, exc)
            if hosted.viewers.get(viewer) is session:
                del hosted.viewers[viewer]
            await session.close()
            if isinstance(exc, InvalidRequest):
                raise
            raise InvalidRequest("无法建立观看连接：SDP 不被接受") from exc
        return {"sdp": announce_address(answer, self._settings.ice)}

    async def candidate(self, session_id: str, viewer: str, candidate: dict[str, Any]) -> None:
        """A trickled ICE candidate of a viewer (kept if it comes before the offer)."""
        hosted = self._get(session_id)
        session = hosted.viewers.get(viewer)
        if session is None:
            pending = hosted.pending.setdefault(viewer, [])
            if len(pending) >= MAX_PENDING_CANDIDATES or len(hosted.pending) > 10_000:
                raise InvalidRequest("ICE 候选过多")
            pending.append(candidate)
            return
        await self._apply_candidate(session, candidate)

    async def leave(self, session_id: str, viewer: str) -> None:
        """A viewer stopped watching."""
        hosted = self._hosted.get(session_id)
        if hosted is None:
            return
        hosted.pending.pop(viewer, None)
        session = hosted.viewers.pop(viewer, None)
        if session is not None:
            await session.close()

    def _joined(self, viewer: BroadcastViewer) -> None:
        assert viewer.first_packet_at is not None and viewer.joined_at is not None
        self.recent_joins.append(
            (
                viewer.name,
                round(viewer.first_packet_at - viewer.created_at, 4),
                round(viewer.joined_at - viewer.created_at, 4),
            )
        )

    def _viewer_state(self, hosted: Hosted, viewer: str, session: Viewer, state: str) -> None:
        """Tell signaling that a viewer connected, or went away without being asked to."""
        if hosted.viewers.get(viewer) is not session:
            return  # replaced or asked to leave: signaling knows
        if state in GONE_STATES:
            del hosted.viewers[viewer]
            self._spawn(session.close(), f"broadcast-viewer-{viewer}")
        elif state != "connected":
            return
        self._send_event(
            "broadcast_viewer", {"session_id": hosted.session_id, "viewer": viewer, "state": state}
        )

    @staticmethod
    async def _apply_candidate(session: Viewer, data: dict[str, Any]) -> None:
        text = str(data.get("candidate") or "")
        if not text:
            return
        try:
            candidate = candidate_from_sdp(text.removeprefix("candidate:"))
        except (ValueError, IndexError) as exc:
            raise InvalidRequest("ICE 候选格式不正确") from exc
        candidate.sdpMid = data.get("sdpMid")
        candidate.sdpMLineIndex = data.get("sdpMLineIndex")
        await session.add_candidate(candidate)

    @staticmethod
    def _track_source(room: RoomHost, source: _Source) -> TrackSource:
        """The room's own packet track for a source, and its keyframe request (reference)."""
        media = room.media
        if source.kind_of in ("seat", "roomcam"):
            key, role = source.key, source.role
            return TrackSource(
                source.spec,
                lambda: media.forwards.subscribe(key, role),
                lambda: media.forwards.request_keyframe(key, role),
            )
        if source.kind_of == "grid":
            return TrackSource(source.spec, media.grid_track, media.grid.request_keyframe)
        return TrackSource(source.spec, media.full_mix_track, None)

    # -- the whole ------------------------------------------------------------------------------

    async def close(self, session_id: str) -> None:
        """End the broadcast here: its viewers, its pipe, its sources."""
        hosted = self._hosted.pop(session_id, None)
        if hosted is None:
            return
        for source in hosted.sources:
            source.stop()
        for session in list(hosted.viewers.values()):
            await session.close()
        hosted.viewers.clear()
        if hosted.origin is not None:
            await hosted.origin.close()
        if hosted.relay is not None:
            await hosted.relay.close()
        await hosted.broadcast.close()

    async def close_all(self) -> None:
        """End every broadcast here (the worker stops)."""
        for session_id in list(self._hosted):
            await self.close(session_id)

    def stats(self) -> list[dict[str, Any]]:
        """Figures of each broadcast here (viewers, frames dropped, pipe gaps)."""
        out = []
        for hosted in self._hosted.values():
            streams = hosted.broadcast.streams.values()
            out.append(
                {
                    "session_id": hosted.session_id,
                    "role": "origin" if hosted.origin is not None else "relay",
                    "viewers": len(hosted.viewers),
                    "relays": len(hosted.origin.relays) if hosted.origin is not None else 0,
                    "frames": sum(s.stats.frames for s in streams),
                    "frames_dropped": sum(s.stats.frames_dropped for s in streams),
                    "packets_written": sum(s.stats.packets_written for s in streams),
                    "keyframe_requests": sum(s.request_keyframe.sent for s in streams),
                    "pipe_gaps": hosted.relay.gaps if hosted.relay is not None else 0,
                    "streams": {
                        name: {
                            "frames": s.stats.frames,
                            "keyframes": s.stats.keyframes,
                            "packets": s.stats.packets,
                            "keyframe_requests": s.request_keyframe.sent,
                            # Seconds from a request to its keyframe, the latest ones.
                            "keyframe_latencies": [
                                round(x, 3) for x in s.request_keyframe.latencies
                            ],
                        }
                        for name, s in hosted.broadcast.streams.items()
                    },
                }
            )
        return out

    def _get(self, session_id: str) -> Hosted:
        hosted = self._hosted.get(session_id)
        if hosted is None:
            raise NotFound("该直播不在此媒体进程上")
        return hosted
