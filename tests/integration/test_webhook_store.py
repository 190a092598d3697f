"""Webhook subscribers in a real database, SQLite and PostgreSQL: the cursor starts at the newest
event, moves only with a delivered push (in the transaction that logs it) or past events of
other topics, never back; the delivery log pages by entry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from roomserver.config import StoreConfig
from roomserver.errors import InvalidRequest, NotFound
from roomserver.model import new_id
from roomserver.pushes import Topic
from roomserver.store import SqlStore
from roomserver.webhooks import Webhook, new_secret

AT = datetime(2026, 12, 8, 2, 30, tzinfo=UTC)


@pytest.fixture
async def store(store_config: StoreConfig) -> AsyncIterator[SqlStore]:
    async with SqlStore(store_config) as s:
        yield s


def subscriber(name: str = "省调度系统") -> Webhook:
    return Webhook(
        id=new_id(),
        name=name,
        url="https://ddxt.example.cn/hooks",
        topics=(Topic.VENUES, Topic.VENUE_USAGE),
        secret=new_secret(),
        enabled=True,
        cursor=0,
        failures=0,
        created_by="admin",
        created_at=AT,
    )


async def test_the_cursor_moves_with_delivered_pushes_only(store: SqlStore) -> None:
    for kind in ("server_started", "venue_added"):
        await store.append_event(kind, {})
    hook = await store.webhooks.add(subscriber())
    assert (hook.cursor, hook.failures, hook.enabled) == (2, 0, True)
    assert await store.webhooks.get(hook.id) == hook

    for attempt, status in ((1, 500), (2, None)):
        await store.webhooks.record(
            hook.id, seq=3, topic="venues", attempt=attempt, status=status, error="x", at=AT
        )
    stored = await store.webhooks.get(hook.id)
    assert (stored.cursor, stored.failures) == (2, 2)
    delivered = await store.webhooks.record(
        hook.id, seq=3, topic="venues", attempt=3, status=204, error=None, at=AT
    )
    assert delivered.delivered
    stored = await store.webhooks.get(hook.id)
    assert (stored.cursor, stored.failures) == (3, 0)

    # Past events of other topics; never back.
    await store.webhooks.advance(hook.id, 9)
    await store.webhooks.advance(hook.id, 5)
    await store.webhooks.record(
        hook.id, seq=4, topic="venues", attempt=1, status=200, error=None, at=AT
    )
    assert (await store.webhooks.get(hook.id)).cursor == 9

    log = await store.webhooks.deliveries(hook.id)
    assert [(d.seq, d.attempt, d.status) for d in log] == [
        (3, 1, 500),
        (3, 2, None),
        (3, 3, 204),
        (4, 1, 200),
    ]
    assert [d.seq for d in await store.webhooks.deliveries(hook.id, after=log[1].id, limit=1)] == [
        3
    ]


async def test_a_subscriber_is_disabled_once_and_unknown_ones_are_not_found(
    store: SqlStore,
) -> None:
    first, second = await store.webhooks.add(subscriber()), await store.webhooks.add(subscriber())
    off = await store.webhooks.disable(first.id, by="admin", at=AT)
    assert (off.enabled, off.disabled_by, off.disabled_at) == (False, "admin", AT)
    with pytest.raises(InvalidRequest):
        await store.webhooks.disable(first.id, by="admin", at=AT)
    assert [w.id for w in await store.webhooks.subscribers(enabled_only=True)] == [second.id]
    assert len(await store.webhooks.subscribers()) == 2
    for unknown in ("nohook", "no\x00hook"):
        with pytest.raises(NotFound):
            await store.webhooks.get(unknown)
        with pytest.raises(NotFound):
            await store.webhooks.disable(unknown, by="admin", at=AT)


async def test_text_no_engine_can_keep_is_refused_alike(store: SqlStore) -> None:
    with pytest.raises(InvalidRequest):
        await store.webhooks.add(subscriber("名" * 201))
    hook = await store.webhooks.add(subscriber())
    # What an exception said is kept short and without NUL.
    logged = await store.webhooks.record(
        hook.id, seq=1, topic="venues", attempt=1, status=None, error="a\x00b" * 400, at=AT
    )
    assert logged.error is not None and len(logged.error) == 500 and "\x00" not in logged.error


async def test_the_delivery_log_is_cut_to_its_days_and_the_cursor_stays(store: SqlStore) -> None:
    await store.append_event("venue_added", {})
    hook = await store.webhooks.add(subscriber())
    old, recent = AT - timedelta(days=100), AT - timedelta(days=10)
    for seq, at in ((2, old), (3, old), (4, recent)):
        await store.webhooks.record(
            hook.id, seq=seq, topic="venues", attempt=1, status=200, error=None, at=at
        )
    assert await store.webhooks.prune(AT - timedelta(days=90)) == 2
    assert [d.seq for d in await store.webhooks.deliveries(hook.id)] == [4]
    assert (await store.webhooks.get(hook.id)).cursor == 4
    assert await store.webhooks.prune(AT - timedelta(days=90)) == 0


async def test_a_rotation_keeps_the_former_secret_until_its_time(store: SqlStore) -> None:
    hook = await store.webhooks.add(subscriber())
    until = AT + timedelta(days=1)
    rotated = await store.webhooks.rotate(hook.id, "new-secret-0123456789", until=until)
    assert rotated.secret == "new-secret-0123456789"
    assert (rotated.previous_secret, rotated.previous_until) == (hook.secret, until)
    assert await store.webhooks.get(hook.id) == rotated
    with pytest.raises(NotFound):
        await store.webhooks.rotate("nohook", "x" * 20, until=until)
