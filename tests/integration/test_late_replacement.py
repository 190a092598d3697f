"""A replacement who arrives after check-in (7.1.3-3b), through the real app: an expert excused
during the evaluation is re-drawn from the pool on the same conditions, the replacement opens the
seat with the link the answer hands over, is checked in with the picture from their seat camera
and commits in the evaluation phase, and the session reaches signing and its end with their
signature. A session with no draw to repeat refuses the redraw with its own code, and the
replacement is named instead; the consoles see the new roster even with no seat online."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import socketio
from aiohttp.test_utils import TestServer

from media.testing.synthetic import CounterVideoTrack
from recorder.verify import verify_archive
from roomserver.demo import DemoData
from roomserver.model import Role, SessionState
from signaling.config import AppConfig
from signaling.gate.tokens import TokenIssuer
from signaling.http.api import SERVICES
from signaling.testing.seat import SyntheticSeat
from tests import polling
from tests.integration.conftest import RunningServer
from tests.integration.platform_support import Admin, iso
from tests.integration.sessionflow import REPORT_PDF, Actor, handwriting
from tests.logins import session_token

POOL = [
    {
        "external_id": f"E{i:03d}",
        "name": f"专家{i:02d}",
        "specialties": ["建筑"],
        "city": "沈阳",
        "employer": f"单位{i}",
        "id_number": f"21010219800101{i:04d}",
    }
    for i in range(1, 9)
]


async def _lot_session(admin: Admin) -> tuple[str, str]:
    """A project's lot, its session in one venue with host and staff, and three experts drawn
    from the pool into it; the lot's and the session's ids."""
    centre, venue = await admin.venue("沈阳", "沈阳第二评标室", 6, region_code="210100")
    project = await admin.call(
        "POST",
        "/api/projects",
        201,
        json={
            "centre_id": centre["id"],
            "code": "LN-2026-0510",
            "name": "某医院门诊楼工程",
            "tenderer": "某卫生健康委员会",
            "lots": [{"code": "01", "name": "施工"}],
        },
    )
    lot = project["lots"][0]["id"]
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    await admin.call(
        "POST",
        "/api/bookings",
        201,
        json={
            "venue_id": venue["id"],
            "starts_at": iso(start - timedelta(minutes=30)),
            "ends_at": iso(start + timedelta(hours=4)),
            "purpose": "LN-2026-0510 评标",
            "lot_id": lot,
        },
    )
    opened = await admin.call(
        "POST",
        f"/api/lots/{lot}/session",
        201,
        json={"main_venue_id": venue["id"], "scheduled_start": iso(start)},
    )
    session_id = opened["session"]["id"]
    for role, name in (("host", "李主持"), ("staff", "赵工作")):
        await admin.call(
            "POST",
            f"/api/sessions/{session_id}/people",
            201,
            json={"role": role, "name": name, "venue_id": venue["id"]},
        )
    await admin.call("POST", "/api/experts/pool", 200, json={"experts": POOL})
    draw = await admin.call(
        "POST",
        f"/api/lots/{lot}/draws/experts",
        201,
        json={"needs": [{"count": 3, "venue_id": venue["id"], "specialty": "建筑"}]},
    )
    await admin.call("POST", f"/api/draws/{draw['id']}/reveal", 200)
    return lot, session_id


async def test_an_expert_excused_during_the_evaluation_is_redrawn_and_the_replacement_signs(
    empty_server: tuple[TestServer, AppConfig, TokenIssuer],
) -> None:
    server, config, tokens = empty_server
    base_url = str(server.make_url("")).rstrip("/")
    services = server.app[SERVICES]
    store = services.store
    async with aiohttp.ClientSession() as http:
        admin = Admin(http, base_url, tokens.issue_admin())
        lot, session_id = await _lot_session(admin)
        people = await store.list_participants(session_id)
        leaving = next(p for p in people if p.role == Role.EXPERT and p.seat_no == 3)
        # The expert who will leave holds a personal link, as drawn experts are sent one.
        link = await admin.call("POST", "/api/tokens", 201, json={"participant_id": leaving.id})
    session = await store.get_session(session_id)
    running = RunningServer(
        base_url,
        server.app,
        config,
        DemoData(session, [await store.get_venue(session.main_venue_id)], people),
        tokens,
    )
    host = next(p for p in people if p.role == Role.HOST)
    staff = next(p for p in people if p.role == Role.STAFF)
    experts = sorted((p for p in people if p.role == Role.EXPERT), key=lambda p: p.seat_no or 0)

    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(aiohttp.ClientSession())
        chair, checker = Actor(http, running, host), Actor(http, running, staff)
        members = [Actor(http, running, e) for e in experts]
        seats = []
        for i, expert in enumerate(experts):
            token = link["token"] if expert.id == leaving.id else running.token(expert)
            seats.append(
                await stack.enter_async_context(
                    SyntheticSeat(
                        base_url,
                        token,
                        camera=CounterVideoTrack((60 + 50 * i, 90, 160)),
                        decode=False,
                        name=f"drawn-{i}",
                    )
                )
            )
        await chair.ok("open_check_in")
        media = running.media(session_id)
        assert media is not None and media.analysis is not None
        analysis = media.analysis
        await polling.wait_until(
            lambda: all(analysis.has_picture(f"{e.venue_id}:{e.seat_no}") for e in experts),
            15,
            "every seat's camera picture",
        )
        for member in members:
            await checker.post(f"/identity/{member.who.id}")
            await checker.ok("check_in", expert=member.who.id)
            await member.ok("commit", no_conflict=True)
            await member.ok("register_key", public_key=member.public_key())
        await chair.ok("start_election", tie_rule="lot")
        leader, other, gone = members
        for member in members:
            body = await member.ok("cast_ballot", candidate=leader.who.id)
        assert body["state"]["phase"] == "evaluation"

        # During the evaluation the expert falls ill: excused, sent away, re-drawn at once.
        await checker.ok("excuse_expert", expert=gone.who.id, reason="突发疾病，无法继续评审")
        await polling.wait_until(
            lambda: any(e == "replaced" for e, _ in seats[2].events), 10, "the seat is told"
        )
        redraw = f"{base_url}/api/sessions/{session_id}/experts/{gone.who.id}/redraw"
        async with http.post(redraw, json={"reason": "突发疾病"}, headers=checker.headers) as r:
            assert r.status == 201, await r.text()
            drawn = await r.json()
        assert drawn["verified"] is True and len(drawn["result"]) == 1
        replacement = drawn["replacement"]
        assert replacement["name"] == drawn["result"][0]["name"]
        assert (replacement["venue_id"], replacement["seat_no"]) == (leaving.venue_id, 3)
        assert replacement["id_last4"] and "/seat?code=" in replacement["url"]
        assert replacement["name"] not in {e.name for e in experts}
        # The replaced expert's link ends with the seat.
        await polling.wait_event(store, session_id, "link_revoked", subject=leaving.id)
        # Asked again, the workflow refuses before anything is drawn.
        async with http.post(redraw, json={"reason": "突发疾病"}, headers=checker.headers) as r:
            assert r.status == 409 and "已被替换" in (await r.json())["detail"]
        assert len(await store.draws.draws_of(lot)) == 2, "the first draw and the redraw only"

        # The replacement opens the seat with the link handed over, under their own name.
        newcomer_token = await session_token(base_url, replacement["url"])
        newcomer = await store.get_participant(replacement["id"])
        joiner = Actor(http, running, newcomer)
        seat = await stack.enter_async_context(
            SyntheticSeat(
                base_url,
                newcomer_token,
                camera=CounterVideoTrack((200, 200, 60)),
                decode=False,
                name="replacement",
            )
        )
        roster = await seat.wait_roster(
            lambda r: any(s["expert_id"] == newcomer.id and s["online"] for s in r["seats"]), 10
        )
        assert next(s for s in roster["seats"] if s["expert_id"] == newcomer.id)["seat_no"] == 3
        # Nothing before the identity check and the commitment letter.
        status, body = await joiner.do("vote", motion=1, option="同意")
        assert status == 409 and "身份核验" in body["detail"]
        status, body = await joiner.do("commit", no_conflict=True)
        assert status == 409 and "身份核验" in body["detail"]
        await polling.wait_until(
            lambda: analysis.has_picture(f"{newcomer.venue_id}:3"), 15, "the replacement's picture"
        )
        await checker.post(f"/identity/{newcomer.id}")
        body = await checker.ok("check_in", expert=newcomer.id)
        assert body["state"]["phase"] == "evaluation" and newcomer.id in body["state"]["checked_in"]
        await joiner.ok("commit", no_conflict=True)
        body = await joiner.ok("register_key", public_key=joiner.public_key())
        assert newcomer.id in body["state"]["keys"]

        # The report is signed by the seated committee; the end waits for the replacement.
        report = (await leader.post("/report", REPORT_PDF))["state"]["report"]
        for member in (leader, other, joiner):
            body = await member.ok(
                "sign",
                report_sha256=report["sha256"],
                signature=member.signature(report["sha256"], report["sm3"]),
                handwriting_png=handwriting(member.who.name),
            )
            if member is not joiner:
                assert body["state"]["phase"] == "signing"
        assert sorted(body["state"]["signed"]) == sorted([leader.who.id, other.who.id, newcomer.id])
        body = await chair.ok("end")
        assert body["state"]["phase"] == "ended"

    assert (await store.get_session(session_id)).state == SessionState.ENDED
    workflow = [e.data for e in await store.list_events(session_id) if e.kind == "workflow"]
    joined = [
        d for d in workflow if d["details"].get("expert") == newcomer.id and d["phase"] != "ended"
    ]
    assert [(d["happened"], d["phase"]) for d in joined] == [
        ("expert_checked_in", "evaluation"),
        ("commitment_accepted", "evaluation"),
        ("signing_key_registered", "evaluation"),
        ("report_signed", "signing"),
    ]
    assert joined[0]["details"]["snapshot"]["sha256"], "checked in with the seat's picture"
    verdict = verify_archive(config.archive_dir / session_id)
    assert verdict.ok, verdict.differences


async def _console(running: RunningServer, who: Any) -> tuple[socketio.AsyncClient, dict[str, Any]]:
    """A console connected over Socket.IO with `who`'s token: the client and what it received."""
    client = socketio.AsyncClient(reconnection=False)
    seen: dict[str, Any] = {"roster": []}
    hello: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    client.on("hello", lambda data: hello.set_result(data), namespace="/console")
    client.on("roster", lambda data: seen["roster"].append(data), namespace="/console")
    await client.connect(
        running.base_url,
        namespaces=["/console"],
        auth={"token": running.token(who)},
        transports=["websocket"],
    )
    seen["hello"] = await asyncio.wait_for(hello, 10)
    return client, seen


async def test_with_no_draw_to_repeat_the_redraw_is_refused_and_the_replacement_is_named(
    room_server: RunningServer,
) -> None:
    server = room_server
    session_id = server.demo.session.id
    store = server.services.store
    main = server.demo.session.main_venue_id
    staff = next(p for p in server.demo.participants if p.role == Role.STAFF and p.venue_id == main)
    leaving = server.experts[1]  # 沈阳主场 2号机位
    client, console = await _console(server, server.participant(Role.HOST))
    try:
        async with aiohttp.ClientSession() as http:
            chair, checker = (
                Actor(http, server, server.participant(Role.HOST)),
                Actor(http, server, staff),
            )
            await chair.ok("open_check_in")
            await checker.ok("excuse_expert", expert=leaving.id, reason="请假")
            base = f"{server.base_url}/api/sessions/{session_id}/experts/{leaving.id}"
            async with http.post(
                f"{base}/redraw", json={"reason": "请假"}, headers=checker.headers
            ) as r:
                refusal = await r.json()
                assert r.status == 400, refusal
            assert refusal["code"] == "not_drawn_here" and "专家管理系统" in refusal["detail"]
            kinds = {e.kind for e in await store.list_events(session_id)}
            assert "draw_committed" not in kinds, "nothing was drawn"

            # No seat is online, so no room pushes the roster: the console still sees it.
            assert server.services.rooms.find(session_id) is None
            named = {"name": "周建华", "id_number": "210102198203034567", "reason": "请假"}
            async with http.post(f"{base}/replacement", json=named, headers=checker.headers) as r:
                assert r.status == 201, await r.text()
                replacement = (await r.json())["replacement"]
        assert replacement["id_last4"] == "4567" and "/seat?code=" in replacement["url"]

        def shows_newcomer() -> bool:
            return any(
                s["key"] == f"{main}:2" and s["expert_id"] == replacement["id"]
                for r in console["roster"]
                for s in r["seats"]
            )

        await polling.wait_until(shows_newcomer, 10, "the console's roster has the newcomer")
    finally:
        await client.disconnect()
