"""The committee's workflow (standard 7.1 to 7.2.6) as a pure state machine.

scheduled → check-in → leader election → evaluation → signing → ended, with pause and resume
for incidents in any phase between. ``apply(state, command)`` returns the new state and what
happened, or raises a RoomError with a stable code and a Chinese message; the state given is
never changed (it is frozen), so a refused command leaves nothing half done.

Who may do what:
- the host (主持人) of the main venue opens check-in, starts the election, sends notices to every
  seat and issues the end instruction (7.2.4-1);
- venue staff (工作人员) check the experts of their own venue in (7.2.1) against the identity
  picture from the seat camera, replace an expert who withdrew or took leave, excuse an absent
  expert (请离席) at any phase, and open, handle and close incidents of their venue (7.2.6);
  the main venue's host does all of this for every venue;
- the host, staff and a supervisor may pause the evaluation, with a reason (9-4); the host or
  staff resume it;
- experts act for themselves only: the commitment letter (承诺书), a conflict of interest (回避,
  8.4-3), their signing key, a secret ballot for the leader (7.2.3-1) or a blank one, open votes
  on motions (7.2.3-2) or an abstention, and their signature on the report (7.2.4);
- the leader (or the host) opens motions, closes one with the votes cast so far or cancels it,
  and puts the report up for signing;
- an administrator may force the end of a session at any phase, with a reason.

No step waits for ever: an excused expert leaves the seated committee, and an election round or
a motion that only they had left open is counted by the excusal itself; what an excused expert
cast before stays counted (it was cast while they sat). Election ties follow the rule the host
chose when the election started: another round among the tied, at most ``max_rounds`` rounds,
then a draw by lot (``roomserver.lots``), or the draw at once.

The ballots of the open election round are held in the state to be counted; ``Happened`` never
names a voter's choice, and the service that logs commands seals it (``signaling.workflow``).
Once a round's tally is published its ballots may no longer be readable (their key is
destroyed): on replay such a ballot is taken as cast but unread, and the round's count is the
tally its closing event recorded (``Command.recorded``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from roomserver import lots, signatures
from roomserver.errors import IllegalCommand, RoleNotAllowed
from roomserver.model import Role


class Phase(StrEnum):
    """Phases of an evaluation session."""

    SCHEDULED = "scheduled"
    CHECK_IN = "check_in"
    ELECTION = "election"
    EVALUATION = "evaluation"
    SIGNING = "signing"
    ENDED = "ended"


PHASE_LABELS: dict[Phase, str] = {
    Phase.SCHEDULED: "未开始",
    Phase.CHECK_IN: "签到",
    Phase.ELECTION: "推选组长",
    Phase.EVALUATION: "评审",
    Phase.SIGNING: "签署评标报告",
    Phase.ENDED: "已结束",
}

INCIDENT_KINDS = {"platform": "平台故障", "other": "其他"}
TIE_RULES = {"revote": "重新投票", "lot": "抽签"}
MAX_ROUNDS = 5
UNBOUNDED_ROUNDS = 1_000_000  # elections logged before the tie rule: a new round at every tie
MAX_TEXT = 500
MAX_OPTIONS = 6
BLANK = ""  # the choice of a blank ballot (弃权)


@dataclass(frozen=True)
class Motion:
    """A question the committee votes on openly (7.2.3-2); votes are (expert, option)."""

    number: int
    title: str
    options: tuple[str, ...]
    votes: tuple[tuple[str, str | None], ...] = ()  # None: the expert abstained (弃权)
    closed: bool = False
    cancelled: str | None = None  # the reason, when it was cancelled without a result

    def voters(self) -> frozenset[str]:
        """Who has voted, abstentions included."""
        return frozenset(voter for voter, _ in self.votes)

    def counts(self) -> dict[str, int]:
        """Votes per option; abstentions are counted apart (``abstained``)."""
        counted = Counter(option for _, option in self.votes)
        return {option: counted.get(option, 0) for option in self.options}

    def abstained(self) -> int:
        """How many experts abstained."""
        return sum(1 for _, option in self.votes if option is None)


@dataclass(frozen=True)
class Incident:
    """An abnormal event (异常情况, 7.2.6): where, what, how it was handled and how it ended."""

    number: int
    venue: str
    kind: str
    description: str
    handling: tuple[str, ...] = ()
    result: str | None = None


@dataclass(frozen=True)
class WorkflowState:
    """Where a session stands. Experts are participant ids, each with the venue of their seat."""

    session_id: str
    main_venue: str
    venues: Mapping[str, str]  # expert → venue, the whole roster including replacements
    phase: Phase = Phase.SCHEDULED
    paused: bool = False
    pause_reason: str | None = None
    checked_in: frozenset[str] = frozenset()
    committed: frozenset[str] = frozenset()  # accepted the commitment letter
    withdrawn: frozenset[str] = frozenset()  # declared a conflict of interest, or took leave
    excused: frozenset[str] = frozenset()  # absent, excused by host or staff (请离席)
    replaced_by: Mapping[str, str] = field(default_factory=dict)
    keys: Mapping[str, str] = field(default_factory=dict)  # expert → SPKI base64
    election_round: int = 0
    candidates: tuple[str, ...] = ()
    tie_rule: str | None = None  # TIE_RULES, chosen when the election starts
    max_rounds: int = 1  # the round whose tie is drawn by lot
    lot_commitment: str | None = None  # SHA-256 of the server's secret seed for a draw
    # (voter, choice) of the open round, secret: a candidate, BLANK, or None for a ballot whose
    # key was destroyed with its round's published tally (only ever on replay).
    ballots: tuple[tuple[str, str | None], ...] = ()
    leader: str | None = None
    motions: tuple[Motion, ...] = ()
    report_sha256: str | None = None
    report_sm3: str | None = None
    signed: frozenset[str] = frozenset()
    incidents: tuple[Incident, ...] = ()
    forced_end: str | None = None  # an administrator's reason, if the session was ended so

    @property
    def experts(self) -> frozenset[str]:
        return frozenset(self.venues)

    @property
    def seated(self) -> frozenset[str]:
        """The experts who take part: the roster without those withdrawn or excused."""
        return self.experts - self.withdrawn - self.excused

    @property
    def voted(self) -> frozenset[str]:
        """Who has cast a ballot in the open election round (not for whom)."""
        return frozenset(voter for voter, _ in self.ballots)

    def open_motion(self) -> Motion | None:
        return next((m for m in self.motions if not m.closed), None)


@dataclass(frozen=True)
class Command:
    """A request to move the session on: `kind`, who asks (`actor`, `role`, the `venue` of
    their token) and its fields; on replay, `recorded` is what the log says it did."""

    kind: str
    actor: str
    role: Role
    fields: Mapping[str, Any] = field(default_factory=dict)
    venue: str | None = None
    recorded: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Happened:
    """What a command did, for the session's event log."""

    kind: str
    data: dict[str, Any]


STAFF_ROLES = frozenset({Role.HOST, Role.STAFF})
PAUSE_ROLES = frozenset({Role.HOST, Role.STAFF, Role.SUPERVISOR})
ACTIVE_PHASES = frozenset({Phase.CHECK_IN, Phase.ELECTION, Phase.EVALUATION, Phase.SIGNING})
# While paused, only what handles the incident and informs the seats goes on.
WHILE_PAUSED = frozenset(
    {"resume", "notice", "open_incident", "handle_incident", "close_incident", "force_end"}
)

Result = tuple[WorkflowState, Happened]


def apply(state: WorkflowState, command: Command) -> Result:
    """The state after `command`, and what happened; a RoomError if it is refused."""
    handler = _HANDLERS.get(command.kind)
    if handler is None:
        raise IllegalCommand(f"未知的操作：{command.kind}")
    if state.phase == Phase.ENDED:
        raise IllegalCommand("本场评标已结束")
    if state.paused and command.kind not in WHILE_PAUSED:
        raise IllegalCommand(f"评审已暂停（{state.pause_reason}），请先恢复")
    return handler(state, command)


# -- checks ---------------------------------------------------------------------------------------


def _require_role(command: Command, roles: frozenset[Role], message: str) -> None:
    if command.role not in roles:
        raise RoleNotAllowed(message)


def _require_main_host(state: WorkflowState, command: Command, message: str) -> None:
    if command.role != Role.HOST or command.venue not in (None, state.main_venue):
        raise RoleNotAllowed(message)


def _require_venue_staff(state: WorkflowState, command: Command, venue: str, what: str) -> None:
    """The host acts for every venue; staff for their own venue only."""
    _require_role(command, STAFF_ROLES, f"只有工作人员或主持人可以{what}")
    if command.role == Role.STAFF and command.venue != venue:
        raise RoleNotAllowed(f"工作人员只能为本评标室{what}")


def _require_leader_or_host(state: WorkflowState, command: Command, what: str) -> None:
    if command.role == Role.HOST:
        return
    if command.actor != state.leader:
        raise RoleNotAllowed(f"只有组长或主持人可以{what}")
    if command.actor in state.excused:
        raise IllegalCommand(f"组长已离席，请由主持人{what}")


def _logged_before_the_rule(command: Command, name: str) -> bool:
    """A replayed command the log accepted before a rule about `name` existed: the record
    stands as it was made (a live command always meets the rule)."""
    return command.recorded is not None and name not in command.recorded


def _require_phase(state: WorkflowState, *phases: Phase) -> None:
    if state.phase not in phases:
        wanted = "或".join(f"“{PHASE_LABELS[p]}”" for p in phases)
        raise IllegalCommand(f"当前阶段为“{PHASE_LABELS[state.phase]}”，该操作属于{wanted}阶段")


def _expert(state: WorkflowState, command: Command) -> str:
    expert = command.fields.get("expert")
    if not isinstance(expert, str) or expert not in state.venues:
        raise IllegalCommand("该专家不在本场评标名单中")
    return expert


def _self(state: WorkflowState, command: Command, what: str) -> str:
    """The expert acting for themselves; RoleNotAllowed for anybody else."""
    if command.role != Role.EXPERT or command.fields.get("expert") != command.actor:
        raise RoleNotAllowed(f"{what}只能由专家本人进行")
    expert = _expert(state, command)
    if expert in state.withdrawn:
        raise IllegalCommand("该专家已回避或离席，不再参加本场评标")
    if expert in state.excused:
        raise IllegalCommand("该专家已被请离席，不再参加本场评标")
    return expert


def _text(command: Command, name: str, what: str) -> str:
    value = command.fields.get(name)
    if not isinstance(value, str) or not value.strip():
        raise IllegalCommand(f"请填写{what}")
    if len(value) > MAX_TEXT:
        raise IllegalCommand(f"{what}不能超过 {MAX_TEXT} 字")
    return value.strip()


def _digest(command: Command, name: str, length: int) -> str:
    value = command.fields.get(name)
    if (
        not isinstance(value, str)
        or len(value) != length
        or any(c not in "0123456789abcdef" for c in value)
    ):
        raise IllegalCommand(f"评标报告的 {name} 摘要格式不正确")
    return value


def _number(command: Command, name: str) -> int:
    value = command.fields.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise IllegalCommand(f"缺少编号 {name}")
    return value


# -- check-in (7.2.1, 8.4-3) ----------------------------------------------------------------------


def _open_check_in(state: WorkflowState, command: Command) -> Result:
    _require_main_host(state, command, "只有主场主持人可以开始签到")
    _require_phase(state, Phase.SCHEDULED)
    return replace(state, phase=Phase.CHECK_IN), Happened("check_in_opened", {})


def _check_in(state: WorkflowState, command: Command) -> Result:
    expert = _expert(state, command)
    _require_venue_staff(state, command, state.venues[expert], "核验专家身份")
    _require_phase(state, Phase.CHECK_IN)
    if expert in state.withdrawn or expert in state.excused:
        raise IllegalCommand("该专家已回避或离席")
    if expert in state.checked_in:
        raise IllegalCommand("该专家已完成签到")
    # The picture from the seat camera is what staff compared with the roster (7.2.1).
    snapshot = command.fields.get("snapshot")
    data: dict[str, Any] = {"expert": expert, "venue": state.venues[expert]}
    if isinstance(snapshot, Mapping):
        data["snapshot"] = dict(snapshot)
    elif not _logged_before_the_rule(command, "snapshot"):
        raise IllegalCommand("请先点击“拍照核验”，拍下专家机位摄像头画面后再确认签到")
    return replace(state, checked_in=state.checked_in | {expert}), Happened(
        "expert_checked_in", data
    )


def _commit(state: WorkflowState, command: Command) -> Result:
    expert = _self(state, command, "签署承诺书")
    _require_phase(state, Phase.CHECK_IN)
    if expert not in state.checked_in:
        raise IllegalCommand("请先由工作人员完成身份核验")
    if expert in state.committed:
        raise IllegalCommand("已签署承诺书")
    if command.fields.get("no_conflict") is not True:
        raise IllegalCommand("请确认与投标人无利害关系；如有，请申请回避")
    letter = command.fields.get("letter_sha256")
    return replace(state, committed=state.committed | {expert}), Happened(
        "commitment_accepted", {"expert": expert, "no_conflict": True, "letter_sha256": letter}
    )


def _withdraw(state: WorkflowState, command: Command) -> Result:
    expert = _self(state, command, "申请回避")
    _require_phase(state, Phase.CHECK_IN)
    reason = _text(command, "reason", "回避原因")
    return (
        replace(
            state,
            withdrawn=state.withdrawn | {expert},
            checked_in=state.checked_in - {expert},
            committed=state.committed - {expert},
        ),
        Happened("expert_withdrew", {"expert": expert, "reason": reason}),
    )


def _replace_expert(state: WorkflowState, command: Command) -> Result:
    """An expert who withdrew or took leave gives the seat to a newly drawn one (5.5.9)."""
    expert = _expert(state, command)
    venue = state.venues[expert]
    _require_venue_staff(state, command, venue, "替换专家")
    _require_phase(state, Phase.SCHEDULED, Phase.CHECK_IN)
    if expert in state.replaced_by:
        raise IllegalCommand("该专家已被替换")
    replacement = command.fields.get("replacement")
    if not isinstance(replacement, str) or not replacement or replacement in state.venues:
        raise IllegalCommand("替补专家无效或已在名单中")
    reason = command.fields.get("reason")
    if expert not in state.withdrawn and not (isinstance(reason, str) and reason.strip()):
        raise IllegalCommand("专家未申请回避，替换时请填写原因（如请假）")
    return (
        replace(
            state,
            venues={**state.venues, replacement: venue},
            withdrawn=state.withdrawn | {expert},
            checked_in=state.checked_in - {expert},
            committed=state.committed - {expert},
            replaced_by={**state.replaced_by, expert: replacement},
        ),
        Happened(
            "expert_replaced",
            {
                "expert": expert,
                "replacement": replacement,
                "venue": venue,
                "reason": reason.strip() if isinstance(reason, str) and reason.strip() else "回避",
            },
        ),
    )


def _register_key(state: WorkflowState, command: Command) -> Result:
    expert = _self(state, command, "登记签名密钥")
    _require_phase(state, Phase.CHECK_IN, Phase.ELECTION, Phase.EVALUATION, Phase.SIGNING)
    if expert in state.signed:
        raise IllegalCommand("已签署评标报告，不能更换签名密钥")
    key = command.fields.get("public_key")
    signatures.load_public_key(key)  # BadSignature with the reason
    assert isinstance(key, str)
    return replace(state, keys={**state.keys, expert: key}), Happened(
        "signing_key_registered", {"expert": expert, "public_key": key}
    )


# -- leader election (7.2.3-1) --------------------------------------------------------------------


def _start_election(state: WorkflowState, command: Command) -> Result:
    _require_main_host(state, command, "只有主场主持人可以开始推选组长")
    _require_phase(state, Phase.CHECK_IN)
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
    if _logged_before_the_rule(command, "tie_rule"):
        # Started before the host chose a tie rule: ties went to another round, without end.
        tie_rule, max_rounds, commitment = "revote", UNBOUNDED_ROUNDS, None
    else:
        tie_rule, max_rounds = _tie_rule(command)
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


def _tie_rule(command: Command) -> tuple[str, int]:
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


def _ballot_choice(state: WorkflowState, command: Command) -> str | None:
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


def _cast_ballot(state: WorkflowState, command: Command) -> Result:
    expert = _self(state, command, "投票")
    _require_phase(state, Phase.ELECTION)
    if expert in state.voted:
        raise IllegalCommand("本轮已投票")
    choice = _ballot_choice(state, command)
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
    state, kind, closing = _count_round(state, command, command.recorded)
    return state, Happened(kind, {**closing, "expert": expert})


def _tally(state: WorkflowState, recorded: Mapping[str, Any] | None) -> tuple[dict[str, int], int]:
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


def _count_round(
    state: WorkflowState, command: Command, recorded: Mapping[str, Any] | None
) -> tuple[WorkflowState, str, dict[str, Any]]:
    """Close the open round: a leader, another round among the tied, or a draw by lot."""
    round_no = state.election_round
    tally, blank = _tally(state, recorded)
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
    seed = _lot_seed(state, command, recorded)
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


def _lot_seed(state: WorkflowState, command: Command, recorded: Mapping[str, Any] | None) -> bytes:
    """The server's seed, revealed at the draw; it must be the one committed to at the start."""
    value = recorded.get("seed") if recorded is not None else command.fields.get("lot_seed")
    try:
        seed = lots.seed_from_hex(value)
    except ValueError as exc:
        raise IllegalCommand("缺少抽签种子，无法抽签") from exc
    if state.lot_commitment is None or not lots.matches(seed, state.lot_commitment):
        raise IllegalCommand("抽签种子与推选开始时公布的承诺值不符")
    return seed


# -- discussion and vote (7.2.3-2) ----------------------------------------------------------------


def _open_motion(state: WorkflowState, command: Command) -> Result:
    _require_leader_or_host(state, command, "发起表决")
    _require_phase(state, Phase.EVALUATION)
    if state.open_motion() is not None:
        raise IllegalCommand("上一项表决尚未结束")
    title = _text(command, "title", "表决事项")
    options = command.fields.get("options")
    if (
        not isinstance(options, list)
        or not 2 <= len(options) <= MAX_OPTIONS
        or not all(isinstance(o, str) and o.strip() and len(o) <= 50 for o in options)
        or len({o.strip() for o in options}) != len(options)
    ):
        raise IllegalCommand(f"表决选项应为 2 至 {MAX_OPTIONS} 个互不相同的选项")
    motion = Motion(
        number=len(state.motions) + 1, title=title, options=tuple(o.strip() for o in options)
    )
    return replace(state, motions=(*state.motions, motion)), Happened(
        "motion_opened",
        {"motion": motion.number, "title": title, "options": list(motion.options)},
    )


def _the_open_motion(state: WorkflowState, command: Command) -> Motion:
    motion = state.open_motion()
    if motion is None or command.fields.get("motion") != motion.number:
        raise IllegalCommand("该表决已结束或不存在")
    return motion


def _with_motion(state: WorkflowState, motion: Motion) -> WorkflowState:
    return replace(
        state, motions=tuple(motion if m.number == motion.number else m for m in state.motions)
    )


def _result(motion: Motion) -> dict[str, Any]:
    return {"result": motion.counts(), "abstained": motion.abstained()}


def _vote(state: WorkflowState, command: Command) -> Result:
    expert = _self(state, command, "表决")
    _require_phase(state, Phase.EVALUATION)
    motion = _the_open_motion(state, command)
    if expert in motion.voters():
        raise IllegalCommand("已对该事项表决")
    data: dict[str, Any] = {"motion": motion.number, "expert": expert}
    if command.fields.get("abstain") is True:
        if command.fields.get("option") is not None:
            raise IllegalCommand("弃权时不能再选择选项")
        option, data["abstain"] = None, True
    else:
        option = command.fields.get("option")
        if option not in motion.options:
            raise IllegalCommand("所选选项不在表决选项中")
        data["option"] = option
    updated = replace(motion, votes=(*motion.votes, (expert, option)))
    if state.seated <= updated.voters():
        updated = replace(updated, closed=True)
        data.update(_result(updated))
    return _with_motion(state, updated), Happened(
        "motion_closed" if updated.closed else "motion_vote", data
    )


def _close_motion(state: WorkflowState, command: Command) -> Result:
    """The leader or host closes a motion with the votes cast so far; the result is published."""
    _require_leader_or_host(state, command, "结束表决")
    _require_phase(state, Phase.EVALUATION)
    motion = replace(_the_open_motion(state, command), closed=True)
    missing = sorted(state.seated - motion.voters())
    return _with_motion(state, motion), Happened(
        "motion_closed", {"motion": motion.number, **_result(motion), "not_voted": missing}
    )


def _cancel_motion(state: WorkflowState, command: Command) -> Result:
    """The leader or host withdraws a motion: it ends without a result."""
    _require_leader_or_host(state, command, "撤销表决")
    _require_phase(state, Phase.EVALUATION)
    motion = _the_open_motion(state, command)
    reason = _text(command, "reason", "撤销原因")
    cancelled = replace(motion, closed=True, cancelled=reason)
    return _with_motion(state, cancelled), Happened(
        "motion_cancelled", {"motion": motion.number, "reason": reason}
    )


# -- an absent expert (请离席) --------------------------------------------------------------------


def _excuse_expert(state: WorkflowState, command: Command) -> Result:
    """Host or staff excuse an absent expert; what only they held open is completed now."""
    expert = _expert(state, command)
    venue = state.venues[expert]
    if command.role == Role.HOST:
        _require_main_host(state, command, "只有主场主持人或本评标室工作人员可以请专家离席")
    else:
        _require_venue_staff(state, command, venue, "请专家离席")
    if state.phase not in ACTIVE_PHASES:
        raise IllegalCommand("评审未在进行中，无需请专家离席")
    if expert not in state.seated:
        raise IllegalCommand("该专家已回避、离席或被替换")
    if expert in state.signed:
        raise IllegalCommand("该专家已签署评标报告，无需请离席")
    reason = _text(command, "reason", "离席原因")
    after = replace(state, excused=state.excused | {expert})
    if not after.seated:
        raise IllegalCommand("不能请最后一名在席专家离席")
    if after.phase == Phase.ELECTION and not set(after.candidates) & after.seated:
        raise IllegalCommand("该专家是本轮唯一在席的候选人，不能请其离席")
    data: dict[str, Any] = {
        "expert": expert,
        "venue": venue,
        "reason": reason,
        "phase": str(state.phase),
    }
    if after.phase == Phase.ELECTION and after.seated <= after.voted:
        recorded = command.recorded.get("election") if command.recorded is not None else None
        after, kind, closing = _count_round(after, command, recorded)
        data["election"] = {"happened": kind, **closing}
    motion = after.open_motion()
    if motion is not None and after.seated <= motion.voters():
        motion = replace(motion, closed=True)
        after = _with_motion(after, motion)
        data["motion"] = {"motion": motion.number, **_result(motion)}
    return after, Happened("expert_excused", data)


# -- report co-signing (5.4.9, 7.2.4) -------------------------------------------------------------


def _put_up_report(state: WorkflowState, command: Command, phase: Phase) -> tuple[str, str, dict]:
    _require_leader_or_host(state, command, "提交评标报告")
    _require_phase(state, phase)
    sha256 = _digest(command, "report_sha256", 64)
    sm3 = _digest(command, "report_sm3", 64)
    document = command.fields.get("document")
    return sha256, sm3, dict(document) if isinstance(document, Mapping) else {}


def _start_signing(state: WorkflowState, command: Command) -> Result:
    sha256, sm3, document = _put_up_report(state, command, Phase.EVALUATION)
    if state.open_motion() is not None:
        raise IllegalCommand("尚有表决未结束")
    return (
        replace(state, phase=Phase.SIGNING, report_sha256=sha256, report_sm3=sm3),
        Happened(
            "signing_started", {"report_sha256": sha256, "report_sm3": sm3, "document": document}
        ),
    )


def _replace_report(state: WorkflowState, command: Command) -> Result:
    sha256, sm3, document = _put_up_report(state, command, Phase.SIGNING)
    if sha256 == state.report_sha256:
        raise IllegalCommand("新的评标报告与原报告相同")
    # A report changed after a signature needs every signature again.
    return (
        replace(state, report_sha256=sha256, report_sm3=sm3, signed=frozenset()),
        Happened(
            "report_replaced",
            {
                "report_sha256": sha256,
                "report_sm3": sm3,
                "document": document,
                "signatures_voided": len(state.signed),
            },
        ),
    )


def _sign(state: WorkflowState, command: Command) -> Result:
    expert = _self(state, command, "签署评标报告")
    _require_phase(state, Phase.SIGNING)
    if expert in state.signed:
        raise IllegalCommand("该专家已签署评标报告")
    if command.fields.get("report_sha256") != state.report_sha256:
        raise IllegalCommand("签署的不是当前的评标报告")
    key = state.keys.get(expert)
    if key is None:
        raise IllegalCommand("尚未登记签名密钥")
    assert state.report_sha256 is not None and state.report_sm3 is not None
    signature = command.fields.get("signature")
    message = signatures.statement(state.session_id, expert, state.report_sha256, state.report_sm3)
    signatures.verify(key, message, signature)
    handwriting = command.fields.get("handwriting")
    if not isinstance(handwriting, Mapping) or not handwriting.get("sha256"):
        raise IllegalCommand("缺少手写签名")
    return (
        replace(state, signed=state.signed | {expert}),
        Happened(
            "report_signed",
            {
                "expert": expert,
                "report_sha256": state.report_sha256,
                "report_sm3": state.report_sm3,
                "signature": signature,
                "public_key": key,
                "handwriting": dict(handwriting),
            },
        ),
    )


def _end(state: WorkflowState, command: Command) -> Result:
    _require_main_host(state, command, "只有主场主持人可以发出评审结束指令")
    _require_phase(state, Phase.SIGNING)
    missing = state.seated - state.signed
    if missing:
        raise IllegalCommand(f"尚有 {len(missing)} 名专家未签署评标报告，不能结束")
    return replace(state, phase=Phase.ENDED), Happened("end_instruction", {})


def _force_end(state: WorkflowState, command: Command) -> Result:
    """An administrator ends a session that cannot end by the rules; the event says so and why."""
    if command.role != Role.ADMIN:
        raise RoleNotAllowed("只有系统管理员可以强制结束评标")
    reason = _text(command, "reason", "强制结束原因")
    return (
        replace(state, phase=Phase.ENDED, paused=False, pause_reason=None, forced_end=reason),
        Happened(
            "session_forced_end", {"forced": True, "reason": reason, "phase": str(state.phase)}
        ),
    )


# -- incidents and notices (7.2.6, 9-4) -----------------------------------------------------------


def _pause(state: WorkflowState, command: Command) -> Result:
    _require_role(command, PAUSE_ROLES, "只有主持人、工作人员或监督人员可以暂停评审")
    if state.phase not in ACTIVE_PHASES:
        raise IllegalCommand("评审尚未开始，无需暂停")
    reason = _text(command, "reason", "暂停原因")
    return (
        replace(state, paused=True, pause_reason=reason),
        Happened("evaluation_paused", {"reason": reason, "phase": str(state.phase)}),
    )


def _resume(state: WorkflowState, command: Command) -> Result:
    _require_role(command, STAFF_ROLES, "只有主持人或工作人员可以恢复评审")
    if not state.paused:
        raise IllegalCommand("评审未暂停")
    return (
        replace(state, paused=False, pause_reason=None),
        Happened("evaluation_resumed", {"phase": str(state.phase)}),
    )


def _notice(state: WorkflowState, command: Command) -> Result:
    _require_main_host(state, command, "只有主场主持人可以向全体机位发布通知")
    return state, Happened("notice", {"text": _text(command, "text", "通知内容")})


def _incident(state: WorkflowState, command: Command, what: str) -> Incident:
    number = _number(command, "incident")
    incident = next((i for i in state.incidents if i.number == number), None)
    if incident is None:
        raise IllegalCommand("没有该异常情况记录")
    _require_venue_staff(state, command, incident.venue, what)
    if incident.result is not None:
        raise IllegalCommand("该异常情况已处理完毕")
    return incident


def _with_incident(state: WorkflowState, incident: Incident) -> WorkflowState:
    incidents = tuple(incident if i.number == incident.number else i for i in state.incidents)
    return replace(state, incidents=incidents)


def _open_incident(state: WorkflowState, command: Command) -> Result:
    venue = command.fields.get("venue")
    if venue != state.main_venue and venue not in state.venues.values():
        raise IllegalCommand("该评标室不属于本场评标")
    assert isinstance(venue, str)
    _require_venue_staff(state, command, venue, "登记异常情况")
    kind = command.fields.get("kind")
    if kind not in INCIDENT_KINDS:
        raise IllegalCommand("异常类型应为平台故障或其他")
    description = _text(command, "description", "异常情况描述")
    incident = Incident(len(state.incidents) + 1, venue, str(kind), description)
    return replace(state, incidents=(*state.incidents, incident)), Happened(
        "incident_opened",
        {"incident": incident.number, "venue": venue, "kind": kind, "description": description},
    )


def _handle_incident(state: WorkflowState, command: Command) -> Result:
    incident = _incident(state, command, "记录处理情况")
    handling = _text(command, "handling", "处理情况")
    updated = replace(incident, handling=(*incident.handling, handling))
    return _with_incident(state, updated), Happened(
        "incident_handled", {"incident": incident.number, "handling": handling}
    )


def _close_incident(state: WorkflowState, command: Command) -> Result:
    incident = _incident(state, command, "记录处理结果")
    result = _text(command, "result", "处理结果")
    return _with_incident(state, replace(incident, result=result)), Happened(
        "incident_closed", {"incident": incident.number, "result": result}
    )


_HANDLERS = {
    "open_check_in": _open_check_in,
    "check_in": _check_in,
    "commit": _commit,
    "withdraw": _withdraw,
    "replace_expert": _replace_expert,
    "register_key": _register_key,
    "start_election": _start_election,
    "cast_ballot": _cast_ballot,
    "open_motion": _open_motion,
    "vote": _vote,
    "close_motion": _close_motion,
    "cancel_motion": _cancel_motion,
    "excuse_expert": _excuse_expert,
    "start_signing": _start_signing,
    "replace_report": _replace_report,
    "sign": _sign,
    "end": _end,
    "force_end": _force_end,
    "pause": _pause,
    "resume": _resume,
    "notice": _notice,
    "open_incident": _open_incident,
    "handle_incident": _handle_incident,
    "close_incident": _close_incident,
}
COMMANDS = frozenset(_HANDLERS)
