"""Leave and re-draw at any time (7.1.3-3b): a replacement drawn after check-in joins the
current phase once checked in and committed, and nothing waits for the expert who left."""

from __future__ import annotations

from roomserver.committee import Phase
from roomserver.errors import IllegalCommand
from roomserver.workflow import WorkflowState, apply
from tests.unit.roomserver.workflow_support import (
    HOST,
    SNAPSHOT,
    STAFF,
    SUB_STAFF,
    Who,
    at_election,
    at_evaluation,
    at_signing,
    cmd,
    expert,
    put_up,
    refused,
    run,
    sign_cmd,
    signed_by_all,
    spki,
)


def joined(state: WorkflowState, e: str, staff: Who = SUB_STAFF) -> WorkflowState:
    return run(
        state,
        cmd("check_in", staff, expert=e, snapshot=SNAPSHOT),
        cmd("commit", expert(e), expert=e, no_conflict=True),
        cmd("register_key", expert(e), expert=e, public_key=spki(e)),
    )


def test_an_expert_excused_during_the_evaluation_is_replaced_and_the_replacement_signs() -> None:
    state = run(at_evaluation(), cmd("excuse_expert", SUB_STAFF, expert="e3", reason="突发疾病"))
    state, happened = apply(
        state, cmd("replace_expert", SUB_STAFF, expert="e3", replacement="e4", reason="突发疾病")
    )
    assert happened.kind == "expert_replaced" and state.phase == Phase.EVALUATION
    assert state.seated == {"e1", "e2", "e4"}
    state = run(state, cmd("start_signing", expert("e2"), **put_up()))
    # The replacement acts only once checked in and committed.
    refused(state, sign_cmd("e4"), IllegalCommand, "身份核验")
    state = run(state, *(sign_cmd(e) for e in ("e1", "e2")))
    assert state.phase == Phase.SIGNING, "the replacement has not signed yet"
    state = run(joined(state, "e4"), sign_cmd("e4"))
    assert state.signed == {"e1", "e2", "e4"}


def test_a_replacement_during_the_election_votes_in_the_open_round_once_committed() -> None:
    state = at_election()
    state = run(state, cmd("cast_ballot", expert("e1"), expert="e1", candidate="e2"))
    refused(
        state,
        cmd("replace_expert", STAFF, expert="e1", replacement="e4", reason="请假"),
        IllegalCommand,
        "已在本轮推选中投票",
    )
    state = run(
        state, cmd("replace_expert", SUB_STAFF, expert="e3", replacement="e4", reason="请假")
    )
    refused(
        state,
        cmd("cast_ballot", expert("e4"), expert="e4", candidate="e2"),
        IllegalCommand,
        "身份核验",
    )
    state = joined(state, "e4")
    state = run(state, cmd("cast_ballot", expert("e2"), expert="e2", candidate="e2"))
    assert state.phase == Phase.ELECTION, "the round waits for the replacement's ballot"
    state, happened = apply(state, cmd("cast_ballot", expert("e4"), expert="e4", candidate="e2"))
    assert state.leader == "e2" and state.phase == Phase.EVALUATION, happened


def test_only_replacements_check_in_after_the_check_in_phase() -> None:
    state = at_evaluation()
    refused(
        state,
        cmd("check_in", SUB_STAFF, expert="e3", snapshot=SNAPSHOT),
        IllegalCommand,
        "签到",
    )
    refused(state, cmd("commit", expert("e3"), expert="e3", no_conflict=True), IllegalCommand)


def test_who_signed_or_a_session_that_ended_is_not_replaced() -> None:
    state = run(at_signing(), sign_cmd("e3"))
    refused(
        state,
        cmd("replace_expert", SUB_STAFF, expert="e3", replacement="e4", reason="请假"),
        IllegalCommand,
        "已签署",
    )
    ended = run(signed_by_all(), cmd("end", HOST))
    refused(
        ended,
        cmd("replace_expert", SUB_STAFF, expert="e3", replacement="e4", reason="请假"),
        IllegalCommand,
    )
