"""A trading centre's own people and a lot's bid opening in the administration console (/admin),
in real Chromium set to New York's time zone. The province's administrator gives Shenyang's
centre an administrator and an ops engineer (links shown once; one revoked with a reason, then
re-issued). Shenyang's administrator, in a browser of its own, sees whose console it is and
only its centre's things: no centre to add, no expert pool, its centre chosen wherever one is
asked for; another centre's project is refused in the server's words, another centre's room
shows its bookings in the vacancy only. It enters a project, sets up a lot's opening (fields,
fewest bids, decryption time, a benchmark parameter, public), adds two bidders and the host,
tenderer and witness, and their links name the hall and the opening console. Screenshots at
1920x1080 and 1366x768 go to test-artifacts/admin-opening/."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.admin_support import CENTRE, CITY, VENUE, Rest, form_message
from tests.e2e.conftest import RunningServer
from tests.e2e.test_admin import screenshots
from tests.e2e.test_admin_sessions import cells, login_status, option_texts
from tests.e2e.test_pages import BEIJING, TIMEOUT_MS, WatchedPage

pytestmark = pytest.mark.e2e

OTHER_CENTRE, OTHER_CITY, OTHER_VENUE = "大连市公共资源交易中心", "大连", "大连第一评标室"
CENTRE_ADMIN, OPS = "王伟", "李工"
PROJECT_CODE, PROJECT_NAME, TENDERER = "LN-2026-0601", "沈阳某中学体育馆工程", "沈阳市教育局"
BIDDERS = ("辽宁甲建设集团有限公司", "沈阳乙市政工程有限公司")
CREDIT_CODE = "91210100MA0XXXXX1A"


def wait_rows(page: Any, selector: str, count: int) -> None:
    """Until a table body has `count` rows."""
    page.wait_for_function(
        "([s, n]) => document.querySelectorAll(`${s} tr`).length === n",
        arg=[selector, count],
        timeout=TIMEOUT_MS,
    )


def issued(page: Any, box: str) -> str:
    """The address a link box shows once it shows one."""
    page.wait_for_selector(f"#{box}-link:not([hidden])", timeout=TIMEOUT_MS)
    return str(page.locator(f"#{box}-url").input_value())


def issued_anew(page: Any, box: str, before: str) -> str:
    """The address a link box shows once it shows another than `before`."""
    page.wait_for_function(
        "([b, old]) => { const u = document.querySelector(`#${b}-url`).value;"
        " return u && u !== old && !document.querySelector(`#${b}-link`).hidden; }",
        arg=[box, before],
        timeout=TIMEOUT_MS,
    )
    return str(page.locator(f"#{box}-url").input_value())


def ask_link(page: Any, reason: str) -> None:
    """In the open link dialog: give the reason and confirm."""
    page.wait_for_selector("#link-dialog[open]", timeout=TIMEOUT_MS)
    page.fill("#link-form [name=reason]", reason)
    page.click("#link-form button[type=submit]")
    page.wait_for_function("() => !document.querySelector('#link-dialog').open", timeout=TIMEOUT_MS)


def places_of_two_centres(server: RunningServer) -> dict[str, Any]:
    """Through REST: Shenyang's centre and room, Dalian's centre, room and a project, and a
    booking of Dalian's room tomorrow morning (seats 1-3, for Dalian's own lot)."""
    api = Rest(server.base_url, server.run_cli("token", "--admin").strip().splitlines()[-1])
    centre = api.call("/api/centres", {"name": CENTRE, "city": CITY, "region_code": "210100"})
    venue = api.call(
        "/api/venues", {"centre_id": centre["id"], "name": VENUE, "city": CITY, "seat_count": 6}
    )
    other = api.call(
        "/api/centres", {"name": OTHER_CENTRE, "city": OTHER_CITY, "region_code": "210200"}
    )
    other_venue = api.call(
        "/api/venues",
        {"centre_id": other["id"], "name": OTHER_VENUE, "city": OTHER_CITY, "seat_count": 5},
    )
    other_project = api.call(
        "/api/projects",
        {
            "centre_id": other["id"],
            "code": "LN-2026-0602",
            "name": "大连某码头改造工程",
            "tenderer": "大连港务局",
            "lots": [{"code": "01", "name": "施工"}],
        },
    )
    tomorrow = datetime.now(BEIJING).replace(hour=0, minute=0, second=0, microsecond=0)
    tomorrow += timedelta(days=1)
    slot = (tomorrow + timedelta(hours=9), tomorrow + timedelta(hours=12))
    api.call(
        "/api/bookings",
        {
            "venue_id": other_venue["id"],
            "starts_at": slot[0].isoformat(),
            "ends_at": slot[1].isoformat(),
            "seats": [1, 2, 3],
            "purpose": "LN-2026-0602 施工标段评标",
            "lot_id": other_project["lots"][0]["id"],
        },
    )
    return {
        "api": api,
        "centre": centre,
        "venue": venue,
        "other_venue": other_venue,
        "other_project": other_project,
        "tomorrow": tomorrow,
    }


def the_province_gives_the_centre_its_people(
    page: Any, server: RunningServer, centre: dict[str, Any], shots: Path
) -> str:
    """The province's administrator adds Shenyang's administrator and ops engineer; the ops
    engineer's link is revoked with a reason and re-issued. The administrator's link."""
    page.click(".menu a[data-section=centres]")
    assert page.locator("#centre-rows tr").count() == 2
    assert page.locator("#centre-form").is_visible()
    page.locator(
        f"#centre-rows tr[data-centre='{centre['id']}'] button[data-centre-people]"
    ).click()
    page.wait_for_selector("#centre-people:not([hidden])", timeout=TIMEOUT_MS)
    assert page.locator("#centre-people-title").inner_text() == f"{CENTRE} · 本中心人员"
    page.wait_for_selector("#centre-people-empty:not([hidden])", timeout=TIMEOUT_MS)
    form = "#centre-person-form"
    assert page.locator(f"{form} [name=days]").input_value() == "30"
    page.click(f"{form} button[type=submit]")
    assert form_message(page, form, "error") == "请填写姓名"
    page.fill(f"{form} [name=name]", CENTRE_ADMIN)
    page.fill(f"{form} [name=days]", "400")
    page.click(f"{form} button[type=submit]")
    assert form_message(page, form, "error") == "有效期应为 1 至 366 天之间的整数"
    page.fill(f"{form} [name=days]", "90")
    page.click(f"{form} button[type=submit]")
    admin_url = issued(page, "centre-issued")
    assert urlsplit(admin_url).path == "/admin", admin_url
    note = page.locator("#centre-issued-note").inner_text()
    assert "管理后台" in note and CENTRE in note and "只显示这一次" in note, note
    page.select_option(f"{form} [name=role]", "ops")
    page.fill(f"{form} [name=name]", OPS)
    page.click(f"{form} button[type=submit]")
    ops_url = issued_anew(page, "centre-issued", admin_url)
    assert urlsplit(ops_url).path == "/ops", ops_url
    wait_rows(page, "#centre-people-rows", 2)
    ops_row = page.locator("#centre-people-rows tr[data-role=ops]")
    assert cells(ops_row)[:2] == ["运维技术人员", OPS]
    assert cells(ops_row)[2].startswith("有效 至 "), cells(ops_row)
    screenshots(page, shots, "admin-centre-people", showing="#centre-people")

    # Revoked with a reason, then re-issued (a reason is asked for that too).
    ops_row.locator("button[data-revoke]").click()
    ask_link(page, "岗位调整")
    page.wait_for_selector(
        "#centre-people-rows tr[data-role=ops] .link-state.revoked", timeout=TIMEOUT_MS
    )
    assert "岗位调整" in ops_row.inner_text()
    assert page.locator("#centre-issued-link").is_hidden()
    assert login_status(server, ops_url) == (401, "link_revoked")
    ops_row.locator("button[data-reissue]").click()
    assert "有效期 90 天" in page.locator("#link-dialog-text").inner_text()
    page.click("#link-form button[type=submit]")
    assert form_message(page, "#link-form", "error") == "请填写重新发放的原因"
    ask_link(page, "重新上岗")
    new_ops_url = issued(page, "centre-issued")
    assert new_ops_url != ops_url and urlsplit(new_ops_url).path == "/ops"
    page.wait_for_selector(
        "#centre-people-rows tr[data-role=ops] .link-state.active", timeout=TIMEOUT_MS
    )
    assert login_status(server, new_ops_url) == (200, "")
    return admin_url


def the_centre_sees_its_own(page: Any, made: dict[str, Any], shots: Path) -> None:
    """Shenyang's administrator: whose console it is, its centre only, nothing of the
    province's; another centre's project refused in the server's words; another centre's room
    booked in the vacancy only."""
    centre, venue, other_venue = made["centre"], made["venue"], made["other_venue"]
    assert page.locator("#who").inner_text() == f"管理员 · {CENTRE_ADMIN}"
    assert page.locator("#scope").inner_text() == f"本中心：{CENTRE}"
    # Its centre with its people; no centre to add, no expert pool.
    page.click(".menu a[data-section=centres]")
    page.wait_for_selector("#centre-people:not([hidden])", timeout=TIMEOUT_MS)
    assert [r.get_attribute("data-centre") for r in page.locator("#centre-rows tr").all()] == [
        centre["id"]
    ]
    assert page.locator("#centre-form").is_hidden()
    assert page.locator(".menu a[data-section=pool]").is_hidden()
    wait_rows(page, "#centre-people-rows", 2)
    screenshots(page, shots, "admin-centre-own", showing="#centre-people")
    page.goto(page.url.split("#")[0] + "#pool")
    page.wait_for_selector("#pool-province:not([hidden])", timeout=TIMEOUT_MS)
    assert page.locator("#banner").is_hidden()

    # Its centre chosen wherever one is asked for; its rooms listed to begin with.
    page.click(".menu a[data-section=venues]")
    page.wait_for_selector(f"#venue-rows tr[data-venue='{venue['id']}']", timeout=TIMEOUT_MS)
    assert page.locator("#venue-rows tr").count() == 1
    assert page.locator("#venue-filter-centre").input_value() == centre["id"]
    assert option_texts(page, "#venue-form-centre") == [f"{CENTRE}（{CITY}）"]
    page.click(".menu a[data-section=projects]")
    assert option_texts(page, "#project-form-centre") == [f"{CENTRE}（{CITY}）"]
    assert page.locator("#project-form-centre").input_value() == centre["id"]
    assert option_texts(page, "#project-filter-centre") == [f"{CENTRE}（{CITY}）"]
    page.wait_for_selector("#project-empty:not([hidden])", timeout=TIMEOUT_MS)
    assert page.locator("#project-empty").inner_text() == "还没有项目，请在右侧录入。"

    # Another centre's project: the server's reason, in the banner; the page goes on.
    page.goto(page.url.split("#")[0] + f"#projects/{made['other_project']['id']}")
    page.wait_for_selector("#banner:not([hidden])", timeout=TIMEOUT_MS)
    assert page.locator("#banner").inner_text() == "无法读取项目：该资源不属于您所在的交易中心"
    assert page.evaluate("document.body.dataset.state") == "error"
    screenshots(page, shots, "admin-other-centre-refused")
    page.click(".menu a[data-section=vacancy]")
    page.wait_for_selector("#banner", state="hidden", timeout=TIMEOUT_MS)

    # The vacancy counts Dalian's booking; its calendar shows none of Dalian's bookings, and
    # the booking form marks the seats the vacancy says are taken.
    tomorrow = made["tomorrow"]
    vacancy = "#vacancy-form"
    page.fill(f"{vacancy} [name=start_date]", f"{tomorrow:%Y-%m-%d}")
    page.select_option(f"{vacancy} [name=start_time]", "09:00")
    page.fill(f"{vacancy} [name=end_date]", f"{tomorrow:%Y-%m-%d}")
    page.select_option(f"{vacancy} [name=end_time]", "12:00")
    page.fill(f"{vacancy} [name=seats]", "1")
    page.click(f"{vacancy} button[type=submit]")
    other_row = page.locator(f"#vacancy-rows tr[data-venue='{other_venue['id']}']")
    other_row.wait_for(timeout=TIMEOUT_MS)
    assert cells(other_row)[3].startswith("2/5"), cells(other_row)
    assert cells(page.locator(f"#vacancy-rows tr[data-venue='{venue['id']}']"))[3].startswith("6/6")
    other_row.locator("button[data-book]").click()
    page.wait_for_selector("#calendar-scope:not([hidden])", timeout=TIMEOUT_MS)
    assert f"{OTHER_VENUE}属于{OTHER_CENTRE}" in page.locator("#calendar-scope").inner_text()
    assert page.locator("#calendar .booking").count() == 0
    page.wait_for_function(
        "() => document.querySelectorAll('#booking-seats .seat.taken').length === 3",
        timeout=TIMEOUT_MS,
    )
    assert "其他交易中心的预约" in page.locator("#booking-free").inner_text()
    screenshots(page, shots, "admin-other-centre-room", showing="#calendar-scope")


def the_centre_sets_up_an_opening(page: Any, made: dict[str, Any], shots: Path) -> str:
    """Shenyang's administrator enters a project and sets up its lot's opening, the form
    refusing slips first. The opening's session id."""
    api, venue = made["api"], made["venue"]
    page.click(".menu a[data-section=projects]")
    form = "#project-form"
    page.fill(f"{form} [name=code]", PROJECT_CODE)
    page.fill(f"{form} [name=name]", PROJECT_NAME)
    page.fill(f"{form} [name=tenderer]", TENDERER)
    page.fill(f"{form} [name=lot_name_0]", "施工")
    page.click(f"{form} button[type=submit]")
    card = page.locator(".lot-card").first
    card.locator("button[data-set-up-opening]").wait_for(timeout=TIMEOUT_MS)
    card.locator("button[data-set-up-opening]").click()
    page.wait_for_selector("#opening-dialog[open]", timeout=TIMEOUT_MS)
    dialog = "#opening-form"
    assert option_texts(page, f"{dialog} [name=venue_id]") == [f"{VENUE}（{CITY}）"]
    assert page.locator(f"{dialog} [name=venue_id]").input_value() == venue["id"]
    assert page.locator(f"{dialog} [name=deadline_time]").input_value() == "09:30"
    assert page.locator(f"{dialog} [name=min_bids]").input_value() == "3"
    assert page.locator(f"{dialog} [name=decryption_minutes]").input_value() == "30"
    rows = [
        (
            page.locator(f"{dialog} [name=field_label_{i}]").input_value(),
            page.locator(f"{dialog} [name=field_kind_{i}]").input_value(),
            page.locator(f"{dialog} [name=field_unit_{i}]").input_value(),
        )
        for i in range(2)
    ]
    assert rows == [("投标报价", "money", "元"), ("工期", "integer", "日历天")], rows

    # A third field, a benchmark parameter; slips are refused before sending.
    page.click(f"{dialog} [name=add_field]")
    page.click(f"{dialog} button[type=submit]")
    assert form_message(page, dialog, "error") == "请填写第 3 个开标字段的名称"
    assert page.locator(f"{dialog} [name=field_label_2]").get_attribute("aria-invalid") == "true"
    page.fill(f"{dialog} [name=field_label_2]", "质量标准")
    page.fill(f"{dialog} [name=min_bids]", "0")
    page.click(f"{dialog} button[type=submit]")
    assert form_message(page, dialog, "error") == "最少有效投标数应为 1 至 50 之间的整数"
    page.fill(f"{dialog} [name=min_bids]", "2")
    page.fill(f"{dialog} [name=decryption_minutes]", "45")
    page.click(f"{dialog} [name=add_param]")
    page.fill(f"{dialog} [name=param_label_0]", "下浮率K")
    page.fill(f"{dialog} [name=param_candidates_0]", "1%、2%、1%")
    page.click(f"{dialog} button[type=submit]")
    assert form_message(page, dialog, "error") == "参数“下浮率K”的备选值“1%”重复"
    page.fill(f"{dialog} [name=param_candidates_0]", "1%、2%、3%")
    page.check(f"{dialog} [name=public]")
    slot = page.locator(f"{dialog} .slot-line").inner_text()
    assert "09:30 投标截止" in slot and "北京时间" in slot, slot
    screenshots(page, shots, "admin-opening-form", showing="#opening-form .form-actions")
    page.click(f"{dialog} button[type=submit]")
    page.wait_for_function(
        "() => document.body.dataset.section === 'opening'"
        " && !document.querySelector('#opening-body').hidden",
        timeout=TIMEOUT_MS,
    )

    project = api.call("/api/projects?per_page=100")["items"][0]
    opening = api.call(f"/api/projects/{project['id']}")["lots"][0]["opening"]
    deadline = made["tomorrow"] + timedelta(hours=9, minutes=30)
    assert datetime.fromisoformat(opening["deadline"]) == deadline, opening
    assert [f["label"] for f in opening["fields"]] == ["投标报价", "工期", "质量标准"]
    assert opening["fields"][2] == {
        "name": "field_1",
        "label": "质量标准",
        "kind": "text",
        "unit": "",
    }
    assert (opening["min_bids"], opening["decryption_minutes"], opening["public"]) == (2, 45, True)
    assert opening["benchmark"] == [
        {"name": "param_1", "label": "下浮率K", "candidates": ["1%", "2%", "3%"]}
    ]
    assert opening["venue_id"] == venue["id"] and opening["bidders"] == 0
    terms = page.locator("#opening-terms").inner_text()
    assert "下浮率K（1%、2%、3%）" in terms and "不少于 2 家" in terms, terms
    return str(opening["id"])


def the_centre_adds_bidders_and_people(
    page: Any, server: RunningServer, made: dict[str, Any], session_id: str, shots: Path
) -> None:
    """Two bidders (a slip refused first) and the host, tenderer and witness, each link naming
    its page; a bidder's link revoked with a reason and issued again."""
    form = "#bidder-form"
    page.fill(f"{form} [name=name]", BIDDERS[0])
    page.fill(f"{form} [name=credit_code]", "9121")
    page.click(f"{form} button[type=submit]")
    assert form_message(page, form, "error").startswith("统一社会信用代码应为 18 位")
    page.fill(f"{form} [name=credit_code]", CREDIT_CODE.lower())
    page.click(f"{form} button[type=submit]")
    first = issued(page, "opening-issued")
    assert urlsplit(first).path == "/hall", first
    note = page.locator("#opening-issued-note").inner_text()
    assert "开标大厅" in note and "有效至" in note and "北京时间" in note, note
    wait_rows(page, "#bidder-rows", 1)
    page.fill(f"{form} [name=name]", BIDDERS[0])
    page.click(f"{form} button[type=submit]")
    assert form_message(page, form, "error") == f"投标人“{BIDDERS[0]}”已在名单中"
    page.fill(f"{form} [name=name]", BIDDERS[1])
    page.click(f"{form} button[type=submit]")
    second = issued_anew(page, "opening-issued", first)
    assert urlsplit(second).path == "/hall", second
    wait_rows(page, "#bidder-rows", 2)
    bidders = [cells(r) for r in page.locator("#bidder-rows tr").all()]
    assert sorted(c[0] for c in bidders) == sorted(BIDDERS)
    assert all(c[1].startswith("有效 至 ") for c in bidders), bidders
    assert page.locator("#bidder-count").inner_text() == "共 2 家；不少于 2 家有效投标方可开标"
    assert "投标人 2 家" in page.locator("[data-lot-bar=opening] .lot-about").inner_text()

    # The host (in the opening room), the tenderer and the witness; each link's page.
    people = "#opening-person-form"
    pages = {}
    for role, name in (("host", "李主持"), ("tenderer", TENDERER), ("witness", "钱见证")):
        page.select_option(f"{people} [name=role]", role)
        page.fill(f"{people} [name=name]", name)
        page.click(f"{people} button[type=submit]")
        row = page.locator(f"#opening-people-rows tr[data-role={role}]")
        row.locator("button[data-issue]").wait_for(timeout=TIMEOUT_MS)
        before = page.locator("#opening-issued-url").input_value()
        row.locator("button[data-issue]").click()
        url = issued_anew(page, "opening-issued", before)
        pages[role] = urlsplit(url).path
        assert urlsplit(url).query.startswith("code="), url
        row.locator(".link-state.active").wait_for(timeout=TIMEOUT_MS)
    assert pages == {"host": "/opening", "tenderer": "/hall", "witness": "/opening"}, pages
    listed = made["api"].call(f"/api/sessions/{session_id}/people")["items"]
    host = next(p for p in listed if p["role"] == "host")
    assert host["venue_id"] == made["venue"]["id"]
    # Every link lasts until a day after the deadline, whenever it was issued.
    last = made["tomorrow"] + timedelta(days=1, hours=9, minutes=30)
    ends = [datetime.fromisoformat(p["link"]["expires_at"]) for p in listed]
    assert all(last - timedelta(minutes=5) < end <= last + timedelta(minutes=5) for end in ends), (
        ends
    )
    assert sorted(p["role"] for p in listed) == [
        "bidder",
        "bidder",
        "host",
        "tenderer",
        "witness",
    ]
    screenshots(page, shots, "admin-opening-people", showing="#opening-people-rows")

    # A bidder's link revoked with a reason; issued again, the old one stays dead.
    row = page.locator(f"#bidder-rows tr:has-text('{BIDDERS[1]}')")
    row.locator("button[data-revoke]").click()
    ask_link(page, "投标人更换代表")
    row.locator(".link-state.revoked").wait_for(timeout=TIMEOUT_MS)
    assert "投标人更换代表" in row.inner_text()
    assert login_status(server, second) == (401, "link_revoked")
    before = page.locator("#opening-issued-url").input_value()
    row.locator("button[data-issue]").click()
    again = issued_anew(page, "opening-issued", before)
    assert urlsplit(again).path == "/hall" and login_status(server, again) == (200, "")
    assert login_status(server, second) == (401, "link_revoked")
    row.locator(".link-state.active").wait_for(timeout=TIMEOUT_MS)
    screenshots(page, shots, "admin-opening-bidders", showing="#opening-issued-link")

    # On the project's page, the lot's card tells the opening.
    page.locator("[data-lot-bar=opening] button[data-open-project]").click()
    block = page.locator(".lot-card .opening-block")
    block.wait_for(timeout=TIMEOUT_MS)
    text = block.inner_text()
    assert "投标人 2 家" in text and "唱标字段：投标报价（元）、工期（日历天）、质量标准" in text, (
        text
    )
    assert page.locator(".lot-card button[data-set-up-opening]").count() == 0
    screenshots(page, shots, "admin-opening-card", showing=".lot-card .opening-block")


def test_a_centre_gets_its_people_and_its_administrator_sets_up_a_lots_opening(
    empty_server: RunningServer, browser: Any, artifacts: Path
) -> None:
    server = empty_server
    made = places_of_two_centres(server)
    shots = artifacts / "admin-opening"
    shots.mkdir(exist_ok=True)
    link = server.run_cli("admin", "create", "省管理员").strip().splitlines()[-1]
    province = WatchedPage(browser, link, timezone="America/New_York")
    try:
        province.wait_state("ready")
        assert province.page.locator("#scope").inner_text() == "省级管理员"
        admin_url = the_province_gives_the_centre_its_people(
            province.page, server, made["centre"], shots
        )
        assert province.violations() == [], province.violations()
    finally:
        province.close()

    centre = WatchedPage(browser, admin_url, timezone="America/New_York")
    try:
        page = centre.page
        centre.wait_state("ready")
        the_centre_sees_its_own(page, made, shots)
        session_id = the_centre_sets_up_an_opening(page, made, shots)
        the_centre_adds_bidders_and_people(page, server, made, session_id, shots)
        assert centre.violations() == [], centre.violations()
        assert page.evaluate("document.body.dataset.state") == "ready"
    finally:
        centre.close()
