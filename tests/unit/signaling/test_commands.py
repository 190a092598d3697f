"""Workflow command fields: what each kind may carry, bounded; nothing else is let through."""

from __future__ import annotations

import pytest

from roomserver.errors import IllegalCommand, InvalidRequest
from roomserver.workflow import COMMANDS
from signaling.gate.commands import FIELDS, parse_fields, printable


def test_every_command_of_the_state_machine_has_a_model() -> None:
    assert set(FIELDS) == COMMANDS


def test_known_fields_pass_and_only_those_sent_are_kept() -> None:
    assert parse_fields("vote", {"motion": 1, "abstain": True}) == {"motion": 1, "abstain": True}
    assert parse_fields("start_election", {"tie_rule": "lot"}) == {"tie_rule": "lot"}
    assert parse_fields("excuse_expert", {"expert": "p1", "reason": "未到场"}) == {
        "expert": "p1",
        "reason": "未到场",
    }
    assert parse_fields("end", {}) == {} and parse_fields("end", None) == {}


@pytest.mark.parametrize(
    ("kind", "fields", "where"),
    [
        ("notice", {"text": "x", "padding": "A" * 600_000}, "padding"),  # extra fields
        ("notice", {"text": "x" * 2001}, "text"),
        ("notice", {"text": ["x"]}, "text"),
        ("notice", {"text": "\ud800"}, "Unicode"),  # a lone surrogate
        ("check_in", {"expert": "../p1"}, "expert"),
        ("vote", {"motion": 1.5}, "motion"),
        ("vote", {"motion": True}, "motion"),
        ("vote", {"motion": 10**30}, "motion"),
        ("vote", {"motion": "1"}, "motion"),
        ("start_election", {"tie_rule": "coin"}, "tie_rule"),
        ("start_election", {"candidates": ["p"] * 101}, "candidates"),
        ("cast_ballot", {"candidate": "p1", "lot_seed": "00" * 32}, "lot_seed"),
        ("start_election", {"lot_commitment": "0" * 64}, "lot_commitment"),
        ("sign", {"report_sha256": "X" * 64}, "report_sha256"),
        ("open_motion", {"options": ["同意"] * 21}, "options"),
    ],
)
def test_bad_fields_are_refused_naming_the_field(kind: str, fields: dict, where: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_fields(kind, fields)
    assert where in caught.value.message


def test_an_unknown_kind_is_an_illegal_command_and_logs_safely() -> None:
    with pytest.raises(IllegalCommand):
        parse_fields("leader_elected", {})
    assert printable("\ud800x").encode("utf-8") == b"\\ud800x"
    assert len(printable("k" * 1000)) == 40
