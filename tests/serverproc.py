"""The real server as a subprocess: start, kill -9, SIGTERM, restart on the same data dir."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import ssl as ssl_module
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 30.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kill_with_workers(pid: int) -> float:
    """``kill -9`` a server process and its media workers at once (a power cut, the OOM killer,
    systemd's KillMode=control-group); the wall time of the kill. The caller reaps it."""
    doomed = [psutil.Process(pid), *psutil.Process(pid).children()]
    killed_at = time.time()
    for process in doomed:
        with contextlib.suppress(psutil.Error):
            process.send_signal(signal.SIGKILL)
    return killed_at


class ServerProcess:
    """``python -m signaling.cli serve`` on loopback with ICE on 127.0.0.1 only."""

    def __init__(
        self,
        data_dir: Path,
        *,
        extra_args: tuple[str, ...] = (),
        database_url: str | None = None,
        ssl: ssl_module.SSLContext | None = None,
    ) -> None:
        self.data_dir = data_dir
        # None: SQLite in the data directory.
        self.database_url = database_url
        self.port = free_port()
        # With `ssl` (how to verify its certificate) the server is started with TLS in
        # extra_args, and asked over https.
        self.ssl = ssl
        self.base_url = f"{'https' if ssl else 'http'}://127.0.0.1:{self.port}"
        self.extra_args = extra_args
        self.ice_host = "127.0.0.1"
        self.proc: asyncio.subprocess.Process | None = None
        self.log_path = data_dir.parent / "server.log"
        self.links: list[dict[str, Any]] = []

    @property
    def common(self) -> list[str]:
        """Flags shared by every CLI call against this server's data."""
        database = ["--database-url", self.database_url] if self.database_url else []
        return ["--data-dir", str(self.data_dir), "--bind", f"127.0.0.1:{self.port}", *database]

    async def cli(self, *args: str, within: float = 60.0, check: bool = True) -> tuple[int, str]:
        """Run ``python -m signaling.cli ARGS`` (with this server's flags); (exit code, stdout)."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "signaling.cli",
            *args,
            *self.common,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), within)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
        code = proc.returncode or 0
        if check and code != 0:
            raise RuntimeError(f"signaling.cli {' '.join(args)} exited {code}: {err.decode()}")
        return code, out.decode()

    async def demo(self) -> list[dict[str, Any]]:
        """Create the demo session; its participants' links."""
        self.links = json.loads((await self.cli("demo", "--json"))[1])
        return self.links

    def token(self, index: int) -> str:
        """Join token of the `index`-th demo expert."""
        experts = [link for link in self.links if link["role"] == "expert"]
        return str(experts[index]["token"])

    @property
    def session_id(self) -> str:
        """The demo session."""
        return str(self.links[0]["session_id"])

    async def start(self) -> None:
        """Start serving and wait until /healthz answers."""
        log = self.log_path.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            *self.launcher(),
            sys.executable,
            "-m",
            "signaling.cli",
            "serve",
            *self.common,
            "--ice-host",
            self.ice_host,
            *self.extra_args,
            cwd=ROOT,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        connector = aiohttp.TCPConnector(ssl=self.ssl) if self.ssl is not None else None
        async with aiohttp.ClientSession(connector=connector) as http:
            while time.monotonic() < deadline:
                if self.proc.returncode is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
                try:
                    async with http.get(f"{self.base_url}/healthz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)  # a poll with a deadline: no ready event to wait on
        raise TimeoutError(f"server did not become healthy:\n{self.log()}")

    def launcher(self) -> list[str]:
        """What the server's command is run with (nothing: as it is)."""
        return []

    def worker_pids(self) -> list[int]:
        """The server's media worker processes."""
        assert self.proc is not None
        return [child.pid for child in psutil.Process(self.proc.pid).children()]

    async def kill9(self) -> float:
        """``kill -9`` the server and its media workers at once (a power cut, the OOM killer,
        systemd's KillMode=control-group); returns the wall time of the kill."""
        assert self.proc is not None
        killed_at = kill_with_workers(self.proc.pid)
        await self.proc.wait()
        return killed_at

    async def terminate(self, within: float = 30.0) -> float:
        """SIGTERM, as systemd sends it; returns seconds until the process exited."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(self.proc.wait(), within)
        return time.monotonic() - started

    async def stop(self) -> None:
        """Stop the server if it still runs (test teardown)."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    def log(self, lines: int = 60) -> str:
        """The end of the server's log."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
