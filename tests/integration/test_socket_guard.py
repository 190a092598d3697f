"""Socket.IO takes pages of the server's own origin only, and refuses the default namespace."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import socketio

from roomserver.model import Role
from signaling.config import load_config
from signaling.sockets.origin import OriginCheck
from tests.integration.conftest import RunningServer, start_server

TRANSPORTS = [["websocket"], ["polling"]]


async def connects(
    base_url: str, token: str, *, origin: str | None, transports: list[str], ns: str = "/seat"
) -> tuple[bool, Any]:
    """Whether a client with this Origin header gets connected; what a refusal said."""
    client = socketio.AsyncClient(reconnection=False)
    refused: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    @client.on("connect_error", namespace=ns)
    def on_error(data: Any) -> None:
        if not refused.done():
            refused.set_result(data)

    headers = {"Origin": origin} if origin is not None else {}
    try:
        await client.connect(
            base_url,
            namespaces=[ns],
            auth={"token": token},
            headers=headers,
            transports=transports,
            wait_timeout=5,
        )
    except socketio.exceptions.ConnectionError as exc:
        await client.disconnect()
        said = refused.result() if refused.done() else str(exc)
        return False, said
    connected = client.connected
    await client.disconnect()
    return connected, None


@pytest.mark.parametrize("transports", TRANSPORTS, ids=["websocket", "polling"])
async def test_a_page_of_another_origin_is_refused_and_ours_is_let_in(
    room_server: RunningServer, transports: list[str]
) -> None:
    base = room_server.base_url
    port = urlsplit(base).port
    token = room_server.token(room_server.experts[0])
    for origin in ("http://evil.example", f"http://evil.example:{port}", "null"):
        ok, _ = await connects(base, token, origin=origin, transports=transports)
        assert not ok, origin
    # Another port of this very machine is another origin too.
    other_port = f"http://127.0.0.1:{port + 1}"
    ok, _ = await connects(base, token, origin=other_port, transports=transports)
    assert not ok
    for origin in (base, f"http://localhost:{port}"):
        ok, _ = await connects(base, token, origin=origin, transports=transports)
        assert ok, origin
    # Python clients send no Origin: they are not browsers, and keep working.
    ok, _ = await connects(base, token, origin=None, transports=transports)
    assert ok


async def test_with_a_public_url_only_that_origin_is_let_in(tmp_path: Path) -> None:
    server, running = await start_server(
        tmp_path / "data", "--public-url", "https://pb.example.cn/"
    )
    try:
        token = running.token(running.experts[0])
        for origin, wanted in (
            ("https://pb.example.cn", True),
            ("https://pb.example.cn:443", True),
            ("http://pb.example.cn", False),
            (running.base_url, False),
        ):
            ok, _ = await connects(running.base_url, token, origin=origin, transports=["websocket"])
            assert ok is wanted, origin
    finally:
        await server.close()


async def test_the_default_namespace_refuses_every_connection(room_server: RunningServer) -> None:
    # The refusal is the namespace's, the same on either transport (over polling, the test
    # client then takes half a minute to let go of its long poll).
    for participant in (room_server.experts[0], room_server.participant(Role.HOST)):
        ok, said = await connects(
            room_server.base_url,
            room_server.token(participant),
            origin=room_server.base_url,
            transports=["websocket"],
            ns="/",
        )
        assert not ok
        assert isinstance(said, dict) and said["data"]["code"] == "namespace_not_served", said


def test_a_server_listening_everywhere_takes_its_own_addresses_at_its_port() -> None:
    check = OriginCheck(load_config(["--bind", "0.0.0.0:8080"], environ={}))
    assert check.allows("http://127.0.0.1:8080")
    assert check.allows("http://localhost:8080")
    assert not check.allows("http://127.0.0.1:8081")
    assert not check.allows("https://127.0.0.1:8080")
    # A name, even one that resolves here: DNS rebinding would otherwise pass.
    assert not check.allows("http://rebind.example:8080")
    bound = OriginCheck(load_config(["--bind", "192.0.2.7:8080"], environ={}))
    assert bound.allows("http://192.0.2.7:8080")
    assert not bound.allows("http://localhost:8080")
