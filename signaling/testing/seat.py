"""SyntheticSeat: a real client of the server (Socket.IO + aiortc) with synthetic media.

It joins like an expert's browser does: connects to the ``/seat`` namespace with a join token,
sends ``join`` and an ``offer`` with its transceivers' roles, and then consumes what the room
sends back, the grid (video) and the mix of the other seats (audio). Tests and benchmarks use it
to look at what a seat actually receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl as ssl_module
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
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
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media.grid import tile_rects
from media.recovery import give_video_frames_when_whole
from media.tap import EncodedFrame, install_tap
from media.testing.testpattern import read_counter
from signaling.testing.receiving import AudioRing, GridFrame, Progress, Pushes
from signaling.testing.rtp import SendCounts, count_received, lose_sent_packets

logger = logging.getLogger(__name__)

NAMESPACE = "/seat"
CALL_TIMEOUT = 10.0
AUDIO_FRAME_S = 0.020  # the mix comes in 20 ms Opus frames
CLOSE_TIMEOUT = 5.0
RETRY_PAUSE_S = 0.2

Rect = tuple[int, int, int, int]


class SeatError(Exception):
    """The server answered a seat's request with an error."""

    def __init__(self, event: str, code: str, message: str) -> None:
        """Keep the server's stable error code and its message."""
        super().__init__(f"{event}: {code}: {message}")
        self.event = event
        self.code = code
        self.message = message


class SyntheticSeat:
    """One expert seat driven by synthetic tracks, speaking the server's real protocol."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        camera: MediaStreamTrack | None = None,
        microphone: MediaStreamTrack | None = None,
        desktop: MediaStreamTrack | None = None,
        preview: MediaStreamTrack | None = None,
        decode_grid: bool = True,
        keep_grid_frames: int = 8,
        audio_seconds: float = 3.0,
        measure_delay: bool = False,
        name: str = "seat",
        start_timeout: float = 20.0,
        decode: bool = True,
        count_rtp: bool = False,
        send_loss: float = 0.0,
        ssl: ssl_module.SSLContext | None = None,
        cluster: Sequence[str] = (),
    ) -> None:
        """Prepare a seat; nothing connects before ``start()``.

        ``decode_grid=False`` still reads and counts grid frames but keeps no RGB copies;
        ``measure_delay`` reads this seat's own counter from its tile in every grid frame and
        compares it with the camera's ``sent_at`` (the camera must carry the test pattern), or
        the preview's: a ``preview`` is a small copy of the camera that the grid shows instead.
        ``decode=False`` decodes nothing: grid frames and mix seconds are counted as they arrive
        encoded (a load generator that costs what the network path costs, not the decoders).
        ``count_rtp=True`` goes further, for capacity runs: every packet is still received and
        SRTP-checked, but nothing is put together into frames; a grid frame is counted at the
        RTP packet that ends it (marker bit) and the mix by its packets. The seat's receivers
        then see no packets (no receiver reports, no statistics).
        ``send_loss`` is the share of the RTP packets the seat sends that never leave it, first
        sends and retransmissions alike (a lossy uplink; a fixed random sequence).
        ``ssl`` verifies an https server against its own authority (a test CA, say).
        A seat is sent on to the node of its room when a node of a cluster refuses it with
        ``moved``; with ``cluster`` (the nodes' URLs), it also finds its room again by itself
        when its node is lost, as the page does: ``rejoined`` holds when it was live again.
        """
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.camera = camera
        self.microphone = microphone
        self.desktop = desktop
        self.preview = preview
        self.name = name
        self._start_timeout = start_timeout
        self._decode_grid = decode_grid
        self._decode = decode and not count_rtp
        self._count_rtp = count_rtp
        self._send_loss = send_loss
        self._sent = SendCounts()
        self._measure_delay = measure_delay
        #: ``seat`` of the join answer: session_id, label, venue_name, seat_no, expert_name, ...
        self.seat: dict[str, Any] | None = None
        self.ice_servers: list[dict[str, Any]] = []
        #: The server's latest SDP answer (its candidates).
        self.answer_sdp = ""
        #: The latest ``roster`` push: {session_id, seats: [...]} in grid tile order.
        self.roster: dict[str, Any] | None = None
        #: Other pushes (``replaced``, ``server_shutdown``, ``session_ended``, ``warning``,
        #: ``workflow``, ``disconnect``, ``connect_error``).
        self._pushes = Pushes()
        self.events: list[tuple[str, Any]] = self._pushes.items
        self.grid_frames: deque[GridFrame] = deque(maxlen=max(1, keep_grid_frames))
        self.grid_size: tuple[int, int] | None = None
        #: (receive time, glass-to-glass delay in s) for each new own counter seen in the grid.
        self.delays: deque[tuple[float, float]] = deque(maxlen=20_000)
        self.delay_misses = 0
        self._last_counter: int | None = None
        self._grid_count = Progress()
        self._grid_times: deque[float] = deque(maxlen=4096)
        self._audio_count = Progress()
        self._audio = AudioRing(audio_seconds)
        #: Given every decoded frame of the mix (mono samples of full scale 1, its rate, the
        #: wall-clock time it left the receiver's jitter buffer and decoder).
        self.on_audio: Callable[[np.ndarray, int, float], None] | None = None
        #: With ``decode=False``: given every encoded frame of the mix as it arrives (before any
        #: jitter buffer) and the wall-clock time.
        self.on_audio_frame: Callable[[EncodedFrame, float], None] | None = None
        self._roster_changed = asyncio.Condition()
        self._ssl = ssl
        self._http: aiohttp.ClientSession | None = None
        self._sio = socketio.AsyncClient(reconnection=False)
        self._pc: RTCPeerConnection | None = None
        self._connected = asyncio.Event()
        self._failed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        # Each negotiation sends relayed copies of the sources: closing a peer connection
        # stops its tracks, and the sources must live on for the next one (media_restart).
        self._relay = MediaRelay()
        self.media_restarts = 0
        self._restarted = asyncio.Event()
        self._closing: asyncio.Future[None] | None = None
        self._cluster = [u.rstrip("/") for u in cluster]
        #: Nodes the server named in its last ``cluster`` notice.
        self.peer_urls: list[str] = []
        #: (time the connection was lost, time media was connected again) of each rejoin.
        self.rejoined: list[tuple[float, float]] = []
        self._rejoin = asyncio.Event()

    # ---- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, join, negotiate media and wait until the peer connection is connected."""
        timeout = self._start_timeout
        # One HTTP session for every connection the seat makes (a cluster's nodes, say).
        connector = aiohttp.TCPConnector(ssl=self._ssl) if self._ssl is not None else None
        self._http = aiohttp.ClientSession(connector=connector)
        await self._connect([self.base_url], timeout)
        await self._join_and_connect_media(timeout)

    async def _connect(self, urls: Sequence[str], timeout: float) -> None:  # noqa: ASYNC109
        """Connect to the first of `urls` that takes the seat, following ``moved`` refusals."""
        deadline = time.monotonic() + timeout
        reasons: list[str] = []
        queue = list(urls)
        while queue and time.monotonic() < deadline:
            url = queue.pop(0)
            self._sio = self._client()
            refused = len(self.events)
            try:
                await self._sio.connect(
                    url,
                    namespaces=[NAMESPACE],
                    auth={"token": self._token},
                    transports=["websocket"],
                    wait_timeout=max(deadline - time.monotonic(), 0.5),
                )
            except socketio.exceptions.ConnectionError as exc:
                refusals = [d for e, d in self.events[refused:] if e == "connect_error"]
                reasons.append(f"{url}: {exc} {refusals!r}")
                # A refusal's data: {"message": ..., "data": {"code": ..., ...}}.
                moved = next(
                    (
                        d["data"]
                        for d in refusals
                        if isinstance(d, dict)
                        and isinstance(d.get("data"), dict)
                        and d["data"].get("code") == "moved"
                    ),
                    None,
                )
                if moved is not None and len(reasons) < 8:
                    queue.insert(0, str(moved["url"]).rstrip("/"))
                continue
            self.base_url = url
            return
        # The client's own message does not say why: add the server's refusal reasons.
        raise socketio.exceptions.ConnectionError("; ".join(reasons) or "no node to connect to")

    def _client(self) -> socketio.AsyncClient:
        client = socketio.AsyncClient(reconnection=False, http_session=self._http)
        client.on("roster", self._on_roster, namespace=NAMESPACE)
        for event in ("replaced", "server_shutdown", "session_ended", "warning", "workflow"):
            client.on(event, self._event_recorder(event), namespace=NAMESPACE)
        client.on("media_restart", self._on_media_restart, namespace=NAMESPACE)
        client.on("cluster", self._on_cluster, namespace=NAMESPACE)
        client.on("disconnect", self._on_disconnect(client), namespace=NAMESPACE)
        client.on("connect_error", self._event_recorder("connect_error"), namespace=NAMESPACE)
        return client

    async def _on_cluster(self, data: dict[str, Any]) -> None:
        self.peer_urls = [str(u).rstrip("/") for u in data.get("nodes", [])]

    def _on_disconnect(self, client: socketio.AsyncClient) -> Callable[..., Any]:
        async def lost(*args: Any) -> None:
            self.events.append(("disconnect", args[0] if args else None))
            if client is not self._sio or self._closing is not None or not self._cluster:
                return
            task = asyncio.create_task(self._follow(time.time()), name=f"{self.name}-follow")
            self._tasks.add(task)
            task.add_done_callback(self._task_done)

        return lost

    async def _follow(self, lost_at: float) -> None:
        """The node is gone: find the room again on the cluster's other nodes."""
        old, self._pc = self._pc, None
        if old is not None:
            await old.close()
        self._connected.clear()
        self._failed.clear()
        here = self.base_url
        urls = [u for u in (*self.peer_urls, *self._cluster) if u != here]
        urls = list(dict.fromkeys(urls)) + [here]
        deadline = time.monotonic() + self._start_timeout
        while self._closing is None:
            try:
                await self._connect(urls, max(deadline - time.monotonic(), 1.0))
                await self._join_and_connect_media(self._start_timeout)
                break
            except (socketio.exceptions.ConnectionError, SeatError, ConnectionError) as exc:
                if time.monotonic() > deadline:
                    raise
                logger.info("%s: not live again yet (%s)", self.name, exc)
                with contextlib.suppress(Exception):
                    await self._sio.disconnect()
                await asyncio.sleep(RETRY_PAUSE_S)  # a reconnection's back-off, as a page's
        self.rejoined.append((lost_at, time.time()))
        self._rejoin.set()

    async def wait_rejoined(self, count: int, timeout: float) -> None:  # noqa: ASYNC109
        """Until the seat has found its room again `count` times."""
        async with asyncio.timeout(timeout):
            while len(self.rejoined) < count:
                self._rejoin.clear()
                await self._rejoin.wait()

    async def _join_and_connect_media(self, timeout: float) -> None:  # noqa: ASYNC109
        joined = await self._call("join", {})
        self.seat = joined["seat"]
        self.ice_servers = list(joined.get("ice_servers", []))
        await self._negotiate()
        wait_connected = asyncio.create_task(self._connected.wait(), name=f"{self.name}-connected")
        wait_failed = asyncio.create_task(self._failed.wait(), name=f"{self.name}-failed")
        try:
            await asyncio.wait(
                {wait_connected, wait_failed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in (wait_connected, wait_failed):
                waiter.cancel()
            await asyncio.gather(wait_connected, wait_failed, return_exceptions=True)
        if not self._connected.is_set():
            state = self._pc.connectionState if self._pc else "none"
            raise ConnectionError(f"{self.name}: media did not connect (state {state})")

    async def close(self) -> None:
        """Leave, close the peer connection and the socket; safe to call twice."""
        if self._closing is not None:
            await self._closing
            return
        self._closing = asyncio.get_running_loop().create_future()
        try:
            if self._sio.connected and self.seat is not None:
                with contextlib.suppress(Exception):
                    await self._sio.call("leave", {}, namespace=NAMESPACE, timeout=2.0)
            if self._pc is not None:
                await self._pc.close()
            for track in (self.camera, self.microphone, self.desktop, self.preview):
                if track is not None:
                    track.stop()
            with contextlib.suppress(Exception):
                await self._sio.disconnect()
            if self._http is not None:
                await self._http.close()
            await self._cancel_tasks()
        finally:
            self._closing.set_result(None)

    async def __aenter__(self) -> SyntheticSeat:
        """Start the seat (closing what was opened if starting fails)."""
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Close the seat."""
        await self.close()

    async def _cancel_tasks(self) -> None:
        """Cancel the track consumers and wait for them to end."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT)
            for task in pending:
                logger.warning("%s: task %s did not stop", self.name, task.get_name())
        self._tasks.clear()

    # ---- signaling --------------------------------------------------------------------------

    async def ack_warning(self, warning_id: str) -> dict[str, Any]:
        """Acknowledge a supervisor's warning, as the expert's click on 已知悉 does."""
        return await self._call("ack_warning", {"id": warning_id})

    async def _call(self, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send one acknowledged event and return the ``ok`` answer, or raise SeatError."""
        answer = await self._sio.call(event, payload, namespace=NAMESPACE, timeout=CALL_TIMEOUT)
        if not isinstance(answer, dict):
            raise SeatError(event, "bad_answer", repr(answer))
        if not answer.get("ok"):
            error = answer.get("error") or {}
            raise SeatError(event, str(error.get("code")), str(error.get("message")))
        return answer

    async def _on_roster(self, data: dict[str, Any]) -> None:
        """Keep the latest roster and wake its waiters."""
        async with self._roster_changed:
            self.roster = data
            self._roster_changed.notify_all()

    def _event_recorder(self, event: str) -> Callable[..., Any]:
        """Return a handler that records a push under ``event``."""
        return self._pushes.recorder(event)

    async def wait_event(self, name: str, timeout: float) -> Any:  # noqa: ASYNC109
        """Until a push `name` has arrived; its data (the first one's)."""
        return await self._pushes.wait(name, timeout)

    async def wait_roster(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        timeout: float,  # noqa: ASYNC109 - a deadline per wait is this API's contract
    ) -> dict[str, Any]:
        """Wait until the latest roster satisfies ``predicate`` and return it."""

        def ready() -> bool:
            return self.roster is not None and predicate(self.roster)

        async with self._roster_changed:
            try:
                await asyncio.wait_for(self._roster_changed.wait_for(ready), timeout)
            except TimeoutError:
                raise TimeoutError(f"{self.name}: roster not as expected: {self.roster}") from None
        assert self.roster is not None
        return self.roster

    # ---- media ------------------------------------------------------------------------------

    async def _negotiate(self) -> None:
        """Offer the microphone, camera, desktop and preview transceivers present; apply the
        answer."""
        # max-bundle: with aiortc's default (balanced) the second video transceiver keeps a
        # transport that is stopped when the answer bundles everything, and never sends.
        pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self._pc = pc
        pc.on("connectionstatechange", self._on_connection_state)
        pc.on("track", self._on_track)
        roles: list[tuple[RTCRtpTransceiver, str]] = []
        if self.microphone is not None:
            mic = self._relay.subscribe(self.microphone, buffered=True)
            roles.append((pc.addTransceiver(mic, direction="sendrecv"), "microphone"))
        if self.camera is not None:
            camera = self._relay.subscribe(self.camera, buffered=True)
            roles.append((pc.addTransceiver(camera, direction="sendrecv"), "camera"))
        if self.desktop is not None:
            desktop = self._relay.subscribe(self.desktop, buffered=True)
            roles.append((pc.addTransceiver(desktop, direction="sendonly"), "desktop"))
        if self.preview is not None:
            preview = self._relay.subscribe(self.preview, buffered=True)
            roles.append((pc.addTransceiver(preview, direction="sendonly"), "preview"))
        if not roles:
            raise ValueError("a seat needs at least one track")
        await pc.setLocalDescription(await pc.createOffer())
        offer = pc.localDescription
        answer = await self._call(
            "offer",
            {
                "type": offer.type,
                "sdp": offer.sdp,
                "roles": {t.mid: role for t, role in roles},
            },
        )
        self.answer_sdp = answer["sdp"]
        await pc.setRemoteDescription(
            RTCSessionDescription(sdp=answer["sdp"], type=answer.get("type", "answer"))
        )
        if self._count_rtp:
            count_received(pc, self._grid_frame_arrived, self._audio_packet_arrived)
        if self._send_loss > 0:
            lose_sent_packets(pc, self._send_loss, random.Random(len(self.name)), self._sent)

    async def _on_media_restart(self, data: Any = None) -> None:
        """The server restarted the room's media: negotiate again on the same connection."""
        self.events.append(("media_restart", data))
        task = asyncio.create_task(self._renegotiate(), name=f"{self.name}-renegotiate")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    async def _renegotiate(self) -> None:
        old, self._pc = self._pc, None
        if old is not None:
            await old.close()
        self._connected.clear()
        self._failed.clear()
        await self._negotiate()
        await asyncio.wait_for(self._connected.wait(), self._start_timeout)
        self.media_restarts += 1
        self._restarted.set()

    async def wait_media_restart(self, timeout: float) -> None:  # noqa: ASYNC109
        """Until the seat has negotiated again after a media_restart."""
        await asyncio.wait_for(self._restarted.wait(), timeout)

    async def _on_connection_state(self) -> None:
        """Track the peer connection's state for ``start()``."""
        if self._pc is None:
            return  # between two negotiations
        state = self._pc.connectionState
        if state == "connected":
            self._connected.set()
        elif state in ("failed", "closed"):
            self._failed.set()

    def _on_track(self, track: MediaStreamTrack) -> None:
        """Start a consumer for every received track: an unread track's queue grows forever."""
        receiver = None
        if self._pc is not None:
            receiver = next(
                t.receiver for t in self._pc.getTransceivers() if t.receiver.track is track
            )
        if not self._decode and receiver is not None:
            tap = install_tap(receiver)
            if track.kind == "video":
                tap.add_sink(self._count_grid_frame)
            else:
                tap.add_sink(self._audio_frame_arrived)
            return
        if track.kind == "video":
            # A frame is shown when it is whole, as in a browser (aiortc's own jitter buffer
            # waits for the next frame's first packet).
            if receiver is not None:
                give_video_frames_when_whole(receiver)
            coro = self._consume_grid(track)
        else:
            coro = self._consume_audio(track)
        task = asyncio.create_task(coro, name=f"{self.name}-recv-{track.kind}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _count_grid_frame(self, frame: EncodedFrame) -> None:
        self._grid_frame_arrived()

    @property
    def rtp_dropped(self) -> int:
        """RTP packets left unsent (``send_loss``)."""
        return self._sent.dropped

    @property
    def rtp_sent(self) -> int:
        """RTP packets sent while ``send_loss`` applies."""
        return self._sent.sent

    def _audio_frame_arrived(self, frame: EncodedFrame) -> None:
        self._audio_count.add(AUDIO_FRAME_S)
        if self.on_audio_frame is not None:
            self.on_audio_frame(frame, time.time())

    def _audio_packet_arrived(self) -> None:
        self._audio_count.add(AUDIO_FRAME_S)

    def _grid_frame_arrived(self) -> None:
        self._grid_times.append(time.time())
        self._grid_count.add(1)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        """Log a consumer that failed instead of ending with its track."""
        if not task.cancelled() and task.exception() is not None:
            logger.error("%s: %s failed", self.name, task.get_name(), exc_info=task.exception())

    async def _consume_grid(self, track: MediaStreamTrack) -> None:
        """Read every grid frame: count it, measure the delay, keep an RGB copy if asked."""
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if not isinstance(frame, av.VideoFrame):
                continue
            now = time.time()
            self.grid_size = (frame.width, frame.height)
            self._grid_times.append(now)
            rgb = None
            if self._decode_grid:
                rgb = await asyncio.to_thread(frame.to_ndarray, format="rgb24")
                self.grid_frames.append(GridFrame(now, rgb))
            if self._measure_delay:
                image = rgb if rgb is not None else frame.to_ndarray(format="gray")
                self._measure(image, now)
            self._grid_count.add(1)

    def _measure(self, image: np.ndarray, received_at: float) -> None:
        """Read this seat's own counter from its tile and record the delay of a new frame."""
        rect = self.own_tile_rect((image.shape[1], image.shape[0]))
        shown = self.preview if self.preview is not None else self.camera
        sent_at = getattr(shown, "sent_at", None)
        if rect is None or sent_at is None:
            self.delay_misses += 1
            return
        counter = read_counter(image, rect)
        if counter is None:
            self.delay_misses += 1
            return
        if counter == self._last_counter:
            return  # the same camera frame shown again: only its first showing measures delay
        self._last_counter = counter
        sent = sent_at.get(counter)
        if sent is not None and received_at >= sent:
            self.delays.append((received_at, received_at - sent))

    async def _consume_audio(self, track: MediaStreamTrack) -> None:
        """Read every audio frame of the mix into the ring as mono float samples."""
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if not isinstance(frame, av.AudioFrame):
                continue
            data = frame.to_ndarray()
            channels = len(frame.layout.channels)
            if data.ndim == 2 and data.shape[0] > 1:  # planar: one row per channel
                mono = data.astype(np.float32).mean(axis=0)
            else:  # packed: channels interleaved
                mono = data.reshape(-1, channels).astype(np.float32).mean(axis=1)
            if np.issubdtype(data.dtype, np.integer):
                mono /= 32768.0
            if frame.sample_rate != self._audio.sample_rate:
                self._audio = AudioRing(len(self._audio.last()) or 3.0, frame.sample_rate)
            if self.on_audio is not None:
                self.on_audio(mono, frame.sample_rate, time.time())
            self._audio.write(mono)
            self._audio_count.add(len(mono) / frame.sample_rate)

    # ---- what the seat received -------------------------------------------------------------

    @property
    def grid_frame_count(self) -> int:
        """Grid frames received so far."""
        return int(self._grid_count.value)

    @property
    def audio_seconds_received(self) -> float:
        """Seconds of mixed audio received so far."""
        return self._audio_count.value

    @property
    def audio_sample_rate(self) -> int:
        """Sample rate of the received mix."""
        return self._audio.sample_rate

    def audio_samples(self, seconds: float | None = None) -> np.ndarray:
        """Return the last ``seconds`` (default: about 3 s) of the mix, mono float32."""
        return self._audio.last(seconds)

    @property
    def peer_connection(self) -> RTCPeerConnection | None:
        """The seat's current peer connection (a media restart replaces it)."""
        return self._pc

    async def inbound_stats(self) -> dict[str, dict[str, int]]:
        """RTP packets received and lost per received kind (``audio``: the mix, ``video``: grid)."""
        out: dict[str, dict[str, int]] = {}
        if self._pc is None:
            return out
        for transceiver in self._pc.getTransceivers():
            if transceiver.receiver.track is None:
                continue
            report = await transceiver.receiver.getStats()
            for stats in report.values():
                if getattr(stats, "type", None) == "inbound-rtp":
                    entry = out.setdefault(transceiver.kind, {"received": 0, "lost": 0})
                    entry["received"] += int(stats.packetsReceived)
                    entry["lost"] += int(stats.packetsLost)
        return out

    def grid_times(self) -> list[float]:
        """Receive times of the recent grid frames (up to 4096)."""
        return list(self._grid_times)

    async def wait_grid_frames(self, n: int, timeout: float) -> None:  # noqa: ASYNC109
        """Wait until ``n`` more grid frames have arrived (counted from the call)."""
        await self._grid_count.wait_more(n, timeout, f"{self.name}: grid frames")

    async def wait_audio_seconds(self, seconds: float, timeout: float) -> None:  # noqa: ASYNC109
        """Wait until ``seconds`` more of the mix have arrived (counted from the call)."""
        await self._audio_count.wait_more(seconds, timeout, f"{self.name}: audio seconds")

    def own_tile_index(self) -> int | None:
        """Index of this seat in the roster (its tile in the grid), if it is listed."""
        return None if self.seat is None else self.roster_index_of(self.seat)

    def roster_index_of(self, seat: dict[str, Any]) -> int | None:
        """Index in the latest roster (tile in the grid) of a seat as described by ``join``."""
        if self.roster is None:
            return None
        for index, entry in enumerate(self.roster.get("seats", [])):
            if _same_seat(entry, seat):
                return index
        return None

    def tile_rects(self, size: tuple[int, int] | None = None) -> list[Rect]:
        """Tile rects of the current roster in a grid of ``size`` (default: the received size)."""
        if self.roster is None:
            return []
        width, height = size or self.grid_size or (960, 720)
        return tile_rects(len(self.roster.get("seats", [])), width, height)

    def own_tile_rect(self, size: tuple[int, int] | None = None) -> Rect | None:
        """Where this seat's own camera is drawn in the grid, if it is listed."""
        index = self.own_tile_index()
        if index is None:
            return None
        return self.tile_rects(size)[index]


def _same_seat(entry: dict[str, Any], seat: dict[str, Any]) -> bool:
    """Whether a roster entry is the seat described by a join answer."""
    return entry.get("venue_name") == seat.get("venue_name") and entry.get("seat_no") == seat.get(
        "seat_no"
    )
