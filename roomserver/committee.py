"""What the committee's workflow is made of: its phases, its state, commands and what they do,
and the checks every rule of ``roomserver.workflow`` shares (who may act, in which phase, with
which fields)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

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
        """The whole roster, replacements included."""
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
        """The motion being voted on, if any."""
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
# After check-in: only a replacement drawn since may still be checked in (7.1.3-3b).
LATER_PHASES = frozenset({Phase.ELECTION, Phase.EVALUATION, Phase.SIGNING})
# While paused, only what handles the incident and informs the seats goes on.
WHILE_PAUSED = frozenset(
    {"resume", "notice", "open_incident", "handle_incident", "close_incident", "force_end"}
)

Result = tuple[WorkflowState, Happened]


def require_role(command: Command, roles: frozenset[Role], message: str) -> None:
    """Refuse anybody whose role is not among `roles`."""
    if command.role not in roles:
        raise RoleNotAllowed(message)


def require_main_host(state: WorkflowState, command: Command, message: str) -> None:
    """Refuse anybody but the host of the main venue (主场主持人)."""
    if command.role != Role.HOST or command.venue not in (None, state.main_venue):
        raise RoleNotAllowed(message)


def require_venue_staff(state: WorkflowState, command: Command, venue: str, what: str) -> None:
    """The host acts for every venue; staff for their own venue only."""
    require_role(command, STAFF_ROLES, f"只有工作人员或主持人可以{what}")
    if command.role == Role.STAFF and command.venue != venue:
        raise RoleNotAllowed(f"工作人员只能为本评标室{what}")


def require_fault_handler(
    state: WorkflowState, command: Command, venue: str, kind: str, what: str
) -> None:
    """Venue staff and the host as ``require_venue_staff``; besides them an ops engineer
    (运维技术人员) for a platform fault (平台故障, 7.2.6-6), at their own venue when they have
    one."""
    if command.role != Role.OPS:
        require_venue_staff(state, command, venue, what)
        return
    if kind != "platform":
        raise RoleNotAllowed(f"运维技术人员只能为平台故障{what}")
    if command.venue is not None and command.venue != venue:
        raise RoleNotAllowed(f"运维技术人员只能为本评标室{what}")


def require_leader_or_host(state: WorkflowState, command: Command, what: str) -> None:
    """Refuse anybody but the host or the leader still seated."""
    if command.role == Role.HOST:
        return
    if command.actor != state.leader:
        raise RoleNotAllowed(f"只有组长或主持人可以{what}")
    if command.actor in state.excused:
        raise IllegalCommand(f"组长已离席，请由主持人{what}")


def logged_before_the_rule(command: Command, name: str) -> bool:
    """A replayed command the log accepted before a rule about `name` existed: the record
    stands as it was made (a live command always meets the rule)."""
    return command.recorded is not None and name not in command.recorded


def require_phase(state: WorkflowState, *phases: Phase) -> None:
    """Refuse a command outside the phases it belongs to."""
    if state.phase not in phases:
        wanted = "或".join(f"“{PHASE_LABELS[p]}”" for p in phases)
        raise IllegalCommand(f"当前阶段为“{PHASE_LABELS[state.phase]}”，该操作属于{wanted}阶段")


def require_check_in_of(state: WorkflowState, expert: str) -> None:
    """Check-in and the commitment letter belong to the check-in phase, and later to a
    replacement drawn after it (7.1.3-3b), until the end."""
    if state.phase == Phase.CHECK_IN:
        return
    if state.phase in LATER_PHASES and expert in state.replaced_by.values():
        return
    require_phase(state, Phase.CHECK_IN)


def listed_expert(state: WorkflowState, command: Command) -> str:
    """The expert the command names, who must be on the session's roster."""
    expert = command.fields.get("expert")
    if not isinstance(expert, str) or expert not in state.venues:
        raise IllegalCommand("该专家不在本场评标名单中")
    return expert


def own_expert(state: WorkflowState, command: Command, what: str) -> str:
    """The expert acting for themselves; RoleNotAllowed for anybody else."""
    if command.role != Role.EXPERT or command.fields.get("expert") != command.actor:
        raise RoleNotAllowed(f"{what}只能由专家本人进行")
    expert = listed_expert(state, command)
    if expert in state.withdrawn:
        raise IllegalCommand("该专家已回避或离席，不再参加本场评标")
    if expert in state.excused:
        raise IllegalCommand("该专家已被请离席，不再参加本场评标")
    # A replacement who arrives after check-in checks in and accepts the commitment letter
    # before anything else (everybody else did so before the election could start).
    joining = command.kind in ("commit", "register_key", "withdraw")
    if state.phase in LATER_PHASES and not joining and expert not in state.committed:
        raise IllegalCommand("请先由工作人员完成身份核验，并签署承诺书")
    return expert


def text_field(command: Command, name: str, what: str) -> str:
    """A required text field, stripped and at most ``MAX_TEXT`` characters."""
    value = command.fields.get(name)
    if not isinstance(value, str) or not value.strip():
        raise IllegalCommand(f"请填写{what}")
    if len(value) > MAX_TEXT:
        raise IllegalCommand(f"{what}不能超过 {MAX_TEXT} 字")
    return value.strip()


def digest_field(command: Command, name: str, length: int) -> str:
    """A lower-case hex digest of `length` digits."""
    value = command.fields.get(name)
    if (
        not isinstance(value, str)
        or len(value) != length
        or any(c not in "0123456789abcdef" for c in value)
    ):
        raise IllegalCommand(f"评标报告的 {name} 摘要格式不正确")
    return value


def number_field(command: Command, name: str) -> int:
    """A required integer field (a motion's or incident's number)."""
    value = command.fields.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise IllegalCommand(f"缺少编号 {name}")
    return value
