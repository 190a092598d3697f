"""Waiting for server state that has no event to wait on: a poll with a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from roomserver.model import Event
from roomserver.store import SqlStore


async def wait_until(predicate: Callable[[], bool], within: float, what: str) -> None:
    """Poll `predicate` every 20 ms until it holds; fail after `within` seconds saying `what`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.02)  # server internals expose no event for this


async def poll_until(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    """Ask `check` (a request to the server, say) every 100 ms until it answers True; fail
    after `within` seconds saying `what`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.1)  # the server pushes nothing to a REST client


async def wait_event(
    store: SqlStore, session_id: str, kind: str, /, *, within: float = 10.0, **data: Any
) -> Event:
    """The first event of `kind` in the session's log whose data has `data`; fail after
    `within` seconds (the log has no push to wait on)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        for event in await store.list_events(session_id):
            if event.kind == kind and all(event.data.get(k) == v for k, v in data.items()):
                return event
        if loop.time() > deadline:
            raise AssertionError(f"no {kind} event with {data} within {within} s")
        await asyncio.sleep(0.05)
