"""The access log: chained, shared by two writers without forking, tamper shows."""

from __future__ import annotations

import json
from pathlib import Path

from recorder.accesslog import AccessLog, check_access_log


def test_records_chain_across_writers_and_a_changed_line_breaks_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "access-log.jsonl"
    server, cli = AccessLog(path), AccessLog(path)
    server.record("archive_opened", "archivist-1", session="s1")
    cli.record("archive_exported", "cli", session="s1", out="s1.tar")
    last = server.record("archive_file", "archivist-1", session="s1", path="part-0001/x.webm")
    assert last["seq"] == 3
    assert check_access_log(path) == (3, [])

    # A crash in the middle of a line: the torn tail is cut off before the next record.
    with path.open("ab") as f:
        f.write(b'{"seq": 4, "at": "2026')
    server.record("archive_opened", "auditor-1", session="s2")
    count, problems = check_access_log(path)
    assert (count, problems) == (4, [])

    lines = path.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[1])
    record["actor"] = "somebody else"
    lines[1] = json.dumps(record, ensure_ascii=False)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, problems = check_access_log(path)
    assert problems, "a changed line must break the chain"


def test_the_log_is_created_private_and_an_old_readable_one_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "data" / "access-log.jsonl"
    AccessLog(path).record("archive_opened", "archivist-1", session="s1")
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o644)
    AccessLog(path).record("archive_opened", "archivist-1", session="s1")
    assert path.stat().st_mode & 0o777 == 0o600
    assert check_access_log(path) == (2, [])
