"""Requests through the centre's reverse proxy (TLS ends there): the person's address, not the
proxy's, is what the record, the audit of links and the policy's ``local`` reach see.

With ``trusted_proxy`` set, a request whose peer is one of those addresses has its
``X-Forwarded-For`` chain read by aiohttp-remotes (``XForwardedFiltered``: the right-most
address that is not a trusted proxy is the client) and its scheme and host taken from
``X-Forwarded-Proto`` and ``-Host``. A request from any other peer keeps its own address and
its forwarded headers are ignored: nobody can claim to be the server's own machine (and read
``/metrics``) by sending a header. Without ``trusted_proxy`` nothing changes.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from aiohttp.typedefs import Middleware
from aiohttp_remotes import XForwardedFiltered

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def proxy_middleware(trusted: Sequence[str]) -> Middleware:
    """A middleware that believes the forwarded headers of `trusted` peers only (addresses or
    networks, e.g. ``127.0.0.1``, ``10.0.0.0/24``)."""
    networks = [ipaddress.ip_network(t, strict=False) for t in trusted]
    forwarded = XForwardedFiltered(set(networks))

    def is_trusted(remote: str | None) -> bool:
        try:
            address = ipaddress.ip_address(remote or "")
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in networks)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not is_trusted(request.remote):
            return await handler(request)
        return await forwarded.middleware(request, handler)

    return middleware
