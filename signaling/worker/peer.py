"""One seat's peer connection: negotiates with the browser and wires its tracks into the room."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import SessionDescription, candidate_from_sdp

from media.decode import CameraDecoder, MicrophoneDecoder
from media.forward import FORWARDED_ROLES
from media.ice import announce_addresses
from media.room import DECODED_ROLES, RoomMedia
from media.tap import EncodedFrame, ReceiverTap, hook_keyframe_requests, install_tap, send_pli
from recorder.archive import SessionArchive
from recorder.track import TrackRecorder
from roomserver.errors import InvalidRequest
from signaling.config import IceConfig
from signaling.metrics import Metrics

logger = logging.getLogger(__name__)


class MediaRoom(Protocol):
    """What a seat's peer session needs of its room (in the server, or in a media worker)."""

    @property
    def id(self) -> str:
        """The session id."""

    @property
    def media(self) -> RoomMedia:
        """The room's grid, mixer and inputs."""

    @property
    def archive(self) -> SessionArchive | None:
        """The archive part being recorded, if any."""

    def seat_label(self, key: str) -> str:
        """The Chinese label of a seat, e.g. 沈阳主场 · 2号机位."""

    def media_arrived(self, track_id: str, wall_time: float) -> None:
        """A recorded track's frame of `wall_time` came; a long silence before it is a gap in
        the record."""


# A seat's "preview" is a small copy of its camera, sent for the grid and the analysis only
# (media.room); it is neither recorded nor forwarded, the camera itself is.
ROLE_KINDS = {"camera": "video", "microphone": "audio", "desktop": "video", "preview": "video"}
# The recorded roles, with their labels in the archive.
ROLE_LABELS = {"camera": "摄像头", "microphone": "麦克风", "desktop": "屏幕"}
RECORDED_ROLES = frozenset(ROLE_LABELS)
MAX_PENDING_CANDIDATES = 64
PLI_MIN_INTERVAL_S = 0.5


def rtc_configuration(ice: IceConfig) -> RTCConfiguration:
    """The server's own ICE configuration: no STUN or TURN server, whatever the pages are given.

    The server is reached at its host candidates and its announced addresses: a relay of its
    own would only lengthen the path and hold up every answer while it is allocated.

    max-bundle: with aiortc's default policy, a second video transceiver (the desktop) is bound
    at creation to a transport that the browser's BUNDLE offer then abandons; its receiver never
    starts and its packets end up in the camera's receiver.
    """
    return RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE, iceServers=[])


def announce_address(sdp: str, ice: IceConfig) -> str:
    """The answer with the announced public addresses beside its host candidates."""
    return announce_addresses(sdp, ice.announced_addresses)


def parse_offer(
    sdp: str, roles: dict[str, str], role_kinds: Mapping[str, str] = ROLE_KINDS
) -> list[tuple[str, str, str]]:
    """Check an offer against its roles; return (mid, kind, role) per media section, in order.

    `role_kinds` says which roles may appear and the media kind of each.
    """
    try:
        description = SessionDescription.parse(sdp)
    except Exception as exc:  # aiortc's parser raises whatever the text provokes
        raise InvalidRequest("SDP 无法解析") from exc
    sections: list[tuple[str, str, str]] = []
    seen_roles: set[str] = set()
    for media in description.media:
        if media.kind not in ("audio", "video"):
            continue
        mid = media.rtp.muxId
        role = roles.get(mid)
        if role is None:
            raise InvalidRequest(f"媒体段 {mid} 未标明用途（摄像头、麦克风或屏幕）")
        if role_kinds.get(role) != media.kind:
            raise InvalidRequest(f"媒体段 {mid} 的类型与用途 {role} 不符")
        if role in seen_roles:
            raise InvalidRequest(f"用途 {role} 出现了两次")
        if not media.ice or not media.ice.usernameFragment or not media.dtls:
            raise InvalidRequest("SDP 缺少 ICE 或 DTLS 参数")
        seen_roles.add(role)
        sections.append((mid, media.kind, role))
    if not sections:
        raise InvalidRequest("SDP 中没有音视频")
    return sections


async def apply_candidate(pc: RTCPeerConnection, data: dict[str, Any]) -> None:
    """Add a trickled ICE candidate of the browser (``candidate`` empty: end of candidates)."""
    text = data["candidate"]
    if not text:
        return
    try:
        candidate = candidate_from_sdp(text.removeprefix("candidate:"))
    except (ValueError, IndexError) as exc:
        raise InvalidRequest("ICE 候选格式不正确") from exc
    candidate.sdpMid = data.get("sdpMid")
    candidate.sdpMLineIndex = data.get("sdpMLineIndex")
    await pc.addIceCandidate(candidate)


def prefer_vp8(transceiver: RTCRtpTransceiver) -> None:
    """Offer VP8 only on a video transceiver: the server sends and records VP8 as it is."""
    codecs = RTCRtpSender.getCapabilities("video").codecs
    transceiver.setCodecPreferences([c for c in codecs if c.mimeType in ("video/VP8", "video/rtx")])


def prefer_h264(transceiver: RTCRtpTransceiver) -> None:
    """Offer H.264 only (packetization mode 1): a room camera's pictures are sent as they came."""
    codecs = RTCRtpSender.getCapabilities("video").codecs
    transceiver.setCodecPreferences(
        [
            c
            for c in codecs
            if (c.mimeType == "video/H264" and c.parameters.get("packetization-mode") == "1")
            or c.mimeType == "video/rtx"
        ]
    )


class PeerSession:
    """The media connection of one seat (one RTCPeerConnection at a time)."""

    def __init__(
        self,
        *,
        room: MediaRoom,
        seat: str,
        ice: IceConfig,
        metrics: Metrics,
        on_change: Callable[[], None],
    ) -> None:
        self._room = room
        self._seat = seat
        self._ice = ice
        self._metrics = metrics
        self._on_change = on_change
        self._pc: RTCPeerConnection | None = None
        self._remote_set = False
        self._pending_candidates: list[dict[str, Any]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._own_tracks: list[MediaStreamTrack] = []
        self._taps: dict[str, ReceiverTap] = {}
        self._attached: list[tuple[str, CameraDecoder | MicrophoneDecoder]] = []
        self._forwarded: list[tuple[str, Callable[[], None]]] = []
        self._recorders: dict[str, TrackRecorder] = {}
        self._last_pli: dict[str, float] = {}
        self._lock = asyncio.Lock()
        self._closed = False
        self.tracks: set[str] = set()

    @property
    def connection_state(self) -> str:
        """The peer connection state, or ``new`` before an offer."""
        return self._pc.connectionState if self._pc is not None else "new"

    async def negotiate(self, sdp: str, roles: dict[str, str]) -> str:
        """Answer the browser's offer; a new offer replaces the previous connection."""
        sections = parse_offer(sdp, roles)
        async with self._lock:
            if self._closed:
                raise InvalidRequest("连接已关闭")
            await self._close_pc()
            pc = self._pc = RTCPeerConnection(rtc_configuration(self._ice))
            self._remote_set = False
            roles_by_receiver: dict[int, str] = {}
            try:
                for _mid, kind, role in sections:
                    transceiver = self._add_transceiver(pc, kind, role)
                    roles_by_receiver[id(transceiver.receiver)] = role

                @pc.on("track")
                def on_track(track: MediaStreamTrack) -> None:
                    receiver = next(
                        t.receiver for t in pc.getTransceivers() if t.receiver.track is track
                    )
                    self._on_track(receiver, track, roles_by_receiver[id(receiver)])

                @pc.on("connectionstatechange")
                async def on_state() -> None:
                    logger.info("seat %s: connection %s", self._seat, pc.connectionState)
                    if pc.connectionState == "failed" and pc is self._pc:
                        # The browser reconnects with a new offer; free the media now.
                        self._spawn(self._fail(pc), "peer-failed")
                    self._on_change()

                await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
                self._remote_set = True
                for candidate in self._pending_candidates:
                    await self._apply_candidate(candidate)
                self._pending_candidates.clear()
                await pc.setLocalDescription(await pc.createAnswer())
            except InvalidRequest:
                await self._close_pc()
                raise
            except Exception as exc:
                logger.info("seat %s: negotiation failed: %s", self._seat, exc)
                await self._close_pc()
                raise InvalidRequest("无法建立媒体连接：SDP 不被接受") from exc
            answer = pc.localDescription.sdp
        return announce_address(answer, self._ice)

    async def add_candidate(self, candidate: dict[str, Any]) -> None:
        """A trickled ICE candidate of the browser (kept until the offer is applied)."""
        if not self._remote_set:
            if len(self._pending_candidates) >= MAX_PENDING_CANDIDATES:
                raise InvalidRequest("ICE 候选过多")
            self._pending_candidates.append(candidate)
            return
        await self._apply_candidate(candidate)

    async def close(self) -> None:
        """Close the connection and stop feeding the room; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        async with self._lock:
            await self._close_pc()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)

    # -- internals ------------------------------------------------------------------------------

    def _add_transceiver(self, pc: RTCPeerConnection, kind: str, role: str) -> RTCRtpTransceiver:
        media = self._room.media
        if role == "microphone":
            track: MediaStreamTrack = media.audio_track(self._seat)
            self._own_tracks.append(track)
            transceiver = pc.addTransceiver(track, direction="sendrecv")
        elif role == "camera" and media.screen is None:
            # An evaluation seat sees the room grid in return; a hall's host sees the hall in
            # its broadcast, so its camera only sends.
            track = media.grid_track()
            self._own_tracks.append(track)
            transceiver = pc.addTransceiver(track, direction="sendrecv")
            hook_keyframe_requests(transceiver.sender, media.grid.request_keyframe)
        else:
            transceiver = pc.addTransceiver(kind, direction="recvonly")
        if kind == "video":
            prefer_vp8(transceiver)
        return transceiver

    def _on_track(self, receiver: RTCRtpReceiver, track: MediaStreamTrack, role: str) -> None:
        # aiortc's own decoder is never fed: the room decodes what it uses (media.decode).
        # Every video frame is given out as soon as it is whole (media.recovery.WholeFrames),
        # the screen share's too: aiortc's own buffer would hold it until the next one begins.
        tap = install_tap(receiver, whole_frames=True)
        self._taps[role] = tap
        seat = self._seat
        seen = False

        def count(frame: EncodedFrame) -> None:
            nonlocal seen
            self._metrics.frame_received(seat, role, len(frame.data))
            if not seen:
                seen = True
                self.tracks.add(role)
                self._on_change()

        tap.add_sink(count)
        if role in FORWARDED_ROLES:
            forwards = self._room.media.forwards
            request = self._keyframe_requester(receiver, role)
            forwards.set_source(seat, role, request)
            tap.add_sink(lambda frame: forwards.publish(seat, role, frame))
            self._forwarded.append((role, request))
        attached: CameraDecoder | MicrophoneDecoder | None = None
        if role in DECODED_ROLES:
            media = self._room.media
            if role == "microphone":
                attached = media.attach_microphone(seat)
            else:
                attached = media.attach_camera(
                    seat,
                    request_keyframe=self._keyframe_requester(receiver, role),
                    on_drop=lambda n: self._metrics.frames_dropped("decoder", n),
                    role=role,
                )
            tap.add_sink(attached.push)
            self._attached.append((role, attached))
        if self._room.archive is not None and role in RECORDED_ROLES:
            self._spawn(self._record(receiver, tap, role), f"record-{role}")

        @track.on("ended")
        def on_ended() -> None:
            if attached is not None and (role, attached) in self._attached:
                self._attached.remove((role, attached))
                self._spawn(self._room.media.detach(seat, role, attached), f"detach-{role}")
            if role in self.tracks:
                self.tracks.discard(role)
                self._on_change()

    async def _record(self, receiver: RTCRtpReceiver, tap: ReceiverTap, role: str) -> None:
        """Record the track as it arrives (no decoding) into the session's archive."""
        archive = self._room.archive
        assert archive is not None
        track_id = f"{self._seat.replace(':', '-')}-{role}"
        video = ROLE_KINDS[role] == "video"
        recorder = await archive.add_track(
            track_id,
            kind=ROLE_KINDS[role],
            codec="VP8" if video else "opus",
            clock_rate=90_000 if video else 48_000,
            label=f"{self._room.seat_label(self._seat)} {ROLE_LABELS[role]}",
            request_keyframe=self._keyframe_requester(receiver, role) if video else None,
        )
        if self._taps.get(role) is not tap:
            # The connection was replaced while the recorder started.
            await archive.remove_track(track_id, recorder)
            return
        self._recorders[track_id] = recorder
        tap.add_sink(recorder.push)
        room = self._room
        tap.add_sink(lambda frame: room.media_arrived(track_id, frame.wall_time))

    def _keyframe_requester(self, receiver: RTCRtpReceiver, role: str) -> Callable[[], None]:
        """Ask the seat for a keyframe of `role` (an RTCP PLI, at most one per half second)."""

        def request() -> None:
            now = time.monotonic()
            if now - self._last_pli.get(role, 0.0) < PLI_MIN_INTERVAL_S:
                return
            self._last_pli[role] = now
            self._spawn(send_pli(receiver), f"pli-{role}")

        return request

    async def _apply_candidate(self, data: dict[str, Any]) -> None:
        if self._pc is not None:
            await apply_candidate(self._pc, data)

    async def _fail(self, pc: RTCPeerConnection) -> None:
        async with self._lock:
            if pc is self._pc:
                await self._close_pc()
        self._on_change()

    async def _close_pc(self) -> None:
        pc, self._pc = self._pc, None
        self._remote_set = False
        if pc is None:
            return
        for role, source in self._attached:
            await self._room.media.detach(self._seat, role, source)
        self._attached.clear()
        for role, request in self._forwarded:
            self._room.media.forwards.clear_source(self._seat, role, request)
        self._forwarded.clear()
        archive = self._room.archive
        for track_id, recorder in list(self._recorders.items()):
            if archive is not None:
                await archive.remove_track(track_id, recorder)
        self._recorders.clear()
        for track in self._own_tracks:
            track.stop()
        self._own_tracks.clear()
        self._taps.clear()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(pc.close(), timeout=5)
        if self.tracks:
            self.tracks.clear()
            self._on_change()

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.create_task(coro, name=f"seat-{self._seat}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error(
                "seat %s: task %s failed", self._seat, task.get_name(), exc_info=task.exception()
            )
