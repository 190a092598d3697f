"""What a sub venue's node recorded of a session, handed over into the session's archive
(``relayed/<node>/<session>/``): verified with the session, altered or foreign archives found,
and copied to the replica with the rest."""

from __future__ import annotations

import shutil
from pathlib import Path

from recorder.archive import ArchivedEvent, SessionArchive
from recorder.config import RecorderConfig
from recorder.keys import Keyring
from recorder.replica import copy_session
from recorder.seal import RELAYED_DIR
from recorder.verify import verify_archive


async def record(root: Path, keyring: Keyring, session_id: str, text: str) -> Path:
    """One ended part of `session_id` with one event; its session folder."""
    archive = SessionArchive(root, session_id, keys=keyring, config=RecorderConfig())
    await archive.open()
    event = ArchivedEvent(1, "2026-12-07T09:00:00+08:00", "note", None, {"text": text})
    await archive.record_events([event])
    await archive.seal("ended")
    await archive.close()
    return archive.session_dir


async def session_with_relayed(tmp_path: Path, keyring: Keyring, relayed_of: str = "s1") -> Path:
    main = await record(tmp_path / "archive", keyring, "s1", "主场")
    local = await record(tmp_path / "node-r", keyring, relayed_of, "副场本地录像")
    shutil.copytree(local, main / RELAYED_DIR / "r" / relayed_of)
    return main


def keys_of(tmp_path: Path) -> list[bytes]:
    """The key list of the keyring (``tests.archivekeys.make_keyring`` of tmp_path/data)."""
    return [(tmp_path / "data" / "archive-keys.json").read_bytes()]


async def test_a_relayed_archive_verifies_with_its_session(
    tmp_path: Path, keyring: Keyring
) -> None:
    main = await session_with_relayed(tmp_path, keyring)
    report = verify_archive(main, known_keys=keys_of(tmp_path))
    assert report.ok, report.differences
    assert report.events == 2
    assert any(n.startswith("relayed/r/s1: recorded by sub venue node r") for n in report.notes)


async def test_an_altered_relayed_archive_is_a_difference(tmp_path: Path, keyring: Keyring) -> None:
    main = await session_with_relayed(tmp_path, keyring)
    events = main / RELAYED_DIR / "r" / "s1" / "part-0001" / "events.jsonl"
    events.write_bytes(events.read_bytes().replace("副场".encode(), "主场".encode()))
    report = verify_archive(main, known_keys=keys_of(tmp_path))
    assert any(d.where.startswith("relayed/r/s1/part-0001/") for d in report.differences), (
        report.differences
    )


async def test_another_sessions_archive_or_a_stray_file_is_a_difference(
    tmp_path: Path, keyring: Keyring
) -> None:
    main = await session_with_relayed(tmp_path, keyring, relayed_of="s2")
    (main / RELAYED_DIR / "q").write_text("不是录像")
    report = verify_archive(main, known_keys=keys_of(tmp_path))
    where = {d.where: d.what for d in report.differences}
    assert where == {
        "relayed/q": "added file: not a relayed archive",
        "relayed/r/s2": "not an archive of this session",
    }, where


async def test_the_replica_holds_the_relayed_archive_too(tmp_path: Path, keyring: Keyring) -> None:
    main = await session_with_relayed(tmp_path, keyring)
    replica = tmp_path / "replica"
    replica.mkdir()
    copied = copy_session(main, replica)
    assert copied.ok and "relayed/r/s1/part-0001" in copied.parts, copied
    report = verify_archive(replica / "s1", known_keys=keys_of(tmp_path))
    assert report.ok and report.events == 2, report.differences
    # A second copy finds everything there.
    again = copy_session(main, replica)
    assert again.ok and again.bytes == 0, again
