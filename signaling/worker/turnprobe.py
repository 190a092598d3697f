"""A TURN server tried from the media worker's side (``roomserver doctor``): an allocation made
with the credential given, then released. aioice's TURN client is the one the worker's ICE
agent uses, so a server that passes here speaks the TURN the media speaks."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from aioice.turn import create_turn_endpoint

# How long the whole allocation may take before the TURN server counts as unreachable.
PROBE_TIMEOUT_S = 8.0


class _Relay(asyncio.DatagramProtocol):
    """The relay's protocol: nothing is sent through it; told when the allocation is gone."""

    def __init__(self) -> None:
        self.released: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.released.done():
            self.released.set_result(None)


def parse_turn_url(url: str) -> tuple[str, str, int, str]:
    """``turn:host:port?transport=tcp`` → (scheme, host, port, transport)."""
    scheme, _, rest = url.partition(":")
    if scheme not in ("turn", "turns"):
        raise ValueError(f"not a TURN URL: {url}")
    address, _, query = rest.partition("?")
    transport = "tcp" if scheme == "turns" else "udp"
    for item in query.split("&") if query else ():
        key, _, value = item.partition("=")
        if key == "transport" and value in ("udp", "tcp"):
            transport = value
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        host, port = address, "5349" if scheme == "turns" else "3478"
    return scheme, host.strip("[]"), int(port), transport


async def probe_turn(
    url: str, username: str, credential: str, *, cafile: str | None = None
) -> dict[str, Any]:
    """Allocate a relay on the TURN server of `url` and release it; the relayed address."""
    scheme, host, port, transport = parse_turn_url(url)
    context: ssl.SSLContext | None = None
    if scheme == "turns":
        context = ssl.create_default_context(cafile=cafile)
    endpoint, relay = await asyncio.wait_for(
        create_turn_endpoint(
            _Relay,
            server_addr=(host, port),
            username=username,
            password=credential,
            ssl=context,
            transport=transport,
        ),
        PROBE_TIMEOUT_S,
    )
    try:
        relayed = endpoint.get_extra_info("sockname")
    finally:
        endpoint.close()  # the allocation is deleted (a Refresh of lifetime 0)
    await asyncio.wait_for(relay.released, PROBE_TIMEOUT_S)
    return {"relayed": [str(relayed[0]), int(relayed[1])]}
