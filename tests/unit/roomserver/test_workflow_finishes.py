"""The rules that let every session finish: excusing an absent expert, closing or cancelling a
motion, abstaining, the tie rule and its draw by lot, and an administrator's forced end."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from roomserver import lots
from roomserver.errors import IllegalCommand, RoleNotAllowed
from roomserver.model import Role
from roomserver.workflow import Command, Phase, WorkflowState, apply
from tests.unit.roomserver.workflow_support import (
    COMMITMENT,
    EXPERTS,
    HOST,
    LOT,
    MAIN,
    REVOTE,
    SEED,
    SESSION,
    SNAPSHOT,
    STAFF,
    SUB,
    SUB_STAFF,
    SUPERVISOR,
    Who,
    at_check_in,
    at_election,
    at_evaluation,
    at_signing,
    ballots,
    checked_in,
    cmd,
    expert,
    fresh,
    refused,
    run,
    sign_cmd,
    spki,
)

ADMIN = ("admin", Role.ADMIN, None)
SUB_HOST = ("host-2", Role.HOST, SUB)


def excuse(e: str, who: Who = HOST, reason: str = "专家未到场，联系不上") -> Command:
    return cmd("excuse_expert", who, expert=e, reason=reason)


def test_an_absent_expert_is_excused_by_the_main_host_or_their_venues_staff() -> None:
    state = run(at_check_in(), cmd("check_in", STAFF, expert="e1", snapshot=SNAPSHOT))
    refused(fresh(), excuse("e3"), IllegalCommand, "未在进行中")
    refused(state, excuse("e3", STAFF), RoleNotAllowed, "本评标室")
    refused(state, excuse("e3", SUB_HOST), RoleNotAllowed, "主场主持人")
    refused(state, excuse("e3", SUPERVISOR), RoleNotAllowed)
    refused(state, excuse("e3", expert("e3")), RoleNotAllowed)
    refused(state, excuse("e3", reason=" "), IllegalCommand, "离席原因")
    refused(state, excuse("stranger"), IllegalCommand, "名单")
    state, happened = apply(state, excuse("e3", SUB_STAFF))
    assert happened.kind == "expert_excused"
    assert happened.data == {
        "expert": "e3",
        "venue": SUB,
        "reason": "专家未到场，联系不上",
        "phase": "check_in",
    }
    assert state.seated == {"e1", "e2"} and state.excused == {"e3"}
    refused(state, excuse("e3"), IllegalCommand, "离席")
    # An excused expert no longer acts, nor is checked in.
    refused(state, cmd("check_in", SUB_STAFF, expert="e3", snapshot=SNAPSHOT), IllegalCommand)
    refused(state, cmd("withdraw", expert("e3"), expert="e3", reason="x"), IllegalCommand, "请离席")
    # The election no longer waits for the excused expert.
    state = run(
        state,
        cmd("commit", expert("e1"), expert="e1", no_conflict=True),
        cmd("register_key", expert("e1"), expert="e1", public_key=spki("e1")),
    )
    state = run(checked_in(state, "e2"), cmd("start_election", HOST, **REVOTE))
    assert state.candidates == ("e1", "e2")
    refused(state, cmd("cast_ballot", expert("e3"), expert="e3", candidate="e1"), IllegalCommand)


def test_excusing_the_last_missing_voter_counts_the_round() -> None:
    state, _ = ballots(at_election(), {"e1": "e2", "e3": "e3"})  # e2 is missing
    state, happened = apply(state, excuse("e2"))
    election = happened.data["election"]
    assert election["happened"] == "leader_elected"
    # Ballots cast before the excusal stay counted; an excused candidate cannot lead.
    assert election["tally"] == {"e1": 0, "e2": 1, "e3": 1} and election["leader"] == "e3"
    assert state.phase == Phase.EVALUATION and state.leader == "e3"


def test_an_excused_candidate_is_not_chosen_any_more() -> None:
    state, _ = ballots(at_election(), {"e1": "e1"})
    state = run(state, excuse("e1", STAFF))
    refused(state, cmd("cast_ballot", expert("e2"), expert="e2", candidate="e1"), IllegalCommand)
    state, (_, last) = ballots(state, {"e2": "e2", "e3": "e3"})
    assert last.kind == "election_tied" and last.data["candidates"] == ["e2", "e3"]
    # The last candidate still seated cannot be excused while the round is open.
    state = run(
        state,
        cmd("cast_ballot", expert("e2"), expert="e2", candidate="e3"),
        excuse("e2"),
    )
    refused(state, excuse("e3", SUB_STAFF), IllegalCommand, "最后一名")


def test_the_last_seated_expert_is_not_excused() -> None:
    state = run(at_check_in(), excuse("e1"), excuse("e2"))
    refused(state, excuse("e3"), IllegalCommand, "最后一名")


def test_excusing_the_last_missing_voter_closes_the_motion() -> None:
    state = run(
        at_evaluation(),
        cmd("open_motion", expert("e2"), title="是否否决投标人甲", options=["同意", "不同意"]),
        cmd("vote", expert("e1"), expert="e1", motion=1, option="同意"),
        cmd("vote", expert("e3"), expert="e3", motion=1, abstain=True),
    )
    state, happened = apply(state, excuse("e2"))
    assert happened.data["motion"] == {
        "motion": 1,
        "result": {"同意": 1, "不同意": 0},
        "abstained": 1,
    }
    assert state.open_motion() is None and state.leader == "e2"
    # The host acts for the excused leader.
    run(state, cmd("open_motion", HOST, title="下一事项", options=["同意", "不同意"]))
    refused(state, cmd("open_motion", expert("e2"), title="x", options=["a", "b"]), IllegalCommand)


def test_excusing_an_absent_expert_lets_the_signing_end() -> None:
    state = run(at_signing(), sign_cmd("e1"), sign_cmd("e2"))
    refused(state, cmd("end", HOST), IllegalCommand, "1 名专家未签署")
    refused(state, excuse("e1"), IllegalCommand, "已签署")
    state = run(state, excuse("e3", SUB_STAFF), cmd("end", HOST))
    assert state.phase == Phase.ENDED and state.signed == {"e1", "e2"}


def test_a_motion_is_closed_with_the_votes_so_far_or_cancelled() -> None:
    motion = {"title": "是否否决投标人甲", "options": ["同意", "不同意"]}
    state = run(
        at_evaluation(),  # leader e2
        cmd("open_motion", expert("e2"), **motion),
        cmd("vote", expert("e1"), expert="e1", motion=1, option="不同意"),
    )
    refused(state, cmd("close_motion", expert("e1"), motion=1), RoleNotAllowed, "组长")
    refused(state, cmd("close_motion", STAFF, motion=1), RoleNotAllowed)
    refused(state, cmd("close_motion", HOST, motion=2), IllegalCommand, "不存在")
    closed, happened = apply(state, cmd("close_motion", expert("e2"), motion=1))
    assert happened.kind == "motion_closed"
    assert happened.data == {
        "motion": 1,
        "result": {"同意": 0, "不同意": 1},
        "abstained": 0,
        "not_voted": ["e2", "e3"],
    }
    refused(closed, cmd("vote", expert("e3"), expert="e3", motion=1, option="同意"), IllegalCommand)
    refused(closed, cmd("close_motion", HOST, motion=1), IllegalCommand)

    refused(state, cmd("cancel_motion", HOST, motion=1), IllegalCommand, "撤销原因")
    refused(state, cmd("cancel_motion", expert("e3"), motion=1, reason="x"), RoleNotAllowed)
    cancelled, happened = apply(state, cmd("cancel_motion", HOST, motion=1, reason="议题有误"))
    assert happened.kind == "motion_cancelled"
    assert happened.data == {"motion": 1, "reason": "议题有误"}
    (m,) = cancelled.motions
    assert m.closed and m.cancelled == "议题有误" and cancelled.open_motion() is None
    refused(
        cancelled, cmd("vote", expert("e3"), expert="e3", motion=1, option="同意"), IllegalCommand
    )


def test_an_expert_may_abstain_on_a_motion() -> None:
    state = run(
        at_evaluation(),
        cmd("open_motion", HOST, title="是否否决投标人甲", options=["同意", "不同意"]),
    )
    refused(
        state,
        cmd("vote", expert("e1"), expert="e1", motion=1, option="同意", abstain=True),
        IllegalCommand,
        "弃权",
    )
    state, happened = apply(state, cmd("vote", expert("e1"), expert="e1", motion=1, abstain=True))
    assert happened.data == {"motion": 1, "expert": "e1", "abstain": True}
    refused(state, cmd("vote", expert("e1"), expert="e1", motion=1, option="同意"), IllegalCommand)
    state = run(state, cmd("vote", expert("e2"), expert="e2", motion=1, option="同意"))
    state, happened = apply(state, cmd("vote", expert("e3"), expert="e3", motion=1, abstain=True))
    assert happened.kind == "motion_closed"
    assert happened.data["result"] == {"同意": 1, "不同意": 0} and happened.data["abstained"] == 2


def test_a_blank_ballot_counts_as_voted_and_apart_in_the_tally() -> None:
    state = at_election()
    refused(
        state,
        cmd("cast_ballot", expert("e1"), expert="e1", candidate="e2", abstain=True),
        IllegalCommand,
        "弃权",
    )
    state, happened = apply(state, cmd("cast_ballot", expert("e1"), expert="e1", abstain=True))
    assert happened.data == {"round": 1, "expert": "e1", "voted": 1, "of": 3}
    assert state.voted == {"e1"}
    state, (_, last) = ballots(state, {"e2": "e3", "e3": "e3"})
    assert last.kind == "leader_elected" and last.data["abstained"] == 1
    assert last.data["tally"] == {"e1": 0, "e2": 0, "e3": 2}


def elect_with(rule: dict[str, Any]) -> WorkflowState:
    state = at_check_in()
    for e in sorted(EXPERTS):
        state = checked_in(state, e)
    return run(state, cmd("start_election", HOST, **rule))


def test_the_tie_rule_is_chosen_before_the_ballot() -> None:
    state = at_check_in()
    for e in sorted(EXPERTS):
        state = checked_in(state, e)
    refused(state, cmd("start_election", HOST, lot_commitment=COMMITMENT), IllegalCommand, "平票")
    refused(
        state,
        cmd("start_election", HOST, tie_rule="toss", lot_commitment=COMMITMENT),
        IllegalCommand,
    )
    for rounds in (None, 0, 6, "3", True):
        refused(
            state,
            cmd("start_election", HOST, **{**REVOTE, "max_rounds": rounds}),
            IllegalCommand,
            "1 至 5",
        )
    refused(state, cmd("start_election", HOST, **{**LOT, "max_rounds": 3}), IllegalCommand)
    refused(state, cmd("start_election", HOST, tie_rule="lot"), IllegalCommand, "承诺")
    state, happened = apply(state, cmd("start_election", HOST, **LOT))
    assert happened.data == {
        "round": 1,
        "candidates": ["e1", "e2", "e3"],
        "tie_rule": "lot",
        "max_rounds": 1,
        "lot_commitment": COMMITMENT,
    }


def test_a_tie_under_the_lot_rule_is_drawn_at_once_and_anybody_can_check_the_draw() -> None:
    state, _ = ballots(elect_with(LOT), {"e1": "e1", "e2": "e2"})
    last_ballot = cmd("cast_ballot", expert("e3"), expert="e3", candidate="e3")
    refused(state, last_ballot, IllegalCommand, "抽签种子")
    wrong = cmd("cast_ballot", expert("e3"), expert="e3", candidate="e3", lot_seed="00" * 32)
    refused(state, wrong, IllegalCommand, "承诺值")
    seeded = cmd("cast_ballot", expert("e3"), expert="e3", candidate="e3", lot_seed=SEED.hex())
    state, happened = apply(state, seeded)
    assert happened.kind == "leader_drawn"
    data = happened.data
    assert data["tied"] == ["e1", "e2", "e3"] and data["seed"] == SEED.hex()
    assert data["lot_commitment"] == COMMITMENT and data["tally"] == {"e1": 1, "e2": 1, "e3": 1}
    assert data["leader"] == lots.winner(SEED, SESSION, 1, ["e1", "e2", "e3"])
    assert lots.verify_draw(data["seed"], COMMITMENT, SESSION, 1, data["tied"], data["leader"])
    assert state.phase == Phase.EVALUATION and state.leader == data["leader"]


def test_ties_are_voted_again_at_most_max_rounds_then_drawn() -> None:
    state = elect_with({**REVOTE, "max_rounds": 2})
    state, happened = ballots(state, {"e1": "e1", "e2": "e2", "e3": "e3"})
    assert happened[-1].kind == "election_tied" and state.election_round == 2
    state, _ = ballots(state, {"e1": "e1", "e2": "e2"})
    state, happened = apply(
        state,
        cmd("cast_ballot", expert("e3"), expert="e3", abstain=True, lot_seed=SEED.hex()),
    )
    assert happened.kind == "leader_drawn" and happened.data["round"] == 2
    assert happened.data["tied"] == ["e1", "e2"] and happened.data["abstained"] == 1
    assert state.leader == lots.winner(SEED, SESSION, 2, ["e1", "e2"])


def test_a_round_whose_ballots_cannot_be_read_is_replayed_from_its_published_tally() -> None:
    live = elect_with(LOT)
    commands = [
        cmd("cast_ballot", expert("e1"), expert="e1", candidate="e2"),
        cmd("cast_ballot", expert("e2"), expert="e2", candidate="e1"),
        cmd("cast_ballot", expert("e3"), expert="e3", abstain=True, lot_seed=SEED.hex()),
    ]
    recorded = []
    for command in commands:
        live, happened = apply(live, command)
        recorded.append(happened.data)
    # The key is gone: each ballot is replayed without its choice, with what the log recorded.
    replayed = elect_with(LOT)
    for command, details in zip(commands, recorded, strict=True):
        sealed = Command(
            kind=command.kind,
            actor=command.actor,
            role=command.role,
            fields={"expert": command.actor},
            venue=command.venue,
            recorded=details,
        )
        replayed, _ = apply(replayed, sealed)
    assert replayed == live and replayed.leader == recorded[-1]["leader"]
    # A recorded tally that does not add up to the ballots cast is refused.
    state = run(
        elect_with(LOT),
        *(
            Command(c.kind, c.actor, c.role, {"expert": c.actor}, c.venue, recorded=d)
            for c, d in zip(commands[:2], recorded[:2], strict=True)
        ),
    )
    forged = {**recorded[-1], "tally": {"e1": 3, "e2": 0, "e3": 0}}
    last = Command("cast_ballot", "e3", Role.EXPERT, {"expert": "e3"}, SUB, recorded=forged)
    refused(state, last, IllegalCommand, "计票结果")
    # Live, a ballot without a choice is refused.
    refused(state, cmd("cast_ballot", expert("e3"), expert="e3"), IllegalCommand, "候选人")


def test_an_administrator_forces_the_end_with_a_reason_at_any_phase() -> None:
    for state in (fresh(), at_check_in(), at_election(), at_evaluation(), at_signing()):
        refused(state, cmd("force_end", HOST, reason="x"), RoleNotAllowed, "管理员")
        refused(state, cmd("force_end", SUPERVISOR, reason="x"), RoleNotAllowed)
        refused(state, cmd("force_end", ADMIN, reason="  "), IllegalCommand, "强制结束原因")
        ended, happened = apply(state, cmd("force_end", ADMIN, reason="专家全部失联，无法继续"))
        assert happened.kind == "session_forced_end"
        assert happened.data == {
            "forced": True,
            "reason": "专家全部失联，无法继续",
            "phase": str(state.phase),
        }
        assert ended.phase == Phase.ENDED and ended.forced_end == "专家全部失联，无法继续"
    paused = run(at_evaluation(), cmd("pause", HOST, reason="断网"))
    ended = run(paused, cmd("force_end", ADMIN, reason="无法恢复"))
    assert ended.phase == Phase.ENDED and not ended.paused
    # After a forced end, as after the end instruction, nothing is accepted.
    for kind in ("force_end", "excuse_expert", "close_motion", "resume", "notice"):
        refused(
            ended, cmd(kind, ADMIN, reason="x", expert="e1", motion=1), IllegalCommand, "已结束"
        )


def test_a_log_made_before_the_newer_rules_is_replayed_as_it_was_accepted() -> None:
    """Check-ins without a picture and elections without a tie rule were accepted once; the
    record stands, while a live command meets today's rules."""
    state = at_check_in()
    old_check_in = replace(
        cmd("check_in", STAFF, expert="e1"), recorded={"expert": "e1", "venue": MAIN}
    )
    state, happened = apply(state, old_check_in)
    assert state.checked_in == {"e1"} and "snapshot" not in happened.data
    for e in ("e2", "e3"):
        state = checked_in(state, e)
    state = run(
        state,
        cmd("commit", expert("e1"), expert="e1", no_conflict=True),
        cmd("register_key", expert("e1"), expert="e1", public_key=spki("e1")),
    )
    old_start = replace(cmd("start_election", HOST), recorded={"round": 1, "candidates": []})
    state = run(state, old_start)
    assert state.tie_rule == "revote" and state.lot_commitment is None
    for _ in range(6):  # ties went to another round, without end
        state, happened = ballots(state, {"e1": "e1", "e2": "e2", "e3": "e3"})
        assert happened[-1].kind == "election_tied"


def test_an_excusal_that_ends_a_round_in_a_draw_is_replayed_from_its_record() -> None:
    commands = [
        cmd("cast_ballot", expert("e1"), expert="e1", candidate="e1"),
        cmd("cast_ballot", expert("e2"), expert="e2", candidate="e2"),
        cmd("excuse_expert", HOST, expert="e3", reason="网络中断", lot_seed=SEED.hex()),
    ]
    live, recorded = elect_with(LOT), []
    for command in commands:
        live, happened = apply(live, command)
        recorded.append(happened.data)
    assert recorded[-1]["election"]["happened"] == "leader_drawn"
    assert recorded[-1]["election"]["seed"] == SEED.hex()
    replayed = elect_with(LOT)
    for command, details in zip(commands, recorded, strict=True):
        fields = {k: v for k, v in command.fields.items() if k not in ("candidate", "lot_seed")}
        replayed, _ = apply(replayed, replace(command, fields=fields, recorded=details))
    assert replayed == live and replayed.leader in ("e1", "e2")
