"""What a synthetic client keeps of what it receives: frames, counts to wait on, recent audio."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class GridFrame:
    """One decoded grid frame and when it arrived (``time.time()``)."""

    received_at: float
    rgb: np.ndarray


class Progress:
    """A running count that coroutines can wait on until it has grown by some amount."""

    def __init__(self) -> None:
        """Start at zero with nobody waiting."""
        self.value = 0.0
        self._waiters: list[tuple[float, asyncio.Future[None]]] = []

    def add(self, amount: float) -> None:
        """Grow the count and wake the waiters whose target is reached."""
        self.value += amount
        if not self._waiters:
            return
        still = []
        for target, future in self._waiters:
            if self.value >= target:
                if not future.done():
                    future.set_result(None)
            else:
                still.append((target, future))
        self._waiters = still

    async def wait_more(self, amount: float, within: float, what: str) -> None:
        """Wait until the count grows by ``amount`` from now; TimeoutError after ``within`` s."""
        target = self.value + amount
        if amount <= 0:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (target, future)
        self._waiters.append(entry)
        try:
            await asyncio.wait_for(future, within)
        except TimeoutError:
            raise TimeoutError(
                f"{what}: {self.value - (target - amount):g} of {amount:g} in {within:g} s"
            ) from None
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)


class AudioRing:
    """The last few seconds of received audio as mono float32 samples."""

    def __init__(self, seconds: float, sample_rate: int = 48_000) -> None:
        """Hold ``seconds`` of audio at ``sample_rate``."""
        self.sample_rate = sample_rate
        self._buffer = np.zeros(max(1, round(seconds * sample_rate)), dtype=np.float32)
        self._written = 0

    def write(self, samples: np.ndarray) -> None:
        """Append samples, overwriting the oldest."""
        size = len(self._buffer)
        if len(samples) >= size:
            samples = samples[-size:]
        start = self._written % size
        first = min(len(samples), size - start)
        self._buffer[start : start + first] = samples[:first]
        self._buffer[: len(samples) - first] = samples[first:]
        self._written += len(samples)

    def last(self, seconds: float | None = None) -> np.ndarray:
        """Return the most recent ``seconds`` (default: all held) in order, oldest first."""
        size = len(self._buffer)
        held = min(self._written, size)
        count = held if seconds is None else min(held, round(seconds * self.sample_rate))
        end = self._written % size
        idx = (np.arange(end - count, end)) % size
        return self._buffer[idx].copy()


class Pushes:
    """What a server pushed to a client, in order, as (event, data); waited for by name."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Any]] = []
        self._arrived = asyncio.Condition()

    def recorder(self, event: str) -> Callable[..., Awaitable[None]]:
        """A handler that records a push under `event`."""

        async def record(*args: Any) -> None:
            self.items.append((event, args[0] if args else None))
            async with self._arrived:
                self._arrived.notify_all()

        return record

    async def wait(self, name: str, timeout: float) -> Any:  # noqa: ASYNC109
        """Until a push `name` has arrived; its data (the first one's)."""
        async with self._arrived:
            try:
                await asyncio.wait_for(
                    self._arrived.wait_for(lambda: any(e == name for e, _ in self.items)),
                    timeout,
                )
            except TimeoutError:
                raise TimeoutError(f"no {name} within {timeout} s: {self.items}") from None
        return next(data for e, data in self.items if e == name)
