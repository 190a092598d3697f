"""Changes to the committee through the real app: experts imported and a withdrawn one replaced,
absent experts excused, a tie drawn by lot, and an administrator's forced end; each checked in the
session's record and its archive."""

from __future__ import annotations

import hashlib
from contextlib import AsyncExitStack

import aiohttp
import pytest
import socketio

from media.testing.synthetic import CounterVideoTrack
from roomserver import lots
from roomserver.model import Role, SessionState
from signaling.services.ballots import BallotKeys
from signaling.services.workflow import WorkflowService
from signaling.testing.seat import SyntheticSeat
from signaling.worker.inprocess import InProcessWorker
from tests import polling
from tests.integration.conftest import RunningServer
from tests.integration.sessionflow import Actor, handwriting, secret_files
from tests.logins import session_token

REPORT_PDF = b"%PDF-1.4\n% evaluation report of LN-DEMO-0001\n1 0 obj <<>> endobj\n%%EOF\n"


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
