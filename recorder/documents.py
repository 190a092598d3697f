"""Documents of a session's archive: the evaluation report and the experts' handwritten signatures.

A document is written once into the session's ``documents/`` folder under the name of its SHA-256
(so a stored document is never replaced by another) and cited by the event that uses it, with
its SHA-256 and SM3: the hash-chained, sealed event log binds the document, as it binds evidence
pictures. ``archive verify`` checks every cited document against its citation.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from recorder.eventlog import fsync_dir
from recorder.hashing import file_digests, sha256_hex, sm3_hex

DOCUMENTS_DIR = "documents"
SUFFIXES = {"pdf": "application/pdf", "png": "image/png"}
# A project's documents (7.2.5-1): tender documents, bids, standards, notices, contracts…
PROJECT_SUFFIXES = {
    **SUFFIXES,
    "jpg": "image/jpeg",
    "ofd": "application/ofd",
    "zip": "application/zip",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# A bid opening's documents (7.2.3): sealed bids, the keys that opened them, the bids' files,
# representatives' face pictures, objections' attachments and the record sheet.
OPENING_SUFFIXES = {
    **PROJECT_SUFFIXES,
    "sealed": "application/octet-stream",
    "key": "application/octet-stream",
    "bin": "application/octet-stream",
}
DOCUMENT_PATH = re.compile(rf"{DOCUMENTS_DIR}/[0-9a-f]{{64}}\.({'|'.join(OPENING_SUFFIXES)})")


def store_document(
    session_dir: Path, data: bytes, suffix: str, suffixes: Mapping[str, str] = SUFFIXES
) -> dict[str, Any]:
    """Write `data` (durably) as a document of the session (or of a project's record, with
    `suffixes` its types); its citation for the event.

    Storing the same bytes again is a no-op; a file of that name with other bytes (damage)
    is an error, never overwritten.
    """
    if suffix not in suffixes:
        raise ValueError(f"unknown document type {suffix!r}")
    sha256 = sha256_hex(data)
    folder = session_dir / DOCUMENTS_DIR
    if documents_sealed(session_dir):
        # Checked here, not left to the mode: the server may run as root, which writes anyway.
        raise PermissionError(f"{folder}: the session has ended and its documents are sealed")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{sha256}.{suffix}"
    if path.exists():
        if sha256_hex(path.read_bytes()) != sha256:
            raise OSError(f"{path} exists with other contents")
    else:
        tmp = folder / f".{sha256}.{suffix}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(folder)
    return {
        "path": f"{DOCUMENTS_DIR}/{path.name}",
        "size": len(data),
        "sha256": sha256,
        "sm3": sm3_hex(data),
    }


def seal_documents(session_dir: Path) -> None:
    """Make the session's documents read-only (files 0444, folder 0555): the session has ended.

    A temporary file that an interrupted write left behind is removed first: no event cites it.
    """
    folder = session_dir / DOCUMENTS_DIR
    if not folder.is_dir() or folder.is_symlink() or documents_sealed(session_dir):
        return
    for path in folder.iterdir():
        if path.name.startswith(".") and path.name.endswith(".tmp"):
            path.unlink()
        elif path.is_file() and not path.is_symlink():
            os.chmod(path, 0o444)
    os.chmod(folder, 0o555)
    fsync_dir(folder)


def document_entries(session_dir: Path) -> list[dict[str, Any]]:
    """Every file of the session's documents folder, by path, with its size, SHA-256 and SM3:
    what the session's final seal lists (read-only by then, see ``seal_documents``)."""
    folder = session_dir / DOCUMENTS_DIR
    if not folder.is_dir() or folder.is_symlink():
        return []
    entries = []
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.is_symlink():
            sha256, sm3 = file_digests(path)
            entries.append(
                {
                    "path": f"{DOCUMENTS_DIR}/{path.name}",
                    "size": path.stat().st_size,
                    "sha256": sha256,
                    "sm3": sm3,
                }
            )
    return entries


def documents_sealed(session_dir: Path) -> bool:
    """Whether the session's documents folder was made read-only by the end's seal."""
    try:
        mode = (session_dir / DOCUMENTS_DIR).stat().st_mode
    except FileNotFoundError:
        return False
    return not mode & stat.S_IWUSR


def citations(value: Any) -> Iterator[dict[str, Any]]:
    """Every document citation (a dict whose ``path`` is under ``documents/``) inside `value`."""
    if isinstance(value, dict):
        path = value.get("path")
        if isinstance(path, str) and path.startswith(f"{DOCUMENTS_DIR}/"):
            yield value
        for item in value.values():
            yield from citations(item)
    elif isinstance(value, list):
        for item in value:
            yield from citations(item)
