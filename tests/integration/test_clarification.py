"""A lot from its bid opening to its evaluation: the opening ends signed; its record is handed to
the committee; during the evaluation the host puts the committee's written question to a bidder,
who answers in its hall without learning who asked; the exchange is in the evaluation's
archive, which verifies."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import socketio
from aiohttp.test_utils import TestServer

from recorder.verify import verify_archive
from roomserver.demo import DemoData
from roomserver.model import Role
from signaling.gate.tokens import TokenIssuer
from signaling.http.api import SERVICES
from tests.integration.conftest import RunningServer
from tests.integration.opening_support import run_opening_to_end, set_up
from tests.integration.platform_support import Admin, iso
from tests.integration.sessionflow import run_whole_session

LEAD_S = 4.0
EXPERTS = ["周专家", "吴专家", "郑专家", "王专家", "冯专家"]


async def test_the_committee_asks_a_bidder_through_the_host_and_the_bidder_answers(
    empty_server: tuple[TestServer, Any, TokenIssuer],
) -> None:
    server, config, tokens = empty_server
    base_url = str(server.make_url("")).rstrip("/")
    store = server.app[SERVICES].store
    async with aiohttp.ClientSession() as http:
        admin = Admin(http, base_url, tokens.issue_admin())
        setup = await set_up(admin, LEAD_S)
        lot_id = setup.lot_id
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
        await admin.book_for_lot(
            setup.venue_id, lot_id, start - timedelta(minutes=30), start + timedelta(hours=4)
        )
        opened = await admin.call(
            "POST",
            f"/api/lots/{lot_id}/session",
            201,
            json={"main_venue_id": setup.venue_id, "scheduled_start": iso(start)},
        )
        evaluation = opened["session"]["id"]
        for role, name in (("host", "评标主持人"), ("staff", "评标工作人员")):
            await admin.call(
                "POST",
                f"/api/sessions/{evaluation}/people",
                201,
                json={"role": role, "name": name, "venue_id": setup.venue_id},
            )
        experts = [
            {"name": name, "venue_id": setup.venue_id, "seat_no": i + 1}
            for i, name in enumerate(EXPERTS)
        ]
        await admin.call(
            "POST", f"/api/sessions/{evaluation}/experts", 201, json={"experts": experts}
        )
        # Before the opening ended its record is not handed over.
        admin_view = await admin.call("GET", f"/api/sessions/{evaluation}/opening-record", 409)
        assert "开标尚未结束" in admin_view["detail"]
        await run_opening_to_end(setup, [("9800000", 300), ("10200000.50", 280), ("9950000", 320)])

    people = await store.list_participants(evaluation)
    by_role = {p.role: p for p in people}
    expert_people = [p for p in people if p.role == Role.EXPERT]
    session = await store.get_session(evaluation)
    venues = [await store.get_venue(session.main_venue_id)]
    running = RunningServer(base_url, server.app, config, DemoData(session, venues, people), tokens)
    first = setup.bidders[0]
    asked: dict[str, Any] = {}

    async def clarify() -> None:
        async with aiohttp.ClientSession() as http:
            host = Admin(http, base_url, running.token(by_role[Role.HOST]))
            expert = Admin(http, base_url, running.token(expert_people[0]))
            bidder = Admin(http, base_url, first.api.headers["Authorization"][7:])
            # The committee works from the opening's record.
            record = await expert.call("GET", f"/api/sessions/{evaluation}/opening-record", 200)
            assert [row["name"] for row in record["readout"]] == [b.name for b in setup.bidders]
            assert all(b.get("id_last4") is None for b in record["bidders"])
            async with http.get(
                f"{base_url}/api/sessions/{evaluation}/opening-record/sheet",
                headers=expert.headers,
            ) as r:
                assert r.status == 200 and (await r.read()).startswith(b"%PDF")
            # Only the main venue's host puts the question; an expert cannot.
            await expert.call(
                "POST",
                f"/api/sessions/{evaluation}/clarifications",
                403,
                json={"bidder": first.id, "question": "请说明报价中的暂列金额"},
            )
            hall = socketio.AsyncClient(reconnection=False)
            told: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            hall.on("clarifications", told.put_nowait, namespace="/hall")
            await hall.connect(
                base_url,
                namespaces=["/hall"],
                auth={"token": first.api.headers["Authorization"][7:]},
                transports=["websocket"],
                wait_timeout=10,
            )
            asked.update(
                await host.call(
                    "POST",
                    f"/api/sessions/{evaluation}/clarifications",
                    201,
                    json={"bidder": first.id, "question": "请说明报价中的暂列金额依据"},
                )
            )
            pushed = await asyncio.wait_for(told.get(), 10)
            assert pushed["items"][0]["number"] == 1
            mine = await bidder.call(
                "GET", f"/api/sessions/{setup.session_id}/bidder-clarifications", 200
            )
            assert [q["question"] for q in mine["items"]] == ["请说明报价中的暂列金额依据"]
            # Nothing of who asked reaches the bidder.
            text = str(mine)
            assert not any(name in text for name in EXPERTS) and "评标主持人" not in text
            other = Admin(http, base_url, setup.bidders[1].api.headers["Authorization"][7:])
            assert (
                await other.call(
                    "GET", f"/api/sessions/{setup.session_id}/bidder-clarifications", 200
                )
            )["items"] == []
            await other.call(
                "POST",
                f"/api/sessions/{setup.session_id}/bidder-clarifications/1/answer",
                403,
                json={"answer": "代答"},
            )
            await bidder.call(
                "POST",
                f"/api/sessions/{setup.session_id}/bidder-clarifications/1/answer",
                200,
                json={"answer": "暂列金额按招标文件第五章规定计列。"},
            )
            listed = await expert.call("GET", f"/api/sessions/{evaluation}/clarifications", 200)
            assert listed["items"][0]["answer"] == "暂列金额按招标文件第五章规定计列。"
            answered = await asyncio.wait_for(told.get(), 10)
            assert answered["items"][0]["answer"].startswith("暂列金额")
            await hall.disconnect()

    await run_whole_session(
        running,
        evaluation,
        expert_people,
        by_role[Role.HOST],
        by_role[Role.STAFF],
        during_evaluation=clarify,
    )
    assert asked["number"] == 1
    kinds = [
        e.data["happened"] for e in await store.list_events(evaluation) if e.kind == "clarification"
    ]
    assert kinds == ["clarification_asked", "clarification_answered"]
    verdict = verify_archive(config.archive_dir / evaluation)
    assert verdict.ok, verdict.differences
