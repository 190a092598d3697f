"""The server key, sealing a part, verifying it, and checking it with standard tools."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from recorder.eventlog import START, ChainHead, EventLogWriter
from recorder.hashing import file_digests, merkle_root, sha256_hex, sm3_hex
from recorder.keys import Ed25519Key, SealKeys, Sm2Key, sm2_point, sm2_verify
from recorder.manifest import Manifest, SegmentEntry, TrackEntry
from recorder.readme import (
    CHAIN_SCRIPT,
    ED25519_FINGERPRINT,
    ED25519_VERIFY,
    MANIFEST_SM3,
    SEAL_SM3,
    SM2_FINGERPRINT,
    SM2_VERIFY,
    SM2_VERIFY_DGST,
    SUMS_CHECK,
    archive_readme,
)
from recorder.seal import SealError, add_years, seal_head, seal_part
from recorder.verify import verify_archive
from roomserver.errors import UnsafePermissions


def test_the_ed25519_key_is_created_once_with_mode_600_and_loaded_after(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "0001-ed25519.pem"
    key = Ed25519Key.load_or_create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    again = Ed25519Key.load_or_create(path)
    assert again.public_pem() == key.public_pem()
    public = key.private_key.public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert key.fingerprint() == sha256_hex(raw)
    signature = again.sign(b"seal")
    assert len(signature) == 64
    public.verify(signature, b"seal")
    assert key.public_pem().startswith(b"-----BEGIN PUBLIC KEY-----")


def test_the_sm2_key_is_made_by_openssl_once_with_mode_600(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "0001-sm2.pem"
    key = Sm2Key.load_or_create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert Sm2Key.load_or_create(path).public_pem() == key.public_pem()
    signature = key.sign(b"seal")
    assert sm2_verify(key.public_pem(), b"seal", signature)
    assert not sm2_verify(key.public_pem(), b"seat", signature)
    assert key.fingerprint() == sha256_hex(sm2_point(key.public_pem()))


def p256_pem() -> bytes:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.mark.parametrize(("kind", "name"), [(Ed25519Key, "Ed25519"), (Sm2Key, "SM2")])
def test_a_key_of_another_algorithm_is_refused(tmp_path: Path, kind, name: str) -> None:
    path = tmp_path / "secrets" / "k.pem"
    path.parent.mkdir(mode=0o700)
    path.write_bytes(p256_pem())
    path.chmod(0o600)
    with pytest.raises(ValueError, match=name):
        kind.load_or_create(path)


@pytest.mark.parametrize("kind", [Ed25519Key, Sm2Key])
def test_a_key_or_a_key_folder_others_can_open_is_refused(tmp_path: Path, kind) -> None:
    path = tmp_path / "secrets" / "archive-keys" / "0001.pem"
    key = kind.load_or_create(path)
    assert path.parent.stat().st_mode & 0o777 == 0o700
    path.chmod(0o644)
    with pytest.raises(UnsafePermissions, match=f"chmod 600 {path}"):
        kind.load_or_create(path)
    path.chmod(0o600)
    path.parent.chmod(0o755)
    with pytest.raises(UnsafePermissions, match=f"chmod 700 {path.parent}"):
        kind.load_or_create(path)
    path.parent.chmod(0o700)
    assert kind.load_or_create(path).public_pem() == key.public_pem()


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


def test_a_sealed_part_verifies_clean_and_is_read_only(tmp_path: Path, keys: SealKeys) -> None:
    part, manifest = make_part(tmp_path / "s1")
    when = datetime(2024, 2, 29, 10, 0, tzinfo=UTC)
    seal = seal_part(part, manifest, keys, None, retention_years=15, now=when)

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
    keys.ed25519.private_key.public_key().verify(
        (part / "seal.ed25519.sig").read_bytes(), seal_bytes
    )
    assert sm2_verify(keys.sm2.public_pem(), seal_bytes, (part / "seal.sm2.sig").read_bytes())
    assert seal["keys"] == {
        "generation": 1,
        "ed25519": keys.ed25519.fingerprint(),
        "sm2": keys.sm2.fingerprint(),
    }
    # Sorted by path, in `sha256sum` text format; the seal files themselves are not listed.
    assert (part / "SHA256SUMS").read_text().splitlines() == [
        f"{sha256_hex((part / rel).read_bytes())}  {rel}"
        for rel in (
            "ed25519.pub.pem",
            "events.jsonl",
            "manifest.json",
            "media/room-mix/000001.webm",
            "media/room-mix/000002.webm",
            "sm2.pub.pem",
        )
    ]
    for root, dirs, files in os.walk(part):
        for name in files:
            assert Path(root, name).stat().st_mode & 0o777 == 0o444
        for name in dirs:
            assert Path(root, name).stat().st_mode & 0o777 == 0o555

    pems = [keys.ed25519.public_pem(), keys.sm2.public_pem()]
    report = verify_archive(tmp_path / "s1", trusted_keys=pems)
    assert report.differences == []
    assert (report.parts, report.segments, report.events, report.key_trusted) == (1, 2, 3, True)
    with pytest.raises(SealError, match="already sealed"):
        seal_part(part, manifest, keys, None)


def test_verify_names_a_cut_off_event_line_and_a_part_given_for_a_session(
    tmp_path: Path, keys: SealKeys
) -> None:
    part, manifest = make_part(tmp_path / "s1")
    seal_part(part, manifest, keys, None)
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
    tmp_path: Path, keys: SealKeys, change, message: str
) -> None:
    part, manifest = make_part(tmp_path / "s1")
    change(part, manifest)
    with pytest.raises(SealError, match=message):
        seal_part(part, manifest, keys, None)


def test_seal_refuses_a_wrong_part_number_or_a_missing_previous_seal(
    tmp_path: Path, keys: SealKeys
) -> None:
    part, manifest = make_part(tmp_path / "s1")
    with pytest.raises(SealError, match="previous seal"):
        seal_part(part, manifest, keys, START)
    renamed = part.rename(tmp_path / "s1" / "part-0002")
    with pytest.raises(SealError, match="folder name"):
        seal_part(renamed, manifest, keys, None)


def run(args: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False, **kwargs)


def sh(command: str, cwd: Path) -> subprocess.CompletedProcess:
    """A README command, exactly as the README gives it, in a shell."""
    return run(["sh", "-c", command], cwd=cwd)


def test_the_readme_commands_check_a_sealed_part(tmp_path: Path, keys: SealKeys) -> None:
    part, manifest = make_part(tmp_path / "s1")
    seal = seal_part(part, manifest, keys, None)
    readme = archive_readme("s1", "某某项目施工招标")
    commands = (
        SUMS_CHECK,
        ED25519_VERIFY,
        SM2_VERIFY,
        SM2_VERIFY_DGST,
        ED25519_FINGERPRINT,
        SM2_FINGERPRINT,
        MANIFEST_SM3,
        SEAL_SM3,
    )
    for text in (*commands, "roomserver archive verify", "distid:1234567812345678"):
        assert readme.count(text) >= 2, text  # in the Chinese and in the English part
    assert readme.index("核验步骤") < readme.index("Checks, in each part")

    result = sh(SUMS_CHECK, part.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    for command, answer in (
        (ED25519_VERIFY, "Signature Verified Successfully"),
        (SM2_VERIFY, "Signature Verified Successfully"),
        (SM2_VERIFY_DGST, "Verified OK"),
    ):
        result = sh(command, part)
        assert result.returncode == 0 and answer in result.stdout, (command, result)
    assert sh(ED25519_FINGERPRINT, part).stdout.split()[0] == keys.ed25519.fingerprint()
    assert sh(SM2_FINGERPRINT, part).stdout.split()[0] == keys.sm2.fingerprint()
    assert sh(MANIFEST_SM3, part).stdout.strip().endswith(seal["manifest_sm3"])
    assert sh(SEAL_SM3, part).stdout.strip().endswith(seal_head(part).sm3)

    chain = run([sys.executable, "-"], cwd=part, input=CHAIN_SCRIPT)
    assert chain.returncode == 0 and "BROKEN" not in chain.stdout
    assert chain.stdout.splitlines()[-1] == (
        f"last {manifest.last_event_hash} {manifest.last_event_sm3}"
    )


def test_openssl_rejects_a_changed_seal_with_either_signature(
    tmp_path: Path, keys: SealKeys
) -> None:
    part, manifest = make_part(tmp_path / "s1")
    seal_part(part, manifest, keys, None)
    os.chmod(part, 0o755)
    data = (part / "seal.json").read_bytes().replace(b'"ended"', b'"interrupted"')
    (part / "seal.json").unlink()
    (part / "seal.json").write_bytes(data)
    for command in (ED25519_VERIFY, SM2_VERIFY, SM2_VERIFY_DGST):
        assert sh(command, part).returncode != 0, command


# GB/T 32918.5: the recommended curve of SM2.
SM2_P = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_FFFFFFFF_00000000_FFFFFFFF_FFFFFFFF
SM2_A = SM2_P - 3
SM2_B = 0x28E9FA9E_9D9F5E34_4D5A9E4B_CF6509A7_F39789F5_15AB8F92_DDBCBD41_4D940E93
SM2_N = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_7203DF6B_21C6052B_53BBF409_39D54123
SM2_G = (
    0x32C4AE2C_1F198119_5F990446_6A39C994_8FE30BBF_F2660BE1_715A4589_334C74C7,
    0xBC3736A2_F4F6779C_59BDCEE3_6B692153_D0A9877C_C62A4740_02DF32E5_2139F0A0,
)

Point = tuple[int, int] | None


def add(p: Point, q: Point) -> Point:
    """Affine addition on the SM2 curve (None is the point at infinity)."""
    if p is None:
        return q
    if q is None:
        return p
    if p[0] == q[0] and (p[1] + q[1]) % SM2_P == 0:
        return None
    if p == q:
        slope = (3 * p[0] * p[0] + SM2_A) * pow(2 * p[1], -1, SM2_P)
    else:
        slope = (q[1] - p[1]) * pow(q[0] - p[0], -1, SM2_P)
    x = (slope * slope - p[0] - q[0]) % SM2_P
    return x, (slope * (p[0] - x) - p[1]) % SM2_P


def times(k: int, p: Point) -> Point:
    result: Point = None
    while k:
        if k & 1:
            result = add(result, p)
        p = add(p, p)
        k >>= 1
    return result


def sm2_check(public_point: bytes, message: bytes, der: bytes, user_id: bytes) -> bool:
    """GB/T 32918.2's verification, written out: Z_A with `user_id`, e = SM3(Z_A || M)."""
    assert der[0] == 0x30 and der[2] == 0x02  # SEQUENCE { INTEGER r, INTEGER s }
    r_len = der[3]
    r = int.from_bytes(der[4 : 4 + r_len], "big")
    assert der[4 + r_len] == 0x02
    s = int.from_bytes(der[6 + r_len : 6 + r_len + der[5 + r_len]], "big")
    xa, ya = int.from_bytes(public_point[1:33], "big"), int.from_bytes(public_point[33:], "big")
    assert (ya * ya - xa**3 - SM2_A * xa - SM2_B) % SM2_P == 0  # the key is on the curve
    entl = (len(user_id) * 8).to_bytes(2, "big")
    fields = (SM2_A, SM2_B, *SM2_G, xa, ya)
    z = bytes.fromhex(sm3_hex(entl + user_id + b"".join(v.to_bytes(32, "big") for v in fields)))
    e = int(sm3_hex(z + message), 16)
    t = (r + s) % SM2_N
    point = add(times(s, SM2_G), times(t, (xa, ya)))
    return t != 0 and point is not None and (e + point[0]) % SM2_N == r


def test_the_sm2_seal_follows_gb_t_32918_with_the_default_identifier(
    tmp_path: Path, keys: SealKeys
) -> None:
    """Checked without OpenSSL: the signature is SM2 over SM3(Z_A || seal.json), and Z_A is
    computed with the identifier 1234567812345678, as a Chinese verifier expects by default."""
    g = SM2_G
    assert (g[1] ** 2 - g[0] ** 3 - SM2_A * g[0] - SM2_B) % SM2_P == 0
    assert times(SM2_N, g) is None  # the curve's constants are right: n·G = O
    part, manifest = make_part(tmp_path / "s1")
    seal_part(part, manifest, keys, None)
    message = (part / "seal.json").read_bytes()
    signature = (part / "seal.sm2.sig").read_bytes()
    point = sm2_point((part / "sm2.pub.pem").read_bytes())
    assert sm2_check(point, message, signature, b"1234567812345678")
    assert not sm2_check(point, message, signature, b"")  # OpenSSL's own default is not used
    assert not sm2_check(point, message + b" ", signature, b"1234567812345678")
