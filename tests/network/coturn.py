"""Debian's coturn, started by a test with ``turnserver.conf`` (in a namespace, if given)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from tests.network.certs import Issued

CONF_TEMPLATE = Path(__file__).with_name("turnserver.conf")
TURNSERVER = "turnserver"
START_DEADLINE_S = 15.0


@dataclass(frozen=True)
class CoturnSettings:
    """Where coturn listens and relays from, and the secret it shares with the server."""

    listen_ip: str
    port: int
    tls_port: int
    relay_ip: str
    secret: str
    tls: Issued
    relay_ports: tuple[int, int] = (49160, 49200)
    external_ip: str | None = None
    loopback_peers: bool = False
    netns: str | None = None


def require_coturn() -> None:
    """Skip without coturn; under ``.ci/run`` (which installs it) fail instead."""
    if shutil.which(TURNSERVER) is None:
        missing("coturn is missing: apt-get install -y coturn")


def missing(reason: str) -> NoReturn:
    """Skip for want of `reason`; fail where the tests are required (TEST_REQUIRE_NETWORK)."""
    if os.environ.get("TEST_REQUIRE_NETWORK") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


class Coturn:
    """A coturn process with its own configuration, log and database in `folder`."""

    def __init__(self, settings: CoturnSettings, folder: Path) -> None:
        self.settings = settings
        self.folder = folder
        self.log_path = folder / "turnserver.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def config_text(self) -> str:
        """The test's turnserver.conf with its addresses, ports, secret and files."""
        s = self.settings
        return CONF_TEMPLATE.read_text(encoding="utf-8").format(
            listen_ip=s.listen_ip,
            port=s.port,
            tls_port=s.tls_port,
            relay_ip=s.relay_ip,
            relay_min=s.relay_ports[0],
            relay_max=s.relay_ports[1],
            external_ip=f"external-ip={s.external_ip}" if s.external_ip else "",
            secret=s.secret,
            cert=s.tls.cert,
            key=s.tls.key,
            loopback_peers="allow-loopback-peers" if s.loopback_peers else "",
            folder=self.folder,
        )

    def start(self) -> None:
        """Start coturn and wait until its listeners are open."""
        self.folder.mkdir(parents=True, exist_ok=True)
        conf = self.folder / "turnserver.conf"
        conf.write_text(self.config_text(), encoding="utf-8")
        command = [TURNSERVER, "-c", str(conf)]
        if self.settings.netns:
            command = ["ip", "netns", "exec", self.settings.netns, *command]
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"coturn exited with {self._proc.returncode}:\n{self.log()}")
            if "Total General servers" in self.log():
                return
            time.sleep(0.05)  # polling interval of a deadline-bounded wait for its log line
        raise TimeoutError(f"coturn did not open its listeners:\n{self.log()}")

    def log(self) -> str:
        """What coturn has logged so far."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def close(self) -> None:
        """Stop coturn; safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def __enter__(self) -> Coturn:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
