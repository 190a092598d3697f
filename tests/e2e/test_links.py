"""Personal links in real Chromium: the main venue's host re-issues an expert's link from the
console; the seat open with the old link ends at once and says why, the new link goes live."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 20000
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_the_host_reissues_a_seat_link_and_the_old_one_stops_at_once(
    server: Any, open_seat: Any, browser: Any, artifacts: Path
) -> None:
    expert = next(p for p in server.participants if p["role"] == "expert")
    host = next(p for p in server.participants if p["role"] == "host")
    seat = open_seat(expert["url"])
    seat.wait_live()

    context = browser.new_context(
        viewport={"width": 1920, "height": 1080}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    errors: list[str] = []
    try:
        console = context.new_page()
        console.on("pageerror", lambda exc: errors.append(str(exc)))
        console.on("dialog", lambda dialog: dialog.accept())
        console.goto(host["url"])
        console.wait_for_function(
            "() => document.body.dataset.state === 'live'", timeout=TIMEOUT_MS
        )
        assert "code=" not in console.url
        button = f"tr[data-expert='{expert['participant_id']}'] [data-reissue]"
        console.click(button)
        console.wait_for_selector("#link-dialog[open]", timeout=TIMEOUT_MS)
        new_url = console.input_value("#link-url")
        assert "/seat?code=" in new_url and new_url != expert["url"]
        assert console.inner_text("#link-title") == "重新发放的机位链接"
        for width, height in ((1920, 1080), (1366, 768)):
            console.set_viewport_size({"width": width, "height": height})
            console.screenshot(path=str(artifacts / f"console-link-reissued-{width}.png"))
        console.click("#link-dialog button[value=ok]")

        seat.page.wait_for_function(
            "() => document.body.dataset.state === 'ended'", timeout=TIMEOUT_MS
        )
        assert seat.page.evaluate("document.body.dataset.error") == "link_revoked"
        assert CJK.search(seat.page.locator("#banner-text").inner_text())

        fresh = open_seat(new_url + "&auto=1")
        fresh.wait_live()
        # The console's record names the link events in Chinese.
        console.wait_for_function(
            "() => document.querySelector('#activity').textContent.includes('收回个人链接')",
            timeout=TIMEOUT_MS,
        )
        assert not errors, errors
    finally:
        context.close()
