"""The archive's second copy (副本): every sealed part copied as it is to another location.

The replica of a session is a folder laid out as the session's archive folder (its sealed parts,
``documents/``, ``README.txt``), so that ``roomserver archive verify`` checks it on its own::

    <replica>/<session_id>/part-0001/ ...   a finished part, exactly as in the archive
                           documents/ ...   the documents, read-only once the session has ended
                           README.txt       the one the replica's last seal names

The rules of the copy:

- The primary archive is only read.
- The replica location is never created here: it is a folder inside the mounted file system
  (another machine's disk, a store at another site), so that an unmounted disk shows as a
  missing folder, not as an empty mount point that fills the local disk.
- A part is copied only once its seal is finished (the SM2 signature written and the folder
  made read-only, the last steps of sealing), into a temporary folder beside its place, every
  file and folder synced to the disk, then renamed: in the replica a part is whole or absent.
- What is in the replica is never overwritten or changed: a file whose size differs from the
  primary's, a seal.json with other bytes, a file the primary does not have, is a ``Conflict``,
  reported and left as it is, as is a file missing from a part copied before. What the primary
  gains later is added in the same safe way: the seal.tsr that ``archive timestamp`` adds to a
  sealed part, a document stored after a part was copied.
  The one file replaced is README.txt, which the archive itself rewrites at every seal: only by
  the README the replica's own last seal names, and only when the replica's README is not it.
- Modes follow the primary: parts read-only, documents read-only once the session has ended.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from recorder.archive import list_parts
from recorder.documents import DOCUMENTS_DIR, documents_sealed
from recorder.eventlog import fsync_dir
from recorder.seal import (
    README,
    RELAYED_DIR,
    SEAL_JSON,
    SEAL_SM2_SIG,
    SEAL_TSR,
    part_files,
    part_number,
)

CHUNK_BYTES = 1 << 20
# Temporary names in the replica: ``.copying-<host>-<pid>-<name>``. One left by a copier that
# died (its process gone) is removed by the next copy of that session.
TEMP_PREFIX = ".copying-"
# What a sealed part gains after its seal (``archive timestamp``): added to a copied part.
ADDED_LATER = frozenset({SEAL_TSR})

Progress = Callable[[int], None]


class ReplicaUnavailable(OSError):
    """The replica location is not there or cannot be written (unmounted, read-only, a file)."""


@dataclass(frozen=True)
class Conflict:
    """Something in the replica that differs from the primary, left as it is."""

    where: str  # e.g. part-0001/seal.json, relative to the session folder
    what: str


@dataclass
class CopyReport:
    """What one copy of a session did."""

    session_id: str
    parts: list[str] = field(default_factory=list)  # finished parts of the primary, all copied
    missing: list[str] = field(default_factory=list)  # finished parts not in the replica
    added: list[str] = field(default_factory=list)  # what this copy put there (folders, files)
    bytes: int = 0  # bytes written
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every finished part is in the replica and nothing there differs."""
        return not self.conflicts and not self.missing


def part_finished(part_dir: Path) -> bool:
    """Whether a part's seal is complete: its SM2 signature is written (the last file) and its
    folder made read-only (the very last step), so that nothing will be added by sealing."""
    try:
        mode = part_dir.stat().st_mode
    except OSError:
        return False
    return (part_dir / SEAL_SM2_SIG).is_file() and not mode & stat.S_IWUSR


def finished_parts(session_dir: Path) -> list[tuple[int, Path]]:
    """The parts of a session archive whose seal is complete, in order."""
    return [(n, p) for n, p in list_parts(session_dir) if part_finished(p)]


def check_location(replica_root: Path) -> None:
    """ReplicaUnavailable unless the replica location is a folder this process can write."""
    if not replica_root.is_dir():
        what = "is not a folder" if replica_root.exists() else "does not exist (not mounted?)"
        raise ReplicaUnavailable(f"the replica location {replica_root} {what}")
    if not os.access(replica_root, os.W_OK | os.X_OK):
        raise ReplicaUnavailable(f"the replica location {replica_root} cannot be written")


def missing_parts(session_dir: Path, replica_root: Path) -> list[str]:
    """The finished parts of a session that are not (yet) in the replica, by folder name."""
    target = replica_root / session_dir.name
    return [p.name for _n, p in finished_parts(session_dir) if not (target / p.name).is_dir()]


def copy_session(session_dir: Path, replica_root: Path, pace: Progress | None = None) -> CopyReport:
    """Bring the replica of one session up to the primary's finished parts (see the module).

    `pace` is told every chunk written (``recorder.pacing.Pace``); whatever it raises stops the
    copy, leaving only what was complete. ReplicaUnavailable or another OSError when the replica
    cannot be written (full, gone): what was not finished is removed again where possible.
    """
    check_location(replica_root)
    report = CopyReport(session_dir.name)
    copier = _Copier(pace, report)
    target = replica_root / session_dir.name
    if not target.is_dir():
        target.mkdir()
        fsync_dir(replica_root)
        report.added.append(session_dir.name + "/")
    _remove_stale(target)
    others = {
        c.name
        for c in target.iterdir()
        if c.name not in (README, DOCUMENTS_DIR) and not c.name.startswith(TEMP_PREFIX)
    }
    copier.documents(session_dir / DOCUMENTS_DIR, target / DOCUMENTS_DIR)
    for _number, part in finished_parts(session_dir):
        report.parts.append(part.name)
        others.discard(part.name)
        copier.part(part, target / part.name)
    for _number, part in list_parts(session_dir):
        others.discard(part.name)  # a part being recorded now: its copy, if any, is not ours
    others.discard(RELAYED_DIR)
    for relayed in sorted((session_dir / RELAYED_DIR).glob("*/*")):
        # What a sub venue's node handed over: copied as a session archive of its own.
        (target / RELAYED_DIR / relayed.parent.name).mkdir(parents=True, exist_ok=True)
        copied = copy_session(relayed, target / RELAYED_DIR / relayed.parent.name)
        where = f"{RELAYED_DIR}/{relayed.parent.name}/{relayed.name}/"
        report.parts.extend(where + p for p in copied.parts)
        report.missing.extend(where + p for p in copied.missing)
        report.added.extend(where + a for a in copied.added)
        report.bytes += copied.bytes
        report.conflicts.extend(Conflict(where + c.where, c.what) for c in copied.conflicts)
    for name in sorted(others):
        report.conflicts.append(Conflict(name, "in the replica, not in the primary"))
    copier.readme(session_dir / README, target)
    report.missing = [p for p in report.parts if not (target / p).is_dir()]
    return report


class _Copier:
    """The file operations of one session's copy."""

    def __init__(self, pace: Progress | None, report: CopyReport) -> None:
        self.pace = pace
        self.report = report
        self.tag = f"{TEMP_PREFIX}{host_tag()}-{os.getpid()}-"

    def part(self, source: Path, target: Path) -> None:
        """A whole new part, or what is missing from one already there."""
        if not target.exists():
            temp = target.with_name(self.tag + target.name)
            try:
                self._tree(source, temp)
                os.rename(temp, target)
                fsync_dir(target.parent)
                self.report.added.append(f"{target.name}/")
                return
            except OSError:
                if not target.is_dir():
                    raise
                # Another copier (the command line beside the server) put it there first.
            finally:
                _remove_tree(temp)
        if not target.is_dir() or target.is_symlink():
            self.report.conflicts.append(Conflict(target.name, "in the replica, not a folder"))
            return
        self._complete(source, target)

    def _complete(self, source: Path, target: Path) -> None:
        """Add what a part in the replica lacks; report what differs."""
        name = target.name
        theirs = part_files(source)
        ours = part_files(target)
        for rel, full in sorted(theirs.items()):
            if full.is_symlink() or not full.is_file():
                self.report.conflicts.append(
                    Conflict(f"{name}/{rel}", "not a regular file in the primary: not copied")
                )
                continue
            copy = ours.get(rel)
            if copy is None and rel in ADDED_LATER:
                self._add(full, target / rel)
                self.report.added.append(f"{name}/{rel}")
            elif copy is None:
                self.report.conflicts.append(
                    Conflict(f"{name}/{rel}", "missing from the replica's copy of the part")
                )
            elif copy.is_symlink() or not copy.is_file():
                self.report.conflicts.append(Conflict(f"{name}/{rel}", "not a regular file"))
            elif copy.stat().st_size != full.stat().st_size:
                self.report.conflicts.append(
                    Conflict(f"{name}/{rel}", "its size differs from the primary's")
                )
            elif rel == SEAL_JSON and copy.read_bytes() != full.read_bytes():
                self.report.conflicts.append(
                    Conflict(f"{name}/{rel}", "differs from the primary's")
                )
        for rel in sorted(ours.keys() - theirs.keys()):
            if not Path(rel).name.startswith(TEMP_PREFIX):
                self.report.conflicts.append(
                    Conflict(f"{name}/{rel}", "in the replica, not in the primary")
                )

    def documents(self, source: Path, target: Path) -> None:
        """Each document the replica lacks; read-only once the primary's are."""
        if not source.is_dir() or source.is_symlink():
            return
        names = sorted(
            f.name for f in source.iterdir() if not f.name.startswith(".") and f.is_file()
        )
        if not names and not target.exists():
            return
        if not target.exists():
            target.mkdir()
            fsync_dir(target.parent)
        present = {f.name: f for f in target.iterdir() if not f.name.startswith(TEMP_PREFIX)}
        for name in names:
            rel = f"{DOCUMENTS_DIR}/{name}"
            copy = present.pop(name, None)
            if copy is None:
                self._add(source / name, target / name)
                self.report.added.append(rel)
            elif copy.is_symlink() or not copy.is_file():
                self.report.conflicts.append(Conflict(rel, "not a regular file"))
            elif copy.stat().st_size != (source / name).stat().st_size:
                self.report.conflicts.append(Conflict(rel, "its size differs from the primary's"))
        for name in sorted(present):
            self.report.conflicts.append(
                Conflict(f"{DOCUMENTS_DIR}/{name}", "in the replica, not in the primary")
            )
        if documents_sealed(source.parent) and not documents_sealed(target.parent):
            for name in names:
                with contextlib.suppress(FileNotFoundError):
                    os.chmod(target / name, 0o444)
            os.chmod(target, 0o555)
            fsync_dir(target)

    def readme(self, source: Path, target_dir: Path) -> None:
        """README.txt as the replica's last seal names it."""
        if not source.is_file() or source.is_symlink():
            return
        target = target_dir / README
        data = source.read_bytes()
        if not target.exists():
            self._add(source, target)
            self.report.added.append(README)
            return
        if not target.is_file() or target.is_symlink():
            self.report.conflicts.append(Conflict(README, "not a regular file"))
            return
        present = target.read_bytes()
        if present == data:
            return
        named = _last_readme_digest(target_dir)
        if named == _sha256(data) and named != _sha256(present):
            # The archive rewrites its README at every seal; the replica's, named by an earlier
            # seal only, gives way to the one its last seal names.
            temp = target.with_name(self.tag + README)
            try:
                self._write(source, temp)
                os.replace(temp, target)
                fsync_dir(target_dir)
            finally:
                temp.unlink(missing_ok=True)
            self.report.added.append(README)
        else:
            self.report.conflicts.append(Conflict(README, "differs from the primary's"))

    # -- files ----------------------------------------------------------------------------------

    def _tree(self, source: Path, temp: Path) -> None:
        """Copy a part folder into `temp`, synced, with the primary's modes (read-only last)."""
        temp.mkdir(mode=0o700)
        folders: list[tuple[Path, Path]] = [(source, temp)]
        for root, dirs, files in os.walk(source):
            dirs.sort()
            here = temp / Path(root).relative_to(source)
            for name in dirs:
                if Path(root, name).is_symlink():
                    continue
                (here / name).mkdir(mode=0o700)
                folders.append((Path(root, name), here / name))
            for name in sorted(files):
                full = Path(root, name)
                if full.is_symlink() or not full.is_file():
                    rel = full.relative_to(source).as_posix()
                    self.report.conflicts.append(
                        Conflict(
                            f"{source.name}/{rel}", "not a regular file in the primary: not copied"
                        )
                    )
                    continue
                self._write(full, here / name)
        for original, copy in reversed(folders):
            fsync_dir(copy)
            os.chmod(copy, stat.S_IMODE(original.stat().st_mode))

    def _add(self, source: Path, target: Path) -> None:
        """A file the replica lacks: written under a temporary name, then linked to its own
        name, which fails rather than replace a file that appeared there meanwhile."""
        folder = target.parent
        created = []
        for parent in reversed([folder, *folder.parents]):
            if not parent.exists():
                parent.mkdir()
                created.append(parent)
        mode = stat.S_IMODE(folder.stat().st_mode)
        if not mode & stat.S_IWUSR:
            os.chmod(folder, mode | stat.S_IWUSR)  # a sealed part's folder, for its seal.tsr
        temp = folder / (self.tag + target.name)
        try:
            self._write(source, temp)
            try:
                os.link(temp, target)
            except FileExistsError:
                self.report.conflicts.append(Conflict(target.name, "appeared while copying"))
            except OSError:
                # A file system without hard links: the rename checks first, then replaces.
                if target.exists():
                    raise
                os.rename(temp, target)
            fsync_dir(folder)
        finally:
            temp.unlink(missing_ok=True)
            if not mode & stat.S_IWUSR:
                os.chmod(folder, mode)
        for made in created:
            fsync_dir(made.parent)

    def _write(self, source: Path, target: Path) -> None:
        """Copy one file's bytes to a new file, synced, with the source's mode and times."""
        info = source.stat()
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out, source.open("rb", buffering=0) as src:
            buffer = bytearray(CHUNK_BYTES)
            while n := src.readinto(buffer):
                out.write(memoryview(buffer)[:n])
                self.report.bytes += n
                if self.pace is not None:
                    self.pace(n)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(target, stat.S_IMODE(info.st_mode))
        os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _last_readme_digest(session_dir: Path) -> str | None:
    """The README digest that the last finished part of a session folder's seal names."""
    parts = finished_parts(session_dir)
    if not parts:
        return None
    try:
        seal = json.loads((parts[-1][1] / SEAL_JSON).read_bytes())
    except (OSError, ValueError):
        return None
    named = seal.get("readme_sha256") if isinstance(seal, dict) else None
    return named if isinstance(named, str) else None


def host_tag() -> str:
    """This machine's name as it can stand in a file name."""
    return "".join(c if c.isalnum() else "_" for c in socket.gethostname())[:40] or "host"


def _remove_stale(session_copy: Path) -> None:
    """Remove what a copier that died left under a temporary name in a session's replica."""
    own = f"{TEMP_PREFIX}{host_tag()}-"
    for root, dirs, files in os.walk(session_copy):
        for name in [*dirs, *files]:
            if not name.startswith(TEMP_PREFIX):
                continue
            pid = name[len(own) :].split("-", 1)[0] if name.startswith(own) else ""
            if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
                continue  # another machine's, or a copier still at work
            folder = Path(root)
            mode = stat.S_IMODE(folder.stat().st_mode)
            os.chmod(folder, mode | stat.S_IWUSR)
            try:
                _remove_tree(folder / name)
            finally:
                os.chmod(folder, mode)
        dirs[:] = [d for d in dirs if not d.startswith(TEMP_PREFIX)]
        # Only parts' folders and documents/ hold what a copier adds.
        if Path(root) == session_copy:
            dirs[:] = [d for d in dirs if part_number(d) is not None or d == DOCUMENTS_DIR]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_tree(path: Path) -> None:
    """Remove a file or a folder (read-only ones too) if it is there."""
    if path.is_symlink() or path.is_file():
        path.unlink()
        return
    if not path.exists():
        return
    for root, dirs, _files in os.walk(path):
        os.chmod(root, 0o700)
        for name in dirs:
            with contextlib.suppress(OSError):
                os.chmod(Path(root, name), 0o700)
    shutil.rmtree(path)
