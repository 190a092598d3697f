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
        async with self.http.request(method, self.base_url + path, headers=self.headers, **kw) as r:
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
