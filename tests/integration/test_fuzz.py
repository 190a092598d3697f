"""A bounded, seeded fuzz of every input the server takes, on loopback: every REST route (its
path parameters, query and body) and every Socket.IO event of every namespace, with a few
thousand malformed requests (lone surrogates, NaN, deep nesting, wrong types, huge numbers,
overlong ids, non-JSON bytes) from tokens of several roles.

It passes when no request got a 5xx, nothing was logged at ERROR or with a traceback,
``/healthz`` still answers, and afterwards a whole session of the same server runs from check-in
to the end instruction and its archive verifies.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import socketio
from yarl import URL

from roomserver.demo import create_load_session
from roomserver.model import Participant, Role, new_id
from signaling.gate.guard import ENDPOINTS
from signaling.http.links import issue_link, unrostered_link
from tests.integration.conftest import RunningServer
from tests.integration.sessionflow import run_whole_session

SEED = 20261207
REQUESTS_PER_ROUTE = 80
EVENTS_PER_NAMESPACE = 150

FIELD_NAMES = (
    "kind fields expert reason candidate candidates motion option options title text venue "
    "description incident handling result public_key report_sha256 signature handwriting_png "
    "no_conflict participant_id ttl_s experts name venue_id seat_no id_number direction at card "
    "role ttl_days type sdp roles sdpMid sdpMLineIndex usernameFragment session_id viewer seat "
    "camera id after q from to token abstain tie_rule max_rounds"
).split()
COMMANDS = (
    "open_check_in check_in commit withdraw replace_expert register_key start_election "
    "cast_ballot open_motion vote start_signing replace_report sign end force_end pause resume "
    "notice open_incident handle_incident close_incident excuse_expert close_motion cancel_motion"
).split()
# Raw bodies that no JSON encoder makes but a hostile client can send.
RAW_BODIES = (
    b'{"kind": "\\ud800"}',
    b'{"kind": "notice", "fields": {"text": "\\udfff\\ud800"}}',
    b'{"kind": "notice", "fields": {"text": NaN}}',
    b'{"kind": "pause", "fields": {"reason": Infinity}}',
    b"[" * 20000 + b"]" * 20000,
    b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b'{"kind": "notice", "fields": {"text": "\\u0000"}}',
    b"\xff\xfe\x00",
    b"",
    b"null",
    b"[]",
    b'"kind"',
    b"1" * 5000,
    b'{"participant_id": ["x"], "ttl_s": 1e400}',
    b'{"name": {"a": 1}, "direction": ["in"]}',
    b'{"experts": [{"name": "x", "venue_id": 1, "seat_no": "1"}]}',
)

BAD_AUTHORIZATION = ("Bearer \u540d", "Bearer", "x", "Bearer a.b.c", "Bearer " + "a" * 5000)


def _values(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(16)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice((True, False))
    if choice == 2:
        return rng.choice((0, -1, 1, 2**31, 2**63, 2**70, -(2**70)))
    if choice == 3:
        return rng.choice((0.5, -1e308, 1e308, float("nan"), float("inf")))
    if choice == 4:
        return "x" * rng.choice((0, 1, 64, 65, 501, 3000, 70_000))
    if choice == 5:
        return rng.choice(("\ud800", "a\udfffb", "\x00", "名字", "../../etc/passwd", " "))
    if choice == 6:
        return rng.choice(COMMANDS)
    if choice == 7 and depth < 3:
        return [_values(rng, depth + 1) for _ in range(rng.randrange(4))]
    if choice == 8 and depth < 3:
        return _object(rng, depth + 1)
    if choice == 9:
        return "candidate:" + rng.choice(("", "1", "1 1 udp 1 1.2.3.4 1 typ host", "x" * 40))
    if choice == 10:
        nested: Any = 1
        for _ in range(rng.choice((5, 13, 40, 400))):
            nested = [nested]
        return nested
    if choice == 11:
        return "v=0\r\n" + "a=" * rng.randrange(1, 50)
    if choice == 12:
        return rng.choice(("in", "out", "tenderer", "bidder", "offer", "camera", "grid"))
    return rng.choice(("0" * 64, "ab" * 32, "2026-12-07T10:00:00+08:00", "1", "-5"))


def _object(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    return {rng.choice(FIELD_NAMES): _values(rng, depth) for _ in range(rng.randrange(1, 6))}


def _body(rng: random.Random) -> bytes | Any:
    """A raw body (bytes) or a JSON-able value, sometimes close to a valid command."""
    pick = rng.randrange(5)
    if pick == 0:
        return rng.choice(RAW_BODIES)
    if pick == 1:
        return {"kind": rng.choice(COMMANDS), "fields": _object(rng)}
    if pick == 2:
        return _values(rng)
    return _object(rng)


def _path_values(rng: random.Random, good: dict[str, str]) -> Iterator[tuple[str, str]]:
    for name, value in good.items():
        yield (
            name,
            rng.choice(
                (
                    value,
                    value,
                    "x" * 3000,
                    "%ED%A0%80",
                    "..%2F..%2Fsecrets",
                    "%00",
                    "%E5%90%8D%E5%AD%97",  # 名字
                    "-1",
                    "99999999999999999999999",
                    "a" * 65,
                    "part-0001/../../secrets/token.key",
                )
            ),
        )


def _query(rng: random.Random) -> dict[str, str]:
    query: dict[str, str] = {}
    for _ in range(rng.randrange(3)):
        key = rng.choice(("after", "token", "q", "from", "to", "venue", "x"))
        query[key] = rng.choice(
            ("-1", str(2**70), "abc", "1e3", "NaN", "2026-13-45", "\u540d" * 300, "0")
        )
    return query


class _Collector(logging.Handler):
    """Every record at ERROR or above, and every record with a traceback."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            self.records.append(record)


async def test_no_input_breaks_the_server_or_a_session(room_server: RunningServer) -> None:
    server = room_server
    rng = random.Random(SEED)
    demo = server.demo
    sid = demo.session.id
    main = demo.venues[0].id
    # A bidder's archive link, for the routes that name one.
    week = datetime.now(UTC) + timedelta(days=7)
    party = unrostered_link(Role.BIDDER, "投标人", by="test", expires_at=week, session_id=sid)
    await issue_link(server.services.store, server.services.events.append, party)
    tokens = {
        "none": None,
        "admin": server.tokens.issue_admin(),
        "host": server.token(server.participant(Role.HOST)),
        "expert": server.token(server.experts[0]),
        "staff": server.token(server.participant(Role.STAFF)),
        "supervisor": server.tokens.issue_supervisor("省监督"),
        "bidder": server.tokens.issue_party(Role.BIDDER, "投标人", sid),
        "door": server.tokens.issue_door(main),
        "archivist": server.tokens.issue_auditor("审计"),
        "admin_centre": server.tokens.issue_admin("中心管理员", centre=demo.venues[0].centre_id),
        "ops": server.tokens.issue_ops("运维", centre=demo.venues[0].centre_id),
    }
    assert demo.opening is not None
    opening_bidder = next(p for p in demo.opening_people if p.role == Role.BIDDER)
    socket_tokens = {**tokens, "opening_bidder": server.token(opening_bidder)}
    good = {
        "session_id": sid,
        "venue_id": main,
        "expert_id": server.experts[0].id,
        "participant_id": server.experts[0].id,
        "index": "0",
        "part": "1",
        "name": "x.jpg",
        "job_id": "0123456789abcdef",
        "centre_id": demo.venues[0].centre_id,
        "path": "part-0001/events.jsonl",
        "link_id": party.id,
        "number": "1",
    }
    collector = _Collector()
    root = logging.getLogger()
    root.addHandler(collector)
    served: dict[int, int] = {}
    try:
        async with aiohttp.ClientSession() as http:
            routes = sorted(
                key
                for key in server.app[ENDPOINTS]
                # Socket.IO's transport is fuzzed through its events below.
                if not key[1].startswith(("/static", "/vendor", "/socket.io"))
            )
            assert len(routes) >= 30
            for method, template in routes:
                for _ in range(REQUESTS_PER_ROUTE):
                    path = template
                    for name, value in _path_values(rng, good):
                        path = path.replace("{" + name + "}", value)
                    token = tokens[rng.choice(list(tokens))]
                    headers = {"Authorization": f"Bearer {token}"} if token else {}
                    if rng.random() < 0.05:
                        headers = {"Authorization": rng.choice(BAD_AUTHORIZATION)}
                    kwargs: dict[str, Any] = {"headers": headers, "params": _query(rng)}
                    if method == "POST":
                        body = _body(rng)
                        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                        kwargs["data"] = raw
                        headers["Content-Type"] = "application/json"
                    url = URL(server.base_url + path, encoded=True)
                    if len(str(url.with_query(kwargs["params"]))) > 8000:
                        # aiohttp refuses a request line over 8190 bytes before the app sees
                        # it (logging a traceback); what is fuzzed here is the app's own checks.
                        kwargs["params"] = {}
                    async with http.request(method, url, **kwargs) as r:
                        await r.read()
                        served[r.status] = served.get(r.status, 0) + 1
                        assert r.status < 500, (method, path, r.status, await r.text())
            await _fuzz_sockets(server, rng, socket_tokens)
            async with http.get(f"{server.base_url}/healthz") as r:
                assert r.status == 200
        assert sum(served.values()) >= 2000, served
        problems = [
            f"{r.name}: {r.getMessage()}" + (" (traceback)" if r.exc_info else "")
            for r in collector.records
        ]
        assert not problems, "\n".join(problems[:20])
    finally:
        root.removeHandler(collector)

    # The same server still runs a whole session, and its archive verifies.
    other = await create_load_session(server.services.store, 2, now=datetime.now(UTC))
    people = []
    for role, name in ((Role.HOST, "主持人"), (Role.STAFF, "工作人员")):
        person = Participant(new_id(), other.session.id, role, name, venue_id=other.venues[0].id)
        await server.services.store.add_participant(person)
        people.append(person)
    await run_whole_session(server, other.session.id, other.participants, *people)


async def _fuzz_sockets(
    server: RunningServer, rng: random.Random, tokens: dict[str, str | None]
) -> None:
    """Every event of every namespace (and some that none has), with random payloads."""
    namespaces = {
        "/seat": ("expert", ["join", "offer", "ice_candidate", "leave", "ack_warning"]),
        "/console": ("host", []),
        "/wall": (
            "supervisor",
            ["watch", "focus", "camera", "ice_candidate", "unwatch", "note", "warn"],
        ),
        # The demo opening's hall, as one of its bidders (a speaker and a viewer).
        "/hall": (
            "opening_bidder",
            ["watch", "watch_candidate", "unwatch", "speak", "speak_candidate", "stop_speaking"],
        ),
    }
    for namespace, (who, events) in namespaces.items():
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(
            server.base_url,
            namespaces=[namespace],
            auth={"token": tokens[who]},
            transports=["websocket"],
            wait_timeout=10,
        )
        try:
            for _ in range(EVENTS_PER_NAMESPACE):
                event = rng.choice([*events, "warn_everyone", "connect", "disconnect", "x" * 300])
                payload = rng.choice((_object(rng), _values(rng), None))
                answer = await client.call(event, payload, namespace=namespace, timeout=15)
                assert isinstance(answer, dict) and "ok" in answer, (event, answer)
                if not answer["ok"]:
                    assert answer["error"]["code"] != "internal", (event, payload, answer)
        finally:
            await client.disconnect()
