"""The real server, in-process on an ephemeral loopback port, with the demo session in it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from media.room import RoomMedia
from roomserver.demo import DemoData, create_demo
from roomserver.model import Participant, Role
from roomserver.store import SqlStore
from signaling.app import create_app
from signaling.config import AppConfig, load_config
from signaling.gate.tokens import TokenIssuer, load_or_create_key
from signaling.http.api import SERVICES
from signaling.services.container import Services
from signaling.worker.inprocess import InProcessWorker


@dataclass
class RunningServer:
    """A started server and what tests need to talk to it."""

    base_url: str
    app: web.Application
    config: AppConfig
    demo: DemoData
    tokens: TokenIssuer

    @property
    def services(self) -> Services:
        """The app's services (store, rooms, metrics)."""
        return self.app[SERVICES]

    @property
    def experts(self) -> list[Participant]:
        """The demo experts in roster order."""
        return [p for p in self.demo.participants if p.role == Role.EXPERT]

    def token(self, participant: Participant, ttl_s: int | None = None) -> str:
        """A fresh join token."""
        return self.tokens.issue(participant, ttl_s=ttl_s)

    def media(self, session_id: str) -> RoomMedia | None:
        """The media of a live room, inside the in-process worker."""
        worker = self.services.workers.workers[0]
        assert isinstance(worker, InProcessWorker) and worker.worker is not None
        room = worker.worker.rooms.get(session_id)
        return room.media if room is not None else None

    def participant(self, role: Role) -> Participant:
        """The first demo participant with `role`."""
        return next(p for p in self.demo.participants if p.role == role)


async def start_server(
    data_dir: Path, *args: str, demo_now: datetime | None = None, port: int | None = None
) -> tuple[TestServer, RunningServer]:
    """Create the demo in `data_dir`, then start the app on 127.0.0.1 (ICE on loopback only).

    `args` are more configuration flags; `demo_now` backdates the demo (it starts 10 minutes
    after it); `port` is the port to listen on (a free one by default).
    """
    # One media worker inside the test process: the same protocol as worker processes, and
    # the tests can look at the media objects.
    config = load_config(
        ["--data-dir", str(data_dir), "--bind", "127.0.0.1:0", "--workers", "0", *args],
        environ={},
    )
    async with SqlStore(config.store) as store:
        demo = await create_demo(store, now=demo_now)
    tokens = TokenIssuer(load_or_create_key(config.secrets_dir / "token.key"), default_ttl_s=3600)
    app = create_app(config)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    base_url = str(server.make_url("")).rstrip("/")
    return server, RunningServer(base_url, app, config, demo, tokens)


@pytest.fixture
def server_database_url() -> str | None:
    """The database of `room_server`: None is SQLite in its data directory. A module whose
    tests should run on every engine overrides it with one that takes ``store_config``."""
    return None


@pytest.fixture
async def room_server(
    tmp_path: Path, server_database_url: str | None
) -> AsyncIterator[RunningServer]:
    """A running server with the demo session."""
    database = ["--database-url", server_database_url] if server_database_url else []
    server, running = await start_server(tmp_path / "data", *database)
    try:
        yield running
    finally:
        await server.close()


@pytest.fixture
async def empty_server(tmp_path: Path) -> AsyncIterator[tuple[TestServer, AppConfig, TokenIssuer]]:
    """The app on an empty data directory: no demo, nothing but what REST creates."""
    config = load_config(
        ["--data-dir", str(tmp_path / "data"), "--bind", "127.0.0.1:0", "--workers", "0"],
        environ={},
    )
    app = create_app(config)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    tokens = TokenIssuer(load_or_create_key(config.secrets_dir / "token.key"), default_ttl_s=3600)
    try:
        yield server, config, tokens
    finally:
        await server.close()
