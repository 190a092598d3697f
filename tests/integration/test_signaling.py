"""The seat namespace and REST API against the real app, real Socket.IO clients, real aiortc."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
import socketio
from aiortc import RTCPeerConnection

from media.mixer import FULL_MIX
from media.testing.synthetic import CounterVideoTrack, ToneAudioTrack
from roomserver.model import Participant, Role
from signaling.testing.seat import SyntheticSeat
from tests.integration.conftest import RunningServer
from tests.polling import wait_until

NS = "/seat"


async def refusal(base_url: str, auth: Any) -> dict[str, Any]:
    """Connect and return what the server refused with."""
    client = socketio.AsyncClient(reconnection=False)
    refused: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    @client.on("connect_error", namespace=NS)
    def on_error(data: Any) -> None:
        if not refused.done():
            refused.set_result(data)

    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(base_url, namespaces=[NS], auth=auth, transports=["websocket"])
    await client.disconnect()
    return await asyncio.wait_for(refused, 5)


@asynccontextmanager
async def seat_socket(base_url: str, token: str) -> AsyncIterator[socketio.AsyncClient]:
    """A connected Socket.IO client of one seat (no media)."""
    client = socketio.AsyncClient(reconnection=False)
    # The client's own wait for the namespace is 1 s by default: too short on a busy machine.
    await client.connect(
        base_url, namespaces=[NS], auth={"token": token}, transports=["websocket"], wait_timeout=10
    )
    try:
        yield client
    finally:
        await client.disconnect()


async def events_of(server: RunningServer, kind: str) -> list[dict[str, Any]]:
    """The data of every logged event of `kind`."""
    events = await server.services.store.list_events()
    return [dict(e.data) for e in events if e.kind == kind]


async def test_invalid_token_is_refused_with_a_reason(room_server: RunningServer) -> None:
    refused = await refusal(room_server.base_url, {"token": "not-a-token"})
    assert refused["data"]["code"] == "invalid_token"
    assert refused["message"] == "登录凭证无效"
    refused = await refusal(room_server.base_url, None)
    assert refused["data"]["code"] == "invalid_token"
    logged = await events_of(room_server, "connect_refused")
    assert [e["code"] for e in logged] == ["invalid_token", "invalid_token"]


async def test_expired_token_is_refused(room_server: RunningServer) -> None:
    expert = room_server.experts[0]
    token = room_server.tokens.issue(expert, ttl_s=-30)
    refused = await refusal(room_server.base_url, {"token": token})
    assert refused["data"]["code"] == "token_expired"


async def test_token_of_another_server_is_refused(room_server: RunningServer) -> None:
    from signaling.gate.tokens import TokenIssuer

    forged = TokenIssuer(b"k" * 32, default_ttl_s=60).issue(room_server.experts[0])
    refused = await refusal(room_server.base_url, {"token": forged})
    assert refused["data"]["code"] == "invalid_token"


async def test_non_expert_cannot_take_a_seat(room_server: RunningServer) -> None:
    supervisor = room_server.participant(Role.SUPERVISOR)
    refused = await refusal(room_server.base_url, {"token": room_server.token(supervisor)})
    assert refused["data"]["code"] == "role_not_allowed"


async def test_seat_beyond_the_venue_is_refused(room_server: RunningServer) -> None:
    expert = room_server.experts[0]
    fake = Participant(
        id=expert.id,
        session_id=expert.session_id,
        role=Role.EXPERT,
        name=expert.name,
        venue_id=expert.venue_id,
        seat_no=99,
    )
    refused = await refusal(room_server.base_url, {"token": room_server.token(fake)})
    assert refused["data"]["code"] == "not_your_room"

    stranger = Participant(
        id="nobody",
        session_id=expert.session_id,
        role=Role.EXPERT,
        name="某人",
        venue_id=expert.venue_id,
        seat_no=7,
    )
    refused = await refusal(room_server.base_url, {"token": room_server.token(stranger)})
    assert refused["data"]["code"] == "not_found"


async def test_join_returns_the_seat_and_the_roster(room_server: RunningServer) -> None:
    expert = room_server.experts[3]  # 大连, seat 1
    rosters: list[dict[str, Any]] = []
    async with seat_socket(room_server.base_url, room_server.token(expert)) as client:
        client.on("roster", rosters.append, namespace=NS)
        ack = await client.call("join", {}, namespace=NS)
    assert ack["ok"] is True
    assert ack["seat"]["label"] == "大连副场 · 1号机位"
    assert ack["seat"]["expert_name"] == expert.name
    labels = [s["label"] for s in ack["roster"]["seats"]]
    assert labels[:3] == ["沈阳主场 · 1号机位", "沈阳主场 · 2号机位", "沈阳主场 · 3号机位"]
    assert len(labels) == 6
    online = {s["label"]: s["online"] for s in ack["roster"]["seats"]}
    assert online["大连副场 · 1号机位"] is True
    assert online["沈阳主场 · 1号机位"] is False


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("offer", {"type": "offer", "sdp": "v=0 garbage that is not sdp", "roles": {}}),
        ("offer", {"type": "offer", "sdp": "x" * 70_000, "roles": {"0": "camera"}}),
        ("offer", {"type": "answer", "sdp": "v=0\r\n", "roles": {}}),
        ("offer", {"type": "offer", "sdp": "v=0\r\n", "roles": {"0": "screen"}}),
        ("offer", "just a string"),
        ("ice_candidate", {"candidate": 42}),
        ("join", {"unexpected": True}),
    ],
)
async def test_malformed_requests_get_an_error_ack_and_change_nothing(
    room_server: RunningServer, event: str, payload: Any
) -> None:
    expert = room_server.experts[0]
    async with seat_socket(room_server.base_url, room_server.token(expert)) as client:
        ack = await client.call(event, payload, namespace=NS)
        assert ack["ok"] is False
        assert ack["error"]["code"] == "invalid_request"
        assert ack["error"]["message"]
        # The connection survives and still works.
        assert (await client.call("join", {}, namespace=NS))["ok"] is True
    room = room_server.services.rooms.find(expert.session_id)
    assert room is not None
    assert all(state.tracks == set() for state in room.seats.values())
    media = room_server.media(expert.session_id)
    assert media is not None and media.inputs() == []
    refused = await events_of(room_server, "request_refused")
    assert refused and refused[-1]["event"] == event


async def test_offer_whose_roles_do_not_match_the_media_is_refused(
    room_server: RunningServer,
) -> None:
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="sendrecv")
    pc.addTransceiver("video", direction="sendrecv")
    await pc.setLocalDescription(await pc.createOffer())
    mids = [t.mid for t in pc.getTransceivers()]
    expert = room_server.experts[0]
    async with seat_socket(room_server.base_url, room_server.token(expert)) as client:
        # Audio section labelled as a camera.
        ack = await client.call(
            "offer",
            {
                "type": "offer",
                "sdp": pc.localDescription.sdp,
                "roles": {mids[0]: "camera", mids[1]: "microphone"},
            },
            namespace=NS,
        )
        assert ack["ok"] is False and ack["error"]["code"] == "invalid_request"
        # A section with no role at all.
        ack = await client.call(
            "offer",
            {"type": "offer", "sdp": pc.localDescription.sdp, "roles": {mids[0]: "microphone"}},
            namespace=NS,
        )
        assert ack["ok"] is False and ack["error"]["code"] == "invalid_request"
    await pc.close()


async def test_second_connection_to_a_seat_replaces_the_first(room_server: RunningServer) -> None:
    expert = room_server.experts[1]
    replaced: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    gone = asyncio.Event()
    first = socketio.AsyncClient(reconnection=False)
    first.on("replaced", lambda data: replaced.set_result(data), namespace=NS)
    first.on("disconnect", lambda *a: gone.set(), namespace=NS)
    await first.connect(
        room_server.base_url,
        namespaces=[NS],
        auth={"token": room_server.token(expert)},
        transports=["websocket"],
    )
    async with seat_socket(room_server.base_url, room_server.token(expert)) as second:
        data = await asyncio.wait_for(replaced, 5)
        assert data["code"] == "seat_replaced"
        assert "另一" in data["message"]
        await asyncio.wait_for(gone.wait(), 5)
        assert (await second.call("join", {}, namespace=NS))["ok"] is True
        room = room_server.services.rooms.find(expert.session_id)
        assert room is not None and len(room.seats) == 1
    await first.disconnect()
    assert await events_of(room_server, "seat_replaced")


async def test_a_seat_with_media_joins_and_leaves_without_leftovers(
    room_server: RunningServer,
) -> None:
    expert = room_server.experts[0]
    seat = SyntheticSeat(
        room_server.base_url,
        room_server.token(expert),
        camera=CounterVideoTrack((200, 40, 40)),
        microphone=ToneAudioTrack(440),
    )
    async with seat:
        await seat.wait_grid_frames(5, timeout=10)
        room = room_server.services.rooms.find(expert.session_id)
        assert room is not None
        await wait_until(
            lambda: next(iter(room.seats.values())).media_state == "connected",
            5,
            "the worker reports the seat connected",
        )
        media = room_server.media(expert.session_id)
        assert media is not None
        await seat.wait_roster(
            lambda r: any(
                s["online"] and {"camera", "microphone"} <= set(s["tracks"]) for s in r["seats"]
            ),
            timeout=10,
        )
    # Disconnect closes the peer and frees the seat; the room's inputs stop.
    await wait_until(lambda: not room.seats and not media.inputs(), 5, "seat freed")
    assert media.grid.subscribers == 0
    kinds = [e.kind for e in await room_server.services.store.list_events(expert.session_id)]
    for kind in ("seat_connected", "seat_joined", "media_negotiated", "seat_disconnected"):
        assert kind in kinds


async def test_client_that_vanishes_mid_negotiation_leaves_nothing(
    room_server: RunningServer,
) -> None:
    expert = room_server.experts[2]
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="sendrecv")
    pc.addTransceiver("video", direction="sendrecv")
    await pc.setLocalDescription(await pc.createOffer())
    roles = dict(zip([t.mid for t in pc.getTransceivers()], ["microphone", "camera"], strict=True))
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(
        room_server.base_url,
        namespaces=[NS],
        auth={"token": room_server.token(expert)},
        transports=["websocket"],
    )
    ack = await client.call(
        "offer", {"type": "offer", "sdp": pc.localDescription.sdp, "roles": roles}, namespace=NS
    )
    assert ack["ok"] is True
    # Gone before ICE/DTLS completes: the server must drop the half-made connection.
    await pc.close()
    await client.disconnect()
    room = room_server.services.rooms.find(expert.session_id)
    media = room_server.media(expert.session_id)
    assert room is not None and media is not None
    await wait_until(
        lambda: not room.seats and not media.inputs() and not media.grid.subscribers,
        5,
        "half-made connection dropped",
    )
    # Only the room's own full-mix encoder (for the archive) still listens.
    assert set(media.mixer._listeners) == {FULL_MIX}


async def test_health_metrics_and_rest(room_server: RunningServer) -> None:
    base = room_server.base_url
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/healthz") as r:
            assert r.status == 200 and (await r.json())["status"] == "ok"
        async with http.get(f"{base}/metrics") as r:
            text = await r.text()
            assert "roomserver_rooms" in text and "roomserver_event_loop_lag_seconds" in text
        expert = room_server.experts[0]
        async with http.post(f"{base}/api/tokens", json={"participant_id": expert.id}) as r:
            assert r.status == 401
            assert (await r.json())["code"] == "invalid_token"
        headers = {"Authorization": f"Bearer {room_server.token(expert)}"}
        async with http.post(
            f"{base}/api/tokens", json={"participant_id": expert.id}, headers=headers
        ) as r:
            assert r.status == 403
        admin = {"Authorization": f"Bearer {room_server.tokens.issue_admin()}"}
        async with http.post(
            f"{base}/api/tokens", json={"participant_id": expert.id}, headers=admin
        ) as r:
            assert r.status == 201
            body = await r.json()
        assert "/seat?code=" in body["url"] and "token" not in body["url"]
        assert room_server.tokens.verify(body["token"]).participant_id == expert.id
        async with http.post(
            f"{base}/api/tokens", json={"participant_id": "nope"}, headers=admin
        ) as r:
            assert r.status == 404
        async with http.post(f"{base}/api/tokens", data=b"{", headers=admin) as r:
            assert r.status == 400
        async with http.get(
            f"{base}/api/sessions/{expert.session_id}/roster", headers=headers
        ) as r:
            assert r.status == 200
            assert len((await r.json())["seats"]) == 6
        async with http.get(f"{base}/api/sessions/other/roster", headers=headers) as r:
            assert r.status == 403
        async with http.get(f"{base}/seat") as r:
            assert r.status == 200 and "text/html" in r.headers["Content-Type"]
        async with http.get(f"{base}/vendor/socket.io-client/socket.io.esm.min.js") as r:
            assert r.status == 200
        supervisor = room_server.participant(Role.SUPERVISOR)
        bearer = {"Authorization": f"Bearer {room_server.token(supervisor)}"}
        async with http.get(f"{base}/api/me", headers=bearer) as r:
            me = await r.json()
        assert me["role"] == "supervisor" and me["name"] == supervisor.name
        assert me["session"]["project_code"] == "LN-DEMO-0001"
        assert me["venue_id"] is None  # a supervisor of the whole session
        staff = room_server.participant(Role.STAFF)
        bearer = {"Authorization": f"Bearer {room_server.token(staff)}"}
        async with http.get(f"{base}/api/me", headers=bearer) as r:
            assert (await r.json())["venue_id"] == staff.venue_id
        async with http.get(f"{base}/api/me") as r:
            assert r.status == 401
        async with http.get(f"{base}/overview") as r:
            assert r.status == 200 and "评标场次概况" in await r.text()


async def test_a_seat_that_decodes_nothing_still_counts_what_it_receives(
    room_server: RunningServer,
) -> None:
    """The load generators' seats (decode=False) count encoded grid frames and mix seconds."""
    async with SyntheticSeat(
        room_server.base_url,
        room_server.token(room_server.experts[1]),
        camera=CounterVideoTrack((20, 200, 40)),
        microphone=ToneAudioTrack(660.0),
        decode=False,
        name="counting",
    ) as seat:
        await seat.wait_grid_frames(15, 30.0)
        await seat.wait_audio_seconds(1.0, 30.0)
        assert len(seat.grid_frames) == 0  # no picture kept: none was decoded


async def test_experts_see_each_other_but_no_id_digits_or_withdrawal_reasons(
    room_server: RunningServer,
) -> None:
    """Experts' seats get the others' names and seats, but nobody's ID number digits and not
    why an expert withdrew; the host's console keeps both."""
    server = room_server
    session_id = server.demo.session.id
    watching, leaving = server.experts[0], server.experts[1]
    reason = "与投标人甲有亲属关系"
    digits = {p.id_last4 for p in server.experts if p.id_last4}
    received: list[tuple[str, Any]] = []
    console_events: list[tuple[str, Any]] = []
    console = socketio.AsyncClient(reconnection=False)
    for name in ("hello", "roster", "activity"):
        console.on(name, lambda data, name=name: console_events.append((name, data)), "/console")
    host = server.token(server.participant(Role.HOST))
    await console.connect(
        server.base_url, namespaces=["/console"], auth={"token": host}, transports=["websocket"]
    )
    try:
        async with (
            seat_socket(server.base_url, server.token(watching)) as seat,
            seat_socket(server.base_url, server.token(leaving)) as other,
        ):
            for name in ("roster", "workflow"):
                seat.on(name, lambda data, name=name: received.append((name, data)), NS)
            received.append(("join", await seat.call("join", {}, namespace=NS)))
            await other.call("join", {}, namespace=NS)
            async with aiohttp.ClientSession() as http:
                base = f"{server.base_url}/api/sessions/{session_id}/workflow"
                for token, kind, fields in (
                    (host, "open_check_in", {}),
                    (server.token(leaving), "withdraw", {"reason": reason}),
                ):
                    body = {"kind": kind, "fields": fields}
                    headers = {"Authorization": f"Bearer {token}"}
                    async with http.post(base, json=body, headers=headers) as answer:
                        assert answer.status == 200, await answer.text()

            def withdrawal() -> dict[str, Any] | None:
                return next(
                    (
                        data["happened"]
                        for name, data in received
                        if name == "workflow"
                        and (data.get("happened") or {}).get("kind") == "expert_withdrew"
                    ),
                    None,
                )

            await wait_until(lambda: withdrawal() is not None, 10, "the withdrawal at the seat")
            await wait_until(
                lambda: any(n == "activity" and reason in str(d) for n, d in console_events),
                10,
                "the withdrawal on the console",
            )
    finally:
        await console.disconnect()

    # The seat was told who withdrew, not why.
    assert withdrawal() == {"kind": "expert_withdrew", "data": {"expert": leaving.id}}
    rosters = [data for name, data in received if name == "roster"]
    rosters.append(next(data for name, data in received if name == "join")["roster"])
    seats = [seat for roster in rosters for seat in roster["seats"]]
    assert {s["expert_name"] for s in seats} == {p.name for p in server.experts}
    assert all("id_last4" not in s and not digits & set(map(str, s.values())) for s in seats)
    assert reason not in str(received)
    # The host's console keeps what staff check identities and withdrawals with.
    hello = next(data for name, data in console_events if name == "hello")
    assert {s["id_last4"] for s in hello["roster"]["seats"]} == digits
