"""Which host addresses the server offers as ICE candidates.

aioice offers every interface address except loopback, and has no option for it. A server bound to
loopback (the embedded default, and every test) must offer loopback only, and a server on a
multi-homed host should offer only its media interfaces; otherwise a peer can settle on a path that
dies later ("consent to send expired"). The choice is the server's configuration, applied once at
start-up by replacing aioice's address lookup for the whole process.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence

import aioice.ice
import psutil

logger = logging.getLogger(__name__)


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
