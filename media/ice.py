"""Which addresses and ports the server offers as ICE candidates.

aioice offers every interface address except loopback, binds its sockets to ephemeral ports, and
has no option for either. A server bound to loopback (the embedded default, and every test) must
offer loopback only, and a server on a multi-homed host should offer only its media interfaces;
otherwise a peer can settle on a path that dies later ("consent to send expired"). A centre's
firewall publishes a fixed range of UDP ports, not the ephemeral ones. Both are the server's
configuration, applied once at start-up by replacing two pieces of aioice for the whole process:
its address lookup (``get_host_addresses``) and, with a port range, the binding of its host
sockets (``Connection.get_component_candidates``). ``tests/unit/media/test_ice_contract.py``
checks that aioice still works the way these replacements assume.

A server behind 1:1 NAT announces its public addresses beside its host candidates
(``announce_addresses``): seats on the centre's own network keep the direct path, and seats
elsewhere reach the same socket through the NAT.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import random
import re
import socket
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import aioice.ice
import aioice.turn
import psutil
from aioice.candidate import Candidate, candidate_foundation, candidate_priority

logger = logging.getLogger(__name__)

# aioice's own gathering of a component's candidates, before any replacement.
_AIOICE_COMPONENT_CANDIDATES = aioice.ice.Connection.get_component_candidates
_HOST_CANDIDATE = re.compile(
    r"^a=candidate:\S+ (?P<component>\d+) (?P<transport>udp|UDP) \d+ (?P<host>\S+) "
    r"(?P<port>\d+) typ host\b.*$"
)


def resolve_host_addresses(entries: Sequence[str]) -> list[str]:
    """Turn configured entries (IP addresses or interface names such as ``eth0``) into IPs."""
    interfaces = psutil.net_if_addrs()
    addresses: list[str] = []
    for entry in entries:
        try:
            addresses.append(str(ipaddress.ip_address(entry)))
            continue
        except ValueError:
            pass
        if entry not in interfaces:
            raise ValueError(f"ICE host address {entry!r} is neither an IP nor an interface")
        for snic in interfaces[entry]:
            try:
                ip = ipaddress.ip_address(snic.address.split("%")[0])
            except ValueError:
                continue
            if ip.version == 4 or not ip.is_link_local:
                addresses.append(str(ip))
    return list(dict.fromkeys(addresses))


def apply_host_candidate_policy(entries: Sequence[str] | None) -> list[str] | None:
    """Make ICE offer only `entries` as host candidates; None keeps aioice's own choice."""
    if not entries:
        return None
    addresses = resolve_host_addresses(entries)

    def configured_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [
            a
            for a in addresses
            if (use_ipv4 and ipaddress.ip_address(a).version == 4)
            or (use_ipv6 and ipaddress.ip_address(a).version == 6)
        ]

    aioice.ice.get_host_addresses = configured_host_addresses
    logger.info("ICE host candidates limited to %s", ", ".join(addresses))
    return addresses


class PortRange:
    """Binds UDP sockets to free ports of an inclusive range, taking them in turn.

    Several worker processes share one range: each starts at a random place in it, and the
    kernel refuses a port already bound (``EADDRINUSE``), which is then passed over.
    """

    def __init__(self, first: int, last: int) -> None:
        if not 1 <= first <= last <= 65535:
            raise ValueError(f"bad port range {first}-{last}")
        self.first = first
        self.last = last
        self._next = random.randrange(last - first + 1)

    def __len__(self) -> int:
        return self.last - self.first + 1

    def bind(self, address: str) -> socket.socket:
        """A UDP socket bound to `address` on the next free port of the range."""
        family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
        size = len(self)
        for step in range(size):
            offset = (self._next + step) % size
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                sock.bind((address, self.first + offset))
            except OSError as exc:
                sock.close()
                if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                    continue
                raise
            self._next = (offset + 1) % size
            return sock
        raise OSError(
            errno.EADDRINUSE, f"no free UDP port in {self.first}-{self.last} on {address}"
        )


ComponentCandidates = Callable[..., Coroutine[Any, Any, list[Candidate]]]


def _in_range(ports: PortRange) -> ComponentCandidates:
    """aioice's gathering of a component's candidates, with its host sockets bound in `ports`."""

    # aioice's signature, timeout included (aioice passes it on to its relay gathering).
    async def get_component_candidates(
        self: aioice.ice.Connection,
        component: int,
        addresses: list[str],
        timeout: int = 5,  # noqa: ASYNC109
    ) -> list[Candidate]:
        loop = asyncio.get_running_loop()
        candidates: list[Candidate] = []
        for address in addresses:
            try:
                sock = ports.bind(address)
                buffer = aioice.turn.UDP_SOCKET_BUFFER_SIZE
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer)
                _, protocol = await loop.create_datagram_endpoint(
                    lambda: aioice.ice.StunProtocol(self), sock=sock
                )
            except OSError as exc:
                logger.warning("ICE: no media socket on %s: %s", address, exc)
                continue
            host, port = protocol.transport.get_extra_info("sockname")[:2]
            protocol.local_candidate = Candidate(
                foundation=candidate_foundation("host", "udp", host),
                component=component,
                transport="udp",
                priority=candidate_priority(component, "host"),
                host=host,
                port=port,
                type="host",
            )
            self._protocols.append(protocol)
            candidates.append(protocol.local_candidate)
        # aioice gathers what is left (a relay, were a TURN server given) with no host to bind;
        # the server's reflexive address is announced, never asked of a STUN server.
        others = await _AIOICE_COMPONENT_CANDIDATES(
            self, component=component, addresses=[], timeout=timeout
        )
        return candidates + others

    return get_component_candidates


def apply_port_range(port_range: tuple[int, int] | None) -> PortRange | None:
    """Bind ICE host sockets to ports of `port_range`; None restores aioice's ephemeral ports."""
    if port_range is None:
        aioice.ice.Connection.get_component_candidates = _AIOICE_COMPONENT_CANDIDATES  # type: ignore[method-assign]
        return None
    ports = PortRange(*port_range)
    aioice.ice.Connection.get_component_candidates = _in_range(ports)  # type: ignore[method-assign]
    logger.info("ICE media sockets bound to UDP ports %d-%d", ports.first, ports.last)
    return ports


def announce_addresses(sdp: str, addresses: Sequence[str]) -> str:
    """Add, after each UDP host candidate of `sdp`, the same port at each announced address of
    its IP version, as a server-reflexive candidate (lower priority than the host's)."""
    if not addresses:
        return sdp
    out: list[str] = []
    for line in sdp.splitlines(keepends=True):
        out.append(line)
        match = _HOST_CANDIDATE.match(line.rstrip("\r\n"))
        if match is None:
            continue
        ending = line[len(line.rstrip("\r\n")) :]
        host = match["host"]
        try:
            version = ipaddress.ip_address(host).version
        except ValueError:
            continue  # an mDNS name: nothing of ours
        component, port = int(match["component"]), int(match["port"])
        for address in addresses:
            if ipaddress.ip_address(address).version != version or address == host:
                continue
            candidate = Candidate(
                foundation=candidate_foundation("srflx", "udp", host),
                component=component,
                transport="udp",
                priority=candidate_priority(component, "srflx"),
                host=address,
                port=port,
                type="srflx",
                related_address=host,
                related_port=port,
            )
            out.append(f"a=candidate:{candidate.to_sdp()}{ending}")
    return "".join(out)
