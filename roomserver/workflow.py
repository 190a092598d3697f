"""The committee's workflow (standard 7.1 to 7.2.6) as a pure state machine.

scheduled → check-in → leader election → evaluation → signing → ended, with pause and resume
for incidents in any phase between. ``apply(state, command)`` returns the new state and what
happened, or raises a RoomError with a stable code and a Chinese message; the state given is
never changed (it is frozen), so a refused command leaves nothing half done.

Who may do what:
- the host (主持人) of the main venue opens check-in, starts the election, starts the signing
  once a report is there, and issues the end instruction (7.2.4-1);
- venue staff (工作人员) and the host check experts in (7.2.1), and open, pause and resume
  for incidents (7.2.6); a supervisor may pause too, with a reason (9-4);
- experts sign, once each, for themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
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


@dataclass(frozen=True)
class WorkflowState:
    """Where a session stands. Experts are participant ids of the session's roster."""

    experts: frozenset[str]
    phase: Phase = Phase.SCHEDULED
    paused: bool = False
    pause_reason: str | None = None
    checked_in: frozenset[str] = frozenset()
    withdrawn: frozenset[str] = frozenset()  # declared a conflict of interest (回避)
    leader: str | None = None
    report_sha256: str | None = None
    signed: frozenset[str] = frozenset()

    @property
    def seated(self) -> frozenset[str]:
        """The experts who take part: the roster without those withdrawn."""
        return self.experts - self.withdrawn


@dataclass(frozen=True)
class Command:
    """A request to move the session on: `kind`, who asks (`actor`, `role`) and its fields."""

    kind: str
    actor: str
    role: Role
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Happened:
    """What a command did, for the session's event log."""

    kind: str
    data: dict[str, Any]


STAFF_ROLES = frozenset({Role.HOST, Role.STAFF})
PAUSE_ROLES = frozenset({Role.HOST, Role.STAFF, Role.SUPERVISOR})
ACTIVE_PHASES = frozenset({Phase.CHECK_IN, Phase.ELECTION, Phase.EVALUATION, Phase.SIGNING})


def apply(state: WorkflowState, command: Command) -> tuple[WorkflowState, Happened]:
    """The state after `command`, and what happened; a RoomError if it is refused."""
    handler = _HANDLERS.get(command.kind)
    if handler is None:
        raise IllegalCommand(f"未知的操作：{command.kind}")
    if state.phase == Phase.ENDED:
        raise IllegalCommand("本场评标已结束")
    if state.paused and command.kind not in ("resume",):
        raise IllegalCommand(f"评审已暂停（{state.pause_reason}），请先恢复")
    return handler(state, command)


def _require_role(command: Command, roles: frozenset[Role], message: str) -> None:
    if command.role not in roles:
        raise RoleNotAllowed(message)


def _require_phase(state: WorkflowState, phase: Phase) -> None:
    if state.phase != phase:
        raise IllegalCommand(
            f"当前阶段为“{PHASE_LABELS[state.phase]}”，该操作属于“{PHASE_LABELS[phase]}”阶段"
        )


def _expert(state: WorkflowState, command: Command) -> str:
    expert = command.fields.get("expert")
    if not isinstance(expert, str) or expert not in state.experts:
        raise IllegalCommand("该专家不在本场评标名单中")
    return expert


def _open_check_in(state: WorkflowState, command: Command) -> tuple[WorkflowState, Happened]:
    _require_role(command, frozenset({Role.HOST}), "只有主场主持人可以开始签到")
    _require_phase(state, Phase.SCHEDULED)
    return replace(state, phase=Phase.CHECK_IN), Happened("check_in_opened", {})


def _check_in(state: WorkflowState, command: Command) -> tuple[WorkflowState, Happened]:
    _require_role(command, STAFF_ROLES, "只有工作人员或主持人可以核验专家身份")
    _require_phase(state, Phase.CHECK_IN)
    expert = _expert(state, command)
    if expert in state.withdrawn:
        raise IllegalCommand("该专家已申请回避")
    if expert in state.checked_in:
        raise IllegalCommand("该专家已完成签到")
    return (
        replace(state, checked_in=state.checked_in | {expert}),
        Happened("expert_checked_in", {"expert": expert}),
    )


def _withdraw(state: WorkflowState, command: Command) -> tuple[WorkflowState, Happened]:
    if command.role != Role.EXPERT or command.fields.get("expert") != command.actor:
        raise RoleNotAllowed("回避只能由专家本人申报")
    _require_phase(state, Phase.CHECK_IN)
    expert = _expert(state, command)
    if expert in state.withdrawn:
        raise IllegalCommand("该专家已申请回避")
    return (
        replace(
            state,
            withdrawn=state.withdrawn | {expert},
            checked_in=state.checked_in - {expert},
        ),
        Happened("expert_withdrew", {"expert": expert}),
    )


def _start_election(state: WorkflowState, command: Command) -> tuple[WorkflowState, Happened]:
    _require_role(command, frozenset({Role.HOST}), "只有主场主持人可以开始推选组长")
    _require_phase(state, Phase.CHECK_IN)
    missing = state.seated - state.checked_in
    if missing or not state.seated:
        raise IllegalCommand(f"尚有 {len(missing)} 名专家未签到")
    return replace(state, phase=Phase.ELECTION), Happened("election_started", {})


def _leader_elected(state: WorkflowState, command: Command) -> tuple[WorkflowState, Happened]:
    _require_role(command, frozenset({Role.HOST}), "组长推选结果由主持人公布")
    _require_phase(state, Phase.ELECTION)
    expert = _expert(state, command)
    if expert not in state.seated:
        raise IllegalCommand("已回避的专家不能担任组长")
    return (
        replace(state, phase=Phase.EVALUATION, leader=expert),
        Happened("leader_elected", {"expert": expert}),
    )


def _start_signing(state: WorkflowState, command: Command) -> tuple[WorkflowState, Happened]:
    if command.role != Role.HOST and command.actor != state.leader:
        raise RoleNotAllowed("只有组长或主持人可以提交评标报告")
    _require_phase(state, Phase.EVALUATION)
    digest = command.fields.get("report_sha256")
    if not isinstance(digest, str) or len(digest) != 64:
        raise IllegalCommand("缺少评标报告的 SHA-256 摘要")
    return (
        replace(state, phase=Phase.SIGNING, report_sha256=digest, signed=frozenset()),
        Happened("signing_started", {"report_sha256": digest}),
    )


def _replace_report(state: WorkflowState, command: Command) -> tuple[WorkflowState, Happened]:
    if command.role != Role.HOST and command.actor != state.leader:
        raise RoleNotAllowed("只有组长或主持人可以更换评标报告")
    _require_phase(state, Phase.SIGNING)
    digest = command.fields.get("report_sha256")
    if not isinstance(digest, str) or len(digest) != 64 or digest == state.report_sha256:
        raise IllegalCommand("新的评标报告摘要无效或与原报告相同")
    # A report changed after a signature needs every signature again.
    return (
        replace(state, report_sha256=digest, signed=frozenset()),
        Happened(
            "report_replaced", {"report_sha256": digest, "signatures_voided": len(state.signed)}
        ),
    )


def _sign(state: WorkflowState, command: Command) -> tuple[WorkflowState, Happened]:
    if command.role != Role.EXPERT or command.fields.get("expert") != command.actor:
        raise RoleNotAllowed("专家只能为本人签署评标报告")
    _require_phase(state, Phase.SIGNING)
    expert = _expert(state, command)
    if expert not in state.seated:
        raise IllegalCommand("已回避的专家不参与签署")
    if expert in state.signed:
        raise IllegalCommand("该专家已签署评标报告")
    if command.fields.get("report_sha256") != state.report_sha256:
        raise IllegalCommand("签署的不是当前的评标报告")
    return (
        replace(state, signed=state.signed | {expert}),
        Happened("report_signed", {"expert": expert, "report_sha256": state.report_sha256}),
    )


def _end(state: WorkflowState, command: Command) -> tuple[WorkflowState, Happened]:
    _require_role(command, frozenset({Role.HOST}), "只有主场主持人可以发出评审结束指令")
    _require_phase(state, Phase.SIGNING)
    missing = state.seated - state.signed
    if missing:
        raise IllegalCommand(f"尚有 {len(missing)} 名专家未签署评标报告，不能结束")
    return replace(state, phase=Phase.ENDED), Happened("end_instruction", {})


def _pause(state: WorkflowState, command: Command) -> tuple[WorkflowState, Happened]:
    _require_role(command, PAUSE_ROLES, "只有主持人、工作人员或监督人员可以暂停评审")
    if state.phase not in ACTIVE_PHASES:
        raise IllegalCommand("评审尚未开始，无需暂停")
    reason = command.fields.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise IllegalCommand("暂停评审必须说明原因")
    return (
        replace(state, paused=True, pause_reason=reason.strip()),
        Happened("evaluation_paused", {"reason": reason.strip(), "phase": str(state.phase)}),
    )


def _resume(state: WorkflowState, command: Command) -> tuple[WorkflowState, Happened]:
    _require_role(command, STAFF_ROLES, "只有主持人或工作人员可以恢复评审")
    if not state.paused:
        raise IllegalCommand("评审未暂停")
    return (
        replace(state, paused=False, pause_reason=None),
        Happened("evaluation_resumed", {"phase": str(state.phase)}),
    )


_HANDLERS = {
    "open_check_in": _open_check_in,
    "check_in": _check_in,
    "withdraw": _withdraw,
    "start_election": _start_election,
    "leader_elected": _leader_elected,
    "start_signing": _start_signing,
    "replace_report": _replace_report,
    "sign": _sign,
    "end": _end,
    "pause": _pause,
    "resume": _resume,
}
