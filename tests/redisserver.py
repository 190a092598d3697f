"""A private Redis server for the tests, started from Debian's ``redis-server``.

One server per test, in a temporary directory of its own, listening on a Unix socket there only
(no TCP port: nothing to collide with, nobody else on the machine reaches it, and the socket
path works from inside a network namespace too). Nothing is saved to disk. The server is the
test process's child and stops if the test process dies without stopping it
(``setpriv --pdeathsig``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

START_TIMEOUT_S = 20.0


class RedisUnavailable(Exception):
    """redis-server cannot be started here; the message says why (a skip reason)."""


class RedisServer:
    """A throw-away Redis: `start()`, `url`, `stop()`."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisUnavailable(
                "redis-server is missing (apt-get install redis-server; .ci/run installs it)"
            )
        self.binary = binary
        self.root: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> Path:
        """The server's Unix socket."""
        if self.root is None:
            raise RuntimeError("RedisServer is not started")
        return self.root / "redis.sock"

    @property
    def url(self) -> str:
        """The URL the nodes are given (``redis_url``)."""
        return f"unix://{self.socket_path}"

    def start(self) -> None:
        """Start the server and wait until it answers PING."""
        # /tmp, not pytest's tmp_path: a socket path is limited to about 100 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="roomserver-redis-"))
        argv = [
            "setpriv",
            "--pdeathsig",
            "INT",
            self.binary,
            "--port",
            "0",
            "--unixsocket",
            str(self.socket_path),
            "--unixsocketperm",
            "700",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.root),
        ]
        with (self.root / "server.log").open("wb") as log:
            self._process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        # No notification to wait on: poll with a real PING to a deadline.
        while not self._answers():
            if self._process.poll() is not None:
                raise RuntimeError(f"redis-server exited {self._process.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"redis-server not ready within {START_TIMEOUT_S} s")
            time.sleep(0.02)

    def _answers(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(1)
                s.connect(str(self.socket_path))
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def log(self) -> str:
        """The server's log."""
        if self.root is None:
            return ""
        try:
            return (self.root / "server.log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None


def require_redis() -> None:
    """Skip when redis-server is missing; under ``.ci/run`` (TEST_REQUIRE_REDIS=1) fail."""
    import pytest

    if shutil.which("redis-server") is None:
        message = "redis-server is missing (apt-get install redis-server)"
        if os.environ.get("TEST_REQUIRE_REDIS") == "1":
            pytest.fail(message)
        pytest.skip(message)
