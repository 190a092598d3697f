"""A server on an empty data directory, and an administrator's REST calls: what the platform's
tests build a centre from."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import aiohttp


def iso(at: datetime) -> str:
    """An aware time as ISO 8601."""
    return at.astimezone(UTC).isoformat()


class Admin:
    """REST calls with an administrator's bearer token."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self.http, self.base_url = http, base_url
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, expect: int, **kw: Any) -> Any:
        headers = {**self.headers, **kw.pop("headers", {})}
        async with self.http.request(method, self.base_url + path, headers=headers, **kw) as r:
            body = await r.json(content_type=None)
            assert r.status == expect, (method, path, r.status, body)
            return body

    async def venue(
        self, city: str, venue: str, seats: int, *, centre: str = "", region_code: str = ""
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """A new centre of `city` (named `centre`, or after the city) and a venue of it."""
        added = await self.call(
            "POST",
            "/api/centres",
            201,
            json={
                "name": centre or f"{city}市公共资源交易中心",
                "city": city,
                "region_code": region_code,
            },
        )
        room = await self.call(
            "POST",
            "/api/venues",
            201,
            json={"centre_id": added["id"], "name": venue, "city": city, "seat_count": seats},
        )
        return added, room

    async def project(
        self, centre_id: str, code: str, name: str, lots: list[tuple[str, str]]
    ) -> dict[str, Any]:
        """A project of the centre with its lots (code, name)."""
        answer: dict[str, Any] = await self.call(
            "POST",
            "/api/projects",
            201,
            json={
                "centre_id": centre_id,
                "code": code,
                "name": name,
                "tenderer": f"{name}招标人",
                "lots": [{"code": c, "name": n} for c, n in lots],
            },
        )
        return answer

    async def book_for_lot(
        self, venue_id: str, lot_id: str, starts: datetime, ends: datetime, purpose: str = "评标"
    ) -> dict[str, Any]:
        """Every seat of a venue booked for a lot from `starts` to `ends`."""
        answer: dict[str, Any] = await self.call(
            "POST",
            "/api/bookings",
            201,
            json={
                "venue_id": venue_id,
                "starts_at": iso(starts),
                "ends_at": iso(ends),
                "purpose": purpose,
                "lot_id": lot_id,
            },
        )
        return answer
