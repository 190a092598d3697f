"""The live broadcast of a bid-opening hall (开标直播, 4.4), as the signaling process runs it.

Bidders, the tenderer, supervisors and, where allowed, the public watch the hall one way: the
host's camera forwarded as it arrives, the hall's information screen and the speakers' mix,
each encoded once. The hall's page and its Socket.IO namespace (and who may watch) are built on
this API, ``services.broadcasts``::

    await broadcasts.open(session_id, [
        BroadcastSource("camera", "seat", key="v1:1"),  # the host's camera, as it arrives
        BroadcastSource("screen", "grid"),  # the hall's screen, composed and encoded once
        BroadcastSource("sound", "mix"),  # the speakers, mixed and encoded once
    ])
    answer = await broadcasts.viewer(session_id, offer_sdp, {"0": "camera", "1": "sound"})
    # -> ViewerAnswer(viewer="…", sdp="…", worker=1): the page sets answer.sdp
    await broadcasts.viewer_candidate(session_id, answer.viewer, candidate)  # trickled ICE
    await broadcasts.leave(session_id, answer.viewer)  # the page closed
    await broadcasts.close(session_id)  # the opening ended

A viewer's page makes a receive-only offer with one transceiver per stream it wants (any of
the broadcast's names) and sends it with ``roles``, each media section's mid mapped to a stream
name; the camera and the sound come in one media stream (the browser keeps them in sync), the
screen in another. A viewer that offers again under its id (a reload) starts over. Sources are
the hall's room's media (``signaling.worker.broadcasting``): ``seat`` (``key`` the seat,
``role`` camera or desktop), ``roomcam`` (``key`` the camera id), ``grid`` and ``mix``; the
room must be live (``RoomManager.get``) before ``open``.

Where viewers go: the broadcast is made on the room's worker (its origin). Each new viewer goes
to the least loaded live worker, counting its broadcast viewers and the seats of its rooms
(``seat_weight`` viewers each: a seat's media costs what about that many viewers cost); a
worker other than the origin is first given a relay of the broadcast through a pipe from the
origin (``media.broadcastpipe``), once, and serves every later viewer placed there. On a tie
the origin wins (no pipe needed), then a worker that has the pipe.

Errors: ``NotFound`` when the session has no live room or no open broadcast; a worker's refusal
as ``WireError`` with the rule's code (``invalid_request`` for an offer that cannot be answered,
``not_found``); ``WireError("media_unavailable")`` when a worker is gone. A worker that dies
takes its viewers with it (their pages offer again and are placed anew). When the room closes,
or its media moves to another worker (a worker died or was drained), the broadcast ends; the
hall opens it again once the room runs on its new worker (``Signals.media_restarted``, which
this service hears first) and its viewers offer again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from roomserver.errors import InvalidRequest, NotFound
from signaling.services.pool import WorkerPool, WorkerProcess
from signaling.services.signals import Signals
from signaling.wire import ConnectionLost, WireError

if TYPE_CHECKING:
    from signaling.services.rooms import Room

logger = logging.getLogger(__name__)

# A seat's media (decoding, the grid, the mix, recording, analysis) costs a worker about what
# this many broadcast viewers cost: a room of ten seats takes 79 to 84 % of a core
# (bench/room.py), a viewer of a broadcast about 0.2 % (bench/broadcast.py).
SEAT_WEIGHT = 40.0
SOURCES = frozenset({"seat", "roomcam", "grid", "mix"})


@dataclass(frozen=True)
class BroadcastSource:
    """One stream of a broadcast: its name (what viewers ask for) and where it comes from."""

    name: str  # e.g. camera, screen, sound
    source: str  # seat, roomcam, grid or mix
    key: str = ""  # the seat (seat) or the room camera's id (roomcam)
    role: str = "camera"  # of a seat: camera or desktop

    def to_wire(self) -> dict[str, str]:
        """The source as a worker is told it."""
        if self.source not in SOURCES:
            raise InvalidRequest(f"直播媒体来源不正确：{self.source}")
        return {"name": self.name, "from": self.source, "key": self.key, "role": self.role}


@dataclass(frozen=True)
class ViewerAnswer:
    """What a viewer's page is told: its id (for candidates and leaving) and the answer."""

    viewer: str
    sdp: str
    worker: int  # the worker that serves it (for logs and the benchmarks)


@dataclass
class _Live:
    """An open broadcast: its origin, its relays and where each viewer is served."""

    session_id: str
    origin: WorkerProcess
    streams: list[dict[str, Any]]
    address: list[Any]
    relayable: bool
    relays: dict[int, asyncio.Future[list[Any]]] = field(default_factory=dict)
    viewers: dict[str, WorkerProcess] = field(default_factory=dict)

    def names(self) -> list[str]:
        """The streams a viewer may ask for."""
        return [str(s["name"]) for s in self.streams]


class Broadcasts:
    """The open broadcasts of the server, their relays, and where their viewers are served."""

    def __init__(
        self,
        pool: WorkerPool,
        locate: Callable[[str], WorkerProcess | None],
        signals: Signals,
        *,
        seats: Callable[[WorkerProcess], int] = lambda worker: 0,
        seat_weight: float = SEAT_WEIGHT,
    ) -> None:
        """`locate` gives the worker of a session's live room (None: not live); `seats` the
        seats a worker serves (``RoomManager.seats_on``)."""
        self._pool = pool
        self._locate = locate
        self._seats = seats
        self._seat_weight = seat_weight
        self._live: dict[str, _Live] = {}
        self._lock = asyncio.Lock()
        signals.worker_lost.connect(self.worker_lost)
        signals.room_closed.connect(self._room_gone)
        signals.media_restarted.connect(self._room_gone)

    # -- the broadcast --------------------------------------------------------------------------

    async def open(
        self,
        session_id: str,
        sources: Sequence[BroadcastSource],
        *,
        origin: WorkerProcess | None = None,
    ) -> list[str]:
        """Start broadcasting the session's room (on `origin`, the room's worker, if given:
        else where `locate` finds it); the names of its streams. Opening an open broadcast
        again changes nothing."""
        async with self._lock:
            live = self._live.get(session_id)
            if live is not None:
                return live.names()
            origin = origin or self._locate(session_id)
            if origin is None:
                raise NotFound("会场未开启，无法直播")
            opened = await self._request(
                origin,
                "broadcast_open",
                {"session_id": session_id, "sources": [s.to_wire() for s in sources]},
            )
            live = _Live(
                session_id,
                origin,
                streams=list(opened["streams"]),
                address=list(opened["origin"]),
                relayable=bool(opened["relayable"]),
            )
            self._live[session_id] = live
        logger.info("broadcast %s opened on worker %d", session_id, origin.index)
        return live.names()

    async def close(self, session_id: str) -> None:
        """End the broadcast on every worker; its viewers' connections close."""
        live = self._live.pop(session_id, None)
        if live is None:
            return
        for worker in [live.origin, *self._relay_workers(live)]:
            with contextlib.suppress(ConnectionLost, WireError, TimeoutError):
                await worker.request("broadcast_close", {"session_id": session_id})
        logger.info("broadcast %s closed", session_id)

    async def close_all(self) -> None:
        """End every broadcast (the server stops)."""
        for session_id in list(self._live):
            await self.close(session_id)

    def is_open(self, session_id: str) -> bool:
        """Whether the session's broadcast is open."""
        return session_id in self._live

    def viewers(self, session_id: str) -> dict[int, int]:
        """How many viewers each worker serves for the session, by worker index."""
        live = self._live.get(session_id)
        counts: dict[int, int] = {}
        for worker in live.viewers.values() if live is not None else ():
            counts[worker.index] = counts.get(worker.index, 0) + 1
        return counts

    # -- viewers --------------------------------------------------------------------------------

    async def viewer(
        self, session_id: str, sdp: str, roles: dict[str, str], *, viewer: str | None = None
    ) -> ViewerAnswer:
        """Place a new viewer and answer its offer (`roles`: mid -> stream name)."""
        live = self._open_live(session_id)
        viewer = viewer or secrets.token_urlsafe(9)
        previous = live.viewers.pop(viewer, None)
        if previous is not None:
            with contextlib.suppress(ConnectionLost, WireError, TimeoutError):
                await previous.request(
                    "broadcast_leave", {"session_id": session_id, "viewer": viewer}
                )
        worker = self.place(live)
        live.viewers[viewer] = worker  # counted at once: joins that come together spread
        try:
            if worker is not live.origin:
                await self._relay(live, worker)
            answer = await self._request(
                worker,
                "broadcast_viewer",
                {"session_id": session_id, "viewer": viewer, "sdp": sdp, "roles": roles},
            )
        except BaseException:
            if live.viewers.get(viewer) is worker:
                del live.viewers[viewer]
            raise
        return ViewerAnswer(viewer, str(answer["sdp"]), worker.index)

    async def viewer_candidate(
        self, session_id: str, viewer: str, candidate: dict[str, Any]
    ) -> None:
        """A trickled ICE candidate of a viewer (``candidate``, ``sdpMid``, ``sdpMLineIndex``)."""
        live = self._open_live(session_id)
        worker = live.viewers.get(viewer)
        if worker is None:
            raise NotFound("没有这个观看连接")
        await self._request(
            worker,
            "broadcast_candidate",
            {"session_id": session_id, "viewer": viewer, "candidate": candidate},
        )

    async def leave(self, session_id: str, viewer: str) -> None:
        """A viewer stopped watching (its page closed or it lost the right to watch)."""
        live = self._live.get(session_id)
        worker = live.viewers.pop(viewer, None) if live is not None else None
        if worker is not None:
            with contextlib.suppress(ConnectionLost, WireError, TimeoutError):
                await worker.request(
                    "broadcast_leave", {"session_id": session_id, "viewer": viewer}
                )

    def viewer_state(self, params: dict[str, Any]) -> None:
        """A worker's ``broadcast_viewer`` event: a viewer connected, or went away."""
        live = self._live.get(str(params.get("session_id")))
        if live is not None and params.get("state") in ("failed", "closed"):
            live.viewers.pop(str(params.get("viewer")), None)

    # -- placement ------------------------------------------------------------------------------

    def load(self, worker: WorkerProcess) -> float:
        """A worker's load in viewers: its broadcast viewers and its seats, weighted."""
        viewers = sum(
            1 for live in self._live.values() for w in live.viewers.values() if w is worker
        )
        return viewers + self._seat_weight * self._seats(worker)

    def place(self, live: _Live) -> WorkerProcess:
        """The worker for a new viewer: the least loaded, the origin first on a tie, then one
        that has the pipe already."""
        if not live.relayable:
            return live.origin
        candidates = [w for w in self._pool.workers if w.alive and not w.draining]
        if live.origin not in candidates:
            candidates.append(live.origin)
        return min(
            candidates,
            key=lambda w: (
                self.load(w),
                w is not live.origin,
                w.index not in live.relays,
                w.index,
            ),
        )

    async def _relay(self, live: _Live, worker: WorkerProcess) -> None:
        """Give `worker` a relay of the broadcast, piped from the origin (once)."""
        pending = live.relays.get(worker.index)
        if pending is None:
            pending = live.relays[worker.index] = asyncio.get_running_loop().create_future()
            try:
                relay = await self._request(
                    worker,
                    "broadcast_relay",
                    {
                        "session_id": live.session_id,
                        "streams": live.streams,
                        "origin": live.address,
                    },
                )
                await self._request(
                    live.origin,
                    "broadcast_pipe",
                    {"session_id": live.session_id, "address": relay["address"]},
                )
            except asyncio.CancelledError:
                del live.relays[worker.index]
                pending.cancel()
                raise
            except Exception as exc:
                del live.relays[worker.index]
                pending.set_exception(exc)
                pending.exception()  # retrieved: the viewers awaiting it see it raised
                raise
            pending.set_result(list(relay["address"]))
            logger.info("broadcast %s: relayed by worker %d", live.session_id, worker.index)
        await asyncio.shield(pending)

    def _relay_workers(self, live: _Live) -> list[WorkerProcess]:
        return [w for w in self._pool.workers if w.index in live.relays and w is not live.origin]

    # -- rooms and workers that went away -------------------------------------------------------

    async def _room_gone(self, room: Room) -> None:
        """The hall's room closed, or its media moved to another worker: its broadcast ends
        (the hall opens it again on the room's new worker)."""
        if room.id in self._live:
            await self.close(room.id)

    async def worker_lost(self, worker: WorkerProcess, rooms: set[str]) -> None:
        """A worker died and was restarted: its viewers are gone, and so are the broadcasts
        it made and its relays."""
        for session_id, live in list(self._live.items()):
            for viewer, served_by in list(live.viewers.items()):
                if served_by is worker:
                    del live.viewers[viewer]
            if live.origin is worker:
                self._live.pop(session_id, None)
                for relay in self._relay_workers(live):
                    with contextlib.suppress(ConnectionLost, WireError, TimeoutError):
                        await relay.request("broadcast_close", {"session_id": session_id})
                logger.warning("broadcast %s ended: its worker %d died", session_id, worker.index)
                continue
            pending = live.relays.pop(worker.index, None)
            if pending is not None and pending.done() and not pending.exception():
                with contextlib.suppress(ConnectionLost, WireError, TimeoutError):
                    await live.origin.request(
                        "broadcast_pipe",
                        {"session_id": session_id, "address": pending.result(), "active": False},
                    )

    # -- internals ------------------------------------------------------------------------------

    def _open_live(self, session_id: str) -> _Live:
        live = self._live.get(session_id)
        if live is None:
            raise NotFound("该会场未在直播")
        return live

    @staticmethod
    async def _request(worker: WorkerProcess, method: str, params: dict[str, Any]) -> Any:
        try:
            return await worker.request(method, params)
        except ConnectionLost as exc:
            raise WireError("media_unavailable", "媒体服务正在恢复，请稍候重试") from exc
