"""The leader election (推选组长, 7.2.3-1): a secret ballot, round by round, ties broken by the
rule the host chose before the ballot, at last by a draw by lot (``roomserver.lots``).

An expert may cast a blank ballot. A round is counted once every seated expert has voted, by
the last ballot or by excusing the last expert it waited for (``count_round``). On replay, a
ballot whose round's key was destroyed is taken as cast but unread, and the round is counted
from the tally its closing event published; a draw, from the seed that event revealed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from roomserver import lots
from roomserver.committee import (
    BLANK,
    MAX_ROUNDS,
    TIE_RULES,
    UNBOUNDED_ROUNDS,
    Command,
    Happened,
    Phase,
    Result,
    WorkflowState,
    logged_before_the_rule,
    own_expert,
    require_main_host,
    require_phase,
)
from roomserver.errors import IllegalCommand


def start_election(state: WorkflowState, command: Command) -> Result:
    """The main venue's host starts the election once every seated expert has committed."""
    require_main_host(state, command, "只有主场主持人可以开始推选组长")
    require_phase(state, Phase.CHECK_IN)
    not_in = state.seated - state.checked_in
    if not_in or not state.seated:
        raise IllegalCommand(f"尚有 {len(not_in)} 名专家未签到")
    uncommitted = state.seated - state.committed
    if uncommitted:
        raise IllegalCommand(f"尚有 {len(uncommitted)} 名专家未签署承诺书")
    wanted = command.fields.get("candidates")
    if wanted is None:
        candidates = tuple(sorted(state.seated))
    elif (
        not isinstance(wanted, list)
        or not wanted
        or len(set(wanted)) != len(wanted)
        or not set(wanted) <= state.seated
    ):
        raise IllegalCommand("候选人必须是本场在席的专家，且不能重复")
    else:
        candidates = tuple(wanted)
    if logged_before_the_rule(command, "tie_rule"):
        # Started before the host chose a tie rule: ties went to another round, without end.
        tie_rule, max_rounds, commitment = "revote", UNBOUNDED_ROUNDS, None
    else:
        tie_rule, max_rounds = chosen_tie_rule(command)
        commitment = command.fields.get("lot_commitment")
        if not isinstance(commitment, str) or len(commitment) != 64:
            raise IllegalCommand("缺少抽签种子的承诺值")
    return (
        replace(
            state,
            phase=Phase.ELECTION,
            election_round=1,
            candidates=candidates,
            ballots=(),
            tie_rule=tie_rule,
            max_rounds=max_rounds,
            lot_commitment=commitment,
        ),
        Happened(
            "election_started",
            {
                "round": 1,
                "candidates": list(candidates),
                "tie_rule": tie_rule,
                "max_rounds": max_rounds,
                "lot_commitment": commitment,
            },
        ),
    )


def chosen_tie_rule(command: Command) -> tuple[str, int]:
    """The tie rule chosen before the ballot, and the round whose tie is drawn by lot."""
    rule = command.fields.get("tie_rule")
    if rule not in TIE_RULES:
        raise IllegalCommand("请选择平票时的处理规则：重新投票或抽签")
    rounds = command.fields.get("max_rounds")
    if rule == "lot":
        if rounds not in (None, 1):
            raise IllegalCommand("抽签规则下平票即抽签，不再设投票轮数")
        return str(rule), 1
    if not isinstance(rounds, int) or isinstance(rounds, bool) or not 1 <= rounds <= MAX_ROUNDS:
        raise IllegalCommand(f"重新投票的最多轮数应为 1 至 {MAX_ROUNDS}")
    return str(rule), rounds


def ballot_choice(state: WorkflowState, command: Command) -> str | None:
    """The choice of a ballot: a candidate, BLANK, or None when replayed unread."""
    if command.fields.get("abstain") is True:
        if command.fields.get("candidate") is not None:
            raise IllegalCommand("弃权票不能再选择候选人")
        return BLANK
    candidate = command.fields.get("candidate")
    if candidate is None and command.recorded is not None:
        return None  # replayed after its round's key was destroyed: cast, not readable
    if candidate not in state.candidates:
        raise IllegalCommand("所选候选人不在本轮候选名单中")
    if candidate not in state.seated:
        raise IllegalCommand("该候选人已离席，不能再被选为组长")
    return str(candidate)


def cast_ballot(state: WorkflowState, command: Command) -> Result:
    """An expert's secret ballot; the last one of the seated counts the round."""
    expert = own_expert(state, command, "投票")
    require_phase(state, Phase.ELECTION)
    if expert in state.voted:
        raise IllegalCommand("本轮已投票")
    choice = ballot_choice(state, command)
    round_no = state.election_round
    state = replace(state, ballots=(*state.ballots, (expert, choice)))
    if not state.seated <= state.voted:
        return state, Happened(
            "ballot_cast",
            {
                "round": round_no,
                "expert": expert,
                "voted": len(state.voted & state.seated),
                "of": len(state.seated),
            },
        )
    # Every seated expert has voted: the round is counted and its result published.
    state, kind, closing = count_round(state, command, command.recorded)
    return state, Happened(kind, {**closing, "expert": expert})


def count_ballots(
    state: WorkflowState, recorded: Mapping[str, Any] | None
) -> tuple[dict[str, int], int]:
    """Votes per candidate and blank ballots: counted, or as published if a ballot is unread."""
    choices = [choice for _, choice in state.ballots]
    if None not in choices:
        counted = Counter(choices)
        return {c: counted.get(c, 0) for c in state.candidates}, counted.get(BLANK, 0)
    tally = (recorded or {}).get("tally")
    blank = (recorded or {}).get("abstained", 0)
    if (
        not isinstance(tally, Mapping)
        or set(tally) != set(state.candidates)
        or not all(isinstance(n, int) and n >= 0 for n in (*tally.values(), blank))
        or sum(tally.values()) + blank != len(choices)
    ):
        raise IllegalCommand("记录的计票结果与本轮选票不符")
    return {c: int(tally[c]) for c in state.candidates}, int(blank)


def count_round(
    state: WorkflowState, command: Command, recorded: Mapping[str, Any] | None
) -> tuple[WorkflowState, str, dict[str, Any]]:
    """Close the open round: a leader, another round among the tied, or a draw by lot."""
    round_no = state.election_round
    tally, blank = count_ballots(state, recorded)
    # Ballots for a candidate excused since stay in the tally; only the seated can lead.
    eligible = [c for c in state.candidates if c in state.seated]
    top = max(tally[c] for c in eligible)
    tied = tuple(c for c in eligible if tally[c] == top)
    closing: dict[str, Any] = {"round": round_no, "tally": tally, "abstained": blank}
    if len(tied) == 1:
        return (
            replace(state, phase=Phase.EVALUATION, leader=tied[0], ballots=()),
            "leader_elected",
            {**closing, "leader": tied[0]},
        )
    if round_no < state.max_rounds:
        return (
            replace(state, election_round=round_no + 1, candidates=tied, ballots=()),
            "election_tied",
            {**closing, "next_round": round_no + 1, "candidates": list(tied)},
        )
    seed = lot_seed(state, command, recorded)
    drawn = lots.winner(seed, state.session_id, round_no, tied)
    return (
        replace(state, phase=Phase.EVALUATION, leader=drawn, ballots=()),
        "leader_drawn",
        {
            **closing,
            "tied": sorted(tied),
            "seed": seed.hex(),
            "lot_commitment": state.lot_commitment,
            "leader": drawn,
        },
    )


def lot_seed(state: WorkflowState, command: Command, recorded: Mapping[str, Any] | None) -> bytes:
    """The server's seed, revealed at the draw; it must be the one committed to at the start."""
    value = recorded.get("seed") if recorded is not None else command.fields.get("lot_seed")
    try:
        seed = lots.seed_from_hex(value)
    except ValueError as exc:
        raise IllegalCommand("缺少抽签种子，无法抽签") from exc
    if state.lot_commitment is None or not lots.matches(seed, state.lot_commitment):
        raise IllegalCommand("抽签种子与推选开始时公布的承诺值不符")
    return seed
