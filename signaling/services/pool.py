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

from signaling.services.signals import Signals
from signaling.wire import Channel, ConnectionLost
from signaling.worker.settings import WorkerSettings

logger = logging.getLogger(__name__)

EventCallback = Callable[["WorkerProcess", str, dict[str, Any]], None]
WorkerFactory = Callable[[int, WorkerSettings, EventCallback], "WorkerProcess"]
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
        self.generation = 0
        # Being emptied for maintenance: no new room goes here.
        self.draining = False

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

    def cpu(self) -> int | None:
        """The CPU this worker runs on, when workers are pinned (one per CPU, in turn)."""
        if not self.settings.pin_cpus or not hasattr(os, "sched_getaffinity"):
            return None
        cpus = sorted(os.sched_getaffinity(0))
        return cpus[self.index % len(cpus)] if len(cpus) > 1 else None

    async def start(self) -> None:
        """Start the process and say hello over a fresh socket pair."""
        ours, theirs = socket.socketpair()
        cpu = self.cpu()
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "signaling.worker",
                "--fd",
                str(theirs.fileno()),
                *(["--cpu", str(cpu)] if cpu is not None else []),
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
        hello = await self._connect(ours)
        logger.info(
            "media worker %d started (pid %s%s)",
            self.index,
            hello.get("pid"),
            f", CPU {cpu}" if cpu is not None else "",
        )

    async def _connect(self, sock: socket.socket) -> dict[str, Any]:
        """Open the channel on our end of the socket pair and say hello."""
        reader, writer = await asyncio.open_connection(sock=sock)
        self.generation += 1
        self.channel = Channel(
            reader,
            writer,
            name=f"worker-{self.index}",
            on_event=lambda name, params: self._on_event(self, name, params),
        )
        await self.channel.start()
        hello: dict[str, Any] = await self.channel.request("hello", {}, timeout_s=30)
        self.rooms.clear()
        self.draining = False
        return hello

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


class WorkerPool:
    """The media workers of a server: start them, place rooms, notice and replace dead ones."""

    def __init__(
        self,
        count: int,
        settings: WorkerSettings,
        signals: Signals,
        make_worker: WorkerFactory = WorkerProcess,
    ) -> None:
        """`count` workers made by `make_worker`; what they report goes out as
        ``signals.worker_event``, and a worker that died is ``signals.worker_lost`` once it has
        been restarted."""
        self._settings = settings
        self._signals = signals
        self.workers = [make_worker(i, settings, signals.worker_event) for i in range(count)]
        self._watchers: dict[int, asyncio.Task[None]] = {}
        self._closing = False

    async def start(self) -> None:
        """Start every worker."""
        await asyncio.gather(*(w.start() for w in self.workers))
        for worker in self.workers:
            self._watch(worker)

    def place(self, seats: Callable[[WorkerProcess], int] = lambda w: 0) -> WorkerProcess:
        """The worker for a new room: the live one with the fewest seats, then fewest rooms."""
        live = (
            [w for w in self.workers if w.alive and not w.draining]
            or [w for w in self.workers if w.alive]
            or self.workers
        )
        return min(live, key=lambda w: (seats(w), len(w.rooms), w.index))

    async def close(self) -> None:
        """Stop every worker (they seal their rooms); safe to call twice."""
        self._closing = True
        for task in self._watchers.values():
            task.cancel()
        for task in self._watchers.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._watchers.clear()
        await asyncio.gather(*(w.stop() for w in self.workers), return_exceptions=True)

    def _watch(self, worker: WorkerProcess) -> None:
        self._watchers[worker.index] = asyncio.create_task(
            self._watch_worker(worker), name=f"watch-worker-{worker.index}"
        )

    async def _watch_worker(self, worker: WorkerProcess) -> None:
        while not self._closing:
            await worker.wait_lost()
            if self._closing:
                return
            lost = set(worker.rooms)
            logger.error(
                "media worker %d (pid %s) is gone with %d rooms; restarting",
                worker.index,
                worker.pid,
                len(lost),
            )
            if worker.process is not None:
                with contextlib.suppress(ProcessLookupError):
                    worker.process.kill()
                await worker.process.wait()
            try:
                await worker.start()
            except Exception:
                logger.exception("media worker %d could not be restarted", worker.index)
                await asyncio.sleep(1.0)
                continue
            try:
                await self._signals.worker_lost(worker, lost)
            except Exception:
                logger.exception("re-placing the rooms of worker %d failed", worker.index)
