"""An opening's record plays back like an evaluation's, with its own groups of events.

A whole opening is run through the REST API on a server started on an empty data directory
(three bidders, an objection answered by the tenderer, the sheet signed, the end). An auditor
then opens its archive: its picture is the hall's information screen, recorded from the start;
the timeline's filters are the opening's (开标流程, 异议与澄清, no evaluation steps), the list
says each step as the hall's log does, and hiding the objections hides their lines and nothing
else.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.conftest import RunningServer
from tests.e2e.test_playback import wait_archived_and_sealed
from tests.integration.opening_support import run_opening_to_end, set_up
from tests.integration.platform_support import Admin

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000
OFFERS = [("12345678.90", 180), ("11800000.00", 200), ("12990000.50", 175)]
OBJECTION = (
    "第二家投标人的工期是否满足招标文件要求？",
    "满足，招标文件要求工期不超过 210 日历天。",
)


def run_opening(server: RunningServer, admin_token: str) -> str:
    """Run a whole opening on the server (in a thread of its own, beside Playwright's loop);
    the opening's session id."""
    found: list[str] = []
    failed: list[BaseException] = []

    async def scenario() -> None:
        async with aiohttp.ClientSession() as http:
            setup = await set_up(Admin(http, server.base_url, admin_token), lead_s=3)
            await run_opening_to_end(setup, OFFERS, objection=OBJECTION)
            found.append(setup.session_id)

    def run() -> None:
        try:
            asyncio.run(scenario())
        except BaseException as exc:  # re-raised in the test's thread
            failed.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=120)
    if failed:
        raise failed[0]
    assert found, "the opening did not end in time"
    return found[0]


def test_an_auditor_plays_back_an_opening_with_its_own_groups_of_events(
    empty_server: RunningServer, browser: Any, artifacts: Path
) -> None:
    server = empty_server
    session_id = run_opening(server, server.run_cli("token", "--admin").strip())
    wait_archived_and_sealed(server, session_id)
    auditor_url = server.run_cli("token", "--auditor", "赵审计").strip()
    shots = artifacts / "opening-playback"
    shots.mkdir(parents=True, exist_ok=True)

    errors: list[str] = []
    for width, height in ((1920, 1080), (1366, 768)):
        context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            page.goto(auditor_url)
            page.wait_for_selector(f"tr[data-session='{session_id}']", timeout=TIMEOUT_MS)
            page.click(f"tr[data-session='{session_id}'] [data-open]")
            page.wait_for_function(
                "() => document.body.dataset.view === 'session' "
                "&& document.body.dataset.state === 'ready'",
                timeout=TIMEOUT_MS,
            )
            facts = page.locator("#facts").inner_text()
            assert "开标场次" in facts and "投标人\n3 家" in facts, facts
            assert "时长\n0:00:00" not in facts and "开始\n—" not in facts, facts
            # The hall's information screen was recorded from the opening's start: the picture.
            pictures = page.locator("#main-select option").all_inner_texts()
            assert pictures and pictures[0] == "开标大厅信息屏", pictures
            assert "没有录像" not in page.locator("#main-gap").inner_text()
            filters = page.locator("#filters label").all_inner_texts()
            assert [f.strip() for f in filters] == ["录制", "开标流程", "异议与澄清"], filters
            lines = page.locator("#events li .what").all_inner_texts()
            assert any("提出异议（第 1 号）：第二家投标人的工期" in line for line in lines), lines
            assert any(line.startswith("第 1 号异议已答复：满足") for line in lines), lines
            assert any("开始解密" in line for line in lines), lines
            assert any(line.startswith("主持人宣布开标结束") for line in lines), lines
            assert not any(line.startswith("opening") for line in lines), lines
            page.screenshot(
                path=str(shots / f"opening-playback-{width}x{height}.png"), full_page=True
            )

            # The objections hidden: their two lines go, every other line stays.
            shown = page.locator("#events li:not([hidden])").count()
            page.locator("#filters input[data-group='objection']").uncheck()
            page.wait_for_function(
                f"() => document.querySelectorAll('#events li:not([hidden])').length "
                f"=== {shown - 2}",
                timeout=TIMEOUT_MS,
            )
            assert errors == []
        finally:
            context.close()
