"""Shared test settings, and the database engines the store runs on.

A test that takes the ``store_config`` fixture runs twice: on SQLite (a file in its tmp_path)
and on PostgreSQL (a fresh database on the session's private server, see tests/postgres.py).
Both configs name an empty database that no store has migrated yet, so two ``SqlStore``
instances opened on the same config share one database, as two server processes would::

    async def test_something(store_config: StoreConfig) -> None:
        async with SqlStore(store_config) as a, SqlStore(store_config) as b:
            ...

The PostgreSQL runs carry the ``postgresql`` marker (``-m "not postgresql"`` leaves them out).
Where PostgreSQL's binaries are missing they are skipped with the reason, unless the
environment says ``TEST_REQUIRE_POSTGRESQL=1`` (``.ci/run`` does): then they fail.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from roomserver.config import StoreConfig
from tests.postgres import PostgresServer, PostgresUnavailable
from tests.redisserver import RedisServer, require_redis

# aioice and aiortc are chatty at INFO; their warnings still show.
logging.getLogger("aioice").setLevel(logging.WARNING)
logging.getLogger("aiortc").setLevel(logging.WARNING)

# The engines a store test runs on; pass as `params` to parametrize a fixture of your own.
ENGINES = ("sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql))


def sqlite_url(directory: Path) -> str:
    """The URL of a SQLite database file in `directory` (created by the store when missing)."""
    return f"sqlite+aiosqlite:///{directory / 'roomserver.db'}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's private PostgreSQL server (started on first use, stopped at the end)."""
    try:
        if importlib.util.find_spec("asyncpg") is None:
            raise PostgresUnavailable("asyncpg is not installed (pip install -e '.[dev]')")
        server = PostgresServer()
    except PostgresUnavailable as exc:
        if os.environ.get("TEST_REQUIRE_POSTGRESQL") == "1":
            pytest.fail(f"PostgreSQL required but unavailable: {exc}")
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped after the test."""
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)


@pytest.fixture(params=ENGINES)
def store_config(request: pytest.FixtureRequest, tmp_path: Path) -> StoreConfig:
    """A StoreConfig of a new, empty database: SQLite in tmp_path, then PostgreSQL."""
    if request.param == "postgresql":
        return StoreConfig(database_url=request.getfixturevalue("postgres_url"))
    return StoreConfig(database_url=sqlite_url(tmp_path / "db"))


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A private Redis for one test (skipped without redis-server, failed under .ci/run)."""
    require_redis()
    server = RedisServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()
