"""The archive access log (调阅记录): who opened, played or exported which archive, and when.

Hash-chained like a session's event log (``recorder.eventlog``): each line carries the hash of
the one before, and every line is on disk before the access it records is served, so a line
removed or changed later breaks the chain that ``archive access-log`` checks.

The server and the command line (``archive export``) both write to it: each record is written
under an exclusive lock on the file and chained to the line that is last in the file at that
moment, so two writers never fork the chain.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recorder.eventlog import (
    START,
    ChainHead,
    chain_record,
    check_chain,
    fsync_dir,
    head_of,
    read_events,
)
from roomserver.canonical import canonical_json
from roomserver.privatefiles import PRIVATE_FILE_MODE, make_private_dir, tighten

ACCESS_LOG = "access-log.jsonl"
TAIL_BYTES = 64 * 1024  # far more than one record


class AccessLog:
    """Appends access records to the data directory's access log."""

    def __init__(self, path: Path) -> None:
        self.path = path
        make_private_dir(path.parent)
        tighten(path)  # a log an older version left readable by others

    def record(self, kind: str, actor: str, **data: Any) -> dict[str, Any]:
        """Write one access durably and return it (blocking: call from a thread)."""
        created = not self.path.exists()
        # Created with mode 600: who opened which archive is not for other users to read.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, PRIVATE_FILE_MODE)
        with os.fdopen(fd, "a+b") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                seq, previous = _last(f)
                at = datetime.fromtimestamp(time.time(), UTC).isoformat()
                record = chain_record(seq + 1, at, kind, actor, data, previous)
                f.seek(0, os.SEEK_END)
                f.write(canonical_json(record) + b"\n")
                f.flush()
                os.fsync(f.fileno())
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        if created:
            fsync_dir(self.path.parent)
        return record

    def close(self) -> None:
        """Nothing stays open between records; kept for symmetry with other logs."""


def _last(f: Any) -> tuple[int, ChainHead]:
    """Seq and digests of the file's last whole line; a torn tail (a crash mid-line) is cut off."""
    size = f.seek(0, os.SEEK_END)
    if size == 0:
        return 0, START
    start = max(0, size - TAIL_BYTES)
    f.seek(start)
    tail = f.read()
    end = tail.rfind(b"\n")
    if end < 0:
        raise ValueError("the access log's last record is longer than expected")
    if end != len(tail) - 1:
        f.truncate(start + end + 1)
    lines = tail[: end + 1].splitlines()
    last = json.loads(lines[-1])
    return int(last["seq"]), head_of(last)


def check_access_log(path: Path) -> tuple[int, list[str]]:
    """The number of records and the problems of the chain (none when intact)."""
    records = read_events(path)
    return len(records), check_chain(records, START)
