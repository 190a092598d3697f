"""Waiting for server state that has no event to wait on: a poll with a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def wait_until(predicate: Callable[[], bool], within: float, what: str) -> None:
    """Poll `predicate` every 20 ms until it holds; fail after `within` seconds saying `what`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.02)  # server internals expose no event for this
