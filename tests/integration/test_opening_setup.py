"""A lot's bid opening set up step by step, as the administration console does it: the opening
first, its bidders later. The project's answer tells each lot's opening (its room, deadline,
terms, phase and how many bidders); a server restarted before the first bidder was added starts
(the opening has no list to rebuild yet); a bidder added days ahead gets a link that lasts past
the deadline; the first bidder takes the opening up, and the server's clock then passes its
deadline without anybody reading the opening."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

from signaling.app import create_app
from signaling.config import load_config
from signaling.gate.tokens import TokenIssuer, load_or_create_key
from signaling.http.api import SERVICES
from tests.integration.platform_support import Admin, iso
from tests.polling import wait_event

# The second opening's deadline is this far after its first bidder is added.
LEAD_S = 2.0
# The first opening's deadline, further off than a link's term (a day).
DEADLINE_DAYS = 3


async def _started(data_dir: Path) -> tuple[TestServer, TokenIssuer]:
    config = load_config(
        ["--data-dir", str(data_dir), "--bind", "127.0.0.1:0", "--workers", "0"], environ={}
    )
    server = TestServer(create_app(config), host="127.0.0.1")
    await server.start_server()
    tokens = TokenIssuer(load_or_create_key(config.secrets_dir / "token.key"), default_ttl_s=3600)
    return server, tokens


def _base(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


async def test_an_opening_without_bidders_is_told_survives_a_restart_and_runs_from_its_first(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    server, tokens = await _started(data_dir)
    deadline = datetime.now(UTC).replace(microsecond=0) + timedelta(days=DEADLINE_DAYS)
    try:
        async with aiohttp.ClientSession() as http:
            admin = Admin(http, _base(server), tokens.issue_admin())
            centre, room = await admin.venue("沈阳", "沈阳开标室", 5, region_code="210100")
            project = await admin.project(
                centre["id"], "LN-2026-0501", "沈阳某学校改造工程", [("01", "施工"), ("02", "监理")]
            )
            lot, other = project["lots"]
            assert lot["opening"] is None and other["opening"] is None
            fields = [
                {"name": "price", "label": "投标报价", "kind": "money", "unit": "元"},
                {"name": "duration_days", "label": "工期", "kind": "integer", "unit": "日历天"},
                {"name": "field_3", "label": "质量标准", "kind": "text", "unit": ""},
            ]
            benchmark = [{"name": "param_1", "label": "下浮率K", "candidates": ["1%", "2%"]}]
            opened = await admin.call(
                "POST",
                f"/api/lots/{lot['id']}/opening",
                201,
                json={
                    "venue_id": room["id"],
                    "deadline": iso(deadline),
                    "fields": fields,
                    "min_bids": 2,
                    "decryption_minutes": 45,
                    "benchmark": benchmark,
                    "public": True,
                },
            )
            shown = await admin.call("GET", f"/api/projects/{project['id']}", 200)
            told = shown["lots"][0]["opening"]
            assert told == {
                "id": opened["id"],
                "state": "scheduled",
                "phase": "scheduled",
                "phase_label": "未开始",
                "venue_id": room["id"],
                "deadline": told["deadline"],
                "bidders": 0,
                "fields": fields,
                "min_bids": 2,
                "decryption_minutes": 45,
                "benchmark": benchmark,
                "public": True,
            }
            assert datetime.fromisoformat(told["deadline"]) == deadline
            # An opening is not the lot's evaluation session, and the other lot has none.
            assert shown["lots"][0]["session"] is None
            assert shown["lots"][1]["opening"] is None
            session_id = opened["id"]
    finally:
        await server.close()

    # Restarted before any bidder: the server starts, and the opening is still told.
    server, tokens = await _started(data_dir)
    try:
        async with aiohttp.ClientSession() as http:
            admin = Admin(http, _base(server), tokens.issue_admin())
            shown = await admin.call("GET", f"/api/projects/{project['id']}", 200)
            assert shown["lots"][0]["opening"]["id"] == session_id
            assert shown["lots"][0]["opening"]["bidders"] == 0

            # A bidder added days before the deadline: its link lasts past the deadline.
            early = await admin.call(
                "POST", f"/api/sessions/{session_id}/bidders", 201, json={"name": "沈阳乙公司"}
            )
            people = await admin.call("GET", f"/api/sessions/{session_id}/people", 200)
            link = next(p["link"] for p in people["items"] if p["id"] == early["id"])
            expires = datetime.fromisoformat(link["expires_at"])
            assert (
                deadline + timedelta(hours=23) < expires <= deadline + timedelta(days=1, minutes=1)
            )

            # A second opening, due in a moment, gets its first bidder: the server's clock
            # passes its deadline though nobody reads the opening.
            soon = await admin.call(
                "POST",
                f"/api/lots/{other['id']}/opening",
                201,
                json={
                    "venue_id": room["id"],
                    "deadline": iso(datetime.now(UTC) + timedelta(seconds=LEAD_S)),
                },
            )
            added = await admin.call(
                "POST",
                f"/api/sessions/{soon['id']}/bidders",
                201,
                json={"name": "辽宁甲建设集团有限公司", "credit_code": "91210100MA0XXXXX1A"},
            )
            assert "/hall?code=" in added["url"]
            store = server.app[SERVICES].store
            await wait_event(
                store, soon["id"], "opening", happened="deadline_passed", within=LEAD_S + 10
            )
            shown = await admin.call("GET", f"/api/projects/{project['id']}", 200)
            told = shown["lots"][1]["opening"]
            assert told["bidders"] == 1 and told["phase"] != "scheduled", told
    finally:
        await server.close()
