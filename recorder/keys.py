"""The keys that sign the archive's seals: Ed25519 and SM2 side by side, in generations.

Every seal is signed twice, over the same bytes of ``seal.json``: with Ed25519 (RFC 8032) and
with SM2 (GB/T 32918, with the SM3 digest and the standard's default distinguishing identifier
``1234567812345678``, GB/T 35276), so that it can be checked with international tools and with
national (国密) ones. Both signatures can be checked with OpenSSL 3's command line.

SM2 is used through OpenSSL's command line: the ``cryptography`` package has no SM2, and the
pure-Python implementations on PyPI are not fit for signing (``gmssl`` draws the signature's
nonce from ``random``, which reveals the private key after a few signatures). OpenSSL holds the
private key's arithmetic; this module only passes it a key file and bytes.

Keys come in generations (``Keyring``): the private keys in ``secrets/archive-keys/NNNN-*.pem``,
the public ones, with the time each generation was valid for new seals, in the data directory's
``archive-keys.json``. A rotation makes a new generation for the seals from then on; the old
keys are kept and stay listed with their validity, so that every seal ever made can be checked.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from recorder.hashing import sha256_hex
from roomserver.privatefiles import make_private_dir, read_secret, write_secret

ED25519 = "ed25519"
SM2 = "sm2"
ALGORITHMS = (ED25519, SM2)
# GB/T 35276 (GM/T 0009): the distinguishing identifier when the parties agreed on no other.
SM2_ID = "1234567812345678"
# SubjectPublicKeyInfo of an SM2 key up to its point: id-ecPublicKey, curve SM2 (1.2.156.10197.
# 1.301), a BIT STRING of 66 bytes whose first content byte is 04 (an uncompressed point).
_SM2_SPKI = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")
_LIST_FORMAT = 1


class OpenSslMissing(RuntimeError):
    """OpenSSL's command line, which makes and checks the SM2 signatures, is not installed."""


def openssl_path() -> str:
    """The ``openssl`` command; OpenSslMissing when there is none."""
    path = shutil.which("openssl")
    if path is None:
        raise OpenSslMissing(
            "the openssl command (OpenSSL 3) is needed for the SM2 seals: install it "
            "(Debian: apt-get install openssl)"
        )
    return path


def _openssl(args: Sequence[str], data: bytes | None = None) -> bytes:
    """Run ``openssl ARGS`` with `data` on stdin; its stdout, or RuntimeError with its stderr."""
    result = subprocess.run(
        [openssl_path(), *args], input=data or b"", capture_output=True, check=False
    )
    if result.returncode != 0:
        error = result.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"openssl {args[0]} failed: {error}")
    return result.stdout


def _pem_body(pem: bytes, label: str) -> bytes:
    """The DER inside one PEM block of `label`; ValueError when there is none."""
    begin, end = f"-----BEGIN {label}-----".encode(), f"-----END {label}-----".encode()
    text = pem.strip()
    if not text.startswith(begin) or not text.endswith(end):
        raise ValueError(f"not one PEM block of {label}")
    try:
        return base64.b64decode(b"".join(text[len(begin) : -len(end)].split()), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"the PEM block is not base64: {exc}") from exc


def sm2_point(public_pem: bytes) -> bytes:
    """The 65-byte uncompressed point of an SM2 public key in PEM; ValueError otherwise."""
    der = _pem_body(public_pem, "PUBLIC KEY")
    if len(der) != len(_SM2_SPKI) + 65 or not der.startswith(_SM2_SPKI) or der[-65] != 4:
        raise ValueError("not an SM2 public key")
    return der[-65:]


def sm2_fingerprint(public_pem: bytes) -> str:
    """SHA-256 hex of the key's 65-byte point (``openssl pkey -pubin -outform DER | tail -c
    65 | sha256sum``)."""
    return sha256_hex(sm2_point(public_pem))


def sm2_verify(public_pem: bytes, data: bytes, signature: bytes) -> bool:
    """Whether `signature` (DER) is `public_pem`'s SM2 signature of `data` (SM3, default ID).

    ValueError when the key is not an SM2 public key; OpenSslMissing without OpenSSL.
    """
    sm2_point(public_pem)
    with tempfile.TemporaryDirectory(prefix="sm2-") as tmp:
        files = {"key.pem": public_pem, "data": data, "sig": signature}
        for name, content in files.items():
            Path(tmp, name).write_bytes(content)
        result = subprocess.run(
            [
                openssl_path(),
                "pkeyutl",
                "-verify",
                "-pubin",
                "-inkey",
                "key.pem",
                "-rawin",
                "-digest",
                "sm3",
                "-pkeyopt",
                f"distid:{SM2_ID}",
                "-in",
                "data",
                "-sigfile",
                "sig",
            ],
            cwd=tmp,
            capture_output=True,
            check=False,
        )
    return result.returncode == 0 and b"Signature Verified Successfully" in result.stdout


def ed25519_fingerprint(public_key: Ed25519PublicKey) -> str:
    """SHA-256 hex of the raw 32-byte Ed25519 public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sha256_hex(raw)


def load_ed25519_public(data: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM, or from its raw 32 bytes; ValueError otherwise."""
    if len(data) == 32:
        return Ed25519PublicKey.from_public_bytes(data)
    try:
        key = serialization.load_pem_public_key(data)
    except UnsupportedAlgorithm as exc:
        raise ValueError("not an Ed25519 public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def ed25519_verify(public_pem: bytes, data: bytes, signature: bytes) -> bool:
    """Whether `signature` is `public_pem`'s Ed25519 signature of `data`; ValueError: no key."""
    try:
        load_ed25519_public(public_pem).verify(signature, data)
    except InvalidSignature:
        return False
    return True


def public_fingerprint(algorithm: str, public_pem: bytes) -> str:
    """The fingerprint of a public key of `algorithm`; ValueError when it is not one."""
    if algorithm == ED25519:
        return ed25519_fingerprint(load_ed25519_public(public_pem))
    if algorithm == SM2:
        return sm2_fingerprint(public_pem)
    raise ValueError(f"unknown algorithm {algorithm!r}")


@dataclass(frozen=True)
class Ed25519Key:
    """An Ed25519 signing key."""

    private_key: Ed25519PrivateKey

    @classmethod
    def load_or_create(cls, path: Path) -> Ed25519Key:
        """Load the PEM key at `path`, creating it (mode 600) when there is none.

        UnsafePermissions when the key or its folder can be opened by other users.
        """
        pem = read_secret(path)
        if pem is None:
            generated = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            # Exclusive create: two processes starting at once must not each write their own
            # key; both read back the one that was written.
            write_secret(path, generated)
            pem = read_secret(path) or b""
        loaded = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ValueError(f"{path}: not an Ed25519 private key")
        return cls(loaded)

    def public_pem(self) -> bytes:
        """The public key as SubjectPublicKeyInfo PEM (what ``openssl pkeyutl -pubin`` reads)."""
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def fingerprint(self) -> str:
        """SHA-256 hex of the raw 32-byte public key."""
        return ed25519_fingerprint(self.private_key.public_key())

    def sign(self, data: bytes) -> bytes:
        """Raw 64-byte Ed25519 signature of `data`."""
        return self.private_key.sign(data)


@dataclass(frozen=True)
class Sm2Key:
    """An SM2 signing key in a PEM file (mode 600), used through OpenSSL's command line."""

    path: Path
    public: bytes  # SubjectPublicKeyInfo PEM

    @classmethod
    def load_or_create(cls, path: Path) -> Sm2Key:
        """Load the SM2 key at `path`, creating it (mode 600, by OpenSSL) when there is none."""
        if read_secret(path) is None:
            write_secret(path, _openssl(["genpkey", "-algorithm", "SM2"]))
        if read_secret(path) is None:
            raise FileNotFoundError(path)
        public = _openssl(["pkey", "-in", str(path), "-pubout"])
        try:
            sm2_point(public)
        except ValueError as exc:
            raise ValueError(f"{path}: not an SM2 private key") from exc
        return cls(path, public)

    def public_pem(self) -> bytes:
        """The public key as SubjectPublicKeyInfo PEM."""
        return self.public

    def fingerprint(self) -> str:
        """SHA-256 hex of the public key's 65-byte point."""
        return sm2_fingerprint(self.public)

    def sign(self, data: bytes) -> bytes:
        """The DER SM2 signature of `data`: SM3 digest, Z with the default identifier."""
        args = ["pkeyutl", "-sign", "-inkey", str(self.path), "-rawin", "-digest", "sm3"]
        return _openssl([*args, "-pkeyopt", f"distid:{SM2_ID}"], data)


@dataclass(frozen=True)
class SealKeys:
    """The keys of one generation, which sign a seal together."""

    generation: int
    ed25519: Ed25519Key
    sm2: Sm2Key

    def fingerprints(self) -> dict[str, Any]:
        """What a seal names: the generation and each key's fingerprint."""
        return {
            "generation": self.generation,
            ED25519: self.ed25519.fingerprint(),
            SM2: self.sm2.fingerprint(),
        }


class KeySource(Protocol):
    """Where a seal takes its keys from at the moment it is signed."""

    def current(self) -> SealKeys:
        """The keys new seals are signed with."""


@dataclass(frozen=True)
class KeyRecord:
    """One public key: its generation, and when it was valid for new seals (None: unknown or
    still)."""

    algorithm: str
    fingerprint: str
    public_key: str  # PEM
    generation: int | None = None
    valid_from: str | None = None
    valid_until: str | None = None

    def valid_at(self, when: datetime) -> bool | None:
        """Whether a seal made at `when` falls within the validity; None when it is unknown."""
        if self.valid_from is None:
            return None
        start = datetime.fromisoformat(self.valid_from)
        end = datetime.fromisoformat(self.valid_until) if self.valid_until else None
        return start <= when and (end is None or when <= end)

    def validity(self) -> str:
        """The validity as people read it."""
        if self.valid_from is None:
            return "validity not listed"
        return f"valid {self.valid_from} – {self.valid_until or 'now'}"


def key_records(data: bytes) -> list[KeyRecord]:
    """The keys in an ``archive-keys.json`` list, or the one key of a PEM file (Ed25519 or SM2).

    ValueError when `data` is neither.
    """
    if data.lstrip().startswith(b"{"):
        try:
            listing = json.loads(data)
            records = [KeyRecord(**entry) for entry in listing["keys"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"not a list of archive keys: {exc}") from exc
        for record in records:
            if (
                public_fingerprint(record.algorithm, record.public_key.encode())
                != record.fingerprint
            ):
                raise ValueError(f"the key list names a wrong fingerprint for {record.fingerprint}")
        return records
    for algorithm in ALGORITHMS:
        try:
            fingerprint = public_fingerprint(algorithm, data)
        except ValueError:
            continue
        return [KeyRecord(algorithm, fingerprint, data.decode("ascii"))]
    raise ValueError("neither an Ed25519 nor an SM2 public key in PEM, nor a list of keys")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Keyring:
    """The generations of signing keys of an installation (``KeySource`` for the archive).

    `folder` holds the private keys (``0001-ed25519.pem``, ``0001-sm2.pem``…, mode 600, in a
    folder of mode 700); `listing` is the public list with each key's validity, which is
    given to auditors and put in every evidence package. The list is read again for each
    seal, so that a rotation by ``roomserver archive rotate-keys`` takes effect in a running
    server and its media workers from their next seal on.
    """

    def __init__(self, folder: Path, listing: Path) -> None:
        self.folder = folder
        self.listing = listing
        self._loaded: dict[int, SealKeys] = {}

    def records(self) -> list[KeyRecord]:
        """Every key of every generation, oldest first; [] before the first."""
        try:
            return key_records(self.listing.read_bytes())
        except FileNotFoundError:
            return []

    def current(self) -> SealKeys:
        """The keys of the newest generation (loaded once per generation)."""
        records = self.records()
        generations = [r.generation for r in records if r.generation is not None]
        if not generations:
            raise FileNotFoundError(f"{self.listing}: no archive keys yet")
        generation = max(generations)
        keys = self._loaded.get(generation)
        if keys is None:
            keys = self._load(generation)
            listed = {r.algorithm: r.fingerprint for r in records if r.generation == generation}
            if listed != {ED25519: keys.ed25519.fingerprint(), SM2: keys.sm2.fingerprint()}:
                raise ValueError(f"{self.listing}: generation {generation} lists other keys")
            self._loaded[generation] = keys
        return keys

    def ensure(self, *, adopt_ed25519: Path | None = None) -> SealKeys:
        """The current keys, making generation 1 at first start.

        `adopt_ed25519`, when that file exists, is taken as generation 1's Ed25519 key (a data
        directory from before SM2 seals keeps the key its auditors know).
        """
        with self._locked():
            if not self.records():
                legacy = read_secret(adopt_ed25519) if adopt_ed25519 is not None else None
                if legacy is not None:
                    write_secret(self._path(1, ED25519), legacy)
                self._add(1, [])
        return self.current()

    def rotate(self) -> SealKeys:
        """A new generation for the seals from now on; the old keys stay listed, with the end
        of their validity."""
        with self._locked():
            records = self.records()
            if not records:
                raise FileNotFoundError(f"{self.listing}: no archive keys to rotate")
            generation = max(r.generation or 0 for r in records) + 1
            self._add(generation, records)
        return self.current()

    def _add(self, generation: int, records: list[KeyRecord]) -> None:
        keys = self._load(generation)  # made here, before the list names them
        now = _now()
        ended = [KeyRecord(**{**asdict(r), "valid_until": r.valid_until or now}) for r in records]
        for algorithm, key in ((ED25519, keys.ed25519), (SM2, keys.sm2)):
            ended.append(
                KeyRecord(
                    algorithm=algorithm,
                    fingerprint=key.fingerprint(),
                    public_key=key.public_pem().decode("ascii"),
                    generation=generation,
                    valid_from=now,
                )
            )
        text = json.dumps(
            {"format": _LIST_FORMAT, "keys": [asdict(r) for r in ended]},
            ensure_ascii=False,
            indent=2,
        )
        tmp = self.listing.with_name(f".{self.listing.name}.tmp")
        tmp.write_text(text + "\n", encoding="utf-8")
        os.replace(tmp, self.listing)

    def _path(self, generation: int, algorithm: str) -> Path:
        return self.folder / f"{generation:04d}-{algorithm}.pem"

    def _load(self, generation: int) -> SealKeys:
        return SealKeys(
            generation,
            Ed25519Key.load_or_create(self._path(generation, ED25519)),
            Sm2Key.load_or_create(self._path(generation, SM2)),
        )

    def _locked(self) -> _Lock:
        make_private_dir(self.folder)
        return _Lock(self.folder / ".lock")


class _Lock:
    """An exclusive lock on a file, between processes (first start, rotation)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def __enter__(self) -> None:
        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
