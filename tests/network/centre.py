"""A trading centre and a sub venue in another city, as network namespaces.

```
            "internet" (a bridge in ns wan, 198.51.100.0/24: a documentation range)
            /                      |                                  \\
  ns srv: the server          ns turn: coturn                 ns subgw: the sub venue's
  wan0 198.51.100.10          wan0 198.51.100.20              NAT and firewall
  (its public address,                                        wan0 198.51.100.30
  1:1 NAT to its LAN address                                  lan0 192.168.50.1
  for the media ports)                                             |
  lan0 10.10.0.1 (ice_host)                                   ns sub: a seat there
        |                                                     eth0 192.168.50.2
  ns main: a seat of the main venue
  eth0 10.10.0.2
```

The server's media sockets are bound to its LAN address (``ice_host``) on the ports of
``media_ports``; its own namespace translates between that address and its public address on
those ports both ways, as a centre's 1:1 NAT does, and it announces the public address. The sub
venue's gateway masquerades and lets out only what its policy names (``SubVenuePolicy``): the
server's HTTPS, and coturn's ports.
"""

from __future__ import annotations

from enum import Enum

from tests.network.netns import Namespaces

SERVER_PUBLIC = "198.51.100.10"
TURN_PUBLIC = "198.51.100.20"
SUBGW_PUBLIC = "198.51.100.30"
SERVER_LAN = "10.10.0.1"
MAIN_SEAT = "10.10.0.2"
SUB_SEAT = "192.168.50.2"
SUBGW_LAN = "192.168.50.1"
MEDIA_PORTS = (40000, 40099)
HTTPS_PORT = 443
TURN_PORT = 3478
TURN_TLS_PORT = 443
SERVER_NAME = "pb.test"


class SubVenuePolicy(Enum):
    """What the sub venue's firewall lets out."""

    # HTTPS to the server and coturn on its UDP, TCP and TLS ports: media only through the relay.
    RELAY_ONLY = "relay_only"
    # TCP 443 and nothing else: the pages over HTTPS, and TURN over TLS on 443.
    HTTPS_ONLY = "https_only"


def build(ns: Namespaces) -> None:
    """Make the namespaces, links, addresses, routes and the server's 1:1 NAT."""
    for name in ("wan", "srv", "main", "turn", "subgw", "sub"):
        ns.add(name)
    ns.link(("wan", "p-srv", None), ("srv", "wan0", f"{SERVER_PUBLIC}/24"))
    ns.link(("wan", "p-turn", None), ("turn", "wan0", f"{TURN_PUBLIC}/24"))
    ns.link(("wan", "p-gw", None), ("subgw", "wan0", f"{SUBGW_PUBLIC}/24"))
    ns.bridge("wan", "br0", ["p-srv", "p-turn", "p-gw"])
    ns.link(("srv", "lan0", f"{SERVER_LAN}/24"), ("main", "eth0", f"{MAIN_SEAT}/24"))
    ns.link(("subgw", "lan0", f"{SUBGW_LAN}/24"), ("sub", "eth0", f"{SUB_SEAT}/24"))
    ns.ip("sub", "route", "add", "default", "via", SUBGW_LAN)
    # The relay's host has a way to everywhere (what it may not reach its configuration says).
    ns.ip("turn", "route", "add", "default", "dev", "wan0")
    low, high = MEDIA_PORTS
    ns.nft(
        "srv",
        f"""
        table ip centre {{
            chain prerouting {{
                type nat hook prerouting priority dstnat;
                ip daddr {SERVER_PUBLIC} udp dport {low}-{high} dnat to {SERVER_LAN}
            }}
            chain postrouting {{
                type nat hook postrouting priority srcnat;
                oifname "wan0" ip saddr {SERVER_LAN} udp sport {low}-{high} snat to {SERVER_PUBLIC}
            }}
        }}
        """,
    )
    ns.nft(
        "subgw",
        """
        table ip venue_nat {
            chain postrouting {
                type nat hook postrouting priority srcnat;
                oifname "wan0" masquerade
            }
        }
        """,
    )


def apply_policy(ns: Namespaces, policy: SubVenuePolicy) -> None:
    """Replace the sub venue's firewall by `policy`'s."""
    ns.nft_flush("subgw", "inet venue_fw")
    if policy is SubVenuePolicy.RELAY_ONLY:
        allowed = f"""
                ip daddr {SERVER_PUBLIC} tcp dport {HTTPS_PORT} accept
                ip daddr {TURN_PUBLIC} udp dport {TURN_PORT} accept
                ip daddr {TURN_PUBLIC} tcp dport {{ {TURN_PORT}, {TURN_TLS_PORT} }} accept
        """
    else:
        allowed = "tcp dport 443 accept"
    ns.nft(
        "subgw",
        f"""
        table inet venue_fw {{
            chain forward {{
                type filter hook forward priority filter; policy drop;
                ct state established,related accept
                iifname "lan0" oifname "wan0" ct state new jump out
            }}
            chain out {{
                {allowed}
            }}
        }}
        """,
    )
