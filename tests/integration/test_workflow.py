"""The committee's workflow through the real app: six experts in three venues, each seat a real
Socket.IO and WebRTC client with a camera, each person acting with their own token, from
check-in to the sealed archive; a tie in the election, an incident with pause and resume, a
motion, the report co-signed with ECDSA keys and handwriting, refusals logged, and the state
rebuilt from the log as a restarted server would."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from PIL import Image, ImageDraw

from media.testing.synthetic import CounterVideoTrack
from recorder.hashing import sha256_hex, sm3_hex
from recorder.verify import verify_archive
from roomserver import lots
from roomserver.letters import COMMITMENT_SHA256
from roomserver.model import Role, Session, SessionState, new_id
from signaling.services.ballots import BallotKeys
from signaling.services.workflow import WorkflowService
from signaling.testing.seat import SyntheticSeat
from signaling.worker.inprocess import InProcessWorker
from tests import polling
from tests.integration.conftest import RunningServer, start_server
from tests.integration.sessionflow import Actor
from tests.logins import session_token

REPORT_PDF = b"%PDF-1.4\n% evaluation report of LN-DEMO-0001\n1 0 obj <<>> endobj\n%%EOF\n"


def handwriting(name: str) -> str:
    """A handwritten signature as the seat page's canvas gives it: a PNG data URL."""
    image = Image.new("RGBA", (400, 150), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    draw.line([(20, 100), (120, 40), (200, 110), (380, 30)], fill=(0, 0, 0, 255), width=4)
    draw.text((20, 120), name.encode("unicode_escape").decode(), fill=(0, 0, 0, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


@pytest.fixture
async def console(room_server: RunningServer) -> AsyncIterator[dict[str, Any]]:
    """The host's console connected over Socket.IO: its hello and every push it receives."""
    client = socketio.AsyncClient(reconnection=False)
    seen: dict[str, Any] = {"workflow": [], "activity": [], "roster": []}
    hello: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    client.on("hello", lambda data: hello.set_result(data), namespace="/console")
    for event in ("workflow", "activity", "roster"):
        client.on(event, lambda data, event=event: seen[event].append(data), namespace="/console")
    await client.connect(
        room_server.base_url,
        namespaces=["/console"],
        auth={"token": room_server.token(room_server.participant(Role.HOST))},
        transports=["websocket"],
    )
    seen["hello"] = await asyncio.wait_for(hello, 10)
    try:
        yield seen
    finally:
        await client.disconnect()


def pushes(seat: SyntheticSeat, happened: str) -> list[dict[str, Any]]:
    return [
        data["happened"]["data"]
        for event, data in seat.events
        if event == "workflow" and data.get("happened") and data["happened"]["kind"] == happened
    ]


async def test_a_full_session_of_six_experts_in_three_venues(
    room_server: RunningServer, console: dict[str, Any]
) -> None:
    server = room_server
    demo = server.demo
    session_id = demo.session.id
    store = server.services.store
    main, sub1, sub2 = (v.id for v in demo.venues)
    staff_of = {p.venue_id: p for p in demo.participants if p.role == Role.STAFF}
    assert console["hello"]["workflow"]["phase"] == "scheduled"
    assert len(console["hello"]["roster"]["seats"]) == 6

    async with AsyncExitStack() as stack:
        seats = [
            await stack.enter_async_context(
                SyntheticSeat(
                    server.base_url,
                    server.token(e),
                    camera=CounterVideoTrack((40 + 30 * i, 90, 160)),
                    # The first seat also sends a preview, as the seat page does: the grid and
                    # the analysis look at it, the identity picture is still of the camera.
                    preview=CounterVideoTrack((160, 90, 40), size=(320, 240), pattern=False)
                    if i == 0
                    else None,
                    decode=False,
                    name=f"seat-{i}",
                )
            )
            for i, e in enumerate(server.experts)
        ]
        http = await stack.enter_async_context(aiohttp.ClientSession())
        host = Actor(http, server, server.participant(Role.HOST))
        supervisor = Actor(http, server, server.participant(Role.SUPERVISOR))
        staff = {venue: Actor(http, server, p) for venue, p in staff_of.items()}
        experts = [Actor(http, server, e) for e in server.experts]
        e0, e1, e2, e3, e4, e5 = experts

        # -- check-in: identity picture, confirmation, commitment letter, signing key ----------
        status, body = await e0.do("open_check_in")
        assert status == 403 and body["code"] == "role_not_allowed"
        await host.ok("open_check_in")
        media = server.media(session_id)
        assert media is not None and media.analysis is not None
        analysis = media.analysis
        keys = [f"{e.venue_id}:{e.seat_no}" for e in server.experts]
        await polling.wait_until(
            lambda: all(analysis.has_picture(k) for k in keys), 15, "every seat's camera picture"
        )
        for expert in experts:
            venue_staff = staff[expert.who.venue_id]
            other = staff[sub2 if expert.who.venue_id != sub2 else main]
            url = f"{expert.base}/identity/{expert.who.id}"
            async with http.post(url, headers=other.headers) as answer:
                assert answer.status == 403  # staff check their own venue's experts only
            async with http.post(url, headers=venue_staff.headers) as answer:
                assert answer.status == 201
                picture = await answer.json()
            async with http.get(server.base_url + picture["url"], headers=venue_staff.headers) as r:
                assert r.status == 200
                still = Image.open(io.BytesIO(await r.read()))
            assert (still.format, still.size) == ("JPEG", (640, 480))  # the camera, full size
            body = await venue_staff.ok("check_in", expert=expert.who.id)
            assert expert.who.id in body["state"]["checked_in"]
            await expert.ok("commit", no_conflict=True, letter_sha256="0" * 64)
            await expert.ok("register_key", public_key=expert.public_key())
        status, body = await e0.do("commit", no_conflict=True)
        assert status == 409

        # -- leader election: a tie among three, then a second round ---------------------------
        await host.ok("start_election", tie_rule="revote", max_rounds=3)
        first = {e0: e1, e1: e0, e2: e1, e3: e0, e4: e2, e5: e2}
        for voter, choice in first.items():
            await voter.ok("cast_ballot", candidate=choice.who.id)
            if voter is e0:
                status, body = await e0.do("cast_ballot", candidate=e1.who.id)
                assert status == 409 and "已投票" in body["detail"]  # once each
        tied = await polling_push(seats[0], "election_tied")
        assert tied["tally"] == {e.who.id: 2 if e in (e0, e1, e2) else 0 for e in experts}
        assert sorted(tied["candidates"]) == sorted(e.who.id for e in (e0, e1, e2))
        second = {e0: e1, e1: e1, e2: e1, e3: e0, e4: e1, e5: e2}
        for voter, choice in second.items():
            body = await voter.ok("cast_ballot", candidate=choice.who.id)
        assert body["happened"] == "leader_elected" and body["state"]["leader"] == e1.who.id
        elected = await polling_push(seats[5], "leader_elected")
        assert elected["tally"] == {e0.who.id: 1, e1.who.id: 4, e2.who.id: 1}
        # The tallies are published: no key is left to open the ballots with.
        assert secret_files(server, session_id) == []

        # -- an incident: the supervisor stops the evaluation, staff handle it, host resumes ---
        status, body = await staff[main].do(
            "open_incident", venue=sub2, kind="platform", description="丹东副场视频中断"
        )
        assert status == 403
        await staff[sub2].ok(
            "open_incident", venue=sub2, kind="platform", description="丹东副场视频中断"
        )
        await supervisor.ok("pause", reason="丹东副场视频中断，暂停评审")
        status, body = await e1.do("open_motion", title="x", options=["同意", "不同意"])
        assert status == 409 and "暂停" in body["detail"]
        await host.ok("notice", text="丹东副场网络故障，评审暂停，请各位专家稍候")
        notice = await polling_push(seats[3], "notice")
        assert notice["text"].startswith("丹东副场网络故障")
        await staff[sub2].ok("handle_incident", incident=1, handling="切换备用线路")
        await staff[sub2].ok("close_incident", incident=1, result="已恢复，中断约 3 分钟")
        await host.ok("resume")

        # -- a motion, voted openly ------------------------------------------------------------
        await e1.ok("open_motion", title="是否否决投标人甲的投标", options=["同意", "不同意"])
        for i, expert in enumerate(experts):
            body = await expert.ok("vote", motion=1, option="同意" if i < 4 else "不同意")
        assert body["happened"] == "motion_closed"
        assert body["state"]["motions"][0]["result"] == {"同意": 4, "不同意": 2}

        # -- the report: uploaded by the leader, read and signed by every expert ---------------
        async with http.post(f"{e0.base}/report", data=REPORT_PDF, headers=e0.headers) as r:
            assert r.status == 403  # only the leader or host
        async with http.post(f"{e1.base}/report", data=b"not a pdf", headers=e1.headers) as r:
            assert r.status == 400
        async with http.post(f"{e1.base}/report", data=REPORT_PDF, headers=e1.headers) as r:
            assert r.status == 200, await r.text()
            report = (await r.json())["state"]["report"]
        assert report == {"sha256": sha256_hex(REPORT_PDF), "sm3": sm3_hex(REPORT_PDF)}
        async with http.get(f"{e4.base}/report", params={"token": e4.token}) as r:
            assert r.status == 200 and await r.read() == REPORT_PDF

        for i, expert in enumerate(experts[:-1]):
            body = await expert.ok(
                "sign",
                report_sha256=report["sha256"],
                signature=expert.signature(report["sha256"], report["sm3"]),
                handwriting_png=handwriting(expert.who.name),
            )
            assert len(body["state"]["signed"]) == i + 1
        # A signature by another key is refused with the reason; so is the end, until all sign.
        status, body = await e5.do(
            "sign",
            report_sha256=report["sha256"],
            signature=e4.signature(report["sha256"], report["sm3"]),
            handwriting_png=handwriting(e5.who.name),
        )
        assert status == 422 and body["code"] == "bad_signature" and "密钥" in body["detail"]
        status, body = await host.do("end")
        assert status == 409 and "1 名专家未签署" in body["detail"]
        await e5.ok(
            "sign",
            report_sha256=report["sha256"],
            signature=e5.signature(report["sha256"], report["sm3"]),
            handwriting_png=handwriting(e5.who.name),
        )
        status, body = await staff[main].do("end")
        assert status == 403
        body = await host.ok("end")
        assert body["state"]["phase"] == "ended"
        await polling.wait_until(
            lambda: all(any(e == "session_ended" for e, _ in s.events) for s in seats),
            10,
            "every seat told the session ended",
        )

    # -- the record ---------------------------------------------------------------------------
    assert (await store.get_session(session_id)).state == SessionState.ENDED
    events = await store.list_events(session_id)
    workflow = [e for e in events if e.kind == "workflow"]
    kinds = [e.data["happened"] for e in workflow]
    assert kinds[0] == "check_in_opened" and kinds[-1] == "end_instruction"
    assert kinds.count("expert_checked_in") == 6 and kinds.count("report_signed") == 6
    assert kinds.count("election_tied") == 1 and kinds.count("leader_elected") == 1
    for event in workflow:
        fields = event.data["command"]["fields"]
        if event.data["command"]["kind"] == "cast_ballot":
            # Who voted is on record; whom for is sealed.
            assert "candidate" not in fields and len(fields["sealed"]) > 20
        if event.data["happened"] == "expert_checked_in":
            assert event.data["details"]["snapshot"]["sha256"]
        if event.data["happened"] == "commitment_accepted":
            # Which wording was accepted, as the server holds it (not as a client claims).
            assert event.data["details"]["letter_sha256"] == COMMITMENT_SHA256
    refused = [e.data["event"] for e in events if e.kind == "request_refused"]
    assert {"workflow:open_check_in", "workflow:sign", "workflow:end"} <= set(refused)
    assert any(e.kind == "identity_snapshot" for e in events)

    # The host's console saw it all live.
    assert console["workflow"][-1]["state"]["phase"] == "ended"
    live_kinds = {a["kind"] for a in console["activity"]}
    assert {"workflow", "seat_connected", "identity_snapshot", "session_ended"} <= live_kinds

    # The archive holds the report and every handwritten signature, and verifies.
    archive = server.config.archive_dir / session_id
    report_path = archive / "documents" / f"{sha256_hex(REPORT_PDF)}.pdf"
    assert report_path.read_bytes() == REPORT_PDF
    assert len(list((archive / "documents").glob("*.png"))) == 6
    verdict = verify_archive(archive)
    assert verdict.ok, verdict.differences
    assert not [n for n in verdict.notes if "documents" in n]

    # A restarted server rebuilds the same state from the log (and opens the sealed ballots).
    services = server.services
    assert services.workflow is not None
    rebuilt = await WorkflowService(
        store,
        services.events,
        archive_dir=server.config.archive_dir,
        ballots=BallotKeys(server.config.secrets_dir / "ballots"),
    ).state(session_id)
    assert rebuilt == await services.workflow.state(session_id)


def secret_files(server: RunningServer, session_id: str) -> list[str]:
    """The session's ballot keys and seed still kept in ``secrets/ballots/``."""
    directory = server.config.secrets_dir / "ballots"
    return sorted(p.name for p in directory.glob(f"{session_id}-*")) if directory.is_dir() else []


async def polling_push(seat: SyntheticSeat, happened: str) -> dict[str, Any]:
    """The latest ``workflow`` push of kind `happened` a seat received."""
    await polling.wait_until(lambda: bool(pushes(seat, happened)), 10, f"{happened} at the seat")
    return pushes(seat, happened)[-1]


async def test_door_entries_from_the_venues_access_control_go_into_the_sessions_record(
    room_server: RunningServer,
) -> None:
    server = room_server
    main, sub1, _ = (v.id for v in server.demo.venues)
    url = f"{server.base_url}/api/venues/{main}/door-access"
    entry = {"name": "王建国", "direction": "in", "card": "6222000012345678"}

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async with aiohttp.ClientSession() as http:
        door = server.tokens.issue_door(main)
        async with http.post(url, json=entry, headers=bearer(door)) as answer:
            assert answer.status == 201
            assert (await answer.json())["sessions"] == [server.demo.session.id]
        # Another venue's system, an expert, a bad direction or a time far away: refused.
        other = server.tokens.issue_door(sub1)
        async with http.post(url, json=entry, headers=bearer(other)) as answer:
            assert answer.status == 403
        expert = server.token(server.experts[0])
        async with http.post(url, json=entry, headers=bearer(expert)) as answer:
            assert answer.status == 403
        bad = {**entry, "direction": "sideways"}
        async with http.post(url, json=bad, headers=bearer(door)) as answer:
            assert answer.status == 400
        far = {**entry, "at": "2001-01-01T08:00:00+08:00"}
        async with http.post(url, json=far, headers=bearer(door)) as answer:
            assert answer.status == 400

    event = await polling.wait_event(
        server.services.store, server.demo.session.id, "door_access", name="王建国"
    )
    assert event.data["direction"] == "in" and event.data["venue"] == main
    assert event.data["card_last4"] == "5678"  # never the whole card number


async def test_door_entries_go_to_the_live_session_not_to_a_stale_one(tmp_path: Path) -> None:
    """A session of yesterday that nobody ended, and today's that started five hours ago and
    goes live when its host opens check-in: the venue's door entries go to today's, once live.
    """
    now = datetime.now(UTC)
    # The demo starts 10 minutes after `demo_now`: five hours ago.
    test_server, server = await start_server(
        tmp_path / "data", demo_now=now - timedelta(hours=5, minutes=10)
    )
    try:
        store = server.services.store
        today = server.demo.session
        main = today.main_venue_id
        stale = Session(
            id=new_id(),
            project_code="LN-STALE-0001",
            project_name="昨天未结束的项目",
            main_venue_id=main,
            sub_venue_ids=(),
            scheduled_start=now - timedelta(days=1),
        )
        await store.add_session(stale)
        url = f"{server.base_url}/api/venues/{main}/door-access"
        door = {"Authorization": f"Bearer {server.tokens.issue_door(main)}"}
        host = {"Authorization": f"Bearer {server.token(server.participant(Role.HOST))}"}

        async with aiohttp.ClientSession() as http:

            async def enter(name: str) -> list[str]:
                entry = {"name": name, "direction": "in"}
                async with http.post(url, json=entry, headers=door) as answer:
                    assert answer.status == 201
                    return list((await answer.json())["sessions"])

            # Neither is live, and both starts are long past: the entry belongs to neither.
            assert await enter("王建国") == []
            body = {"kind": "open_check_in", "fields": {}}
            workflow = f"{server.base_url}/api/sessions/{today.id}/workflow"
            async with http.post(workflow, json=body, headers=host) as answer:
                assert answer.status == 200, await answer.text()
            assert (await store.get_session(today.id)).state == SessionState.LIVE
            assert await enter("李淑珍") == [today.id]

        async def entries(session_id: str) -> list[str]:
            events = await store.list_events(session_id)
            return [e.data["name"] for e in events if e.kind == "door_access"]

        assert await entries(today.id) == ["李淑珍"]
        assert await entries(stale.id) == []
    finally:
        await test_server.close()


async def test_a_centre_wide_supervisor_stops_any_session_and_nothing_else(
    room_server: RunningServer,
) -> None:
    server = room_server
    session_id = server.demo.session.id
    supervisor = {"Authorization": f"Bearer {server.tokens.issue_supervisor('周文华')}"}
    host = server.token(server.participant(Role.HOST))

    async def post(session: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        url = f"{server.base_url}/api/sessions/{session}/workflow"
        async with http.post(url, json=body, headers=supervisor) as answer:
            return answer.status, await answer.json()

    async with aiohttp.ClientSession() as http:
        assert (await post(session_id, {"kind": "pause", "fields": {"reason": "x"}}))[0] == 409
        headers = {"Authorization": f"Bearer {host}"}
        url = f"{server.base_url}/api/sessions/{session_id}/workflow"
        async with http.post(url, json={"kind": "open_check_in"}, headers=headers) as answer:
            assert answer.status == 200
        status, body = await post(session_id, {"kind": "pause", "fields": {"reason": "画面异常"}})
        assert status == 200 and body["state"]["paused"] is True
        # Pausing is all a centre-wide token may do to a session; an unknown session is 404.
        status, body = await post(session_id, {"kind": "resume"})
        assert status == 403
        status, body = await post("no-such-session", {"kind": "pause", "fields": {"reason": "x"}})
        assert status == 404
    paused = await polling.wait_event(
        server.services.store, session_id, "workflow", happened="evaluation_paused"
    )
    assert paused.actor == "supervisor:周文华"


async def test_experts_are_imported_before_check_in_and_a_withdrawn_expert_is_replaced(
    room_server: RunningServer,
) -> None:
    server = room_server
    session_id = server.demo.session.id
    main, sub1, _ = (v.id for v in server.demo.venues)
    base = f"{server.base_url}/api/sessions/{session_id}"
    staff = {p.venue_id: server.token(p) for p in server.demo.participants if p.role == Role.STAFF}
    admin = server.tokens.issue_admin()
    leaving = server.experts[1]  # 沈阳主场 2号机位

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    drawn = {"name": "钱卫东", "venue_id": main, "seat_no": 4, "id_number": "21010219800101123x"}
    async with aiohttp.ClientSession() as http:
        # The expert management system imports the drawn experts (admin token) before check-in.
        url = f"{base}/experts"
        async with http.post(url, json={"experts": [drawn]}, headers=bearer(staff[main])) as r:
            assert r.status == 403
        bad = {**drawn, "id_number": "12345"}
        async with http.post(url, json={"experts": [bad]}, headers=bearer(admin)) as r:
            assert r.status == 400 and "身份证号" in (await r.json())["detail"]
        async with http.post(url, json={"experts": [drawn, drawn]}, headers=bearer(admin)) as r:
            assert r.status == 400  # the same seat twice: nothing is stored
        # An expert already online sees the newcomer in the roster, and the grid gets a tile.
        async with SyntheticSeat(
            server.base_url,
            server.token(server.experts[0]),
            camera=CounterVideoTrack((90, 90, 90)),
            decode=False,
            name="early",
        ) as early:
            async with http.post(url, json={"experts": [drawn]}, headers=bearer(admin)) as r:
                assert r.status == 201
                (imported,) = (await r.json())["experts"]
            await early.wait_roster(
                lambda r: any(s["expert_name"] == "钱卫东" for s in r["seats"]), 10
            )
            worker = server.services.workers.workers[0]
            assert isinstance(worker, InProcessWorker) and worker.worker is not None
            assert f"{main}:4" in worker.worker.rooms[session_id].labels
        assert imported["id_last4"] == "123X" and "/seat?code=" in imported["url"]
        async with http.post(url, json={"experts": [drawn]}, headers=bearer(admin)) as r:
            assert r.status == 400  # the seat is taken now
        async with http.get(f"{base}/roster", headers=bearer(staff[main])) as r:
            names = [s["expert_name"] for s in (await r.json())["seats"]]
        assert "钱卫东" in names

        host = bearer(server.token(server.participant(Role.HOST)))
        async with http.post(f"{base}/workflow", json={"kind": "open_check_in"}, headers=host) as r:
            body = await r.json()
            assert r.status == 200 and body["state"]["experts"] == 7
        async with http.post(url, json={"experts": [drawn]}, headers=bearer(admin)) as r:
            assert r.status == 400 and "签到开始后" in (await r.json())["detail"]

        # An expert online at the seat declares a conflict of interest and withdraws.
        async with SyntheticSeat(
            server.base_url,
            server.token(leaving),
            camera=CounterVideoTrack((200, 60, 60)),
            decode=False,
            name="leaving",
        ) as seat:
            async with http.post(
                f"{base}/workflow",
                json={"kind": "withdraw", "fields": {"reason": "与投标人甲有亲属关系"}},
                headers=bearer(server.token(leaving)),
            ) as r:
                assert r.status == 200
            replace_url = f"{base}/experts/{leaving.id}/replacement"
            newcomer = {"name": "周建华", "id_number": "210102197905052345"}
            async with http.post(replace_url, json=newcomer, headers=bearer(staff[sub1])) as r:
                assert r.status == 403  # another venue's staff
            async with http.post(replace_url, json=newcomer, headers=bearer(staff[main])) as r:
                assert r.status == 201, await r.text()
                answer = await r.json()
            await polling.wait_until(
                lambda: any(e == "replaced" for e, _ in seat.events), 10, "the seat is told"
            )
        replacement = answer["replacement"]
        assert answer["happened"] == "expert_replaced"
        assert (replacement["venue_id"], replacement["seat_no"]) == (main, 2)
        assert replacement["id_last4"] == "2345"
        assert leaving.id not in answer["state"]["seated"]
        assert replacement["id"] in answer["state"]["seated"]
        async with http.post(replace_url, json=newcomer, headers=bearer(staff[main])) as r:
            assert r.status == 409  # replaced once

    # The old link no longer opens the seat; the new expert's does, under their own name.
    with pytest.raises(socketio.exceptions.ConnectionError, match="不再参加本场评标"):
        async with SyntheticSeat(server.base_url, server.token(leaving), name="old"):
            pass
    new_token = await session_token(server.base_url, replacement["url"])
    async with SyntheticSeat(
        server.base_url, new_token, camera=CounterVideoTrack((60, 200, 60)), name="new"
    ) as seat:
        roster = await seat.wait_roster(lambda r: any(s["online"] for s in r["seats"]), 10)
        entry = next(s for s in roster["seats"] if s["key"] == f"{main}:2")
        assert entry["expert_name"] == "周建华" and entry["online"]

    services = server.services
    assert services.workflow is not None
    rebuilt = await WorkflowService(
        services.store,
        services.events,
        archive_dir=server.config.archive_dir,
        ballots=BallotKeys(server.config.secrets_dir / "ballots"),
    ).state(session_id)
    assert rebuilt == await services.workflow.state(session_id)


async def seats_checked_in(
    server: RunningServer, stack: AsyncExitStack, http: aiohttp.ClientSession, count: int
) -> tuple[Actor, dict[str, Actor], list[Actor]]:
    """The host opens check-in; the first `count` experts take their seats with a camera, staff
    take each one's identity picture and confirm, and each signs the commitment letter."""
    session_id = server.demo.session.id
    people = server.demo.participants
    staff = {p.venue_id: Actor(http, server, p) for p in people if p.role == Role.STAFF}
    host = Actor(http, server, server.participant(Role.HOST))
    experts = [Actor(http, server, e) for e in server.experts]
    for i, e in enumerate(server.experts[:count]):
        await stack.enter_async_context(
            SyntheticSeat(
                server.base_url,
                server.token(e),
                camera=CounterVideoTrack((40 + 30 * i, 90, 160)),
                decode=False,
                name=f"seat-{i}",
            )
        )
    await host.ok("open_check_in")
    media = server.media(session_id)
    assert media is not None and media.analysis is not None
    analysis = media.analysis
    keys = [f"{e.venue_id}:{e.seat_no}" for e in server.experts[:count]]
    await polling.wait_until(
        lambda: all(analysis.has_picture(k) for k in keys), 15, "the seats' camera pictures"
    )
    for expert in experts[:count]:
        venue_staff = staff[expert.who.venue_id]
        async with http.post(
            f"{expert.base}/identity/{expert.who.id}", headers=venue_staff.headers
        ) as answer:
            assert answer.status == 201
        await venue_staff.ok("check_in", expert=expert.who.id)
        await expert.ok("commit", no_conflict=True)
        await expert.ok("register_key", public_key=expert.public_key())
    return host, staff, experts


async def test_excusing_absent_experts_lets_the_election_and_the_end_go_through(
    room_server: RunningServer,
) -> None:
    server = room_server
    session_id = server.demo.session.id
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(aiohttp.ClientSession())
        host, staff, experts = await seats_checked_in(server, stack, http, 5)
        e0, e1, e2, e3, e4, e5 = experts
        absent_staff = staff[e5.who.venue_id]
        other_staff = next(p for v, p in staff.items() if v != e5.who.venue_id)

        # e5 never came: no picture can be taken, so no check-in, and the election waits.
        async with http.post(
            f"{e5.base}/identity/{e5.who.id}", headers=absent_staff.headers
        ) as answer:
            assert answer.status == 400
        status, body = await absent_staff.do("check_in", expert=e5.who.id)
        assert status == 409 and "拍照核验" in body["detail"]
        status, body = await host.do("start_election", tie_rule="lot")
        assert status == 409 and "1 名专家未签到" in body["detail"]
        # Their venue's staff excuse them, with the reason.
        status, _ = await other_staff.do("excuse_expert", expert=e5.who.id, reason="未到场")
        assert status == 403
        status, body = await absent_staff.do("excuse_expert", expert=e5.who.id)
        assert status == 409 and "离席原因" in body["detail"]
        body = await absent_staff.ok(
            "excuse_expert", expert=e5.who.id, reason="专家未到场，电话无人接听"
        )
        assert body["happened"] == "expert_excused"
        assert e5.who.id in body["state"]["excused"] and e5.who.id not in body["state"]["seated"]

        # The election: e4 leaves the seat without voting and is excused; the round is counted.
        body = await host.ok("start_election", tie_rule="revote", max_rounds=2)
        assert e5.who.id not in body["state"]["election"]["candidates"]
        for voter, choice in ((e0, e1), (e1, e1), (e2, e1), (e3, e0)):
            await voter.ok("cast_ballot", candidate=choice.who.id)
        body = await host.ok("excuse_expert", expert=e4.who.id, reason="网络中断，无法恢复")
        assert body["state"]["phase"] == "evaluation" and body["state"]["leader"] == e1.who.id
        # An excused expert's token no longer reaches the session (the policy table).
        status, body = await e4.do("cast_ballot", candidate=e1.who.id)
        assert status == 403 and "不再参加" in body["detail"]

        # A motion closed by the leader with an abstention; another cancelled.
        await e1.ok("open_motion", title="是否否决投标人甲的投标", options=["同意", "不同意"])
        await e0.ok("vote", motion=1, abstain=True)
        await e2.ok("vote", motion=1, option="同意")
        body = await e1.ok("close_motion", motion=1)
        motion = body["state"]["motions"][0]
        assert motion["result"] == {"同意": 1, "不同意": 0} and motion["abstained"] == 1
        await e1.ok("open_motion", title="是否调整评审顺序", options=["同意", "不同意"])
        body = await host.ok("cancel_motion", motion=2, reason="议题重复")
        assert body["state"]["motions"][1]["cancelled"] == "议题重复"

        # The report is signed by the four seated experts, and the end goes through.
        async with http.post(f"{e1.base}/report", data=REPORT_PDF, headers=e1.headers) as r:
            assert r.status == 200, await r.text()
            report = (await r.json())["state"]["report"]
        for expert in (e0, e1, e2, e3):
            await expert.ok(
                "sign",
                report_sha256=report["sha256"],
                signature=expert.signature(report["sha256"], report["sm3"]),
                handwriting_png=handwriting(expert.who.name),
            )
        body = await host.ok("end")
        assert body["state"]["phase"] == "ended"

    events = await server.services.store.list_events(session_id)
    excused = [
        e.data["details"]
        for e in events
        if e.kind == "workflow" and e.data["happened"] == "expert_excused"
    ]
    assert [d["reason"] for d in excused] == ["专家未到场，电话无人接听", "网络中断，无法恢复"]
    assert excused[1]["election"]["happened"] == "leader_elected"
    assert excused[1]["election"]["tally"][e1.who.id] == 3


async def test_a_tie_drawn_by_lot_is_checked_from_the_log_and_its_keys_are_gone(
    room_server: RunningServer,
) -> None:
    server = room_server
    session_id = server.demo.session.id
    store = server.services.store
    live = server.services.workflow
    assert live is not None

    def restarted() -> WorkflowService:
        """The service of a restarted server: the same database and secrets/, nothing kept."""
        return WorkflowService(
            store,
            server.services.events,
            archive_dir=server.config.archive_dir,
            ballots=BallotKeys(server.config.secrets_dir / "ballots"),
        )

    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(aiohttp.ClientSession())
        host, _, experts = await seats_checked_in(server, stack, http, 4)
        e0, e1, e2, e3, e4, e5 = experts
        for absent in (e4, e5):
            await host.ok("excuse_expert", expert=absent.who.id, reason="未到场")
        status, body = await host.do("start_election", tie_rule="lot", max_rounds=3)
        assert status == 409
        body = await host.ok("start_election", tie_rule="lot")
        assert body["state"]["election"]["tie_rule"] == "lot"
        await e0.ok("cast_ballot", candidate=e1.who.id)
        await e1.ok("cast_ballot", candidate=e0.who.id)
        # The open round's key and the seed are kept, private, and a restart opens the ballots.
        assert secret_files(server, session_id) == [f"{session_id}-1.key", f"{session_id}-lot.seed"]
        for name in secret_files(server, session_id):
            mode = (server.config.secrets_dir / "ballots" / name).stat().st_mode & 0o777
            assert mode == 0o600
        assert await restarted().state(session_id) == await live.state(session_id)
        await e2.ok("cast_ballot", candidate=e3.who.id)
        body = await e3.ok("cast_ballot", abstain=True)
        assert body["happened"] == "leader_drawn"
        leader = body["state"]["leader"]

    # Anybody holding the log checks the draw: the seed revealed is the one committed to before
    # the ballot, and it gives the same winner.
    workflow = [e.data for e in await store.list_events(session_id) if e.kind == "workflow"]
    started = next(d["details"] for d in workflow if d["happened"] == "election_started")
    drawn = next(d["details"] for d in workflow if d["happened"] == "leader_drawn")
    tied = sorted(e.who.id for e in (e0, e1, e3))
    assert drawn["tied"] == tied and drawn["abstained"] == 1 and drawn["leader"] == leader
    seed = bytes.fromhex(drawn["seed"])
    assert hashlib.sha256(seed).hexdigest() == started["lot_commitment"]
    assert lots.winner(seed, session_id, 1, tied) == leader
    assert lots.verify_draw(drawn["seed"], started["lot_commitment"], session_id, 1, tied, leader)
    # The seed was logged only at the draw, and no ballot names a candidate.
    ballots = [d["command"]["fields"] for d in workflow if d["command"]["kind"] == "cast_ballot"]
    assert all(set(f) == {"expert", "sealed"} for f in ballots)
    assert drawn["seed"] not in str([d for d in workflow if d["happened"] != "leader_drawn"])

    # The tally is published: the round's key and the seed are destroyed, and a restarted
    # server rebuilds the same state from the published tally.
    assert secret_files(server, session_id) == []
    assert await restarted().state(session_id) == await live.state(session_id)


async def test_an_administrator_forces_the_end_with_a_reason_and_nothing_is_accepted_after(
    room_server: RunningServer,
) -> None:
    server = room_server
    session_id = server.demo.session.id
    admin = {"Authorization": f"Bearer {server.tokens.issue_admin('值班管理员')}"}
    url = f"{server.base_url}/api/sessions/{session_id}/workflow"
    async with aiohttp.ClientSession() as http:
        host = Actor(http, server, server.participant(Role.HOST))
        await host.ok("open_check_in")
        status, body = await host.do("force_end", reason="无法继续")
        assert status == 403
        async with http.post(url, json={"kind": "force_end"}, headers=admin) as answer:
            assert answer.status == 409 and "强制结束原因" in (await answer.json())["detail"]
        forced = {"kind": "force_end", "fields": {"reason": "主场断电，评标改期"}}
        async with http.post(url, json=forced, headers=admin) as answer:
            assert answer.status == 200
            state = (await answer.json())["state"]
        assert state["phase"] == "ended" and state["forced_end"] == "主场断电，评标改期"
        status, body = await host.do("notice", text="x")
        assert status == 409 and "已结束" in body["detail"]
    event = await polling.wait_event(
        server.services.store, session_id, "workflow", happened="session_forced_end"
    )
    assert event.data["details"] == {
        "forced": True,
        "reason": "主场断电，评标改期",
        "phase": "check_in",
    }
    assert event.actor is not None and "值班管理员" in event.actor
    # The forced end ends the session as the end instruction does: seats sent away, archive sealed.
    assert (await server.services.store.get_session(session_id)).state == SessionState.ENDED
