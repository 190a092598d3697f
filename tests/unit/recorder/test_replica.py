"""The replica of a session archive: whole sealed parts only, verifiable on its own, never
overwriting what is there, and the primary only read."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import threading
from pathlib import Path

import pytest

from recorder.archive import ArchivedEvent, SessionArchive
from recorder.config import RecorderConfig
from recorder.documents import DOCUMENTS_DIR, store_document
from recorder.keys import Keyring
from recorder.pacing import Pace, Stopped
from recorder.replica import (
    TEMP_PREFIX,
    ReplicaUnavailable,
    copy_session,
    finished_parts,
    host_tag,
    missing_parts,
)
from recorder.seal import SEAL_TSR
from recorder.verify import verify_archive

PDF = b"%PDF-1.4 the evaluation report"


async def record(
    root: Path, keyring: Keyring, seq: int, state: str, project: str | None = None
) -> SessionArchive:
    """One part of session s1 with one event (and a segment's worth of bytes), sealed."""
    archive = SessionArchive(root, "s1", keys=keyring, config=RecorderConfig(), project=project)
    await archive.open()
    event = ArchivedEvent(seq, "2026-12-07T09:00:00+08:00", "note", None, {"text": "评标"})
    await archive.record_events([event])
    await archive.seal(state)
    await archive.close()
    return archive


def tree(folder: Path) -> dict[str, tuple[str, int, int]]:
    """Every file and folder under `folder`: its digest (files), mode and modification time."""
    found: dict[str, tuple[str, int, int]] = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        found[path.relative_to(folder).as_posix()] = (digest, info.st_mode, info.st_mtime_ns)
    return found


@pytest.fixture
def replica(tmp_path: Path) -> Path:
    """The replica location: a folder that exists (the server never creates it)."""
    folder = tmp_path / "mnt" / "replica"
    folder.mkdir(parents=True)
    return folder


async def test_an_ended_session_is_copied_whole_and_verifies_on_its_own(
    tmp_path: Path, keyring: Keyring, replica: Path
) -> None:
    root = tmp_path / "archive"
    await record(root, keyring, 1, "interrupted")
    store_document(root / "s1", PDF, "pdf")
    await record(root, keyring, 2, "ended")
    before = tree(root)

    report = copy_session(root / "s1", replica)
    assert report.ok and report.parts == ["part-0001", "part-0002"]
    assert {"part-0001/", "part-0002/", f"{DOCUMENTS_DIR}/", "README.txt"} <= {
        a if not a.startswith(DOCUMENTS_DIR) else f"{DOCUMENTS_DIR}/" for a in report.added
    }
    assert tree(root) == before, "the primary must not change"
    copy = replica / "s1"
    check = verify_archive(copy, trusted_keys=[keyring.listing.read_bytes()])
    assert check.ok, check.differences
    assert check.parts == 2 and check.key_trusted
    # Read-only as in the primary: the parts, and the documents once the session has ended.
    for rel, (_digest, mode, _mtime) in tree(copy).items():
        assert mode & 0o222 == 0, rel
    assert not any(p.name.startswith(TEMP_PREFIX) for p in copy.rglob("*"))

    again = copy_session(root / "s1", replica)
    assert again.ok and again.added == [] and again.bytes == 0


async def test_a_part_still_being_recorded_is_not_copied(
    tmp_path: Path, keyring: Keyring, replica: Path
) -> None:
    root = tmp_path / "archive"
    await record(root, keyring, 1, "interrupted")
    archive = SessionArchive(root, "s1", keys=keyring, config=RecorderConfig())
    await archive.open()
    try:
        assert [p.name for _n, p in finished_parts(root / "s1")] == ["part-0001"]
        report = copy_session(root / "s1", replica)
        assert report.ok and report.parts == ["part-0001"]
        assert not (replica / "s1" / "part-0002").exists()
        assert verify_archive(replica / "s1").ok
    finally:
        await archive.seal("ended")
        await archive.close()
    assert missing_parts(root / "s1", replica) == ["part-0002"]
    assert copy_session(root / "s1", replica).ok
    assert missing_parts(root / "s1", replica) == []
    assert verify_archive(replica / "s1").ok


async def test_the_readme_follows_the_replicas_last_seal(
    tmp_path: Path, keyring: Keyring, replica: Path
) -> None:
    """Each seal rewrites README.txt (here with the project's name, which part 1 lacked)."""
    root = tmp_path / "archive"
    await record(root, keyring, 1, "interrupted")
    assert copy_session(root / "s1", replica).ok
    old = (replica / "s1" / "README.txt").read_bytes()
    await record(root, keyring, 2, "ended", project="某道路工程")
    assert (root / "s1" / "README.txt").read_bytes() != old
    report = copy_session(root / "s1", replica)
    assert report.ok and "README.txt" in report.added
    assert verify_archive(replica / "s1").ok


async def test_what_differs_in_the_replica_is_reported_and_left_as_it_is(
    tmp_path: Path, keyring: Keyring, replica: Path
) -> None:
    root = tmp_path / "archive"
    await record(root, keyring, 1, "ended")
    copy_session(root / "s1", replica)
    part = replica / "s1" / "part-0001"
    os.chmod(part, 0o755)
    events = part / "events.jsonl"
    os.chmod(events, 0o644)
    events.write_bytes(events.read_bytes() + b"\n")
    tampered = events.read_bytes()
    (part / "extra.txt").write_bytes(b"not sealed")
    (part / "seal.ed25519.sig").unlink()
    before = tree(root)

    report = copy_session(root / "s1", replica)
    assert not report.ok
    found = {(c.where, c.what) for c in report.conflicts}
    assert found == {
        ("part-0001/events.jsonl", "its size differs from the primary's"),
        ("part-0001/extra.txt", "in the replica, not in the primary"),
        ("part-0001/seal.ed25519.sig", "missing from the replica's copy of the part"),
    }
    assert events.read_bytes() == tampered and not (part / "seal.ed25519.sig").exists()
    assert tree(root) == before
    assert not verify_archive(replica / "s1").ok


async def test_a_time_stamp_added_to_the_primary_later_is_added_to_the_copy(
    tmp_path: Path, keyring: Keyring, replica: Path
) -> None:
    root = tmp_path / "archive"
    await record(root, keyring, 1, "ended")
    copy_session(root / "s1", replica)
    # As `archive timestamp` does: the sealed folder opened for the one file, closed again.
    part = root / "s1" / "part-0001"
    os.chmod(part, 0o755)
    (part / SEAL_TSR).write_bytes(b"token")
    os.chmod(part / SEAL_TSR, 0o444)
    os.chmod(part, 0o555)
    report = copy_session(root / "s1", replica)
    assert report.ok and report.added == [f"part-0001/{SEAL_TSR}"]
    copied = replica / "s1" / "part-0001"
    assert (copied / SEAL_TSR).read_bytes() == b"token"
    assert copied.stat().st_mode & 0o777 == 0o555


async def test_a_replica_that_is_not_there_is_refused_and_nothing_is_made(
    tmp_path: Path, keyring: Keyring
) -> None:
    root = tmp_path / "archive"
    await record(root, keyring, 1, "ended")
    unmounted = tmp_path / "mnt" / "replica"
    with pytest.raises(ReplicaUnavailable, match="not mounted"):
        copy_session(root / "s1", unmounted)
    assert not unmounted.exists()
    a_file = tmp_path / "replica-file"
    a_file.write_bytes(b"")
    with pytest.raises(ReplicaUnavailable, match="not a folder"):
        copy_session(root / "s1", a_file)


async def test_a_stopped_copy_leaves_no_part_behind_and_the_next_one_completes(
    tmp_path: Path, keyring: Keyring, replica: Path
) -> None:
    root = tmp_path / "archive"
    await record(root, keyring, 1, "ended")
    stop = threading.Event()
    stop.set()
    with pytest.raises(Stopped):
        copy_session(root / "s1", replica, Pace(0, stop=stop))
    assert [p.name for p in (replica / "s1").iterdir()] == []
    assert copy_session(root / "s1", replica).ok
    assert verify_archive(replica / "s1").ok


async def test_what_a_dead_copier_left_is_removed_and_a_live_ones_is_not(
    tmp_path: Path, keyring: Keyring, replica: Path
) -> None:
    root = tmp_path / "archive"
    await record(root, keyring, 1, "ended")
    session = replica / "s1"
    session.mkdir()
    # A process that has ended: its pid names nobody now.
    gone = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await gone.wait()
    dead = session / f"{TEMP_PREFIX}{host_tag()}-{gone.pid}-part-0001"
    (dead / "media").mkdir(parents=True)
    os.chmod(dead, 0o555)
    live = session / f"{TEMP_PREFIX}{host_tag()}-1-part-0001"  # pid 1 is always running
    live.mkdir()
    report = copy_session(root / "s1", replica)
    assert report.ok
    assert not dead.exists() and live.exists()
