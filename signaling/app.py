"""The aiohttp application: the only place where the packages are wired together."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

import socketio
from aiohttp import web

from recorder.seal import ServerKey
from roomserver.model import Participant
from roomserver.privatefiles import check_secrets, make_private_dir
from roomserver.store import SqlStore
from roomserver.workflow import Happened, WorkflowState
from signaling.config import AppConfig
from signaling.gate.guard import GUARD_KEY, Guard, policy_middleware, public_prefix
from signaling.gate.inputs import MAX_BODY_BYTES, SocketJson
from signaling.gate.tokens import TokenIssuer, load_or_create_key
from signaling.http.api import SEATS, SERVICES, add_routes, problem_middleware
from signaling.http.archive import PLAYBACK, Playback, add_playback_routes
from signaling.http.headers import add_security_headers
from signaling.http.links import add_link_routes
from signaling.http.roster import add_roster_routes
from signaling.metrics import LoopLagMonitor, Metrics
from signaling.services.archiving import ArchiveManager
from signaling.services.ballots import BallotKeys
from signaling.services.container import Services
from signaling.services.events import EventLog
from signaling.services.monitoring import WarningCenter
from signaling.services.pool import WorkerPool, WorkerProcess
from signaling.services.rooms import Room, RoomManager, seat_key
from signaling.services.sessions import end_session
from signaling.services.workflow import WorkflowService
from signaling.sockets.console import ConsoleNamespace
from signaling.sockets.origin import DefaultNamespace, OriginCheck
from signaling.sockets.seat import LEFT_MESSAGES, SeatNamespace
from signaling.sockets.wall import WallNamespace
from signaling.tasks import TaskSet
from signaling.wire import WireError
from signaling.worker.inprocess import InProcessWorker
from signaling.worker.settings import WorkerSettings

logger = logging.getLogger(__name__)

SIO: web.AppKey[socketio.AsyncServer] = web.AppKey("sio", socketio.AsyncServer)
WALL: web.AppKey[WallNamespace] = web.AppKey("wall", WallNamespace)
CONSOLE: web.AppKey[ConsoleNamespace] = web.AppKey("console", ConsoleNamespace)
MAX_SOCKET_MESSAGE = 256 * 1024


def load_archive_key(config: AppConfig) -> ServerKey:
    """The archive signing key (created at first start); its public key exported beside it."""
    key = ServerKey.load_or_create(config.archive_key_path)
    public = key.public_pem()
    path = config.archive_public_key_path
    if not path.exists() or path.read_bytes() != public:
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(public)
        os.replace(tmp, path)
    return key


def create_app(config: AppConfig) -> web.Application:
    """Build the server; resources start and stop with the app's cleanup context."""
    app = web.Application(
        middlewares=[problem_middleware, policy_middleware], client_max_size=MAX_BODY_BYTES
    )
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        max_http_buffer_size=MAX_SOCKET_MESSAGE,
        json=SocketJson,
        # Pages of our own origin only (an empty list would turn the check off).
        cors_allowed_origins=OriginCheck(config),
        logger=False,
        engineio_logger=False,
    )
    sio.register_namespace(DefaultNamespace())
    sio.attach(app)
    public_prefix(app, "/socket.io/")  # each namespace asks the policy for itself
    app[SIO] = sio
    add_security_headers(app)
    add_routes(app)
    add_roster_routes(app)
    add_link_routes(app)
    add_playback_routes(app)

    async def services_ctx(app: web.Application) -> AsyncIterator[None]:
        make_private_dir(config.data_dir)
        # Keys first: a key others can read stops the start before anything runs.
        await asyncio.to_thread(check_secrets, config.secrets_dir)
        key = load_or_create_key(config.secrets_dir / "token.key")
        archive_key = await asyncio.to_thread(load_archive_key, config)
        store = SqlStore(config.store)
        await store.start()
        metrics = Metrics(media=False)  # media is counted by the workers
        tasks = TaskSet()
        events = EventLog(store)
        archives = ArchiveManager(config.archive_dir, archive_key, config.recorder, events, tasks)
        # Parts left open by a crash are repaired and sealed before anything new is recorded.
        await archives.recover()
        seats: SeatNamespace | None = None
        wall: WallNamespace | None = None

        def worker_event(worker: WorkerProcess, name: str, params: dict[str, Any]) -> None:
            if name == "camera_warning":
                tasks.spawn(warnings.camera_warning(params), name="camera-warning")
            elif name == "room_camera":
                tasks.spawn(room_camera(params), name="room-camera")
            elif seats is not None:
                seats.on_worker_event(worker, name, params)

        async def room_camera(params: dict[str, Any]) -> None:
            room = await rooms.camera_changed(params)
            if room is not None:
                warnings.camera_status(room, str(params.get("camera")), str(params.get("state")))
                if wall is not None:
                    wall.changed(room)

        async def worker_lost(worker: WorkerProcess, lost: set[str]) -> None:
            await rooms.relocate(worker, lost)

        pool = WorkerPool(
            max(config.workers, 1),
            WorkerSettings(
                archive_root=str(config.archive_dir),
                archive_key_path=str(config.archive_key_path),
                media=config.media,
                recorder=config.recorder,
                ice=config.ice,
                warnings=config.warnings,
                pin_cpus=config.pin_workers,
                log_level=config.log_level,
            ),
            on_event=worker_event,
            on_lost=worker_lost,
            make_worker=InProcessWorker if config.workers <= 0 else None,
        )
        await pool.start()
        rooms = RoomManager(store, pool, archives, events, cameras=config.room_cameras)
        warnings = WarningCenter(
            rooms=rooms, events=events, store=store, thresholds=config.warnings, tasks=tasks
        )
        metrics.add_room_source(lambda: [room.sample() for room in rooms])
        services = Services(
            config=config,
            store=store,
            tokens=TokenIssuer(key, default_ttl_s=config.token_ttl_s),
            rooms=rooms,
            metrics=metrics,
            tasks=tasks,
            events=events,
            archives=archives,
            workers=pool,
            warnings=warnings,
        )
        app[SERVICES] = services
        playback = Playback(services)
        app[PLAYBACK] = playback

        async def end_by_workflow(session_id: str, actor: str) -> None:
            forced = (await services.workflow.state(session_id)).forced_end
            await end_session(
                session_id,
                actor=actor,
                store=store,
                events=events,
                rooms=rooms,
                archives=archives,
                seats=seats,
                warnings=warnings,
                notice=None if forced is None else f"评审结束：管理员已结束本场评标（{forced}）。",
            )

        async def identity_picture(session_id: str, expert: Participant) -> dict[str, Any] | None:
            room = rooms.find(session_id)
            if room is None or expert.venue_id is None or expert.seat_no is None:
                return None
            key = seat_key(expert.venue_id, expert.seat_no)
            try:
                answer = await room.media_request(
                    "snapshot", seat=key, stem=f"identity-{key}", seat_only=True
                )
            except (WireError, TimeoutError) as exc:
                logger.warning("room %s: no identity picture of %s: %s", session_id, key, exc)
                return None
            evidence = answer.get("evidence") if isinstance(answer, dict) else None
            return evidence if isinstance(evidence, dict) else None

        services.workflow = WorkflowService(
            store,
            events,
            archive_dir=config.archive_dir,
            ballots=BallotKeys.in_secrets(config.secrets_dir),
            on_end=end_by_workflow,
            snapshot=identity_picture,
        )
        guard = Guard(services.tokens, store, events, services.workflow.state)
        app[GUARD_KEY] = guard
        seats = SeatNamespace(services, guard)
        wall = WallNamespace(services, guard, seats)
        console = ConsoleNamespace(services, guard)
        services.workflow.listeners += [seats.workflow_changed, console.workflow_changed]

        async def expert_left(session_id: str, expert_id: str, kind: str) -> None:
            room = rooms.find(session_id)
            if room is not None:
                if kind == "expert_replaced":
                    await rooms.refresh_roster(room)
                await seats.expert_left(room, expert_id, kind)  # pushes the roster on

        def workflow_happened(session_id: str, state: WorkflowState, happened: Happened) -> None:
            # Whoever no longer takes part loses the seat's connection at once.
            if happened.kind in LEFT_MESSAGES:
                tasks.spawn(
                    expert_left(session_id, str(happened.data["expert"]), happened.kind),
                    name="expert-left",
                )

        services.workflow.listeners.append(workflow_happened)
        events.listeners.append(console.event_logged)

        async def media_restarted(room: Room) -> None:
            await warnings.media_restarted(room)
            await seats.media_restarted(room)
            await wall.media_restarted(room)

        rooms.on_media_restart = media_restarted
        rooms.on_change = wall.changed
        rooms.on_closed = warnings.room_closed

        def roster_changed(room: Room) -> None:
            warnings.roster_changed(room)
            wall.changed(room)
            console.roster_changed(room)

        seats.on_roster = roster_changed
        warnings.on_change = wall.changed
        wall.warnings = warnings
        await warnings.start()
        sio.register_namespace(seats)
        sio.register_namespace(wall)
        sio.register_namespace(console)
        app[SEATS] = seats
        app[WALL] = wall
        app[CONSOLE] = console
        lag = LoopLagMonitor(metrics.loop_lag, metrics.loop_delay)
        await lag.start()
        await events.append("server_started", {"bind": f"{config.host}:{config.port}"})
        try:
            yield
        finally:
            # Runs after on_shutdown below has ended every connection.
            await warnings.close()
            await rooms.close()
            await pool.close()
            await services.tasks.close()
            await lag.close()
            playback.close()
            await events.append("server_stopped", {})
            await store.close()

    async def on_shutdown(app: web.Application) -> None:
        # Before aiohttp waits for open handlers: Socket.IO websockets would otherwise hold the
        # shutdown for its whole timeout. Order: tell seats, close their peers and the rooms,
        # then end the Socket.IO connections.
        logger.info("shutting down: closing seats and rooms")
        seats = app.get(SEATS)
        if seats is not None:
            try:
                await seats.notify_shutdown()
            except Exception:
                logger.exception("could not tell seats about the shutdown")
            await seats.close_all()
        wall = app.get(WALL)
        if wall is not None:
            await wall.close_all()
        console = app.get(CONSOLE)
        if console is not None:
            await console.close_all()
        if SERVICES in app:
            await app[SERVICES].rooms.close()
        # End every Engine.IO connection (Socket.IO's own shutdown only stops its tasks).
        if sio.eio.sockets:
            await sio.eio.disconnect()
        await sio.shutdown()

    app.cleanup_ctx.append(services_ctx)
    app.on_shutdown.append(on_shutdown)
    return app
