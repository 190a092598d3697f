"""The store's event table is hash-chained: appends chain on every engine, however many writers;
a row changed in the database is found by its seq; rows from before the chain get chained."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from roomserver import migrate
from roomserver.config import StoreConfig
from roomserver.store import SqlStore


async def sql(config: StoreConfig, statement: str, **params: object) -> None:
    """Change the database behind the server's back, as someone with access to it could."""
    engine = create_async_engine(config.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(statement), params)
    finally:
        await engine.dispose()


async def test_appends_from_two_stores_at_once_make_one_chain(store_config: StoreConfig) -> None:
    async with SqlStore(store_config) as a, SqlStore(store_config) as b:
        await asyncio.gather(
            *(
                s.append_event("note", {"i": i, "by": name}, session_id="s1")
                for i in range(15)
                for name, s in (("a", a), ("b", b))
            )
        )
        check = await a.chain.check()
        assert check.ok, check.problems
        assert check.rows == 30
        assert [e.seq for e in await b.list_events("s1")] == list(range(1, 31))


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ("UPDATE events SET kind = 'vote' WHERE seq = 2", "seq 2: its digests are not"),
        ("UPDATE events SET actor = NULL WHERE seq = 3", "seq 3: its digests are not"),
        ("DELETE FROM events WHERE seq = 2", "seq 3 follows seq 1: rows are missing"),
        ("DELETE FROM events WHERE seq = 4", "the head names seq 4, the last row is seq 3"),
        ("UPDATE events SET hash = NULL, sm3 = NULL WHERE seq = 1", "seq 1: not chained"),
        ("UPDATE event_chain SET seq = 3", "the head names seq 3, the last row is seq 4"),
    ],
)
async def test_a_change_in_the_database_is_found_and_named(
    store_config: StoreConfig, change: str, named: str
) -> None:
    async with SqlStore(store_config) as store:
        for i in range(4):
            await store.append_event("note", {"text": f"第{i}条"}, session_id="s1", actor="p1")
        assert (await store.chain.check()).ok
    await sql(store_config, change)
    async with SqlStore(store_config) as store:
        check = await store.chain.check()
    assert not check.ok
    assert check.problems[0].startswith(named), check.problems


async def test_rows_from_before_the_chain_are_chained_by_the_migration(
    store_config: StoreConfig,
) -> None:
    url = sa.engine.make_url(store_config.database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(migrate.upgrade, "0012")
        async with engine.begin() as conn:
            for seq in (1, 2, 3):
                await conn.execute(
                    sa.text(
                        "INSERT INTO events (seq, session_id, at, kind, actor, data) "
                        "VALUES (:seq, 's1', :at, 'note', NULL, :data)"
                    ),
                    {
                        "seq": seq,
                        "at": datetime(2026, 12, 1, 8, 0, seq, 500000, tzinfo=UTC),
                        "data": '{"text": "迁移前"}',
                    },
                )
    finally:
        await engine.dispose()
    async with SqlStore(store_config) as store:  # migrates to the newest revision
        assert (await store.chain.check()).ok
        appended = await store.append_event("note", {"text": "迁移后"}, session_id="s1")
        assert appended.seq == 4
        check = await store.chain.check()
        assert check.ok and check.rows == 4
