"""A media worker inside the signaling process (``workers = 0``: embedding and tests)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket

from signaling.services.pool import STOP_TIMEOUT_S, EventCallback, WorkerProcess
from signaling.wire import ConnectionLost
from signaling.worker.process import Worker
from signaling.worker.settings import WorkerSettings


class InProcessWorker(WorkerProcess):
    """A worker in the signaling process itself (``workers = 0``: embedding and tests).

    The same Worker class and the same wire protocol over a socket pair: only the process
    boundary is missing, so what is tested here is what runs in worker processes.
    """

    def __init__(self, index: int, settings: WorkerSettings, on_event: EventCallback) -> None:
        super().__init__(index, settings, on_event)
        self.worker: Worker | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        """This process."""
        return os.getpid()

    @property
    def alive(self) -> bool:
        """Whether the in-process worker still serves."""
        return self._task is not None and not self._task.done() and self.channel is not None

    async def start(self) -> None:
        """Run a Worker on this event loop, connected by a socket pair."""
        ours, theirs = socket.socketpair()
        self.worker = Worker(self.settings)
        worker_reader, worker_writer = await asyncio.open_connection(sock=theirs)
        self._task = asyncio.create_task(
            self.worker.run(worker_reader, worker_writer), name=f"worker-{self.index}-inproc"
        )
        await self._connect(ours)

    async def stop(self) -> None:
        """Seal its rooms and stop."""
        if self.alive:
            with contextlib.suppress(ConnectionLost, TimeoutError):
                await self.request("shutdown", {}, timeout_s=2)
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, STOP_TIMEOUT_S)
        if self.channel is not None:
            await self.channel.close()

    def kill(self) -> None:
        """Not possible for an in-process worker."""
        raise RuntimeError("an in-process worker cannot be killed")
