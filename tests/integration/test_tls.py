"""The built-in TLS: a renewed certificate is taken on SIGHUP while seats stay connected, and
every response over HTTPS carries HSTS.

The server runs as an operator starts it (``python -m signaling.cli serve --tls-cert ...``),
with a certificate of a test authority for 127.0.0.1; the seats are real Socket.IO + aiortc
clients that verify the server against that authority.
"""

from __future__ import annotations

import asyncio
import signal
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from media.testing.synthetic import CounterVideoTrack, ToneAudioTrack
from signaling.testing.seat import SyntheticSeat
from tests.network.certs import CertAuthority, Issued
from tests.serverproc import ServerProcess

MEDIA_TIMEOUT = 30.0


class TlsServer(ServerProcess):
    """The server over HTTPS with a certificate of `authority`."""

    def __init__(self, data_dir: Path, authority: CertAuthority) -> None:
        self.authority = authority
        self.issued = authority.issue("server", ["127.0.0.1"])
        client = ssl.create_default_context(cafile=authority.cert_path)
        super().__init__(
            data_dir,
            extra_args=("--tls-cert", str(self.issued.cert), "--tls-key", str(self.issued.key)),
            ssl=client,
        )

    def renew(self) -> Issued:
        """A new certificate and key written over the old files, as a renewal does."""
        self.issued = self.authority.issue("server", ["127.0.0.1"])
        return self.issued

    async def serial_seen_by_a_new_connection(self) -> int:
        """The serial number of the certificate a new TLS connection is shown."""
        assert self.ssl is not None
        _reader, writer = await asyncio.open_connection("127.0.0.1", self.port, ssl=self.ssl)
        try:
            peer = writer.get_extra_info("ssl_object").getpeercert()
            return int(peer["serialNumber"], 16)
        finally:
            writer.close()
            await writer.wait_closed()


@pytest.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[TlsServer]:
    server = TlsServer(tmp_path / "data", CertAuthority(tmp_path / "ca"))
    await server.demo()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_a_renewed_certificate_is_taken_on_sighup_and_seats_stay_connected(
    tls_server: TlsServer,
) -> None:
    server = tls_server
    first = server.issued.serial
    assert await server.serial_seen_by_a_new_connection() == first
    seats = [
        SyntheticSeat(
            server.base_url,
            server.token(n),
            camera=CounterVideoTrack(color),
            microphone=ToneAudioTrack(440.0 + 220 * n),
            name=f"seat-{n}",
            ssl=server.ssl,
        )
        for n, color in enumerate(((200, 40, 40), (40, 200, 40)))
    ]
    async with seats[0], seats[1]:
        for seat in seats:
            await seat.wait_grid_frames(10, MEDIA_TIMEOUT)
        pcs = [seat.peer_connection for seat in seats]
        renewed = server.renew()
        assert renewed.serial != first
        # Until the signal, new connections are still shown the certificate loaded at start.
        assert await server.serial_seen_by_a_new_connection() == first
        assert server.proc is not None
        server.proc.send_signal(signal.SIGHUP)
        deadline = asyncio.get_running_loop().time() + 10
        while await server.serial_seen_by_a_new_connection() != renewed.serial:
            assert asyncio.get_running_loop().time() < deadline, server.log()
            await asyncio.sleep(0.1)  # the reload has no event a client could wait on
        # The seats were not dropped: same sockets, same peer connections, media still coming.
        for seat, pc in zip(seats, pcs, strict=True):
            frames = seat.grid_frame_count
            await seat.wait_grid_frames(frames + 15, MEDIA_TIMEOUT)
            assert seat.peer_connection is pc and pc is not None
            assert pc.connectionState == "connected"
            assert not [e for e, _ in seat.events if e in ("disconnect", "server_shutdown")]
            assert seat.media_restarts == 0
        assert "TLS certificate reloaded" in server.log(200)
        # A broken renewal (a key of another certificate) keeps the certificate that works.
        other = server.authority.issue("other", ["127.0.0.1"])
        server.issued.key.write_bytes(other.key.read_bytes())
        server.proc.send_signal(signal.SIGHUP)
        deadline = asyncio.get_running_loop().time() + 10
        while "TLS certificate not reloaded" not in server.log(200):
            assert asyncio.get_running_loop().time() < deadline, server.log()
            await asyncio.sleep(0.1)  # as above: only the log tells
        assert await server.serial_seen_by_a_new_connection() == renewed.serial
        assert server.proc.returncode is None


async def test_every_response_over_https_carries_hsts(tls_server: TlsServer) -> None:
    connector = aiohttp.TCPConnector(ssl=tls_server.ssl)
    async with aiohttp.ClientSession(connector=connector) as http:
        for path in ("/", "/seat", "/static/lib/dom.js", "/healthz", "/api/me", "/no-such-page"):
            async with http.get(tls_server.base_url + path) as r:
                hsts = r.headers.get("Strict-Transport-Security")
                assert hsts == "max-age=31536000", (path, hsts)
                assert r.headers.get("Referrer-Policy") == "no-referrer", path
                assert r.headers.get("X-Frame-Options") == "DENY", path


async def test_sighup_without_the_built_in_tls_leaves_the_server_running(tmp_path: Path) -> None:
    """Behind a reverse proxy the server has no certificate of its own; `systemctl reload`
    (SIGHUP) must not end it, nor interrupt its recordings."""
    server = ServerProcess(tmp_path / "data")
    await server.demo()
    await server.start()
    try:
        assert server.proc is not None
        server.proc.send_signal(signal.SIGHUP)
        async with aiohttp.ClientSession() as http:
            # The handler logs the signal; until then the process may not have seen it.
            for _ in range(100):
                if "SIGHUP: no built-in TLS" in server.log():
                    break
                await asyncio.sleep(0.1)  # the log file is the only sign; polled
            assert "SIGHUP: no built-in TLS" in server.log()
            async with http.get(f"{server.base_url}/livez") as r:
                assert r.status == 200
        assert server.proc.returncode is None
    finally:
        await server.stop()
