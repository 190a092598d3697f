"""The store's event table, hash-chained like the archive's event logs (活动记录防篡改).

Workflow state is rebuilt from the event table, so a row edited, removed or inserted in the
database must show. Every row carries ``hash`` and ``sm3``: the SHA-256 and the SM3 (GB/T 32905)
of the RFC 8785 canonical JSON of ::

    {"format": 2, "seq": …, "session_id": …, "at": …, "kind": …, "actor": …, "data": …,
     "prev": …, "prev_sm3": …}

where ``at`` is the row's time in ISO 8601 (UTC, as Python writes it) and ``prev``/``prev_sm3``
are the digests of the row before, 64 zeros before the first. One more row, the head, holds the
seq and the digests of the last row: rows removed from the end show against it, and appenders
queue on it, so that each row chains to the one committed before it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from roomserver.canonical import canonical_json

FORMAT = 2
GENESIS = "0" * 64
# Problems beyond this many are counted, not listed: one edit in a long table is enough to know.
MAX_LISTED = 20


def at_text(at: datetime) -> str:
    """A row's time as its digests take it."""
    return at.astimezone(UTC).isoformat()


def row_digests(
    *,
    seq: int,
    session_id: str | None,
    at: datetime,
    kind: str,
    actor: str | None,
    data: Mapping[str, Any],
    prev: tuple[str, str],
) -> tuple[str, str]:
    """(SHA-256, SM3) of a row chained to the row before's (SHA-256, SM3).

    NotCanonical (a ValueError) when `data` has no canonical JSON form.
    """
    body = canonical_json(
        {
            "format": FORMAT,
            "seq": seq,
            "session_id": session_id,
            "at": at_text(at),
            "kind": kind,
            "actor": actor,
            "data": dict(data),
            "prev": prev[0],
            "prev_sm3": prev[1],
        }
    )
    return hashlib.sha256(body).hexdigest(), hashlib.new("sm3", body).hexdigest()


@dataclass
class ChainCheck:
    """Walks the table in seq order, row by row; what it found."""

    rows: int = 0
    problems: list[str] = field(default_factory=list)
    more: int = 0  # problems found beyond those listed
    _prev: tuple[str, str] = (GENESIS, GENESIS)
    _last_seq: int = 0

    @property
    def ok(self) -> bool:
        """Whether the chain is intact."""
        return not self.problems

    def _problem(self, text: str) -> None:
        if len(self.problems) < MAX_LISTED:
            self.problems.append(text)
        else:
            self.more += 1

    def row(
        self,
        *,
        seq: int,
        session_id: str | None,
        at: datetime,
        kind: str,
        actor: str | None,
        data: Mapping[str, Any],
        digests: tuple[str | None, str | None],
    ) -> None:
        """The next row, in seq order."""
        self.rows += 1
        if seq != self._last_seq + 1:
            self._problem(f"seq {seq} follows seq {self._last_seq}: rows are missing")
        try:
            expected = row_digests(
                seq=seq,
                session_id=session_id,
                at=at,
                kind=kind,
                actor=actor,
                data=data,
                prev=self._prev,
            )
        except ValueError:
            expected = ("", "")
        if digests != expected:
            if digests[0] is None:
                self._problem(f"seq {seq}: not chained (no digests)")
            else:
                self._problem(
                    f"seq {seq}: its digests are not those of its content and the row before "
                    "(edited, or a row before it removed or inserted)"
                )
        # Go on from what is written, so that one change is reported once.
        self._prev = (digests[0] or "", digests[1] or "")
        self._last_seq = seq

    def head(self, seq: int, digests: tuple[str, str]) -> None:
        """The head row, after the last row: it names the last row's seq and digests."""
        if seq != self._last_seq or digests != self._prev:
            self._problem(
                f"the head names seq {seq}, the last row is seq {self._last_seq}: rows at the "
                "end were removed, or the head was changed"
            )

    def summary(self) -> str:
        """One line for people."""
        if self.ok:
            return f"事件表哈希链完整（{self.rows} 条）"
        more = f"，另有 {self.more} 处" if self.more else ""
        return f"事件表哈希链断裂：{self.problems[0]}（共 {len(self.problems)} 处{more}）"
