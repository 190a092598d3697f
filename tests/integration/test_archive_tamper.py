"""A sealed two-part archive, and a tamper campaign: every change must be found and named."""

from __future__ import annotations

import json
import os
import random
import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from recorder.eventlog import START, ChainHead, EventLogWriter, chain_record, head_of
from recorder.hashing import file_digests
from recorder.keys import Keyring, SealKeys
from recorder.manifest import Manifest, SegmentEntry, TrackEntry, append_journal
from recorder.seal import (
    CHINA_TIME,
    add_years,
    part_name,
    seal_head,
    seal_json_bytes,
    seal_part,
)
from recorder.verify import VerifyReport, verify_archive
from roomserver.canonical import canonical_json
from tests.archivekeys import make_keyring

SESSION = "s-2024-0417-001"
Keys = tuple[SealKeys, SealKeys]
SEAL_FILES = (
    "manifest.json",
    "SHA256SUMS",
    "seal.json",
    "seal.ed25519.sig",
    "seal.sm2.sig",
    "ed25519.pub.pem",
    "sm2.pub.pem",
)
EVIDENCE = "evidence/seat_empty-v1-3.jpg"
TRACKS = (
    TrackEntry("room-grid", "video", "VP8", "会场画面"),
    TrackEntry("v1-3-microphone", "audio", "opus", "专家 3 麦克风"),
)


def build_part(
    session_dir: Path,
    number: int,
    key: SealKeys,
    first_seq: int,
    rng: random.Random,
    state: str,
) -> int:
    """Write and seal one part as the recorder would; returns the next seq."""
    part_dir = session_dir / part_name(number)
    previous = seal_head(session_dir / part_name(number - 1)) if number > 1 else None
    segments = []
    for track in TRACKS:
        for index in range(1, 4):
            rel = f"media/{track.id}/{index:06d}.webm"
            path = part_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            # Random bytes stand in for WebM: the seal is about bytes, not codecs.
            path.write_bytes(rng.randbytes(rng.randint(2_000, 9_000)))
            sha, sm3 = file_digests(path)
            start = 1_713_330_000.0 + number * 1000 + index * 10
            entry = SegmentEntry(
                path=rel,
                track=track.id,
                index=index,
                kind=track.kind,
                codec=track.codec,
                size=path.stat().st_size,
                sha256=sha,
                sm3=sm3,
                frames=300,
                media_duration_s=10.0,
                wall_start=start,
                wall_end=start + 10.0,
            )
            append_journal(part_dir / "segments.jsonl", entry)
            segments.append(entry)
    picture = part_dir / EVIDENCE
    picture.parent.mkdir()
    picture.write_bytes(b"\xff\xd8\xff" + rng.randbytes(3_000))
    sha, sm3 = file_digests(picture)
    evidence = {"path": EVIDENCE, "part": number, "sha256": sha, "sm3": sm3}
    seq = first_seq
    with EventLogWriter(part_dir / "events.jsonl", previous or START) as log:
        for kind, data in (
            ("recording_started", {"part": number}),
            ("expert_signed_in", {"seat": 3, "name": "张三"}),
            ("vote_cast", {"round": 1, "choice": "同意"}),
            ("note", {"text": "监督意见：无异议"}),
            ("warning_started", {"kind": "seat_empty", "seat": "v1:3", "evidence": evidence}),
            ("recording_stopped", {"state": state}),
        ):
            log.append(seq, f"2024-04-17T09:{seq:02d}:00+08:00", kind, "host-1", data)
            seq += 1
        count, last = log.count, log.head
    manifest = Manifest(
        session_id=SESSION,
        part=number,
        state=state,
        created_at="2024-04-17T09:00:00+08:00",
        tracks=TRACKS,
        segments=tuple(segments),
        gaps=(),
        event_count=count,
        last_event_hash=last.sha256,
        last_event_sm3=last.sm3,
    )
    seal_part(part_dir, manifest, key, previous, retention_years=15)
    return seq


@pytest.fixture(scope="module")
def keyrings(tmp_path_factory: pytest.TempPathFactory) -> tuple[Keyring, Keyring]:
    """The server's keyring and an impostor's."""
    base = tmp_path_factory.mktemp("keys")
    return make_keyring(base / "server"), make_keyring(base / "impostor")


@pytest.fixture(scope="module")
def keys(keyrings: tuple[Keyring, Keyring]) -> Keys:
    """The server's keys and an impostor's."""
    return keyrings[0].current(), keyrings[1].current()


@pytest.fixture(scope="module")
def trusted(keyrings: tuple[Keyring, Keyring]) -> list[bytes]:
    """The operator's list of public keys, as an auditor pins it."""
    return [keyrings[0].listing.read_bytes()]


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> Path:
    """A read-only, sealed, two-part session archive (a restart between the parts)."""
    session_dir = tmp_path_factory.mktemp("archive") / SESSION
    rng = random.Random(20240417)
    seq = build_part(session_dir, 1, keys[0], 1, rng, "interrupted")
    build_part(session_dir, 2, keys[0], seq, rng, "ended")
    return session_dir


def writable_copy(sealed: Path, tmp_path: Path) -> Path:
    """A fresh copy of the archive whose files can be changed."""
    copy = tmp_path / SESSION
    shutil.copytree(sealed, copy)
    for root, dirs, files in os.walk(copy):
        for name in [*dirs, *files]:
            os.chmod(Path(root, name), 0o755 if name in dirs else 0o644)
    return copy


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def write_lines(path: Path, content: list[bytes]) -> None:
    path.write_bytes(b"".join(content))


def resign(part_dir: Path, key: SealKeys, change: Callable[[dict], None]) -> None:
    """Replace seal.json by a changed one, signed (with its public key) by `key`."""
    seal = json.loads((part_dir / "seal.json").read_bytes())
    change(seal)
    seal["keys"] = key.fingerprints()
    data = seal_json_bytes(seal)
    (part_dir / "seal.json").write_bytes(data)
    (part_dir / "seal.ed25519.sig").write_bytes(key.ed25519.sign(data))
    (part_dir / "seal.sm2.sig").write_bytes(key.sm2.sign(data))
    (part_dir / "ed25519.pub.pem").write_bytes(key.ed25519.public_pem())
    (part_dir / "sm2.pub.pem").write_bytes(key.sm2.public_pem())


def reseal(
    part_dir: Path, key: SealKeys, previous: ChainHead | None, last_event: ChainHead | None
) -> None:
    """Seal a part again from its own manifest, as a forger with the sealing code could."""
    manifest = Manifest.from_json((part_dir / "manifest.json").read_bytes())
    if last_event is not None:
        manifest = replace(
            manifest, last_event_hash=last_event.sha256, last_event_sm3=last_event.sm3
        )
    for name in SEAL_FILES:
        (part_dir / name).unlink()
    seal_part(part_dir, manifest, key, previous)


def found(report: VerifyReport, where: str, what: str = "") -> bool:
    return any(d.where == where and what in d.what for d in report.differences)


SEG = "part-0001/media/room-grid/000002.webm"
EV1 = "part-0001/events.jsonl"


def flip_byte(a: Path, keys: Keys) -> None:
    path = a / SEG
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def truncate_segment(a: Path, keys: Keys) -> None:
    path = a / SEG
    path.write_bytes(path.read_bytes()[:-100])


def delete_segment(a: Path, keys: Keys) -> None:
    (a / SEG).unlink()


def add_media_file(a: Path, keys: Keys) -> None:
    (a / "part-0001/media/room-grid/000009.webm").write_bytes(b"\x1a\x45\xdf\xa3 forged")


def edit_event_data(a: Path, keys: Keys) -> None:
    content = lines(a / EV1)
    content[2] = content[2].replace("同意".encode(), "反对".encode())
    write_lines(a / EV1, content)


def delete_event_line(a: Path, keys: Keys) -> None:
    content = lines(a / EV1)
    del content[1]
    write_lines(a / EV1, content)


def insert_forged_event(a: Path, keys: Keys) -> None:
    content = lines(a / EV1)
    before = json.loads(content[1])
    forged = chain_record(
        before["seq"], before["at"], "note", "host-1", {"text": "补记：专家同意"}, head_of(before)
    )
    content.insert(2, canonical_json(forged) + b"\n")
    write_lines(a / EV1, content)


def insert_and_rechain(a: Path, keys: Keys) -> None:
    """The careful forger: insert, renumber and recompute every hash after it."""
    records = [json.loads(line) for line in lines(a / EV1)]
    records.insert(2, {**records[1], "kind": "note", "data": {"text": "补记"}})
    prev = START
    rechained = []
    for seq, r in enumerate(records, start=1):
        rechained.append(chain_record(seq, r["at"], r["kind"], r["actor"], r["data"], prev))
        prev = head_of(rechained[-1])
    write_lines(a / EV1, [canonical_json(r) + b"\n" for r in rechained])


def swap_event_lines(a: Path, keys: Keys) -> None:
    content = lines(a / EV1)
    content[1], content[2] = content[2], content[1]
    write_lines(a / EV1, content)


def delete_last_event(a: Path, keys: Keys) -> None:
    path = a / "part-0002/events.jsonl"
    write_lines(path, lines(path)[:-1])


def edit_manifest(a: Path, keys: Keys) -> None:
    path = a / "part-0001/manifest.json"
    path.write_bytes(path.read_bytes().replace("会场画面".encode(), b"other"))


def edit_sha256sums(a: Path, keys: Keys) -> None:
    path = a / "part-0001/SHA256SUMS"
    content = lines(path)
    content[0] = b"0" * 64 + content[0][64:]
    write_lines(path, content)


def resign_with_other_key(a: Path, keys: Keys) -> None:
    """Hide a forged manifest behind a seal signed with the impostor's key."""
    part = a / "part-0002"
    edit = part / "manifest.json"
    edit.write_bytes(edit.read_bytes().replace(b'"ended"', b'"interrupted"'))
    manifest = Manifest.from_json(edit.read_bytes())
    sha, sm3 = file_digests(edit)
    sums = part / "SHA256SUMS"
    text = sums.read_text().splitlines()
    sums.write_text(
        "".join(
            (f"{sha}  manifest.json" if line.endswith("  manifest.json") else line) + "\n"
            for line in text
        )
    )
    sums_sha = file_digests(sums)[0]

    def change(seal: dict) -> None:
        seal.update(
            manifest_sha256=sha, manifest_sm3=sm3, state=manifest.state, sha256sums_sha256=sums_sha
        )

    resign(part, keys[1], change)


def garbage_signature(a: Path, keys: Keys) -> None:
    (a / "part-0002/seal.ed25519.sig").write_bytes(os.urandom(64))


def remove_part2_seal(a: Path, keys: Keys) -> None:
    (a / "part-0002/seal.json").unlink()
    (a / "part-0002/seal.ed25519.sig").unlink()
    (a / "part-0002/seal.sm2.sig").unlink()


def edit_part1_seal(a: Path, keys: Keys) -> None:
    path = a / "part-0001/seal.json"
    path.write_bytes(path.read_bytes().replace(b'"interrupted"', b'"ended"'))


def remove_part1(a: Path, keys: Keys) -> None:
    shutil.rmtree(a / "part-0001")


def add_file_beside_seal(a: Path, keys: Keys) -> None:
    (a / "part-0002/notes.txt").write_text("later addition")


def swap_evidence_then_reseal(a: Path, keys: Keys) -> None:
    # A picture swapped before the part was sealed: SHA256SUMS and the seal agree with it,
    # only the event that cited the picture when it was taken does not.
    (a / "part-0001" / EVIDENCE).write_bytes(b"\xff\xd8\xff another picture")
    reseal(a / "part-0001", keys[0], None, None)


def delete_evidence(a: Path, keys: Keys) -> None:
    (a / "part-0002" / EVIDENCE).unlink()


CASES = [
    (flip_byte, SEG, "SHA-256"),
    (truncate_segment, SEG, "size"),
    (delete_segment, SEG, "deleted"),
    (add_media_file, "part-0001/media/room-grid/000009.webm", "added file"),
    (edit_event_data, EV1, "line 3 (seq 3): hash (SHA-256) does not match"),
    (delete_event_line, EV1, "line 2 (seq 3): prev"),
    (insert_forged_event, EV1, "line 4 (seq 3): prev"),
    (insert_and_rechain, EV1, "has 7 events, the seal says 6"),
    (swap_event_lines, EV1, "line 2 (seq 3): prev"),
    (delete_last_event, "part-0002/events.jsonl", "has 5 events"),
    (edit_manifest, "part-0001/manifest.json", "SHA-256 differs"),
    (edit_sha256sums, "part-0001/SHA256SUMS", "sha256sums_sha256"),
    (resign_with_other_key, "part-0002/seal.ed25519.sig", "unknown Ed25519 key"),
    (resign_with_other_key, "part-0002/seal.sm2.sig", "unknown SM2 key"),
    (garbage_signature, "part-0002/seal.ed25519.sig", "does not verify"),
    (remove_part2_seal, "part-0002/seal.json", "deleted"),
    (edit_part1_seal, "part-0001/seal.ed25519.sig", "does not verify"),
    (edit_part1_seal, "part-0001/seal.sm2.sig", "does not verify"),
    (remove_part1, "part-0001", "part is missing"),
    (add_file_beside_seal, "part-0002/notes.txt", "added file"),
    (swap_evidence_then_reseal, f"part-0001/{EVIDENCE}", "digests cited by event line 5"),
    (delete_evidence, f"part-0002/{EVIDENCE}", "cited as evidence by event line 5"),
]


def test_the_untouched_archive_verifies_clean(
    sealed: Path, keys: Keys, trusted: list[bytes], tmp_path: Path
) -> None:
    seen: list[tuple[int, int]] = []
    report = verify_archive(sealed, trusted_keys=trusted, progress=lambda d, t: seen.append((d, t)))
    assert report.differences == []
    assert (report.parts, report.segments, report.events) == (2, 12, 12)
    assert report.key_trusted is True
    assert report.key_fingerprints == [keys[0].ed25519.fingerprint(), keys[0].sm2.fingerprint()]
    assert seen[-1] == (report.bytes, report.bytes) and report.bytes > 12 * 2000
    # Read-only bits are not part of the evidence: a writable copy is just as good.
    assert verify_archive(writable_copy(sealed, tmp_path)).differences == []


def test_the_parts_chain_and_the_files_are_read_only(sealed: Path) -> None:
    seal2 = json.loads((sealed / "part-0002/seal.json").read_bytes())
    first = json.loads(lines(sealed / "part-0002/events.jsonl")[0])
    head = seal_head(sealed / "part-0001")
    assert (seal2["previous_seal_sha256"], seal2["previous_seal_sm3"]) == (head.sha256, head.sm3)
    assert (first["prev"], first["prev_sm3"]) == (head.sha256, head.sm3)
    assert (sealed / "part-0001/media/room-grid/000001.webm").stat().st_mode & 0o777 == 0o444
    assert (sealed / "part-0001").stat().st_mode & 0o777 == 0o555
    ended = datetime.fromisoformat(seal2["session_ended_at"]).astimezone(CHINA_TIME).date()
    assert seal2["retention_until"] == add_years(ended, 15).isoformat()


@pytest.mark.parametrize(("tamper", "where", "what"), CASES, ids=[c[0].__name__ for c in CASES])
def test_tampering_is_found_and_named(
    sealed: Path,
    keys: Keys,
    trusted: list[bytes],
    tmp_path: Path,
    tamper: Callable[[Path, Keys], None],
    where: str,
    what: str,
) -> None:
    archive = writable_copy(sealed, tmp_path)
    tamper(archive, keys)
    report = verify_archive(archive, trusted_keys=trusted)
    assert found(report, where, what), report.differences


def test_a_part_resigned_with_another_key_is_found_even_without_a_trusted_key(
    sealed: Path, keys: Keys, tmp_path: Path
) -> None:
    archive = writable_copy(sealed, tmp_path)
    resign_with_other_key(archive, keys)
    report = verify_archive(archive)
    assert report.key_trusted is None
    assert found(report, "part-0002/seal.ed25519.sig", "different Ed25519 key than part-0001")
    assert found(report, "part-0002/seal.sm2.sig", "different SM2 key than part-0001")


def test_an_archive_resigned_entirely_is_only_found_with_the_trusted_key(
    sealed: Path, keys: Keys, trusted: list[bytes], tmp_path: Path
) -> None:
    archive = writable_copy(sealed, tmp_path)
    part1, part2 = archive / "part-0001", archive / "part-0002"
    reseal(part1, keys[1], None, None)
    new_prev = seal_head(part1)
    # The forger must then re-chain part 2 as well: its events, then its seal.
    events = part2 / "events.jsonl"
    records = [json.loads(line) for line in lines(events)]
    prev = new_prev
    rechained = []
    for r in records:
        rechained.append(chain_record(r["seq"], r["at"], r["kind"], r["actor"], r["data"], prev))
        prev = head_of(rechained[-1])
    write_lines(events, [canonical_json(r) + b"\n" for r in rechained])
    reseal(part2, keys[1], new_prev, prev)

    # Self-consistent: only the trusted key shows that this is not the server's archive.
    assert verify_archive(archive).differences == []
    report = verify_archive(archive, trusted_keys=trusted)
    assert report.key_trusted is False
    for part in ("part-0001", "part-0002"):
        assert found(report, f"{part}/seal.ed25519.sig", "unknown Ed25519 key")
        assert found(report, f"{part}/seal.sm2.sig", "unknown SM2 key")
