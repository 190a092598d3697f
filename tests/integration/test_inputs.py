"""Malformed input found in the landed server, each answered with a clear 4xx that leaves the
session working: the next request of the same session is served and archived."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from media.testing.synthetic import CounterVideoTrack
from roomserver.model import Role
from signaling.testing.seat import SyntheticSeat
from tests import polling
from tests.integration.conftest import RunningServer


async def _post(
    http: aiohttp.ClientSession, url: str, token: str, raw: bytes
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with http.post(url, data=raw, headers=headers) as r:
        return r.status, await r.json(content_type=None)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"kind": "\\ud800"}',  # a lone surrogate: no UTF-8 encoding exists for it
        b'{"kind": "notice", "fields": {"text": "\\ud800"}}',
        b'{"kind": "notice", "fields": {"text": NaN}}',
        b'{"kind": "notice", "fields": {"text": "x", "n": Infinity}}',
        b"[" * 100_000 + b"]" * 100_000,  # Python's parser would raise RecursionError
        b'{"kind": "notice", "fields": {"text": "\\u0000"}}',
    ],
)
async def test_a_value_nothing_could_archive_is_refused_and_the_session_goes_on(
    room_server: RunningServer, raw: bytes
) -> None:
    server = room_server
    sid = server.demo.session.id
    bidder = server.tokens.issue_party(Role.BIDDER, "投标人", sid)
    host = server.token(server.participant(Role.HOST))
    url = f"{server.base_url}/api/sessions/{sid}/workflow"
    async with aiohttp.ClientSession() as http:
        for token in (bidder, host):
            status, problem = await _post(http, url, token, raw)
            assert status in (400, 403), problem
            assert problem["code"] in ("invalid_request", "role_not_allowed")
        # The session is not poisoned: a seat joins, and the next command is logged and
        # archived.
        seat = SyntheticSeat(
            server.base_url,
            server.token(server.experts[0]),
            camera=CounterVideoTrack((90, 120, 200)),
        )
        async with seat:
            status, body = await _post(http, url, host, b'{"kind": "open_check_in"}')
            assert status == 200, body
            room = server.services.rooms.find(sid)
            assert room is not None and room.archive is not None
            last = (await server.services.store.list_events(sid))[-1].seq
            await polling.wait_until(
                lambda: room.archive is not None and room.archive.last_seq >= last,
                10,
                "the command archived",
            )


async def test_wrong_types_and_sizes_are_refused_with_400(room_server: RunningServer) -> None:
    server = room_server
    sid = server.demo.session.id
    main = server.demo.venues[0].id
    door = server.tokens.issue_door(main)
    supervisor = server.token(server.participant(Role.SUPERVISOR))
    host = server.token(server.participant(Role.HOST))
    async with aiohttp.ClientSession() as http:
        door_url = f"{server.base_url}/api/venues/{main}/door-access"
        for body in ({"name": "张三", "direction": ["in"]}, {"name": ["x"], "direction": "in"}):
            status, problem = await _post(http, door_url, door, json.dumps(body).encode())
            assert (status, problem["code"]) == (400, "invalid_request"), problem
        url = f"{server.base_url}/api/sessions/{sid}/workflow"
        status, problem = await _post(
            http, url, host, b'{"kind": "open_incident", "fields": {"venue": "v", "kind": []}}'
        )
        assert status in (400, 409) and problem["code"] != "internal", problem
        headers = {"Authorization": f"Bearer {supervisor}"}
        activity = f"{server.base_url}/api/sessions/{sid}/activity"
        for after in (str(2**70), "-1", "abc"):
            async with http.get(activity, params={"after": after}, headers=headers) as r:
                assert r.status == 400, await r.text()
        long_id = "a" * 3000
        archive = f"{server.base_url}/api/archive/sessions/{long_id}/files/part-0001/events.jsonl"
        auditor = server.tokens.issue_auditor("审计")
        async with http.get(archive, headers={"Authorization": f"Bearer {auditor}"}) as r:
            assert r.status == 400, await r.text()


async def test_a_large_report_from_someone_who_may_not_upload_is_refused_unread(
    room_server: RunningServer,
) -> None:
    server = room_server
    sid = server.demo.session.id
    bidder = server.tokens.issue_party(Role.BIDDER, "投标人", sid)
    url = f"{server.base_url}/api/sessions/{sid}/report"
    sent = 0

    async def body() -> Any:
        nonlocal sent
        for _ in range(40 * 16):  # 40 MB, if the server read it
            sent += 64 * 1024
            yield b"%" * (64 * 1024)

    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {bidder}", "Content-Length": str(40 * 1024 * 1024)}
        try:
            async with http.post(url, data=body(), headers=headers) as r:
                assert r.status == 403
        except aiohttp.ClientError:
            pass  # the server answered and closed before the upload ended: also unread
    assert sent < 40 * 1024 * 1024


async def test_an_ice_candidate_that_is_not_one_is_refused(room_server: RunningServer) -> None:
    server = room_server
    seat = SyntheticSeat(
        server.base_url, server.token(server.experts[0]), camera=CounterVideoTrack((90, 120, 200))
    )
    async with seat:
        for candidate in ("candidate:", "candidate:1 1 udp", "x" * 100):
            answer = await seat._sio.call(  # the page's own request, malformed
                "ice_candidate",
                {"candidate": candidate, "sdpMid": "0", "sdpMLineIndex": 0},
                namespace="/seat",
                timeout=10,
            )
            assert answer["ok"] is False and answer["error"]["code"] == "invalid_request"
