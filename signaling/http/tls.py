"""The built-in TLS: its certificate is read again on SIGHUP, without a restart.

A certificate renewed in place (certbot's deploy hook, or an operator's copy) is announced with
``systemctl reload roomserver`` (``kill -HUP``). The server keeps one ``SSLContext``; loading the
new chain into it changes what new connections are shown, while the connections already open
(seats' Socket.IO websockets, playback) keep theirs and are not dropped. A chain that does not
load (a half-copied file, a key of another certificate) is logged and the old one kept.

The recommended deployment terminates TLS in a reverse proxy instead (README, HTTPS).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
from pathlib import Path

from cryptography import x509

logger = logging.getLogger(__name__)


class ReloadingCertificate:
    """One server SSLContext and the files of its certificate chain and key."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.cert = cert
        self.key = key
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.load_cert_chain(cert, key)  # at start, a chain that fails stops the start
        self.loaded = describe(cert)

    def reload(self) -> bool:
        """Load the files again; keep the previous chain if they do not load."""
        try:
            self.context.load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as exc:
            logger.error("TLS certificate not reloaded, the previous one stays: %s", exc)
            return False
        self.loaded = describe(self.cert)
        logger.info("TLS certificate reloaded: %s", self.loaded)
        return True

    def reload_on_sighup(self, loop: asyncio.AbstractEventLoop) -> None:
        """Reload whenever the process receives SIGHUP."""
        loop.add_signal_handler(signal.SIGHUP, self.reload)


def describe(path: Path) -> str:
    """The first certificate of a PEM file: serial, subject and expiry, for the log."""
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        return f"unreadable ({exc})"
    return (
        f"serial {cert.serial_number:x}, {cert.subject.rfc4514_string()}, "
        f"valid until {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
    )
