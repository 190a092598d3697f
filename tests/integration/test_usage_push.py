"""The daily venue usage push (5.5.3): the active bookings of the days ahead, one event of the
``venue_usage`` topic, as the timer makes it."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import aiohttp
from aiohttp.test_utils import TestServer

from roomserver.pushes import Topic, topic_of
from signaling.config import AppConfig
from signaling.gate.tokens import TokenIssuer
from signaling.http.api import SERVICES
from signaling.services.usage import UsagePush
from tests.integration.platform_support import Admin, iso


async def test_the_days_ahead_are_pushed_as_one_event(
    empty_server: tuple[TestServer, AppConfig, TokenIssuer],
) -> None:
    server, config, tokens = empty_server
    assert config.usage_push_at == time(18, 0) and config.usage_push_days == 3
    base_url = str(server.make_url("")).rstrip("/")
    now = datetime.now(UTC)
    async with aiohttp.ClientSession() as http:
        admin = Admin(http, base_url, tokens.issue_admin())
        _, venue = await admin.venue("沈阳", "第一评标室", 5)
        booked = []
        for days, purpose in ((1, "明天的评标"), (10, "十天后的评标")):
            start = now + timedelta(days=days)
            booked.append(
                await admin.call(
                    "POST",
                    "/api/bookings",
                    201,
                    json={
                        "venue_id": venue["id"],
                        "starts_at": iso(start),
                        "ends_at": iso(start + timedelta(hours=3)),
                        "purpose": purpose,
                    },
                )
            )
    services = server.app[SERVICES]
    await UsagePush(services.store, services.events, time(18, 0), days=3).push(now)
    [pushed] = await services.store.list_events(kind="venue_usage_scheduled")
    assert topic_of(pushed.kind, pushed.data) == Topic.VENUE_USAGE
    assert [b["id"] for b in pushed.data["bookings"]] == [booked[0]["id"]]
    assert pushed.data["bookings"][0]["purpose"] == "明天的评标"
