"""The whole platform from the provincial side: a centre's administrator builds a project of two
lots from an empty data directory through REST alone, books a main venue and a drawn sub venue,
draws the experts, the server restarts, the first lot is evaluated with real seats to the end
instruction and the second is ended; the provincial scheduling system, subscribed to every
topic, receives every push of it in the log's order, each signed, nothing lost at the restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from roomserver.demo import DemoData
from roomserver.model import Role
from roomserver.pushes import Topic, topic_of
from signaling.http.api import SERVICES
from tests.integration.conftest import RunningServer
from tests.integration.platform_support import Admin, iso
from tests.integration.sessionflow import run_whole_session
from tests.integration.test_webhooks import Receiver, base_url, in_order_once, start_app

POOL = [
    {
        "external_id": f"E{i:03d}",
        "name": f"专家{i:02d}",
        "specialties": ["建筑" if i % 2 else "造价"],
        "city": "沈阳" if i < 8 else "大连",
        "employer": f"单位{i}",
    }
    for i in range(1, 15)
]


async def _prepare(admin: Admin, start: datetime) -> dict[str, Any]:
    """Centres, venues, a project of two lots, bookings, the drawn sub venue, the first lot's
    session, its host and staff, the pool and the drawn experts."""
    _, main = await admin.venue("沈阳", "沈阳第三评标室", 6, region_code="210100")
    await admin.venue("大连", "大连第一评标室", 5, region_code="210200")
    centres = (await admin.call("GET", "/api/centres", 200))["items"]
    project = await admin.call(
        "POST",
        "/api/projects",
        201,
        json={
            "centre_id": next(c["id"] for c in centres if c["city"] == "沈阳"),
            "code": "LN-2026-0900",
            "name": "沈阳市某综合管廊工程",
            "tenderer": "沈阳市城乡建设局",
            "lots": [{"code": "01", "name": "土建"}, {"code": "02", "name": "安装"}],
        },
    )
    lot = project["lots"][0]
    slot = {
        "starts_at": iso(start - timedelta(minutes=30)),
        "ends_at": iso(start + timedelta(hours=4)),
    }
    drawn = await admin.call(
        "POST",
        f"/api/lots/{lot['id']}/draws/sub-venues",
        201,
        json={"main_venue_id": main["id"], "count": 1, "seats": 5, **slot},
    )
    sub = (await admin.call("POST", f"/api/draws/{drawn['id']}/reveal", 200))["result"][0]
    for venue_id in (main["id"], sub["id"]):
        await admin.call(
            "POST",
            "/api/bookings",
            201,
            json={
                "venue_id": venue_id,
                **slot,
                "purpose": "LN-2026-0900 土建评标",
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
    await admin.call(
        "POST",
        f"/api/sessions/{session_id}/people",
        201,
        json={"role": "host", "name": "李主持", "venue_id": main["id"]},
    )
    await admin.call("POST", "/api/experts/pool", 200, json={"experts": POOL})
    experts = await admin.call(
        "POST",
        f"/api/lots/{lot['id']}/draws/experts",
        201,
        json={
            "needs": [
                {"count": 3, "venue_id": main["id"], "city": "沈阳"},
                {"count": 2, "venue_id": sub["id"], "city": "大连"},
            ]
        },
    )
    await admin.call("POST", f"/api/draws/{experts['id']}/reveal", 200)
    return {"project": project, "main": main, "session": session_id}


async def test_the_provincial_side_receives_every_push_of_a_project_in_order(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    async with Receiver() as receiver:
        server, tokens = await start_app(data_dir)
        token = tokens.issue_admin()
        try:
            async with aiohttp.ClientSession() as http:
                admin = Admin(http, base_url(server), token)
                hook = await admin.call(
                    "POST",
                    "/api/webhooks",
                    201,
                    json={"name": "省调度系统", "url": receiver.url, "topics": list(Topic)},
                )
                receiver.secret = hook["secret"]
                made = await _prepare(admin, start)
        finally:
            await server.close()  # the server restarts in the middle

        server, tokens = await start_app(data_dir)
        try:
            app = server.app
            store = app[SERVICES].store
            session_id = made["session"]
            people = await store.list_participants(session_id)
            session = await store.get_session(session_id)
            venues = [await store.get_venue(v) for v in session.venue_ids()]
            running = RunningServer(
                base_url(server),
                app,
                app[SERVICES].config,
                DemoData(session, venues, people),
                tokens,
            )
            host = next(p for p in people if p.role == Role.HOST)
            # The host checks in the experts of every venue.
            experts = [p for p in people if p.role == Role.EXPERT]
            await run_whole_session(running, session_id, experts, host, host)
            async with aiohttp.ClientSession() as http:
                admin = Admin(http, base_url(server), token)
                second = made["project"]["lots"][1]
                later = start + timedelta(hours=6)
                await admin.call(
                    "POST",
                    "/api/bookings",
                    201,
                    json={
                        "venue_id": made["main"]["id"],
                        "starts_at": iso(later),
                        "ends_at": iso(later + timedelta(hours=2)),
                        "purpose": "LN-2026-0900 安装评标",
                        "lot_id": second["id"],
                    },
                )
                other = await admin.call(
                    "POST",
                    f"/api/lots/{second['id']}/session",
                    201,
                    json={"main_venue_id": made["main"]["id"], "scheduled_start": iso(later)},
                )
                await admin.call(
                    "POST",
                    f"/api/sessions/{other['session']['id']}/end",
                    200,
                    json={"reason": "第二标段流标"},
                )
                # The project says which lot's session was ended by force, and why.
                project_id = made["project"]["id"]
                detail = await admin.call("GET", f"/api/projects/{project_id}", 200)
                ended = [lot["session"]["forced_end"] for lot in detail["lots"]]
                assert ended[0] is None and ended[1]["reason"] == "第二标段流标", ended
                await receiver.until(
                    "the project's results",
                    lambda got: any(p.body["kind"] == "project_results_ready" for p in got),
                    within=30,
                )
            events = await store.list_events()
        finally:
            await server.close()

    pushed = in_order_once(receiver.accepted())
    assert all(p.signed for p in receiver.got), "every push is signed"
    expected = [e for e in events if topic_of(e.kind, e.data) is not None]
    assert [p.body["seq"] for p in pushed] == [e.seq for e in expected], "all, once, in order"
    assert {p.topic for p in pushed} == {str(t) for t in Topic}, "every topic was pushed"
    kinds = [p.body["kind"] for p in pushed]
    assert kinds.count("expert_fee_recorded") == 5 and kinds.count("session_ended") == 2
    assert kinds[-1] == "project_results_ready"
