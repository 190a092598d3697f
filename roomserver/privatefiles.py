"""Files only the server's own user may open: the data directory, keys, the database, the logs.

Each is created with its final mode (``os.open`` or ``os.mkdir`` with that mode), never made
private by a chmod afterwards, so that no other user of the machine can open it in between. A
key, or its folder, that others can open is refused when it is loaded: whoever could read it
could forge join tokens and archive seals, and a server that started anyway would hide that.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from roomserver.errors import UnsafePermissions

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
SHARED_BITS = 0o077  # any access by the group or by other users


def make_private_dir(path: Path) -> None:
    """Create a folder with mode 700 (missing parents as usual); an existing one is left alone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, PRIVATE_DIR_MODE)


def refuse_shared(path: Path, st: os.stat_result) -> None:
    """UnsafePermissions, naming the chmod to run, when group or others may open `path`."""
    if not st.st_mode & SHARED_BITS:
        return
    folder = stat.S_ISDIR(st.st_mode)
    wanted = PRIVATE_DIR_MODE if folder else PRIVATE_FILE_MODE
    raise UnsafePermissions(
        f"{'文件夹' if folder else '密钥文件'} {path} 的权限为 {stat.S_IMODE(st.st_mode):o}，"
        f"本机其他用户可以访问。请运行 chmod {wanted:o} {path} 后再启动服务。"
    )


def secrets_dir(path: Path) -> None:
    """Create the folder of keys (mode 700), or refuse an existing one that others may open."""
    make_private_dir(path)
    refuse_shared(path, os.stat(path))


def check_secrets(folder: Path) -> None:
    """Create the folder of keys, or refuse it if it, or anything in it, is open to others.

    Run before anything starts, so that a key loaded late (a session's) cannot stop a
    half-started server.
    """
    secrets_dir(folder)
    for root, dirs, files in os.walk(folder):
        for name in sorted([*dirs, *files]):
            path = Path(root, name)
            refuse_shared(path, os.stat(path))


def read_secret(path: Path) -> bytes | None:
    """A key file's bytes once it and its folder are private; None when it does not exist yet."""
    secrets_dir(path.parent)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as f:
        # The mode of the file that was opened, not of whatever the name points to later.
        refuse_shared(path, os.fstat(f.fileno()))
        return f.read()


def write_secret(path: Path, data: bytes) -> bool:
    """Create a key file with mode 600, durably; False if it exists (another process made it).

    The key is written whole to a temporary file first and then linked to its name, which
    fails if the name exists: another process starting at the same moment reads either no key
    or the whole of this one, never a half-written file, and never writes a second key.
    """
    secrets_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
    finally:
        tmp.unlink()
    _fsync_dir(path.parent)
    return True


def private_file(path: Path) -> None:
    """Make sure a data file (database, log) exists with mode 600: created so, or tightened.

    A file left by an older version with group or other bits is tightened rather than
    refused: unlike a key, its contents cannot be replaced, only kept from now on.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        if os.fstat(fd).st_mode & SHARED_BITS:
            os.fchmod(fd, PRIVATE_FILE_MODE)
    finally:
        os.close(fd)


def tighten(path: Path) -> None:
    """Take group and other bits off an existing file (a database's -wal, say); none is created."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if mode & SHARED_BITS:
        os.chmod(path, stat.S_IMODE(mode) & ~SHARED_BITS)


def _fsync_dir(path: Path) -> None:
    # A new file's name is durable only once its folder is synced.
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
