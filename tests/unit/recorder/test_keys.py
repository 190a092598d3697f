"""Generations of signing keys: made at first start, rotated, kept and listed with validity."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from recorder.archive import ArchivedEvent, SessionArchive
from recorder.config import RecorderConfig
from recorder.keys import ED25519, SM2, Ed25519Key, Keyring, key_records
from recorder.seal import seal_part
from recorder.verify import verify_archive
from tests.archivekeys import make_keyring
from tests.unit.recorder.test_seal import make_part


def test_the_first_generation_is_made_once_and_listed_with_its_validity(tmp_path: Path) -> None:
    keyring = make_keyring(tmp_path)
    keys = keyring.current()
    assert keys.generation == 1
    assert sorted(p.name for p in keyring.folder.glob("*.pem")) == [
        "0001-ed25519.pem",
        "0001-sm2.pem",
    ]
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in keyring.folder.glob("*.pem"))
    records = keyring.records()
    assert [(r.generation, r.algorithm, r.valid_until) for r in records] == [
        (1, ED25519, None),
        (1, SM2, None),
    ]
    assert {r.fingerprint for r in records} == {keys.ed25519.fingerprint(), keys.sm2.fingerprint()}
    assert records[0].valid_from is not None
    # The list is public (auditors get it); no private key is in it.
    listing = keyring.listing.read_text()
    assert "PRIVATE" not in listing and listing.count("BEGIN PUBLIC KEY") == 2
    assert keyring.ensure().fingerprints() == keys.fingerprints()


def test_a_data_directory_keeps_its_earlier_ed25519_key_as_generation_1(tmp_path: Path) -> None:
    legacy = tmp_path / "data" / "secrets" / "archive-ed25519.pem"
    old = Ed25519Key.load_or_create(legacy)
    keyring = Keyring(tmp_path / "data" / "secrets" / "archive-keys", tmp_path / "k.json")
    assert keyring.ensure(adopt_ed25519=legacy).ed25519.fingerprint() == old.fingerprint()


async def seal_one(root: Path, keyring: Keyring, seq: int, state: str) -> dict:
    archive = SessionArchive(root, "s1", keys=keyring, config=RecorderConfig())
    await archive.open()
    await archive.record_events([ArchivedEvent(seq, "2026-12-07T09:00:00+08:00", "note", None, {})])
    seal = await archive.seal(state)
    await archive.close()
    return seal


async def test_a_rotation_signs_the_next_parts_with_new_keys_and_keeps_the_old_ones_listed(
    tmp_path: Path,
) -> None:
    keyring = make_keyring(tmp_path / "data")
    # A second process on the same data directory (a media worker) sees the rotation too.
    worker = Keyring(keyring.folder, keyring.listing)
    root = tmp_path / "archive"
    first = await seal_one(root, worker, 1, "interrupted")
    rotated = keyring.rotate()
    second = await seal_one(root, worker, 2, "ended")
    assert (first["keys"]["generation"], second["keys"]["generation"]) == (1, 2)
    assert second["keys"]["sm2"] == rotated.sm2.fingerprint() != first["keys"]["sm2"]

    records = keyring.records()
    assert [(r.generation, r.algorithm) for r in records] == [
        (1, ED25519),
        (1, SM2),
        (2, ED25519),
        (2, SM2),
    ]
    assert records[0].valid_until == records[2].valid_from is not None
    assert records[2].valid_until is None

    listing = keyring.listing.read_bytes()
    report = verify_archive(root / "s1", trusted_keys=[listing])
    assert report.differences == [] and report.key_trusted is True
    assert [(s.part, s.algorithm, s.generation, s.trusted, s.valid) for s in report.signers] == [
        ("part-0001", ED25519, 1, True, True),
        ("part-0001", SM2, 1, True, True),
        ("part-0002", ED25519, 2, True, True),
        ("part-0002", SM2, 2, True, True),
    ]
    assert "generation 2" in report.signers[3].describe()
    # The list an evidence package carries explains the rotation without being trusted.
    known = verify_archive(root / "s1", known_keys=[listing])
    assert known.differences == [] and known.key_trusted is None
    # With no list at all, a change of keys between parts cannot be told from a forgery.
    alone = verify_archive(root / "s1")
    assert {(d.where, d.what.split(" (")[0]) for d in alone.differences} == {
        ("part-0002/seal.ed25519.sig", "signed by a different Ed25519 key than part-0001"),
        ("part-0002/seal.sm2.sig", "signed by a different SM2 key than part-0001"),
    }


def test_a_seal_made_with_a_retired_key_is_reported(tmp_path: Path) -> None:
    keyring = make_keyring(tmp_path / "data")
    retired = keyring.current()
    keyring.rotate()
    part, manifest = make_part(tmp_path / "s1")
    later = datetime.now(UTC) + timedelta(minutes=5)
    seal_part(part, manifest, retired, None, now=later)  # after the rotation, with generation 1
    report = verify_archive(tmp_path / "s1", trusted_keys=[keyring.listing.read_bytes()])
    whats = {(d.where, d.what.split(" (")[0]) for d in report.differences}
    assert whats == {
        (
            "part-0001/seal.ed25519.sig",
            "signed with the Ed25519 key of generation 1 when it was not valid for new seals",
        ),
        (
            "part-0001/seal.sm2.sig",
            "signed with the SM2 key of generation 1 when it was not valid for new seals",
        ),
    }
    assert all(s.valid is False and s.trusted is True for s in report.signers)


def test_key_records_read_a_list_or_a_pem_of_either_kind(tmp_path: Path) -> None:
    keyring = make_keyring(tmp_path)
    keys = keyring.current()
    assert [r.algorithm for r in key_records(keyring.listing.read_bytes())] == [ED25519, SM2]
    assert key_records(keys.sm2.public_pem())[0].fingerprint == keys.sm2.fingerprint()
    assert key_records(keys.ed25519.public_pem())[0].algorithm == ED25519
    forged = json.loads(keyring.listing.read_bytes())
    forged["keys"][1]["public_key"] = forged["keys"][0]["public_key"]
    for bad in (b"nothing", b"{}", json.dumps(forged).encode()):
        with pytest.raises(ValueError):
            key_records(bad)
