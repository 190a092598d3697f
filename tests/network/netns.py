"""Network namespaces made by a test: hosts, links, bridges, routes, NAT and loss (nftables).

Everything lives in namespaces the test creates and removes again (``ip netns``, veth pairs,
nftables rulesets inside them); nothing is added to the machine's own namespace and no packet
leaves the machine. Needs root, iproute2 and nftables (``.ci/run`` installs them). ``tc netem``
is not available in these kernels: loss comes from nftables' ``numgen random``.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from tests.network.coturn import missing

T = TypeVar("T")
CLONE_NEWNET = 0x40000000


def require_namespaces() -> None:
    """Skip without root, ``ip`` or ``nft``; under ``.ci/run`` fail instead."""
    if os.geteuid() != 0:
        missing("network namespaces need root")
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            missing(f"{tool} is missing: apt-get install -y iproute2 nftables")


def _run(*command: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=30, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr}")
    return done.stdout


class Namespaces:
    """The namespaces of one test, named ``<prefix>-<name>``; ``close`` removes them all."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.names: list[str] = []

    def full(self, name: str) -> str:
        """The system-wide name of the test's namespace `name`."""
        return f"{self.prefix}-{name}"

    def add(self, name: str) -> str:
        """A new namespace with its loopback up; IP forwarding on (it may route)."""
        full = self.full(name)
        _run("ip", "netns", "add", full)
        self.names.append(full)
        self.ip(name, "link", "set", "lo", "up")
        self.exec(name, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        return full

    def ip(self, name: str, *args: str) -> str:
        """``ip -n <namespace> ARGS``."""
        return _run("ip", "-n", self.full(name), *args)

    def exec(self, name: str, *command: str, stdin: str | None = None) -> str:
        """Run a command inside the namespace; its output."""
        return _run("ip", "netns", "exec", self.full(name), *command, stdin=stdin)

    def link(self, a: tuple[str, str, str | None], b: tuple[str, str, str | None]) -> None:
        """A veth pair between two namespaces: each end (namespace, interface, address in
        CIDR or None), up."""
        (a_ns, a_if, _), (b_ns, b_if, _) = a, b
        self.ip(
            a_ns,
            "link",
            "add",
            a_if,
            "type",
            "veth",
            "peer",
            "name",
            b_if,
            "netns",
            self.full(b_ns),
        )
        for name, interface, address in (a, b):
            if address is not None:
                self.ip(name, "addr", "add", address, "dev", interface)
            self.ip(name, "link", "set", interface, "up")

    def bridge(self, name: str, bridge: str, ports: list[str]) -> None:
        """A bridge in `name` with these of its interfaces as ports (one L2 segment)."""
        self.ip(name, "link", "add", bridge, "type", "bridge")
        self.ip(name, "link", "set", bridge, "up")
        for port in ports:
            self.ip(name, "link", "set", port, "master", bridge)

    def nft(self, name: str, ruleset: str) -> None:
        """Load an nftables ruleset into the namespace (``nft -f -``)."""
        self.exec(name, "nft", "-f", "-", stdin=ruleset)

    def nft_flush(self, name: str, table: str) -> None:
        """Remove one table of the namespace's ruleset, if there."""
        family, _, table_name = table.partition(" ")
        subprocess.run(
            ["ip", "netns", "exec", self.full(name), "nft", "delete", "table", family, table_name],
            capture_output=True,
            timeout=30,
            check=False,
        )

    def wrapper(self, name: str, program: str, folder: Path) -> Path:
        """An executable that runs `program` inside the namespace with the arguments it gets
        (Playwright's ``executable_path`` for a browser on that host)."""
        path = folder / f"{self.full(name)}-{Path(program).name}"
        path.write_text(
            f'#!/bin/sh\nexec ip netns exec {self.full(name)} {program} "$@"\n', encoding="utf-8"
        )
        path.chmod(0o755)
        return path

    def call(self, name: str, fn: Callable[[], T]) -> T:
        """Run `fn` in a thread that has entered the namespace: the sockets it opens are that
        host's (urllib against the server's loopback, say)."""
        libc = ctypes.CDLL(None, use_errno=True)
        outcome: dict[str, object] = {}

        def target() -> None:
            fd = os.open(f"/run/netns/{self.full(name)}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns failed")
            finally:
                os.close(fd)
            try:
                outcome["value"] = fn()
            except BaseException as exc:  # handed to the caller's thread
                outcome["error"] = exc

        thread = threading.Thread(target=target, name=f"netns-{name}")
        thread.start()
        thread.join()
        if "error" in outcome:
            raise outcome["error"]  # type: ignore[misc]
        return outcome["value"]  # type: ignore[return-value]

    def close(self) -> None:
        """Delete every namespace (their interfaces and rulesets go with them)."""
        for full in reversed(self.names):
            subprocess.run(["ip", "netns", "del", full], capture_output=True, timeout=30)
        self.names.clear()
