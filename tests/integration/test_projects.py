"""A centre runs a real evaluation set up through REST alone, from an empty data directory: its
venues, a project of two lots, bookings, the first lot's session on its booked venues, its
people and drawn experts; then the session runs with real seats to the end instruction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from roomserver.demo import DemoData
from roomserver.model import Role
from signaling.gate.tokens import TokenIssuer
from signaling.http.api import SERVICES
from tests.integration.conftest import RunningServer
from tests.integration.platform_support import Admin, iso
from tests.integration.sessionflow import run_whole_session

BEIJING = "+08:00"


async def test_a_project_of_two_lots_is_set_up_and_its_first_lot_evaluated(
    empty_server: tuple[TestServer, Any, TokenIssuer],
) -> None:
    server, config, tokens = empty_server
    base_url = str(server.make_url("")).rstrip("/")
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    async with aiohttp.ClientSession() as http:
        admin = Admin(http, base_url, tokens.issue_admin())
        shenyang, main = await admin.venue("沈阳", "沈阳第三评标室", 6)
        _, sub = await admin.venue("大连", "大连第一评标室", 5)
        project = await admin.call(
            "POST",
            "/api/projects",
            201,
            json={
                "centre_id": shenyang["id"],
                "code": "LN-2026-0107",
                "name": "沈阳市某道路改造工程",
                "tenderer": "沈阳市城乡建设局",
                "lots": [{"code": "01", "name": "第一标段"}, {"code": "02", "name": "第二标段"}],
            },
        )
        lot = project["lots"][0]
        slot = {
            "starts_at": iso(start - timedelta(minutes=30)),
            "ends_at": iso(start + timedelta(hours=4)),
        }
        # Without bookings the session cannot open.
        refused = await admin.call(
            "POST",
            f"/api/lots/{lot['id']}/session",
            400,
            json={
                "main_venue_id": main["id"],
                "sub_venue_ids": [sub["id"]],
                "scheduled_start": iso(start),
            },
        )
        assert "请先预约场地机位" in refused["detail"]
        for venue in (main, sub):
            await admin.call(
                "POST",
                "/api/bookings",
                201,
                json={
                    "venue_id": venue["id"],
                    **slot,
                    "purpose": "LN-2026-0107 第一标段评标",
                    "lot_id": lot["id"],
                },
            )
        opened = await admin.call(
            "POST",
            f"/api/lots/{lot['id']}/session",
            201,
            json={
                "main_venue_id": main["id"],
                "sub_venue_ids": [sub["id"]],
                "scheduled_start": iso(start),
            },
        )
        session_id = opened["session"]["id"]
        again = await admin.call(
            "POST",
            f"/api/lots/{lot['id']}/session",
            400,
            json={"main_venue_id": main["id"], "scheduled_start": iso(start)},
        )
        assert "已有评标场次" in again["detail"]
        for role, name, venue in (
            ("host", "李主持", main["id"]),
            ("staff", "张工作", main["id"]),
            ("staff", "赵工作", sub["id"]),
            ("witness", "钱见证", None),
            ("supervisor", "孙监督", None),
        ):
            await admin.call(
                "POST",
                f"/api/sessions/{session_id}/people",
                201,
                json={"role": role, "name": name, "venue_id": venue},
            )
        experts = [
            {"name": name, "venue_id": main["id"], "seat_no": i + 1}
            for i, name in enumerate(["周专家", "吴专家", "郑专家", "王专家", "冯专家"])
        ]
        await admin.call(
            "POST", f"/api/sessions/{session_id}/experts", 201, json={"experts": experts}
        )
        detail = await admin.call("GET", f"/api/projects/{project['id']}", 200)
        assert detail["lots"][0]["session"]["id"] == session_id
        assert detail["lots"][1]["session"] is None
        assert detail["lots"][0]["session"]["sub_venue_ids"] == [sub["id"]]

    app = server.app
    store = app[SERVICES].store
    people = await store.list_participants(session_id)
    bookings = await store.bookings.find(session_id=session_id)
    assert len(bookings) == 2
    session = await store.get_session(session_id)
    assert session.project_name == "沈阳市某道路改造工程 第一标段"
    venues = [await store.get_venue(v) for v in session.venue_ids()]
    running = RunningServer(base_url, app, config, DemoData(session, venues, people), tokens)
    by_role = {p.role: p for p in reversed(people)}
    await run_whole_session(
        running,
        session_id,
        [p for p in people if p.role == Role.EXPERT],
        by_role[Role.HOST],
        next(p for p in people if p.role == Role.STAFF and p.venue_id == main["id"]),
    )
    kinds = [e.kind for e in await store.list_events()]
    for kind in (
        "project_added",
        "booking_made",
        "session_opened",
        "person_added",
        "experts_imported",
    ):
        assert kind in kinds


async def test_an_ended_session_is_re_reviewed_and_the_project_lists_its_re_reviews(
    empty_server: tuple[TestServer, Any, TokenIssuer],
) -> None:
    server, _, tokens = empty_server
    base_url = str(server.make_url("")).rstrip("/")
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    async with aiohttp.ClientSession() as http:
        admin = Admin(http, base_url, tokens.issue_admin())
        shenyang, main = await admin.venue("沈阳", "沈阳第三评标室", 6)
        _, sub = await admin.venue("大连", "大连第一评标室", 5)
        _, small = await admin.venue("鞍山", "鞍山第一评标室", 5)
        project = await admin.project(
            shenyang["id"], "LN-2026-0201", "沈阳市某桥梁工程", [("01", "施工")]
        )
        lot = project["lots"][0]
        for venue in (main, sub):
            await admin.book_for_lot(
                venue["id"],
                lot["id"],
                start,
                start + timedelta(hours=4),
                "LN-2026-0201 施工标段评标",
            )
        opened = await admin.call(
            "POST",
            f"/api/lots/{lot['id']}/session",
            201,
            json={
                "main_venue_id": main["id"],
                "sub_venue_ids": [sub["id"]],
                "scheduled_start": iso(start),
            },
        )
        first = opened["session"]["id"]
        assert opened["reviews"] == [] and opened["session"]["review_of"] is None
        experts = [
            {"name": name, "venue_id": venue["id"], "seat_no": seat}
            for name, venue, seat in (
                ("周专家", main, 1),
                ("吴专家", main, 2),
                ("郑专家", main, 3),
                ("王专家", main, 4),
                ("冯专家", sub, 1),
                ("陈专家", sub, 2),
            )
        ]
        await admin.call("POST", f"/api/sessions/{first}/experts", 201, json={"experts": experts})
        review = {"scheduled_start": iso(start + timedelta(days=3)), "reason": "投标人提出异议"}
        refused = await admin.call("POST", f"/api/sessions/{first}/re-review", 400, json=review)
        assert "已结束" in refused["detail"]
        await admin.call("POST", f"/api/sessions/{first}/end", 200, json={"reason": "评标中止"})
        assert await admin.call("GET", f"/api/sessions/{first}/fees", 200) == {"items": []}

        # Remote, in the same venues and seats; then all together in one venue, if it seats all.
        crowded = await admin.call(
            "POST",
            f"/api/sessions/{first}/re-review",
            400,
            json={**review, "venue_id": small["id"]},
        )
        assert "机位不够" in crowded["detail"]
        sub_only = await admin.call(
            "POST",
            "/api/venues",
            201,
            json={
                "centre_id": shenyang["id"],
                "name": "沈阳第四评标室",
                "city": "沈阳",
                "seat_count": 10,
                "main_capable": False,
            },
        )
        one_place = {**review, "venue_id": sub_only["id"]}
        refused = await admin.call("POST", f"/api/sessions/{first}/re-review", 400, json=one_place)
        assert refused["detail"] == "沈阳第四评标室不能作为主场"
        remote = await admin.call("POST", f"/api/sessions/{first}/re-review", 201, json=review)
        second = remote["session"]["id"]
        assert remote["review_of"] == first and remote["session"]["review_of"] == first
        assert remote["session"]["sub_venue_ids"] == [sub["id"]]
        assert remote["session"]["review_reason"] == "投标人提出异议"
        assert len(remote["experts"]) == 6
        await admin.call("POST", f"/api/sessions/{second}/end", 200, json={"reason": "改期"})
        later = {
            "scheduled_start": iso(start + timedelta(days=5)),
            "reason": "再次复议",
            "venue_id": main["id"],
        }
        together = await admin.call("POST", f"/api/sessions/{second}/re-review", 201, json=later)
        third = together["session"]["id"]
        assert together["session"]["sub_venue_ids"] == []

        # The project lists the lot's own session, then its re-reviews by start, each naming
        # the session it re-convenes.
        detail = await admin.call("GET", f"/api/projects/{project['id']}", 200)
        own = detail["lots"][0]
        assert own["session"]["id"] == first and own["session"]["state"] == "ended"
        assert [(r["id"], r["review_of"], r["state"]) for r in own["reviews"]] == [
            (second, first, "ended"),
            (third, second, "scheduled"),
        ]
        assert own["reviews"][1]["main_venue_id"] == main["id"]
        # Why each was re-convened, and why each ended by force, with when, by whom and in
        # which phase.
        assert own["session"]["review_reason"] is None
        assert [r["review_reason"] for r in own["reviews"]] == ["投标人提出异议", "再次复议"]
        forced = own["session"]["forced_end"]
        assert (forced["reason"], forced["phase"], forced["phase_label"]) == (
            "评标中止",
            "scheduled",
            "未开始",
        )
        assert forced["by"].startswith("admin:") and forced["at"]
        assert own["reviews"][0]["forced_end"]["reason"] == "改期"
        assert own["reviews"][1]["forced_end"] is None
        listed = await admin.call("GET", "/api/projects", 200)
        assert listed["items"][0]["lots"] == []
