"""Draws through the real app: a sub venue within the province and a lot's experts from the pool,
each committed (pool and seed's SHA-256 published) before it is revealed, checkable by anyone
from the record, and the drawn experts seated in the lot's session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp.test_utils import TestServer

from roomserver.draws import Draw, verify
from roomserver.model import Role
from signaling.config import AppConfig
from signaling.gate.tokens import TokenIssuer
from signaling.http.api import SERVICES
from tests.integration.platform_support import Admin, iso

CENTRES = (
    ("沈阳市公共资源交易中心", "沈阳", "210100"),
    ("大连市公共资源交易中心", "大连", "210200"),
    ("丹东市公共资源交易中心", "丹东", "210600"),
    ("北京市公共资源交易中心", "北京", "110100"),
)
SPECIALTIES = ("建筑", "造价", "电气")


async def _setup(admin: Admin) -> dict[str, dict[str, str]]:
    venues: dict[str, dict[str, str]] = {}
    for name, city, region in CENTRES:
        _, venues[city] = await admin.venue(
            city, f"{city}第一评标室", 6, centre=name, region_code=region
        )
    return venues


async def test_a_sub_venue_and_the_experts_are_drawn_and_can_be_checked(
    empty_server: tuple[TestServer, AppConfig, TokenIssuer],
) -> None:
    server, _, tokens = empty_server
    base_url = str(server.make_url("")).rstrip("/")
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    slot = {
        "starts_at": iso(start - timedelta(minutes=30)),
        "ends_at": iso(start + timedelta(hours=4)),
    }
    async with aiohttp.ClientSession() as http:
        admin = Admin(http, base_url, tokens.issue_admin())
        venues = await _setup(admin)
        main = venues["沈阳"]
        centres = (await admin.call("GET", "/api/centres", 200))["items"]
        project = await admin.call(
            "POST",
            "/api/projects",
            201,
            json={
                "centre_id": next(c["id"] for c in centres if c["city"] == "沈阳"),
                "code": "LN-2026-0300",
                "name": "某学校教学楼工程",
                "tenderer": "某教育局",
                "lots": [{"code": "01", "name": "施工"}],
            },
        )
        lot = project["lots"][0]

        # Sub venue: committed with its pool and commitment, no seed; revealed once.
        committed = await admin.call(
            "POST",
            f"/api/lots/{lot['id']}/draws/sub-venues",
            201,
            json={"main_venue_id": main["id"], "count": 1, "seats": 5, **slot},
        )
        assert committed["revealed"] is False and committed["seed"] is None
        pool = {c.id for c in Draw.from_facts_json(committed["facts"]).pool}
        assert pool == {venues["大连"]["id"], venues["丹东"]["id"]}, "the province, not Beijing"
        revealed = await admin.call("POST", f"/api/draws/{committed['id']}/reveal", 200)
        assert revealed["verified"] is True and revealed["commitment"] == committed["commitment"]
        [drawn] = revealed["result"]
        assert drawn["id"] in pool and drawn["name"].endswith("第一评标室")
        await admin.call("POST", f"/api/draws/{committed['id']}/reveal", 400)

        # The lot's session on its main and drawn sub venue.
        for venue_id in (main["id"], drawn["id"]):
            await admin.call(
                "POST",
                "/api/bookings",
                201,
                json={"venue_id": venue_id, **slot, "purpose": "评标", "lot_id": lot["id"]},
            )
        opened = await admin.call(
            "POST",
            f"/api/lots/{lot['id']}/session",
            201,
            json={
                "main_venue_id": main["id"],
                "sub_venue_ids": [drawn["id"]],
                "scheduled_start": iso(start),
            },
        )
        session_id = opened["session"]["id"]

        # The pool, then the experts.
        experts = [
            {
                "external_id": f"E{i:03d}",
                "name": f"专家{i:02d}",
                "specialties": [SPECIALTIES[i % 3]],
                "city": "沈阳" if i % 2 else "大连",
                "employer": "某建设集团" if i % 5 == 0 else f"单位{i}",
                "id_number": f"21010219800101{i:04d}",
            }
            for i in range(1, 25)
        ]
        imported = await admin.call("POST", "/api/experts/pool", 200, json={"experts": experts})
        assert imported == {"added": 24, "updated": 0}
        application = {
            "needs": [
                {"count": 3, "venue_id": main["id"], "specialty": "建筑"},
                {"count": 2, "venue_id": drawn["id"], "specialty": "造价", "city": "大连"},
            ],
            "exclude_employers": ["某建设集团"],
        }
        committed = await admin.call(
            "POST", f"/api/lots/{lot['id']}/draws/experts", 201, json=application
        )
        revealed = await admin.call("POST", f"/api/draws/{committed['id']}/reveal", 200)
        assert revealed["verified"] is True
        by_name = {e["name"]: e for e in experts}
        for pick in revealed["result"]:
            entry = by_name[pick["name"]]
            assert entry["employer"] != "某建设集团"
            wanted = "建筑" if pick["label"] == main["id"] else "造价"
            assert wanted in entry["specialties"]
        # Anyone can check it from the record alone.
        record = await admin.call("GET", f"/api/draws/{committed['id']}", 200)
        draw = Draw.from_facts_json(record["facts"])
        result = [(p["label"], p["id"]) for p in record["result"]]
        assert verify(draw, record["seed"], record["commitment"], result)
        assert not verify(draw, record["seed"], record["commitment"], list(reversed(result)))

        # Too many asked of the pool: nothing is committed.
        short = await admin.call(
            "POST",
            f"/api/lots/{lot['id']}/draws/experts",
            400,
            json={"needs": [{"count": 1, "venue_id": main["id"], "specialty": "测绘"}]},
        )
        assert short["code"] == "draw_shortfall"

        # An expert on leave is replaced at once from the pool on the same conditions.
        host = await admin.call(
            "POST",
            f"/api/sessions/{session_id}/people",
            201,
            json={"role": "host", "name": "李主持", "venue_id": main["id"]},
        )
        store = server.app[SERVICES].store
        leaving = next(
            p
            for p in await store.list_participants(session_id)
            if p.role == Role.EXPERT and p.venue_id == main["id"] and p.seat_no == 2
        )
        as_host = Admin(http, base_url, tokens.issue(await store.get_participant(host["id"])))
        redrawn = await as_host.call(
            "POST",
            f"/api/sessions/{session_id}/experts/{leaving.id}/redraw",
            201,
            json={"reason": "请假"},
        )
        assert redrawn["verified"] is True and len(redrawn["result"]) == 1
        newcomer = redrawn["result"][0]
        assert newcomer["label"] == main["id"]
        assert newcomer["id"] not in {p["id"] for p in revealed["result"]}
        entry = by_name[newcomer["name"]]
        assert "建筑" in entry["specialties"] and entry["employer"] != "某建设集团"

    seated = [p for p in await store.list_participants(session_id) if p.role == Role.EXPERT]
    replaced = next(p for p in seated if p.id == leaving.id)
    assert replaced.seat_no is None and replaced.replaced_by is not None
    seated = [p for p in seated if p.seat_no is not None]
    assert next(p for p in seated if p.id == replaced.replaced_by).name == newcomer["name"]
    assert sorted((p.venue_id == main["id"], p.seat_no) for p in seated) == [
        (False, 1),
        (False, 2),
        (True, 1),
        (True, 2),
        (True, 3),
    ]
    assert all(p.id_last4 for p in seated)
    events = await store.list_events(session_id=session_id)
    kinds = [e.kind for e in events]
    assert kinds.count("draw_committed") == 2 and kinds.count("draw_revealed") == 2
    committed_at = kinds.index("draw_committed")
    assert kinds.index("draw_revealed") > committed_at
    assert len(await store.draws.draws_of(lot["id"])) == 3
    assert any("expert_replaced" in str(e.data) for e in events if e.kind == "workflow")
