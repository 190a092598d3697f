"""Stores in several processes on one database, as the servers of a cluster share it, on every
engine: they start at once on an empty database and all come up; their concurrent appends to
the event log get distinct, gap-free seqs, and a reader that follows the log by seq (as the
archive's catch-up and the consoles do) misses none of them."""

from __future__ import annotations

import asyncio

from roomserver.config import StoreConfig
from roomserver.model import Event
from roomserver.store import SqlStore
from tests.storeproc import run_together

APPENDS_PER_PROCESS = 200


async def test_stores_starting_at_once_on_an_empty_database_all_come_up(
    store_config: StoreConfig,
) -> None:
    outcomes = await run_together(store_config.database_url, [["start"]] * 3)
    assert outcomes == [{"empty": True}] * 3
    async with SqlStore(store_config) as store:
        await store.append_event("probe")
        assert [e.seq for e in await store.list_events()] == [1]


async def test_appends_from_two_processes_get_distinct_gap_free_seqs_and_none_is_skipped(
    store_config: StoreConfig,
) -> None:
    async with SqlStore(store_config) as store:
        followed: list[Event] = []
        writers_done = asyncio.Event()

        async def follow() -> None:
            # Asks for what follows the last seq seen, over and over until the writers are
            # done, then once more: a seq that became visible after a higher one would be
            # skipped for good.
            while True:
                done = writers_done.is_set()
                after = followed[-1].seq if followed else 0
                followed.extend(await store.list_events("s1", after_seq=after))
                if done:
                    return

        reader = asyncio.create_task(follow(), name="follow-the-log")
        try:
            outcomes = await run_together(
                store_config.database_url,
                [["append", str(APPENDS_PER_PROCESS), name] for name in ("a", "b")],
            )
        finally:
            writers_done.set()
            await reader
        stored = await store.list_events()

    total = 2 * APPENDS_PER_PROCESS
    seqs = sorted(seq for outcome in outcomes for seq in outcome["seqs"])
    assert seqs == list(range(1, total + 1))  # distinct, and no gap
    assert [e.seq for e in stored] == seqs
    by_actor = {name: {e.seq for e in stored if e.actor == name} for name in ("a", "b")}
    assert by_actor == {"a": set(outcomes[0]["seqs"]), "b": set(outcomes[1]["seqs"])}
    assert [e.seq for e in followed] == seqs, "the follower skipped a seq"
