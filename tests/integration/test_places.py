"""Centres, venues and bookings through the real app's REST interface, as the administration and
the provincial scheduling system use it; concurrent bookings of the same seats over HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.integration.conftest import RunningServer

DAY = "2026-12-08T{}:00+08:00"


async def _call(
    http: aiohttp.ClientSession, server: RunningServer, method: str, path: str, **kw: Any
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {server.tokens.issue_admin()}"}
    async with http.request(method, server.base_url + path, headers=headers, **kw) as r:
        return r.status, await r.json(content_type=None)


async def _venue(http: aiohttp.ClientSession, server: RunningServer, seats: int = 8) -> str:
    status, centre = await _call(
        http,
        server,
        "POST",
        "/api/centres",
        json={"name": "铁岭市公共资源交易中心", "city": "铁岭"},
    )
    assert status == 201, centre
    status, venue = await _call(
        http,
        server,
        "POST",
        "/api/venues",
        json={
            "centre_id": centre["id"],
            "name": "铁岭第一评标室",
            "city": "铁岭",
            "seat_count": seats,
        },
    )
    assert status == 201, venue
    assert venue["centre_name"] == "铁岭市公共资源交易中心"
    return str(venue["id"])


async def test_a_venue_is_set_up_found_and_booked(room_server: RunningServer) -> None:
    server = room_server
    async with aiohttp.ClientSession() as http:
        venue_id = await _venue(http, server)
        status, page = await _call(http, server, "GET", "/api/venues", params={"q": "铁岭"})
        assert status == 200 and page["total"] == 1 and page["items"][0]["id"] == venue_id
        status, free = await _call(
            http,
            server,
            "GET",
            "/api/vacancy",
            params={
                "starts_at": DAY.format("08:30"),
                "ends_at": DAY.format("12:00"),
                "city": "铁岭",
            },
        )
        assert status == 200 and free["items"][0]["free_seats"] == list(range(1, 9))
        status, booked = await _call(
            http,
            server,
            "POST",
            "/api/bookings",
            json={
                "venue_id": venue_id,
                "starts_at": DAY.format("08:30"),
                "ends_at": DAY.format("12:00"),
                "seats": [1, 2, 3, 4, 5],
                "purpose": "LN-2026-0002 第一标段评标",
            },
        )
        assert status == 201, booked
        assert booked["starts_at"] == "2026-12-08T00:30:00Z"
        status, free = await _call(
            http,
            server,
            "GET",
            "/api/vacancy",
            params={
                "starts_at": DAY.format("09:00"),
                "ends_at": DAY.format("10:00"),
                "city": "铁岭",
                "seats": 3,
            },
        )
        assert free["items"][0]["free_seats"] == [6, 7, 8]
        status, moved = await _call(
            http,
            server,
            "POST",
            f"/api/bookings/{booked['id']}/change",
            json={"starts_at": DAY.format("13:30"), "ends_at": DAY.format("17:00")},
        )
        assert status == 200 and moved["seats"] == [1, 2, 3, 4, 5], moved
        # Fewer seats are refused while a booking holds one of them (5.5.2).
        status, refused = await _call(
            http, server, "POST", f"/api/venues/{venue_id}", json={"seat_count": 5}
        )
        assert status == 200 and refused["seat_count"] == 5, refused
        status, refused = await _call(
            http,
            server,
            "POST",
            f"/api/bookings/{moved['id']}/change",
            json={"starts_at": DAY.format("13:30"), "ends_at": DAY.format("17:00"), "seats": [6]},
        )
        assert status == 400 and "超出该评标室的 5 个机位" in refused["detail"]
        status, renamed = await _call(
            http, server, "POST", f"/api/venues/{venue_id}", json={"name": "铁岭第二评标室"}
        )
        assert status == 200 and renamed["name"] == "铁岭第二评标室" and renamed["seat_count"] == 5
        status, cancelled = await _call(
            http, server, "POST", f"/api/bookings/{moved['id']}/cancel", json={"reason": "项目延期"}
        )
        assert status == 200 and cancelled["state"] == "cancelled"
        status, listed = await _call(
            http,
            server,
            "GET",
            "/api/bookings",
            params={
                "venue_id": venue_id,
                "starts_at": DAY.format("00:00"),
                "ends_at": DAY.format("23:45"),
                "include_cancelled": "true",
            },
        )
        assert [b["state"] for b in listed["items"]] == ["cancelled", "cancelled"]
    kinds = [e.kind for e in await server.services.store.list_events()]
    for kind in (
        "centre_added",
        "venue_added",
        "booking_made",
        "booking_changed",
        "booking_cancelled",
    ):
        assert kind in kinds


async def test_of_concurrent_requests_for_the_same_seats_one_is_booked(
    room_server: RunningServer,
) -> None:
    server = room_server
    async with aiohttp.ClientSession() as http:
        venue_id = await _venue(http, server, seats=10)

        async def book(i: int) -> tuple[int, Any]:
            return await _call(
                http,
                server,
                "POST",
                "/api/bookings",
                json={
                    "venue_id": venue_id,
                    "starts_at": DAY.format(f"{8 + i % 3:02d}:00"),
                    "ends_at": DAY.format("12:00"),
                    "seats": [2, 3],
                    "purpose": f"并发预约 {i}",
                },
            )

        answers = await asyncio.gather(*(book(i) for i in range(10)))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] + [409] * 9, answers
    refusal = next(body for status, body in answers if status == 409)
    assert refusal["code"] == "booking_conflict" and "已被预约" in refusal["detail"]


async def test_bad_bookings_are_refused_with_a_reason(room_server: RunningServer) -> None:
    server = room_server
    async with aiohttp.ClientSession() as http:
        venue_id = await _venue(http, server, seats=5)
        cases = [
            ({"seats": [6]}, "超出该评标室的 5 个机位"),
            ({"ends_at": DAY.format("08:00")}, "结束时间应晚于开始时间"),
            ({"starts_at": "2026-12-08T08:00:00"}, "starts_at"),
        ]
        for change, said in cases:
            body = {
                "venue_id": venue_id,
                "starts_at": DAY.format("08:00"),
                "ends_at": DAY.format("09:00"),
                "purpose": "评标",
                **change,
            }
            status, problem = await _call(http, server, "POST", "/api/bookings", json=body)
            assert status == 400 and said in problem["detail"], (change, problem)
