"""Every refusal of the bid opening, each with its reason; a refused command changes nothing."""

from __future__ import annotations

import hashlib
from datetime import datetime

import pytest

from roomserver.errors import (
    BadSignature,
    DeadlinePassed,
    IllegalCommand,
    InvalidRequest,
    KeyMismatch,
    RoleNotAllowed,
)
from roomserver.model import Role
from roomserver.opening import COMMANDS, Command, OpeningState, Phase, apply
from tests.unit.roomserver.opening_support import (
    AGENCY,
    BENCHMARK,
    COMMITMENT,
    DEADLINE,
    FACE,
    HOST,
    PRICES,
    PUBLIC,
    RECORD,
    SEED,
    SERVER_WHO,
    TENDERER,
    WITNESS,
    at_decrypted,
    at_decryption,
    at_published,
    at_readout,
    at_signing,
    at_submission,
    bidder,
    cmd,
    fresh,
    opened,
    put_up,
    record_of,
    record_signature,
    refused,
    release,
    run,
    sign,
    sign_in,
    spki,
    submit,
    submitted,
    t,
)


def test_a_bidder_acts_for_itself_only() -> None:
    state = at_submission()
    for command in (
        cmd("sign_in", bidder("b1"), t(-5), bidder="b2", representative="x", id_last4="1234"),
        cmd("submit_bid", bidder("b1"), t(-5), **submit("b2").fields),
    ):
        refused(state, command, RoleNotAllowed, "不能代其他投标人操作")
    decryption = at_decryption()
    for_b2 = cmd("release_key", bidder("b1"), t(2), bidder="b2", key_sha256="0" * 64)
    refused(decryption, for_b2, RoleNotAllowed, "不能代其他投标人操作")
    report = cmd("report_failure", bidder("b1"), t(2), bidder="b2", reason="x")
    refused(decryption, report, RoleNotAllowed, "不能代其他投标人操作")
    readout = at_readout()
    refused(readout, cmd("confirm_row", bidder("b1"), t(13), bidder="b2"), RoleNotAllowed)
    objection = cmd("raise_objection", bidder("b1"), t(13), bidder="b2", text="异议")
    refused(readout, objection, RoleNotAllowed, "不能代其他投标人操作")


def test_only_bidders_on_the_list_sign_in_and_submit() -> None:
    state = at_submission()
    refused(state, cmd("submit_bid", HOST, t(-5), **submit("b1").fields), RoleNotAllowed)
    stranger = cmd("submit_bid", bidder("x9"), t(-5), bidder="x9", **record_of("b1").as_fields())
    refused(state, stranger, IllegalCommand, "不在本标段的投标人名单中")
    bad = cmd("sign_in", bidder("b1"), t(-5), bidder="b1", representative="张三", id_last4="12")
    refused(state, bad, IllegalCommand, "身份证号后四位")
    no_face = cmd(
        "sign_in", bidder("b1"), t(-5), bidder="b1", representative="张三", id_last4="1234"
    )
    refused(state, no_face, IllegalCommand, "人脸照片的摘要")
    refused(state, submit("b1", blob_sm3="XYZ"), IllegalCommand, "SM3")
    refused(fresh(), sign_in("b1"), IllegalCommand, "签到与递交投标文件")


def test_the_same_ciphertext_from_another_bidder_is_refused() -> None:
    state = submitted("b1")
    copied = cmd(
        "submit_bid", bidder("b2"), t(-5), **{**record_of("b1").as_fields(), "bidder": "b2"}
    )
    refused(state, copied, IllegalCommand, "与其他投标人递交的相同")


def test_the_deadline_is_declared_at_the_deadline_by_the_server_or_the_host() -> None:
    state = submitted("b1", "b2", "b3")
    refused(state, cmd("deadline_passed", SERVER_WHO, t(-1)), IllegalCommand, "尚未到投标截止")
    refused(state, cmd("deadline_passed", bidder("b1"), t(0)), RoleNotAllowed)
    refused(state, cmd("deadline_passed", WITNESS, t(0)), RoleNotAllowed)
    assert run(state, cmd("deadline_passed", HOST, t(0))).phase == Phase.PUBLISHED


def test_decryption_opens_by_the_host_with_the_commitment_the_lot_needs() -> None:
    state = at_published()
    refused(state, cmd("open_decryption", WITNESS, t(1)), RoleNotAllowed, "开启解密")
    refused(state, cmd("open_decryption", HOST, t(1), minutes=0), IllegalCommand, "解密时限")
    surplus = cmd("open_decryption", HOST, t(1), benchmark_commitment=COMMITMENT)
    refused(state, surplus, IllegalCommand, "未规定抽取")
    needing = at_published(benchmark=BENCHMARK)
    refused(needing, cmd("open_decryption", HOST, t(1)), IllegalCommand, "随机种子承诺")
    refused(state, release("b1"), IllegalCommand, "“解密”阶段")


def test_a_key_is_released_once_in_time_by_a_signed_in_bidder_that_submitted() -> None:
    state = at_decryption()
    wrong = cmd("release_key", bidder("b1"), t(2), bidder="b1", key_sha256="0" * 64)
    refused(state, wrong, KeyMismatch, "请选择正确的密钥文件")
    released = run(state, release("b1"))
    refused(released, release("b1", t(3)), IllegalCommand, "不能重复提交")
    refused(run(released, opened("b1")), release("b1", t(3)), IllegalCommand, "不能重复提交")
    refused(state, release("b1", t(31)), DeadlinePassed, "解密时限已过")
    absent = cmd("release_key", bidder("b4"), t(2), bidder="b4", key_sha256="0" * 64)
    refused(state, absent, IllegalCommand, "未在投标截止前递交")
    # b3 submitted but nobody signed in for it.
    unsigned = run(at_submission(), *(c for b in ("b1", "b2") for c in (sign_in(b), submit(b))))
    unsigned = run(unsigned, submit("b3"), cmd("deadline_passed", SERVER_WHO, t(0)))
    unsigned = run(unsigned, cmd("open_decryption", HOST, t(1)))
    refused(unsigned, release("b3"), IllegalCommand, "未在投标截止前签到")


def test_only_the_server_records_a_seals_result_once_for_a_released_key() -> None:
    state = at_decryption()
    refused(state, opened("b1"), IllegalCommand, "尚未提交解密密钥")
    released = run(state, release("b1"))
    for who in (HOST, bidder("b1"), WITNESS):
        forged = cmd("seal_opened", who, t(5), **opened("b1").fields)
        refused(released, forged, RoleNotAllowed, "由系统记录")
    fields = dict(opened("b1").fields)
    wrong_digest = cmd("seal_opened", SERVER_WHO, t(5), **{**fields, "plaintext_sha256": "0" * 64})
    refused(released, wrong_digest, IllegalCommand, "承诺的摘要不符")
    bad_fields = {**fields, "fields": {"price": 12.5, "duration_days": 365}}
    refused(released, cmd("seal_opened", SERVER_WHO, t(5), **bad_fields), IllegalCommand, "金额")
    refused(
        released, cmd("seal_opened", SERVER_WHO, t(5), bidder="b1"), IllegalCommand, "成功或失败"
    )
    codeless = cmd("seal_opened", SERVER_WHO, t(5), bidder="b1", ok=False, reason="密文损坏")
    refused(released, codeless, IllegalCommand, "解密失败的代码")
    done = run(released, opened("b1"))
    refused(done, opened("b1"), IllegalCommand, "已有解密结果")


def test_failure_reports_and_their_handling() -> None:
    state = at_decryption()
    decrypted = run(state, release("b1"), opened("b1"))
    report = cmd("report_failure", bidder("b1"), t(6), bidder="b1", reason="无法解密")
    refused(decrypted, report, IllegalCommand, "已解密成功")
    pending = run(state, release("b1"))
    refused(pending, report, IllegalCommand, "正在解密")
    reasonless = cmd("report_failure", bidder("b1"), t(6), bidder="b1")
    refused(state, reasonless, IllegalCommand, "原因")
    reported = run(state, report)
    refused(reported, report, IllegalCommand, "已报告过")
    refused(reported, release("b1"), IllegalCommand, "已报告解密失败")
    accept = {"bidder": "b1", "decision": "accepted", "handling": "使用备用文件"}
    refused(reported, cmd("handle_failure", WITNESS, t(7), **accept), RoleNotAllowed)
    refused(reported, cmd("handle_failure", HOST, t(7), **accept), IllegalCommand, "缺少开标字段")
    partial = {**accept, "fields": {"price": PRICES["b1"]}}
    refused(reported, cmd("handle_failure", HOST, t(7), **partial), IllegalCommand, "工期")
    odd = {**accept, "decision": "maybe"}
    refused(reported, cmd("handle_failure", HOST, t(7), **odd), IllegalCommand, "处理结果")
    unreported = {**accept, "bidder": "b2"}
    refused(reported, cmd("handle_failure", HOST, t(7), **unreported), IllegalCommand, "未报告")
    rejected = {"bidder": "b1", "decision": "rejected", "handling": "投标人自身原因"}
    handled = run(reported, cmd("handle_failure", HOST, t(7), **rejected))
    refused(handled, cmd("handle_failure", HOST, t(8), **rejected), IllegalCommand, "已处理")


def test_decryption_does_not_close_on_anything_left_waiting() -> None:
    state = at_decryption()
    pending = run(state, release("b1"))
    refused(pending, cmd("close_decryption", HOST, t(40)), IllegalCommand, "正在解密")
    report = cmd("report_failure", bidder("b2"), t(6), bidder="b2", reason="无法解密")
    reported = run(state, report)
    refused(reported, cmd("close_decryption", SERVER_WHO, t(40)), IllegalCommand, "尚未处理")
    refused(state, cmd("close_decryption", HOST, t(10)), IllegalCommand, "时限未到")
    refused(state, cmd("close_decryption", WITNESS, t(40)), RoleNotAllowed)


def test_the_benchmark_draw_reveals_the_committed_seed_once() -> None:
    state = at_decrypted(benchmark=BENCHMARK)
    refused(state, cmd("publish_readout", HOST, t(11)), IllegalCommand, "请先抽取")
    wrong = cmd("draw_benchmark", HOST, t(10), seed=bytes(32).hex())
    refused(state, wrong, IllegalCommand, "与开启解密时公布的承诺不符")
    refused(state, cmd("draw_benchmark", HOST, t(10), seed="zz"), IllegalCommand, "64 位")
    refused(state, cmd("draw_benchmark", WITNESS, t(10), seed=SEED.hex()), RoleNotAllowed)
    drawn = run(state, cmd("draw_benchmark", HOST, t(10), seed=SEED.hex()))
    again = cmd("draw_benchmark", HOST, t(11), seed=SEED.hex())
    refused(drawn, again, IllegalCommand, "已抽取")
    plain = at_decrypted()
    refused(plain, again, IllegalCommand, "未规定抽取")


def test_confirmations_objections_and_answers() -> None:
    state = at_readout()
    confirmed = run(state, cmd("confirm_row", bidder("b1"), t(13), bidder="b1"))
    refused(
        confirmed, cmd("confirm_row", bidder("b1"), t(14), bidder="b1"), IllegalCommand, "已确认"
    )
    no_row = cmd("confirm_row", bidder("b4"), t(13), bidder="b4")
    refused(state, no_row, IllegalCommand, "没有唱标记录")
    stranger = cmd("raise_objection", bidder("b4"), t(13), bidder="b4", text="异议")
    refused(state, stranger, IllegalCommand, "递交了投标文件")
    empty = cmd("raise_objection", bidder("b2"), t(13), bidder="b2", text="  ")
    refused(state, empty, IllegalCommand, "异议内容")
    video = {"sha256": hashlib.sha256(b"v").hexdigest(), "type": "video/mp4"}
    with_video = cmd(
        "raise_objection", bidder("b2"), t(13), bidder="b2", text="异议", attachment=video
    )
    refused(state, with_video, IllegalCommand, "图片")
    objection = cmd("raise_objection", bidder("b2"), t(13), bidder="b2", text="报价有误")
    objected = run(state, objection)
    refused(
        objected, cmd("confirm_row", bidder("b2"), t(14), bidder="b2"), IllegalCommand, "未答复"
    )
    answer = {"objection": 1, "answer": "已核对，无误"}
    refused(objected, cmd("answer_objection", bidder("b1"), t(14), **answer), RoleNotAllowed)
    refused(objected, cmd("answer_objection", HOST, t(14), **answer), RoleNotAllowed)
    unknown = cmd("answer_objection", TENDERER, t(14), objection=2, answer="x")
    refused(objected, unknown, IllegalCommand, "没有该异议")
    refused(objected, cmd("put_up_record", HOST, t(15), **put_up()), IllegalCommand, "未答复")
    answered = run(objected, cmd("answer_objection", AGENCY, t(14), **answer))
    refused(answered, cmd("answer_objection", TENDERER, t(15), **answer), IllegalCommand, "已答复")
    run(answered, cmd("confirm_row", bidder("b2"), t(15), bidder="b2"))


def test_the_record_sheet_is_signed_by_host_and_witness_with_their_keys() -> None:
    readout = at_readout()
    refused(readout, cmd("put_up_record", WITNESS, t(20), **put_up()), RoleNotAllowed)
    refused(
        readout, cmd("put_up_record", HOST, t(20), record_sha256="x"), IllegalCommand, "SHA-256"
    )
    refused(readout, cmd("register_key", TENDERER, t(13), public_key=spki(HOST)), RoleNotAllowed)
    refused(readout, cmd("register_key", HOST, t(13), public_key="abc"), BadSignature)
    state = at_signing()
    refused(state, cmd("end", HOST, t(21)), IllegalCommand, "主持人尚未签署")
    stale = cmd("sign_record", HOST, t(21), record_sha256="0" * 64, signature="x")
    refused(state, stale, IllegalCommand, "不是当前的开标记录表")
    forged = cmd(
        "sign_record",
        HOST,
        t(21),
        record_sha256=RECORD,
        signature=record_signature(HOST, signer=WITNESS[0]),
    )
    refused(state, forged, BadSignature, "开标记录表")
    by_tenderer = cmd("sign_record", TENDERER, t(21), record_sha256=RECORD, signature="x")
    refused(state, by_tenderer, RoleNotAllowed)
    keyless = run(at_readout(), cmd("put_up_record", HOST, t(20), **put_up()))
    refused(keyless, sign(HOST, t(21)), IllegalCommand, "尚未登记签名密钥")
    signed = run(state, sign(HOST, t(21)))
    refused(signed, sign(HOST, t(22)), IllegalCommand, "已签署")
    refused(
        signed, cmd("register_key", HOST, t(22), public_key=spki(HOST)), IllegalCommand, "不能更换"
    )
    refused(signed, cmd("end", HOST, t(22)), IllegalCommand, "见证人尚未签署")
    same = cmd("replace_record", HOST, t(22), **put_up())
    refused(signed, same, IllegalCommand, "相同")
    both = run(signed, sign(WITNESS, t(22)))
    refused(both, cmd("end", WITNESS, t(23)), RoleNotAllowed)


def test_urging_and_muting() -> None:
    state = at_readout()
    refused(state, cmd("urge", HOST, t(13), text="快"), RoleNotAllowed, "见证人")
    refused(state, cmd("urge", WITNESS, t(13)), IllegalCommand, "提醒内容")
    refused(state, cmd("mute", bidder("b1"), t(13), participant="b2", reason="x"), RoleNotAllowed)
    refused(state, cmd("mute", TENDERER, t(13), participant="b2", reason="x"), RoleNotAllowed)
    refused(state, cmd("mute", HOST, t(13), participant="b2"), IllegalCommand, "禁言原因")
    muted = run(state, cmd("mute", HOST, t(13), participant="b2", reason="扰乱秩序"))
    assert muted.muted == {"b2": "扰乱秩序"}
    again = cmd("mute", WITNESS, t(13), participant="b2", reason="x")
    refused(muted, again, IllegalCommand, "已被禁言")
    refused(state, cmd("unmute", HOST, t(14), participant="b2"), IllegalCommand, "未被禁言")
    refused(muted, cmd("unmute", bidder("b2"), t(14), participant="b2"), RoleNotAllowed)


def test_a_paused_opening_takes_only_the_handling() -> None:
    state = at_decryption()
    refused(state, cmd("pause", bidder("b1"), t(2), reason="x"), RoleNotAllowed)
    refused(state, cmd("pause", HOST, t(2)), IllegalCommand, "暂停原因")
    paused = run(state, release("b1"), cmd("pause", WITNESS, t(2), reason="平台故障"))
    refused(paused, cmd("pause", HOST, t(2), reason="again"), IllegalCommand, "已暂停")
    refused(paused, release("b2", t(3)), IllegalCommand, "开标已暂停（平台故障）")
    refused(paused, cmd("resume", WITNESS, t(3)), RoleNotAllowed)
    refused(paused, cmd("notice", WITNESS, t(3), text="x"), RoleNotAllowed)
    still = run(paused, opened("b1"), cmd("notice", HOST, t(3), text="平台故障，暂停解密"))
    assert still.bid("b1").status == "decrypted" and still.paused
    refused(state, cmd("resume", HOST, t(3)), IllegalCommand, "未暂停")


def test_incidents() -> None:
    state = at_published()
    refused(
        state,
        cmd("open_incident", bidder("b1"), t(1), kind="other", description="x"),
        RoleNotAllowed,
    )
    refused(
        state,
        cmd("open_incident", HOST, t(1), kind="fire", description="x"),
        IllegalCommand,
        "异常类型",
    )
    opened_ = run(state, cmd("open_incident", WITNESS, t(1), kind="other", description="停电"))
    refused(
        opened_,
        cmd("handle_incident", HOST, t(2), incident=2, handling="x"),
        IllegalCommand,
        "没有该异常",
    )
    closed = run(opened_, cmd("close_incident", HOST, t(2), incident=1, result="已恢复供电"))
    refused(
        closed,
        cmd("close_incident", HOST, t(3), incident=1, result="x"),
        IllegalCommand,
        "已处理完毕",
    )


def phases() -> list[OpeningState]:
    return [
        fresh(),
        at_submission(),
        at_published(),
        at_decryption(),
        at_decrypted(),
        at_readout(),
        at_signing(),
    ]


@pytest.mark.parametrize("kind", sorted(COMMANDS))
def test_a_broadcast_viewer_and_a_supervisor_can_do_nothing(kind: str) -> None:
    for state in phases():
        for who in (PUBLIC, ("sup-1", Role.SUPERVISOR)):
            command = cmd(kind, who, t(5), bidder="b1", text="x", reason="x")
            with pytest.raises((RoleNotAllowed, IllegalCommand)) as caught:
                apply(state, command)
            if state.phase != Phase.ENDED:
                assert isinstance(caught.value, RoleNotAllowed), (kind, state.phase)


def test_after_the_end_nothing_goes() -> None:
    state = run(at_signing(), sign(HOST, t(21)), sign(WITNESS, t(21)), cmd("end", HOST, t(22)))
    refused(state, cmd("notice", HOST, t(23), text="x"), IllegalCommand, "本场开标已结束")
    refused(state, cmd("nonsense", HOST, t(23)), IllegalCommand, "未知的操作")


def test_times_have_a_zone_and_the_lot_is_sound() -> None:
    with pytest.raises(InvalidRequest):
        Command("notice", "host-1", Role.HOST, datetime(2026, 6, 18, 9, 30))
    with pytest.raises(InvalidRequest):
        OpeningState(lot_id="x", bidders={}, deadline=DEADLINE)
    with pytest.raises(InvalidRequest):
        OpeningState(lot_id="x", bidders={"b": "乙"}, deadline=datetime(2026, 6, 18))
    with pytest.raises(InvalidRequest):
        fresh(min_bids=0)
    with pytest.raises(InvalidRequest):
        fresh(decryption_minutes=0)
    with pytest.raises(InvalidRequest):
        fresh(benchmark=(BENCHMARK[0], BENCHMARK[0]))


def test_sign_in_needs_a_representative() -> None:
    state = at_submission()
    nameless = cmd("sign_in", bidder("b1"), t(-5), bidder="b1", id_last4="1234", face_sha256=FACE)
    refused(state, nameless, IllegalCommand, "投标人代表姓名")


def test_the_host_alone_opens_and_closes_the_public_broadcast_closing_with_a_reason() -> None:
    state = at_submission()
    assert state.public is False  # the lot's terms: not public
    for who in (WITNESS, TENDERER, PUBLIC, bidder("b1")):
        refused(state, cmd("allow_public", who, t(-5), public=True), RoleNotAllowed)
    refused(state, cmd("allow_public", HOST, t(-5), public="yes"), IllegalCommand, "public")
    refused(state, cmd("allow_public", HOST, t(-5), public=False), IllegalCommand, "未开放")
    opened_up, happened = apply(state, cmd("allow_public", HOST, t(-5), public=True))
    assert opened_up.public is True and happened.kind == "public_viewing_changed"
    assert happened.data == {"public": True}
    refused(opened_up, cmd("allow_public", HOST, t(-4), public=True), IllegalCommand, "已开放")
    refused(opened_up, cmd("allow_public", HOST, t(-4), public=False), IllegalCommand, "原因")
    # Also while paused: an incident may be a reason to close it.
    paused = run(opened_up, cmd("pause", WITNESS, t(-4), reason="会场秩序混乱"))
    closed, happened = apply(
        paused, cmd("allow_public", HOST, t(-3), public=False, reason="现场秩序恢复前暂停公开")
    )
    assert closed.public is False and happened.data["reason"] == "现场秩序恢复前暂停公开"
