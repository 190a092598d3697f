"""The committee's workflow through the real app: six experts in three venues, each seat a real
Socket.IO and WebRTC client with a camera, each person acting with their own token, from
check-in to the sealed archive; a tie in the election, an incident with pause and resume, a
motion, the report co-signed with ECDSA keys and handwriting, refusals logged, and the state
rebuilt from the log as a restarted server would."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from PIL import Image

from media.testing.synthetic import CounterVideoTrack
from recorder.hashing import sha256_hex, sm3_hex
from recorder.verify import verify_archive
from roomserver.letters import COMMITMENT_SHA256
from roomserver.model import Role, Session, SessionState, new_id
from signaling.services.ballots import BallotKeys
from signaling.services.workflow import WorkflowService
from signaling.testing.seat import SyntheticSeat
from tests import polling
from tests.integration.conftest import RunningServer, start_server
from tests.integration.sessionflow import Actor, handwriting, secret_files

REPORT_PDF = b"%PDF-1.4\n% evaluation report of LN-DEMO-0001\n1 0 obj <<>> endobj\n%%EOF\n"


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
