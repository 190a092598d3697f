"""Checking what a session archive holds beside its parts, against the seals: the README that the
last seal names, the documents the final seal lists, and the retention it states.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from recorder.documents import DOCUMENTS_DIR
from recorder.seal import CHINA_TIME, MIN_RETENTION_YEARS, README, SESSION_ENDED, add_years

Diff = Callable[[str, str], None]


def check_retention(
    where: str, seal: dict[str, Any], items: list[tuple[int, Any]], diff: Diff
) -> str | None:
    """The final seal's retention date, at least fifteen years from the session's end, which is
    the time of the part's session_ended event; returns the date (None when unreadable)."""
    try:
        ended = datetime.fromisoformat(str(seal.get("session_ended_at")))
        until = date.fromisoformat(str(seal.get("retention_until")))
    except ValueError:
        diff(where, "the final seal does not say when the session ended and until when")
        return None
    if until < add_years(ended.astimezone(CHINA_TIME).date(), MIN_RETENTION_YEARS):
        diff(where, "retention_until is less than fifteen years after the session's end")
    for line, record in items:
        if record.get("kind") != SESSION_ENDED:
            continue
        try:
            at = datetime.fromisoformat(str(record.get("at")))
        except ValueError:
            continue
        if at.replace(microsecond=0) != ended.replace(microsecond=0):
            diff(where, f"session_ended_at is not the time of the end (event line {line})")
        break
    return until.isoformat()


def check_session_files(
    session_dir: Path,
    seal: dict[str, Any],
    digests: Callable[[Path, str], tuple[str, str]],
    diff: Diff,
) -> None:
    """README.txt as the last part's `seal` names it; documents/ as the final seal lists it.

    `digests` gives (SHA-256, SM3) of a file, by its path and its name in the archive.
    """
    readme = session_dir / README
    named = (seal.get("readme_sha256"), seal.get("readme_sm3"))
    if readme.is_symlink() or (readme.exists() and not readme.is_file()):
        diff(README, "not a regular file")
    elif readme.is_file():
        if named == (None, None):
            diff(README, "added file: no seal names it")
        elif digests(readme, README) != named:
            diff(README, "differs from the digests the last part's seal names")
    elif named != (None, None):
        diff(README, "deleted: the last part's seal names it")
    listed = seal.get("documents") if seal.get("state") == "ended" else None
    if not isinstance(listed, list):
        return  # not ended yet: documents are bound by the events that cite them
    expected: dict[str, Any] = {}
    for entry in listed:
        if isinstance(entry, dict) and isinstance(entry.get("path"), str):
            expected[entry["path"]] = entry
    folder = session_dir / DOCUMENTS_DIR
    present = {f"{DOCUMENTS_DIR}/{f.name}": f for f in folder.iterdir()} if folder.is_dir() else {}
    for rel, full in sorted(present.items()):
        entry = expected.get(rel)
        if entry is None:
            diff(rel, "added file: not in the final seal's documents")
        elif full.is_symlink() or not full.is_file():
            diff(rel, "not a regular file")
        elif digests(full, rel) != (entry.get("sha256"), entry.get("sm3")):
            diff(rel, "differs from the digests the final seal lists")
    for rel in sorted(expected.keys() - present.keys()):
        diff(rel, "deleted: listed in the final seal's documents")
