"""Digital signatures over the evaluation report (standard 5.4.9, 7.2.4) and the bid opening's
record sheet (开标记录表, 7.2.3-4 to 9).

Each expert's browser makes an ECDSA P-256 key pair with WebCrypto at sign-in and registers the
public key (SubjectPublicKeyInfo, base64); the private key never leaves the browser. To sign, the
browser signs the statement below, which names the session, the expert and both digests of the
report (SHA-256 and SM3), with ECDSA over SHA-256; WebCrypto gives the signature as r‖s
(IEEE P1363, 64 bytes), which is what is kept and checked here. The key stands in for the expert's
CA certificate key of a production deployment.

The opening record sheet is signed the same way by the opening's host and witness, over
``record_statement``, which names the lot, the signer and both digests of the sheet.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from roomserver.errors import BadSignature

STATEMENT_TITLE = "远程异地评标 评标报告签署"
RECORD_STATEMENT_TITLE = "远程异地开标 开标记录表签署"
MAX_KEY_CHARS = 400  # a P-256 SPKI is 91 bytes, 124 base64 characters


def statement(session_id: str, expert_id: str, sha256: str, sm3: str) -> bytes:
    """The exact bytes an expert signs for a report (UTF-8, lines joined by ``\\n``)."""
    return "\n".join(
        (
            STATEMENT_TITLE,
            f"session: {session_id}",
            f"expert: {expert_id}",
            f"report-sha256: {sha256}",
            f"report-sm3: {sm3}",
        )
    ).encode("utf-8")


def record_statement(lot_id: str, signer_id: str, sha256: str, sm3: str) -> bytes:
    """The exact bytes the host or witness signs for an opening record sheet (UTF-8, ``\\n``)."""
    return "\n".join(
        (
            RECORD_STATEMENT_TITLE,
            f"lot: {lot_id}",
            f"signer: {signer_id}",
            f"record-sha256: {sha256}",
            f"record-sm3: {sm3}",
        )
    ).encode("utf-8")


def _b64(value: object, what: str, limit: int) -> bytes:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise BadSignature(f"{what}格式不正确")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadSignature(f"{what}不是有效的 base64") from exc


def load_public_key(spki_b64: object) -> ec.EllipticCurvePublicKey:
    """The P-256 public key of a base64 SubjectPublicKeyInfo; BadSignature otherwise."""
    raw = _b64(spki_b64, "签名公钥", MAX_KEY_CHARS)
    try:
        key = serialization.load_der_public_key(raw)
    except ValueError as exc:
        raise BadSignature("签名公钥无法解析") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise BadSignature("签名公钥必须是 ECDSA P-256 公钥")
    return key


def verify(
    spki_b64: str, message: bytes, signature_b64: object, document: str = "评标报告"
) -> None:
    """Check an r‖s ECDSA P-256 / SHA-256 signature of `message`, a statement about `document`;
    BadSignature with the reason."""
    key = load_public_key(spki_b64)
    raw = _b64(signature_b64, "电子签名", 200)
    if len(raw) != 64:
        raise BadSignature(f"电子签名长度应为 64 字节（r‖s），收到 {len(raw)} 字节")
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        key.verify(der, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise BadSignature(f"电子签名与{document}摘要不符，或不是本人登记的密钥所签") from exc
