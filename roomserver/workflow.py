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
- an ops engineer (运维技术人员) opens a platform fault (平台故障) and records its handling
  (7.2.6-6), at their venue or, without one, at any; its result is the host's or staff's;
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
names a voter's choice, and the service that logs commands seals it
(``signaling.services.workflow``).
Once a round's tally is published its ballots may no longer be readable (their key is
destroyed): on replay such a ballot is taken as cast but unread, and the round's count is the
tally its closing event recorded (``Command.recorded``).

This module holds ``apply`` and the rules of check-in, absent experts, signing, the end and
incidents; the election is ``roomserver.election``, motions ``roomserver.motions``, and the
state with the checks they share ``roomserver.committee``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from roomserver import signatures
from roomserver.committee import (
    ACTIVE_PHASES,
    BLANK,
    INCIDENT_KINDS,
    MAX_ROUNDS,
    MAX_TEXT,
    PAUSE_ROLES,
    PHASE_LABELS,
    STAFF_ROLES,
    TIE_RULES,
    WHILE_PAUSED,
    Command,
    Happened,
    Incident,
    Motion,
    Phase,
    Result,
    WorkflowState,
    digest_field,
    listed_expert,
    logged_before_the_rule,
    number_field,
    own_expert,
    require_check_in_of,
    require_fault_handler,
    require_leader_or_host,
    require_main_host,
    require_phase,
    require_role,
    require_venue_staff,
    text_field,
)
from roomserver.election import cast_ballot, count_round, start_election
from roomserver.errors import IllegalCommand, RoleNotAllowed
from roomserver.model import Role
from roomserver.motions import (
    cancel_motion,
    close_motion,
    motion_result,
    open_motion,
    vote,
    with_motion,
)

__all__ = [
    "BLANK",
    "COMMANDS",
    "INCIDENT_KINDS",
    "MAX_ROUNDS",
    "MAX_TEXT",
    "PHASE_LABELS",
    "TIE_RULES",
    "Command",
    "Happened",
    "Incident",
    "Motion",
    "Phase",
    "WorkflowState",
    "apply",
]


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


# -- check-in (7.2.1, 8.4-3) ----------------------------------------------------------------------


def _open_check_in(state: WorkflowState, command: Command) -> Result:
    require_main_host(state, command, "只有主场主持人可以开始签到")
    require_phase(state, Phase.SCHEDULED)
    return replace(state, phase=Phase.CHECK_IN), Happened("check_in_opened", {})


def _check_in(state: WorkflowState, command: Command) -> Result:
    expert = listed_expert(state, command)
    require_venue_staff(state, command, state.venues[expert], "核验专家身份")
    require_check_in_of(state, expert)
    if expert in state.withdrawn or expert in state.excused:
        raise IllegalCommand("该专家已回避或离席")
    if expert in state.checked_in:
        raise IllegalCommand("该专家已完成签到")
    # The picture from the seat camera is what staff compared with the roster (7.2.1).
    snapshot = command.fields.get("snapshot")
    data: dict[str, Any] = {"expert": expert, "venue": state.venues[expert]}
    if isinstance(snapshot, Mapping):
        data["snapshot"] = dict(snapshot)
    elif not logged_before_the_rule(command, "snapshot"):
        raise IllegalCommand("请先点击“拍照核验”，拍下专家机位摄像头画面后再确认签到")
    return replace(state, checked_in=state.checked_in | {expert}), Happened(
        "expert_checked_in", data
    )


def _commit(state: WorkflowState, command: Command) -> Result:
    expert = own_expert(state, command, "签署承诺书")
    require_check_in_of(state, expert)
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
    expert = own_expert(state, command, "申请回避")
    require_phase(state, Phase.CHECK_IN)
    reason = text_field(command, "reason", "回避原因")
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
    """An expert who withdrew, took leave or was excused gives the seat to a newly drawn one
    (5.5.9), at any time before the end (7.1.3-3b): the replacement joins the current phase
    once checked in and committed."""
    expert = listed_expert(state, command)
    venue = state.venues[expert]
    require_venue_staff(state, command, venue, "替换专家")
    require_phase(state, Phase.SCHEDULED, *ACTIVE_PHASES)
    if expert in state.replaced_by:
        raise IllegalCommand("该专家已被替换")
    if expert in state.signed:
        raise IllegalCommand("该专家已签署评标报告，不能替换")
    if state.phase == Phase.ELECTION and expert in state.voted:
        raise IllegalCommand("该专家已在本轮推选中投票，请在本轮计票后再替换")
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
    expert = own_expert(state, command, "登记签名密钥")
    require_phase(state, Phase.CHECK_IN, Phase.ELECTION, Phase.EVALUATION, Phase.SIGNING)
    if expert in state.signed:
        raise IllegalCommand("已签署评标报告，不能更换签名密钥")
    key = command.fields.get("public_key")
    signatures.load_public_key(key)  # BadSignature with the reason
    assert isinstance(key, str)
    return replace(state, keys={**state.keys, expert: key}), Happened(
        "signing_key_registered", {"expert": expert, "public_key": key}
    )


# -- an absent expert (请离席) --------------------------------------------------------------------


def _excuse_expert(state: WorkflowState, command: Command) -> Result:
    """Host or staff excuse an absent expert; what only they held open is completed now."""
    expert = listed_expert(state, command)
    venue = state.venues[expert]
    if command.role == Role.HOST:
        require_main_host(state, command, "只有主场主持人或本评标室工作人员可以请专家离席")
    else:
        require_venue_staff(state, command, venue, "请专家离席")
    if state.phase not in ACTIVE_PHASES:
        raise IllegalCommand("评审未在进行中，无需请专家离席")
    if expert not in state.seated:
        raise IllegalCommand("该专家已回避、离席或被替换")
    if expert in state.signed:
        raise IllegalCommand("该专家已签署评标报告，无需请离席")
    reason = text_field(command, "reason", "离席原因")
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
        after, kind, closing = count_round(after, command, recorded)
        data["election"] = {"happened": kind, **closing}
    motion = after.open_motion()
    if motion is not None and after.seated <= motion.voters():
        motion = replace(motion, closed=True)
        after = with_motion(after, motion)
        data["motion"] = {"motion": motion.number, **motion_result(motion)}
    return after, Happened("expert_excused", data)


# -- report co-signing (5.4.9, 7.2.4) -------------------------------------------------------------


def _put_up_report(state: WorkflowState, command: Command, phase: Phase) -> tuple[str, str, dict]:
    require_leader_or_host(state, command, "提交评标报告")
    require_phase(state, phase)
    sha256 = digest_field(command, "report_sha256", 64)
    sm3 = digest_field(command, "report_sm3", 64)
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
    expert = own_expert(state, command, "签署评标报告")
    require_phase(state, Phase.SIGNING)
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
    require_main_host(state, command, "只有主场主持人可以发出评审结束指令")
    require_phase(state, Phase.SIGNING)
    missing = state.seated - state.signed
    if missing:
        raise IllegalCommand(f"尚有 {len(missing)} 名专家未签署评标报告，不能结束")
    return replace(state, phase=Phase.ENDED), Happened("end_instruction", {})


def _force_end(state: WorkflowState, command: Command) -> Result:
    """An administrator ends a session that cannot end by the rules; the event says so and why."""
    if command.role != Role.ADMIN:
        raise RoleNotAllowed("只有系统管理员可以强制结束评标")
    reason = text_field(command, "reason", "强制结束原因")
    return (
        replace(state, phase=Phase.ENDED, paused=False, pause_reason=None, forced_end=reason),
        Happened(
            "session_forced_end", {"forced": True, "reason": reason, "phase": str(state.phase)}
        ),
    )


# -- incidents and notices (7.2.6, 9-4) -----------------------------------------------------------


def _pause(state: WorkflowState, command: Command) -> Result:
    require_role(command, PAUSE_ROLES, "只有主持人、工作人员或监督人员可以暂停评审")
    if state.phase not in ACTIVE_PHASES:
        raise IllegalCommand("评审尚未开始，无需暂停")
    reason = text_field(command, "reason", "暂停原因")
    return (
        replace(state, paused=True, pause_reason=reason),
        Happened("evaluation_paused", {"reason": reason, "phase": str(state.phase)}),
    )


def _resume(state: WorkflowState, command: Command) -> Result:
    require_role(command, STAFF_ROLES, "只有主持人或工作人员可以恢复评审")
    if not state.paused:
        raise IllegalCommand("评审未暂停")
    return (
        replace(state, paused=False, pause_reason=None),
        Happened("evaluation_resumed", {"phase": str(state.phase)}),
    )


def _notice(state: WorkflowState, command: Command) -> Result:
    require_main_host(state, command, "只有主场主持人可以向全体机位发布通知")
    return state, Happened("notice", {"text": text_field(command, "text", "通知内容")})


def _open_incident_of(state: WorkflowState, command: Command) -> Incident:
    number = number_field(command, "incident")
    incident = next((i for i in state.incidents if i.number == number), None)
    if incident is None:
        raise IllegalCommand("没有该异常情况记录")
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
    kind = command.fields.get("kind")
    if kind not in INCIDENT_KINDS:
        raise IllegalCommand("异常类型应为平台故障或其他")
    require_fault_handler(state, command, venue, str(kind), "登记异常情况")
    description = text_field(command, "description", "异常情况描述")
    incident = Incident(len(state.incidents) + 1, venue, str(kind), description)
    return replace(state, incidents=(*state.incidents, incident)), Happened(
        "incident_opened",
        {"incident": incident.number, "venue": venue, "kind": kind, "description": description},
    )


def _handle_incident(state: WorkflowState, command: Command) -> Result:
    incident = _open_incident_of(state, command)
    require_fault_handler(state, command, incident.venue, incident.kind, "记录处理情况")
    handling = text_field(command, "handling", "处理情况")
    updated = replace(incident, handling=(*incident.handling, handling))
    return _with_incident(state, updated), Happened(
        "incident_handled", {"incident": incident.number, "handling": handling}
    )


def _close_incident(state: WorkflowState, command: Command) -> Result:
    incident = _open_incident_of(state, command)
    require_venue_staff(state, command, incident.venue, "记录处理结果")
    result = text_field(command, "result", "处理结果")
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
    "start_election": start_election,
    "cast_ballot": cast_ballot,
    "open_motion": open_motion,
    "vote": vote,
    "close_motion": close_motion,
    "cancel_motion": cancel_motion,
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
