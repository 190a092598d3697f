"""``archive list``: one retention date per session, counted from its end."""

from __future__ import annotations

from pathlib import Path

from signaling.cli.archive import archive_summary
from tests.archivekeys import make_keyring
from tests.unit.recorder.test_session_end import record_part


async def test_the_list_shows_the_sessions_retention_once_it_has_ended(tmp_path: Path) -> None:
    key = make_keyring(tmp_path)
    root = tmp_path / "archive"
    await record_part(root, key, 1, "interrupted")
    assert archive_summary(root / "s1")["retention_until"] is None
    await record_part(root, key, 2, "ended")
    row = archive_summary(root / "s1")
    assert row["state"] == "ended" and row["retention_until"] is not None
