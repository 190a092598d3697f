"""The event table's chain, row by row: each change named by its seq."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from roomserver.canonical import canonical_json
from roomserver.eventchain import GENESIS, ChainCheck, row_digests

T0 = datetime(2026, 12, 7, 1, 30, 0, 250000, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    seq: int
    session_id: str | None
    at: datetime
    kind: str
    actor: str | None
    data: dict[str, Any]
    hash: str | None
    sm3: str | None


def table(n: int) -> list[Row]:
    """n rows, chained as the store chains them."""
    rows, prev = [], (GENESIS, GENESIS)
    for seq in range(1, n + 1):
        fields = {
            "seq": seq,
            "session_id": "s1" if seq % 2 else None,
            "at": T0 + timedelta(seconds=seq),
            "kind": "note",
            "actor": "host-1",
            "data": {"text": f"第{seq}条", "n": seq / 4},
        }
        prev = row_digests(**fields, prev=prev)
        rows.append(Row(**fields, hash=prev[0], sm3=prev[1]))
    return rows


def check(rows: list[Row], head: tuple[int, str, str] | None = None) -> ChainCheck:
    result = ChainCheck()
    for r in rows:
        result.row(
            seq=r.seq,
            session_id=r.session_id,
            at=r.at,
            kind=r.kind,
            actor=r.actor,
            data=r.data,
            digests=(r.hash, r.sm3),
        )
    last = rows[-1]
    seq, sha, sm3 = head or (last.seq, str(last.hash), str(last.sm3))
    result.head(seq, (sha, sm3))
    return result


def test_a_row_is_the_canonical_json_of_its_fields_and_the_row_before() -> None:
    rows = table(2)
    body = canonical_json(
        {
            "format": 2,
            "seq": 2,
            "session_id": None,
            "at": "2026-12-07T01:30:02.250000+00:00",
            "kind": "note",
            "actor": "host-1",
            "data": {"text": "第2条", "n": 0.5},
            "prev": rows[0].hash,
            "prev_sm3": rows[0].sm3,
        }
    )
    assert rows[1].hash == hashlib.sha256(body).hexdigest()
    assert rows[1].sm3 == hashlib.new("sm3", body).hexdigest()
    # The same instant in another zone is the same row.
    beijing = rows[1].at.astimezone(timezone(timedelta(hours=8)))
    again = row_digests(
        seq=2,
        session_id=None,
        at=beijing,
        kind="note",
        actor="host-1",
        data={"n": 0.5, "text": "第2条"},
        prev=(str(rows[0].hash), str(rows[0].sm3)),
    )
    assert again == (rows[1].hash, rows[1].sm3)


def test_an_intact_table_passes() -> None:
    result = check(table(5))
    assert result.ok and result.rows == 5
    assert result.summary() == "事件表哈希链完整（5 条）"


def test_every_kind_of_change_is_named_by_its_seq() -> None:
    rows = table(6)
    edited = [*rows[:2], replace(rows[2], data={"text": "改过"}), *rows[3:]]
    assert check(edited).problems == [
        "seq 3: its digests are not those of its content and the row before "
        "(edited, or a row before it removed or inserted)"
    ]
    removed = [*rows[:2], *rows[3:]]
    assert check(removed).problems == [
        "seq 4 follows seq 2: rows are missing",
        "seq 4: its digests are not those of its content and the row before "
        "(edited, or a row before it removed or inserted)",
    ]
    renumbered = [*rows[:2], *(replace(r, seq=r.seq - 1) for r in rows[3:])]
    assert check(renumbered).problems[0].startswith("seq 3: its digests are not")
    moved = [replace(r, at=r.at + timedelta(microseconds=1)) if r.seq == 5 else r for r in rows]
    assert check(moved).problems[0].startswith("seq 5: its digests are not")
    truncated = rows[:-1]
    assert check(truncated, head=(6, str(rows[-1].hash), str(rows[-1].sm3))).problems == [
        "the head names seq 6, the last row is seq 5: rows at the end were removed, "
        "or the head was changed"
    ]
    unchained = [*rows[:5], replace(rows[5], hash=None, sm3=None)]
    assert "seq 6: not chained (no digests)" in check(unchained).problems
    # One digest recomputed by a forger is still caught by the other.
    forged = replace(rows[2], data={"text": "改过"})
    resha = row_digests(
        seq=3,
        session_id=forged.session_id,
        at=forged.at,
        kind="note",
        actor="host-1",
        data=forged.data,
        prev=(str(rows[1].hash), str(rows[1].sm3)),
    )
    half = [*rows[:2], replace(forged, hash=resha[0]), *rows[3:]]
    assert check(half).problems[0].startswith("seq 3: its digests are not")
    assert check(half).summary().startswith("事件表哈希链断裂：seq 3")
