"""Signed webhook pushes from the real app to a real receiver on a loopback port (5.5); the
retries and the restart on SQLite and on PostgreSQL. The receiver is
``tests.integration.webhook_support``'s.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from roomserver.config import StoreConfig
from roomserver.demo import create_load_session
from roomserver.model import Participant, Role, new_id
from signaling.app import create_app
from signaling.config import AppConfig, load_config
from signaling.gate.tokens import TokenIssuer, load_or_create_key
from signaling.http.api import SERVICES
from tests.integration.conftest import RunningServer
from tests.integration.platform_support import Admin, iso
from tests.integration.sessionflow import run_whole_session
from tests.integration.webhook_support import Receiver, in_order_once, subscribe, venue

# Quick retries, and a short wait for an answer, so that failures take a fraction of a second.
QUICK = ("--webhook-timeout", "0.5", "--webhook-retry-first", "0.05", "--webhook-retry-max", "0.2")
START = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)


async def start_app(data_dir: Path, *args: str) -> tuple[TestServer, TokenIssuer]:
    """The app on `data_dir` (no demo), on a loopback port, with quick retries."""
    config: AppConfig = load_config(
        ["--data-dir", str(data_dir), "--bind", "127.0.0.1:0", "--workers", "0", *QUICK, *args],
        environ={},
    )
    server = TestServer(create_app(config), host="127.0.0.1")
    await server.start_server()
    tokens = TokenIssuer(load_or_create_key(config.secrets_dir / "token.key"), default_ttl_s=3600)
    return server, tokens


def database(config: StoreConfig) -> tuple[str, str]:
    """The flag that puts the server on this database (SQLite or PostgreSQL)."""
    return ("--database-url", config.database_url)


def base_url(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as r:
        yield r


async def book(admin: Admin, venue_id: str, hour: int, seats: list[int]) -> dict[str, Any]:
    """A booking of `seats` for an hour: a push of ``venue_usage``."""
    starts = START + timedelta(hours=hour)
    answer: dict[str, Any] = await admin.call(
        "POST",
        "/api/bookings",
        201,
        json={
            "venue_id": venue_id,
            "starts_at": iso(starts),
            "ends_at": iso(starts + timedelta(hours=1)),
            "seats": seats,
            "purpose": f"LN-2026-{hour:04d} 评标",
        },
    )
    return answer


async def delivery_log(
    admin: Admin, webhook_id: str, entries: int, within: float = 10
) -> list[dict[str, Any]]:
    """The subscriber's delivery log once it has `entries` entries: a receiver's answer is
    logged just after it is read, and nothing tells a client when (a poll with a deadline)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        found: list[dict[str, Any]] = (
            await admin.call("GET", f"/api/webhooks/{webhook_id}/deliveries", 200)
        )["items"]
        if len(found) >= entries:
            return found
        if loop.time() > deadline:
            raise AssertionError(f"not within {within} s: {entries} log entries; got {found}")
        await asyncio.sleep(0.02)


async def test_a_subscriber_gets_every_push_of_its_topics_in_order_and_signed(
    empty_server: tuple[TestServer, AppConfig, TokenIssuer], receiver: Receiver
) -> None:
    server, _, tokens = empty_server
    async with aiohttp.ClientSession() as http:
        admin = Admin(http, base_url(server), tokens.issue_admin())
        hook = await subscribe(admin, receiver.url, ["venue_usage", "venues"])
        receiver.secret = hook["secret"]
        assert len(hook["secret"]) == 43 and hook["topics"] == ["venues", "venue_usage"]
        # Another subscriber, of draws only, is told nothing of venues.
        quiet = await subscribe(admin, receiver.url + "?draws", ["draws"], secret="s" * 16)

        room = await venue(admin)
        first = await book(admin, room["id"], 1, [1, 2])
        await admin.call("POST", "/api/projects", 400, json={})  # refused: not pushed
        changed = await admin.call(
            "POST",
            f"/api/bookings/{first['id']}/change",
            200,
            json={"starts_at": iso(START), "ends_at": iso(START + timedelta(hours=2))},
        )
        await admin.call(
            "POST", f"/api/bookings/{changed['id']}/cancel", 200, json={"reason": "项目延期"}
        )
        await book(admin, room["id"], 3, [1, 2, 3, 4, 5, 6])
        await admin.call("POST", f"/api/venues/{room['id']}", 200, json={"name": "铁岭第二评标室"})
        await receiver.until("seven pushes", lambda got: len(got) >= 7)

        got = receiver.got
        assert [p.body["kind"] for p in got] == [
            "centre_added",
            "venue_added",
            "booking_made",
            "booking_changed",
            "booking_cancelled",
            "booking_made",
            "venue_changed",
        ]
        assert all(p.signed and p.status == 200 for p in got)
        seqs = [p.body["seq"] for p in got]
        assert seqs == sorted(seqs) and len(set(seqs)) == 7
        for push in got:
            assert push.key == push.body["id"] == f"{hook['id']}:{push.body['seq']}"
            assert push.topic == push.body["topic"]
            assert push.body["session_id"] is None
        assert got[1].body["data"]["id"] == room["id"]
        assert got[3].body["data"]["from"] == first["id"]
        assert got[6].body["data"]["name"] == "铁岭第二评标室"

        # The delivery log says so; the list shows the cursor and never a secret.
        log = await delivery_log(admin, hook["id"], 7)
        assert [(d["seq"], d["attempt"], d["status"], d["delivered"]) for d in log] == [
            (seq, 1, 200, True) for seq in seqs
        ]
        page = await admin.call(
            "GET",
            f"/api/webhooks/{hook['id']}/deliveries",
            200,
            params={"after": str(log[3]["id"])},
        )
        assert [d["seq"] for d in page["items"]] == seqs[4:]
        listed = (await admin.call("GET", "/api/webhooks", 200))["items"]
        assert "secret" not in json.dumps(listed)
        assert [w["id"] for w in listed] == [hook["id"], quiet["id"]]
        assert listed[0]["cursor"] >= seqs[-1] and listed[0]["failures"] == 0
        assert (await admin.call("GET", f"/api/webhooks/{quiet['id']}/deliveries", 200)) == {
            "items": []
        }

        # Disabled: no more pushes; the log stays.
        off = await admin.call("POST", f"/api/webhooks/{hook['id']}/disable", 200)
        assert off["enabled"] is False and off["disabled_by"]
        await admin.call("POST", f"/api/webhooks/{hook['id']}/disable", 400)
        await admin.call("POST", "/api/webhooks/nohook/disable", 404)
        await admin.call(
            "POST",
            "/api/webhooks",
            400,
            json={"name": "x", "url": "ftp://example.cn/hook", "topics": ["venues"]},
        )
        await admin.call(
            "POST",
            "/api/webhooks",
            400,
            json={"name": "x", "url": receiver.url, "topics": ["payments"]},
        )
        canary = await subscribe(admin, receiver.url, ["venues"], secret=receiver.secret)
        await venue(admin, "抚顺")
        await receiver.until("the canary's two pushes", lambda got: len(got) >= 9)
        assert {p.key.split(":")[0] for p in receiver.got[7:]} == {canary["id"]}
        still = await admin.call("GET", f"/api/webhooks/{hook['id']}/deliveries", 200)
        assert len(still["items"]) == 7


async def test_a_receiver_that_fails_for_a_while_gets_everything_in_order(
    tmp_path: Path, store_config: StoreConfig, receiver: Receiver
) -> None:
    server, tokens = await start_app(tmp_path / "data", *database(store_config))
    try:
        async with aiohttp.ClientSession() as http:
            admin = Admin(http, base_url(server), tokens.issue_admin())
            # Its own secret this time; and a subscriber nobody answers for, which holds up no one.
            receiver.secret = "provincial-scheduling-secret-2026"
            hook = await subscribe(
                admin, receiver.url, ["venues", "venue_usage"], secret=receiver.secret
            )
            dead = await subscribe(admin, "http://127.0.0.1:9/hook", ["venues", "venue_usage"])
            receiver.plan = ["fail", "unavailable", "hang", "fail"]
            room = await venue(admin)
            for hour in range(3):
                await book(admin, room["id"], hour, [1, 2, 3])
            await receiver.until(
                "five pushes taken", lambda got: sum(p.status == 200 for p in got) >= 5
            )

            kinds = ["centre_added", "venue_added", "booking_made", "booking_made", "booking_made"]
            taken = receiver.accepted()
            assert [p.body["kind"] for p in taken] == kinds
            assert all(p.signed for p in receiver.got)
            # Nothing was ever sent ahead of an earlier event: every repeat is of the event that
            # had not been taken yet, and the keys in the order they came are the events' order.
            kept = in_order_once(receiver.got)
            assert [p.key for p in kept] == [p.key for p in taken]
            assert [p.status for p in receiver.got[:5]] == [500, 503, 0, 500, 200]
            assert {p.key for p in receiver.got[:5]} == {taken[0].key}

            log = await delivery_log(admin, hook["id"], 9)
            first = [d for d in log if d["seq"] == taken[0].body["seq"]]
            assert [(d["attempt"], d["status"]) for d in first] == [
                (1, 500),
                (2, 503),
                (3, None),
                (4, 500),
                (5, 200),
            ]
            assert first[2]["error"] == "no answer within 0.5 s"
            assert first[0]["error"] == "HTTP 500" and first[4]["error"] is None
            assert [d["attempt"] for d in log[5:]] == [1, 1, 1, 1]

            # The dead subscriber keeps trying its first event, and only that one.
            dead_log = (await admin.call("GET", f"/api/webhooks/{dead['id']}/deliveries", 200))[
                "items"
            ]
            assert dead_log and {d["seq"] for d in dead_log} == {taken[0].body["seq"]}
            assert all(d["status"] is None and d["error"] for d in dead_log)
            assert [d["attempt"] for d in dead_log] == list(range(1, len(dead_log) + 1))
            listed = {w["id"]: w for w in (await admin.call("GET", "/api/webhooks", 200))["items"]}
            assert listed[dead["id"]]["failures"] >= 1
    finally:
        await server.close()


async def test_a_restart_loses_nothing_and_resends_the_push_in_flight(
    tmp_path: Path, store_config: StoreConfig, receiver: Receiver
) -> None:
    data_dir = tmp_path / "data"
    server, tokens = await start_app(data_dir, *database(store_config))
    token = tokens.issue_admin()
    try:
        async with aiohttp.ClientSession() as http:
            admin = Admin(http, base_url(server), token)
            hook = await subscribe(admin, receiver.url, ["venues", "venue_usage"])
            receiver.secret = hook["secret"]
            # The centre is taken; the venue's push is in flight when the server stops.
            receiver.plan = ["accept", "hang"]
            room = await venue(admin)
            await book(admin, room["id"], 1, [1])
            await receiver.until("the venue's push in flight", lambda got: len(got) >= 2)
    finally:
        await server.close()
    receiver.release.set()  # the receiver's hung handler ends; the sender gave up at the stop
    assert [(p.body["kind"], p.status) for p in receiver.got] == [
        ("centre_added", 200),
        ("venue_added", 0),
    ]

    server, _ = await start_app(data_dir, *database(store_config))
    try:
        async with aiohttp.ClientSession() as http:
            admin = Admin(http, base_url(server), token)
            await receiver.until("the rest after the restart", lambda got: len(got) >= 4)
            await book(admin, room["id"], 2, [2])
            await receiver.until("a push of the new server", lambda got: len(got) >= 5)
            log = await delivery_log(admin, hook["id"], 4)
    finally:
        await server.close()
    assert [(p.body["kind"], p.status) for p in receiver.got] == [
        ("centre_added", 200),
        ("venue_added", 0),
        ("venue_added", 200),  # the push in flight, again, with the same key
        ("booking_made", 200),
        ("booking_made", 200),
    ]
    assert receiver.got[1].key == receiver.got[2].key
    assert all(p.signed for p in receiver.got)
    seqs = [p.body["seq"] for p in in_order_once(receiver.got)]
    assert seqs == sorted(seqs)
    # The stop logged no delivery of the push in flight: the log has the four taken ones.
    assert [(d["seq"], d["status"]) for d in log] == [(s, 200) for s in seqs]


async def test_sign_ins_the_finished_session_and_the_fees_are_pushed(
    room_server: RunningServer, receiver: Receiver
) -> None:
    server = room_server
    store = server.services.store
    other = await create_load_session(store, 2, now=datetime.now(UTC))
    sid = other.session.id
    host = Participant(new_id(), sid, Role.HOST, "主持人", venue_id=other.venues[0].id)
    staff = Participant(new_id(), sid, Role.STAFF, "工作人员", venue_id=other.venues[0].id)
    for person in (host, staff):
        await store.add_participant(person)
    async with aiohttp.ClientSession() as http:
        admin = Admin(http, server.base_url, server.tokens.issue_admin())
        topics = ["expert_sign_in", "session_finished", "expert_fees"]
        hook = await subscribe(admin, receiver.url, topics)
        receiver.secret = hook["secret"]
        await run_whole_session(server, sid, other.participants, host, staff)
        await receiver.until("two sign-ins, the end, two fees", lambda got: len(got) >= 5)
    got = receiver.got
    assert [p.body["topic"] for p in got] == [
        "expert_sign_in",
        "expert_sign_in",
        "session_finished",
        "expert_fees",
        "expert_fees",
    ]
    assert all(p.signed and p.status == 200 and p.body["session_id"] == sid for p in got)
    experts = {p.id: p for p in other.participants}
    for push in got[:2]:
        data = push.body["data"]
        expert = experts[data["expert_id"]]
        assert (data["name"], data["venue_id"], data["seat_no"]) == (
            expert.name,
            expert.venue_id,
            expert.seat_no,
        )
        assert data["confirmed_by"] == staff.id and data["checked_in_at"] == push.body["at"]
    finished = got[2].body["data"]
    assert finished["session"]["id"] == sid and finished["lot"] is None
    main = finished["venues"][0]
    assert (main["id"], main["kind"], main["name"]) == (
        other.venues[0].id,
        "main",
        other.venues[0].name,
    )
    assert sorted((s["seat_no"], s["expert_id"]) for s in main["seats"]) == sorted(
        (e.seat_no, e.id) for e in other.participants
    )
    assert {p.body["kind"] for p in got[3:]} == {"expert_fee_recorded"}


async def test_a_rotated_secret_signs_at_once_and_the_former_one_for_a_day(
    empty_server: tuple[TestServer, AppConfig, TokenIssuer], receiver: Receiver
) -> None:
    """The receiver changes its secret at its own pace: pushes pass its check before and after
    it does, and the answer of the rotation is the only place the new secret shows."""
    server, _, tokens = empty_server
    async with aiohttp.ClientSession() as http:
        admin = Admin(http, base_url(server), tokens.issue_admin())
        hook = await subscribe(admin, receiver.url, ["venues"])
        receiver.secret = hook["secret"]
        await venue(admin, "锦州")
        await receiver.until("the first venue's pushes", lambda got: len(got) >= 2)

        rotated = await admin.call("POST", f"/api/webhooks/{hook['id']}/secret", 200)
        assert rotated["secret"] != hook["secret"] and len(rotated["secret"]) == 43
        until = datetime.fromisoformat(rotated["previous_until"])
        assert timedelta(hours=23) < until - datetime.now(UTC) <= timedelta(hours=24)
        listed = (await admin.call("GET", "/api/webhooks", 200))["items"]
        assert rotated["secret"] not in json.dumps(listed)
        assert listed[0]["previous_until"] == rotated["previous_until"]

        # Still with the former secret: taken.
        await venue(admin, "营口")
        await receiver.until("the second venue's pushes", lambda got: len(got) >= 4)
        # Changed over: taken too.
        receiver.secret = rotated["secret"]
        await venue(admin, "盘锦")
        await receiver.until("the third venue's pushes", lambda got: len(got) >= 6)
        assert all(p.signed and p.status == 200 for p in receiver.got)
        # A secret that was never this subscriber's passes nothing.
        receiver.secret = "not-the-secret"
        await venue(admin, "葫芦岛")
        await receiver.until("the fourth venue's pushes", lambda got: len(got) >= 8)
        assert not any(p.signed for p in receiver.got[6:])
        await admin.call("POST", "/api/webhooks/nohook/secret", 404)
        store = server.app[SERVICES].store
        logged = await store.list_events(kind="webhook_secret_rotated")
        assert [e.data["id"] for e in logged] == [hook["id"]]
        assert rotated["secret"] not in json.dumps([e.data for e in logged])
