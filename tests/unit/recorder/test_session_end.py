"""The end of a session: its documents turn read-only; one retention date covers every part."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from recorder.archive import ArchivedEvent, SessionArchive, session_retention
from recorder.config import RecorderConfig
from recorder.documents import DOCUMENTS_DIR, store_document
from recorder.hashing import sha256_hex, sm3_hex
from recorder.keys import Keyring
from recorder.manifest import Manifest
from recorder.seal import CHINA_TIME, add_years, seal_head, seal_part
from recorder.verify import verify_archive
from tests.archivekeys import make_keyring
from tests.unit.recorder.test_seal import make_part

PDF = b"%PDF-1.4 report"
PNG = b"\x89PNG signature"


async def record_part(root: Path, keyring: Keyring, seq: int, state: str) -> SessionArchive:
    """One part of session s1 with one event, sealed as `state`."""
    archive = SessionArchive(root, "s1", keys=keyring, config=RecorderConfig())
    await archive.open()
    event = ArchivedEvent(seq, "2026-12-07T09:00:00+08:00", "note", None, {"text": "开标"})
    await archive.record_events([event])
    await archive.seal(state)
    await archive.close()
    return archive


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


async def test_documents_stay_writable_through_a_restart_and_are_read_only_after_the_end(
    tmp_path: Path, keyring: Keyring
) -> None:
    root = tmp_path / "archive"
    session = root / "s1"
    await record_part(root, keyring, 1, "interrupted")
    report = store_document(session, PDF, "pdf")
    folder = session / DOCUMENTS_DIR
    assert mode(folder) & 0o200 and mode(session / report["path"]) & 0o200

    await record_part(root, keyring, 2, "ended")
    assert mode(folder) == 0o555
    assert mode(session / report["path"]) == 0o444
    # Refused by the code, not only by the mode: a server running as root writes anyway.
    with pytest.raises(PermissionError, match="sealed"):
        store_document(session, PNG, "png")
    assert verify_archive(session).differences == []


def test_an_interrupted_part_names_no_retention_date_of_its_own(tmp_path: Path) -> None:
    key = make_keyring(tmp_path).current()
    part, manifest = make_part(tmp_path / "s1", state="interrupted")
    seal = seal_part(part, manifest, key, None, now=datetime(2024, 3, 1, tzinfo=UTC))
    assert seal["retention_until"] is None
    assert session_retention(tmp_path / "s1") is None


async def test_every_part_is_kept_until_15_years_after_the_sessions_end(
    tmp_path: Path, keyring: Keyring
) -> None:
    root = tmp_path / "archive"
    await record_part(root, keyring, 1, "interrupted")
    await record_part(root, keyring, 2, "interrupted")
    await record_part(root, keyring, 3, "ended")
    seals = [
        json.loads((root / "s1" / f"part-000{n}" / "seal.json").read_bytes()) for n in (1, 2, 3)
    ]
    assert [s["retention_until"] for s in seals[:2]] == [None, None]
    # No session_ended event in this part: the end is the final seal's own time.
    assert seals[2]["session_ended_at"] == seals[2]["sealed_at"]
    ended = datetime.fromisoformat(seals[2]["sealed_at"]).astimezone(CHINA_TIME).date()
    assert seals[2]["retention_until"] == add_years(ended, 15).isoformat()
    assert [s["session_ended_at"] for s in seals[:2]] == [None, None]
    assert session_retention(root / "s1") == seals[2]["retention_until"]


def test_the_date_counts_from_the_end_not_from_the_first_parts_seal(tmp_path: Path) -> None:
    key = make_keyring(tmp_path).current()
    session = tmp_path / "s1"
    part1, manifest1 = make_part(session, state="interrupted")
    seal_part(part1, manifest1, key, None, now=datetime(2024, 12, 31, 23, 0, tzinfo=UTC))
    # The session goes on after a restart across the new year and ends in part 2.
    part2 = session / "part-0002"
    part2.mkdir()
    (part2 / "events.jsonl").write_bytes(b"")
    manifest2 = Manifest(
        session_id="s1",
        part=2,
        state="ended",
        created_at="2025-01-02T09:00:00+08:00",
        tracks=(),
        segments=(),
        gaps=(),
        event_count=0,
        last_event_hash=seal_head(part1).sha256,
        last_event_sm3=seal_head(part1).sm3,
    )
    seal_part(part2, manifest2, key, seal_head(part1), now=datetime(2025, 1, 2, 10, 0, tzinfo=UTC))
    assert session_retention(session) == "2040-01-02"


async def test_retention_counts_from_the_day_the_evaluation_ended_in_china_time(
    tmp_path: Path, keyring: Keyring
) -> None:
    root = tmp_path / "archive"
    archive = SessionArchive(root, "s1", keys=keyring, config=RecorderConfig())
    await archive.open()
    # 20:30 UTC on 31 December is 04:30 on 1 January in China: the evaluation ended in 2027.
    await archive.record_events(
        [
            ArchivedEvent(1, "2026-12-31T20:30:00.250000+00:00", "session_ended", "host-1", {}),
            ArchivedEvent(2, "2026-12-31T20:30:01+00:00", "recording_sealed", None, {}),
        ]
    )
    seal = await archive.seal("ended")  # sealed now, long after: the date does not move
    await archive.close()
    assert seal["session_ended_at"] == "2026-12-31T20:30:00+00:00"
    assert seal["retention_until"] == "2042-01-01"
    assert session_retention(root / "s1") == "2042-01-01"
    report = verify_archive(root / "s1")
    assert report.differences == [] and report.retention_until == "2042-01-01"


def writable(session: Path) -> None:
    for path in [session, *session.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


async def test_the_final_seal_lists_the_documents_and_verify_holds_the_folder_to_it(
    tmp_path: Path, keyring: Keyring
) -> None:
    root = tmp_path / "archive"
    session = root / "s1"
    await record_part(root, keyring, 1, "interrupted")
    cited = store_document(session, PDF, "pdf")  # an event would cite it
    uncited = store_document(session, PNG, "png")  # stored for a command later refused
    await record_part(root, keyring, 2, "ended")
    seal = json.loads((session / "part-0002/seal.json").read_bytes())
    assert seal["documents"] == sorted(
        ({k: d[k] for k in ("path", "size", "sha256", "sm3")} for d in (cited, uncited)),
        key=lambda d: d["path"],
    )
    readme = (session / "README.txt").read_bytes()
    assert seal["readme_sha256"] == sha256_hex(readme) and seal["readme_sm3"] == sm3_hex(readme)
    assert verify_archive(session).differences == []

    writable(session)
    (session / uncited["path"]).write_bytes(PNG + b"!")
    (session / "documents" / f"{'0' * 64}.pdf").write_bytes(b"%PDF added later")
    (session / cited["path"]).unlink()
    (session / "README.txt").write_bytes(readme.replace(b"15", b"10"))
    (session / "notes.txt").write_text("not sealed")
    found = {(d.where, d.what) for d in verify_archive(session).differences}
    assert found == {
        (uncited["path"], "differs from the digests the final seal lists"),
        (f"documents/{'0' * 64}.pdf", "added file: not in the final seal's documents"),
        (cited["path"], "deleted: listed in the final seal's documents"),
        ("README.txt", "differs from the digests the last part's seal names"),
        ("notes.txt", "added file: not part of any seal"),
    }
    (session / "README.txt").unlink()
    assert ("README.txt", "deleted: the last part's seal names it") in {
        (d.where, d.what) for d in verify_archive(session).differences
    }
