"""The end of a session: its documents become read-only."""

from __future__ import annotations

from pathlib import Path

import pytest

from recorder.archive import ArchivedEvent, SessionArchive
from recorder.config import RecorderConfig
from recorder.documents import DOCUMENTS_DIR, store_document
from recorder.seal import ServerKey
from recorder.verify import verify_archive

PDF = b"%PDF-1.4 report"
PNG = b"\x89PNG signature"


@pytest.fixture
def key(tmp_path: Path) -> ServerKey:
    return ServerKey.load_or_create(tmp_path / "keys" / "server.pem")


async def record_part(root: Path, key: ServerKey, seq: int, state: str) -> SessionArchive:
    """One part of session s1 with one event, sealed as `state`."""
    archive = SessionArchive(root, "s1", key=key, config=RecorderConfig())
    await archive.open()
    event = ArchivedEvent(seq, "2026-12-07T09:00:00+08:00", "note", None, {"text": "开标"})
    await archive.record_events([event])
    await archive.seal(state)
    await archive.close()
    return archive


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


async def test_documents_stay_writable_through_a_restart_and_are_read_only_after_the_end(
    tmp_path: Path, key: ServerKey
) -> None:
    root = tmp_path / "archive"
    session = root / "s1"
    await record_part(root, key, 1, "interrupted")
    report = store_document(session, PDF, "pdf")
    folder = session / DOCUMENTS_DIR
    assert mode(folder) & 0o200 and mode(session / report["path"]) & 0o200

    await record_part(root, key, 2, "ended")
    assert mode(folder) == 0o555
    assert mode(session / report["path"]) == 0o444
    # Refused by the code, not only by the mode: a server running as root writes anyway.
    with pytest.raises(PermissionError, match="sealed"):
        store_document(session, PNG, "png")
    assert verify_archive(session).differences == []
