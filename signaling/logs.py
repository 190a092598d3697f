"""How the server's processes log: to stderr (stdout stays for output such as ``--json``), as
``key=value`` lines for a person or, with ``log_format = "json"``, one JSON object a line for a
log collector (python-json-logger), with the same fields: time, level, logger, message and, in
a media worker, its process id.
"""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

# Libraries that say too much at INFO for a server's log.
QUIET = ("aioice", "aiortc", "aiohttp.access")


def setup_logging(level: str, log_format: str = "text", *, worker: int | None = None) -> None:
    """Send the process's logs to stderr at `level`, as text or JSON (`log_format`)."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        static = {"worker": worker} if worker is not None else {}
        handler.setFormatter(
            JsonFormatter(
                "{asctime}{levelname}{name}{message}",
                style="{",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                static_fields=static,
                json_ensure_ascii=False,
            )
        )
    else:
        who = f" worker={worker}" if worker is not None else ""
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s level=%(levelname)s{who} logger=%(name)s %(message)s")
        )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in QUIET:
        logging.getLogger(noisy).setLevel(logging.WARNING)
