"""The evidence package of a session: its archive folder as one tar file, to hand over.

The package holds the folder exactly as sealed (parts with media, events, manifests, seals and
the public keys each part was signed with; the documents; README.txt, which says how to verify)
plus the installation's list of public signing keys with their validity (``archive-keys.json``:
every generation, Ed25519 and SM2) and the time-stamping authority's certificate
(``tsa-certificates.pem``), so ``archive verify PACKAGE.tar`` (or any tool following
the README) checks it on another machine. Nothing is re-encoded or rewritten: the
bytes in the package are the bytes that were sealed.
"""

from __future__ import annotations

import os
import tarfile
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

# The installation's public signing keys with their validity (recorder.keys.Keyring's list).
PACKAGE_KEYS = "archive-keys.json"
# The certificate of the time-stamping authority the centre configured (PEM), for
# ``openssl ts -verify -CAfile``.
PACKAGE_TSA = "tsa-certificates.pem"
# What a package holds beside the sealed folder (outside every seal, for whoever checks it).
PACKAGE_FILES = frozenset({PACKAGE_KEYS, PACKAGE_TSA})


def package_files(session_dir: Path) -> list[Path]:
    """Every regular file of the archive folder, in a stable order (links are left out)."""
    return sorted(
        p
        for p in session_dir.rglob("*")
        if p.is_file() and not p.is_symlink() and not p.name.endswith(".tmp")
    )


def export_archive(
    session_dir: Path,
    out: Path,
    *,
    extras: Mapping[str, bytes] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write the package of `session_dir` to `out` (a .tar); returns its size in bytes.

    `extras` are the files of ``PACKAGE_FILES`` to put beside the folder, by name. Written to
    a temporary file beside `out` and renamed when complete, so a package that is there is
    whole. `progress` gets (bytes done, bytes total).
    """
    extras = dict(extras or {})
    if not extras.keys() <= PACKAGE_FILES:
        raise ValueError(f"not a file a package holds: {sorted(extras.keys() - PACKAGE_FILES)}")
    files = package_files(session_dir)
    total = sum(f.stat().st_size for f in files) + sum(len(data) for data in extras.values())
    done = 0
    top = session_dir.name
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
            for path in files:
                info = tar.gettarinfo(str(path), arcname=f"{top}/{path.relative_to(session_dir)}")
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with path.open("rb") as f:
                    tar.addfile(info, f)
                done += info.size
                if progress is not None:
                    progress(done, total)
            for name, data in sorted(extras.items()):
                info = tarfile.TarInfo(f"{top}/{name}")
                info.size = len(data)
                info.mode = 0o644
                with tempfile.SpooledTemporaryFile() as extra:
                    extra.write(data)
                    extra.seek(0)
                    tar.addfile(info, extra)
                done += info.size
                if progress is not None:
                    progress(done, total)
        with tmp.open("rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out.stat().st_size


def unpack(package: Path, into: Path) -> Path:
    """Extract a package for checking; the archive folder inside it.

    Only regular files and folders under one top folder are accepted (tarfile's ``data``
    filter refuses links, devices and paths leaving the target).
    """
    with tarfile.open(package) as tar:
        tops = {Path(m.name).parts[0] for m in tar.getmembers() if m.name}
        if len(tops) != 1:
            raise ValueError(f"{package}: a package holds exactly one archive folder")
        tar.extractall(into, filter="data")
    folder = into / tops.pop()
    if not folder.is_dir():
        raise ValueError(f"{package}: no archive folder inside")
    return folder
