"""A private PostgreSQL server for the tests, started from Debian's binaries.

One server per test session, in a temporary directory of its own: ``initdb`` there, then
``postgres`` listening on a Unix socket in that directory only (no TCP port, so nothing to
collide with and nobody else on the machine reaches it; a socket path also works from inside a
network namespace). Each test gets a fresh database (``CREATE DATABASE`` from ``template1``,
dropped after the test).

PostgreSQL refuses to run as root: when the tests run as root, initdb and the server run as the
``postgres`` user (Debian's package creates it), or ``nobody`` where that user is missing, via
``setpriv``. The server is the test process's child and gets SIGINT (fast shutdown) if the test
process dies without stopping it (``setpriv --pdeathsig``).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

# Debian installs each major version's server binaries here (postgresql-NN).
DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"
NEEDED = ("initdb", "postgres", "pg_isready", "createdb", "dropdb")
# Not a TCP port (the server listens on none): it names the socket file, .s.PGSQL.5432.
PORT = 5432
SUPERUSER = "postgres"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
# Durability is not what the tests check: no fsync makes CREATE DATABASE and commits cheap.
SERVER_SETTINGS = {
    "listen_addresses": "",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "32MB",
    "max_connections": "100",
}


class PostgresUnavailable(Exception):
    """PostgreSQL cannot be started here; the message says why (a skip reason)."""


def find_bin_dir() -> Path:
    """The newest Debian PostgreSQL binary directory; PostgresUnavailable if there is none."""
    candidates = []
    for path in Path("/").glob(DEBIAN_BIN_GLOB.lstrip("/")):
        version = path.parent.name
        if version.isdigit() and all((path / name).is_file() for name in NEEDED):
            candidates.append((int(version), path))
    if not candidates:
        raise PostgresUnavailable(
            f"no PostgreSQL server binaries under {DEBIAN_BIN_GLOB} "
            "(apt-get install postgresql; .ci/run installs it)"
        )
    return max(candidates)[1]


def server_user() -> pwd.struct_passwd | None:
    """The unprivileged user to run PostgreSQL as when we are root; None when we are not."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresUnavailable("running as root and neither a postgres nor a nobody user exists")


class PostgresServer:
    """A throw-away PostgreSQL cluster: `start()`, `create_database()`, `stop()`."""

    def __init__(self, bin_dir: Path | None = None) -> None:
        self.bin_dir = bin_dir or find_bin_dir()
        self.user = server_user()
        self.root: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._count = 0
        self.started_in_s = 0.0

    @property
    def socket_dir(self) -> Path:
        """The directory of the server's Unix socket (its temporary directory)."""
        if self.root is None:
            raise RuntimeError("PostgresServer is not started")
        return self.root

    @property
    def log_path(self) -> Path:
        """The server's log (stderr)."""
        return self.socket_dir / "server.log"

    def url(self, database: str) -> str:
        """The SQLAlchemy async URL of `database` on this server (asyncpg over the socket)."""
        return f"postgresql+asyncpg://{SUPERUSER}@/{database}?host={self.socket_dir}"

    def _as_user(self, argv: Sequence[str]) -> list[str]:
        # --pdeathsig applies to the command run: the server stops if the tests die unseen.
        prefix = ["setpriv", "--pdeathsig", "INT"]
        if self.user is not None:
            prefix += [
                f"--reuid={self.user.pw_uid}",
                f"--regid={self.user.pw_gid}",
                "--init-groups",
            ]
        return [*prefix, *argv]

    def _run(self, argv: Sequence[str], *, as_server: bool = False) -> None:
        command = self._as_user(argv) if as_server else list(argv)
        env = {**os.environ, "LC_ALL": "C", "PGCONNECT_TIMEOUT": "10"}
        if as_server and self.user is not None:
            env["HOME"] = self.user.pw_dir
        result = subprocess.run(
            command, cwd=self.socket_dir, env=env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
            )

    def _ready(self) -> bool:
        result = subprocess.run(
            [str(self.bin_dir / "pg_isready"), "-q", "-h", str(self.socket_dir), "-p", str(PORT)],
            check=False,
        )
        return result.returncode == 0

    def start(self) -> None:
        """initdb into a new temporary directory, start the server, wait until it accepts."""
        started = time.monotonic()
        # /tmp, not pytest's tmp_path: the server's user must reach it, and a socket path is
        # limited to about 100 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="roomserver-pg-"))
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        data = self.root / "data"
        self._run(
            [
                str(self.bin_dir / "initdb"),
                "--pgdata",
                str(data),
                "--username",
                SUPERUSER,
                # Only local (socket) connections exist, in a directory of the server's user.
                "--auth=trust",
                "--encoding=UTF8",
                # Byte order, as SQLite compares text.
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            as_server=True,
        )
        settings = {**SERVER_SETTINGS, "unix_socket_directories": str(self.root), "port": PORT}
        argv = [str(self.bin_dir / "postgres"), "-D", str(data)]
        for name, value in settings.items():
            argv += ["-c", f"{name}={value}"]
        env = {**os.environ, "LC_ALL": "C"}
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                self._as_user(argv),
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        # No notification to wait on: poll pg_isready (a real connection attempt) to a deadline.
        while not self._ready():
            if self._process.poll() is not None:
                raise RuntimeError(f"postgres exited {self._process.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"postgres not ready within {START_TIMEOUT_S} s:\n{self.log()}")
            time.sleep(0.02)
        self.started_in_s = time.monotonic() - started

    def create_database(self, prefix: str = "test") -> str:
        """Create an empty database (a copy of template1); return its name."""
        self._count += 1
        name = f"{prefix}_{self._count}"
        self._run([str(self.bin_dir / "createdb"), *self._client_args(), name])
        return name

    def drop_database(self, name: str) -> None:
        """Drop `name`, ending any connection a test left open to it."""
        self._run([str(self.bin_dir / "dropdb"), *self._client_args(), "--force", name])

    def _client_args(self) -> list[str]:
        return ["--host", str(self.socket_dir), "--port", str(PORT), "--username", SUPERUSER]

    def stop(self) -> None:
        """Fast shutdown (SIGINT), wait for the server to exit, remove its directory."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        root, self.root = self.root, None
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)

    def log(self, lines: int = 40) -> str:
        """The end of the server's log."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except (OSError, RuntimeError):
            return ""
