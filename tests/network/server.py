"""The server as an operator starts it, on a host of the test's network (a namespace), over HTTPS;
and Chromium seats on other hosts of it."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.network.certs import Issued
from tests.network.netns import Namespaces

REPO = Path(__file__).resolve().parents[2]
START_DEADLINE_S = 45.0
CHROMIUM = "/usr/bin/chromium"


def spki_hash(cert: Path) -> str:
    """base64(SHA-256(SubjectPublicKeyInfo)) of a certificate: what Chromium's
    ``--ignore-certificate-errors-spki-list`` trusts (our test certificates, nothing else)."""
    public = x509.load_pem_x509_certificate(cert.read_bytes()).public_key()
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(der).digest()).decode("ascii")


class NamespacedServer:
    """``python -m signaling.cli serve`` inside namespace `host` of `ns`, with `args`."""

    def __init__(
        self,
        ns: Namespaces,
        host: str,
        data_dir: Path,
        tls: Issued,
        args: list[str],
        log_path: Path,
        ca: Path,
    ) -> None:
        self.ns = ns
        self.host = host
        self.data_dir = data_dir
        self.tls = tls
        self.args = args
        self.log_path = log_path
        self._ca = ca
        self._proc: subprocess.Popen[bytes] | None = None
        self.participants: list[dict[str, Any]] = []

    def _cli(self, *command: str) -> list[str]:
        return [sys.executable, "-m", "signaling.cli", *command, "--data-dir", str(self.data_dir)]

    def seed_demo(self) -> None:
        """The demo session and its kiosk links (at the configured public URL)."""
        done = subprocess.run(
            [*self._cli("demo", "--json"), *self.args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"demo failed ({done.returncode}):\n{done.stderr[-4000:]}")
        self.participants = json.loads(done.stdout)

    def expert(self, venue: str, n: int = 0) -> dict[str, Any]:
        """The `n`-th demo expert of the venue whose name contains `venue`."""
        experts = [
            p for p in self.participants if p["role"] == "expert" and venue in str(p["venue"])
        ]
        return experts[n]

    def start(self) -> None:
        """Start serving in the namespace; wait until /healthz answers over HTTPS."""
        command = [
            "ip",
            "netns",
            "exec",
            self.ns.full(self.host),
            *self._cli("serve"),
            "--tls-cert",
            str(self.tls.cert),
            "--tls-key",
            str(self.tls.key),
            *self.args,
        ]
        with self.log_path.open("ab") as log:
            # Its configuration is `args`, not whatever ROOMSERVER_* the test run has.
            env = {k: v for k, v in os.environ.items() if not k.startswith("ROOMSERVER_")}
            env["PYTHONUNBUFFERED"] = "1"
            self._proc = subprocess.Popen(
                command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env
            )
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"server exited with {self._proc.returncode}:\n{self.log()}")
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)  # polling interval of a deadline-bounded wait, not synchronisation
        raise TimeoutError(f"server not healthy:\n{self.log()}")

    def get(self, path: str) -> tuple[int, str]:
        """GET `path` from the server's own host (its loopback: /metrics answers only there)."""
        context = ssl.create_default_context(cafile=str(self._ca))

        def fetch() -> tuple[int, str]:
            try:
                with urllib.request.urlopen(
                    f"https://127.0.0.1{path}", timeout=5, context=context
                ) as r:
                    return int(r.status), r.read().decode("utf-8", "replace")
            except urllib.error.HTTPError as exc:
                return int(exc.code), exc.read().decode("utf-8", "replace")

        return self.ns.call(self.host, fetch)

    def stop(self) -> None:
        """SIGTERM, as systemd stops it; the archive is sealed on the way out."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def log(self, chars: int = 6000) -> str:
        """The end of the server's log."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""
