"""A webhook receiver for the tests, and the administration's calls that make pushes.

The receiver is an aiohttp app of its own: it checks every signature with ``hmac`` (not with the
server's code), records what it got, and answers as a test tells it to (500, 503, no answer at
all, then 200). It tells the test of every request through a condition, so that the tests wait
for what arrived, not for time to pass.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.integration.platform_support import Admin


@dataclass(frozen=True)
class Push:
    """One request the receiver got."""

    key: str
    topic: str
    body: dict[str, Any]
    signed: bool
    status: int  # what the receiver answered (0: it never answered)


class Receiver:
    """A webhook receiver on `host` (loopback unless told) that checks signatures and answers
    as planned."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.secret = ""
        # What to do with the next requests, in turn: "fail" (500), "unavailable" (503), "hang"
        # (no answer until released); every request after them is accepted (200).
        self.plan: list[str] = []
        self.got: list[Push] = []
        self.changed = asyncio.Condition()
        self.release = asyncio.Event()
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.server = TestServer(app, host=host)

    @property
    def url(self) -> str:
        return str(self.server.make_url("/hook"))

    async def __aenter__(self) -> Receiver:
        await self.server.start_server()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        await self.server.close()

    def signed(self, header: str, raw: bytes) -> bool:
        """The signature, checked as a receiver in any language would: any ``v1`` (there are
        two for a day after a rotation) made with the receiver's secret."""
        pairs = [part.split("=", 1) for part in header.split(",") if "=" in part]
        stamps = [value for key, value in pairs if key == "t"]
        candidates = [value for key, value in pairs if key == "v1"]
        if len(stamps) != 1 or not candidates or not self.secret:
            return False
        message = stamps[0].encode() + b"." + raw
        expected = hmac.new(self.secret.encode(), message, hashlib.sha256).hexdigest()
        fresh = abs(time.time() - int(stamps[0])) < 300
        return fresh and any(hmac.compare_digest(expected, c) for c in candidates)

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        action = self.plan.pop(0) if self.plan else "accept"
        status = {"accept": 200, "fail": 500, "unavailable": 503, "hang": 0}[action]
        assert request.content_type == "application/json"
        push = Push(
            key=request.headers.get("Idempotency-Key", ""),
            topic=request.headers.get("X-Roomserver-Topic", ""),
            body=json.loads(raw),
            signed=self.signed(request.headers.get("X-Roomserver-Signature", ""), raw),
            status=status,
        )
        async with self.changed:
            self.got.append(push)
            self.changed.notify_all()
        if action == "hang":
            await self.release.wait()  # the sender gave up long ago
            return web.Response(status=200)
        return web.Response(status=status)

    async def until(
        self, what: str, holds: Callable[[list[Push]], bool], within: float = 15
    ) -> None:
        """Wait until what the receiver got satisfies `holds`."""
        try:
            async with asyncio.timeout(within):
                async with self.changed:
                    await self.changed.wait_for(lambda: holds(self.got))
        except TimeoutError:
            got = [(p.body["seq"], p.body["kind"], p.status) for p in self.got]
            raise AssertionError(f"not within {within} s: {what}; got {got}") from None

    def accepted(self) -> list[Push]:
        """The pushes answered 2xx, in the order they came."""
        return [p for p in self.got if 200 <= p.status < 300]


async def subscribe(admin: Admin, url: str, topics: list[str], **more: Any) -> dict[str, Any]:
    body = {"name": "省调度系统", "url": url, "topics": topics, **more}
    answer: dict[str, Any] = await admin.call("POST", "/api/webhooks", 201, json=body)
    return answer


async def venue(admin: Admin, city: str = "铁岭") -> dict[str, Any]:
    """A centre and one of its venues: two pushes of ``venues``."""
    centre = await admin.call(
        "POST", "/api/centres", 201, json={"name": f"{city}市公共资源交易中心", "city": city}
    )
    answer: dict[str, Any] = await admin.call(
        "POST",
        "/api/venues",
        201,
        json={
            "centre_id": centre["id"],
            "name": f"{city}第一评标室",
            "city": city,
            "seat_count": 6,
        },
    )
    return answer


def in_order_once(pushes: list[Push]) -> list[Push]:
    """The pushes with the repeats of one key dropped, as a receiver keeps them."""
    seen: set[str] = set()
    kept = []
    for push in pushes:
        if push.key not in seen:
            seen.add(push.key)
            kept.append(push)
    return kept
