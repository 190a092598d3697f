"""Who may open a Socket.IO connection: pages of this server's own origin, on a namespace it serves.

A browser sends the page's Origin with every websocket handshake and every cross-site request;
another site's page must not reach the seats' or the wall's namespaces with a token it got hold
of, and a name that resolves to this machine by DNS rebinding must not pass for it. The allowed
origin is the configured public URL's; without one, this server's own addresses at its port
(with the loopback names when it listens on loopback or everywhere). A client that sends no
Origin (the Python test and load clients) is not a browser, and has nothing for the check to
protect: python-engineio lets it through.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from typing import Any
from urllib.parse import urlsplit

import psutil
import socketio

from signaling.config import AppConfig

logger = logging.getLogger(__name__)

DEFAULT_PORTS = {"http": 80, "https": 443}
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})
MAX_LOGGED_ORIGINS = 64  # refused origins are logged once each, up to this many


def parse_origin(origin: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin or URL, the default port filled in; None if malformed."""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in DEFAULT_PORTS or not host:
        return None
    return scheme, host, port if port is not None else DEFAULT_PORTS[scheme]


def own_hosts(bind_host: str) -> frozenset[str]:
    """The host names a page of this server can have, from the address it listens on."""
    if bind_host in WILDCARD_HOSTS:
        found = set(LOOPBACK_NAMES)
        for addresses in psutil.net_if_addrs().values():
            for address in addresses:
                if address.family in (socket.AF_INET, socket.AF_INET6):
                    found.add(address.address.split("%", 1)[0].lower())
        return frozenset(found)
    try:
        loopback = bind_host == "localhost" or ipaddress.ip_address(bind_host).is_loopback
    except ValueError:
        loopback = False
    return frozenset({bind_host.lower(), *(LOOPBACK_NAMES if loopback else ())})


class OriginCheck:
    """python-engineio's ``cors_allowed_origins`` callable: is a browser's Origin our own?"""

    def __init__(self, config: AppConfig) -> None:
        self._public = parse_origin(config.public_url) if config.public_url else None
        self._scheme = "https" if config.tls_cert else "http"
        self._port = config.port
        self._hosts = own_hosts(config.host)
        self._logged: set[str] = set()

    def allows(self, origin: str, local_port: int | None = None) -> bool:
        """Whether a page of `origin` may connect; `local_port` is where this connection came in."""
        parsed = parse_origin(origin)
        if parsed is None:
            return False
        if self._public is not None:
            return parsed == self._public
        scheme, host, port = parsed
        # Bound to port 0 (tests), the port is only known from the connection itself.
        expected = self._port or local_port
        return scheme == self._scheme and host in self._hosts and port == expected

    def __call__(self, origin: str | None, environ: dict[str, Any] | None = None) -> bool:
        if not origin:
            return False  # asked only for CORS headers: a request without Origin needs none
        allowed = self.allows(origin, _local_port(environ))
        if not allowed and origin not in self._logged and len(self._logged) < MAX_LOGGED_ORIGINS:
            self._logged.add(origin)
            logger.warning(
                "Socket.IO connection from origin %s refused; if people reach the server at "
                "that address, set public_url to it",
                origin[:200],
            )
        return allowed


def _local_port(environ: dict[str, Any] | None) -> int | None:
    request = (environ or {}).get("aiohttp.request")
    transport = getattr(request, "transport", None)
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    return int(sockname[1]) if sockname else None


class DefaultNamespace(socketio.AsyncNamespace):
    """The namespace ``/``: nothing is served there, so every connection to it is refused."""

    def __init__(self) -> None:
        super().__init__("/")

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        """Refuse: a page connects to the namespace of its role (/seat, /wall, /console)."""
        raise socketio.exceptions.ConnectionRefusedError(
            "请通过评标页面连接", {"code": "namespace_not_served"}
        )
