"""The administration console (/admin) in real Chromium, from a production start's first link.

The server starts on an empty data directory (no demo), `roomserver admin create` prints the
first administrator's link, and the test does what that administrator does first, through the
page's own forms: a trading centre, an evaluation room, a booking of it (directly and through
the search of free rooms), a clashing booking refused in the server's Chinese words, a change
and a cancellation. The browser runs in New York's time zone: the calendar must still put each
booking on its Beijing day and hours. No Content-Security-Policy violation is allowed.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.admin_support import (
    EXPERTS,
    Rest,
    a_lot_with_one_expert_checked_in,
    form_message,
    venue_details_through_the_console,
)
from tests.e2e.conftest import RunningServer
from tests.e2e.test_pages import (
    BEIJING,
    SIZES,
    TIMEOUT_MS,
    WatchedPage,
    assert_beijing_clock,
    code_of,
    pdf_bytes,
)

pytestmark = pytest.mark.e2e

CENTRE, CITY = "沈阳市公共资源交易中心", "沈阳"
VENUE = "第一评标室"
PURPOSE = "LN-2026-0001 第一标段评标"
SECOND_PURPOSE = "LN-2026-0002 监理标段评标"
DIALOG_CLOSED = "() => !document.querySelector('#booking-dialog').open"


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
        # An empty centre starts at its trading centres.
        assert page.evaluate("document.body.dataset.section") == "centres"
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


def test_an_administrator_keeps_a_venues_cameras_and_issues_its_door_token(
    empty_server: RunningServer, browser: Any, artifacts: Path
) -> None:
    link = empty_server.run_cli("admin", "create", "测试管理员").strip().splitlines()[-1]
    shots = artifacts / "admin"
    shots.mkdir(exist_ok=True)
    admin = WatchedPage(browser, link, timezone="America/New_York")
    try:
        admin.wait_state("ready")
        venue_details_through_the_console(admin, empty_server, shots)
        assert admin.violations() == [], admin.violations()
        assert admin.page.evaluate("document.body.dataset.state") == "ready"
    finally:
        admin.close()


PROJECT_CODE, PROJECT_NAME = "LN-2026-0100", "某学校教学楼工程"
POOL_CSV = """编号,姓名,身份证号,专业,城市,工作单位
E001,张伟,210102198001010011,建筑,沈阳,某设计院
E002,王芳,,建筑、造价,沈阳,某建设集团
E003,李娜,,建筑,沈阳,单位三
E004,刘洋,,建筑,沈阳,单位四
E005,陈静,,电气,大连,单位五
E006,杨帆,,建筑,大连,单位六
E007,赵磊,,造价,大连,单位七
E008,黄敏,,建筑,沈阳,单位八
E009,周杰,,给排水,大连,单位九
E010,吴刚,,建筑,丹东,单位十
"""


def add_centre_and_venue(page: Any, centre: str, city: str, region: str, venue: str) -> None:
    """A centre with its region code, and a venue of it, through the console's forms."""
    page.click(".menu a[data-section=centres]")
    page.fill("#centre-form [name=name]", centre)
    page.fill("#centre-form [name=city]", city)
    page.fill("#centre-form [name=region_code]", region)
    page.click("#centre-form button[type=submit]")
    row = page.locator(f"#centre-rows tr:has-text('{centre}')")
    row.wait_for(timeout=TIMEOUT_MS)
    assert region in row.inner_text()
    row.locator("button[data-add-venue]").click()
    page.wait_for_function("() => document.body.dataset.section === 'venues'")
    page.fill("#venue-form [name=name]", venue)
    page.fill("#venue-form [name=seat_count]", "6")
    page.click("#venue-form button[type=submit]")
    page.locator(f"#venue-rows tr:has-text('{venue}')").wait_for(timeout=TIMEOUT_MS)


def book_for_lot(page: Any, lot_label: str, bookings: int) -> None:
    """Book what the calendar's form was filled with for a lot, and go back to the project,
    until it shows the lot's `bookings`."""
    page.wait_for_function("() => document.body.dataset.section === 'bookings'")
    assert lot_label in page.locator("#booking-lot").inner_text()
    page.wait_for_selector("#booking-free:has-text('6 个机位全部空闲')", timeout=TIMEOUT_MS)
    page.click("#booking-form button[type=submit]")
    assert f"为标段 {PROJECT_CODE}" in form_message(page, "#booking-form", "ok")
    page.click("#booking-lot [data-lot=back]")
    page.wait_for_function(
        f"() => document.querySelectorAll('.lot-card .lot-bookings li').length === {bookings}",
        timeout=TIMEOUT_MS,
    )


def test_an_administrator_organises_a_lot_from_the_project_to_the_seated_experts(
    empty_server: RunningServer, browser: Any, artifacts: Path
) -> None:
    server = empty_server
    link = server.run_cli("admin", "create", "测试管理员").strip().splitlines()[-1]
    shots = artifacts / "admin"
    shots.mkdir(exist_ok=True)
    admin = WatchedPage(browser, link, timezone="America/New_York")
    try:
        page = admin.page
        admin.wait_state("ready")
        assert page.locator(".menu-later").count() == 0
        add_centre_and_venue(page, "沈阳市公共资源交易中心", "沈阳", "210100", "沈阳第一评标室")
        add_centre_and_venue(page, "大连市公共资源交易中心", "大连", "210200", "大连第一评标室")

        # A project with two lots; the form refuses a repeated lot code before sending.
        page.click(".menu a[data-section=projects]")
        page.wait_for_function("() => document.body.dataset.section === 'projects'")
        page.select_option("#project-form [name=centre_id]", label="沈阳市公共资源交易中心（沈阳）")
        page.fill("#project-form [name=code]", PROJECT_CODE)
        page.fill("#project-form [name=name]", PROJECT_NAME)
        page.fill("#project-form [name=tenderer]", "某市教育局")
        page.fill("#project-form [name=lot_name_0]", "施工")
        page.click("#project-form [name=add_lot]")
        page.fill("#project-form [name=lot_code_1]", "01")
        page.fill("#project-form [name=lot_name_1]", "监理")
        page.click("#project-form button[type=submit]")
        assert "不能重复" in form_message(page, "#project-form", "error")
        page.fill("#project-form [name=lot_code_1]", "02")
        page.click("#project-form button[type=submit]")
        page.wait_for_selector("#project-view:not([hidden]) .lot-card", timeout=TIMEOUT_MS)
        assert page.locator(".lot-card").count() == 2
        assert PROJECT_CODE in page.locator("#project-title").inner_text()
        lot1 = page.locator(".lot-card").first
        assert "标段 01 · 施工" in lot1.inner_text()

        # Lot 1: its session needs the main venue booked for the lot at the start.
        day = next_tuesday()
        lot1.locator("[name=start_date]").fill(day.isoformat())
        lot1.locator("[name=start_time]").select_option("09:00")
        missing = lot1.locator(".readiness li.missing")
        missing.wait_for(timeout=TIMEOUT_MS)
        assert "沈阳第一评标室" in missing.inner_text()
        missing.locator("button[data-book]").click()
        book_for_lot(page, f"{PROJECT_CODE} 标段 01 · 施工", 1)
        lot1 = page.locator(".lot-card").first
        lot1.locator(".readiness li.ready").wait_for(timeout=TIMEOUT_MS)
        assert "09:00–13:00" in lot1.locator(".lot-bookings").inner_text()

        # A sub venue drawn within the province: committed, then revealed and checked.
        lot1.locator(".lot-head button:has-text('抽取副场')").click()
        page.wait_for_function("() => document.body.dataset.section === 'draws'")
        page.wait_for_selector("#draws-body:not([hidden])", timeout=TIMEOUT_MS)
        fill_slot(page, "#subvenue-form", day, "09:00", "13:00")
        page.click("#subvenue-form button[type=submit]")
        committed = page.locator(".draw-card.committed")
        committed.wait_for(timeout=TIMEOUT_MS)
        assert "待揭示" in committed.inner_text() and "种子承诺" in committed.inner_text()
        admin.screenshots(shots, "admin-draw-committed")
        committed.locator("button[data-reveal]").click()
        revealed = page.locator(".draw-card.revealed[data-kind=sub_venues]")
        revealed.wait_for(timeout=TIMEOUT_MS)
        assert "校验通过" in revealed.inner_text() and "大连第一评标室" in revealed.inner_text()
        revealed.locator("button[data-book-sub]").click()
        book_for_lot(page, f"{PROJECT_CODE} 标段 01 · 施工", 2)

        # The session opens on both venues, the drawn sub venue already chosen.
        lot1 = page.locator(".lot-card").first
        assert "抽取结果" in lot1.locator(".chips").inner_text()
        lot1.locator("[name=start_date]").fill(day.isoformat())
        lot1.locator("[name=start_time]").select_option("09:00")
        page.wait_for_function(
            "() => document.querySelector('.lot-card .session-form').dataset.ready === '1'"
        )
        admin.screenshots(shots, "admin-project")
        lot1.locator(".session-form button[type=submit]").click()
        page.wait_for_selector(".lot-card .pill.state-scheduled", timeout=TIMEOUT_MS)
        about = page.locator(".lot-card").first.inner_text()
        assert "待开始" in about and f"{day:%Y年%m月%d日} 09:00" in about, about
        assert "主场 沈阳第一评标室" in about and "副场 大连第一评标室" in about, about

        # A host, their link issued and shown once.
        page.locator(".lot-card").first.locator("button:has-text('人员与链接')").click()
        page.wait_for_selector("#people-body:not([hidden])", timeout=TIMEOUT_MS)
        page.select_option("#person-form [name=role]", "host")
        page.fill("#person-form [name=name]", "张主持")
        page.click("#person-form button[type=submit]")
        host = page.locator("#people-rows tr[data-role=host]")
        host.wait_for(timeout=TIMEOUT_MS)
        assert "未发放" in host.inner_text()
        host.locator("button[data-issue]").click()
        page.wait_for_selector("#issued-link:not([hidden])", timeout=TIMEOUT_MS)
        url = page.locator("#issued-url").input_value()
        assert url.startswith(server.base_url) and "/console?code=" in url, url
        page.wait_for_selector("#people-rows tr[data-role=host] .link-state.active")
        # Re-issued: a new address, the old one revoked.
        page.locator("#people-rows tr[data-role=host] button[data-reissue]").click()
        page.click("#link-form button[type=submit]")
        page.wait_for_function(
            f"() => document.querySelector('#issued-url').value !== '{url}'", timeout=TIMEOUT_MS
        )
        admin.screenshots(shots, "admin-people-link")

        # The pool, pasted: a bad row is named by its line, then the list is imported.
        page.click(".menu a[data-section=pool]")
        page.wait_for_function("() => document.body.dataset.section === 'pool'")
        bad = "编号,姓名,专业,城市\nE1,张三,建筑,沈阳\nE2,,建筑,沈阳\n"
        page.fill("#pool-form [name=text]", bad)
        assert "第 3 行：缺少姓名" in page.locator("#pool-preview").inner_text()
        page.fill("#pool-form [name=text]", POOL_CSV)
        assert "读取到 10 名专家" in page.locator("#pool-preview").inner_text()
        page.click("#pool-form button[type=submit]")
        assert "新增 10 名" in form_message(page, "#pool-form", "ok")
        page.wait_for_selector("#pool-rows tr[data-expert=E010]", timeout=TIMEOUT_MS)
        assert "尾号 0011" in page.locator("#pool-rows tr[data-expert=E001]").inner_text()
        admin.screenshots(shots, "admin-pool")

        # Experts drawn for the session's venues, bidders' employer excluded, then revealed.
        page.click(".menu a[data-section=draws]")
        page.wait_for_selector("#draws-body:not([hidden]) .need-row", timeout=TIMEOUT_MS)
        assert page.locator(".need-row").count() == 2
        page.fill("#expert-form [name=need_count_0]", "3")
        page.fill("#expert-form [name=need_specialty_0]", "建筑")
        page.fill("#expert-form [name=need_count_1]", "2")
        page.fill("#expert-form [name=need_city_1]", "大连")
        page.fill("#expert-form [name=exclude_employers]", "某建设集团")
        page.click("#expert-form button[type=submit]")
        experts = page.locator(".draw-card.committed[data-kind=experts]")
        experts.wait_for(timeout=TIMEOUT_MS)
        assert "排除工作单位：某建设集团" in experts.inner_text()
        experts.locator("button[data-reveal]").click()
        drawn = page.locator(".draw-card.revealed[data-kind=experts]")
        drawn.wait_for(timeout=TIMEOUT_MS)
        assert "校验通过" in drawn.inner_text()
        assert drawn.locator(".result tbody tr").count() == 5
        assert "王芳" not in drawn.inner_text()
        assert drawn.locator(".seat-cell:has-text('号机位')").count() == 5
        admin.screenshots(shots, "admin-draws")

        # They appear seated among the session's people.
        page.click(".menu a[data-section=people]")
        page.wait_for_selector("#people-rows tr[data-role=expert]", timeout=TIMEOUT_MS)
        seated = page.locator("#people-rows tr[data-role=expert]")
        assert seated.count() == 5
        assert page.locator("#people-rows tr[data-role=expert]:has-text('1号机位')").count() == 2
        admin.screenshots(shots, "admin-people")

        # A PDF in the project's record, with its digests.
        page.locator("[data-lot-bar=people] button[data-open-project]").click()
        page.wait_for_selector("#project-view:not([hidden])", timeout=TIMEOUT_MS)
        page.set_input_files(
            "#document-form [name=file]",
            files=[{"name": "招标文件.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes()}],
        )
        assert page.locator("#document-form [name=name]").input_value() == "招标文件"
        page.click("#document-form button[type=submit]")
        assert "已存档" in form_message(page, "#document-form", "ok")
        document = page.locator("#documents li")
        document.wait_for(timeout=TIMEOUT_MS)
        text = document.inner_text()
        assert "招标文件" in text and "SHA-256" in text and "SM3" in text, text
        screenshots(page, shots, "admin-documents", showing="#documents")
        page.click("#project-back")
        page.wait_for_selector(f"#project-rows tr:has-text('{PROJECT_CODE}')", timeout=TIMEOUT_MS)
        admin.screenshots(shots, "admin-projects")

        assert admin.violations() == [], admin.violations()
        assert page.evaluate("document.body.dataset.state") == "ready"
    finally:
        admin.close()


def test_an_administrator_ends_a_lots_session_reads_its_fees_and_re_reviews_it(
    empty_server: RunningServer, browser: Any, open_seat: Any, artifacts: Path
) -> None:
    """From the lot's card: the forced end with a reason, the fees of the expert who was
    checked in, a re-review with people of its own, a bidder's archive link, and one more lot."""
    server = empty_server
    made = a_lot_with_one_expert_checked_in(server, open_seat, PROJECT_CODE, PROJECT_NAME)
    project_id, session_id = made["project"]["id"], made["session_id"]
    shots = artifacts / "admin"
    shots.mkdir(exist_ok=True)
    link = server.run_cli("admin", "create", "测试管理员").strip().splitlines()[-1]
    admin = WatchedPage(browser, link, timezone="America/New_York")
    try:
        page = admin.page
        admin.wait_state("ready")
        page.click(".menu a[data-section=projects]")
        page.locator(f"#project-rows tr[data-project='{project_id}'] button").click()
        card = page.locator(".lot-card").first
        card.locator(".session-block button[data-end]").wait_for(timeout=TIMEOUT_MS)

        # The forced end: a dialog that says it cannot be undone, and wants a reason.
        card.locator("button[data-end]").click()
        dialog = page.locator("#end-dialog")
        assert "不可撤销" in dialog.inner_text() and "记入评标记录" in dialog.inner_text()
        assert f"{PROJECT_CODE} 标段 01 · 施工" in page.locator("#end-facts").inner_text()
        page.click("#end-form button[type=submit]")
        assert form_message(page, "#end-form", "error") == "请填写结束原因"
        page.fill("#end-form [name=reason]", "评标室网络中断，评标改期")
        admin.screenshots(shots, "admin-end")
        page.click("#end-form button[type=submit]")
        page.wait_for_function("() => !document.querySelector('#end-dialog').open")
        card = page.locator(".lot-card").first
        card.locator(".session-block .pill.state-ended").wait_for(timeout=TIMEOUT_MS)
        made["seat"].page.wait_for_function(
            "() => document.body.dataset.state === 'ended'", timeout=TIMEOUT_MS
        )

        # Its fees: the expert checked in, by the centre's rule; the other one never came.
        fees = card.locator(".fee-table")
        rows = fees.locator("tbody tr")
        assert rows.count() == 1
        row = rows.first.inner_text()
        assert EXPERTS[0] in row and VENUE in row and "800.00" in row, row
        assert "800 元含 4 小时" in row, row
        assert "合计 1 名专家" in fees.locator("tfoot").inner_text()
        checked_in = page.evaluate(
            "async (id) => (await (await fetch(`/api/sessions/${id}/fees`)).json()).items[0]",
            session_id,
        )
        at = datetime.fromisoformat(checked_in["checked_in_at"]).astimezone(BEIJING)
        assert f"{at:%m月%d日 %H:%M}" in row, (row, at)  # Beijing time in New York's browser
        screenshots(page, shots, "admin-fees", showing=".lot-card .fees")

        # A re-review, remote in the same venue; it shows on the lot's card.
        card.locator(".session-block button[data-review]").first.click()
        assert VENUE in page.locator("#review-remote").inner_text()
        page.click("#review-form button[type=submit]")
        assert form_message(page, "#review-form", "error") == "请填写复议原因"
        page.fill("#review-form [name=reason]", "投标人对评标结果提出异议")
        admin.screenshots(shots, "admin-review")
        page.click("#review-form button[type=submit]")
        review = page.locator(".lot-card .session-block.review")
        review.wait_for(timeout=TIMEOUT_MS)
        assert "复议" in review.inner_text() and "待开始" in review.inner_text()
        tomorrow = datetime.now(BEIJING).date() + timedelta(days=1)
        assert f"{tomorrow:%Y年%m月%d日} 09:00" in review.inner_text(), review.inner_text()
        admin.screenshots(shots, "admin-reviewed")

        # A bidder's archive link to the ended session, shown once with a copy button.
        card = page.locator(".lot-card").first
        card.locator(f".session-block[data-session='{session_id}'] button[data-party]").click()
        page.fill("#party-form [name=name]", "某建设集团有限公司")
        page.click("#party-form button[type=submit]")
        page.wait_for_selector("#party-issued:not([hidden])", timeout=TIMEOUT_MS)
        assert "投标人 某建设集团有限公司 的调阅链接" in page.locator("#party-who").inner_text()
        url = page.locator("#party-url").input_value()
        assert url.startswith(f"{server.base_url}/archive?code="), url
        page.click("#party-copy")
        page.wait_for_selector("#party-copy:has-text('已复制')")
        admin.screenshots(shots, "admin-party-link")
        login = Rest(server.base_url, "").call("/api/login", {"code": code_of(url)})
        assert (login["role"], login["session_id"]) == ("bidder", session_id), login
        page.click("#party-another")  # the next bidder's link, from the form again
        assert page.locator("#party-form [name=name]").input_value() == ""
        page.click("#party-dialog .dialog-head [data-close]")

        # The re-review's people: the same committee, and a host of its own.
        review.locator("button[data-go]").click()
        page.wait_for_selector("#people-body:not([hidden])", timeout=TIMEOUT_MS)
        chosen = page.locator("[data-lot-bar=people] select[name=session] option:checked")
        assert chosen.inner_text().startswith("复议")
        page.wait_for_function(
            f"() => document.querySelectorAll('#people-rows tr[data-role=expert]').length"
            f" === {len(EXPERTS)}",
            timeout=TIMEOUT_MS,
        )
        page.select_option("#person-form [name=role]", "host")
        page.fill("#person-form [name=name]", "李主持")
        page.click("#person-form button[type=submit]")
        page.locator("#people-rows tr[data-role=host]").wait_for(timeout=TIMEOUT_MS)
        admin.screenshots(shots, "admin-review-people")

        # One more lot: a repeated code is refused before sending, the next one is offered.
        page.locator("[data-lot-bar=people] button[data-open-project]").click()
        page.wait_for_selector("#project-view:not([hidden])", timeout=TIMEOUT_MS)
        assert page.locator("#lot-form [name=code]").input_value() == "02"
        page.fill("#lot-form [name=code]", "01")
        page.fill("#lot-form [name=name]", "监理")
        page.click("#lot-form button[type=submit]")
        assert "不能重复" in form_message(page, "#lot-form", "error")
        page.fill("#lot-form [name=code]", "02")
        page.click("#lot-form button[type=submit]")
        assert "已增加标段 02 · 监理" in form_message(page, "#lot-form", "ok")
        assert page.locator(".lot-card").count() == 2
        assert "标段 02 · 监理" in page.locator(".lot-card").nth(1).inner_text()
        screenshots(page, shots, "admin-lot-added", showing="#lot-form")

        detail = made["api"].call(f"/api/projects/{project_id}")
        assert [r["review_of"] for r in detail["lots"][0]["reviews"]] == [session_id]
        assert admin.violations() == [], admin.violations()
        assert page.evaluate("document.body.dataset.state") == "ready"
    finally:
        admin.close()
