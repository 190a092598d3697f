"""Sealed bids (密封投标文件, standard 7.2.3-4/5): sealed in the bidder's browser, opened at the
opening with the key only the bidder held.

The bidder's browser (``web/lib/seal.js``) makes an AES-256-GCM key with WebCrypto and keeps it
(a key file the bidder downloads, and the page's IndexedDB) until the opening. It seals a bid
envelope, format ``roomserver-bid/1``::

    UTF-8 JSON header  "\\n"  the file's raw bytes

    header = {"format": "roomserver-bid/1", "lot": <lot id>, "bidder": <bidder id>,
              "fields": {<the opening fields the lot defines (FieldSpec)>},
              "file": {"name": <file name>, "type": <media type>, "size": <bytes>}}

with a random 96-bit IV, and submits the sealed blob ``IV ‖ ciphertext ‖ tag`` together with two
commitments: the SHA-256 of the envelope (``plaintext_sha256``) and the SHA-256 of the raw key
(``key_sha256``). Field values are JSON strings, except an ``integer`` field's (a JSON number):
a ``money`` field is yuan as a decimal string with at most two decimals, a ``decimal`` field a
decimal string with at most six, a ``text`` field any text up to the limit.

What the server does around these functions:

- at submission, ``record_submission(blob, plaintext_sha256, key_sha256)`` checks the sizes and
  the commitments' form and gives the ``SealRecord`` (with the blob's SHA-256 and SM3) whose
  ``as_fields()`` go into the opening's ``submit_bid`` command; the server stores the blob and
  can read nothing of it;
- at decryption the bidder releases the raw key; the server issues ``release_key`` with
  ``key_sha256_of(key)``, then ``open_seal(blob, key, record, lot=..., bidder=..., specs=...)``
  (CPU-bound on a large file: run it in a thread), archives the plaintext, and issues
  ``seal_opened`` with the ``OpenedBid``'s ``as_fields()``, or, on a ``SealRefused``, with its
  ``code`` and ``message`` as the reason.

``open_seal`` refuses, each with its own error and a Chinese reason, in this order: a key that
is not the one committed to (before any decryption, ``KeyMismatch``), a stored blob that is not
the one submitted or a ciphertext that fails GCM authentication (``SealTampered``), a plaintext
whose SHA-256 is not the committed one (``DigestMismatch``), and an envelope that is malformed,
not for this lot and bidder, or that breaks the lot's fields (``BadEnvelope``) or the size
limits (``SealTooLarge``). ``seal`` is the Python twin of the browser's sealing, for tests and
the demo.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from roomserver.amounts import Amount
from roomserver.errors import (
    BadEnvelope,
    DigestMismatch,
    InvalidAmount,
    InvalidRequest,
    KeyMismatch,
    SealTampered,
    SealTooLarge,
)

__all__ = [
    "DEFAULT_FIELDS",
    "FIELD_KINDS",
    "FORMAT",
    "FieldSpec",
    "OpenedBid",
    "SealLimits",
    "SealRecord",
    "Sealed",
    "envelope",
    "field_values",
    "key_sha256_of",
    "new_key",
    "open_seal",
    "record_submission",
    "parse_envelope",
    "seal",
    "sm3_hex",
]

FORMAT = "roomserver-bid/1"
KEY_BYTES = 32
IV_BYTES = 12
TAG_BYTES = 16
HEADER_KEYS = frozenset({"format", "lot", "bidder", "fields", "file"})
FILE_KEYS = frozenset({"name", "type", "size"})
FIELD_KINDS = {"money": "金额（元）", "decimal": "数值", "integer": "整数", "text": "文字"}
MAX_INTEGER = 10**9

NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
HEX64 = re.compile(r"[0-9a-f]{64}")
DECIMAL = re.compile(r"-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,6})?")
MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}")
# No path separators or control characters in a file name: it is shown, and archived under it.
BAD_NAME_CHARS = re.compile(r"[/\\\x00-\x1f\x7f]")

FieldValue = str | int


@dataclass(frozen=True)
class FieldSpec:
    """One opening field a lot defines, read out at the opening: ``price`` (投标报价, money),
    ``duration_days`` (工期, integer), or any other name the tender documents give."""

    name: str
    label: str
    kind: str = "text"
    unit: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME.fullmatch(self.name):
            raise InvalidRequest("开标字段名应为小写字母开头的字母、数字或下划线")
        if not isinstance(self.label, str) or not self.label.strip():
            raise InvalidRequest("开标字段的名称不能为空")
        if self.kind not in FIELD_KINDS:
            raise InvalidRequest(f"开标字段类型应为 {'、'.join(FIELD_KINDS)} 之一")

    def as_json(self) -> dict[str, str]:
        """The field as the pages show and the browser fills it."""
        return {"name": self.name, "label": self.label, "kind": self.kind, "unit": self.unit}


DEFAULT_FIELDS = (
    FieldSpec("price", "投标报价", "money", "元"),
    FieldSpec("duration_days", "工期", "integer", "日历天"),
)


@dataclass(frozen=True)
class SealLimits:
    """How large a bid may be; the server's configuration may raise or lower the defaults."""

    max_file_bytes: int = 200 * 1024 * 1024
    max_header_bytes: int = 16 * 1024
    max_text_chars: int = 200

    @property
    def max_blob_bytes(self) -> int:
        """The largest sealed blob: IV, header, newline, file and tag."""
        return IV_BYTES + self.max_header_bytes + 1 + self.max_file_bytes + TAG_BYTES


@dataclass(frozen=True)
class SealRecord:
    """What the server keeps of a submitted sealed bid besides the blob itself."""

    blob_sha256: str
    blob_sm3: str
    blob_bytes: int
    plaintext_sha256: str  # the commitment to the envelope
    key_sha256: str  # the commitment to the key

    def as_fields(self) -> dict[str, Any]:
        """The fields of the opening's ``submit_bid`` command."""
        return {
            "blob_sha256": self.blob_sha256,
            "blob_sm3": self.blob_sm3,
            "blob_bytes": self.blob_bytes,
            "plaintext_sha256": self.plaintext_sha256,
            "key_sha256": self.key_sha256,
        }


@dataclass(frozen=True)
class Sealed:
    """What the browser submits: the blob and the two commitments."""

    blob: bytes
    plaintext_sha256: str
    key_sha256: str


@dataclass(frozen=True)
class OpenedBid:
    """An opened bid: its opening fields and its file."""

    lot: str
    bidder: str
    fields: Mapping[str, FieldValue]
    file_name: str
    media_type: str
    data: bytes
    plaintext_sha256: str

    def as_fields(self) -> dict[str, Any]:
        """The fields of the opening's ``seal_opened`` command for a bid opened."""
        return {
            "bidder": self.bidder,
            "ok": True,
            "fields": dict(self.fields),
            "file": {
                "name": self.file_name,
                "type": self.media_type,
                "size": len(self.data),
                "sha256": hashlib.sha256(self.data).hexdigest(),
            },
            "plaintext_sha256": self.plaintext_sha256,
        }


def sm3_hex(data: bytes) -> str:
    """SM3 (GB/T 32905) of `data`, hex; OpenSSL 3 gives it to hashlib."""
    return hashlib.new("sm3", data).hexdigest()


def new_key() -> bytes:
    """A fresh AES-256 key, as the browser's WebCrypto makes one."""
    return os.urandom(KEY_BYTES)


def key_sha256_of(key: bytes) -> str:
    """The commitment to a raw key: its SHA-256, hex."""
    return hashlib.sha256(key).hexdigest()


def envelope(
    lot: str,
    bidder: str,
    fields: Mapping[str, FieldValue],
    file_name: str,
    media_type: str,
    data: bytes,
) -> bytes:
    """The plaintext of a bid: the JSON header, a newline, the file's bytes."""
    header = {
        "format": FORMAT,
        "lot": lot,
        "bidder": bidder,
        "fields": dict(fields),
        "file": {"name": file_name, "type": media_type, "size": len(data)},
    }
    text = json.dumps(header, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8") + b"\n" + data


def seal(key: bytes, plaintext: bytes, *, iv: bytes | None = None) -> Sealed:
    """Seal `plaintext` under `key` as the browser does (a random IV unless one is given)."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"a key is {KEY_BYTES} bytes")
    nonce = os.urandom(IV_BYTES) if iv is None else iv
    if len(nonce) != IV_BYTES:
        raise ValueError(f"an IV is {IV_BYTES} bytes")
    blob = nonce + AESGCM(key).encrypt(nonce, plaintext, None)
    return Sealed(blob, hashlib.sha256(plaintext).hexdigest(), key_sha256_of(key))


def _digest(value: object, what: str) -> str:
    text = value.lower() if isinstance(value, str) else ""
    if not HEX64.fullmatch(text):
        raise InvalidRequest(f"{what}应为 64 位十六进制的 SHA-256 摘要")
    return text


def record_submission(
    blob: bytes, plaintext_sha256: object, key_sha256: object, limits: SealLimits | None = None
) -> SealRecord:
    """What the server keeps of a submitted sealed bid; refused if malformed or too large."""
    limits = limits or SealLimits()
    if len(blob) < IV_BYTES + TAG_BYTES + 2:
        raise InvalidRequest("密封投标文件过短，不是有效的密文")
    if len(blob) > limits.max_blob_bytes:
        raise SealTooLarge(f"密封投标文件超过 {limits.max_blob_bytes} 字节的上限")
    return SealRecord(
        blob_sha256=hashlib.sha256(blob).hexdigest(),
        blob_sm3=sm3_hex(blob),
        blob_bytes=len(blob),
        plaintext_sha256=_digest(plaintext_sha256, "投标文件摘要"),
        key_sha256=_digest(key_sha256, "密钥摘要"),
    )


def open_seal(
    blob: bytes,
    key: bytes,
    record: SealRecord,
    *,
    lot: str,
    bidder: str,
    specs: Sequence[FieldSpec] = DEFAULT_FIELDS,
    limits: SealLimits | None = None,
) -> OpenedBid:
    """Open a sealed bid with the key its bidder released; a SealRefused with the reason if the
    key, the ciphertext, the committed digest or the envelope is not right."""
    limits = limits or SealLimits()
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        raise KeyMismatch(f"解密密钥应为 {KEY_BYTES} 字节的 AES-256 密钥")
    if not hmac.compare_digest(key_sha256_of(key), record.key_sha256):
        raise KeyMismatch()
    if len(blob) != record.blob_bytes or not hmac.compare_digest(
        hashlib.sha256(blob).hexdigest(), record.blob_sha256
    ):
        raise SealTampered("存储的密文与递交时登记的摘要不符，已被改动")
    try:
        plaintext = AESGCM(key).decrypt(blob[:IV_BYTES], blob[IV_BYTES:], None)
    except InvalidTag as exc:
        raise SealTampered() from exc
    plaintext_sha256 = hashlib.sha256(plaintext).hexdigest()
    if not hmac.compare_digest(plaintext_sha256, record.plaintext_sha256):
        raise DigestMismatch()
    opened = parse_envelope(plaintext, specs, limits)
    if opened.lot != lot or opened.bidder != bidder:
        raise BadEnvelope("投标文件封装中的标段或投标人与本次递交不符")
    return opened


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise BadEnvelope("投标文件封装头中有重复的键")
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise BadEnvelope(f"投标文件封装头中有非法数值 {name}")


def _header(plaintext: bytes, limits: SealLimits) -> tuple[dict[str, Any], bytes]:
    end = plaintext.find(b"\n", 0, limits.max_header_bytes + 1)
    if end < 0:
        if len(plaintext) > limits.max_header_bytes:
            raise SealTooLarge(f"投标文件封装头超过 {limits.max_header_bytes} 字节的上限")
        raise BadEnvelope("投标文件封装不完整：缺少封装头后的换行")
    try:
        header = json.loads(
            plaintext[:end].decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadEnvelope("投标文件封装头不是有效的 UTF-8 JSON") from exc
    if not isinstance(header, dict) or set(header) != HEADER_KEYS:
        raise BadEnvelope(f"投标文件封装头应恰好包含 {'、'.join(sorted(HEADER_KEYS))}")
    if header["format"] != FORMAT:
        raise BadEnvelope(f"投标文件封装格式应为 {FORMAT}")
    return header, plaintext[end + 1 :]


def parse_envelope(
    plaintext: bytes, specs: Sequence[FieldSpec], limits: SealLimits | None = None
) -> OpenedBid:
    """The header fields and the file of a bid envelope; BadEnvelope or SealTooLarge if it is
    not a well-formed one for these fields and limits."""
    limits = limits or SealLimits()
    header, data = _header(plaintext, limits)
    lot, bidder = header["lot"], header["bidder"]
    if not isinstance(lot, str) or not isinstance(bidder, str):
        raise BadEnvelope("投标文件封装头中的标段和投标人应为文本")
    if not isinstance(header["fields"], dict):
        raise BadEnvelope("投标文件封装头中的开标字段应为对象")
    try:
        fields = field_values(specs, header["fields"], limits.max_text_chars)
    except ValueError as exc:
        raise BadEnvelope(str(exc)) from exc
    file = header["file"]
    if not isinstance(file, dict) or set(file) != FILE_KEYS:
        raise BadEnvelope("投标文件封装头中的文件信息应恰好包含 name、type、size")
    name, media_type, size = file["name"], file["type"], file["size"]
    if not isinstance(name, str) or not 1 <= len(name) <= 255 or BAD_NAME_CHARS.search(name):
        raise BadEnvelope("投标文件名应为 1 至 255 个字符，不含路径分隔符或控制字符")
    if not isinstance(media_type, str) or not MEDIA_TYPE.fullmatch(media_type):
        raise BadEnvelope("投标文件的媒体类型格式不正确")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise BadEnvelope("投标文件的字节数应为正整数")
    if size > limits.max_file_bytes or len(data) > limits.max_file_bytes:
        raise SealTooLarge(f"投标文件超过 {limits.max_file_bytes} 字节的上限")
    if size != len(data):
        raise BadEnvelope(f"投标文件长度与封装头不符：应为 {size} 字节，实为 {len(data)} 字节")
    digest = hashlib.sha256(plaintext).hexdigest()
    return OpenedBid(lot, bidder, fields, name, media_type, data, digest)


def _field_value(spec: FieldSpec, value: object, max_text: int) -> FieldValue:
    what = f"开标字段“{spec.label}”"
    if spec.kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_INTEGER:
            raise ValueError(f"{what}应为 0 至 {MAX_INTEGER} 的整数")
        return value
    text = value if isinstance(value, str) else None
    if spec.kind == "money":
        try:
            Amount.parse(text)
        except InvalidAmount as exc:
            raise ValueError(f"{what}：{exc.message}") from exc
    if spec.kind == "decimal" and (text is None or not DECIMAL.fullmatch(text)):
        raise ValueError(f"{what}应为不超过六位小数的十进制数文本")
    if text is None or not text.strip() or len(text) > max_text:
        raise ValueError(f"{what}应为 1 至 {max_text} 个字符的文本")
    return text.strip() if spec.kind == "text" else text


def field_values(
    specs: Sequence[FieldSpec], values: Mapping[str, object], max_text: int = 200
) -> dict[str, FieldValue]:
    """The values of a lot's opening fields, each checked against its kind, in the lot's order;
    ValueError with the reason for a missing, unknown or malformed one."""
    unknown = sorted(set(values) - {s.name for s in specs})
    if unknown:
        raise ValueError(f"本标段没有开标字段 {'、'.join(unknown)}")
    checked: dict[str, FieldValue] = {}
    for spec in specs:
        if spec.name not in values:
            raise ValueError(f"缺少开标字段“{spec.label}”")
        checked[spec.name] = _field_value(spec, values[spec.name], max_text)
    return checked
