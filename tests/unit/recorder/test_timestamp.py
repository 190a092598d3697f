"""Trusted time-stamps of seals (RFC 3161), from a local TSA run by OpenSSL's ``openssl ts``."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from recorder.keys import SealKeys
from recorder.readme import TSA_SHOW, TSA_VERIFY, archive_readme
from recorder.seal import seal_part, stamp_part
from recorder.timestamp import TimestampError, Tsa, check_token, reduce_response
from recorder.verify import verify_archive
from tests.tsa import LocalTsa, closed_url
from tests.unit.recorder.test_seal import make_part


@pytest.fixture(scope="module", params=["ec", "rsa"])
def local_tsa(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalTsa]:
    """A TSA on loopback with an EC P-256, then an RSA, certificate."""
    with LocalTsa(tmp_path_factory.mktemp("tsa"), key_type=request.param) as tsa:
        yield tsa


def tsa_of(local: LocalTsa, timeout_s: float = 5.0) -> Tsa:
    return Tsa.from_files(local.url, local.certificate, timeout_s)


def sh(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", "-c", command], cwd=cwd, capture_output=True, text=True, check=False
    )


def test_a_seal_is_time_stamped_and_openssl_checks_the_token(
    tmp_path: Path, keys: SealKeys, local_tsa: LocalTsa
) -> None:
    session = tmp_path / "s1"
    part, manifest = make_part(session)
    answered = local_tsa.answered
    seal = seal_part(part, manifest, keys, None, tsa=tsa_of(local_tsa))
    assert local_tsa.answered == answered + 1
    assert seal["timestamp"] == {"tsa": local_tsa.url, "status": "requested"}
    assert (part / "seal.tsr").stat().st_mode & 0o777 == 0o444
    info = check_token(
        (part / "seal.tsr").read_bytes(),
        hashlib.sha256((part / "seal.json").read_bytes()).digest(),
        tsa_of(local_tsa).certificates,
    )
    assert info.trusted is True and info.tsa_subject == "CN=Test TSA"

    # The README's commands, as written; the TSA's certificate beside the parts, as a package
    # holds it.
    (session / "tsa-certificates.pem").write_bytes(local_tsa.certificate.read_bytes())
    readme = archive_readme("s1", None)
    assert readme.count(TSA_VERIFY) == 2 and readme.count(TSA_SHOW) == 2
    checked = sh(TSA_VERIFY, part)
    assert checked.returncode == 0 and "Verification: OK" in checked.stdout, checked
    shown = sh(TSA_SHOW, part)
    assert "Status: Granted." in shown.stdout and "TSA: DirName:/CN=Test TSA" in shown.stdout

    certificate = local_tsa.certificate.read_bytes()
    report = verify_archive(session, trusted_tsa=[certificate])
    assert report.differences == []
    assert [(t.part, t.tsa, t.trusted) for t in report.timestamps] == [
        ("part-0001", "CN=Test TSA", True)
    ]
    assert "by CN=Test TSA (the trusted TSA certificate)" in report.timestamps[0].describe()
    assert verify_archive(session).timestamps[0].trusted is None  # not pinned


def test_a_seal_without_a_tsa_says_so_and_gets_its_token_later(
    tmp_path: Path, keys: SealKeys, local_tsa: LocalTsa
) -> None:
    session = tmp_path / "s1"
    part, manifest = make_part(session)
    # Nothing listens at the URL: the seal is made at once, without a token, and says why.
    seal = seal_part(part, manifest, keys, None, tsa=Tsa(closed_url(), (), 5.0))
    assert seal["timestamp"]["status"] == "unavailable"
    assert "did not answer" in seal["timestamp"]["reason"]
    assert not (part / "seal.tsr").exists()
    report = verify_archive(session)
    assert report.differences == [] and report.timestamps == []
    assert any(
        n.startswith("part-0001: no trusted time-stamp (unavailable: the TSA at")
        for n in report.notes
    )

    sealed = (part / "seal.json").read_bytes()
    info = stamp_part(part, tsa_of(local_tsa))
    assert info is not None and info.trusted is True
    assert stamp_part(part, tsa_of(local_tsa)) is None  # it has one now
    assert (part / "seal.json").read_bytes() == sealed  # the seal still says what happened
    assert part.stat().st_mode & 0o777 == 0o555
    assert (part / "seal.tsr").stat().st_mode & 0o777 == 0o444
    report = verify_archive(session, trusted_tsa=[local_tsa.certificate.read_bytes()])
    assert report.differences == [] and len(report.timestamps) == 1


def test_none_configured_is_said_in_the_seal(tmp_path: Path, keys: SealKeys) -> None:
    part, manifest = make_part(tmp_path / "s1")
    seal = seal_part(part, manifest, keys, None)
    assert seal["timestamp"] == {"tsa": None, "status": "none configured"}
    assert (
        "part-0001: no trusted time-stamp (none configured)"
        in verify_archive(tmp_path / "s1").notes[0]
    )


def test_a_tsa_that_closes_the_connection_leaves_the_seal_without_a_token(
    tmp_path: Path, keys: SealKeys
) -> None:
    with LocalTsa(tmp_path / "tsa") as down:
        down.stop_answering()
        part, manifest = make_part(tmp_path / "s1")
        seal = seal_part(part, manifest, keys, None, tsa=tsa_of(down))
    assert seal["timestamp"]["status"] == "unavailable"
    assert (part / "seal.sm2.sig").exists() and not (part / "seal.tsr").exists()


def test_a_token_from_another_tsa_is_not_taken_or_trusted(
    tmp_path: Path, keys: SealKeys, local_tsa: LocalTsa
) -> None:
    with LocalTsa(tmp_path / "other", name="Other TSA") as other:
        # The URL of one TSA, the certificate of another: the seal goes without the token.
        part, manifest = make_part(tmp_path / "s1")
        wrong = Tsa(other.url, tsa_of(local_tsa).certificates, 5.0)
        seal = seal_part(part, manifest, keys, None, tsa=wrong)
        assert seal["timestamp"]["status"] == "unavailable"
        assert "not the configured one" in seal["timestamp"]["reason"]
        stamp_part(part, tsa_of(other))
    report = verify_archive(tmp_path / "s1", trusted_tsa=[local_tsa.certificate.read_bytes()])
    assert [(d.where, d.what) for d in report.differences] == [
        (
            "part-0001/seal.tsr",
            "not a valid time-stamp of seal.json: "
            "signed by a TSA certificate that is not the configured one",
        )
    ]


def writable(session: Path) -> None:
    for path in [session, *session.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def test_every_byte_of_a_token_is_covered(
    tmp_path: Path, keys: SealKeys, local_tsa: LocalTsa
) -> None:
    """A bit flipped anywhere in seal.tsr, signed by the TSA or not, is found."""
    token = tsa_of(local_tsa).stamp(b"seal.json")
    digest = hashlib.sha256(b"seal.json").digest()
    assert reduce_response(token) == token
    missed = []
    for offset in range(len(token)):
        for bit in (0x01, 0x80):
            damaged = bytearray(token)
            damaged[offset] ^= bit
            try:
                check_token(bytes(damaged), digest, None)
            except TimestampError:
                continue
            missed.append((offset, bit))
    assert missed == []


def test_a_token_removed_moved_or_damaged_is_named(
    tmp_path: Path, keys: SealKeys, local_tsa: LocalTsa
) -> None:
    session = tmp_path / "s1"
    part, manifest = make_part(session)
    seal_part(part, manifest, keys, None, tsa=tsa_of(local_tsa))
    writable(session)
    token = (part / "seal.tsr").read_bytes()
    (part / "seal.tsr").unlink()
    report = verify_archive(session)
    assert [(d.where, d.what) for d in report.differences] == [
        ("part-0001/seal.tsr", f"deleted: the seal asked {local_tsa.url} for a time-stamp")
    ]
    other = tsa_of(local_tsa).stamp(b"another seal")  # a valid token, of other bytes
    (part / "seal.tsr").write_bytes(other)
    assert [d.what for d in verify_archive(session).differences] == [
        "not a valid time-stamp of seal.json: the time-stamp is of other bytes than this seal.json"
    ]
    (part / "seal.tsr").write_bytes(token[:-1] + bytes([token[-1] ^ 1]))
    assert [d.where for d in verify_archive(session).differences] == ["part-0001/seal.tsr"]
    assert json.loads((part / "seal.json").read_bytes())["timestamp"]["status"] == "requested"
    os.chmod(part, 0o555)
