"""The session state machine: every transition, and every refusal leaves the state as it was."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from roomserver import lots, signatures
from roomserver.errors import IllegalCommand, RoleNotAllowed, RoomError
from roomserver.model import Role
from roomserver.workflow import COMMANDS, Command, Happened, Phase, WorkflowState, apply

MAIN, SUB = "venue-main", "venue-sub"
VENUES = {"e1": MAIN, "e2": MAIN, "e3": SUB}
EXPERTS = frozenset(VENUES)
SESSION = "session-1"
REPORT = hashlib.sha256(b"report").hexdigest()
REPORT_SM3 = "5" * 64
OTHER_REPORT = hashlib.sha256(b"other report").hexdigest()
HANDWRITING = {"path": "documents/x.png", "sha256": "d" * 64, "sm3": "e" * 64}
HOST = ("host-1", Role.HOST, MAIN)
STAFF = ("staff-main", Role.STAFF, MAIN)
SUB_STAFF = ("staff-sub", Role.STAFF, SUB)
SUPERVISOR = ("sup-1", Role.SUPERVISOR, None)
KEYS = {e: ec.generate_private_key(ec.SECP256R1()) for e in ("e1", "e2", "e3", "e4")}

SNAPSHOT = {"path": "evidence/identity.jpg", "sha256": "a" * 64}
SEED = bytes(range(32))
COMMITMENT = lots.commitment(SEED)
REVOTE = {"tie_rule": "revote", "max_rounds": 3, "lot_commitment": COMMITMENT}
LOT = {"tie_rule": "lot", "lot_commitment": COMMITMENT}

Who = tuple[str, Role, str | None]


def cmd(kind: str, who: Who, /, **fields: Any) -> Command:
    return Command(kind=kind, actor=who[0], role=who[1], fields=fields, venue=who[2])


def expert(e: str) -> Who:
    return (e, Role.EXPERT, VENUES.get(e, SUB))


def spki(e: str) -> str:
    der = (
        KEYS[e]
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return base64.b64encode(der).decode()


def sign_as(e: str, sha256: str = REPORT, sm3: str = REPORT_SM3, signer: str = "") -> str:
    """What the seat page's WebCrypto gives: ECDSA P-256 / SHA-256 as r‖s, base64."""
    message = signatures.statement(SESSION, e, sha256, sm3)
    der = KEYS[signer or e].sign(message, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()


def sign_cmd(e: str, **overrides: Any) -> Command:
    fields = {"expert": e, "report_sha256": REPORT, "signature": sign_as(e)}
    fields["handwriting"] = HANDWRITING
    fields.update(overrides)
    return cmd("sign", expert(e), **fields)


def run(state: WorkflowState, *commands: Command) -> WorkflowState:
    for command in commands:
        state, _ = apply(state, command)
    return state


def fresh() -> WorkflowState:
    return WorkflowState(session_id=SESSION, main_venue=MAIN, venues=VENUES)


def at_check_in() -> WorkflowState:
    return run(fresh(), cmd("open_check_in", HOST))


def checked_in(state: WorkflowState, e: str) -> WorkflowState:
    staff = STAFF if state.venues[e] == MAIN else SUB_STAFF
    return run(
        state,
        cmd("check_in", staff, expert=e, snapshot=SNAPSHOT),
        cmd("commit", expert(e), expert=e, no_conflict=True),
        cmd("register_key", expert(e), expert=e, public_key=spki(e)),
    )


def at_election() -> WorkflowState:
    state = at_check_in()
    for e in sorted(EXPERTS):
        state = checked_in(state, e)
    return run(state, cmd("start_election", HOST, **REVOTE))


def ballots(state: WorkflowState, votes: dict[str, str]) -> tuple[WorkflowState, list[Happened]]:
    happened = []
    for voter, candidate in votes.items():
        state, h = apply(
            state, cmd("cast_ballot", expert(voter), expert=voter, candidate=candidate)
        )
        happened.append(h)
    return state, happened


def at_evaluation() -> WorkflowState:
    state, _ = ballots(at_election(), {"e1": "e2", "e2": "e2", "e3": "e1"})
    return state


def put_up(sha256: str = REPORT) -> dict[str, Any]:
    return {"report_sha256": sha256, "report_sm3": REPORT_SM3, "document": {"path": "r.pdf"}}


def at_signing() -> WorkflowState:
    return run(at_evaluation(), cmd("start_signing", expert("e2"), **put_up()))


def signed_by_all() -> WorkflowState:
    return run(at_signing(), *(sign_cmd(e) for e in sorted(EXPERTS)))


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
