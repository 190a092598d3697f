"""Sealed bids: only the bidder's key opens them, and only to what was committed at submission."""

from __future__ import annotations

import hashlib
import json

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from roomserver import sealing
from roomserver.errors import (
    BadEnvelope,
    DigestMismatch,
    InvalidRequest,
    KeyMismatch,
    SealRefused,
    SealTampered,
    SealTooLarge,
)
from roomserver.sealing import FieldSpec, SealLimits, open_seal, record_submission, seal

LOT, BIDDER = "LN-2026-0042-1", "b1"
FIELDS = {"price": "12345678.90", "duration_days": 365}
DOCUMENT = b"%PDF-1.7\n" + bytes(range(256)) * 40 + "投标文件".encode()
KEY = bytes(range(32))


def plaintext(**changes: object) -> bytes:
    args: dict = {
        "lot": LOT,
        "bidder": BIDDER,
        "fields": FIELDS,
        "file_name": "投标文件.pdf",
        "media_type": "application/pdf",
        "data": DOCUMENT,
    }
    args.update(changes)
    return sealing.envelope(**args)


def submitted(text: bytes | None = None, key: bytes = KEY) -> tuple[bytes, sealing.SealRecord]:
    sealed = seal(key, plaintext() if text is None else text)
    record = record_submission(sealed.blob, sealed.plaintext_sha256, sealed.key_sha256)
    return sealed.blob, record


def open_(blob: bytes, record: sealing.SealRecord, key: bytes = KEY, **kw: object):
    return open_seal(blob, key, record, lot=LOT, bidder=BIDDER, **kw)  # type: ignore[arg-type]


def test_a_sealed_bid_opens_with_its_key_to_its_fields_and_file() -> None:
    blob, record = submitted()
    bid = open_(blob, record)
    assert bid.fields == FIELDS
    assert (bid.file_name, bid.media_type, bid.data) == (
        "投标文件.pdf",
        "application/pdf",
        DOCUMENT,
    )
    assert bid.plaintext_sha256 == hashlib.sha256(plaintext()).hexdigest()
    fields = bid.as_fields()
    assert fields["ok"] is True and fields["bidder"] == BIDDER
    assert fields["file"] == {
        "name": "投标文件.pdf",
        "type": "application/pdf",
        "size": len(DOCUMENT),
        "sha256": hashlib.sha256(DOCUMENT).hexdigest(),
    }


def test_the_server_keeps_digests_of_a_ciphertext_that_says_nothing() -> None:
    blob, record = submitted()
    assert record.blob_sha256 == hashlib.sha256(blob).hexdigest()
    assert record.blob_sm3 == hashlib.new("sm3", blob).hexdigest()
    assert record.blob_bytes == len(blob) == 12 + len(plaintext()) + 16
    assert record.key_sha256 == hashlib.sha256(KEY).hexdigest()
    # Nothing of the bid shows through: neither the header, nor the price, nor the file.
    for secret in (b"roomserver-bid/1", b"12345678.90", "投标文件".encode(), DOCUMENT[:64]):
        assert secret not in blob
    # Each seal takes a fresh IV: the same bid sealed twice gives unrelated ciphertexts.
    assert seal(KEY, plaintext()).blob != seal(KEY, plaintext()).blob


def test_without_the_key_the_ciphertext_is_unreadable() -> None:
    blob, record = submitted()
    for other in (bytes(32), bytes(range(1, 33))):
        # Even a caller who skips the key commitment cannot decrypt with another key.
        with pytest.raises(Exception) as caught:
            AESGCM(other).decrypt(blob[:12], blob[12:], None)
        assert type(caught.value).__name__ == "InvalidTag"


def test_a_wrong_key_is_refused_before_any_decryption() -> None:
    blob, record = submitted()
    with pytest.raises(KeyMismatch) as caught:
        open_(blob, record, key=bytes(32))
    assert "密钥摘要不符" in caught.value.message
    assert caught.value.code == "key_mismatch"
    with pytest.raises(KeyMismatch, match="32 字节"):
        open_(blob, record, key=KEY[:16])


def test_a_tampered_ciphertext_is_refused() -> None:
    blob, record = submitted()
    for position in (0, 12, len(blob) // 2, len(blob) - 1):  # IV, ciphertext, tag
        tampered = bytearray(blob)
        tampered[position] ^= 0x01
        # Changed after submission: the stored blob no longer matches its digest.
        with pytest.raises(SealTampered, match="已被改动"):
            open_(bytes(tampered), record)
        # Sealed so from the start (the digests taken of the changed blob): GCM refuses it.
        again = record_submission(bytes(tampered), record.plaintext_sha256, record.key_sha256)
        with pytest.raises(SealTampered) as caught:
            open_(bytes(tampered), again)
        assert caught.value.code == "seal_tampered"


def test_the_right_key_to_a_plaintext_other_than_the_committed_one_is_refused() -> None:
    sealed = seal(KEY, plaintext())
    committed = hashlib.sha256(plaintext(fields={**FIELDS, "price": "1.00"})).hexdigest()
    record = record_submission(sealed.blob, committed, sealed.key_sha256)
    with pytest.raises(DigestMismatch) as caught:
        open_(sealed.blob, record)
    assert caught.value.code == "digest_mismatch"
    assert isinstance(caught.value, SealRefused)


def envelope_with(header: object, data: bytes = DOCUMENT) -> bytes:
    return json.dumps(header, ensure_ascii=False).encode() + b"\n" + data


GOOD_HEADER = {
    "format": "roomserver-bid/1",
    "lot": LOT,
    "bidder": BIDDER,
    "fields": FIELDS,
    "file": {"name": "投标文件.pdf", "type": "application/pdf", "size": len(DOCUMENT)},
}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b"no newline at all", "缺少封装头后的换行"),
        (b"\xff\xfe not utf-8\n" + DOCUMENT, "UTF-8 JSON"),
        (b"[1, 2]\n" + DOCUMENT, "应恰好包含"),
        (envelope_with({**GOOD_HEADER, "format": "roomserver-bid/2"}), "roomserver-bid/1"),
        (envelope_with({**GOOD_HEADER, "extra": 1}), "应恰好包含"),
        (envelope_with({**GOOD_HEADER, "lot": "another lot"}), "与本次递交不符"),
        (envelope_with({**GOOD_HEADER, "bidder": "b2"}), "与本次递交不符"),
        (envelope_with({**GOOD_HEADER, "fields": {"price": "12.345", "duration_days": 1}}), "金额"),
        (envelope_with({**GOOD_HEADER, "fields": {"price": 12.3, "duration_days": 1}}), "金额"),
        (envelope_with({**GOOD_HEADER, "fields": {"price": "1", "duration_days": "1"}}), "整数"),
        (envelope_with({**GOOD_HEADER, "fields": {"price": "1", "duration_days": True}}), "整数"),
        (envelope_with({**GOOD_HEADER, "fields": {"price": "1"}}), "缺少开标字段“工期”"),
        (envelope_with({**GOOD_HEADER, "fields": {**FIELDS, "rate": "1"}}), "没有开标字段 rate"),
        (
            envelope_with({**GOOD_HEADER, "file": {"name": "a.pdf", "type": "pdf", "size": 1}}),
            "媒体类型",
        ),
        (
            envelope_with({**GOOD_HEADER, "file": {**GOOD_HEADER["file"], "name": "../x.pdf"}}),  # type: ignore[dict-item]
            "路径分隔符",
        ),
        (envelope_with(GOOD_HEADER, DOCUMENT + b"x"), "长度与封装头不符"),
        (envelope_with(GOOD_HEADER, DOCUMENT[:-1]), "长度与封装头不符"),
        (b'{"format": "roomserver-bid/1", "format": "x"}\n', "重复的键"),
        (
            envelope_with(GOOD_HEADER).replace(b'"duration_days": 365', b'"duration_days": NaN'),
            "非法数值",
        ),
    ],
)
def test_a_malformed_envelope_is_refused(text: bytes, reason: str) -> None:
    blob, record = submitted(text)
    with pytest.raises(BadEnvelope) as caught:
        open_(blob, record)
    assert reason in caught.value.message
    assert caught.value.code == "bad_envelope"


def test_the_lot_defines_its_fields() -> None:
    specs = (
        FieldSpec("price", "投标报价", "money", "元"),
        FieldSpec("rate", "下浮率", "decimal", "%"),
        FieldSpec("quality", "质量标准", "text"),
    )
    fields = {"price": "0.50", "rate": "-3.125", "quality": " 合格 "}
    blob, record = submitted(plaintext(fields=fields))
    assert open_(blob, record, specs=specs).fields == {**fields, "quality": "合格"}
    blob, record = submitted(plaintext(fields={**fields, "quality": "x" * 201}))
    with pytest.raises(BadEnvelope, match="1 至 200 个字符"):
        open_(blob, record, specs=specs)
    with pytest.raises(InvalidRequest):
        FieldSpec("Price", "投标报价", "money")
    with pytest.raises(InvalidRequest):
        FieldSpec("price", "投标报价", "float")


def test_limits() -> None:
    limits = SealLimits(max_file_bytes=len(DOCUMENT), max_header_bytes=400)
    blob, record = submitted()
    assert open_(blob, record, limits=limits).data == DOCUMENT
    # A file one byte over the limit, as the header says and as it is.
    bigger = plaintext(data=DOCUMENT + b"x")
    blob, record = submitted(bigger)
    with pytest.raises(SealTooLarge, match="字节的上限"):
        open_(blob, record, limits=limits)
    # A header over its limit (a very long text field).
    long_header = plaintext(fields={**FIELDS}, file_name="文" * 200)
    blob, record = submitted(long_header)
    with pytest.raises(SealTooLarge, match="封装头超过"):
        open_(blob, record, limits=limits)
    # A blob over the limit is refused at submission already; so is one too short to be one.
    sealed = seal(KEY, plaintext(data=DOCUMENT + bytes(401)))  # past the header's slack too
    with pytest.raises(SealTooLarge):
        record_submission(sealed.blob, sealed.plaintext_sha256, sealed.key_sha256, limits)
    with pytest.raises(InvalidRequest, match="过短"):
        record_submission(b"x" * 29, sealed.plaintext_sha256, sealed.key_sha256)
    assert limits.max_blob_bytes == 12 + 400 + 1 + len(DOCUMENT) + 16
    # An empty file is no bid.
    blob, record = submitted(plaintext(data=b""))
    with pytest.raises(BadEnvelope, match="正整数"):
        open_(blob, record)


def test_commitments_are_sha256_hex_at_submission() -> None:
    sealed = seal(KEY, plaintext())
    with pytest.raises(InvalidRequest, match="投标文件摘要"):
        record_submission(sealed.blob, "abc", sealed.key_sha256)
    with pytest.raises(InvalidRequest, match="密钥摘要"):
        record_submission(sealed.blob, sealed.plaintext_sha256, None)
    upper = record_submission(sealed.blob, sealed.plaintext_sha256.upper(), sealed.key_sha256)
    assert upper.plaintext_sha256 == sealed.plaintext_sha256


def test_every_refusal_is_a_seal_refused_with_a_stable_code() -> None:
    codes = {
        cls.code for cls in (KeyMismatch, SealTampered, DigestMismatch, BadEnvelope, SealTooLarge)
    }
    assert len(codes) == 5
    assert all(issubclass(c, SealRefused) for c in (KeyMismatch, SealTooLarge))
