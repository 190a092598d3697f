"""A supervisor for the room benchmark: a process that watches the room and focuses on a seat.

It runs a WallClient (Socket.IO ``/wall`` and aiortc viewers, as the wall page does): one
``watch`` of the room (grid and mix) and one ``focus`` on a seat (its camera and desktop as sent,
and the mix). It answers the parent's ``mark`` with the frames it has received so far, so the
benchmark can show that the supervisor was really served during the window, and ``report`` with
when each new frame counter of the focused camera arrived (``time.time()``), which the parent
matches with the seat's own log of when it sent each counter: the forwarded stream's delay.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import multiprocessing as mp
import os
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import psutil

from bench.common import ask_child, cpu_seconds, start_child

#: The supervisor process and the parent's end of its pipe.
Supervisor = tuple[mp.process.BaseProcess, Connection]


@dataclass
class SupervisorJob:
    """Where the supervisor watches: the room and the seat to focus on."""

    base_url: str
    token: str
    session_id: str
    seat: str
    cpus: set[int] | None = None


def supervisor_process(job: SupervisorJob, conn: Connection) -> None:
    """Entry point: watch until told to stop; report errors instead of dying silently."""
    if job.cpus:
        os.sched_setaffinity(0, job.cpus)
    try:
        asyncio.run(_run(job, conn))
    except Exception as exc:
        with contextlib.suppress(OSError):
            conn.send(("error", repr(exc)))
    finally:
        conn.close()


async def _run(job: SupervisorJob, conn: Connection) -> None:
    from signaling.testing.wall import WallClient

    async with WallClient(
        job.base_url, job.token, keep_rgb=False, read_counters=("camera",)
    ) as wall:
        await wall.wait_rooms(
            lambda rooms: any(r["session_id"] == job.session_id and r["live"] for r in rooms), 30
        )
        watch = await wall.watch(job.session_id)
        focus = await wall.focus(job.session_id, job.seat)
        await watch.wait_frames("grid", 5, 30)
        await focus.wait_frames("camera", 5, 30)

        def counts() -> dict[str, Any]:
            return {
                "t": time.time(),
                "grid": watch.tracks["grid"].frames,
                "camera": focus.tracks["camera"].frames,
                "desktop": focus.tracks["desktop"].frames,
                "mix": focus.tracks["mix"].frames,
            }

        conn.send(("ready", counts()))
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command == "mark":
                conn.send(("mark", counts()))
            elif command == "report":
                counters = list(focus.tracks["camera"].counters)
                conn.send(("report", {**counts(), "counters": counters}))
            elif command == "stop":
                conn.send(("stopped", counts()))
                return


# ---- the parent's side -------------------------------------------------------------------------


def start_supervisor(ctx: Any, job: SupervisorJob, timeout: float) -> Supervisor:
    """The supervisor process, once it watches the room and the seat."""
    return start_child(ctx, supervisor_process, (job,), who="supervisor", timeout=timeout)


def ask_supervisor(supervisor: Supervisor, message: str, timeout: float) -> dict[str, Any]:
    """Send the supervisor `message` and return its answer of the same name."""
    return dict(ask_child(supervisor[1], message, message, timeout))


def mark_supervisor(supervisor: Supervisor | None, timeout: float) -> dict[str, Any] | None:
    """The supervisor's frame counts and CPU seconds now."""
    if supervisor is None:
        return None
    data = ask_supervisor(supervisor, "mark", timeout)
    proc = supervisor[0]
    assert proc.pid is not None
    return {**data, "cpu": cpu_seconds(psutil.Process(proc.pid))}


def focus_delays(
    received: list[tuple[float, int]],
    sent: list[tuple[int, float]],
    window: tuple[float, float],
) -> list[float]:
    """The forwarded camera's delay for each new counter the supervisor received in `window`:
    from the seat's last sending of that counter before its arrival (a looped counter is sent
    again every loop), wall-clock times of the same machine."""
    times: dict[int, list[float]] = {}
    for counter, at in sent:
        times.setdefault(counter, []).append(at)
    delays = []
    for arrived, counter in received:
        if not window[0] <= arrived <= window[1]:
            continue
        sends = sorted(times.get(counter, ()))
        before = bisect.bisect_right(sends, arrived)
        if before:
            delays.append(arrived - sends[before - 1])
    return delays
