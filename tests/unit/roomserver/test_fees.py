"""Expert fees: base for the first hours, hourly for each hour begun after; only who checked in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from roomserver.errors import InvalidRequest
from roomserver.fees import FeeRule, fee_records
from roomserver.model import Event, Participant, Role

T0 = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)


def happened(seq: int, minutes: float, kind: str, expert: str) -> Event:
    data: dict[str, Any] = {"happened": kind, "details": {"expert": expert}}
    return Event(seq, "s1", T0 + timedelta(minutes=minutes), "workflow", "staff", data)


def person(pid: str, role: Role = Role.EXPERT) -> Participant:
    return Participant(pid, "s1", role, f"专家{pid}", "v1", 1 if role == Role.EXPERT else None)


def test_the_base_covers_the_first_hours_and_each_hour_begun_after_is_paid() -> None:
    rule = FeeRule(base_fen=80_000, hourly_fen=10_000, included_hours=4)
    assert rule.amount(0) == 80_000
    assert rule.amount(4 * 3600) == 80_000
    assert rule.amount(4 * 3600 + 1) == 90_000
    assert rule.amount(6.5 * 3600) == 110_000
    with pytest.raises(InvalidRequest):
        FeeRule(base_fen=-1)


def test_time_counts_from_check_in_to_the_end_or_to_leaving() -> None:
    events = [
        happened(1, 0, "expert_checked_in", "a"),
        happened(2, 10, "expert_checked_in", "b"),
        happened(3, 60, "expert_excused", "b"),
        happened(4, 5, "expert_withdrew", "c"),  # never checked in: no fee
    ]
    people = [person("a"), person("b"), person("c"), person("h", Role.HOST)]
    rule = FeeRule(base_fen=50_000, hourly_fen=20_000, included_hours=3)
    records = fee_records(rule, people, events, ended_at=T0 + timedelta(hours=5))
    assert [(r.expert_id, r.seconds, r.amount_fen) for r in records] == [
        ("a", 5 * 3600, 90_000),
        ("b", 50 * 60, 50_000),
    ]
    assert records[0].rule == {"base_fen": 50_000, "hourly_fen": 20_000, "included_hours": 3}
    assert records[0].as_json()["checked_in_at"] == "2026-12-08T01:00:00+00:00"
