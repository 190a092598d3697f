"""The session state machine: every transition, and every refusal leaves the state as it was."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from roomserver.errors import IllegalCommand, RoleNotAllowed, RoomError
from roomserver.model import Role
from roomserver.workflow import COMMANDS, Phase, apply
from tests.unit.roomserver.workflow_support import (
    EXPERTS,
    HOST,
    MAIN,
    OTHER_REPORT,
    REPORT,
    REPORT_SM3,
    REVOTE,
    SNAPSHOT,
    STAFF,
    SUB,
    SUB_STAFF,
    SUPERVISOR,
    VENUES,
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
    put_up,
    refused,
    run,
    sign_as,
    sign_cmd,
    signed_by_all,
    spki,
)


def test_the_whole_session_in_order() -> None:
    state = fresh()
    kinds = []
    commands = [cmd("open_check_in", HOST)]
    for e in sorted(EXPERTS):
        commands += [
            cmd("check_in", STAFF if VENUES[e] == MAIN else SUB_STAFF, expert=e, snapshot=SNAPSHOT),
            cmd("commit", expert(e), expert=e, no_conflict=True),
            cmd("register_key", expert(e), expert=e, public_key=spki(e)),
        ]
    commands += [
        cmd("start_election", HOST, **REVOTE),
        *(cmd("cast_ballot", expert(e), expert=e, candidate="e2") for e in sorted(EXPERTS)),
        cmd("open_motion", expert("e2"), title="是否否决投标人甲", options=["同意", "不同意"]),
        *(cmd("vote", expert(e), expert=e, motion=1, option="同意") for e in sorted(EXPERTS)),
        cmd("start_signing", expert("e2"), **put_up()),
        *(sign_cmd(e) for e in sorted(EXPERTS)),
        cmd("end", HOST),
    ]
    for command in commands:
        state, happened = apply(state, command)
        kinds.append(happened.kind)
    assert state.phase == Phase.ENDED
    assert state.leader == "e2" and state.signed == EXPERTS
    assert kinds == [
        "check_in_opened",
        *["expert_checked_in", "commitment_accepted", "signing_key_registered"] * 3,
        "election_started",
        "ballot_cast",
        "ballot_cast",
        "leader_elected",
        "motion_opened",
        "motion_vote",
        "motion_vote",
        "motion_closed",
        "signing_started",
        "report_signed",
        "report_signed",
        "report_signed",
        "end_instruction",
    ]


def test_only_the_main_venues_host_opens_check_in_and_only_once() -> None:
    err = refused(fresh(), cmd("open_check_in", STAFF), RoleNotAllowed, "主持人")
    assert err.code == "role_not_allowed"
    refused(fresh(), cmd("open_check_in", ("host-2", Role.HOST, SUB)), RoleNotAllowed, "主场")
    err = refused(at_check_in(), cmd("open_check_in", HOST), IllegalCommand, "签到")
    assert err.code == "illegal_command"


def test_check_in_rules() -> None:
    state = at_check_in()
    refused(state, cmd("check_in", expert("e1"), expert="e1"), RoleNotAllowed)
    refused(
        state, cmd("check_in", STAFF, expert="stranger", snapshot=SNAPSHOT), IllegalCommand, "名单"
    )
    # Staff check in the experts of their own venue only; the host checks in anyone.
    refused(
        state,
        cmd("check_in", SUB_STAFF, expert="e1", snapshot=SNAPSHOT),
        RoleNotAllowed,
        "本评标室",
    )
    state, happened = apply(state, cmd("check_in", STAFF, expert="e1", snapshot={"path": "s.jpg"}))
    assert happened.data == {"expert": "e1", "venue": MAIN, "snapshot": {"path": "s.jpg"}}
    refused(
        state, cmd("check_in", HOST, expert="e1", snapshot=SNAPSHOT), IllegalCommand, "已完成签到"
    )
    run(state, cmd("check_in", HOST, expert="e3", snapshot=SNAPSHOT))
    refused(fresh(), cmd("check_in", STAFF, expert="e1", snapshot=SNAPSHOT), IllegalCommand)


def test_check_in_needs_the_identity_picture() -> None:
    state = at_check_in()
    # Without the picture from the seat camera, staff have nothing to compare with the roster.
    refused(state, cmd("check_in", STAFF, expert="e1"), IllegalCommand, "拍照核验")
    refused(state, cmd("check_in", STAFF, expert="e1", snapshot="s.jpg"), IllegalCommand, "拍照")
    state, happened = apply(state, cmd("check_in", STAFF, expert="e1", snapshot=SNAPSHOT))
    assert state.checked_in == {"e1"} and happened.data["snapshot"] == SNAPSHOT


def test_the_commitment_letter_follows_the_identity_check() -> None:
    state = at_check_in()
    refused(
        state, cmd("commit", expert("e1"), expert="e1", no_conflict=True), IllegalCommand, "核验"
    )
    state = run(state, cmd("check_in", STAFF, expert="e1", snapshot=SNAPSHOT))
    refused(state, cmd("commit", expert("e2"), expert="e1", no_conflict=True), RoleNotAllowed)
    refused(state, cmd("commit", expert("e1"), expert="e1"), IllegalCommand, "回避")
    state = run(state, cmd("commit", expert("e1"), expert="e1", no_conflict=True))
    refused(state, cmd("commit", expert("e1"), expert="e1", no_conflict=True), IllegalCommand)


def test_the_election_waits_for_every_expert_and_every_commitment() -> None:
    state = run(at_check_in(), cmd("check_in", STAFF, expert="e1", snapshot=SNAPSHOT))
    refused(state, cmd("start_election", HOST, **REVOTE), IllegalCommand, "2 名专家未签到")
    refused(state, cmd("start_election", STAFF, **REVOTE), RoleNotAllowed)
    state = run(
        state,
        cmd("check_in", STAFF, expert="e2", snapshot=SNAPSHOT),
        cmd("check_in", SUB_STAFF, expert="e3", snapshot=SNAPSHOT),
    )
    refused(state, cmd("start_election", HOST, **REVOTE), IllegalCommand, "3 名专家未签署承诺书")


def test_a_declared_conflict_withdraws_and_a_replacement_takes_the_seat() -> None:
    state = run(at_check_in(), cmd("check_in", SUB_STAFF, expert="e3", snapshot=SNAPSHOT))
    refused(state, cmd("withdraw", expert("e1"), expert="e3", reason="亲属"), RoleNotAllowed)
    refused(state, cmd("withdraw", expert("e3"), expert="e3"), IllegalCommand, "回避原因")
    state, happened = apply(
        state, cmd("withdraw", expert("e3"), expert="e3", reason="与投标人有亲属关系")
    )
    assert happened.data == {"expert": "e3", "reason": "与投标人有亲属关系"}
    assert state.seated == {"e1", "e2"} and "e3" not in state.checked_in
    refused(state, cmd("withdraw", expert("e3"), expert="e3", reason="x"), IllegalCommand, "回避")
    refused(
        state, cmd("check_in", SUB_STAFF, expert="e3", snapshot=SNAPSHOT), IllegalCommand, "回避"
    )
    refused(
        state,
        cmd("replace_expert", STAFF, expert="e3", replacement="e4"),
        RoleNotAllowed,
        "本评标室",
    )
    refused(state, cmd("replace_expert", SUB_STAFF, expert="e3", replacement="e1"), IllegalCommand)
    state, happened = apply(state, cmd("replace_expert", SUB_STAFF, expert="e3", replacement="e4"))
    assert happened.data["venue"] == SUB and happened.data["reason"] == "回避"
    assert state.seated == {"e1", "e2", "e4"} and state.venues["e4"] == SUB
    refused(state, cmd("replace_expert", HOST, expert="e3", replacement="e5"), IllegalCommand)
    # An expert who takes leave is replaced with a reason.
    refused(
        state, cmd("replace_expert", STAFF, expert="e1", replacement="e5"), IllegalCommand, "原因"
    )
    state = run(state, cmd("replace_expert", STAFF, expert="e1", replacement="e5", reason="请假"))
    assert state.seated == {"e2", "e4", "e5"}


def test_signing_keys_are_p256_and_ones_own() -> None:
    state = run(at_check_in(), cmd("check_in", STAFF, expert="e1", snapshot=SNAPSHOT))
    refused(
        state, cmd("register_key", expert("e2"), expert="e1", public_key=spki("e1")), RoleNotAllowed
    )
    err = refused(
        state, cmd("register_key", expert("e1"), expert="e1", public_key="abc"), RoomError
    )
    assert err.code == "bad_signature"
    other_curve = (
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    refused(
        state,
        cmd(
            "register_key",
            expert("e1"),
            expert="e1",
            public_key=base64.b64encode(other_curve).decode(),
        ),
        RoomError,
        "P-256",
    )
    state = run(state, cmd("register_key", expert("e1"), expert="e1", public_key=spki("e1")))
    assert state.keys["e1"] == spki("e1")


def test_a_secret_ballot_never_tells_whom_a_voter_chose() -> None:
    state = at_election()
    assert state.candidates == ("e1", "e2", "e3")
    refused(state, cmd("cast_ballot", expert("e1"), expert="e2", candidate="e1"), RoleNotAllowed)
    refused(state, cmd("cast_ballot", HOST, expert="e1", candidate="e1"), RoleNotAllowed)
    refused(state, cmd("cast_ballot", expert("e1"), expert="e1", candidate="x"), IllegalCommand)
    state, (first,) = ballots(state, {"e1": "e3"})
    assert first.data == {"round": 1, "expert": "e1", "voted": 1, "of": 3}
    assert "e3" not in first.data.values()  # e1 chose e3; the log says only that e1 voted
    refused(
        state,
        cmd("cast_ballot", expert("e1"), expert="e1", candidate="e2"),
        IllegalCommand,
        "已投票",
    )
    state, (_, last) = ballots(state, {"e2": "e3", "e3": "e1"})
    assert last.kind == "leader_elected"
    assert last.data["tally"] == {"e1": 1, "e2": 0, "e3": 2} and last.data["leader"] == "e3"
    assert state.phase == Phase.EVALUATION and state.leader == "e3" and state.ballots == ()


def test_a_tie_leads_to_a_new_round_among_the_tied() -> None:
    state = at_election()
    state, happened = ballots(state, {"e1": "e1", "e2": "e2", "e3": "e3"})
    assert happened[-1].kind == "election_tied"
    assert happened[-1].data["candidates"] == ["e1", "e2", "e3"]
    assert state.election_round == 2 and state.phase == Phase.ELECTION and state.ballots == ()
    state, happened = ballots(state, {"e1": "e2", "e2": "e2", "e3": "e1"})
    assert happened[-1].data["round"] == 2 and state.leader == "e2"


def test_the_host_may_name_the_candidates() -> None:
    state = at_check_in()
    for e in sorted(EXPERTS):
        state = checked_in(state, e)
    refused(
        state, cmd("start_election", HOST, **REVOTE, candidates=["e1", "nobody"]), IllegalCommand
    )
    refused(state, cmd("start_election", HOST, **REVOTE, candidates=["e1", "e1"]), IllegalCommand)
    state = run(state, cmd("start_election", HOST, **REVOTE, candidates=["e1", "e3"]))
    assert state.candidates == ("e1", "e3")
    state, _ = ballots(state, {"e1": "e1", "e2": "e3"})
    refused(state, cmd("cast_ballot", expert("e3"), expert="e3", candidate="e2"), IllegalCommand)


def test_motions_are_opened_by_the_leader_or_host_and_every_vote_is_recorded() -> None:
    state = at_evaluation()  # leader e2
    motion = {"title": "是否否决投标人甲", "options": ["同意", "不同意"]}
    refused(state, cmd("open_motion", expert("e1"), **motion), RoleNotAllowed, "组长")
    refused(state, cmd("open_motion", HOST, title="x", options=["同意"]), IllegalCommand, "选项")
    refused(state, cmd("open_motion", HOST, title="x", options=["a", "a"]), IllegalCommand)
    state = run(state, cmd("open_motion", expert("e2"), **motion))
    refused(state, cmd("open_motion", HOST, **motion), IllegalCommand, "尚未结束")
    refused(state, cmd("start_signing", HOST, **put_up()), IllegalCommand, "表决")
    refused(state, cmd("vote", expert("e1"), expert="e1", motion=2, option="同意"), IllegalCommand)
    refused(state, cmd("vote", expert("e1"), expert="e1", motion=1, option="弃权"), IllegalCommand)
    state, happened = apply(
        state, cmd("vote", expert("e1"), expert="e1", motion=1, option="不同意")
    )
    assert happened.data == {"motion": 1, "expert": "e1", "option": "不同意"}
    refused(state, cmd("vote", expert("e1"), expert="e1", motion=1, option="同意"), IllegalCommand)
    state = run(state, cmd("vote", expert("e2"), expert="e2", motion=1, option="同意"))
    state, happened = apply(state, cmd("vote", expert("e3"), expert="e3", motion=1, option="同意"))
    assert happened.kind == "motion_closed"
    assert happened.data["result"] == {"同意": 2, "不同意": 1}
    assert state.open_motion() is None
    assert run(state, cmd("open_motion", HOST, **motion)).motions[-1].number == 2


def test_signing_is_started_by_the_leader_or_host_with_both_digests() -> None:
    state = at_evaluation()
    refused(state, cmd("start_signing", expert("e1"), **put_up()), RoleNotAllowed)
    refused(state, cmd("start_signing", expert("e2"), **put_up("short")), IllegalCommand)
    no_sm3 = {**put_up(), "report_sm3": None}
    refused(state, cmd("start_signing", expert("e2"), **no_sm3), IllegalCommand, "report_sm3")
    assert run(state, cmd("start_signing", HOST, **put_up())).phase == Phase.SIGNING


def test_signatures_are_verified_once_each_for_oneself_and_for_the_current_report() -> None:
    state = at_signing()
    refused(state, sign_cmd("e2", expert="e1"), RoleNotAllowed)
    refused(state, cmd("sign", HOST, expert="e1", report_sha256=REPORT), RoleNotAllowed)
    refused(state, sign_cmd("e1", report_sha256=OTHER_REPORT), IllegalCommand, "当前的评标报告")
    # Signed with somebody else's key, over another report, or not a signature at all.
    err = refused(
        state, sign_cmd("e1", signature=sign_as("e1", signer="e2")), RoomError, "本人登记"
    )
    assert err.code == "bad_signature"
    refused(state, sign_cmd("e1", signature=sign_as("e1", sha256=OTHER_REPORT)), RoomError)
    refused(state, sign_cmd("e1", signature="AAAA"), RoomError, "64 字节")
    refused(state, sign_cmd("e1", signature="not base64!"), RoomError, "base64")
    refused(state, sign_cmd("e1", handwriting=None), IllegalCommand, "手写签名")
    state, happened = apply(state, sign_cmd("e1"))
    assert happened.data["public_key"] == spki("e1") and happened.data["report_sm3"] == REPORT_SM3
    refused(state, sign_cmd("e1"), IllegalCommand, "已签署")
    refused(
        state, cmd("register_key", expert("e1"), expert="e1", public_key=spki("e2")), IllegalCommand
    )


def test_an_expert_without_a_key_cannot_sign() -> None:
    state = at_check_in()
    for e in sorted(EXPERTS):
        staff = STAFF if VENUES[e] == MAIN else SUB_STAFF
        state = run(
            state,
            cmd("check_in", staff, expert=e, snapshot=SNAPSHOT),
            cmd("commit", expert(e), expert=e, no_conflict=True),
        )
    state = run(state, cmd("start_election", HOST, **REVOTE))
    state, _ = ballots(state, {"e1": "e1", "e2": "e1", "e3": "e1"})
    state = run(state, cmd("start_signing", HOST, **put_up()))
    refused(state, sign_cmd("e1"), IllegalCommand, "签名密钥")


def test_a_changed_report_needs_every_signature_again() -> None:
    state = run(at_signing(), sign_cmd("e1"))
    refused(state, cmd("replace_report", expert("e1"), **put_up(OTHER_REPORT)), RoleNotAllowed)
    refused(state, cmd("replace_report", HOST, **put_up()), IllegalCommand)
    state, happened = apply(state, cmd("replace_report", expert("e2"), **put_up(OTHER_REPORT)))
    assert state.signed == frozenset() and state.report_sha256 == OTHER_REPORT
    assert happened.data["signatures_voided"] == 1
    refused(state, sign_cmd("e1"), IllegalCommand)
    run(state, sign_cmd("e1", report_sha256=OTHER_REPORT, signature=sign_as("e1", OTHER_REPORT)))


def test_a_withdrawn_expert_neither_votes_nor_signs() -> None:
    state = at_check_in()
    state = checked_in(state, "e1")
    state = checked_in(state, "e2")
    state = run(state, cmd("withdraw", expert("e3"), expert="e3", reason="回避"))
    state = run(state, cmd("start_election", HOST, **REVOTE))
    assert state.candidates == ("e1", "e2")
    refused(state, cmd("cast_ballot", expert("e3"), expert="e3", candidate="e1"), IllegalCommand)
    state, _ = ballots(state, {"e1": "e1", "e2": "e1"})
    state = run(state, cmd("start_signing", HOST, **put_up()))
    refused(state, sign_cmd("e3"), IllegalCommand, "回避")
    state = run(state, sign_cmd("e1"), sign_cmd("e2"), cmd("end", HOST))
    assert state.phase == Phase.ENDED


def test_the_end_instruction_needs_every_signature_and_the_main_venues_host() -> None:
    state = run(at_signing(), sign_cmd("e1"))
    refused(state, cmd("end", HOST), IllegalCommand, "2 名专家未签署")
    refused(signed_by_all(), cmd("end", STAFF), RoleNotAllowed, "主持人")
    refused(signed_by_all(), cmd("end", ("host-2", Role.HOST, SUB)), RoleNotAllowed, "主场")
    refused(at_evaluation(), cmd("end", HOST), IllegalCommand)
    ended = run(signed_by_all(), cmd("end", HOST))
    for kind in ("end", "pause", "check_in", "resume", "notice"):
        refused(ended, cmd(kind, HOST, reason="x", expert="e1", text="x"), IllegalCommand, "已结束")


@pytest.mark.parametrize("who", [HOST, STAFF, SUPERVISOR])
def test_pause_and_resume_for_an_incident(who: Who) -> None:
    state = at_evaluation()
    refused(state, cmd("pause", who, reason="  "), IllegalCommand, "原因")
    state, happened = apply(state, cmd("pause", who, reason="副场网络中断"))
    assert state.paused and happened.data == {"reason": "副场网络中断", "phase": "evaluation"}
    # Nothing of the evaluation moves while paused; the incident and notices do.
    refused(state, cmd("open_motion", HOST, title="x", options=["a", "b"]), IllegalCommand, "暂停")
    refused(state, cmd("pause", who, reason="again"), IllegalCommand, "暂停")
    refused(state, cmd("resume", SUPERVISOR), RoleNotAllowed)
    state = run(
        state,
        cmd("notice", HOST, text="副场网络中断，评审暂停"),
        cmd("open_incident", SUB_STAFF, venue=SUB, kind="platform", description="网络中断"),
        cmd("resume", STAFF),
    )
    assert not state.paused and state.phase == Phase.EVALUATION
    refused(state, cmd("resume", HOST), IllegalCommand, "未暂停")


def test_incidents_are_recorded_with_cause_handling_and_result() -> None:
    state = at_check_in()
    opened = {"venue": SUB, "kind": "platform", "description": "丹东副场视频中断"}
    refused(state, cmd("open_incident", STAFF, **opened), RoleNotAllowed, "本评标室")
    refused(state, cmd("open_incident", expert("e1"), **opened), RoleNotAllowed)
    refused(state, cmd("open_incident", HOST, **{**opened, "kind": "weather"}), IllegalCommand)
    refused(state, cmd("open_incident", HOST, **{**opened, "venue": "elsewhere"}), IllegalCommand)
    state, happened = apply(state, cmd("open_incident", SUB_STAFF, **opened))
    assert happened.data == {"incident": 1, **opened}
    refused(state, cmd("handle_incident", STAFF, incident=1, handling="x"), RoleNotAllowed)
    refused(state, cmd("handle_incident", SUB_STAFF, incident=2, handling="x"), IllegalCommand)
    state = run(
        state,
        cmd("handle_incident", SUB_STAFF, incident=1, handling="重启编码器"),
        cmd("handle_incident", HOST, incident=1, handling="切换备用线路"),
        cmd("close_incident", SUB_STAFF, incident=1, result="已恢复，中断 3 分钟"),
    )
    (incident,) = state.incidents
    assert incident.handling == ("重启编码器", "切换备用线路")
    assert incident.result == "已恢复，中断 3 分钟"
    refused(
        state, cmd("close_incident", HOST, incident=1, result="again"), IllegalCommand, "处理完毕"
    )


def test_notices_come_from_the_main_venues_host() -> None:
    state = at_check_in()
    refused(state, cmd("notice", STAFF, text="x"), RoleNotAllowed)
    refused(state, cmd("notice", HOST, text=" "), IllegalCommand)
    refused(state, cmd("notice", HOST, text="长" * 501), IllegalCommand, "500")
    new_state, happened = apply(state, cmd("notice", HOST, text="请各位专家开始评审"))
    assert new_state == state and happened.data == {"text": "请各位专家开始评审"}


def test_no_pause_before_the_session_starts_and_experts_cannot_pause() -> None:
    refused(fresh(), cmd("pause", HOST, reason="x"), IllegalCommand)
    refused(at_check_in(), cmd("pause", expert("e1"), reason="x"), RoleNotAllowed)


def test_an_unknown_command_is_refused() -> None:
    refused(fresh(), cmd("skip_to_the_end", HOST), IllegalCommand, "未知")
    assert "leader_elected" not in COMMANDS  # the leader is elected by ballot, never named


# -- a session always finishes --------------------------------------------------------------------
