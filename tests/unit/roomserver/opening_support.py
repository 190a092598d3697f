"""The bid opening's test scenery: a lot with three bidders (and a fourth who never submits),
their sealed bids, host and witness keys, and helpers that bring an opening to each phase."""

from __future__ import annotations

import base64
import copy
import hashlib
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from roomserver import lots, sealing, signatures
from roomserver.benchmark import Parameter
from roomserver.errors import RoomError
from roomserver.model import Role
from roomserver.opening import SERVER, Command, OpeningState, apply

CST = timezone(timedelta(hours=8))
DEADLINE = datetime(2026, 6, 18, 9, 30, tzinfo=CST)
LOT = "LN-2026-0042-1"
BIDDERS = {
    "b1": "甲建设集团有限公司",
    "b2": "乙路桥工程有限公司",
    "b3": "丙市政建设有限公司",
    "b4": "丁建筑安装有限公司",
}
PRICES = {"b1": "12345678.90", "b2": "11800000", "b3": "12100000.50"}
DAYS = {"b1": 365, "b2": 360, "b3": 380}

Who = tuple[str, Role | None]
HOST: Who = ("host-1", Role.HOST)
WITNESS: Who = ("witness-1", Role.WITNESS)
TENDERER: Who = ("tenderer-1", Role.TENDERER)
AGENCY: Who = ("agency-1", Role.AGENCY)
SERVER_WHO: Who = (SERVER, None)
PUBLIC: Who = ("viewer-1", Role.PUBLIC)

FACE = hashlib.sha256(b"face picture").hexdigest()
SEED = bytes(range(32))
COMMITMENT = lots.commitment(SEED)
BENCHMARK = (
    Parameter("k", "下浮率K", ("1%", "2%", "3%", "4%", "5%")),
    Parameter("weight", "权重系数", ("0.6", "0.7", "0.8")),
)
RECORD = hashlib.sha256(b"opening record sheet").hexdigest()
RECORD_SM3 = "5" * 64
OTHER_RECORD = hashlib.sha256(b"another sheet").hexdigest()
SIGNING_KEYS = {w[0]: ec.generate_private_key(ec.SECP256R1()) for w in (HOST, WITNESS)}


def t(minutes: float) -> datetime:
    """A time `minutes` after the deadline (before it, if negative)."""
    return DEADLINE + timedelta(minutes=minutes)


def cmd(kind: str, who: Who, at: datetime, /, **fields: Any) -> Command:
    return Command(kind=kind, actor=who[0], role=who[1], at=at, fields=fields)


def bidder(b: str) -> Who:
    return (b, Role.BIDDER)


def key_of(b: str) -> bytes:
    return hashlib.sha256(f"key of {b}".encode()).digest()


def plaintext_of(b: str) -> bytes:
    fields = {"price": PRICES[b], "duration_days": DAYS[b]}
    document = f"%PDF-1.7 投标文件 of {b}".encode()
    return sealing.envelope(
        LOT, b, fields, f"{BIDDERS[b]}投标文件.pdf", "application/pdf", document
    )


def sealed_of(b: str) -> sealing.Sealed:
    return sealing.seal(key_of(b), plaintext_of(b), iv=hashlib.sha256(b.encode()).digest()[:12])


def record_of(b: str) -> sealing.SealRecord:
    s = sealed_of(b)
    return sealing.record_submission(s.blob, s.plaintext_sha256, s.key_sha256)


def fresh(**changes: Any) -> OpeningState:
    return OpeningState(lot_id=LOT, bidders=BIDDERS, deadline=DEADLINE, **changes)


def run(state: OpeningState, *commands: Command) -> OpeningState:
    for command in commands:
        state, _ = apply(state, command)
    return state


def sign_in(b: str, at: datetime | None = None) -> Command:
    return cmd(
        "sign_in",
        bidder(b),
        at or t(-30),
        bidder=b,
        representative=f"{b}代表",
        id_last4="123X",
        face_sha256=FACE,
    )


def submit(b: str, at: datetime | None = None, **overrides: Any) -> Command:
    fields = {"bidder": b, **record_of(b).as_fields(), **overrides}
    return cmd("submit_bid", bidder(b), at or t(-20), **fields)


def release(b: str, at: datetime | None = None) -> Command:
    return cmd("release_key", bidder(b), at or t(5), bidder=b, key_sha256=record_of(b).key_sha256)


def opened(b: str, at: datetime | None = None) -> Command:
    """The server opens the seal for real and records the result."""
    s = sealed_of(b)
    bid = sealing.open_seal(s.blob, key_of(b), record_of(b), lot=LOT, bidder=b)
    return cmd("seal_opened", SERVER_WHO, at or t(5), **bid.as_fields())


def at_submission(**changes: Any) -> OpeningState:
    return run(fresh(**changes), cmd("open_submission", HOST, t(-120)))


def submitted(*who: str, **changes: Any) -> OpeningState:
    state = at_submission(**changes)
    for b in who:
        state = run(state, sign_in(b), submit(b))
    return state


def at_published(**changes: Any) -> OpeningState:
    return run(submitted("b1", "b2", "b3", **changes), cmd("deadline_passed", SERVER_WHO, t(0)))


def at_decryption(**changes: Any) -> OpeningState:
    state = at_published(**changes)
    fields: dict[str, Any] = {"minutes": 30}
    if state.benchmark:
        fields["benchmark_commitment"] = COMMITMENT
    return run(state, cmd("open_decryption", HOST, t(1), **fields))


def at_decrypted(**changes: Any) -> OpeningState:
    state = at_decryption(**changes)
    for b in ("b1", "b2", "b3"):
        state = run(state, release(b), opened(b))
    return run(state, cmd("close_decryption", HOST, t(10)))


def at_readout() -> OpeningState:
    return run(at_decrypted(), cmd("publish_readout", HOST, t(12)))


def spki(who: Who) -> str:
    der = (
        SIGNING_KEYS[who[0]]
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return base64.b64encode(der).decode()


def record_signature(who: Who, sha256: str = RECORD, signer: str = "") -> str:
    """What the console's WebCrypto gives: ECDSA P-256 / SHA-256 as r‖s, base64."""
    message = signatures.record_statement(LOT, who[0], sha256, RECORD_SM3)
    der = SIGNING_KEYS[signer or who[0]].sign(message, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()


def put_up(sha256: str = RECORD) -> dict[str, Any]:
    return {"record_sha256": sha256, "record_sm3": RECORD_SM3, "document": {"path": "k.pdf"}}


def sign(who: Who, at: datetime, sha256: str = RECORD) -> Command:
    signature = record_signature(who, sha256)
    return cmd("sign_record", who, at, record_sha256=sha256, signature=signature)


def at_signing() -> OpeningState:
    return run(
        at_readout(),
        cmd("register_key", HOST, t(13), public_key=spki(HOST)),
        cmd("register_key", WITNESS, t(13), public_key=spki(WITNESS)),
        cmd("put_up_record", HOST, t(20), **put_up()),
    )


def refused(
    state: OpeningState, command: Command, error: type[RoomError], text: str = ""
) -> RoomError:
    """`command` is refused with `error`; the state object is left exactly as it was."""
    before = copy.deepcopy(state)
    with pytest.raises(error) as caught:
        apply(state, command)
    assert state == before
    assert text in caught.value.message, caught.value.message
    return caught.value
