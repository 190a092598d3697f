"""The hash-chained event log of one part (``events.jsonl``).

Every line is the RFC 8785 canonical JSON of one record: ``format``, ``seq``, ``at``, ``kind``,
``actor``, ``data``, ``prev`` and ``prev_sm3`` (the line before's digests), then ``hash`` and
``sm3``, the SHA-256 and the SM3 (GB/T 32905) of the canonical JSON of the record without those
two. Two chains over the same bytes: a line edited, removed, inserted or moved breaks both, and
each still holds should the other digest ever be broken.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recorder.hashing import FORMAT, sha256_hex, sm3_hex
from roomserver.canonical import NotCanonical, canonical_json

GENESIS = "0" * 64
FIELDS = frozenset(
    {"format", "seq", "at", "kind", "actor", "data", "prev", "prev_sm3", "hash", "sm3"}
)
DIGESTS = ("hash", "sm3")  # the members a record's digests are not computed over


@dataclass(frozen=True)
class ChainHead:
    """Where a chain goes on from: the SHA-256 and the SM3 of the last line, or of its start."""

    sha256: str
    sm3: str


# The start of part 1's chain; a later part starts from its previous part's seal.json digests.
START = ChainHead(GENESIS, GENESIS)


class EventChainError(ValueError):
    """An existing event log does not chain, so it must not be continued."""


def record_digests(record: Mapping[str, Any]) -> ChainHead:
    """SHA-256 and SM3 of the canonical JSON of `record` without its ``hash`` and ``sm3``.

    NotCanonical when the record has no canonical form (a value RFC 8785 cannot write).
    """
    body = canonical_json({k: v for k, v in record.items() if k not in DIGESTS})
    return ChainHead(sha256_hex(body), sm3_hex(body))


def chain_record(
    seq: int,
    at: str,
    kind: str,
    actor: str | None,
    data: Mapping[str, Any],
    previous: ChainHead,
) -> dict[str, Any]:
    """The full record of one event chained to `previous`, its digests filled in."""
    record: dict[str, Any] = {
        "format": FORMAT,
        "seq": seq,
        "at": at,
        "kind": kind,
        "actor": actor,
        "data": dict(data),
        "prev": previous.sha256,
        "prev_sm3": previous.sm3,
    }
    digests = record_digests(record)
    record["hash"] = digests.sha256
    record["sm3"] = digests.sm3
    return record


def head_of(record: Mapping[str, Any]) -> ChainHead:
    """The digests a record carries (what the next line must name as its prev)."""
    return ChainHead(str(record.get("hash")), str(record.get("sm3")))


def split_torn_tail(raw: bytes) -> tuple[bytes, int]:
    """(complete lines, torn byte count): a crash can leave only the last line half written."""
    if not raw.endswith(b"\n"):
        end = raw.rfind(b"\n") + 1
        return raw[:end], len(raw) - end
    # Ends in a newline but the last line is not JSON: blocks of zeros after a power cut.
    start = raw.rfind(b"\n", 0, len(raw) - 1) + 1
    try:
        json.loads(raw[start:])
    except ValueError:
        return raw[:start], len(raw) - start
    return raw, 0


def _parse(raw: bytes) -> list[dict[str, Any]]:
    """Records of complete lines; a malformed line is an error naming its number."""
    records = []
    for number, line in enumerate(raw.splitlines(), start=1):
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise EventChainError(f"line {number}: not valid JSON ({exc})") from exc
        if not isinstance(record, dict):
            raise EventChainError(f"line {number}: not a JSON object")
        records.append(record)
    return records


def read_events(path: Path) -> list[dict[str, Any]]:
    """Every record of an event log, in file order; raises EventChainError on a bad line."""
    return _parse(path.read_bytes())


def check_chain(records: list[dict[str, Any]], start: ChainHead) -> list[str]:
    """Problems of the chain, each naming its line and seq; empty when the chain is intact."""
    return chain_problems(list(enumerate(records, start=1)), start)


def chain_problems(items: list[tuple[int, dict[str, Any]]], start: ChainHead) -> list[str]:
    """Like check_chain, for (line number, record) pairs: lines that were unreadable are absent."""
    problems: list[str] = []
    expected = start
    last_seq: int | None = None
    previous_line: int | None = None
    for line, record in items:
        where = f"line {line} (seq {record.get('seq', '?')})"
        missing = sorted(FIELDS - record.keys())
        extra = sorted(record.keys() - FIELDS)
        if missing:
            problems.append(f"{where}: missing field(s) {', '.join(missing)}")
        if extra:
            problems.append(f"{where}: unexpected field(s) {', '.join(extra)}")
        if record.get("format") != FORMAT:
            problems.append(f"{where}: format is {record.get('format')!r}, not {FORMAT}")
        try:
            digests = record_digests(record)
        except NotCanonical as exc:
            problems.append(f"{where}: has no canonical JSON form ({exc})")
        else:
            if record.get("hash") != digests.sha256:
                problems.append(
                    f"{where}: hash (SHA-256) does not match the line's content (edited)"
                )
            if record.get("sm3") != digests.sm3:
                problems.append(f"{where}: sm3 does not match the line's content (edited)")
        if record.get("prev") != expected.sha256 or record.get("prev_sm3") != expected.sm3:
            if previous_line is None:
                problems.append(
                    f"{where}: prev is not the start of this part's chain (64 zeros for the "
                    "first part, else the digests of the previous part's seal.json)"
                )
            else:
                problems.append(
                    f"{where}: prev is not the hash of line {previous_line} "
                    "(a line was removed, inserted or reordered)"
                )
        seq = record.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool):
            problems.append(f"{where}: seq is not an integer")
        else:
            if last_seq is not None and seq <= last_seq:
                problems.append(f"{where}: seq {seq} does not follow seq {last_seq}")
            last_seq = seq
        # The next line must chain to what is written here, so one edit is reported once.
        expected = head_of(record)
        previous_line = line
    return problems


class EventLogWriter:
    """Appends chained events to one part's log; every line is fsynced before it counts."""

    def __init__(self, path: Path, start: ChainHead) -> None:
        """Open (or continue, after a restart of the same part) the log at `path`."""
        self.path = path
        self.truncated_bytes = 0
        self._head = start
        self._last_seq: int | None = None
        self._count = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        created = not path.exists()
        if not created:
            self._resume(start)
        self._file = path.open("ab")
        if created:
            # The new directory entry must survive a crash too, not only the file's bytes.
            fsync_dir(path.parent)

    def _resume(self, start: ChainHead) -> None:
        raw = self.path.read_bytes()
        complete, torn = split_torn_tail(raw)
        records = _parse(complete)
        problems = check_chain(records, start)
        if problems:
            raise EventChainError(f"{self.path}: " + "; ".join(problems))
        if torn:
            with self.path.open("r+b") as f:
                f.truncate(len(complete))
                f.flush()
                os.fsync(f.fileno())
            self.truncated_bytes = torn
        if records:
            self._head = head_of(records[-1])
            self._last_seq = records[-1]["seq"]
        self._count = len(records)

    @property
    def head(self) -> ChainHead:
        """Digests of the last line written, or the chain's start when there is none."""
        return self._head

    @property
    def last_hash(self) -> str:
        """SHA-256 of the last line written, or the chain's start when there is none."""
        return self._head.sha256

    @property
    def last_seq(self) -> int | None:
        """Seq of the last line written, None when the log is empty."""
        return self._last_seq

    @property
    def count(self) -> int:
        """Lines in the log."""
        return self._count

    def append(
        self, seq: int, at: str, kind: str, actor: str | None, data: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Write one chained event durably and return the full record."""
        if self._file.closed:
            raise ValueError(f"{self.path}: the event log is closed")
        if self._last_seq is not None and seq <= self._last_seq:
            raise ValueError(f"seq {seq} does not follow seq {self._last_seq}")
        record = chain_record(seq, at, kind, actor, data, self._head)
        self._file.write(canonical_json(record) + b"\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self._head = head_of(record)
        self._last_seq = seq
        self._count += 1
        return record

    def close(self) -> None:
        """Close the file; safe to call twice."""
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> EventLogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def fsync_dir(path: Path) -> None:
    """Persist a directory's entries (no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
