"""A venue's details as the administration keeps them: whether it may be a main or a sub venue,
its room cameras (their passwords never shown again), and a token for its door system."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp.test_utils import TestServer

from signaling.config import AppConfig
from signaling.gate.tokens import TokenIssuer
from tests.integration.platform_support import Admin, iso

CAMERA = "rtsp://admin:s3cret@192.0.2.10:554/Streaming/Channels/101"


async def test_capabilities_cameras_and_the_door_token(
    empty_server: tuple[TestServer, AppConfig, TokenIssuer],
) -> None:
    server, _, tokens = empty_server
    base_url = str(server.make_url("")).rstrip("/")
    start = datetime.now(UTC) + timedelta(hours=2)
    async with aiohttp.ClientSession() as http:
        admin = Admin(http, base_url, tokens.issue_admin())
        centre, main = await admin.venue("沈阳", "沈阳第一评标室", 6, region_code="210100")
        room = await admin.call(
            "POST",
            "/api/venues",
            201,
            json={
                "centre_id": centre["id"],
                "name": "沈阳小会议室",
                "city": "沈阳",
                "seat_count": 5,
                "main_capable": False,
                "camera_urls": [CAMERA],
            },
        )
        assert room["cameras"] == ["rtsp://admin:***@192.0.2.10:554/Streaming/Channels/101"]
        assert room["main_capable"] is False and room["sub_capable"] is True
        refused = await admin.call(
            "POST", f"/api/venues/{room['id']}", 400, json={"camera_urls": ["http://x/y"]}
        )
        assert "camera_urls" in refused["detail"]

        # A venue that may not be a main venue does not open a session as one.
        project = await admin.project(centre["id"], "LN-2026-1000", "某工程", [("01", "施工")])
        lot = project["lots"][0]
        await admin.book_for_lot(room["id"], lot["id"], start, start + timedelta(hours=2))
        refused = await admin.call(
            "POST",
            f"/api/lots/{lot['id']}/session",
            400,
            json={"main_venue_id": room["id"], "scheduled_start": iso(start)},
        )
        assert "不能作为主场" in refused["detail"]

        # The door system's token posts entries of its venue, and of no other.
        door = await admin.call("POST", f"/api/venues/{main['id']}/door-token", 201, json={})
        assert door["venue_id"] == main["id"]
        headers = {"Authorization": f"Bearer {door['token']}"}
        entry = {"name": "张三", "direction": "in"}
        async with http.post(
            f"{base_url}/api/venues/{main['id']}/door-access", json=entry, headers=headers
        ) as r:
            # Taken; no session runs there yet, so it goes into no session's record.
            assert r.status == 201 and (await r.json()) == {"sessions": []}
        async with http.post(
            f"{base_url}/api/venues/{room['id']}/door-access", json=entry, headers=headers
        ) as r:
            assert r.status == 403
