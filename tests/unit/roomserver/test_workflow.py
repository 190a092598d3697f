"""The session state machine: every transition, and every refusal leaves the state as it was."""

from __future__ import annotations

from typing import Any

import pytest

from roomserver.errors import IllegalCommand, RoleNotAllowed, RoomError
from roomserver.model import Role
from roomserver.workflow import Command, Phase, WorkflowState, apply

EXPERTS = frozenset({"e1", "e2", "e3"})
REPORT = "a" * 64
OTHER_REPORT = "b" * 64
HOST = ("host-1", Role.HOST)
STAFF = ("staff-1", Role.STAFF)
SUPERVISOR = ("sup-1", Role.SUPERVISOR)


def cmd(kind: str, who: tuple[str, Role], **fields: Any) -> Command:
    return Command(kind=kind, actor=who[0], role=who[1], fields=fields)


def expert(e: str) -> tuple[str, Role]:
    return (e, Role.EXPERT)


def run(state: WorkflowState, *commands: Command) -> WorkflowState:
    for command in commands:
        state, _ = apply(state, command)
    return state


def at_check_in() -> WorkflowState:
    return run(WorkflowState(experts=EXPERTS), cmd("open_check_in", HOST))


def at_election() -> WorkflowState:
    state = at_check_in()
    for e in sorted(EXPERTS):
        state = run(state, cmd("check_in", STAFF, expert=e))
    return run(state, cmd("start_election", HOST))


def at_evaluation() -> WorkflowState:
    return run(at_election(), cmd("leader_elected", HOST, expert="e2"))


def at_signing() -> WorkflowState:
    return run(at_evaluation(), cmd("start_signing", expert("e2"), report_sha256=REPORT))


def signed_by_all() -> WorkflowState:
    state = at_signing()
    for e in sorted(EXPERTS):
        state = run(state, cmd("sign", expert(e), expert=e, report_sha256=REPORT))
    return state


def refused(
    state: WorkflowState, command: Command, error: type[RoomError], text: str = ""
) -> RoomError:
    """`command` is refused with `error`; the state object is left exactly as it was."""
    before = state
    with pytest.raises(error) as caught:
        apply(state, command)
    assert state == before
    assert text in caught.value.message
    return caught.value


def test_the_whole_session_in_order() -> None:
    state = WorkflowState(experts=EXPERTS)
    kinds = []
    commands = [
        cmd("open_check_in", HOST),
        *(cmd("check_in", STAFF, expert=e) for e in sorted(EXPERTS)),
        cmd("start_election", HOST),
        cmd("leader_elected", HOST, expert="e2"),
        cmd("start_signing", expert("e2"), report_sha256=REPORT),
        *(cmd("sign", expert(e), expert=e, report_sha256=REPORT) for e in sorted(EXPERTS)),
        cmd("end", HOST),
    ]
    for command in commands:
        state, happened = apply(state, command)
        kinds.append(happened.kind)
    assert state.phase == Phase.ENDED
    assert state.leader == "e2" and state.signed == EXPERTS
    assert kinds == [
        "check_in_opened",
        "expert_checked_in",
        "expert_checked_in",
        "expert_checked_in",
        "election_started",
        "leader_elected",
        "signing_started",
        "report_signed",
        "report_signed",
        "report_signed",
        "end_instruction",
    ]


def test_only_the_host_opens_check_in_and_only_once() -> None:
    state = WorkflowState(experts=EXPERTS)
    err = refused(state, cmd("open_check_in", STAFF), RoleNotAllowed, "主持人")
    assert err.code == "role_not_allowed"
    err = refused(at_check_in(), cmd("open_check_in", HOST), IllegalCommand, "签到")
    assert err.code == "illegal_command"


def test_check_in_rules() -> None:
    state = at_check_in()
    refused(state, cmd("check_in", expert("e1"), expert="e1"), RoleNotAllowed)
    refused(state, cmd("check_in", STAFF, expert="stranger"), IllegalCommand, "名单")
    state = run(state, cmd("check_in", STAFF, expert="e1"))
    refused(state, cmd("check_in", HOST, expert="e1"), IllegalCommand, "已完成签到")
    refused(WorkflowState(experts=EXPERTS), cmd("check_in", STAFF, expert="e1"), IllegalCommand)


def test_the_election_waits_for_every_expert() -> None:
    state = run(at_check_in(), cmd("check_in", STAFF, expert="e1"))
    refused(state, cmd("start_election", HOST), IllegalCommand, "2 名专家未签到")
    refused(state, cmd("start_election", STAFF), RoleNotAllowed)


def test_a_withdrawn_expert_does_not_count_and_cannot_lead_or_sign() -> None:
    state = run(
        at_check_in(),
        cmd("check_in", STAFF, expert="e1"),
        cmd("withdraw", expert("e3"), expert="e3"),
        cmd("check_in", STAFF, expert="e2"),
    )
    assert state.seated == {"e1", "e2"}
    refused(state, cmd("withdraw", expert("e1"), expert="e3"), RoleNotAllowed, "本人")
    refused(state, cmd("withdraw", expert("e3"), expert="e3"), IllegalCommand, "回避")
    refused(state, cmd("check_in", STAFF, expert="e3"), IllegalCommand, "回避")
    state = run(state, cmd("start_election", HOST))
    refused(state, cmd("leader_elected", HOST, expert="e3"), IllegalCommand, "回避")
    state = run(
        state,
        cmd("leader_elected", HOST, expert="e1"),
        cmd("start_signing", HOST, report_sha256=REPORT),
    )
    refused(state, cmd("sign", expert("e3"), expert="e3", report_sha256=REPORT), IllegalCommand)
    state = run(
        state,
        cmd("sign", expert("e1"), expert="e1", report_sha256=REPORT),
        cmd("sign", expert("e2"), expert="e2", report_sha256=REPORT),
        cmd("end", HOST),
    )
    assert state.phase == Phase.ENDED


def test_leader_and_signing_are_started_by_whom_they_may() -> None:
    state = at_election()
    refused(state, cmd("leader_elected", STAFF, expert="e1"), RoleNotAllowed)
    refused(state, cmd("leader_elected", HOST, expert="nobody"), IllegalCommand)
    state = at_evaluation()
    refused(state, cmd("start_signing", expert("e1"), report_sha256=REPORT), RoleNotAllowed)
    refused(state, cmd("start_signing", expert("e2"), report_sha256="short"), IllegalCommand)
    assert run(state, cmd("start_signing", HOST, report_sha256=REPORT)).phase == Phase.SIGNING


def test_signatures_are_once_each_for_oneself_and_for_the_current_report() -> None:
    state = at_signing()
    refused(state, cmd("sign", expert("e1"), expert="e2", report_sha256=REPORT), RoleNotAllowed)
    refused(state, cmd("sign", HOST, expert="e1", report_sha256=REPORT), RoleNotAllowed)
    refused(
        state,
        cmd("sign", expert("e1"), expert="e1", report_sha256=OTHER_REPORT),
        IllegalCommand,
        "当前的评标报告",
    )
    state = run(state, cmd("sign", expert("e1"), expert="e1", report_sha256=REPORT))
    refused(
        state,
        cmd("sign", expert("e1"), expert="e1", report_sha256=REPORT),
        IllegalCommand,
        "已签署",
    )


def test_a_changed_report_needs_every_signature_again() -> None:
    state = run(at_signing(), cmd("sign", expert("e1"), expert="e1", report_sha256=REPORT))
    refused(state, cmd("replace_report", expert("e1"), report_sha256=OTHER_REPORT), RoleNotAllowed)
    refused(state, cmd("replace_report", HOST, report_sha256=REPORT), IllegalCommand)
    state, happened = apply(state, cmd("replace_report", expert("e2"), report_sha256=OTHER_REPORT))
    assert state.signed == frozenset() and state.report_sha256 == OTHER_REPORT
    assert happened.data["signatures_voided"] == 1
    refused(state, cmd("sign", expert("e1"), expert="e1", report_sha256=REPORT), IllegalCommand)


def test_the_end_instruction_needs_every_signature_and_the_host() -> None:
    state = run(at_signing(), cmd("sign", expert("e1"), expert="e1", report_sha256=REPORT))
    refused(state, cmd("end", HOST), IllegalCommand, "2 名专家未签署")
    refused(signed_by_all(), cmd("end", STAFF), RoleNotAllowed, "主持人")
    refused(at_evaluation(), cmd("end", HOST), IllegalCommand)
    ended = run(signed_by_all(), cmd("end", HOST))
    for kind in ("end", "pause", "check_in", "resume"):
        refused(ended, cmd(kind, HOST, reason="x", expert="e1"), IllegalCommand, "已结束")


@pytest.mark.parametrize("who", [HOST, STAFF, SUPERVISOR])
def test_pause_and_resume_for_an_incident(who: tuple[str, Role]) -> None:
    state = at_evaluation()
    refused(state, cmd("pause", who, reason="  "), IllegalCommand, "原因")
    state, happened = apply(state, cmd("pause", who, reason="副场网络中断"))
    assert state.paused and happened.data == {"reason": "副场网络中断", "phase": "evaluation"}
    # Nothing moves while paused, not even a signature or the end.
    refused(state, cmd("leader_elected", HOST, expert="e1"), IllegalCommand, "暂停")
    refused(state, cmd("pause", who, reason="again"), IllegalCommand, "暂停")
    refused(state, cmd("resume", SUPERVISOR), RoleNotAllowed)
    state = run(state, cmd("resume", STAFF))
    assert not state.paused and state.phase == Phase.EVALUATION
    refused(state, cmd("resume", HOST), IllegalCommand, "未暂停")


def test_no_pause_before_the_session_starts_and_experts_cannot_pause() -> None:
    refused(WorkflowState(experts=EXPERTS), cmd("pause", HOST, reason="x"), IllegalCommand)
    refused(at_check_in(), cmd("pause", expert("e1"), reason="x"), RoleNotAllowed)


def test_an_unknown_command_is_refused() -> None:
    refused(WorkflowState(experts=EXPERTS), cmd("skip_to_the_end", HOST), IllegalCommand, "未知")
