"""The bid opening's course: the whole opening in order, replay, failed openings (流标) and the
deadline and time limit enforced by the commands' time."""

from __future__ import annotations

import hashlib
import json

from roomserver import benchmark
from roomserver.errors import DeadlinePassed, IllegalCommand, RoleNotAllowed
from roomserver.model import Role
from roomserver.opening import COMMANDS, Command, OpeningState, Phase, apply
from tests.unit.roomserver.opening_support import (
    BENCHMARK,
    BIDDERS,
    COMMITMENT,
    FACE,
    HOST,
    LOT,
    PRICES,
    RECORD,
    SEED,
    SERVER_WHO,
    TENDERER,
    WITNESS,
    at_decryption,
    at_published,
    at_submission,
    bidder,
    cmd,
    fresh,
    opened,
    put_up,
    record_of,
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

ADMIN = ("admin-1", Role.ADMIN)
ATTACHMENT = {"sha256": hashlib.sha256(b"photo").hexdigest(), "type": "image/jpeg"}
BACKUP_FIELDS = {"price": PRICES["b3"], "duration_days": 380}


def whole_opening() -> list[Command]:
    """Three bidders; b3's seal cannot be opened for a reason not of its making, it reports,
    and the host accepts its bid from the backup copy; b4 signs in and never submits."""
    return [
        cmd("open_submission", HOST, t(-120)),
        sign_in("b1"),
        submit("b1", t(-90)),
        sign_in("b2"),
        submit("b2"),
        sign_in("b3"),
        submit("b3"),
        sign_in("b4"),
        submit("b1", t(-10)),  # the same bid again: replaces the earlier one
        cmd("deadline_passed", SERVER_WHO, t(0)),
        cmd("open_decryption", HOST, t(1), minutes=30, benchmark_commitment=COMMITMENT),
        release("b1", t(2)),
        opened("b1", t(2)),
        release("b2", t(3)),
        opened("b2", t(3)),
        release("b3", t(4)),
        cmd(
            "seal_opened",
            SERVER_WHO,
            t(4),
            bidder="b3",
            ok=False,
            code="internal",
            reason="服务器解密组件异常",
        ),
        cmd("report_failure", bidder("b3"), t(5), bidder="b3", reason="平台解密服务异常"),
        cmd(
            "handle_failure",
            HOST,
            t(8),
            bidder="b3",
            decision="accepted",
            handling="平台故障，按招标文件约定使用备用投标文件开启",
            fields=BACKUP_FIELDS,
        ),
        cmd("close_decryption", HOST, t(9)),
        cmd("draw_benchmark", HOST, t(10), seed=SEED.hex()),
        cmd("publish_readout", HOST, t(11)),
        cmd("confirm_row", bidder("b1"), t(12), bidder="b1"),
        cmd(
            "raise_objection",
            bidder("b2"),
            t(13),
            bidder="b2",
            text="丙公司的工期与其投标文件不一致",
            attachment=ATTACHMENT,
        ),
        cmd("urge", WITNESS, t(14), text="请主持人尽快组织答复异议"),
        cmd("mute", WITNESS, t(14), participant="b2", reason="反复打断唱标"),
        cmd("answer_objection", TENDERER, t(15), objection=1, answer="经核对，工期为 380 日历天"),
        cmd("unmute", HOST, t(16), participant="b2"),
        cmd("confirm_row", bidder("b2"), t(16), bidder="b2"),
        cmd("confirm_row", bidder("b3"), t(16), bidder="b3"),
        cmd("pause", HOST, t(17), reason="直播中断"),
        cmd("notice", HOST, t(17), text="直播中断，开标暂停，请稍候"),
        cmd("allow_public", HOST, t(17), public=True),
        cmd("open_incident", HOST, t(17), kind="platform", description="直播推流中断"),
        cmd("handle_incident", WITNESS, t(18), incident=1, handling="切换备用线路"),
        cmd("close_incident", HOST, t(19), incident=1, result="直播已恢复"),
        cmd("resume", HOST, t(19)),
        cmd("register_key", HOST, t(19), public_key=spki(HOST)),
        cmd("register_key", WITNESS, t(19), public_key=spki(WITNESS)),
        cmd("put_up_record", HOST, t(20), **put_up()),
        sign(HOST, t(21)),
        sign(WITNESS, t(22)),
        cmd("end", HOST, t(23)),
    ]


def play(commands: list[Command]) -> tuple[OpeningState, list[str], list[dict]]:
    state = fresh(benchmark=BENCHMARK)
    kinds, data = [], []
    for command in commands:
        state, happened = apply(state, command)
        kinds.append(happened.kind)
        data.append(happened.data)
    return state, kinds, data


def test_the_whole_opening_in_order() -> None:
    state, kinds, data = play(whole_opening())
    assert state.phase == Phase.ENDED and state.failed is None
    json.dumps(data)  # every event goes into the log as it is
    assert kinds == [
        "submission_opened",
        *["bidder_signed_in", "bid_submitted"] * 3,
        "bidder_signed_in",
        "bid_submitted",
        "deadline_passed",
        "decryption_opened",
        *["key_released", "bid_decrypted"] * 2,
        "key_released",
        "bid_decryption_failed",
        "decryption_failure_reported",
        "decryption_failure_handled",
        "decryption_closed",
        "benchmark_drawn",
        "readout_published",
        "row_confirmed",
        "objection_raised",
        "host_urged",
        "speaker_muted",
        "objection_answered",
        "speaker_unmuted",
        "row_confirmed",
        "row_confirmed",
        "opening_paused",
        "notice",
        "public_viewing_changed",
        "incident_opened",
        "incident_handled",
        "incident_closed",
        "opening_resumed",
        "signing_key_registered",
        "signing_key_registered",
        "record_put_up",
        "record_signed",
        "record_signed",
        "opening_ended",
    ]
    by_kind = dict(zip(kinds, data, strict=False))
    # The re-submission replaced the first one; the list at the deadline leaves b4 out.
    assert data[8]["replaces"] == record_of("b1").blob_sha256
    published = by_kind["deadline_passed"]
    assert [row["bidder"] for row in published["submitted"]] == ["b1", "b2", "b3"]
    assert published["submitted"][0]["name"] == BIDDERS["b1"]
    assert published["submitted"][0]["submitted_at"] == t(-10).isoformat()
    assert by_kind["decryption_opened"]["until"] == t(31).isoformat()
    # Every bid counts: b3's because the host accepted its failure.
    assert state.valid == ("b1", "b2", "b3") and state.invalid == {}
    assert {b: state.bid(b).status for b in state.valid} == {
        "b1": "decrypted",
        "b2": "decrypted",
        "b3": "accepted",
    }
    assert state.bid("b3").fields == BACKUP_FIELDS
    assert state.bid("b1").file is not None and state.bid("b1").file["type"] == "application/pdf"
    # The draw is reproducible from the revealed seed and the published facts.
    drawn = by_kind["benchmark_drawn"]
    values = {v["name"]: v["value"] for v in drawn["values"]}
    assert benchmark.verify(drawn["seed"], COMMITMENT, LOT, BENCHMARK, values)
    assert state.benchmark_values == values
    # The read-out: money in figures and in capitals.
    rows = by_kind["readout_published"]["rows"]
    assert [r["bidder"] for r in rows] == ["b1", "b2", "b3"]
    price = rows[0]["fields"][0]
    assert price["figures"] == "¥12,345,678.90"
    assert price["capitals"] == "壹仟贰佰叁拾肆万伍仟陆佰柒拾捌元玖角"
    assert rows[1]["fields"][1] == {
        "name": "duration_days",
        "label": "工期",
        "kind": "integer",
        "unit": "日历天",
        "value": 360,
        "figures": "360",
    }
    assert rows[2]["decryption"] == "accepted"
    # The objecting bidder is named with the answer, which is for it to see.
    answered = by_kind["objection_answered"]
    assert answered["bidder"] == "b2" and answered["by"] == TENDERER[0]
    assert state.objections[0].attachment == ATTACHMENT
    assert state.muted == {} and state.incidents[0].result == "直播已恢复"
    assert by_kind["record_put_up"]["unconfirmed"] == []
    assert {s.signer for s in state.signatures} == {HOST[0], WITNESS[0]}
    assert all(s.record_sha256 == RECORD for s in state.signatures)


def test_replay_gives_the_same_state_and_events() -> None:
    commands = whole_opening()  # once: an ECDSA signature differs each time it is made
    first = play(commands)
    again = play(commands)
    assert first == again
    assert first[0].phase == Phase.ENDED


def test_every_command_of_the_opening_is_exercised() -> None:
    _, kinds, _ = play(whole_opening())
    used = {c.kind for c in whole_opening()}
    assert used | {"extend_decryption", "replace_record", "force_end"} == COMMANDS


def test_an_administrator_forces_the_end_at_any_phase_and_nobody_else() -> None:
    state = at_decryption()
    refused(state, cmd("force_end", HOST, t(5), reason="网络中断"), RoleNotAllowed, "管理员")
    refused(state, cmd("force_end", ADMIN, t(5)), IllegalCommand, "强制结束的原因")
    ended, happened = apply(state, cmd("force_end", ADMIN, t(5), reason="开标系统故障，改期开标"))
    assert ended.phase == Phase.ENDED and ended.forced_end == "开标系统故障，改期开标"
    assert happened.kind == "opening_forced_end" and happened.data["phase"] == "decryption"
    refused(ended, cmd("notice", HOST, t(6), text="x"), IllegalCommand, "已结束")


def test_too_few_bids_at_the_deadline_fail_the_opening() -> None:
    state = submitted("b1", "b2")
    state, happened = apply(state, cmd("deadline_passed", SERVER_WHO, t(0)))
    assert state.phase == Phase.ENDED
    assert state.failed is not None and "流标" in state.failed and "2 家" in state.failed
    assert happened.data["failed"] == state.failed
    refused(state, cmd("open_decryption", HOST, t(1)), IllegalCommand, "已结束")


def test_too_few_valid_bids_after_decryption_fail_the_opening() -> None:
    """b1 decrypts; b2's report is rejected; b3 never releases its key before the time limit."""
    state = run(
        at_decryption(),
        release("b1"),
        opened("b1"),
        cmd("report_failure", bidder("b2"), t(6), bidder="b2", reason="密钥文件丢失"),
        cmd("handle_failure", HOST, t(7), bidder="b2", decision="rejected", handling="投标人原因"),
    )
    refused(state, cmd("close_decryption", SERVER_WHO, t(30)), IllegalCommand, "时限未到")
    state, happened = apply(state, cmd("close_decryption", SERVER_WHO, t(31)))
    assert state.phase == Phase.ENDED and state.valid == ("b1",)
    assert state.invalid == {
        "b2": "解密失败，主持人不予认可：投标人原因",
        "b3": "未在解密时限内解密",
    }
    assert state.failed == "有效投标只有 1 家，不足 3 家，开标失败（流标）"
    assert happened.data["failed"] == state.failed


def test_a_lower_minimum_lets_two_bids_open() -> None:
    state = run(submitted("b1", "b2", min_bids=2), cmd("deadline_passed", SERVER_WHO, t(0)))
    assert state.phase == Phase.PUBLISHED and state.submitted == ("b1", "b2")


def test_a_seal_that_does_not_open_leaves_the_bid_invalid_unless_accepted() -> None:
    state = run(
        at_decryption(),
        *(c for b in ("b1", "b2") for c in (release(b), opened(b))),
        release("b3"),
        cmd("seal_opened", SERVER_WHO, t(6), bidder="b3", ok=False, code="x", reason="密文损坏"),
    )
    assert state.bid("b3").status == "decryption_failed"
    state = run(state, cmd("close_decryption", HOST, t(31)))
    assert state.invalid == {"b3": "解密失败：密文损坏"} and state.failed is not None


def test_the_deadline_is_the_commands_time() -> None:
    state = submitted("b1")
    last = t(-1 / 60_000)  # a millisecond before the deadline
    state = run(state, submit("b1", last), sign_in("b2", last))
    refused(state, submit("b2", t(0)), DeadlinePassed, "投标截止时间已过")
    refused(state, sign_in("b3", t(0)), DeadlinePassed, "投标截止时间已过")
    refused(state, cmd("deadline_passed", SERVER_WHO, last), IllegalCommand, "尚未到投标截止")
    refused(at_submission(), submit("b1", t(60)), DeadlinePassed)
    refused(fresh(), cmd("open_submission", HOST, t(0)), DeadlinePassed)


def test_the_decryption_time_limit_is_the_commands_time_and_can_be_extended() -> None:
    state = at_decryption()  # opened at t(1) for 30 minutes
    refused(state, release("b1", t(31)), DeadlinePassed, "解密时限已过")
    state = run(state, release("b1", t(30.99)), opened("b1", t(31)))
    extended = run(state, cmd("extend_decryption", HOST, t(32), minutes=10, reason="网络故障"))
    assert extended.decryption_until == t(42)  # from now, the limit being over
    run(extended, release("b2", t(41)))
    refused(extended, release("b2", t(42)), DeadlinePassed)
    longer = run(state, cmd("extend_decryption", HOST, t(20), minutes=10, reason="网络故障"))
    assert longer.decryption_until == t(41)  # from the limit, not yet over


def test_the_host_closes_decryption_early_once_every_bid_has_a_result() -> None:
    state = at_decryption()
    for b in ("b1", "b2"):
        state = run(state, release(b), opened(b))
    refused(state, cmd("close_decryption", HOST, t(10)), IllegalCommand, "时限未到")
    state = run(state, release("b3"), opened("b3"), cmd("close_decryption", HOST, t(10)))
    assert state.phase == Phase.DECRYPTED and state.valid == ("b1", "b2", "b3")


def test_a_key_released_to_the_wrong_commitment_counts_for_nothing() -> None:
    state = at_decryption()
    wrong = cmd("release_key", bidder("b1"), t(2), bidder="b1", key_sha256="0" * 64)
    refused(state, wrong, Exception, "不是递交投标文件时登记的密钥")
    state = run(state, release("b1"))
    assert state.bid("b1").status == "key_released"


def test_without_benchmark_parameters_the_read_out_follows_decryption() -> None:
    state = run(at_published(), cmd("open_decryption", HOST, t(1)))
    assert state.decryption_until == t(31)  # the lot's default time limit
    for b in ("b1", "b2", "b3"):
        state = run(state, release(b), opened(b))
    state = run(state, cmd("close_decryption", HOST, t(5)), cmd("publish_readout", HOST, t(6)))
    assert state.phase == Phase.READ_OUT and state.benchmark_values is None


def test_sign_in_again_replaces_the_representative() -> None:
    state = run(at_submission(), sign_in("b1"))
    again = cmd(
        "sign_in",
        bidder("b1"),
        t(-5),
        bidder="b1",
        representative="另一位代表",
        id_last4="5678",
        face_sha256=FACE,
    )
    state, happened = apply(state, again)
    assert happened.data["again"] is True
    assert state.bid("b1").sign_in is not None
    assert state.bid("b1").sign_in.representative == "另一位代表"


def test_a_new_record_sheet_needs_every_signature_again() -> None:
    from tests.unit.roomserver.opening_support import OTHER_RECORD, at_signing

    state = run(at_signing(), sign(HOST, t(21)))
    state, happened = apply(state, cmd("replace_record", HOST, t(22), **put_up(OTHER_RECORD)))
    assert happened.data["signatures_voided"] == 1
    refused(state, cmd("end", HOST, t(23)), IllegalCommand, "主持人尚未签署")
    refused(state, sign(WITNESS, t(23)), IllegalCommand, "不是当前的开标记录表")
    state = run(state, sign(HOST, t(23), OTHER_RECORD), sign(WITNESS, t(24), OTHER_RECORD))
    state = run(state, cmd("end", HOST, t(25)))
    assert state.phase == Phase.ENDED
