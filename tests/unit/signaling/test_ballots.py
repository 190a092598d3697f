"""Ballot keys per session and round, and election seeds: made when needed, destroyed after."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from roomserver.workflow import Phase, WorkflowState
from signaling.services.ballots import BallotKeys


def state(phase: Phase, round_no: int = 1) -> WorkflowState:
    return WorkflowState("s1", "v1", {}, phase=phase, election_round=round_no)


def test_a_rounds_key_seals_its_ballots_and_is_private(tmp_path: Path) -> None:
    keys = BallotKeys(tmp_path / "ballots")
    sealed = keys.seal("s1", 1, "e1", "e2")
    assert "e2" not in sealed
    assert keys.open("s1", 1, "e1", sealed) == "e2"
    with pytest.raises(InvalidTag):
        keys.open("s1", 1, "e3", sealed)  # bound to the voter
    assert stat.S_IMODE((tmp_path / "ballots").stat().st_mode) == 0o700
    assert stat.S_IMODE(keys.key_path("s1", 1).stat().st_mode) == 0o600
    # Another round has another key.
    keys.create("s1", 2)
    assert keys.key_path("s1", 1).read_bytes() != keys.key_path("s1", 2).read_bytes()


def test_a_published_round_can_no_longer_be_opened(tmp_path: Path) -> None:
    keys = BallotKeys(tmp_path / "ballots")
    sealed = keys.seal("s1", 1, "e1", "e2")
    keys.keep_seed("s1", b"\x01" * 32)
    keys.settle("s1", state(Phase.ELECTION, 2))  # round 1 tied: round 2 opens
    assert not keys.key_path("s1", 1).exists() and keys.key_path("s1", 2).exists()
    assert keys.open("s1", 1, "e1", sealed) is None
    assert keys.seed("s1") == b"\x01" * 32
    keys.settle("s1", state(Phase.EVALUATION, 2))  # decided: nothing is kept
    assert keys.seed("s1") is None and list((tmp_path / "ballots").iterdir()) == []


def test_settling_a_session_leaves_the_others_alone(tmp_path: Path) -> None:
    keys = BallotKeys(tmp_path / "ballots")
    keys.create("s1", 1)
    keys.create("s1-b", 1)
    keys.keep_seed("s1-b", b"\x02" * 32)
    keys.settle("s1", state(Phase.EVALUATION))
    assert not keys.key_path("s1", 1).exists()
    assert keys.key_path("s1-b", 1).exists() and keys.seed("s1-b") == b"\x02" * 32


def test_a_session_id_is_never_a_path(tmp_path: Path) -> None:
    keys = BallotKeys(tmp_path / "ballots")
    with pytest.raises(ValueError):
        keys.create("../s1", 1)
