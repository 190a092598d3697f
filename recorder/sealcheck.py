"""Checking a seal's two signatures, Ed25519 and SM2, which keys made them, and its time-stamp.

A key list (``archive-keys.json``, or public keys in PEM) says which keys may have signed and
when each was valid for new seals. The operator's list, given to ``archive verify`` by the data
directory or ``--public-key``, is *pinned*: a key not in it is an unknown key. The list an
evidence package carries is not: it travels with what it vouches for, so it only explains a key
rotation between parts and each key's validity. Without any list, every part must be signed by
the keys of the first part, since nothing else can tell a rotation from a forgery.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509

from recorder.keys import (
    ED25519,
    SM2,
    KeyRecord,
    ed25519_verify,
    public_fingerprint,
    sm2_verify,
)
from recorder.seal import (
    ED25519_PUB,
    REQUESTED,
    SEAL_ED25519_SIG,
    SEAL_JSON,
    SEAL_SM2_SIG,
    SEAL_TSR,
    SM2_PUB,
)
from recorder.timestamp import TimestampError, check_token

SIGNATURES = ((ED25519, SEAL_ED25519_SIG, ED25519_PUB), (SM2, SEAL_SM2_SIG, SM2_PUB))
# The TSA's clock and the server's may differ by this much before a reader is told.
CLOCK_NOTE = timedelta(minutes=2)
NAMES = {ED25519: "Ed25519", SM2: "SM2"}
_VERIFY = {ED25519: ed25519_verify, SM2: sm2_verify}


@dataclass(frozen=True)
class Signer:
    """A key that signed a part's seal, as far as it could be checked."""

    part: str
    algorithm: str  # "ed25519" or "sm2"
    fingerprint: str
    verified: bool  # the signature verifies over seal.json with this key
    generation: int | None  # from the key list, else as the seal names it
    trusted: bool | None  # in the pinned key list; None: no pinned list
    valid: bool | None  # the seal was made within the key's validity; None: not known

    def describe(self) -> str:
        """One line for people: which key signed, and what is known of it."""
        facts = [f"generation {self.generation}" if self.generation is not None else None]
        facts.append({True: "trusted", False: "NOT trusted", None: "not pinned"}[self.trusted])
        facts.append(
            {True: "within its validity", False: "OUTSIDE its validity", None: None}[self.valid]
        )
        facts.append(None if self.verified else "signature does NOT verify")
        listed = ", ".join(f for f in facts if f)
        return f"{NAMES[self.algorithm]} {self.fingerprint[:16]} ({listed})"


class SealSigners:
    """Checks the signatures of each part in turn, against one key list for the archive."""

    def __init__(
        self,
        keys: list[KeyRecord] | None,
        pinned: bool,
        diff: Callable[[str, str], None],
    ) -> None:
        self._keys = keys
        self._pinned = pinned
        self._diff = diff
        self._first: dict[str, tuple[str, str]] = {}  # algorithm: (part, fingerprint)
        self.signers: list[Signer] = []
        self.trusted: bool | None = None if not pinned else True

    def part(self, name: str, regular: dict[str, Path], seal: dict[str, Any]) -> None:
        """Check both signatures of part `name` over its seal.json (present in `regular`)."""
        seal_bytes = regular["seal.json"].read_bytes()
        raw = seal.get("keys")
        named: dict[str, Any] = raw if isinstance(raw, dict) else {}
        try:
            sealed_at: datetime | None = datetime.fromisoformat(str(seal.get("sealed_at")))
        except ValueError:
            sealed_at = None
        before = len(self.signers)
        for algorithm, sig_name, pub_name in SIGNATURES:
            if sig_name not in regular or pub_name not in regular:
                self.untrusted()  # deleted: reported with the part's required files
                continue
            self._one(
                name, algorithm, regular[sig_name], regular[pub_name], seal_bytes, named, sealed_at
            )
        checked = self.signers[before:]
        if len(checked) == len(SIGNATURES) and not any(s.verified for s in checked):
            # Two signatures of independent algorithms failing at once over the same bytes:
            # those bytes are what changed.
            self._diff(
                f"{name}/{SEAL_JSON}", "changed since it was signed: neither signature verifies"
            )

    def _one(
        self,
        name: str,
        algorithm: str,
        sig: Path,
        pub: Path,
        seal_bytes: bytes,
        named: dict[str, Any],
        sealed_at: datetime | None,
    ) -> None:
        label = NAMES[algorithm]
        sig_where, pub_where = f"{name}/{sig.name}", f"{name}/{pub.name}"
        pem = pub.read_bytes()
        try:
            fingerprint = public_fingerprint(algorithm, pem)
            verified = _VERIFY[algorithm](pem, seal_bytes, sig.read_bytes())
        except ValueError:
            self._diff(pub_where, f"not an {label} public key in PEM")
            self.untrusted()
            return
        if not verified:
            self._diff(sig_where, f"the {label} signature does not verify over seal.json")
        if named.get(algorithm) != fingerprint:
            self._diff(pub_where, f"is not the {label} key that seal.json names")
        generation = named.get("generation")
        trusted: bool | None = None
        valid: bool | None = None
        if self._keys is not None:
            record = next(
                (k for k in self._keys if (k.algorithm, k.fingerprint) == (algorithm, fingerprint)),
                None,
            )
            if record is None:
                listing = "" if self._pinned else " (not in the package's key list)"
                self._diff(sig_where, f"signed by an unknown {label} key {fingerprint}{listing}")
                trusted = False if self._pinned else None
            else:
                trusted = True if self._pinned else None
                if record.generation is not None:
                    if generation != record.generation:
                        self._diff(
                            f"{name}/seal.json",
                            f"names generation {generation!r}, the key list says "
                            f"{record.generation} for its {label} key",
                        )
                    generation = record.generation
                valid = record.valid_at(sealed_at) if sealed_at is not None else False
                if valid is False:
                    self._diff(
                        sig_where,
                        f"signed with the {label} key of generation {record.generation} when "
                        f"it was not valid for new seals ({record.validity()}; sealed "
                        f"{seal_time(sealed_at)})",
                    )
            if trusted is False:
                self.trusted = False
        else:
            first = self._first.setdefault(algorithm, (name, fingerprint))
            if first[1] != fingerprint:
                self._diff(
                    sig_where,
                    f"signed by a different {label} key than {first[0]} (no key list tells a "
                    "key rotation from a forgery: give the operator's archive-keys.json)",
                )
        if not verified and self._pinned:
            self.trusted = False
        self.signers.append(
            Signer(
                name,
                algorithm,
                fingerprint,
                verified,
                generation if isinstance(generation, int) else None,
                trusted,
                valid,
            )
        )

    def untrusted(self) -> None:
        """A part whose keys could not be read: with a pinned list, not a trusted archive."""
        if self._pinned:
            self.trusted = False


def seal_time(when: datetime | None) -> str:
    """A seal's time as it reads in a message."""
    return when.isoformat() if when is not None else "at an unreadable time"


@dataclass(frozen=True)
class PartTimestamp:
    """A part's valid RFC 3161 time-stamp: when the TSA saw the seal, and who the TSA is."""

    part: str
    gen_time: str
    tsa: str  # the signing certificate's subject
    trusted: bool | None  # the configured TSA certificate; None: none was given to check

    def describe(self) -> str:
        """One line for people."""
        trust = {True: "the trusted TSA certificate", None: "TSA certificate not pinned"}
        return f"{self.gen_time} by {self.tsa} ({trust.get(self.trusted, 'NOT trusted')})"


def check_timestamp(
    name: str,
    regular: dict[str, Path],
    seal: dict[str, Any],
    trusted_tsa: Sequence[x509.Certificate] | None,
    diff: Callable[[str, str], None],
    note: Callable[[str], None],
) -> PartTimestamp | None:
    """A part's seal.tsr against the digest of its seal.json, or what the seal says of it."""
    if SEAL_JSON not in regular or not seal:
        return None  # no seal to time-stamp: reported with the part
    raw = seal.get("timestamp")
    stamp: dict[str, Any] = raw if isinstance(raw, dict) else {}
    where = f"{name}/{SEAL_TSR}"
    if SEAL_TSR not in regular:
        if stamp.get("status") == REQUESTED:
            diff(where, f"deleted: the seal asked {stamp.get('tsa')} for a time-stamp")
        else:
            reason = f": {stamp['reason']}" if stamp.get("reason") else ""
            note(
                f"{name}: no trusted time-stamp ({stamp.get('status')}{reason}); "
                "`roomserver archive timestamp` adds one"
            )
        return None
    digest = hashlib.sha256(regular[SEAL_JSON].read_bytes()).digest()
    try:
        info = check_token(regular[SEAL_TSR].read_bytes(), digest, trusted_tsa)
    except TimestampError as exc:
        diff(where, f"not a valid time-stamp of seal.json: {exc}")
        return None
    try:
        sealed_at: datetime | None = datetime.fromisoformat(str(seal.get("sealed_at")))
    except ValueError:
        sealed_at = None
    if sealed_at is not None and info.gen_time < sealed_at - CLOCK_NOTE:
        note(
            f"{name}: the TSA's time {info.gen_time.isoformat()} is before sealed_at "
            f"{sealed_at.isoformat()}: the server's clock was ahead"
        )
    return PartTimestamp(name, info.gen_time.isoformat(), info.tsa_subject, info.trusted)
