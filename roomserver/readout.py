"""The bid opening after decryption (7.2.3-6 to 9): the benchmark-price draw, the read-out
(唱标), bidders' confirmations and objections with the tenderer's answers, and the opening record
sheet (开标记录表) signed by host and witness. The rules are those the module docstring of
``roomserver.opening`` lists; ``apply`` there dispatches to the handlers here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from roomserver import benchmark, signatures
from roomserver.amounts import Amount
from roomserver.errors import IllegalCommand
from roomserver.lots import matches, seed_from_hex
from roomserver.model import Role
from roomserver.openingstate import (
    ANSWERING,
    ATTACHMENT_TYPES,
    HOST,
    HOST_OR_WITNESS,
    Command,
    Happened,
    Objection,
    OpeningState,
    Phase,
    RecordSignature,
    Result,
    hex_field,
    iso,
    number_field,
    own_bidder,
    require_phase,
    require_role,
    text_field,
)

__all__ = [
    "answer_objection",
    "confirm_row",
    "draw_benchmark",
    "end",
    "publish_readout",
    "put_up_record",
    "raise_objection",
    "readout_rows",
    "register_key",
    "replace_record",
    "sign_record",
]


# -- the benchmark-price parameters (7.2.3-6) -----------------------------------------------------


def draw_benchmark(state: OpeningState, command: Command) -> Result:
    """The host draws; the server puts the seed it committed to into the command's ``seed``."""
    require_role(command, HOST, "只有主持人可以抽取评标基准价参数")
    require_phase(state, Phase.DECRYPTED)
    if not state.benchmark:
        raise IllegalCommand("本标段的招标文件未规定抽取评标基准价参数")
    if state.benchmark_values is not None:
        raise IllegalCommand("评标基准价参数已抽取")
    assert state.benchmark_commitment is not None
    try:
        seed = seed_from_hex(command.fields.get("seed"))
    except ValueError as exc:
        raise IllegalCommand("随机种子应为 64 位十六进制数") from exc
    if not matches(seed, state.benchmark_commitment):
        raise IllegalCommand("随机种子与开启解密时公布的承诺不符")
    values = benchmark.draw(seed, state.lot_id, state.benchmark)
    return replace(state, benchmark_seed=seed.hex(), benchmark_values=values), Happened(
        "benchmark_drawn",
        {
            "seed": seed.hex(),
            "commitment": state.benchmark_commitment,
            "facts": benchmark.facts_json(state.lot_id, state.benchmark),
            "values": _benchmark_list(state, values),
        },
    )


def _benchmark_list(state: OpeningState, values: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"name": p.name, "label": p.label, "value": values[p.name]} for p in state.benchmark]


# -- the read-out (唱标) and confirmations ---------------------------------------------------------


def readout_rows(state: OpeningState) -> list[dict[str, Any]]:
    """Every valid bid's row, in the order of the bidder list: each field with its label, unit
    and value, in figures, and for money in Chinese capitals too."""
    rows = []
    for bidder in state.valid:
        bid = state.bid(bidder)
        assert bid.fields is not None
        cells = []
        for spec in state.fields:
            value = bid.fields[spec.name]
            cell: dict[str, Any] = {**spec.as_json(), "value": value, "figures": str(value)}
            if spec.kind == "money":
                assert isinstance(value, str)
                amount = Amount.parse(value)
                cell["figures"] = amount.figures()
                cell["capitals"] = amount.capitals()
            cells.append(cell)
        rows.append(
            {
                "bidder": bidder,
                "name": state.bidders[bidder],
                "decryption": bid.status,
                "fields": cells,
            }
        )
    return rows


def publish_readout(state: OpeningState, command: Command) -> Result:
    """The host publishes the read-out (唱标): every valid bid's row."""
    require_role(command, HOST, "只有主持人可以公布唱标结果")
    require_phase(state, Phase.DECRYPTED)
    if state.benchmark and state.benchmark_values is None:
        raise IllegalCommand("请先抽取评标基准价参数")
    values = state.benchmark_values
    return replace(state, phase=Phase.READ_OUT), Happened(
        "readout_published",
        {
            "rows": readout_rows(state),
            "invalid": dict(state.invalid),
            "benchmark": _benchmark_list(state, values) if values is not None else None,
        },
    )


def confirm_row(state: OpeningState, command: Command) -> Result:
    """A valid bidder confirms its own row, once, with no objection of its own open."""
    bidder = own_bidder(state, command, "确认唱标结果")
    require_phase(state, Phase.READ_OUT)
    if bidder not in state.valid:
        raise IllegalCommand("该投标人没有唱标记录，无需确认")
    bid = state.bid(bidder)
    if bid.confirmed:
        raise IllegalCommand("已确认唱标结果")
    if any(o.bidder == bidder and o.answer is None for o in state.objections):
        raise IllegalCommand("尚有异议未答复，请在答复后再确认")
    return state.with_bid(bidder, replace(bid, confirmed=True)), Happened(
        "row_confirmed", {"bidder": bidder, "at": iso(command.at)}
    )


# -- objections (异议) and answers ----------------------------------------------------------------


def _attachment(command: Command) -> dict[str, str] | None:
    value = command.fields.get("attachment")
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) != {"sha256", "type"}:
        raise IllegalCommand("异议附件应给出 sha256 和 type")
    if value["type"] not in ATTACHMENT_TYPES:
        raise IllegalCommand("异议附件应为图片（JPEG、PNG）或 PDF")
    digest = value["sha256"]
    if not isinstance(digest, str) or len(digest) != 64 or digest.strip("0123456789abcdef"):
        raise IllegalCommand("异议附件的摘要应为 64 位小写十六进制")
    return {"sha256": digest, "type": str(value["type"])}


def raise_objection(state: OpeningState, command: Command) -> Result:
    """A bidder who submitted raises an objection (异议), optionally with an attachment."""
    bidder = own_bidder(state, command, "提出异议")
    require_phase(state, Phase.READ_OUT)
    if bidder not in state.submitted:
        raise IllegalCommand("只有递交了投标文件的投标人可以提出异议")
    text = text_field(command, "text", "异议内容")
    attachment = _attachment(command)
    objection = Objection(len(state.objections) + 1, bidder, text, attachment)
    return replace(state, objections=(*state.objections, objection)), Happened(
        "objection_raised",
        {
            "objection": objection.number,
            "bidder": bidder,
            "text": text,
            "attachment": attachment,
            "at": iso(command.at),
        },
    )


def answer_objection(state: OpeningState, command: Command) -> Result:
    """The tenderer or its agency answers an objection, once."""
    require_role(command, ANSWERING, "只有招标人或其招标代理机构可以答复异议")
    require_phase(state, Phase.READ_OUT)
    number = number_field(command, "objection", "异议编号")
    objection = next((o for o in state.objections if o.number == number), None)
    if objection is None:
        raise IllegalCommand("没有该异议")
    if objection.answer is not None:
        raise IllegalCommand("该异议已答复")
    answer = text_field(command, "answer", "答复内容")
    answered = replace(objection, answer=answer, answered_by=command.actor)
    objections = tuple(answered if o.number == number else o for o in state.objections)
    return replace(state, objections=objections), Happened(
        "objection_answered",
        {
            "objection": number,
            "bidder": objection.bidder,
            "answer": answer,
            "by": command.actor,
            "role": str(command.role),
            "at": iso(command.at),
        },
    )


# -- the opening record sheet (开标记录表) --------------------------------------------------------


def register_key(state: OpeningState, command: Command) -> Result:
    """Host or witness register the public key they will sign the record sheet with."""
    require_role(command, HOST_OR_WITNESS, "只有主持人或见证人可以登记签名密钥")
    assert command.role is not None
    if command.actor in state.signed_by(command.role):
        raise IllegalCommand("已签署开标记录表，不能更换签名密钥")
    key = command.fields.get("public_key")
    signatures.load_public_key(key)  # BadSignature with the reason
    assert isinstance(key, str)
    return replace(state, keys={**state.keys, command.actor: key}), Happened(
        "signing_key_registered",
        {"signer": command.actor, "role": str(command.role), "public_key": key},
    )


def _sheet(command: Command) -> tuple[str, str, dict[str, Any]]:
    require_role(command, HOST, "只有主持人可以提交开标记录表")
    sha256 = hex_field(command, "record_sha256", "开标记录表的 SHA-256 摘要")
    sm3 = hex_field(command, "record_sm3", "开标记录表的 SM3 摘要")
    document = command.fields.get("document")
    return sha256, sm3, dict(document) if isinstance(document, Mapping) else {}


def put_up_record(state: OpeningState, command: Command) -> Result:
    """The host puts up the opening record sheet once every objection is answered."""
    sha256, sm3, document = _sheet(command)
    require_phase(state, Phase.READ_OUT)
    unanswered = [o.number for o in state.objections if o.answer is None]
    if unanswered:
        raise IllegalCommand(f"尚有 {len(unanswered)} 条异议未答复，不能提交开标记录表")
    confirmed = [b for b in state.valid if state.bid(b).confirmed]
    return replace(state, phase=Phase.SIGNING, record_sha256=sha256, record_sm3=sm3), Happened(
        "record_put_up",
        {
            "record_sha256": sha256,
            "record_sm3": sm3,
            "document": document,
            "confirmed": confirmed,
            "unconfirmed": [b for b in state.valid if b not in confirmed],
        },
    )


def replace_record(state: OpeningState, command: Command) -> Result:
    """The host puts up a new record sheet, which needs every signature again."""
    sha256, sm3, document = _sheet(command)
    require_phase(state, Phase.SIGNING)
    if sha256 == state.record_sha256:
        raise IllegalCommand("新的开标记录表与原记录表相同")
    voided = len(state.signed_by(Role.HOST) | state.signed_by(Role.WITNESS))
    # Signatures stay on record with the digest they signed; the new sheet needs its own.
    return replace(state, record_sha256=sha256, record_sm3=sm3), Happened(
        "record_replaced",
        {
            "record_sha256": sha256,
            "record_sm3": sm3,
            "document": document,
            "signatures_voided": voided,
        },
    )


def sign_record(state: OpeningState, command: Command) -> Result:
    """Host or witness sign the current record sheet with their registered key."""
    require_role(command, HOST_OR_WITNESS, "只有主持人和见证人签署开标记录表")
    require_phase(state, Phase.SIGNING)
    assert command.role is not None
    assert state.record_sha256 is not None and state.record_sm3 is not None
    if command.fields.get("record_sha256") != state.record_sha256:
        raise IllegalCommand("签署的不是当前的开标记录表")
    if command.actor in state.signed_by(command.role):
        raise IllegalCommand("已签署开标记录表")
    key = state.keys.get(command.actor)
    if key is None:
        raise IllegalCommand("尚未登记签名密钥")
    signature = command.fields.get("signature")
    message = signatures.record_statement(
        state.lot_id, command.actor, state.record_sha256, state.record_sm3
    )
    signatures.verify(key, message, signature, "开标记录表")
    assert isinstance(signature, str)
    signed = RecordSignature(command.actor, command.role, state.record_sha256, signature, key)
    return replace(state, signatures=(*state.signatures, signed)), Happened(
        "record_signed",
        {
            "signer": command.actor,
            "role": str(command.role),
            "record_sha256": state.record_sha256,
            "record_sm3": state.record_sm3,
            "signature": signature,
            "public_key": key,
        },
    )


def end(state: OpeningState, command: Command) -> Result:
    """The host ends the opening once host and witness have signed the current sheet."""
    require_role(command, HOST, "只有主持人可以结束开标")
    require_phase(state, Phase.SIGNING)
    if not state.signed_by(Role.HOST):
        raise IllegalCommand("主持人尚未签署开标记录表")
    if not state.signed_by(Role.WITNESS):
        raise IllegalCommand("见证人尚未签署开标记录表")
    return replace(state, phase=Phase.ENDED), Happened(
        "opening_ended", {"record_sha256": state.record_sha256, "valid": list(state.valid)}
    )
