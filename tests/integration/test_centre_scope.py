"""Administrators, supervisors and ops engineers of one trading centre, through REST and their
personal links: the province's administrator gives a centre its people; a centre's
administrator sets up and books what is its own, books another centre's room as a sub venue for
its lot, and cannot reach another centre's rooms, bookings, projects or sessions; the centre's
ops engineer sees the health of its sessions only and records a platform fault; a revoked link
stops at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from signaling.gate.tokens import TokenIssuer
from signaling.testing.wall import WallClient, WallError
from tests.integration.platform_support import Admin, iso


async def _login(http: aiohttp.ClientSession, base_url: str, url: str) -> Admin:
    """The bearer of a personal link: its code exchanged for a session token, which the
    ``Admin`` helper then sends as the bearer."""
    code = parse_qs(urlsplit(url).query)["code"][0]
    async with http.post(f"{base_url}/api/login", json={"code": code}) as r:
        assert r.status == 200, await r.text()
        token = r.cookies["roomserver_session"].value
    http.cookie_jar.clear()  # each helper speaks with its own bearer token only
    return Admin(http, base_url, token)


async def _session_of_lot(
    admin: Admin, lot: dict[str, Any], main: dict[str, Any], start: datetime
) -> str:
    await admin.book_for_lot(
        main["id"], lot["id"], start - timedelta(hours=1), start + timedelta(hours=4)
    )
    opened = await admin.call(
        "POST",
        f"/api/lots/{lot['id']}/session",
        201,
        json={"main_venue_id": main["id"], "sub_venue_ids": [], "scheduled_start": iso(start)},
    )
    session_id: str = opened["session"]["id"]
    return session_id


async def test_a_centre_reaches_its_own_and_books_others_rooms_only_for_its_lots(
    empty_server: tuple[TestServer, Any, TokenIssuer],
) -> None:
    server, _, tokens = empty_server
    base_url = str(server.make_url("")).rstrip("/")
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    async with aiohttp.ClientSession() as http:
        province = Admin(http, base_url, tokens.issue_admin("省管理员"))
        shenyang, sy_room = await province.venue("沈阳", "沈阳第一评标室", 6, region_code="210100")
        dalian, dl_room = await province.venue("大连", "大连第一评标室", 5, region_code="210200")

        # The province gives each centre an administrator; links name the centre's page.
        issued = await province.call(
            "POST",
            f"/api/centres/{shenyang['id']}/people",
            201,
            json={"role": "admin", "name": "王伟"},
        )
        assert urlsplit(issued["url"]).path == "/admin"
        assert issued["subject"] == f"admin@{shenyang['id']}:王伟"
        other = await province.call(
            "POST",
            f"/api/centres/{dalian['id']}/people",
            201,
            json={"role": "admin", "name": "王伟"},
        )
        sy_admin = await _login(http, base_url, issued["url"])
        dl_admin = await _login(http, base_url, other["url"])
        me = await sy_admin.call("GET", "/api/me", 200)
        assert me["role"] == "admin" and me["centre"]["id"] == shenyang["id"]

        # Adding a centre, the expert pool and the push subscriptions are the province's.
        for method, path in (
            ("POST", "/api/centres"),
            ("GET", "/api/experts/pool"),
            ("GET", "/api/webhooks"),
        ):
            body = {"name": "鞍山市公共资源交易中心", "city": "鞍山"} if method == "POST" else None
            refused = await sy_admin.call(method, path, 403, json=body)
            assert refused["code"] == "role_not_allowed"

        # Its own projects only; another centre's room is read in lists, not opened or changed.
        refused = await sy_admin.call(
            "POST",
            "/api/projects",
            403,
            json={
                "centre_id": dalian["id"],
                "code": "X",
                "name": "他人项目",
                "tenderer": "某单位",
                "lots": [{"code": "01", "name": "一标段"}],
            },
        )
        assert refused["code"] == "not_your_room"
        project = await sy_admin.project(
            shenyang["id"], "LN-2026-0301", "沈阳某学校改造工程", [("01", "第一标段")]
        )
        dl_project = await dl_admin.project(
            dalian["id"], "LN-2026-0302", "大连某码头工程", [("01", "第一标段")]
        )
        listed = await sy_admin.call("GET", "/api/projects", 200)
        assert [p["id"] for p in listed["items"]] == [project["id"]]
        await sy_admin.call("GET", f"/api/projects/{dl_project['id']}", 403)
        venues = await sy_admin.call("GET", "/api/venues", 200)
        assert {v["id"] for v in venues["items"]} == {sy_room["id"], dl_room["id"]}
        await sy_admin.call("POST", f"/api/venues/{dl_room['id']}", 403, json={"name": "改名"})
        await sy_admin.call(
            "POST",
            "/api/venues",
            403,
            json={
                "centre_id": dalian["id"],
                "name": "大连第二评标室",
                "city": "大连",
                "seat_count": 5,
            },
        )

        # Dalian's room booked as a sub venue for Shenyang's lot; not for nothing of its own.
        lot = project["lots"][0]
        slot = {
            "starts_at": iso(start - timedelta(hours=1)),
            "ends_at": iso(start + timedelta(hours=4)),
        }
        sub = await sy_admin.book_for_lot(
            dl_room["id"], lot["id"], start - timedelta(hours=1), start + timedelta(hours=4)
        )
        refused = await sy_admin.call(
            "POST",
            "/api/bookings",
            403,
            json={"venue_id": dl_room["id"], "purpose": "会议", **slot},
        )
        assert refused["code"] == "not_your_room"
        dl_own = await dl_admin.book_for_lot(
            dl_room["id"],
            dl_project["lots"][0]["id"],
            start + timedelta(hours=5),
            start + timedelta(hours=8),
        )
        # Each sees the bookings of its rooms and of its lots: Dalian sees Shenyang's booking of
        # its room, Shenyang not Dalian's own.
        window = {
            "starts_at": iso(start - timedelta(days=1)),
            "ends_at": iso(start + timedelta(days=1)),
        }
        sy_sees = await sy_admin.call("GET", "/api/bookings", 200, params=window)
        dl_sees = await dl_admin.call("GET", "/api/bookings", 200, params=window)
        assert {b["id"] for b in sy_sees["items"]} == {sub["id"]}
        assert {b["id"] for b in dl_sees["items"]} == {sub["id"], dl_own["id"]}
        await sy_admin.call(
            "POST", f"/api/bookings/{dl_own['id']}/cancel", 403, json={"reason": "误订"}
        )

        # The session of Shenyang's lot is Shenyang's, not Dalian's.
        session_id = await _session_of_lot(sy_admin, lot, sy_room, start)
        await sy_admin.call("GET", f"/api/sessions/{session_id}/people", 200)
        await dl_admin.call("GET", f"/api/sessions/{session_id}/people", 403)
        await dl_admin.call("POST", f"/api/sessions/{session_id}/end", 403, json={"reason": "越权"})

        # The centre's ops engineer: the health of Shenyang's sessions, a platform fault.
        ops_link = await sy_admin.call(
            "POST",
            f"/api/centres/{shenyang['id']}/people",
            201,
            json={"role": "ops", "name": "李工"},
        )
        assert urlsplit(ops_link["url"]).path == "/ops"
        ops = await _login(http, base_url, ops_link["url"])
        health = await ops.call("GET", "/api/health/sessions", 200)
        assert [item["session"]["id"] for item in health["items"]] == [session_id]
        detail = await ops.call("GET", f"/api/sessions/{session_id}/health", 200)
        assert detail["live"] is False and detail["incidents"] == []
        assert all("expert_name" not in seat for seat in detail["seats"])
        # Where a seat or a fault is: the session's venues by name, the main venue first.
        assert detail["venues"] == [
            {"id": sy_room["id"], "name": "沈阳第一评标室", "city": "沈阳", "kind": "main"}
        ]
        dl_ops_link = await province.call(
            "POST", f"/api/centres/{dalian['id']}/people", 201, json={"role": "ops", "name": "赵工"}
        )
        dl_ops = await _login(http, base_url, dl_ops_link["url"])
        assert (await dl_ops.call("GET", "/api/health/sessions", 200))["items"] == []
        await dl_ops.call("GET", f"/api/sessions/{session_id}/health", 403)

        host = await sy_admin.call(
            "POST",
            f"/api/sessions/{session_id}/people",
            201,
            json={"role": "host", "name": "主持人", "venue_id": sy_room["id"]},
        )
        host_link = await sy_admin.call(
            "POST", "/api/tokens", 201, json={"participant_id": host["id"]}
        )
        host_api = Admin(http, base_url, host_link["token"])
        workflow = f"/api/sessions/{session_id}/workflow"
        await host_api.call("POST", workflow, 200, json={"kind": "open_check_in", "fields": {}})
        refused = await ops.call(
            "POST",
            workflow,
            403,
            json={
                "kind": "open_incident",
                "fields": {"venue": sy_room["id"], "kind": "other", "description": "专家迟到"},
            },
        )
        assert refused["code"] == "role_not_allowed"
        await ops.call(
            "POST",
            workflow,
            200,
            json={
                "kind": "open_incident",
                "fields": {
                    "venue": sy_room["id"],
                    "kind": "platform",
                    "description": "2号机位网络中断",
                },
            },
        )
        await ops.call(
            "POST",
            workflow,
            200,
            json={
                "kind": "handle_incident",
                "fields": {"incident": 1, "handling": "更换网线，机位已重新连接"},
            },
        )
        refused = await ops.call(
            "POST",
            workflow,
            403,
            json={"kind": "close_incident", "fields": {"incident": 1, "result": "已恢复"}},
        )
        assert refused["code"] == "role_not_allowed"
        detail = await ops.call("GET", f"/api/sessions/{session_id}/health", 200)
        assert detail["incidents"] == [
            {
                "number": 1,
                "venue": sy_room["id"],
                "kind": "platform",
                "description": "2号机位网络中断",
                "handling": ["更换网线，机位已重新连接"],
                "result": None,
            }
        ]
        # Ops engineers never read the committee's workflow.
        await ops.call("GET", workflow, 403)

        # Supervisors of a centre: its sessions on their wall, another centre's refused.
        async with (
            WallClient(
                base_url, tokens.issue_supervisor("沈阳监督", centre=shenyang["id"])
            ) as sy_wall,
            WallClient(
                base_url, tokens.issue_supervisor("大连监督", centre=dalian["id"])
            ) as dl_wall,
        ):
            await sy_wall.wait_rooms(
                lambda rooms: [r["session_id"] for r in rooms] == [session_id], 10
            )
            with pytest.raises(WallError) as refused_wall:
                await dl_wall.watch(session_id)
            assert refused_wall.value.code == "not_your_room"
            assert dl_wall.rooms == []

        # The centre's people, listed; a revoked administrator's next request is refused.
        people = await province.call("GET", f"/api/centres/{shenyang['id']}/people", 200)
        assert [(p["role"], p["name"], p["state"]) for p in people["items"]] == [
            ("ops", "李工", "active"),
            ("admin", "王伟", "active"),
        ]
        assert all(p["url"] is None for p in people["items"])  # a code is shown once
        await province.call(
            "POST",
            f"/api/centres/{shenyang['id']}/people/{issued['link_id']}/revoke",
            200,
            json={"reason": "调离"},
        )
        refused = await sy_admin.call("GET", "/api/projects", 401)
        assert refused["code"] == "link_revoked"
        # Another centre's link is not found under this centre.
        await province.call(
            "POST",
            f"/api/centres/{shenyang['id']}/people/{other['link_id']}/revoke",
            404,
            json={"reason": "误操作"},
        )
        again = await province.call(
            "POST",
            f"/api/centres/{shenyang['id']}/people/{issued['link_id']}/reissue",
            201,
            json={"reason": "重新上岗"},
        )
        sy_admin = await _login(http, base_url, again["url"])
        assert (await sy_admin.call("GET", "/api/projects", 200))["total"] == 1
