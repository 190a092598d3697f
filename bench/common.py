"""What the benchmarks share: the server as a subprocess, CPU figures, stopping children."""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from http.cookies import SimpleCookie
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import psutil

ROOT = Path(__file__).resolve().parents[1]


def machine() -> str:
    """CPU model and count, for the record."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{len(os.sched_getaffinity(0))} CPUs, {model}"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str) -> str:
    """Run ``python -m signaling.cli ARGS`` and return its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "signaling.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"signaling.cli {args[0]} failed: {done.stderr[-2000:]}")
    return done.stdout


def get(url: str, timeout: float = 5.0) -> str:
    """GET a loopback URL and return the body."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read().decode()


def wait_healthy(base_url: str, server: subprocess.Popen[bytes]) -> None:
    """Poll /healthz until the server answers (a poll with a deadline: no ready signal)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"server exited with {server.returncode}")
        with contextlib.suppress(OSError, urllib.error.URLError):
            get(f"{base_url}/healthz", timeout=1)
            return
        time.sleep(0.1)
    raise TimeoutError("server did not become healthy in 30 s")


def cpu_seconds(proc: psutil.Process) -> float:
    """User + system CPU seconds of a process (all its threads)."""
    times = proc.cpu_times()
    return float(times.user + times.system)


def tree_cpu_seconds(proc: psutil.Process) -> float:
    """CPU seconds of the server: the signaling process and its media workers."""
    total = cpu_seconds(proc)
    for child in proc.children(recursive=True):
        try:
            total += cpu_seconds(child)
        except psutil.NoSuchProcess:
            pass
    return total


def udp_rcvbuf_errors(pid: int | str = "self") -> int | None:
    """Datagrams the kernel dropped because a socket's receive buffer was full, in the network
    namespace of process `pid` (default this one's: system-wide, unless in a namespace)."""
    try:
        lines = [
            ln.split()
            for ln in Path(f"/proc/{pid}/net/snmp").read_text().splitlines()
            if ln.startswith("Udp:")
        ]
        return int(dict(zip(lines[0][1:], lines[1][1:], strict=True))["RcvbufErrors"])
    except (OSError, IndexError, KeyError, ValueError):
        return None


def cpu_split(pin: bool) -> tuple[set[int] | None, set[int] | None]:
    """CPUs for the process measured and for the load: it gets one core of its own if pinned."""
    cpus = sorted(os.sched_getaffinity(0))
    if not pin or len(cpus) < 2:
        return None, None
    return {cpus[0]}, set(cpus[1:])


def stop_processes(
    conns: list[Connection],
    procs: list[mp.process.BaseProcess],
    server: subprocess.Popen[bytes] | None,
    *,
    ask: str | None = "stop",
) -> None:
    """Stop child processes (asked with `ask` on their pipe, then by force), then the server."""
    if ask is not None:
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.send(ask)
    deadline = time.monotonic() + 10
    for proc in procs:
        proc.join(max(0.1, deadline - time.monotonic()))
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
            proc.join(3)
        if proc.is_alive():
            proc.kill()
            proc.join(3)
    for conn in conns:
        conn.close()
    if server is not None and server.poll() is None:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)


def start_child(
    ctx: Any, target: Callable[..., Any], args: tuple[Any, ...], *, who: str, timeout: float
) -> tuple[mp.process.BaseProcess, Connection]:
    """A child process of a bench, running ``target(*args, conn)``, once it says ``("ready",
    ...)`` on its end of the pipe; the process and the parent's end."""
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=target, args=(*args, child), name=f"bench-{who}", daemon=True)
    proc.start()
    child.close()
    if not parent.poll(timeout):
        raise TimeoutError(f"{who} not ready in {timeout:.0f} s")
    kind, data = parent.recv()
    if kind != "ready":
        raise RuntimeError(f"{who}: {kind}: {data}")
    return proc, parent


def ask_child(conn: Connection, message: Any, expect: str, timeout: float) -> Any:
    """Send a bench's child `message` and return the data of its answer, which must be of the
    kind `expect` and come within `timeout` seconds."""
    conn.send(message)
    if not conn.poll(timeout):
        raise TimeoutError(f"no answer to {message!r} in {timeout:.0f} s")
    kind, data = conn.recv()
    if kind != expect:
        raise RuntimeError(f"{message!r}: got {kind}: {data}")
    return data


def start_server(
    common: list[str],
    log_path: Path,
    *,
    workers: int,
    cpus: set[int] | None = None,
    own_session: bool = False,
    ice_host: str = "127.0.0.1",
    launcher: Sequence[str] = (),
) -> subprocess.Popen[bytes]:
    """``roomserver serve`` with ICE on `ice_host` (loopback by default), logging to `log_path`.

    `common` holds the data-dir and bind flags; `cpus` pins it (and its workers, who inherit);
    `own_session` keeps a terminal's Ctrl-C away from it, so the caller stops it in order.
    `launcher` is a command that execs the server (``ip netns exec NS``, ``taskset -c N``):
    the process started is then the server itself, with the launcher's surroundings.
    """
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [
                *launcher,
                sys.executable,
                "-m",
                "signaling.cli",
                "serve",
                *common,
                "--ice-host",
                ice_host,
                "--log-level",
                "WARNING",
                "--workers",
                str(workers),
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=own_session,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )


def link_token(base_url: str, url: str) -> str:
    """The session token a personal link's code is exchanged for (``POST /api/login``)."""
    code = parse_qs(urlparse(url).query)["code"][0]
    request = urllib.request.Request(
        f"{base_url}/api/login",
        data=json.dumps({"code": code}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(answer.headers["Set-Cookie"])
    return cookie["roomserver_session"].value
