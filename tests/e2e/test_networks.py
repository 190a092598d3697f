"""Seats across real networks: a sub venue behind NAT reaches the server only through coturn,
another lets only HTTPS out and goes over TURN/TLS, a main-venue seat on the server's LAN connects
directly while the server announces its public address.

The network is made of namespaces (``tests/network/centre.py``), with the server, coturn (Debian's,
with ``tests/network/turnserver.conf``) and each Chromium seat on a host of its own; the server
runs as an operator starts it, over HTTPS with a certificate of a test authority that Chromium
is told to trust (by its key), and hands each page TURN credentials of its own.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from signaling.config import turn_rest_credential
from tests.e2e.conftest import CHROMIUM, LIVE_DEADLINE_S, MediaFiles, SeatPage
from tests.e2e.test_seats import inbound_frames
from tests.network import centre
from tests.network.certs import CertAuthority
from tests.network.chromium import KEEP_PEERS, launch_on
from tests.network.coturn import Coturn, CoturnSettings, require_coturn
from tests.network.netns import Namespaces, require_namespaces
from tests.network.server import NamespacedServer, spki_hash

pytestmark = [pytest.mark.e2e, pytest.mark.network]

SECRET = "the-centres-coturn-secret"
TURN_TTL_S = 20  # short, so that a page renews its credentials while the test watches
RENEW_AFTER_S = TURN_TTL_S - TURN_TTL_S // 5
# The newest connection's selected pair, its remote candidates and its TURN username.
SELECTED_PAIR = """async () => {
  const pc = window.__peers[window.__peers.length - 1];
  const stats = await pc.getStats();
  let transport = null;
  const remotes = [];
  stats.forEach((s) => {
    if (s.type === "transport") transport = s;
    if (s.type === "remote-candidate") remotes.push([s.candidateType, s.address, s.port]);
  });
  const pair = transport && stats.get(transport.selectedCandidatePairId);
  if (!pair) return null;
  const local = stats.get(pair.localCandidateId);
  const remote = stats.get(pair.remoteCandidateId);
  const turn = pc.getConfiguration().iceServers.find((s) => String(s.urls).startsWith("turn"));
  return {
    local: [local.candidateType, local.address, local.relayProtocol || null],
    remote: [remote.candidateType, remote.address, remote.port],
    remotes,
    username: turn ? turn.username : null,
  };
}"""


@dataclass
class Centre:
    """The namespaces, coturn and the server, and how Chromium reaches and trusts them."""

    ns: Namespaces
    server: NamespacedServer
    coturn: Coturn
    trusted: str  # --ignore-certificate-errors-spki-list: the server's and coturn's keys
    folder: Path


@pytest.fixture(scope="module")
def network_centre(tmp_path_factory: pytest.TempPathFactory, artifacts: Path) -> Iterator[Centre]:
    """The centre's network with coturn and the server on it, for the module's seats."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    require_namespaces()
    require_coturn()
    folder = tmp_path_factory.mktemp("centre")
    authority = CertAuthority(folder / "ca")
    server_tls = authority.issue(
        "server", [centre.SERVER_NAME, centre.SERVER_PUBLIC, centre.SERVER_LAN, "127.0.0.1"]
    )
    turn_tls = authority.issue("turn", [centre.TURN_PUBLIC])
    ns = Namespaces(f"rsn{os.getpid() % 100000}")
    coturn = Coturn(
        CoturnSettings(
            listen_ip=centre.TURN_PUBLIC,
            port=centre.TURN_PORT,
            tls_port=centre.TURN_TLS_PORT,
            relay_ip=centre.TURN_PUBLIC,
            secret=SECRET,
            tls=turn_tls,
            netns=ns.full("turn"),
        ),
        folder / "coturn",
    )
    low, high = centre.MEDIA_PORTS
    log_path = artifacts / "server-networks.log"
    log_path.unlink(missing_ok=True)
    server = NamespacedServer(
        ns,
        "srv",
        folder / "data",
        server_tls,
        [
            "--bind",
            f"0.0.0.0:{centre.HTTPS_PORT}",
            "--public-url",
            f"https://{centre.SERVER_NAME}",
            "--workers",
            "1",
            "--ice-host",
            centre.SERVER_LAN,
            "--announced-address",
            centre.SERVER_PUBLIC,
            "--media-ports",
            f"{low}-{high}",
            "--ice-server",
            f"turn:{centre.TURN_PUBLIC}:{centre.TURN_PORT}?transport=udp",
            "--ice-server",
            f"turns:{centre.TURN_PUBLIC}:{centre.TURN_TLS_PORT}?transport=tcp",
            "--turn-secret",
            SECRET,
            "--turn-ttl",
            str(TURN_TTL_S),
        ],
        log_path,
        authority.cert_path,
    )
    try:
        centre.build(ns)
        coturn.start()
        server.seed_demo()
        server.start()
        trusted = ",".join(spki_hash(t.cert) for t in (server_tls, turn_tls))
        yield Centre(ns, server, coturn, trusted, folder)
    finally:
        server.stop()
        coturn.close()
        ns.close()


@pytest.fixture
def seat_on(browser: Any, media_files: MediaFiles, network_centre: Centre) -> Iterator[Any]:
    """Open a seat page in a Chromium running on a host of the centre's network."""
    launched: list[Any] = []
    pages: list[SeatPage] = []

    def opener(host: str, server_address: str, url: str) -> SeatPage:
        chromium = launch_on(
            browser.browser_type,
            network_centre.ns,
            host,
            network_centre.folder,
            media_files,
            {centre.SERVER_NAME: server_address},
            network_centre.trusted,
        )
        launched.append(chromium)
        page = SeatPage(chromium, url, KEEP_PEERS)
        pages.append(page)
        return page

    yield opener
    for page in pages:
        page.close()
    for chromium in launched:
        chromium.close()


def _selected(seat: SeatPage) -> dict[str, Any]:
    pair = seat.page.evaluate(SELECTED_PAIR)
    assert pair is not None, "no selected candidate pair"
    return dict(pair)


def _media_arrives(network_centre: Centre, seat: SeatPage) -> None:
    key = seat.self_key()
    deadline = time.monotonic() + 15
    frames: dict[str, float] = {}
    while time.monotonic() < deadline:
        status, body = network_centre.server.get("/metrics")
        assert status == 200, body[:300]
        counts = inbound_frames(body).items()
        frames = {kind: n for (seat_key, kind), n in counts if seat_key == key}
        if all(frames.get(kind, 0) > 0 for kind in ("camera", "microphone", "desktop")):
            return
        time.sleep(0.5)  # polling interval of a deadline-bounded wait
    raise AssertionError(f"media of {key} did not reach the server: {frames}")


def test_a_sub_venue_behind_nat_goes_live_through_the_relay_and_renews_its_credentials(
    network_centre: Centre, seat_on: Any, artifacts: Path
) -> None:
    centre.apply_policy(network_centre.ns, centre.SubVenuePolicy.RELAY_ONLY)
    expert = network_centre.server.expert("大连")
    seat = seat_on("sub", centre.SERVER_PUBLIC, expert["url"])
    seat.wait_live()
    pair = _selected(seat)
    # Its own host candidate reaches nothing; the relay reaches the server's announced address.
    assert pair["local"][:2] == ["relay", centre.TURN_PUBLIC], pair
    assert pair["remote"][:2] == ["srflx", centre.SERVER_PUBLIC], pair
    low, high = centre.MEDIA_PORTS
    assert low <= pair["remote"][2] <= high, pair
    username = pair["username"]
    expiry, _, subject = username.partition(":")
    assert subject == expert["participant_id"]
    assert int(expiry) - time.time() <= TURN_TTL_S + 1
    _media_arrives(network_centre, seat)
    seat.page.screenshot(path=str(artifacts / "network-sub-venue-relay.png"))
    # Before the credentials expire the page has new ones, in its connection's configuration.
    seat.page.wait_for_function(
        f"() => window.__peers[window.__peers.length - 1].getConfiguration().iceServers"
        f".some((s) => s.username && s.username !== {username!r})",
        timeout=(RENEW_AFTER_S + 10) * 1000,
    )
    renewed = _selected(seat)["username"]
    assert renewed != username and renewed.endswith(f":{expert['participant_id']}")
    assert int(renewed.partition(":")[0]) > int(expiry)
    servers = seat.page.evaluate(
        "window.__peers[window.__peers.length - 1].getConfiguration().iceServers"
    )
    turn = next(s for s in servers if "".join(s["urls"]).startswith("turn"))
    assert turn["credential"] == turn_rest_credential(SECRET, renewed)
    assert seat.state() == "live" and seat.errors == [], seat.errors
    # The server's own agent allocated nothing at the relay: every allocation is the page's.
    allocations = re.findall(r"username=<([^>]*)>, lifetime=", network_centre.coturn.log())
    assert allocations and all(a.endswith(f":{expert['participant_id']}") for a in allocations)


def test_a_venue_that_lets_only_https_out_goes_live_over_turn_tls(
    network_centre: Centre, seat_on: Any, artifacts: Path
) -> None:
    centre.apply_policy(network_centre.ns, centre.SubVenuePolicy.HTTPS_ONLY)
    expert = network_centre.server.expert("丹东")
    seat = seat_on("sub", centre.SERVER_PUBLIC, expert["url"])
    seat.wait_live(LIVE_DEADLINE_S)
    pair = _selected(seat)
    assert pair["local"] == ["relay", centre.TURN_PUBLIC, "tls"], pair
    assert pair["remote"][:2] == ["srflx", centre.SERVER_PUBLIC], pair
    _media_arrives(network_centre, seat)
    seat.page.screenshot(path=str(artifacts / "network-https-only.png"))
    assert seat.errors == [], seat.errors


def test_main_venue_seats_connect_directly_with_a_public_address_announced(
    network_centre: Centre, seat_on: Any
) -> None:
    expert = network_centre.server.expert("沈阳")
    seat = seat_on("main", centre.SERVER_LAN, expert["url"])
    seat.wait_live()
    pair = _selected(seat)
    assert pair["local"][:2] == ["host", centre.MAIN_SEAT], pair
    assert pair["remote"][:2] == ["host", centre.SERVER_LAN], pair
    # The public address was offered too, beside the host address and on the same port.
    port = pair["remote"][2]
    assert ["srflx", centre.SERVER_PUBLIC, port] in pair["remotes"], pair
    _media_arrives(network_centre, seat)
    assert seat.errors == [], seat.errors
