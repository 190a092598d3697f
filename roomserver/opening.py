"""The bid opening (开标, standard 7.2.3-4 to 9, 8.3) of one lot as a pure state machine.

scheduled → sign-in and submission → deadline passed (the bidders who submitted are published)
→ decryption → decrypted (the benchmark draw, where the tender documents ask for it) → read-out
(唱标: confirmations, objections and answers) → the record sheet signed → ended; or ended as
failed (流标) at the deadline or when decryption closes, with fewer valid bids than the lot's
minimum (3 by default). Pause and resume for incidents in any phase. ``apply(state, command)``
returns the new state and what happened, or raises a RoomError with a stable code and a Chinese
message; the state given is never changed (it is frozen), so a refused command leaves nothing
half done. Every time rule is checked against the command's ``at``, so that a replay of the log
gives the same state.

Who may do what:
- the host (主持人) opens sign-in and submission, opens decryption for a time limit (and may
  extend it, with a reason), records the handling of a reported decryption failure, closes
  decryption, draws the benchmark-price parameters, publishes the read-out, puts up the opening
  record sheet (开标记录表) and ends the opening; sends notices to every bidder; resumes;
- bidders (投标人) act for themselves only, never for another bidder: before the deadline their
  representative signs in (name, the ID number's last four characters, the face picture's
  SHA-256) and they submit a sealed bid (``roomserver.sealing``: the blob's SHA-256, SM3 and size
  and the two commitments); a bid submitted again before the deadline replaces the earlier one,
  the same ciphertext as another bidder's is refused, and nothing is taken at or after the
  deadline. During decryption a signed-in bidder who submitted releases its key once, within
  the time limit (a key whose SHA-256 is not the committed one is refused and counts for
  nothing: the bidder may release the right one); one that cannot decrypt, for a reason not of
  its making, reports it with the reason. At the read-out each valid bidder confirms its own
  row; any bidder who submitted may raise objections (text, optionally a picture or PDF by its
  SHA-256);
- the tenderer (招标人) or its agency (招标代理机构) answers each objection once; the objecting
  bidder sees the answer (``objection_answered`` names it);
- the host opens the live broadcast to the public (公开直播) or closes it again with a reason
  (``allow_public``; the lot's terms give the start), also while paused;
- the witness (见证人) may urge the host (a notice in the record); host and witness mute any
  speaker (a participant id) with a reason and unmute them; they pause the opening with a
  reason and record incidents (异常情况) with their handling and result; both register a signing
  key and sign the record sheet over its digests (``signatures.record_statement``);
- an administrator may force the end of the opening at any phase, with a reason;
- the server itself (role None, which no token carries) issues ``deadline_passed`` at the
  deadline, ``seal_opened`` with the result of opening each released seal (ok, with the
  envelope's fields and file; or refused, with the reason), and may close decryption once its
  time limit is over (the host may too, or earlier once every bid has a result). The host may
  also declare the deadline passed, once it has.

Decryption closes only when no released key awaits its result and no reported failure awaits
its handling; then the bids decrypted and those whose failure the host accepted (with the
fields read from the bid by other means, such as its backup copy) are valid, and every other
bid that was submitted is invalid, with the reason. A lot whose tender documents list
benchmark-price parameters needs ``benchmark_commitment`` (the SHA-256 of the server's secret
seed) when decryption opens, before any bid can be read, and the draw before the read-out; the
draw's ``seed`` is revealed then (``roomserver.benchmark``). The read-out lists every valid
bid's fields, money in figures and in Chinese capitals (``roomserver.readout.readout_rows``).
The record sheet can be put up once every objection is answered (unconfirmed rows are named in
the record); a new sheet voids the signatures of the former one; the opening ends when its host
and its witness have both signed the current sheet.

While paused only the handling goes on: resume, notices, urging, muting, incidents, and the
facts the server records (the deadline, a seal's result). Before the deadline neither the
bidders' names nor their number may be disclosed (招标投标法 22): the events of sign-in and
submission are for the host's console and the bidder itself; ``deadline_passed`` publishes
the list. Bidders never learn the committee's names: nothing here holds them.

What the service that keeps the opening in its log does around ``apply``: it stamps every
command with its clock (``at``); it fills in what the server computes or holds, never trusting
the page for it: ``submit_bid``'s digests from the stored blob (``sealing.record_submission``),
``sign_in``'s ``face_sha256`` from the archived picture, ``release_key``'s ``key_sha256`` from
the key received (``sealing.key_sha256_of``), ``open_decryption``'s ``benchmark_commitment`` and
``draw_benchmark``'s ``seed`` from the secret seed it drew (``benchmark.commitment``), the record
sheet's digests from the PDF it made; after a ``release_key`` it opens the seal
(``sealing.open_seal``, in a thread) and always records ``seal_opened``, ok or refused (an
unexpected error too, code ``internal``), since decryption cannot close while a result is
missing; it issues ``deadline_passed`` at the deadline and may issue ``close_decryption`` at
the time limit, both as the server (role None).

This module holds ``apply`` and the rules up to the end of decryption; ``roomserver.readout``
the benchmark draw, the read-out, objections and the record sheet; ``roomserver.conduct`` the
urging, muting, pauses, notices and incidents; ``roomserver.openingstate`` the state and the
checks they share. The sealed bids themselves are ``roomserver.sealing``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from roomserver.conduct import (
    allow_public,
    close_incident,
    handle_incident,
    mute,
    notice,
    open_incident,
    pause,
    resume,
    unmute,
    urge,
)
from roomserver.errors import DeadlinePassed, IllegalCommand, KeyMismatch
from roomserver.model import ID_LAST4, Role
from roomserver.openingstate import (
    DECISIONS,
    HOST,
    MAX_DECRYPTION_MINUTES,
    MAX_NAME,
    PHASE_LABELS,
    SERVER,
    Bid,
    Command,
    Happened,
    OpeningState,
    Phase,
    Result,
    SignIn,
    Submission,
    hex_field,
    iso,
    named_bidder,
    number_field,
    own_bidder,
    require_before_deadline,
    require_host_or_server,
    require_phase,
    require_role,
    require_server,
    text_field,
)
from roomserver.readout import (
    answer_objection,
    confirm_row,
    draw_benchmark,
    end,
    publish_readout,
    put_up_record,
    raise_objection,
    readout_rows,
    register_key,
    replace_record,
    sign_record,
)
from roomserver.sealing import FieldValue, SealRecord, field_values

__all__ = [
    "COMMANDS",
    "DECISIONS",
    "PHASE_LABELS",
    "SERVER",
    "WHILE_PAUSED",
    "Command",
    "Happened",
    "OpeningState",
    "Phase",
    "apply",
    "readout_rows",
]

# While paused, only what handles the incident and informs the hall goes on, and the facts
# the server records.
WHILE_PAUSED = frozenset(
    {
        "resume",
        "notice",
        "urge",
        "mute",
        "unmute",
        "allow_public",
        "open_incident",
        "handle_incident",
        "close_incident",
        "deadline_passed",
        "seal_opened",
        "force_end",
    }
)


def apply(state: OpeningState, command: Command) -> Result:
    """The state after `command`, and what happened; a RoomError if it is refused."""
    handler = _HANDLERS.get(command.kind)
    if handler is None:
        raise IllegalCommand(f"未知的操作：{command.kind}")
    if state.phase == Phase.ENDED:
        raise IllegalCommand("本场开标已结束")
    if state.paused and command.kind not in WHILE_PAUSED:
        raise IllegalCommand(f"开标已暂停（{state.pause_reason}），请先恢复")
    return handler(state, command)


# -- sign-in and submission (7.2.3-4) -------------------------------------------------------------


def _open_submission(state: OpeningState, command: Command) -> Result:
    require_host_or_server(command, "只有主持人可以开始签到和递交投标文件")
    require_phase(state, Phase.SCHEDULED)
    require_before_deadline(state, command, "开始签到")
    return replace(state, phase=Phase.SUBMISSION), Happened(
        "submission_opened", {"deadline": iso(state.deadline)}
    )


def _sign_in(state: OpeningState, command: Command) -> Result:
    bidder = own_bidder(state, command, "签到")
    # The deadline first: after it, whatever the phase, that is the reason to give.
    require_before_deadline(state, command, "签到")
    require_phase(state, Phase.SUBMISSION)
    representative = text_field(command, "representative", "投标人代表姓名", MAX_NAME)
    last4 = command.fields.get("id_last4")
    if not isinstance(last4, str) or not ID_LAST4.fullmatch(last4):
        raise IllegalCommand("身份证号后四位格式不正确")
    face = hex_field(command, "face_sha256", "人脸照片的摘要")
    bid = state.bid(bidder)
    sign_in = SignIn(representative, last4, face, command.at)
    return state.with_bid(bidder, replace(bid, sign_in=sign_in)), Happened(
        "bidder_signed_in",
        {
            "bidder": bidder,
            "representative": representative,
            "id_last4": last4,
            "face_sha256": face,
            "at": iso(command.at),
            "again": bid.sign_in is not None,
        },
    )


def _submit_bid(state: OpeningState, command: Command) -> Result:
    bidder = own_bidder(state, command, "递交投标文件")
    # The deadline first: after it, whatever the phase, that is the reason to give.
    require_before_deadline(state, command, "递交投标文件")
    require_phase(state, Phase.SUBMISSION)
    record = SealRecord(
        blob_sha256=hex_field(command, "blob_sha256", "密文的 SHA-256 摘要"),
        blob_sm3=hex_field(command, "blob_sm3", "密文的 SM3 摘要"),
        blob_bytes=number_field(command, "blob_bytes", "密文字节数", 1, 2**40),
        plaintext_sha256=hex_field(command, "plaintext_sha256", "投标文件的摘要"),
        key_sha256=hex_field(command, "key_sha256", "密钥的摘要"),
    )
    for other, bid in state.bids.items():
        if (
            other != bidder
            and bid.submission is not None
            and bid.submission.record.blob_sha256 == record.blob_sha256
        ):
            raise IllegalCommand("该密文与其他投标人递交的相同，不予接收")
    bid = state.bid(bidder)
    previous = bid.submission
    return state.with_bid(
        bidder, replace(bid, submission=Submission(record, command.at))
    ), Happened(
        "bid_submitted",
        {
            "bidder": bidder,
            **record.as_fields(),
            "at": iso(command.at),
            "replaces": previous.record.blob_sha256 if previous is not None else None,
        },
    )


def _failed(state: OpeningState, reason: str) -> OpeningState:
    return replace(state, phase=Phase.ENDED, failed=reason, paused=False, pause_reason=None)


def _deadline_passed(state: OpeningState, command: Command) -> Result:
    """At the deadline the list of bidders who submitted is published (7.2.3-4)."""
    require_host_or_server(command, "只有系统或主持人可以宣布投标截止")
    require_phase(state, Phase.SCHEDULED, Phase.SUBMISSION)
    if command.at < state.deadline:
        raise IllegalCommand(f"尚未到投标截止时间（{iso(state.deadline)}）")
    submitted = tuple(b for b in state.bidders if state.bid(b).submission is not None)
    listed = []
    for b in submitted:
        bid = state.bid(b)
        assert bid.submission is not None
        listed.append(
            {
                "bidder": b,
                "name": state.bidders[b],
                "submitted_at": iso(bid.submission.at),
                "signed_in": bid.sign_in is not None,
            }
        )
    after = replace(state, phase=Phase.PUBLISHED, submitted=submitted)
    failed = None
    if len(submitted) < state.min_bids:
        count, least = len(submitted), state.min_bids
        failed = f"递交投标文件的投标人只有 {count} 家，不足 {least} 家，开标失败（流标）"
        after = _failed(after, failed)
    return after, Happened("deadline_passed", {"submitted": listed, "failed": failed})


# -- decryption (7.2.3-5) -------------------------------------------------------------------------


def _open_decryption(state: OpeningState, command: Command) -> Result:
    require_role(command, HOST, "只有主持人可以开启解密")
    require_phase(state, Phase.PUBLISHED)
    minutes = state.decryption_minutes
    if "minutes" in command.fields:
        minutes = number_field(command, "minutes", "解密时限（分钟）", 1, MAX_DECRYPTION_MINUTES)
    commitment = None
    if state.benchmark:
        commitment = hex_field(command, "benchmark_commitment", "抽取参数的随机种子承诺")
    elif "benchmark_commitment" in command.fields:
        raise IllegalCommand("本标段的招标文件未规定抽取评标基准价参数")
    until = command.at + timedelta(minutes=minutes)
    return (
        replace(
            state,
            phase=Phase.DECRYPTION,
            decryption_until=until,
            benchmark_commitment=commitment,
        ),
        Happened(
            "decryption_opened",
            {"until": iso(until), "minutes": minutes, "benchmark_commitment": commitment},
        ),
    )


def _extend_decryption(state: OpeningState, command: Command) -> Result:
    require_role(command, HOST, "只有主持人可以延长解密时限")
    require_phase(state, Phase.DECRYPTION)
    minutes = number_field(command, "minutes", "延长时间（分钟）", 1, MAX_DECRYPTION_MINUTES)
    reason = text_field(command, "reason", "延长解密时限的原因")
    assert state.decryption_until is not None
    until = max(state.decryption_until, command.at) + timedelta(minutes=minutes)
    return replace(state, decryption_until=until), Happened(
        "decryption_extended", {"until": iso(until), "minutes": minutes, "reason": reason}
    )


def _submitted_bid(state: OpeningState, bidder: str) -> Bid:
    if bidder not in state.submitted:
        raise IllegalCommand("该投标人未在投标截止前递交投标文件")
    return state.bid(bidder)


def _release_key(state: OpeningState, command: Command) -> Result:
    bidder = own_bidder(state, command, "提交解密密钥")
    require_phase(state, Phase.DECRYPTION)
    bid = _submitted_bid(state, bidder)
    if bid.released_at is not None:
        raise IllegalCommand("已提交过解密密钥，不能重复提交")
    if bid.failure is not None:
        raise IllegalCommand("已报告解密失败，请等待主持人处理")
    assert state.decryption_until is not None and bid.submission is not None
    if command.at >= state.decryption_until:
        raise DeadlinePassed("解密时限已过，不能再提交解密密钥")
    if bid.sign_in is None:
        raise IllegalCommand("投标人代表未在投标截止前签到，不能解密")
    if hex_field(command, "key_sha256", "密钥的摘要") != bid.submission.record.key_sha256:
        raise KeyMismatch("该密钥不是递交投标文件时登记的密钥，请选择正确的密钥文件")
    return state.with_bid(bidder, replace(bid, released_at=command.at)), Happened(
        "key_released", {"bidder": bidder, "at": iso(command.at)}
    )


def _checked_fields(state: OpeningState, value: object) -> dict[str, FieldValue]:
    if not isinstance(value, Mapping):
        raise IllegalCommand("缺少开标字段")
    try:
        return field_values(state.fields, value)
    except ValueError as exc:
        raise IllegalCommand(str(exc)) from exc


def _file_record(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping) or set(value) != {"name", "type", "size", "sha256"}:
        raise IllegalCommand("解密结果缺少文件信息（name、type、size、sha256）")
    size = value["size"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise IllegalCommand("解密所得文件的字节数不正确")
    return dict(value)


def _seal_opened(state: OpeningState, command: Command) -> Result:
    """The server's result of opening a released seal (``sealing.open_seal``)."""
    require_server(command, "解密结果")
    require_phase(state, Phase.DECRYPTION)
    bidder = named_bidder(state, command)
    bid = state.bid(bidder)
    if bid.released_at is None:
        raise IllegalCommand("该投标人尚未提交解密密钥")
    if bid.fields is not None or bid.refused is not None:
        raise IllegalCommand("该投标文件已有解密结果")
    assert bid.submission is not None
    ok = command.fields.get("ok")
    if ok is True:
        fields = _checked_fields(state, command.fields.get("fields"))
        file = _file_record(command.fields.get("file"))
        digest = hex_field(command, "plaintext_sha256", "解密所得内容的摘要")
        if digest != bid.submission.record.plaintext_sha256:
            raise IllegalCommand("解密所得内容与递交时承诺的摘要不符")
        data = {"bidder": bidder, "fields": fields, "file": file, "plaintext_sha256": digest}
        return state.with_bid(bidder, replace(bid, fields=fields, file=file)), Happened(
            "bid_decrypted", {**data, "at": iso(command.at)}
        )
    if ok is not False:
        raise IllegalCommand("解密结果应为成功或失败")
    code = text_field(command, "code", "解密失败的代码", MAX_NAME)  # a SealRefused's code
    reason = text_field(command, "reason", "解密失败的原因")
    return state.with_bid(bidder, replace(bid, refused=reason)), Happened(
        "bid_decryption_failed",
        {"bidder": bidder, "code": code, "reason": reason, "at": iso(command.at)},
    )


def _report_failure(state: OpeningState, command: Command) -> Result:
    bidder = own_bidder(state, command, "报告解密失败")
    require_phase(state, Phase.DECRYPTION)
    bid = _submitted_bid(state, bidder)
    if bid.fields is not None:
        raise IllegalCommand("投标文件已解密成功，无需报告")
    if bid.failure is not None:
        raise IllegalCommand("已报告过解密失败，请等待主持人处理")
    if bid.waiting is not None:
        raise IllegalCommand("密钥已提交，正在解密，请稍候")
    reason = text_field(command, "reason", "不能解密的原因")
    return state.with_bid(bidder, replace(bid, failure=reason)), Happened(
        "decryption_failure_reported", {"bidder": bidder, "reason": reason, "at": iso(command.at)}
    )


def _handle_failure(state: OpeningState, command: Command) -> Result:
    """The host records how a reported failure was handled: accepted (the bid counts, with its
    fields read by other means, such as its backup copy) or rejected (the bid is invalid)."""
    require_role(command, HOST, "只有主持人可以处理解密失败")
    require_phase(state, Phase.DECRYPTION)
    bidder = named_bidder(state, command)
    bid = state.bid(bidder)
    if bid.failure is None:
        raise IllegalCommand("该投标人未报告解密失败")
    if bid.decision is not None:
        raise IllegalCommand("该解密失败已处理")
    decision = command.fields.get("decision")
    if decision not in DECISIONS:
        raise IllegalCommand("处理结果应为认可（投标有效）或不予认可（投标无效）")
    handling = text_field(command, "handling", "处理情况")
    fields = (
        _checked_fields(state, command.fields.get("fields")) if decision == "accepted" else None
    )
    after = replace(bid, decision=decision, handling=handling, fields=fields)
    return state.with_bid(bidder, after), Happened(
        "decryption_failure_handled",
        {"bidder": bidder, "decision": decision, "handling": handling, "fields": fields},
    )


def _why_invalid(bid: Bid) -> str:
    if bid.decision == "rejected":
        return f"解密失败，主持人不予认可：{bid.handling}"
    if bid.refused is not None:
        return f"解密失败：{bid.refused}"
    return "未在解密时限内解密"


def _close_decryption(state: OpeningState, command: Command) -> Result:
    require_host_or_server(command, "只有主持人可以结束解密")
    require_phase(state, Phase.DECRYPTION)
    for b in state.submitted:
        waiting = state.bid(b).waiting
        if waiting is not None:
            raise IllegalCommand(f"{state.bidders[b]}：{waiting}，暂不能结束解密")
    assert state.decryption_until is not None
    settled = all(state.bid(b).counts or state.bid(b).decision for b in state.submitted)
    if command.at < state.decryption_until and not settled:
        raise IllegalCommand("解密时限未到，尚有投标人未完成解密")
    valid = tuple(b for b in state.submitted if state.bid(b).counts)
    invalid = {b: _why_invalid(state.bid(b)) for b in state.submitted if b not in valid}
    after = replace(state, phase=Phase.DECRYPTED, valid=valid, invalid=invalid)
    failed = None
    if len(valid) < state.min_bids:
        failed = f"有效投标只有 {len(valid)} 家，不足 {state.min_bids} 家，开标失败（流标）"
        after = _failed(after, failed)
    return after, Happened(
        "decryption_closed", {"valid": list(valid), "invalid": invalid, "failed": failed}
    )


def _force_end(state: OpeningState, command: Command) -> Result:
    """An administrator ends the opening at any phase, with the reason (a fault nobody can mend
    in the hall, say); what was recorded stays as it was."""
    require_role(command, frozenset({Role.ADMIN}), "只有管理员可以强制结束开标")
    reason = text_field(command, "reason", "强制结束的原因")
    return (
        replace(state, phase=Phase.ENDED, forced_end=reason, paused=False, pause_reason=None),
        Happened("opening_forced_end", {"reason": reason, "phase": str(state.phase)}),
    )


_HANDLERS = {
    "force_end": _force_end,
    "open_submission": _open_submission,
    "sign_in": _sign_in,
    "submit_bid": _submit_bid,
    "deadline_passed": _deadline_passed,
    "open_decryption": _open_decryption,
    "extend_decryption": _extend_decryption,
    "release_key": _release_key,
    "seal_opened": _seal_opened,
    "report_failure": _report_failure,
    "handle_failure": _handle_failure,
    "close_decryption": _close_decryption,
    "draw_benchmark": draw_benchmark,
    "publish_readout": publish_readout,
    "confirm_row": confirm_row,
    "raise_objection": raise_objection,
    "answer_objection": answer_objection,
    "register_key": register_key,
    "put_up_record": put_up_record,
    "replace_record": replace_record,
    "sign_record": sign_record,
    "end": end,
    "urge": urge,
    "mute": mute,
    "unmute": unmute,
    "pause": pause,
    "resume": resume,
    "notice": notice,
    "allow_public": allow_public,
    "open_incident": open_incident,
    "handle_incident": handle_incident,
    "close_incident": close_incident,
}
COMMANDS = frozenset(_HANDLERS)
