"""Media worker processes, seen from the signaling process: start, place rooms, restart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from collections.abc import Callable
from typing import Any

from signaling.wire import Channel, ConnectionLost
from signaling.worker import WorkerSettings

logger = logging.getLogger(__name__)

EventCallback = Callable[["WorkerProcess", str, dict[str, Any]], None]
STOP_TIMEOUT_S = 12.0


class WorkerProcess:
    """One media worker: a child process and the channel to it."""

    def __init__(self, index: int, settings: WorkerSettings, on_event: EventCallback) -> None:
        self.index = index
        self.settings = settings
        self._on_event = on_event
        self.process: asyncio.subprocess.Process | None = None
        self.channel: Channel | None = None
        self.rooms: set[str] = set()
        self.seats = 0
        self.generation = 0

    @property
    def pid(self) -> int | None:
        """The worker's process id while it runs."""
        return self.process.pid if self.process is not None else None

    @property
    def alive(self) -> bool:
        """Whether the worker runs and its channel is open."""
        return (
            self.process is not None
            and self.process.returncode is None
            and self.channel is not None
            and not self.channel.closed
        )

    async def start(self) -> None:
        """Start the process and say hello over a fresh socket pair."""
        ours, theirs = socket.socketpair()
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "signaling.worker",
                "--fd",
                str(theirs.fileno()),
                "--settings",
                self.settings.to_json(),
                pass_fds=(theirs.fileno(),),
                # Ctrl-C in a terminal must not reach workers directly: signaling stops them
                # in order, sealing their recordings.
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        finally:
            theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours)
        self.generation += 1
        self.channel = Channel(
            reader,
            writer,
            name=f"worker-{self.index}",
            on_event=lambda name, params: self._on_event(self, name, params),
        )
        await self.channel.start()
        hello = await self.channel.request("hello", {}, timeout_s=30)
        self.rooms.clear()
        self.seats = 0
        logger.info("media worker %d started (pid %s)", self.index, hello.get("pid"))

    async def request(self, method: str, params: dict[str, Any], timeout_s: float = 30.0) -> Any:
        """Call the worker (ConnectionLost if it is gone)."""
        if self.channel is None:
            raise ConnectionLost(f"worker {self.index} not started")
        return await self.channel.request(method, params, timeout_s=timeout_s)

    async def wait_lost(self) -> None:
        """Until the worker's channel closes (it exited or was killed)."""
        assert self.channel is not None
        await self.channel.wait_closed()

    async def stop(self) -> None:
        """Ask the worker to seal and exit; kill it if it does not within the timeout."""
        if self.process is None:
            return
        if self.alive:
            with contextlib.suppress(ConnectionLost, TimeoutError):
                await self.request("shutdown", {}, timeout_s=2)
        try:
            await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            logger.error("media worker %d did not stop in time: killed", self.index)
            self.process.kill()
            await self.process.wait()
        if self.channel is not None:
            await self.channel.close()

    def kill(self) -> None:
        """Kill the worker at once (tests, and a worker that stopped answering)."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
