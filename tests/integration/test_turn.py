"""TURN credentials of one's own (the TURN REST scheme) against a real coturn on loopback.

coturn runs with the tests' ``turnserver.conf`` (``use-auth-secret``): a seat's page is handed
a username ``expiry:participant`` and its HMAC; coturn allocates a relay for it until it
expires and refuses it afterwards, whoever copied it. The server's own ICE agent allocates no
relay although the pages are given the TURN server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from aioice import stun, turn

from media.testing.synthetic import CounterVideoTrack, ToneAudioTrack
from signaling.config import turn_rest_credential
from signaling.testing.seat import SyntheticSeat
from tests.integration.conftest import RunningServer, start_server
from tests.network.certs import CertAuthority
from tests.network.coturn import Coturn, CoturnSettings, require_coturn
from tests.serverproc import free_port

pytestmark = pytest.mark.network

SECRET = "the-centres-coturn-secret"
TTL_S = 10  # the shortest the configuration takes


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[Coturn]:
    """coturn on 127.0.0.1 (UDP/TCP and TLS), sharing SECRET with the server."""
    require_coturn()
    tls = CertAuthority(tmp_path / "ca").issue("turn", ["127.0.0.1"])
    settings = CoturnSettings(
        listen_ip="127.0.0.1",
        port=free_port(),
        tls_port=free_port(),
        relay_ip="127.0.0.1",
        secret=SECRET,
        tls=tls,
        relay_ports=(49300, 49340),
        loopback_peers=True,
    )
    with Coturn(settings, tmp_path / "coturn") as server:
        yield server


class _Sink:
    """A protocol for the relayed transport that ignores what arrives."""

    def connection_made(self, transport: object) -> None:
        pass

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        pass


async def allocate(port: int, username: str, password: str) -> tuple[str, int]:
    """A relay allocation at coturn with these credentials (released again); its address."""
    transport, _ = await turn.create_turn_endpoint(
        _Sink, server_addr=("127.0.0.1", port), username=username, password=password
    )
    try:
        address = transport.get_extra_info("sockname")
        return str(address[0]), int(address[1])
    finally:
        transport.close()


async def refused_code(port: int, username: str, password: str) -> int:
    """The STUN error code coturn answers an allocation with these credentials."""
    with pytest.raises(stun.TransactionFailed) as failed:
        await allocate(port, username, password)
    code, _reason = failed.value.response.attributes["ERROR-CODE"]
    return int(code)


async def start_turn_server(tmp_path: Path, coturn: Coturn) -> tuple[TestServer, RunningServer]:
    """The app with coturn's UDP and TLS URLs for the pages and the shared secret."""
    port, tls_port = coturn.settings.port, coturn.settings.tls_port
    return await start_server(
        tmp_path / "data",
        "--ice-server",
        f"turn:127.0.0.1:{port}?transport=udp",
        "--ice-server",
        f"turns:127.0.0.1:{tls_port}?transport=tcp",
        "--turn-secret",
        SECRET,
        "--turn-ttl",
        str(TTL_S),
    )


async def test_each_seat_gets_its_own_expiring_credential_and_the_server_no_relay(
    tmp_path: Path, coturn: Coturn
) -> None:
    server, running = await start_turn_server(tmp_path, coturn)
    first, second = running.experts[0], running.experts[1]
    seats = [
        SyntheticSeat(
            running.base_url,
            running.token(expert),
            camera=CounterVideoTrack((200, 40, 40)),
            microphone=ToneAudioTrack(440.0),
            name=f"seat-{n}",
        )
        for n, expert in enumerate((first, second))
    ]
    try:
        # Each credential is issued while its seat starts: its expiry is TTL_S after that (the
        # expiry is in whole seconds, hence the second before).
        starting = time.time()
        async with seats[0], seats[1]:
            now = time.time()
            for seat, expert in zip(seats, (first, second), strict=True):
                udp, tls = seat.ice_servers
                assert udp["urls"] == [f"turn:127.0.0.1:{coturn.settings.port}?transport=udp"]
                assert tls["urls"][0].startswith("turns:")
                expiry, _, subject = udp["username"].partition(":")
                assert subject == expert.id
                assert starting - 1 <= int(expiry) - TTL_S <= now
                assert udp["credential"] == turn_rest_credential(SECRET, udp["username"])
                assert (tls["username"], tls["credential"]) == (udp["username"], udp["credential"])
            assert seats[0].ice_servers[0]["credential"] != seats[1].ice_servers[0]["credential"]
            # The server's answers offer host candidates only: its agent allocated no relay.
            for seat in seats:
                answer = seat.answer_sdp
                assert "typ host" in answer and "typ relay" not in answer, answer
            assert "ALLOCATE" not in coturn.log(), coturn.log()[-2000:]
            # The credential opens the relay for whoever holds it, until it expires.
            username, credential = (seats[0].ice_servers[0][k] for k in ("username", "credential"))
            relayed = await allocate(coturn.settings.port, username, credential)
            assert relayed[0] == "127.0.0.1"
            assert await refused_code(coturn.settings.port, username, credential + "x") == 401
    finally:
        await server.close()


async def test_a_copied_credential_stops_working_when_it_expires_and_the_page_renews(
    tmp_path: Path, coturn: Coturn
) -> None:
    server, running = await start_turn_server(tmp_path, coturn)
    expert = running.experts[0]
    token = running.token(expert)
    url = f"{running.base_url}/api/sessions/{running.demo.session.id}/ice-servers"
    try:
        async with aiohttp.ClientSession() as http:

            async def ask() -> dict[str, object]:
                async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as r:
                    assert r.status == 200, await r.text()
                    assert r.headers["Cache-Control"] == "no-store"
                    answer: dict[str, object] = await r.json()
                    return answer

            first = await ask()
            assert first["ice_renew_in_s"] == TTL_S - TTL_S // 5
            stolen = first["ice_servers"][0]  # type: ignore[index]
            await allocate(coturn.settings.port, stolen["username"], stolen["credential"])
            expires_at = int(first["ice_expires_at"])  # type: ignore[call-overload]
            # coturn compares the username's expiry with its clock, which it reads once a
            # second: nothing to wait on but that clock.
            await asyncio.sleep(max(0.0, expires_at - time.time()) + 2.5)
            code = await refused_code(
                coturn.settings.port, stolen["username"], stolen["credential"]
            )
            assert code == 401
            # The page's renewal is a fresh credential that works.
            renewed = (await ask())["ice_servers"][0]  # type: ignore[index]
            assert renewed["username"] != stolen["username"]
            await allocate(coturn.settings.port, renewed["username"], renewed["credential"])
    finally:
        await server.close()
