"""The archive copies' checks in a real database, SQLite and PostgreSQL: a row per session and
location, each check replacing the one before, two nodes writing the same row at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from roomserver.config import StoreConfig
from roomserver.copies import (
    COPY_FAILED,
    FAILED,
    PRIMARY,
    REPLICA,
    VERIFIED,
    after_check,
)
from roomserver.errors import InvalidRequest
from roomserver.store import SqlStore

NOW = datetime(2026, 12, 7, 13, 3, 12, 250000, tzinfo=UTC)


@pytest.fixture
async def stores(store_config: StoreConfig) -> AsyncIterator[tuple[SqlStore, SqlStore]]:
    """Two stores on one database, as two nodes have."""
    async with SqlStore(store_config) as a, SqlStore(store_config) as b:
        yield a, b


async def test_each_check_replaces_the_one_before_and_keeps_the_latest_copy_time(
    stores: tuple[SqlStore, SqlStore],
) -> None:
    a, b = stores
    copied = after_check(
        None,
        "s1",
        REPLICA,
        "/mnt/replica/s1",
        VERIFIED,
        NOW,
        parts=1,
        size=12_345_678_901,
        copied=True,
        verified=True,
    )
    await a.copies.save(copied)
    primary = after_check(
        None,
        "s1",
        PRIMARY,
        "/var/lib/roomserver/archive/s1",
        VERIFIED,
        NOW,
        parts=1,
        size=12_345_678_901,
        verified=True,
    )
    await a.copies.save(primary)
    assert await b.copies.of_session("s1") == {PRIMARY: primary, REPLICA: copied}
    # The replica's disk is gone a month later: the copy's time and parts stay as they were.
    later = NOW + timedelta(days=30)
    gone = after_check(
        copied,
        "s1",
        REPLICA,
        "/mnt/replica/s1",
        COPY_FAILED,
        later,
        detail="the replica location /mnt/replica does not exist (not mounted?)",
    )
    await b.copies.save(gone)
    stored = (await a.copies.of_session("s1"))[REPLICA]
    assert stored == gone
    assert stored.copied_at == NOW and stored.verified_at == NOW and stored.parts == 1
    assert stored.checked_at == later and not stored.ok
    # Times come back in UTC, whatever zone they were given in.
    beijing = later.astimezone(timezone(timedelta(hours=8)))
    await a.copies.save(
        after_check(
            gone,
            "s1",
            REPLICA,
            "/mnt/replica/s1",
            FAILED,
            beijing,
            detail="part-0001/events.jsonl: SHA-256 differs",
            verified=True,
        )
    )
    again = (await b.copies.of_session("s1"))[REPLICA]
    assert again.verified_at == later and again.verified_at.tzinfo == UTC
    assert [(c.session_id, c.location) for c in await b.copies.all()] == [
        ("s1", PRIMARY),
        ("s1", REPLICA),
    ]
    assert await a.copies.of_session("no-such") == {}
    assert await a.copies.of_session("s\x00") == {}


async def test_two_nodes_saving_the_same_copy_at_once_leave_one_row(
    stores: tuple[SqlStore, SqlStore],
) -> None:
    a, b = stores
    for n in range(5):
        first = after_check(None, f"s{n}", REPLICA, "/a", VERIFIED, NOW, verified=True)
        second = after_check(None, f"s{n}", REPLICA, "/b", FAILED, NOW, verified=True)
        await asyncio.gather(a.copies.save(first), b.copies.save(second))
        rows = [c for c in await a.copies.all() if c.session_id == f"s{n}"]
        assert len(rows) == 1 and rows[0] in (first, second)


async def test_text_no_engine_can_keep_is_refused(stores: tuple[SqlStore, SqlStore]) -> None:
    a, _b = stores
    with pytest.raises(InvalidRequest):
        await a.copies.save(after_check(None, "s" * 81, PRIMARY, "/x", VERIFIED, NOW))
    with pytest.raises(InvalidRequest):
        await a.copies.save(after_check(None, "s1", PRIMARY, "/x\x00", VERIFIED, NOW))
