"""The server key, sealing a part, verifying it, and checking it with standard tools."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from recorder.eventlog import START, ChainHead, EventLogWriter
from recorder.hashing import file_digests, merkle_root, sha256_hex, sm3_hex
from recorder.manifest import Manifest, SegmentEntry, TrackEntry
from recorder.readme import CHAIN_SCRIPT, archive_readme
from recorder.seal import SealError, ServerKey, add_years, seal_head, seal_part
from recorder.verify import verify_archive
from roomserver.errors import UnsafePermissions


def test_the_key_is_created_once_with_mode_600_and_loaded_after(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "server-key.pem"
    key = ServerKey.load_or_create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    again = ServerKey.load_or_create(path)
    assert again.public_pem() == key.public_pem()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert key.fingerprint() == sha256_hex(raw)
    signature = again.sign(b"seal")
    assert len(signature) == 64
    key.public_key().verify(signature, b"seal")
    assert key.public_pem().startswith(b"-----BEGIN PUBLIC KEY-----")


def test_a_key_that_is_not_ed25519_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path / "k.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    with pytest.raises(ValueError, match="Ed25519"):
        ServerKey.load_or_create(path)


def test_a_key_or_a_key_folder_others_can_open_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "archive-ed25519.pem"
    key = ServerKey.load_or_create(path)
    assert path.parent.stat().st_mode & 0o777 == 0o700
    path.chmod(0o644)
    with pytest.raises(UnsafePermissions, match=f"chmod 600 {path}"):
        ServerKey.load_or_create(path)
    path.chmod(0o600)
    path.parent.chmod(0o755)
    with pytest.raises(UnsafePermissions, match=f"chmod 700 {path.parent}"):
        ServerKey.load_or_create(path)
    path.parent.chmod(0o700)
    assert ServerKey.load_or_create(path).public_pem() == key.public_pem()


def make_part(session_dir: Path, state: str = "ended") -> tuple[Path, Manifest]:
    """An unsealed part-0001 with two segments and three events, and its manifest."""
    part = session_dir / "part-0001"
    segments = []
    for index in (1, 2):
        rel = f"media/room-mix/{index:06d}.webm"
        (part / rel).parent.mkdir(parents=True, exist_ok=True)
        (part / rel).write_bytes(os.urandom(3000 + index))
        sha, sm3 = file_digests(part / rel)
        segments.append(
            SegmentEntry(
                path=rel,
                track="room-mix",
                index=index,
                kind="audio",
                codec="opus",
                size=3000 + index,
                sha256=sha,
                sm3=sm3,
                frames=500,
                media_duration_s=10.0,
                wall_start=10.0 * index,
                wall_end=10.0 * index + 10,
            )
        )
    with EventLogWriter(part / "events.jsonl", START) as log:
        for seq in (1, 2, 3):
            log.append(seq, "2024-04-17T09:00:00+08:00", "note", None, {"text": "开标"})
        count, last = log.count, log.head
    manifest = Manifest(
        session_id="s1",
        part=1,
        state=state,
        created_at="2024-04-17T09:00:00+08:00",
        tracks=(TrackEntry("room-mix", "audio", "opus", "混音"),),
        segments=tuple(segments),
        gaps=(),
        event_count=count,
        last_event_hash=last.sha256,
        last_event_sm3=last.sm3,
    )
    return part, manifest


@pytest.fixture
def key(tmp_path: Path) -> ServerKey:
    return ServerKey.load_or_create(tmp_path / "keys" / "server.pem")


def test_a_sealed_part_verifies_clean_and_is_read_only(tmp_path: Path, key: ServerKey) -> None:
    part, manifest = make_part(tmp_path / "s1")
    when = datetime(2024, 2, 29, 10, 0, tzinfo=UTC)
    seal = seal_part(part, manifest, key, None, retention_years=15, now=when)

    assert json.loads((part / "seal.json").read_bytes()) == seal
    # 29 February 2024, 18:00 in China: fifteen years later there is no 29 February.
    assert seal["session_ended_at"] == "2024-02-29T10:00:00+00:00"
    assert seal["retention_until"] == "2039-02-28"
    assert seal["previous_seal_sha256"] is None and seal["previous_seal_sm3"] is None
    assert seal["format"] == 2 and seal["documents"] == []
    assert seal["segments"] == 2 and seal["event_count"] == 3
    leaves = [bytes.fromhex(s.sha256) for s in manifest.segments]
    assert seal["merkle_root_sha256"] == merkle_root(
        [*leaves, bytes.fromhex(manifest.last_event_hash)], "sha256"
    )
    sm3_leaves = [bytes.fromhex(s.sm3) for s in manifest.segments]
    assert seal["merkle_root_sm3"] == merkle_root(
        [*sm3_leaves, bytes.fromhex(manifest.last_event_sm3)], "sm3"
    )
    manifest_bytes = (part / "manifest.json").read_bytes()
    assert seal["manifest_sm3"] == sm3_hex(manifest_bytes)
    seal_bytes = (part / "seal.json").read_bytes()
    assert seal_head(part) == ChainHead(sha256_hex(seal_bytes), sm3_hex(seal_bytes))
    key.public_key().verify((part / "seal.sig").read_bytes(), (part / "seal.json").read_bytes())
    # Sorted by path, in `sha256sum` text format; the seal files themselves are not listed.
    assert (part / "SHA256SUMS").read_text().splitlines() == [
        f"{sha256_hex((part / rel).read_bytes())}  {rel}"
        for rel in (
            "events.jsonl",
            "manifest.json",
            "media/room-mix/000001.webm",
            "media/room-mix/000002.webm",
            "server-key.pub.pem",
        )
    ]
    for root, dirs, files in os.walk(part):
        for name in files:
            assert Path(root, name).stat().st_mode & 0o777 == 0o444
        for name in dirs:
            assert Path(root, name).stat().st_mode & 0o777 == 0o555

    report = verify_archive(tmp_path / "s1", trusted_keys=[key.public_pem()])
    assert report.differences == []
    assert (report.parts, report.segments, report.events, report.key_trusted) == (1, 2, 3, True)
    with pytest.raises(SealError, match="already sealed"):
        seal_part(part, manifest, key, None)


def test_verify_names_a_cut_off_event_line_and_a_part_given_for_a_session(
    tmp_path: Path, key: ServerKey
) -> None:
    part, manifest = make_part(tmp_path / "s1")
    seal_part(part, manifest, key, None)
    report = verify_archive(part)
    assert [d.what for d in report.differences] == [
        "no part-* folders: not a session archive, or all deleted"
        " (this is a part; give its session folder)"
    ]
    os.chmod(part, 0o755)
    events = part / "events.jsonl"
    data = events.read_bytes()[:-20]
    events.unlink()
    events.write_bytes(data)
    report = verify_archive(tmp_path / "s1")
    whats = [d.what for d in report.differences if d.where == "part-0001/events.jsonl"]
    assert "the last line has no newline (cut off)" in whats
    assert "line 3: not valid JSON" in whats


def test_add_years_keeps_the_day() -> None:
    assert add_years(datetime(2024, 4, 17).date(), 15).isoformat() == "2039-04-17"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p, m: (p / "media/room-mix/000001.webm").write_bytes(b"short"), "bytes"),
        (lambda p, m: (p / "media/room-mix/000009.webm").write_bytes(b"x"), "not in the manif"),
        (lambda p, m: (p / "media/room-mix/000002.webm").unlink(), "not a file"),
        (lambda p, m: (p / "events.jsonl").write_bytes(b""), "0 events"),
    ],
)
def test_seal_refuses_a_part_that_differs_from_its_manifest(
    tmp_path: Path, key: ServerKey, change, message: str
) -> None:
    part, manifest = make_part(tmp_path / "s1")
    change(part, manifest)
    with pytest.raises(SealError, match=message):
        seal_part(part, manifest, key, None)


def test_seal_refuses_a_wrong_part_number_or_a_missing_previous_seal(
    tmp_path: Path, key: ServerKey
) -> None:
    part, manifest = make_part(tmp_path / "s1")
    with pytest.raises(SealError, match="previous seal"):
        seal_part(part, manifest, key, START)
    renamed = part.rename(tmp_path / "s1" / "part-0002")
    with pytest.raises(SealError, match="folder name"):
        seal_part(renamed, manifest, key, None)


def run(args: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False, **kwargs)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_the_readme_commands_check_a_sealed_part(tmp_path: Path, key: ServerKey) -> None:
    part, manifest = make_part(tmp_path / "s1")
    seal = seal_part(part, manifest, key, None)
    readme = archive_readme("s1", "某某项目施工招标")
    sig_command = (
        "openssl pkeyutl -verify -pubin -inkey server-key.pub.pem -rawin -in seal.json "
        "-sigfile seal.sig"
    )
    for text in (
        "cd part-0001 && sha256sum -c SHA256SUMS",
        sig_command,
        "openssl dgst -sm3 manifest.json",
        "roomserver archive verify",
    ):
        assert text in readme
    assert readme.index("核验步骤") < readme.index("Checks, in each part")

    if shutil.which("sha256sum"):
        result = run(["sh", "-c", "cd part-0001 && sha256sum -c SHA256SUMS"], cwd=part.parent)
        assert result.returncode == 0, result.stdout + result.stderr
    result = run(sig_command.split(), cwd=part)
    assert result.returncode == 0 and "Signature Verified Successfully" in result.stdout
    result = run(["openssl", "dgst", "-sm3", "manifest.json"], cwd=part)
    assert result.returncode == 0 and result.stdout.strip().endswith(seal["manifest_sm3"])
    fingerprint = run(
        [
            "sh",
            "-c",
            "openssl pkey -pubin -in server-key.pub.pem -outform DER | tail -c 32 | sha256sum",
        ],
        cwd=part,
    )
    if shutil.which("sha256sum"):
        assert fingerprint.stdout.split()[0] == key.fingerprint()

    chain = run([sys.executable, "-"], cwd=part, input=CHAIN_SCRIPT)
    assert chain.returncode == 0 and "BROKEN" not in chain.stdout
    assert chain.stdout.splitlines()[-1] == (
        f"last {manifest.last_event_hash} {manifest.last_event_sm3}"
    )


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_rejects_a_changed_seal(tmp_path: Path, key: ServerKey) -> None:
    part, manifest = make_part(tmp_path / "s1")
    seal_part(part, manifest, key, None)
    os.chmod(part, 0o755)
    data = (part / "seal.json").read_bytes().replace(b'"ended"', b'"interrupted"')
    (part / "seal.json").unlink()
    (part / "seal.json").write_bytes(data)
    result = run(
        "openssl pkeyutl -verify -pubin -inkey server-key.pub.pem -rawin -in seal.json "
        "-sigfile seal.sig".split(),
        cwd=part,
    )
    assert result.returncode != 0
