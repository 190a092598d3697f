"""Room cameras of a sub venue, pulled by that venue's own node and sent to the room's node
(standard 8.2-3: a venue's monitoring cameras are reached over RTSP where they are, never over
the internet).

A link is one WebRTC connection per camera, between two media workers:

- the room's worker (``RelayedCamera``, the feed's source) offers to receive one video track and
  opens a data channel; its signaling process carries the offer to the sub venue's node
  (``camera_relay`` call between nodes, ``signaling.services.camerarelay``) and the answer back;
- the sub venue's worker (``CameraRelay``) pulls the camera over RTSP and answers with the
  camera's pictures as the camera sent them (no decoding, no re-encoding).

On the data channel, the sub venue's end sends the camera's state as JSON
(``{"status": {"state", "detail", "codec", "size", "extradata"}}``, extradata in base64) at the
start and at every change; both ends send ``{"ping": 1}`` every second. An end that hears nothing
for ``LINK_TIMEOUT_S`` takes the link as lost: the room's end shows the camera down and offers
again (backing off as for a camera over RTSP), and the sub venue's end records the camera in an
archive of its own for the session (``RelayHost``) until a link is made again. When the session
ends, that archive is sealed and handed over by the node's signaling process.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from media.fanout import PacketTrack
from media.forward import frame_packet
from media.rtsp import BACKOFF_MAX_S, BACKOFF_MIN_S, STABLE_S, CameraState, CameraStatus
from media.tap import EncodedFrame, install_tap
from recorder.archive import ArchivedEvent, SessionArchive, list_parts
from recorder.config import RecorderConfig
from recorder.keys import KeySource
from recorder.seal import SESSION_ENDED
from signaling.config import IceConfig
from signaling.worker.camerafeed import CameraFeed, rtsp_source
from signaling.worker.peer import announce_address, prefer_h264, prefer_vp8, rtc_configuration

logger = logging.getLogger(__name__)

PING_S = 1.0
LINK_TIMEOUT_S = 3.0
# From the offer to the first message on the data channel (ICE, DTLS, SCTP).
CONNECT_TIMEOUT_S = 10.0
# How long the sub venue's end waits for its camera before answering (the codec is chosen then).
CAMERA_WAIT_S = 5.0
CHANNEL = "relay"
PING = json.dumps({"ping": 1})

Negotiate = Callable[[str], Awaitable[str]]
Spawn = Callable[[Coroutine[Any, Any, Any], str], Any]


def status_message(status: CameraStatus) -> str:
    """A camera's state as the sub venue's end sends it."""
    return json.dumps(
        {
            "status": {
                "state": status.state,
                "detail": status.detail,
                "codec": status.codec,
                "size": list(status.size) if status.size else None,
                "extradata": base64.b64encode(status.extradata).decode()
                if status.extradata
                else None,
            }
        }
    )


def parse_status(data: dict[str, Any]) -> CameraStatus:
    """A camera's state as the room's end reads it."""
    size = data.get("size")
    extradata = data.get("extradata")
    state = str(data.get("state"))
    return CameraStatus(
        state if state in (CameraState.UP, CameraState.DOWN, CameraState.INVALID) else "down",
        detail=str(data.get("detail") or "")[:200],
        codec=str(data["codec"]) if data.get("codec") else None,
        size=(int(size[0]), int(size[1])) if isinstance(size, list) and len(size) == 2 else None,
        extradata=base64.b64decode(extradata) if isinstance(extradata, str) else None,
    )


class _Heard:
    """When the other end was last heard on the data channel."""

    def __init__(self) -> None:
        self.at: float | None = None

    def now(self) -> None:
        self.at = time.monotonic()

    def silent(self, since: float) -> bool:
        """Whether the link is lost: nothing for LINK_TIMEOUT_S, or nothing ever since `since`
        within CONNECT_TIMEOUT_S."""
        now = time.monotonic()
        if self.at is None:
            return now - since > CONNECT_TIMEOUT_S
        return now - self.at > LINK_TIMEOUT_S


async def _close(pc: RTCPeerConnection) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(pc.close(), timeout=5)


def _last_state(folder: Path) -> str | None:
    """How the last part of a local archive was sealed ("" when it was not); None: no part."""
    parts = list_parts(folder)
    if not parts:
        return None
    try:
        return str(json.loads((parts[-1][1] / "seal.json").read_bytes()).get("state") or "")
    except (OSError, ValueError, AttributeError):
        return ""


# -- the room's end -----------------------------------------------------------------------------


class RelayedCamera:
    """A room camera as a sub venue's node sends it (a ``CameraFeed`` source)."""

    def __init__(
        self,
        camera_id: str,
        node: str,
        *,
        ice: IceConfig,
        negotiate: Negotiate,
        on_frame: Callable[[EncodedFrame], None],
        on_status: Callable[[CameraStatus], None],
    ) -> None:
        self.camera_id = camera_id
        self.node = node
        self._ice = ice
        self._negotiate = negotiate
        self._on_frame = on_frame
        self._on_status = on_status
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.status = CameraStatus(CameraState.CONNECTING)
        self.frames = 0
        self.connects = 0

    @property
    def display_url(self) -> str:
        """Where the camera comes from, as it may be shown."""
        return f"副场节点 {self.node}"

    async def start(self) -> None:
        """Start linking (and linking again after every loss) until closed."""
        self._task = asyncio.ensure_future(self._run())

    async def close(self) -> None:
        """End the link; safe to call twice."""
        self._stop.set()
        task, self._task = self._task, None
        if task is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=10)

    def _set(self, status: CameraStatus) -> None:
        if status != self.status:
            self.status = status
            self._on_status(status)

    async def _run(self) -> None:
        backoff = BACKOFF_MIN_S
        while not self._stop.is_set():
            self._set(CameraStatus(CameraState.CONNECTING))
            started = time.monotonic()
            try:
                detail = await self._link()
            except Exception as exc:  # one failed link must not end the camera for the session
                logger.exception("relayed camera %s: link failed", self.camera_id)
                detail = f"与副场节点的连接失败：{type(exc).__name__}"
            if self._stop.is_set():
                return
            if time.monotonic() - started >= STABLE_S:
                backoff = BACKOFF_MIN_S
            self._set(CameraStatus(CameraState.DOWN, detail))
            logger.warning(
                "relayed camera %s from node %s down: %s; again in %.0f s",
                self.camera_id,
                self.node,
                detail,
                backoff,
            )
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), backoff)
            backoff = min(BACKOFF_MAX_S, backoff * 2)

    async def _link(self) -> str:
        """One link, until it is lost; returns why (Chinese)."""
        pc = RTCPeerConnection(rtc_configuration(self._ice))
        heard = _Heard()
        failed = asyncio.Event()
        try:
            pc.addTransceiver("video", direction="recvonly")
            channel = pc.createDataChannel(CHANNEL)

            @channel.on("message")
            def on_message(text: Any) -> None:
                heard.now()
                try:
                    message = json.loads(text)
                    status = message.get("status") if isinstance(message, dict) else None
                    if isinstance(status, dict):
                        self._set(parse_status(status))
                except (TypeError, ValueError, KeyError, IndexError):
                    logger.warning("relayed camera %s: unreadable message", self.camera_id)

            @pc.on("track")
            def on_track(track: MediaStreamTrack) -> None:
                receiver = next(
                    t.receiver for t in pc.getTransceivers() if t.receiver.track is track
                )
                install_tap(receiver).add_sink(self._frame)

            @pc.on("connectionstatechange")
            def on_state() -> None:
                if pc.connectionState in ("failed", "closed"):
                    failed.set()

            await pc.setLocalDescription(await pc.createOffer())
            started = time.monotonic()
            try:
                answer = await self._negotiate(pc.localDescription.sdp)
            except Exception as exc:
                return f"副场节点 {self.node} 未接通：{str(exc)[:100]}"
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
            self.connects += 1
            while not self._stop.is_set():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(failed.wait(), PING_S)
                if failed.is_set() or heard.silent(started):
                    return f"与副场节点 {self.node} 的连接中断（由该节点本地录像）"
                if channel.readyState == "open":
                    channel.send(PING)
            return "已停止"
        finally:
            await _close(pc)

    def _frame(self, frame: EncodedFrame) -> None:
        if self.status.state == CameraState.UP:
            self.frames += 1
            self._on_frame(frame)


# -- the sub venue's end ------------------------------------------------------------------------


@dataclass(frozen=True)
class RelayedCameraSpec:
    """A camera a room's node asked this node for."""

    session_id: str
    camera_id: str
    label: str
    venue_id: str
    url: str


class _Sender:
    """One link of a camera towards the room's node."""

    def __init__(
        self, pc: RTCPeerConnection, track: PacketTrack, codec: str | None, camera: str
    ) -> None:
        self.pc = pc
        self.track = track
        self.codec = codec
        self.camera = camera
        self.channel: RTCDataChannel | None = None
        self.heard = _Heard()
        self.started = time.monotonic()
        self.up = asyncio.Event()
        self.lost = asyncio.Event()
        self.replaced = False

    def send(self, text: str) -> None:
        channel = self.channel
        if channel is not None and channel.readyState == "open":
            channel.send(text)

    async def watch(self) -> None:
        """Ping, and notice the link's loss (silence, or the connection failed)."""
        while not self.lost.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.lost.wait(), PING_S)
            if self.lost.is_set():
                break
            if self.pc.connectionState in ("failed", "closed") or self.heard.silent(self.started):
                self.lost.set()
                break
            self.send(PING)

    async def close(self) -> None:
        self.lost.set()
        self.track.stop()
        await _close(self.pc)


class CameraRelay:
    """One camera of this sub venue for one session: pulled here, sent on, recorded here while
    no link carries it."""

    def __init__(
        self, spec: RelayedCameraSpec, *, ice: IceConfig, host: RelayHost, spawn: Spawn
    ) -> None:
        self.spec = spec
        self._ice = ice
        self._host = host
        self._spawn = spawn
        self._link: _Sender | None = None
        self._changed = asyncio.Event()
        self.recording_here = False
        self.feed = CameraFeed(
            camera_id=spec.camera_id,
            label=spec.label,
            venue_id=spec.venue_id,
            source=rtsp_source(spec.camera_id, spec.url),
            media=None,
            archive=None,
            report=self._reported,
            spawn=spawn,
        )
        self.feed.listeners.append(self._frame)

    async def start(self) -> None:
        """Start pulling the camera."""
        await self.feed.start()

    async def answer(self, offer: str) -> str:
        """A new link from the room's node (the one before, if any, is replaced)."""
        old, self._link = self._link, None
        if old is not None:
            old.replaced = True
            await old.close()
            # The room's node offers again because it lost the link, perhaps before this end
            # noticed: the camera is recorded here until the new link carries it.
            await self._host.unlinked(self)
        deadline = time.monotonic() + CAMERA_WAIT_S
        while self.feed.status.state != CameraState.UP and time.monotonic() < deadline:
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
        codec = self.feed.status.codec if self.feed.status.state == CameraState.UP else None
        pc = RTCPeerConnection(rtc_configuration(self._ice))
        link = _Sender(pc, PacketTrack("video"), codec, self.spec.camera_id)
        transceiver = pc.addTransceiver(link.track, direction="sendonly")
        if codec == "H264":
            prefer_h264(transceiver)
        else:
            prefer_vp8(transceiver)

        @pc.on("datachannel")
        def on_channel(channel: RTCDataChannel) -> None:
            link.channel = channel

            @channel.on("message")
            def on_message(_text: Any) -> None:
                link.heard.now()
                if not link.up.is_set():
                    link.up.set()
                    link.send(status_message(self.feed.status))

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception:
            await link.close()
            raise
        self._link = link
        self._spawn(self._follow(link), f"relay-link-{self.spec.camera_id}")
        return announce_address(pc.localDescription.sdp, self._ice)

    async def close(self) -> None:
        """Stop pulling and end the link (an orderly end: nothing is recorded for it)."""
        link, self._link = self._link, None
        if link is not None:
            link.replaced = True
            await link.close()
        await self.feed.close()
        await self.feed.set_archive(None)

    async def _follow(self, link: _Sender) -> None:
        """Recording here stops while the link carries the camera, and starts when it is lost."""
        watching = asyncio.ensure_future(link.watch())
        try:
            up = asyncio.ensure_future(link.up.wait())
            await asyncio.wait({up, watching}, return_when=asyncio.FIRST_COMPLETED)
            up.cancel()
            if link.up.is_set() and not link.lost.is_set():
                await self._host.linked(self)
            await watching
        finally:
            watching.cancel()
        if not link.replaced and self._link is link:
            self._link = None
            await link.close()
            await self._host.unlinked(self)

    def _frame(self, frame: EncodedFrame) -> None:
        link = self._link
        if link is not None and link.up.is_set():
            link.track.push(frame_packet(frame), frame.keyframe)

    async def _reported(self, _params: dict[str, Any]) -> None:
        self._changed.set()
        status = self.feed.status
        link = self._link
        if link is None:
            return
        if status.state == CameraState.UP and link.codec is not None and status.codec != link.codec:
            # The camera came back with another codec: the room's end offers again.
            link.lost.set()
            return
        link.send(status_message(status))


class RelayHost:
    """This node's cameras relayed to rooms elsewhere, and their local archives by session."""

    def __init__(
        self,
        root: Path,
        *,
        keys: KeySource,
        recorder: RecorderConfig,
        ice: IceConfig,
        spawn: Spawn,
    ) -> None:
        self.root = root
        self._keys = keys
        self._recorder = recorder
        self._ice = ice
        self._spawn = spawn
        self.relays: dict[tuple[str, str], CameraRelay] = {}
        self._archives: dict[str, SessionArchive] = {}
        self._seq: dict[str, int] = {}
        self._lock = asyncio.Lock()

    async def offer(self, spec: RelayedCameraSpec, offer: str) -> str:
        """Answer a room's node's offer for one camera, pulling it from now on."""
        key = (spec.session_id, spec.camera_id)
        relay = self.relays.get(key)
        if relay is None or relay.spec != spec:
            if relay is not None:
                await relay.close()
            relay = self.relays[key] = CameraRelay(
                spec, ice=self._ice, host=self, spawn=self._spawn
            )
            await relay.start()
        return await relay.answer(offer)

    async def linked(self, relay: CameraRelay) -> None:
        """A link carries the camera: recording here stops."""
        async with self._lock:
            if not relay.recording_here:
                return
            relay.recording_here = False
            await relay.feed.set_archive(None)
            archive = self._archives.get(relay.spec.session_id)
            if archive is not None and not archive.sealed:
                await self._event(archive, "relay_link_restored", relay)

    async def unlinked(self, relay: CameraRelay) -> None:
        """The link was lost: the camera is recorded here until the next one."""
        session_id = relay.spec.session_id
        async with self._lock:
            if (
                relay.recording_here
                or self.relays.get((session_id, relay.spec.camera_id)) is not relay
            ):
                return  # recording already (a link that never came up), or stopped meanwhile
            relay.recording_here = True
            archive = self._archives.get(session_id)
            if archive is None or archive.sealed:
                archive = await self._open(session_id)
            await self._event(archive, "relay_link_lost", relay)
            await relay.feed.set_archive(archive)
        logger.warning(
            "relayed camera %s of session %s: link lost, recording here",
            relay.spec.camera_id,
            session_id,
        )

    async def stop(self, session_id: str, *, ended_at: str | None = None) -> str | None:
        """Stop the session's cameras here; seal its local archive, if any, as ended (at
        `ended_at`) or interrupted. With `ended_at`, a session whose last local part was
        sealed before gets a closing part that records the end. Returns the local archive's
        folder, or None when nothing was recorded here."""
        async with self._lock:
            for key in [k for k in self.relays if k[0] == session_id]:
                relay = self.relays.pop(key, None)
                if relay is not None:
                    await relay.close()
            archive = self._archives.pop(session_id, None)
            folder = self.root / session_id
            if archive is None and ended_at is not None:
                if await asyncio.to_thread(_last_state, folder) not in (None, "ended"):
                    archive = await self._open(session_id)
                    self._archives.pop(session_id, None)
            if archive is None:
                return str(folder) if folder.is_dir() else None
            try:
                if ended_at is not None:
                    seq = self._seq.get(session_id, archive.last_seq) + 1
                    await archive.record_events(
                        [ArchivedEvent(seq, ended_at, SESSION_ENDED, None, {})]
                    )
                await archive.seal("ended" if ended_at is not None else "interrupted")
            finally:
                await archive.close()
                self._seq.pop(session_id, None)
            return str(archive.session_dir)

    async def close_all(self) -> None:
        """Stop every relay; local archives are sealed as interrupted."""
        for session_id in {k[0] for k in self.relays} | set(self._archives):
            await self.stop(session_id)

    async def _open(self, session_id: str) -> SessionArchive:
        """A new local part, after sealing a part that a crash left open (as interrupted)."""
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)
        leftover = SessionArchive(self.root, session_id, keys=self._keys, config=self._recorder)
        try:
            if await leftover.resume_unsealed() is not None:
                logger.warning("relayed recording %s: an unsealed part recovered", session_id)
                await leftover.seal("interrupted")
        finally:
            await leftover.close()
        archive = SessionArchive(self.root, session_id, keys=self._keys, config=self._recorder)
        await archive.open()
        self._archives[session_id] = archive
        self._seq[session_id] = archive.last_seq
        return archive

    async def _event(self, archive: SessionArchive, kind: str, relay: CameraRelay) -> None:
        session_id = archive.session_id
        seq = self._seq.get(session_id, archive.last_seq) + 1
        self._seq[session_id] = seq
        at = datetime.now(UTC).isoformat()
        data = {"camera": relay.spec.camera_id, "label": relay.spec.label}
        await archive.record_events([ArchivedEvent(seq, at, kind, None, data)])
