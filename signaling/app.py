"""The one place where the server is built: every part once, in dependency order, then started.

``build`` makes the parts, each given all it needs in its constructor: first the signals (what one
part tells the others, ``signaling.services.signals``), then the store, the event log and the
archive, the media worker pool, the rooms, the warnings, the table of worker events, the workflow
and what ends a session with it, the webhook pushes, the services handed to handlers, the guard,
and the three Socket.IO namespaces. Whoever listens to a signal connects itself while it is built;
the signals are frozen before anything starts, so nothing is told to a part that does not yet
exist.
``create_app`` registers the routes (each with its row in the policy table) and ties
``Server.start`` and ``Server.stop`` to the application's life.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import socketio
from aiohttp import web

from recorder.keys import Keyring
from roomserver.copies import Schedule
from roomserver.privatefiles import check_secrets, make_private_dir, secrets_dir
from roomserver.store import SqlStore
from signaling.config import AppConfig
from signaling.gate.guard import GUARD_KEY, Guard, policy_middleware, public_prefix
from signaling.gate.inputs import MAX_BODY_BYTES, SocketJson
from signaling.gate.tokens import TokenIssuer, load_or_create_key
from signaling.http.api import SEATS, SERVICES, add_routes, problem_middleware
from signaling.http.archive import PLAYBACK, Playback, add_playback_routes
from signaling.http.centrepeople import add_centre_people_routes
from signaling.http.clarifications import add_clarification_routes
from signaling.http.draws import add_draw_routes
from signaling.http.headers import add_security_headers
from signaling.http.health import add_health_routes, serve_health
from signaling.http.iceservers import add_ice_routes
from signaling.http.links import add_link_routes
from signaling.http.openapi import add_openapi_routes
from signaling.http.openings import add_opening_routes
from signaling.http.outbound import HttpSender
from signaling.http.partylinks import add_party_link_routes
from signaling.http.places import add_place_routes
from signaling.http.projectdocs import add_document_routes
from signaling.http.projects import add_project_routes
from signaling.http.proxies import proxy_middleware
from signaling.http.relay import SessionRelay
from signaling.http.roster import add_roster_routes
from signaling.http.webhooks import add_webhook_routes
from signaling.metrics import LoopLagMonitor, Metrics
from signaling.services.archiving import ArchiveManager, trusted_tsa
from signaling.services.ballots import BallotKeys
from signaling.services.broadcasts import Broadcasts
from signaling.services.camerarelay import CameraRelays
from signaling.services.clarifications import ClarificationService
from signaling.services.cluster import Cluster
from signaling.services.container import Services
from signaling.services.copies import ArchiveCopies, Verification
from signaling.services.events import EventLog
from signaling.services.halls import HallRooms
from signaling.services.monitoring import WarningCenter
from signaling.services.openings import OpeningService
from signaling.services.outcomes import Outcomes
from signaling.services.pool import WorkerPool, WorkerProcess
from signaling.services.reverify import ArchiveSweep
from signaling.services.rooms import RoomManager
from signaling.services.sessions import WorkflowEnd
from signaling.services.signals import Signals
from signaling.services.usage import UsagePush
from signaling.services.webhooks import WebhookService
from signaling.services.workerevents import WorkerEvents
from signaling.services.workflow import WorkflowService
from signaling.sockets.console import ConsoleNamespace
from signaling.sockets.hall import HallNamespace
from signaling.sockets.origin import DefaultNamespace, OriginCheck
from signaling.sockets.seat import SeatNamespace
from signaling.sockets.wall import WallNamespace
from signaling.tasks import TaskSet
from signaling.worker.settings import WorkerSettings

logger = logging.getLogger(__name__)

SIO: web.AppKey[socketio.AsyncServer] = web.AppKey("sio", socketio.AsyncServer)
MAX_SOCKET_MESSAGE = 256 * 1024


def load_archive_keys(config: AppConfig) -> Keyring:
    """The archive's signing keys (generation 1 made at first start); their public list is
    the data directory's archive-keys.json."""
    secrets_dir(config.secrets_dir)  # mode 700, or refused when others may open it
    keyring = Keyring(config.archive_keys_dir, config.archive_keys_path)
    keyring.ensure(adopt_ed25519=config.legacy_archive_key_path)
    return keyring


def archive_copies(
    config: AppConfig, store: SqlStore, metrics: Metrics, signals: Signals
) -> ArchiveCopies:
    """The archive's copies as configured (replica, re-verification), checked as `archive
    verify` checks: against the pinned keys and the configured TSA's certificate."""

    def keys() -> list[bytes]:
        listing = config.archive_keys_path
        return [listing.read_bytes()] if listing.is_file() else []

    def tsa() -> list[bytes]:
        try:
            return trusted_tsa(config.recorder)
        except OSError:
            return []  # said at start (recorder.archive); each token is checked with its own

    settings = config.copies
    return ArchiveCopies(
        config.archive_dir,
        settings.replica,
        Schedule(
            every_s=settings.reverify_days * 86400,
            retry_s=settings.replica_retry_s,
            replica=settings.replica is not None,
        ),
        store,
        metrics,
        signals,
        Verification(keys, tsa),
        replica_rate_mb_s=settings.replica_rate_mb_s,
    )


def _in_process_worker() -> type[WorkerProcess]:
    """The media worker in this process (``workers = 0``: embedding, tests). Imported only
    then: the media pipeline would add about 0.2 s to the start of every other server."""
    from signaling.worker.inprocess import InProcessWorker

    return InProcessWorker


def worker_settings(config: AppConfig) -> WorkerSettings:
    """What every media worker is told at start."""
    return WorkerSettings(
        archive_root=str(config.archive_dir),
        archive_keys_dir=str(config.archive_keys_dir),
        archive_keys_path=str(config.archive_keys_path),
        relay_root=str(config.data_dir / "relay-archive"),
        media=config.media,
        recorder=config.recorder,
        ice=config.ice.for_workers(),
        warnings=config.warnings,
        pin_cpus=config.pin_workers,
        log_level=config.log_level,
        log_format=config.log_format,
    )


@dataclass
class Server:
    """The parts of a built server, as its start, shutdown and stop need them."""

    config: AppConfig
    services: Services
    seats: SeatNamespace
    wall: WallNamespace
    console: ConsoleNamespace
    hall: HallNamespace
    guard: Guard
    playback: Playback
    lag: LoopLagMonitor
    usage: UsagePush

    async def start(self) -> None:
        """Recover, then start the workers and the watchers."""
        services = self.services
        # The media workers start meanwhile (their imports take most of a second): no room
        # opens before both are done, since nothing is served yet.
        workers = asyncio.ensure_future(services.workers.start())
        try:
            # Parts left open by a crash are repaired and sealed before anything new is
            # recorded. Then what recovery sealed is copied, and the copies are checked again,
            # in the background.
            await services.archives.recover()
            await services.copies.start()
            await services.sweep.start()
        finally:
            await workers
        await services.warnings.start()
        await self.lag.start()
        # One node of a cluster at a time (this one, alone) pushes and runs the bid openings.
        services.cluster.while_leading(self._lead, self._stop_leading)
        services.cluster.when_rooms_lost(self._rooms_lost)
        for namespace in (self.seats, self.console, self.wall):
            services.cluster.every_minute(namespace.renew_cluster_notices)
        await services.cluster.start()
        bind = f"{self.config.host}:{self.config.port}"
        await services.events.append("server_started", {"bind": bind})

    async def _lead(self) -> None:
        await self.services.openings.start()
        await self.services.webhooks.start()
        await self.usage.start()

    async def _stop_leading(self) -> None:
        await self.services.webhooks.pause()
        await self.usage.close()
        await self.services.openings.stop()
        await self.hall.close_all()
        await self.services.halls.close_all()

    async def _rooms_lost(self, session_ids: list[str]) -> None:
        """Rooms pinned to another node now: their seats are sent there, the rooms closed."""
        for session_id in session_ids:
            room = self.services.rooms.find(session_id)
            if room is not None:
                await self.seats.send_elsewhere(room)
                await self.services.rooms.close_room(room)

    async def end_connections(self) -> None:
        """Tell seats, close their peers and the rooms, then forget walls and consoles."""
        # No copy to the replica reads the disks while the rooms are being sealed: what they
        # seal now is copied after the next start.
        await self.services.sweep.close()
        await self.services.copies.close()
        try:
            await self.seats.notify_shutdown()
        except Exception:
            logger.exception("could not tell seats about the shutdown")
        await self.seats.close_all()
        await self.wall.close_all()
        await self.console.close_all()
        # The openings' clocks finish their command before the halls' parts are sealed.
        await self.services.openings.stop()
        await self.services.broadcasts.close_all()
        await self.hall.close_all()
        await self.services.halls.close_all()
        await self.services.rooms.close()

    async def stop(self) -> None:
        """Stop everything in the reverse order of the start; the store closes last."""
        services = self.services
        # First: a push in flight now is not logged as delivered, and goes again after a restart.
        await services.webhooks.close()
        # Closed with the connections already (safe twice): a copy or check under way stops at
        # its next chunk, and what was not copied is copied after the next start.
        await services.sweep.close()
        await services.copies.close()
        await self.usage.close()
        await services.warnings.close()
        await services.openings.stop()
        await services.halls.close_all()
        await services.rooms.close()
        await services.cluster.close()
        await services.workers.close()
        await services.tasks.close()
        await self.lag.close()
        self.playback.close()
        await services.events.append("server_stopped", {})
        await services.store.close()


async def build(config: AppConfig) -> Server:
    """Every part of the server, in dependency order; nothing runs yet."""
    make_private_dir(config.data_dir)
    # Keys first: a key others can read stops the start before anything runs.
    await asyncio.to_thread(check_secrets, config.secrets_dir)
    key = load_or_create_key(config.secrets_dir / "token.key")
    archive_keys = await asyncio.to_thread(load_archive_keys, config)
    store = SqlStore(config.store)
    await store.start()
    # The event table is checked before anything appends to it: a break is evidence of a change
    # to the database, which /readyz then reports (the server serves on: stopping it would lose
    # the sessions under way, and the record of what follows).
    event_chain = await store.chain.check()
    if event_chain.ok:
        logger.info("%s", event_chain.summary())
    else:
        logger.error("%s", event_chain.summary())

    signals = Signals()
    tasks = TaskSet()
    events = EventLog(store, signals)
    archives = ArchiveManager(
        config.archive_dir, archive_keys, config.recorder, events, tasks, signals
    )
    pool = WorkerPool(
        max(config.workers, 1),
        worker_settings(config),
        signals,
        make_worker=_in_process_worker() if config.workers <= 0 else WorkerProcess,
    )
    rooms = RoomManager(store, pool, archives, events, signals, cameras=config.room_cameras)
    cluster = Cluster(
        config.cluster,
        config.base_url,
        store,
        tasks,
        rooms_hosted=lambda: [room.id for room in rooms],
    )
    rooms.on_closed(cluster.closed)
    signals.session_ended.connect(cluster.session_ended)
    broadcasts = Broadcasts(pool, rooms.worker_of, signals, seats=rooms.seats_on)
    halls = HallRooms(
        store, pool, archives, events, signals, broadcasts, tasks, seats=rooms.seats_on
    )
    warnings = WarningCenter(
        rooms=rooms,
        events=events,
        store=store,
        thresholds=config.warnings,
        tasks=tasks,
        signals=signals,
    )
    relays = CameraRelays(
        cluster=cluster,
        store=store,
        pool=pool,
        rooms=rooms,
        events=events,
        tasks=tasks,
        archive_dir=config.archive_dir,
        keys_path=config.archive_keys_path,
        relay_root=config.data_dir / "relay-archive",
    )
    rooms.relay_for = relays.relay_for
    signals.session_ended.connect(relays.session_ended)
    WorkerEvents(
        rooms=rooms,
        relays=relays,
        halls=halls,
        broadcasts=broadcasts,
        warnings=warnings,
        events=events,
        tasks=tasks,
        signals=signals,
    )
    workflow = WorkflowService(
        store,
        events,
        archive_dir=config.archive_dir,
        ballots=BallotKeys.in_secrets(config.secrets_dir),
        signals=signals,
        snapshot=rooms.identity_picture,
    )
    outcomes = Outcomes(
        store=store,
        events=events,
        workflow_state=workflow.state,
        rule=config.fees,
        signals=signals,
    )
    WorkflowEnd(
        store=store,
        events=events,
        archives=archives,
        signals=signals,
        rooms=rooms,
        warnings=warnings,
    )
    openings = OpeningService(
        store,
        events,
        signals,
        archives=archives,
        halls=halls,
        secrets_dir=config.secrets_dir,
        tasks=tasks,
        leading=lambda: cluster.leading,
    )
    clarifications = ClarificationService(
        store, events, signals, workflow=workflow, openings=openings
    )
    metrics = Metrics(media=False, rooms=rooms.samples)  # media is counted by the workers
    metrics.watch_disk(config.archive_dir)
    copies = archive_copies(config, store, metrics, signals)
    sender = HttpSender(config.webhooks.timeout_s)
    webhooks = WebhookService(store, events, signals, config.webhooks, sender, cluster=cluster)
    services = Services(
        config=config,
        store=store,
        tokens=TokenIssuer(key, default_ttl_s=config.token_ttl_s),
        rooms=rooms,
        broadcasts=broadcasts,
        halls=halls,
        metrics=metrics,
        tasks=tasks,
        events=events,
        archives=archives,
        copies=copies,
        # One node of a cluster checks the archive again (the shared location, once).
        sweep=ArchiveSweep(
            copies,
            rate_mb_s=config.copies.reverify_rate_mb_s,
            active=lambda: cluster.leading,
        ),
        workers=pool,
        warnings=warnings,
        workflow=workflow,
        outcomes=outcomes,
        webhooks=webhooks,
        openings=openings,
        clarifications=clarifications,
        event_chain=event_chain,
        cluster=cluster,
    )
    guard = Guard(services.tokens, store, events, workflow.state)
    seats = SeatNamespace(services, guard, signals)
    wall = WallNamespace(services, guard, seats, signals)
    console = ConsoleNamespace(services, guard, signals)
    hall = HallNamespace(services, guard, signals)
    signals.freeze()
    return Server(
        config=config,
        services=services,
        seats=seats,
        wall=wall,
        console=console,
        hall=hall,
        guard=guard,
        playback=Playback(services),
        lag=LoopLagMonitor(services.metrics.loop_lag, services.metrics.loop_delay),
        usage=UsagePush(store, events, config.usage_push_at, config.usage_push_days),
    )


def create_app(config: AppConfig) -> web.Application:
    """The aiohttp application: routes now, the server's parts with the app's cleanup context."""
    # Behind the centre's reverse proxy, the person's address first, for everything after.
    proxies = [proxy_middleware(config.trusted_proxies)] if config.trusted_proxies else []
    # In a cluster, a session's requests are answered by the node of its room.
    relay = SessionRelay() if config.cluster is not None else None
    relays = [relay.middleware] if relay is not None else []
    app = web.Application(
        middlewares=[*proxies, *relays, problem_middleware, policy_middleware],
        client_max_size=MAX_BODY_BYTES,
    )
    if relay is not None:
        app.on_cleanup.append(lambda _app: relay.close())
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        max_http_buffer_size=MAX_SOCKET_MESSAGE,
        json=SocketJson,
        # Pages of our own origin only (an empty list would turn the check off).
        cors_allowed_origins=OriginCheck(config),
        logger=False,
        engineio_logger=False,
        # A cluster's nodes share their Socket.IO rooms and emits through Redis.
        **(
            {
                "client_manager": socketio.AsyncRedisManager(
                    config.cluster.redis_url, channel="roomserver-socketio", json=SocketJson
                )
            }
            if config.cluster is not None
            else {}
        ),
    )
    sio.register_namespace(DefaultNamespace())
    sio.attach(app)
    public_prefix(app, "/socket.io/")  # each namespace asks the policy for itself
    app[SIO] = sio
    add_security_headers(app, https=config.base_url.startswith("https:"))
    add_routes(app)
    add_roster_routes(app)
    add_link_routes(app)
    add_playback_routes(app)
    add_party_link_routes(app)
    add_place_routes(app)
    add_centre_people_routes(app)
    add_health_routes(app)
    add_ice_routes(app)
    add_project_routes(app)
    add_draw_routes(app)
    add_opening_routes(app)
    add_clarification_routes(app)
    add_document_routes(app)
    add_webhook_routes(app)
    add_openapi_routes(app)
    servers: list[Server] = []

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        server = await build(config)
        for namespace in (server.seats, server.wall, server.console, server.hall):
            sio.register_namespace(namespace)
        app[SERVICES] = server.services
        serve_health(server.services)
        app[SEATS] = server.seats
        app[GUARD_KEY] = server.guard
        app[PLAYBACK] = server.playback
        await server.start()
        servers.append(server)
        try:
            yield
        finally:
            # Runs after on_shutdown below has ended every connection.
            await server.stop()

    async def on_shutdown(app: web.Application) -> None:
        # Before aiohttp waits for open handlers: Socket.IO websockets would otherwise hold the
        # shutdown for its whole timeout.
        logger.info("shutting down: closing seats and rooms")
        for server in servers:
            await server.end_connections()
        # End every Engine.IO connection (Socket.IO's own shutdown only stops its tasks).
        if sio.eio.sockets:
            await sio.eio.disconnect()
        await sio.shutdown()

    app.cleanup_ctx.append(lifetime)
    app.on_shutdown.append(on_shutdown)
    return app
