"""The administration console (/admin) in real Chromium, from a production start's first link.

The server starts on an empty data directory (no demo), `roomserver admin create` prints the
first administrator's link, and the test does what that administrator does first, through the
page's own forms: a trading centre, an evaluation room, a booking of it (directly and through
the search of free rooms), a clashing booking refused in the server's Chinese words, a change
and a cancellation. The browser runs in New York's time zone: the calendar must still put each
booking on its Beijing day and hours. No Content-Security-Policy violation is allowed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import RunningServer, free_port
from tests.e2e.test_pages import (
    BEIJING,
    SIZES,
    TIMEOUT_MS,
    WatchedPage,
    assert_beijing_clock,
    code_of,
)

pytestmark = pytest.mark.e2e

CENTRE, CITY = "沈阳市公共资源交易中心", "沈阳"
VENUE = "第一评标室"
PURPOSE = "LN-2026-0001 第一标段评标"
SECOND_PURPOSE = "LN-2026-0002 监理标段评标"
DIALOG_CLOSED = "() => !document.querySelector('#booking-dialog').open"


@pytest.fixture
def empty_server(
    request: pytest.FixtureRequest, tmp_path: Path, artifacts: Path
) -> Iterator[RunningServer]:
    """The real server on an empty data directory, as `roomserver serve` starts in production."""
    log_path = artifacts / f"server-{request.node.name}.log"
    log_path.unlink(missing_ok=True)
    running = RunningServer(tmp_path / "data", free_port(), log_path)
    try:
        running.start()
        yield running
    finally:
        running.stop()


def next_tuesday() -> date:
    """Tuesday of next week in Beijing: a day always ahead, in a week of its own."""
    today = datetime.now(BEIJING).date()
    return today + timedelta(days=7 - today.weekday() + 1)


def fill_slot(page: Any, form: str, day: date, start: str, end: str) -> None:
    """Put a slot into a form's date and time fields (Beijing time)."""
    page.fill(f"{form} [name=start_date]", day.isoformat())
    page.select_option(f"{form} [name=start_time]", start)
    page.fill(f"{form} [name=end_date]", day.isoformat())
    page.select_option(f"{form} [name=end_time]", end)


def screenshots(page: Any, folder: Path, name: str, showing: str | None = None) -> None:
    """Screenshots at each size, scrolled (as a person would) to what the step is about."""
    for label, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        if showing:
            page.locator(showing).scroll_into_view_if_needed()
        page.screenshot(path=str(folder / f"{name}-{label}.png"))
    page.set_viewport_size({"width": 1920, "height": 1080})


def form_message(page: Any, form: str, kind: str) -> str:
    """The message under a form once it shows one of that kind (error, ok, info)."""
    selector = f"{form} .form-message[data-kind={kind}]:not([hidden])"
    page.wait_for_selector(selector, timeout=TIMEOUT_MS)
    return str(page.locator(selector).inner_text())


def test_an_administrator_sets_up_a_centre_and_books_its_room_in_beijing_time(
    empty_server: RunningServer, browser: Any, artifacts: Path
) -> None:
    server = empty_server
    lines = server.run_cli("admin", "create", "测试管理员").strip().splitlines()
    assert len(lines) == 1 and "/admin?code=" in lines[0], lines
    shots = artifacts / "admin"
    shots.mkdir(exist_ok=True)
    admin = WatchedPage(browser, lines[0], timezone="America/New_York")
    try:
        page = admin.page
        admin.wait_state("ready")
        assert "code=" not in page.url, page.url
        assert page.locator("#who").inner_text() == "管理员 · 测试管理员"
        assert_beijing_clock(page, "admin")
        # An empty centre starts at its trading centres, with the later sections announced.
        assert page.evaluate("document.body.dataset.section") == "centres"
        assert page.locator(".menu-later").count() == 3
        admin.screenshots(shots, "admin-empty")

        # A trading centre, through the page's form.
        page.fill("#centre-form [name=name]", CENTRE)
        page.fill("#centre-form [name=city]", CITY)
        page.click("#centre-form button[type=submit]")
        assert CENTRE in form_message(page, "#centre-form", "ok")
        page.wait_for_selector(f"#centre-rows tr:has-text('{CENTRE}')", timeout=TIMEOUT_MS)
        page.fill("#centre-form [name=name]", CENTRE)
        page.fill("#centre-form [name=city]", CITY)
        page.click("#centre-form button[type=submit]")
        assert "已有名为" in form_message(page, "#centre-form", "error")

        # A venue: the form refuses 12 seats before sending, then takes 8; its city is the
        # centre's until somebody types another.
        page.click(".menu a[data-section=venues]")
        page.wait_for_function("() => document.body.dataset.section === 'venues'")
        assert page.locator("#venue-form [name=city]").input_value() == CITY
        page.fill("#venue-form [name=name]", VENUE)
        page.fill("#venue-form [name=seat_count]", "12")
        page.click("#venue-form button[type=submit]")
        refusal = form_message(page, "#venue-form", "error")
        assert refusal == "机位数应为 5 至 10 之间的整数", refusal
        assert page.locator("#venue-form [name=seat_count]").get_attribute("aria-invalid") == "true"
        assert page.locator("#venue-rows tr").count() == 0
        page.fill("#venue-form [name=seat_count]", "8")
        page.click("#venue-form button[type=submit]")
        assert VENUE in form_message(page, "#venue-form", "ok")
        row = page.locator(f"#venue-rows tr:has-text('{VENUE}')")
        row.wait_for(timeout=TIMEOUT_MS)
        assert CENTRE in row.inner_text() and "8 个" in row.inner_text()
        admin.screenshots(shots, "admin-venues")

        # Its calendar; a booking of every seat next Tuesday morning, Beijing time.
        row.locator("button[data-show-venue]").click()
        page.wait_for_function("() => document.body.dataset.section === 'bookings'")
        day = next_tuesday()
        fill_slot(page, "#booking-form", day, "09:00", "12:00")
        page.wait_for_selector("#booking-free:has-text('8 个机位全部空闲')", timeout=TIMEOUT_MS)
        page.fill("#booking-form [name=purpose]", PURPOSE)
        page.click("#booking-form button[type=submit]")
        assert "已预约" in form_message(page, "#booking-form", "ok")
        block = page.locator(f".day[data-day='{day.isoformat()}'] .booking")
        block.wait_for(timeout=TIMEOUT_MS)
        text = block.inner_text()
        assert "09:00–12:00" in text and PURPOSE in text and "全部 8 个机位" in text, text
        tuesday = page.locator(".day-head").nth(1).inner_text()
        assert "周二" in tuesday and f"{day:%m}月{day:%d}日" in tuesday, tuesday

        # The same seats an hour later: the page says they are taken, the server refuses.
        fill_slot(page, "#booking-form", day, "10:00", "11:00")
        page.wait_for_selector("#booking-free[data-clash='1']", timeout=TIMEOUT_MS)
        page.fill("#booking-form [name=purpose]", "重复预约")
        page.click("#booking-form button[type=submit]")
        refusal = form_message(page, "#booking-form", "error")
        assert refusal.startswith("所选机位在该时段已被预约") and PURPOSE in refusal, refusal
        assert page.locator(".booking").count() == 1
        screenshots(page, shots, "admin-clash", showing="#booking-form .form-message")

        # The search of free rooms finds it for the afternoon and books it through the form.
        page.click(".menu a[data-section=vacancy]")
        fill_slot(page, "#vacancy-form", day, "13:00", "17:00")
        page.fill("#vacancy-form [name=seats]", "5")
        page.click("#vacancy-form button[type=submit]")
        found = page.locator(f"#vacancy-rows tr:has-text('{VENUE}')")
        found.wait_for(timeout=TIMEOUT_MS)
        assert "8/8" in found.inner_text()
        admin.screenshots(shots, "admin-vacancy")
        found.locator("button[data-book]").click()
        page.wait_for_function("() => document.body.dataset.section === 'bookings'")
        assert "已选择" in form_message(page, "#booking-form", "info")
        page.fill("#booking-form [name=purpose]", SECOND_PURPOSE)
        page.click("#booking-form button[type=submit]")
        assert "机位 1–5" in form_message(page, "#booking-form", "ok")
        afternoon = page.locator(f".booking:has-text('{SECOND_PURPOSE}')")
        afternoon.wait_for(timeout=TIMEOUT_MS)
        assert "13:00–17:00" in afternoon.inner_text() and "机位 1–5" in afternoon.inner_text()

        # A change: the afternoon ends at 18:00.
        afternoon.click()
        page.wait_for_selector("#booking-dialog[open]")
        admin.screenshots(shots, "admin-booking")
        page.select_option("#change-form [name=end_time]", "18:00")
        page.click("#change-form button[type=submit]")
        page.wait_for_function(DIALOG_CLOSED, timeout=TIMEOUT_MS)
        page.wait_for_selector(".booking:has-text('13:00–18:00')", timeout=TIMEOUT_MS)

        # The morning is cancelled with a reason: it leaves the calendar, the record keeps it.
        page.locator(f".booking:has-text('{PURPOSE}')").click()
        page.wait_for_selector("#booking-dialog[open]")
        page.click("#cancel-form button[type=submit]")
        assert form_message(page, "#cancel-form", "error") == "请填写取消原因"
        page.fill("#cancel-form [name=reason]", "项目延期")
        page.click("#cancel-form button[type=submit]")
        page.wait_for_function(DIALOG_CLOSED, timeout=TIMEOUT_MS)
        page.wait_for_function(
            f"() => !document.querySelector('#calendar').textContent.includes('{PURPOSE}')",
            timeout=TIMEOUT_MS,
        )
        assert "已取消预约" in page.locator("#calendar-note").inner_text()
        admin.screenshots(shots, "admin-bookings")
        kept = page.evaluate(
            """async (day) => {
              const q = new URLSearchParams({ starts_at: `${day}T00:00:00+08:00`,
                ends_at: `${day}T23:59:00+08:00`, include_cancelled: "true" });
              return (await (await fetch(`/api/bookings?${q}`)).json()).items;
            }""",
            day.isoformat(),
        )
        states = sorted((b["purpose"], b["state"], b["reason"]) for b in kept)
        assert (PURPOSE, "cancelled", "项目延期") in states, states
        assert (SECOND_PURPOSE, "active", None) in states, states

        assert admin.violations() == [], admin.violations()
        assert page.evaluate("document.body.dataset.state") == "ready"
    finally:
        admin.close()


def test_the_console_is_for_administrators_only(empty_server: RunningServer, browser: Any) -> None:
    auditor = empty_server.run_cli("token", "--auditor", "审计员").strip()
    page = WatchedPage(browser, f"{empty_server.base_url}/admin?code={code_of(auditor)}")
    try:
        page.wait_state("error")
        assert "仅供管理员使用" in page.page.locator("#banner").inner_text()
        assert page.page.locator("#who").inner_text() == "审计人员 · 审计员"
        assert page.page.locator("main > .section:not([hidden])").count() == 0
        assert page.violations() == [], page.violations()
    finally:
        page.close()
