"""Trusted time-stamps of seals (RFC 3161): proof from a third party of when a seal existed.

The time-stamping authority (TSA) the centre configures (its URL and its certificate) signs the
SHA-256 of a seal's exact bytes (``seal.json``) with the time; its answer, a TimeStampResp, is
kept beside the seal as ``seal.tsr``, which ``openssl ts -verify -data seal.json -in seal.tsr``
checks. A token is checked here against the seal's digest and the TSA's certificate: the
response says "granted", the token is CMS SignedData over a TSTInfo whose message imprint is
that digest, signed by the certificate it carries, which its signed attributes name (ESS
signing certificate, RFC 3161 2.4.1 and RFC 5816) and which must be the configured one when
one is given.

Before it is kept, a response is reduced to what is checked: the status without text, the
signer's certificate alone, no CRLs, no unsigned attributes. None of these is signed, so the
token stays valid, and every byte of ``seal.tsr`` is then either signed by the TSA or checked.

Requests and responses are built and parsed with asn1crypto; the signature is checked with
cryptography (RSA PKCS #1 v1.5 or PSS, ECDSA, Ed25519 TSA keys).
"""

from __future__ import annotations

import hashlib
import secrets
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from recorder.config import RecorderConfig

MAX_RESPONSE_BYTES = 256 * 1024
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class TimestampError(ValueError):
    """No token could be had, or a token is not a valid time-stamp of the seal."""


@dataclass(frozen=True)
class TokenInfo:
    """What a valid token says."""

    gen_time: datetime  # the TSA's time
    serial: int
    tsa_subject: str  # the signing certificate's subject, as people read it
    certificate_sha256: str  # of the signing certificate's DER
    trusted: bool | None  # the certificate is a configured one; None: none was given


def load_certificates(pem: bytes) -> list[x509.Certificate]:
    """The certificates of a PEM bundle; ValueError when there is none."""
    try:
        found = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise ValueError(f"not a PEM certificate: {exc}") from exc
    return found


@dataclass(frozen=True)
class Tsa:
    """The time-stamping authority the centre configures."""

    url: str
    certificates: tuple[x509.Certificate, ...]  # its certificate (and issuers, if given)
    timeout_s: float = 10.0

    @classmethod
    def from_files(cls, url: str, certificate: Path, timeout_s: float) -> Tsa:
        """The TSA at `url` whose certificate is in the PEM file `certificate`."""
        return cls(url, tuple(load_certificates(certificate.read_bytes())), timeout_s)

    @classmethod
    def from_config(cls, config: RecorderConfig) -> Tsa | None:
        """The configured TSA, or None when there is none."""
        if not config.tsa_url or not config.tsa_certificate:
            return None
        return cls.from_files(config.tsa_url, Path(config.tsa_certificate), config.tsa_timeout_s)

    def stamp(self, data: bytes) -> bytes:
        """The TSA's response for the SHA-256 of `data`, checked and reduced (see the module).

        TimestampError when the TSA cannot be reached or does not answer with a valid token.
        """
        digest = hashlib.sha256(data).digest()
        nonce = secrets.randbits(63)
        query = tsp.TimeStampReq(
            {
                "version": "v1",
                "message_imprint": {
                    "hash_algorithm": {"algorithm": "sha256"},
                    "hashed_message": digest,
                },
                "nonce": nonce,
                "cert_req": True,
            }
        ).dump()
        request = urllib.request.Request(
            self.url,
            data=query,
            method="POST",
            headers={"Content-Type": "application/timestamp-query"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                body = answer.read(MAX_RESPONSE_BYTES + 1)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise TimestampError(f"the TSA at {self.url} did not answer: {exc}") from exc
        if len(body) > MAX_RESPONSE_BYTES:
            raise TimestampError(f"the TSA at {self.url} answered with too much")
        reduced = reduce_response(body)
        check_token(reduced, digest, self.certificates, nonce=nonce)
        return reduced


def _parse(data: bytes) -> Any:
    try:
        response = tsp.TimeStampResp.load(data, strict=True)
    except Exception as exc:  # asn1crypto raises several kinds on damaged DER
        raise TimestampError(f"not a time-stamp response (DER): {exc}") from exc
    return response


def _signer(signed_data: Any) -> tuple[Any, Any]:
    """The one SignerInfo, and the embedded certificate it names."""
    infos = signed_data["signer_infos"]
    if len(infos) != 1:
        raise TimestampError(f"{len(infos)} signers, a time-stamp token has one")
    info = infos[0]
    sid = info["sid"]
    for choice in signed_data["certificates"] or []:
        if choice.name != "certificate":
            continue
        cert = choice.chosen
        if sid.name == "issuer_and_serial_number":
            if (
                sid.chosen["issuer"] == cert.issuer
                and sid.chosen["serial_number"].native == cert.serial_number
            ):
                return info, cert
        elif sid.chosen.native == cert.key_identifier:
            return info, cert
    raise TimestampError("the token does not carry the certificate of its signer")


def reduce_response(data: bytes) -> bytes:
    """A response with only what is checked: a plain "granted", the signer's certificate.

    TimestampError when `data` is not a response granting a token.
    """
    try:
        return _reduce(data)
    except TimestampError:
        raise
    except Exception as exc:  # asn1crypto parses lazily and raises several kinds on damage
        raise TimestampError(f"not a time-stamp response (DER): {exc}") from exc


def _reduce(data: bytes) -> bytes:
    response = _parse(data)
    status = response["status"]["status"].native
    if status not in ("granted", "granted_with_mods"):
        text = response["status"]["status_string"].native
        raise TimestampError(f"the TSA refused: {status} {text or ''}".strip())
    token = response["time_stamp_token"]
    if token["content_type"].native != "signed_data":
        raise TimestampError("the token is not CMS SignedData")
    signed_data = token["content"]
    info, cert = _signer(signed_data)
    if info["unsigned_attrs"].native is not None:
        info = cms.SignerInfo({k: info[k] for k in info if k != "unsigned_attrs"})
    reduced = cms.SignedData(
        {
            "version": signed_data["version"],
            "digest_algorithms": signed_data["digest_algorithms"],
            "encap_content_info": signed_data["encap_content_info"],
            "certificates": [cms.CertificateChoices({"certificate": cert})],
            "signer_infos": [info],
        }
    )
    return tsp.TimeStampResp(
        {
            "status": {"status": "granted"},
            "time_stamp_token": {"content_type": "signed_data", "content": reduced},
        }
    ).dump()


def _attribute(info: Any, name: str) -> Any:
    values = [a["values"] for a in info["signed_attrs"] if a["type"].native == name]
    if len(values) != 1 or len(values[0]) != 1:
        raise TimestampError(f"the signed attributes hold {name} {len(values)} times, not once")
    return values[0][0]


def _check_signature(info: Any, cert_der: bytes) -> None:
    """The signer's signature over its signed attributes, with the certificate's key."""
    try:
        public_key = x509.load_der_x509_certificate(cert_der).public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise TimestampError(f"the TSA certificate's key cannot be read: {exc}") from exc
    signed = b"\x31" + info["signed_attrs"].dump()[1:]  # as a SET OF, its DER, not [0]
    signature = info["signature"].native
    algorithm = info["signature_algorithm"]
    digest_name = info["digest_algorithm"]["algorithm"].native
    hash_type = _HASHES.get(digest_name)
    if hash_type is None:
        raise TimestampError(f"the token's digest {digest_name} is not accepted")
    try:
        kind = algorithm.signature_algo
    except ValueError as exc:
        raise TimestampError(f"the token's signature algorithm is not known: {exc}") from exc
    try:
        # sha256_ecdsa, sha384_rsa…: the digest the algorithm names is the signer's digest.
        named = algorithm.hash_algo if kind != "rsassa_pss" else digest_name
    except ValueError:
        named = digest_name  # rsassa_pkcs1v15, ecdsa: the digest is the signer's
    if named != digest_name:
        raise TimestampError("the signature algorithm names another digest than the signer's")
    try:
        if isinstance(public_key, rsa.RSAPublicKey) and kind == "rsassa_pkcs1v15":
            public_key.verify(signature, signed, padding.PKCS1v15(), hash_type())
        elif isinstance(public_key, rsa.RSAPublicKey) and kind == "rsassa_pss":
            params = algorithm["parameters"]
            mgf = _HASHES[params["mask_gen_algorithm"]["parameters"]["algorithm"].native]
            pss = padding.PSS(padding.MGF1(mgf()), params["salt_length"].native)
            pss_hash = _HASHES[params["hash_algorithm"]["algorithm"].native]
            public_key.verify(signature, signed, pss, pss_hash())
        elif isinstance(public_key, ec.EllipticCurvePublicKey) and kind == "ecdsa":
            public_key.verify(signature, signed, ec.ECDSA(hash_type()))
        elif isinstance(public_key, ed25519.Ed25519PublicKey) and kind == "ed25519":
            public_key.verify(signature, signed)
        else:
            raise TimestampError(f"a {kind} signature with this key is not accepted")
    except (InvalidSignature, KeyError) as exc:
        raise TimestampError("the TSA's signature does not verify") from exc


def check_token(
    data: bytes,
    digest: bytes,
    trusted: Sequence[x509.Certificate] | None,
    *,
    nonce: int | None = None,
) -> TokenInfo:
    """Check a kept response (``seal.tsr``) against the SHA-256 `digest` of the seal.

    `trusted` are the TSA certificates the centre configured (None: not known here; the token
    is then checked with the certificate it carries). TimestampError names what is wrong.
    """
    try:
        return _check(data, digest, trusted, nonce)
    except TimestampError:
        raise
    except Exception as exc:  # asn1crypto parses lazily and raises several kinds on damage
        raise TimestampError(f"not a time-stamp response (DER): {exc}") from exc


def _check(
    data: bytes,
    digest: bytes,
    trusted: Sequence[x509.Certificate] | None,
    nonce: int | None,
) -> TokenInfo:
    if reduce_response(data) != data:
        # Kept reduced, so reducing it again changes nothing: an unsigned part written another
        # way (a status given with a longer length, a second certificate) would otherwise pass.
        raise TimestampError("the response is not as it was kept (reduced, DER)")
    response = _parse(data)
    status = response["status"]
    if status["status"].native != "granted" or status["status_string"].native is not None:
        raise TimestampError("the response is not a plain 'granted'")
    if status["fail_info"].native is not None:
        raise TimestampError("the response carries failure information")
    token = response["time_stamp_token"]
    if token["content_type"].native != "signed_data":
        raise TimestampError("the token is not CMS SignedData")
    signed_data = token["content"]
    if signed_data["version"].native != "v3" or signed_data["crls"].native is not None:
        raise TimestampError("the token's SignedData is not as kept (version 3, no CRLs)")
    info, cert = _signer(signed_data)
    if len(signed_data["certificates"]) != 1 or info["unsigned_attrs"].native is not None:
        raise TimestampError(
            "the token carries more than its signer's certificate and signed attributes"
        )
    expected = "v1" if info["sid"].name == "issuer_and_serial_number" else "v3"
    if info["version"].native != expected:
        raise TimestampError(f"the signer's version is not {expected[1]} (RFC 5652 5.3)")
    content = signed_data["encap_content_info"]
    if content["content_type"].native != "tst_info":
        raise TimestampError("the signed content is not a TSTInfo")
    digest_name = info["digest_algorithm"]["algorithm"].native
    if digest_name not in [a["algorithm"].native for a in signed_data["digest_algorithms"]]:
        raise TimestampError("the signer's digest algorithm is not among the token's")
    algorithms = [*signed_data["digest_algorithms"], info["digest_algorithm"]]
    if info["signature_algorithm"].signature_algo != "rsassa_pss":
        algorithms.append(info["signature_algorithm"])
    for algorithm in algorithms:
        # No signature covers these: their parameters must be absent or NULL, as the digest
        # and signature algorithms used here define them, not some other value in their place.
        if algorithm["parameters"].dump() not in (b"", b"\x05\x00"):
            raise TimestampError("an algorithm of the token has parameters it does not take")
    hash_type = _HASHES.get(digest_name)
    if hash_type is None:
        raise TimestampError(f"the token's digest {digest_name} is not accepted")
    econtent = content["content"].contents
    if _attribute(info, "content_type").native != "tst_info":
        raise TimestampError("the signed attributes do not name a TSTInfo")
    if _attribute(info, "message_digest").native != hashlib.new(digest_name, econtent).digest():
        raise TimestampError("the TSTInfo is not the one the TSA signed")
    cert_der = cert.dump()
    _check_signing_certificate(info, cert_der)
    _check_signature(info, cert_der)
    tst_info = content["content"].parsed
    if tst_info["version"].native != "v1":
        raise TimestampError("the TSTInfo's version is not 1")
    imprint = tst_info["message_imprint"]
    if imprint["hash_algorithm"]["algorithm"].native != "sha256":
        raise TimestampError("the time-stamp is not of a SHA-256")
    if imprint["hashed_message"].native != digest:
        raise TimestampError("the time-stamp is of other bytes than this seal.json")
    if nonce is not None and tst_info["nonce"].native != nonce:
        raise TimestampError("the TSA answered another request (nonce)")
    loaded = x509.load_der_x509_certificate(cert_der)
    trust: bool | None = None
    if trusted is not None:
        configured = {c.public_bytes(serialization.Encoding.DER) for c in trusted}
        trust = cert_der in configured
        if not trust:
            raise TimestampError("signed by a TSA certificate that is not the configured one")
    usage = _time_stamping(loaded)
    if not usage:
        raise TimestampError(
            "the signing certificate is not for time-stamping (extended key usage)"
        )
    return TokenInfo(
        gen_time=tst_info["gen_time"].native,
        serial=tst_info["serial_number"].native,
        tsa_subject=loaded.subject.rfc4514_string(),
        certificate_sha256=hashlib.sha256(cert_der).hexdigest(),
        trusted=trust,
    )


def _time_stamping(cert: x509.Certificate) -> bool:
    try:
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return x509.oid.ExtendedKeyUsageOID.TIME_STAMPING in usage


def _check_signing_certificate(info: Any, cert_der: bytes) -> None:
    """The signed attributes name the certificate the token carries (ESS, v1 or v2)."""
    names = [a["type"].native for a in info["signed_attrs"]]
    if "signing_certificate_v2" in names:
        ids = _attribute(info, "signing_certificate_v2")["certs"]
        first = ids[0]
        algorithm = first["hash_algorithm"]["algorithm"].native
        if algorithm not in _HASHES:
            raise TimestampError(f"the signing certificate is named by {algorithm}, not accepted")
        expected = hashlib.new(algorithm, cert_der).digest()
    elif "signing_certificate" in names:
        first = _attribute(info, "signing_certificate")["certs"][0]
        expected = hashlib.sha1(cert_der).digest()  # ESS v1 names it by SHA-1 (RFC 2634)
    else:
        raise TimestampError("the signed attributes do not name the signing certificate (ESS)")
    if first["cert_hash"].native != expected:
        raise TimestampError("the certificate the token carries is not the one its signature names")
