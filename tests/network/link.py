"""One seat's link to the server, which the test makes lossy or cuts.

```
  ns obs: a seat on the server's LAN        ns srv: the server             ns seat: the seat
  eth0 10.10.0.2  ------------------------  lan0 10.10.0.1 (ice_host)
                                            lan1 10.10.1.1  -------------  eth0 10.10.1.2
```

Loss is applied where packets arrive, at the ingress of each end of the seat's link (nftables,
``netdev`` family): a packet is lost on the way, as on a real link, and its sender sees nothing
of it (a drop in the sender's own output path would fail its ``sendto`` instead). ``numgen
random`` decides each packet, in each direction on its own.
"""

from __future__ import annotations

from tests.network.netns import Namespaces

SERVER_LAN = "10.10.0.1"
OBSERVER = "10.10.0.2"
SEAT_GATEWAY = "10.10.1.1"
SEAT = "10.10.1.2"
MEDIA_PORTS = (40000, 40099)
HTTPS_PORT = 443
SERVER_NAME = "pb.test"
# Each end of the seat's link: (namespace, interface where its packets arrive).
ENDS = (("seat", "eth0"), ("srv", "lan1"))


def build(ns: Namespaces) -> None:
    """The server, a seat on its LAN and a seat on a link of its own."""
    for name in ("srv", "obs", "seat"):
        ns.add(name)
    ns.link(("srv", "lan0", f"{SERVER_LAN}/24"), ("obs", "eth0", f"{OBSERVER}/24"))
    ns.link(("srv", "lan1", f"{SEAT_GATEWAY}/24"), ("seat", "eth0", f"{SEAT}/24"))
    ns.ip("seat", "route", "add", "default", "via", SEAT_GATEWAY)


def _rule(ns: Namespaces, rule: str | None) -> None:
    for host, device in ENDS:
        ns.nft_flush(host, "netdev link")
        if rule is None:
            continue
        ns.nft(
            host,
            f"""
            table netdev link {{
                chain arrive {{
                    type filter hook ingress device "{device}" priority 0;
                    {rule}
                }}
            }}
            """,
        )


def lose(ns: Namespaces, percent: int) -> None:
    """Lose `percent` % of the packets each way, at random."""
    _rule(ns, f"numgen random mod 100 < {percent} drop")


def cut(ns: Namespaces) -> None:
    """Nothing gets through either way (the cable pulled)."""
    _rule(ns, "drop")


def restore(ns: Namespaces) -> None:
    """A clean link again."""
    _rule(ns, None)
