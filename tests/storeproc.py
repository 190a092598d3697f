"""Stores in processes of their own, as the servers of a cluster hold them: for concurrency tests.

``run_together(url, jobs)`` starts one ``python -m tests.storeproc URL JOB...`` per job. Each
child imports everything, says ``ready``, and waits for a line on stdin; once all are ready the
parent sends every child its line, so that their work starts at the same moment. Each child
then prints one JSON line with its outcome. Jobs:

- ``start``: start a store on the database (migrating it) and report whether it is empty;
- ``append N NAME``: start a store, then append N events at once (``kind`` ``probe``, session
  ``s1``, actor NAME) and report their seqs.

A failure in a child is reported as ``{"error": "..."}``, not raised, so that the test shows it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from roomserver.config import StoreConfig
from roomserver.store import SqlStore

ROOT = Path(__file__).resolve().parents[1]
READY = b"ready\n"


async def _start(url: str) -> dict[str, Any]:
    async with SqlStore(StoreConfig(database_url=url)) as store:
        return {"empty": await store.is_empty()}


async def _append(url: str, count: int, name: str) -> dict[str, Any]:
    async with SqlStore(StoreConfig(database_url=url)) as store:
        events = await asyncio.gather(
            *(
                store.append_event("probe", {"n": n}, session_id="s1", actor=name)
                for n in range(count)
            )
        )
    return {"seqs": [e.seq for e in events]}


async def _job(url: str, job: list[str]) -> dict[str, Any]:
    if job == ["start"]:
        return await _start(url)
    if len(job) == 3 and job[0] == "append":
        return await _append(url, int(job[1]), job[2])
    raise ValueError(f"unknown job {job}")


def main(argv: list[str]) -> None:
    """Child side: say ready, wait for the go line, run the job, print its outcome as JSON."""
    url, *job = argv
    sys.stdout.buffer.write(READY)
    sys.stdout.flush()
    sys.stdin.readline()
    try:
        outcome = asyncio.run(_job(url, job))
    except Exception as exc:  # reported to the parent, which fails the test with it
        outcome = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(outcome), flush=True)


async def run_together(url: str, jobs: list[list[str]], within: float = 60.0) -> list[Any]:
    """Run `jobs` in child processes that all start their work at once; their outcomes."""
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.storeproc",
            url,
            *job,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for job in jobs
    ]
    try:
        async with asyncio.timeout(within):
            for proc in procs:
                assert proc.stdout is not None
                line = await proc.stdout.readline()
                if line != READY:
                    _, err = await proc.communicate()
                    raise RuntimeError(f"store process did not start: {line!r} {err.decode()}")
            results = await asyncio.gather(*(proc.communicate(b"go\n") for proc in procs))
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    outcomes = []
    for proc, (out, err) in zip(procs, results, strict=True):
        if proc.returncode != 0 or not out.strip():
            raise RuntimeError(f"store process exited {proc.returncode}: {err.decode()}")
        outcomes.append(json.loads(out))
    return outcomes


if __name__ == "__main__":
    main(sys.argv[1:])
