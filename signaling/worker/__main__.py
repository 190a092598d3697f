"""``python -m signaling.worker --fd N --settings JSON``: a media worker process."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time

from signaling.logs import setup_logging
from signaling.worker.process import serve
from signaling.worker.settings import WorkerSettings

logger = logging.getLogger("signaling.worker")


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m signaling.worker --fd N --settings JSON``."""
    parser = argparse.ArgumentParser(prog="roomserver-worker")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--settings", required=True)
    parser.add_argument("--cpu", type=int, default=None, help="run on this CPU only")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        # Before any thread starts, so that every thread of the worker stays there.
        os.sched_setaffinity(0, {args.cpu})
    settings = WorkerSettings.from_json(args.settings)
    setup_logging(settings.log_level, settings.log_format, worker=os.getpid())
    started = time.monotonic()
    asyncio.run(serve(args.fd, settings))
    logger.info("worker stopped after %.0f s", time.monotonic() - started)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
