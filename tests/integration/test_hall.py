"""The hall, live: Socket.IO clients of a bidder, the tenderer and the host are told the opening
as each may see it, at connect and after every change, and what happened as it happens."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp.test_utils import TestServer

from signaling.gate.tokens import TokenIssuer
from tests.integration.opening_support import set_up, sign_in_and_submit
from tests.integration.platform_support import Admin

LEAD_S = 4.0


class HallClient:
    """A page of the hall: the latest ``opening`` view and every ``happened``."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url, self.token = base_url, token
        self.sio = socketio.AsyncClient(reconnection=False)
        self.view: dict[str, Any] = {}
        self.happened: list[dict[str, Any]] = []
        self.history: list[dict[str, Any]] | None = None
        self._changed = asyncio.Condition()
        self.sio.on("opening", self._on_opening, namespace="/hall")
        self.sio.on("happened", self._on_happened, namespace="/hall")
        self.sio.on("history", self._on_history, namespace="/hall")

    async def _on_opening(self, data: dict[str, Any]) -> None:
        async with self._changed:
            self.view = data
            self._changed.notify_all()

    async def _on_happened(self, data: dict[str, Any]) -> None:
        async with self._changed:
            self.happened.append(data)
            self._changed.notify_all()

    async def _on_history(self, data: dict[str, Any]) -> None:
        async with self._changed:
            self.history = list(data["items"])
            self._changed.notify_all()

    async def wait(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), within)

    async def __aenter__(self) -> HallClient:
        await self.sio.connect(
            self.base_url,
            namespaces=["/hall"],
            auth={"token": self.token},
            transports=["websocket"],
            wait_timeout=10,
        )
        await self.wait(lambda: bool(self.view) and self.history is not None)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.sio.disconnect()


async def test_the_hall_tells_each_what_it_may_see_as_the_opening_goes(
    empty_server: tuple[TestServer, Any, TokenIssuer],
) -> None:
    server, _, tokens = empty_server
    base_url = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as http:
        admin = Admin(http, base_url, tokens.issue_admin())
        setup = await set_up(admin, LEAD_S)
        sid = setup.session_id
        first, second, _ = setup.bidders
        await setup.host.call(
            "POST", f"/api/sessions/{sid}/opening", 200, json={"kind": "open_submission"}
        )
        await sign_in_and_submit(setup, [("1000000", 100), ("2000000", 200), ("3000000", 300)])
        async with (
            HallClient(base_url, first.api.headers["Authorization"][7:]) as bidder,
            HallClient(base_url, setup.tenderer.headers["Authorization"][7:]) as tenderer,
            HallClient(base_url, setup.host.headers["Authorization"][7:]) as host,
        ):
            # Before the deadline: the bidder itself only, the tenderer nobody, the host all.
            assert [b["bidder"] for b in bidder.view["bidders"]] == [first.id]
            assert tenderer.view["bidders"] == [] and tenderer.view["submitted_count"] is None
            assert len(host.view["bidders"]) == 3
            assert bidder.view["me"] == {"id": first.id, "role": "bidder"}

            await setup.host.call(
                "POST",
                f"/api/sessions/{sid}/opening",
                200,
                json={"kind": "notice", "fields": {"text": "请各投标人保持网络畅通"}},
            )
            for client in (bidder, tenderer):
                await client.wait(
                    lambda c=client: any(h["kind"] == "notice" for h in c.happened)  # type: ignore[misc]
                )
                notice = next(h for h in client.happened if h["kind"] == "notice")
                assert notice["data"]["text"] == "请各投标人保持网络畅通"
            # The host opens the broadcast to the public: everybody is told, and sees it.
            assert tenderer.view["public"] is False
            await setup.host.call(
                "POST",
                f"/api/sessions/{sid}/opening",
                200,
                json={"kind": "allow_public", "fields": {"public": True}},
            )
            await tenderer.wait(lambda: tenderer.view["public"] is True)
            await bidder.wait(
                lambda: any(h["kind"] == "public_viewing_changed" for h in bidder.happened)
            )
            # A page opened late reads what it missed, as far as it would have been told.
            async with HallClient(base_url, second.api.headers["Authorization"][7:]) as late:
                assert late.history is not None
                kinds = [h["kind"] for h in late.history]
                assert kinds == ["submission_opened", "notice", "public_viewing_changed"], kinds
                assert late.history[1]["data"]["text"] == "请各投标人保持网络畅通"
                assert all(h["at"] for h in late.history)

            # The server's clock passes the deadline: everybody's view now lists the bidders.
            await tenderer.wait(lambda: tenderer.view["phase"] == "published", LEAD_S + 10)
            assert tenderer.view["submitted_count"] == 3
            assert [b["name"] for b in tenderer.view["bidders"]] == [b.name for b in setup.bidders]
            await bidder.wait(lambda: bidder.view["phase"] == "published")
            assert len(bidder.view["bidders"]) == 3
            # Another bidder's representative is not shown to a bidder.
            other = next(b for b in bidder.view["bidders"] if b["bidder"] == second.id)
            assert "representative" not in other

            # Only a speaker of this opening can be muted: not the witness, not an unknown id.
            for nobody in (setup.witness_id, "not-a-participant"):
                refused = await setup.host.call(
                    "POST",
                    f"/api/sessions/{sid}/opening",
                    400,
                    json={"kind": "mute", "fields": {"participant": nobody, "reason": "测试"}},
                )
                assert "不是本场开标的发言人" in refused["detail"]
            # A mute is told to the speaker muted and to those who run the opening only.
            await setup.host.call(
                "POST",
                f"/api/sessions/{sid}/opening",
                200,
                json={
                    "kind": "mute",
                    "fields": {"participant": first.id, "reason": "发言与开标无关"},
                },
            )
            await bidder.wait(lambda: any(h["kind"] == "speaker_muted" for h in bidder.happened))
            await bidder.wait(lambda: bidder.view["you_are_muted"] is True)
            await host.wait(lambda: any(h["kind"] == "speaker_muted" for h in host.happened))
            assert not any(h["kind"] == "speaker_muted" for h in tenderer.happened)


async def test_a_token_of_another_session_or_of_nobody_is_refused_the_hall(
    empty_server: tuple[TestServer, Any, TokenIssuer],
) -> None:
    server, _, tokens = empty_server
    base_url = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as http:
        admin = Admin(http, base_url, tokens.issue_admin())
        setup = await set_up(admin, 3600)
        for token in ("forged.token.x", tokens.issue_admin()):
            client = socketio.AsyncClient(reconnection=False)
            with pytest.raises(socketio.exceptions.ConnectionError):
                await client.connect(
                    base_url,
                    namespaces=["/hall"],
                    auth={"token": token},
                    transports=["websocket"],
                    wait_timeout=10,
                )
        # An administrator names the opening it looks at.
        viewer = socketio.AsyncClient(reconnection=False)
        seen: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        viewer.on("opening", seen.set_result, namespace="/hall")
        await viewer.connect(
            base_url,
            namespaces=["/hall"],
            auth={"token": tokens.issue_admin(), "session_id": setup.session_id},
            transports=["websocket"],
            wait_timeout=10,
        )
        view = await asyncio.wait_for(seen, 10)
        assert len(view["bidders"]) == 3
        await viewer.disconnect()
