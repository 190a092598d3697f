"""A lot's sessions in the administration console (/admin), in real Chromium set to New York's
time zone: the venues offered as main and sub venues are those that may be one; a forced end
and a re-review say on the session's card why (and the forced end when, by whom, in which
phase, in Beijing time); the tenderers' and bidders' archive links of the session are listed in
人员与链接, issued, re-issued (the old address stops working) and revoked with a reason.
Screenshots at 1920x1080 and 1366x768 go to test-artifacts/admin-sessions/."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.admin_support import (
    CENTRE,
    CITY,
    VENUE,
    Rest,
    a_lot_with_one_expert_checked_in,
    form_message,
)
from tests.e2e.conftest import RunningServer
from tests.e2e.test_admin import screenshots
from tests.e2e.test_pages import BEIJING, TIMEOUT_MS, WatchedPage, code_of

pytestmark = pytest.mark.e2e

PROJECT_CODE, PROJECT_NAME = "LN-2026-0410", "某医院门诊楼工程"
SUB_ONLY, MAIN_ONLY = "第二评标室", "第三评标室"
FORCED = "评标室网络中断，评标改期"
REVIEW = "投标人对评标结果提出异议"
BIDDER, TENDERER = "某建设集团有限公司", "某市教育局"


def option_texts(page: Any, select: str) -> list[str]:
    """The labels a select offers, its placeholder ("" value) left out."""
    return list(
        page.eval_on_selector_all(
            f"{select} option", "os => os.filter(o => o.value).map(o => o.textContent)"
        )
    )


def login_status(server: RunningServer, url: str) -> tuple[int, str]:
    """What the server says to a link's code: 200 and "", or the refusal's status and code."""
    request = urllib.request.Request(
        f"{server.base_url}/api/login",
        data=json.dumps({"code": code_of(url)}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, ""
    except urllib.error.HTTPError as refused:
        return refused.code, str(json.loads(refused.read())["code"])


def cells(row: Any) -> list[str]:
    """The texts of a table row's cells."""
    return list(row.locator("td").all_inner_texts())


def test_the_console_offers_capable_venues_and_says_why_sessions_ended_or_were_re_reviewed(
    empty_server: RunningServer, browser: Any, open_seat: Any, artifacts: Path
) -> None:
    server = empty_server
    made = a_lot_with_one_expert_checked_in(server, open_seat, PROJECT_CODE, PROJECT_NAME)
    api: Rest = made["api"]
    project_id, session_id = made["project"]["id"], made["session_id"]
    centre_id = made["project"]["centre_id"]
    # A room that may only be a sub venue, one that may only be a main venue, and a lot with
    # no session yet.
    for name, main, sub in ((SUB_ONLY, False, True), (MAIN_ONLY, True, False)):
        api.call(
            "/api/venues",
            {
                "centre_id": centre_id,
                "name": name,
                "city": CITY,
                "seat_count": 8,
                "main_capable": main,
                "sub_capable": sub,
            },
        )
    api.call(f"/api/projects/{project_id}/lots", {"code": "02", "name": "监理"})
    shots = artifacts / "admin-sessions"
    shots.mkdir(exist_ok=True)
    link = server.run_cli("admin", "create", "测试管理员").strip().splitlines()[-1]
    admin = WatchedPage(browser, link, timezone="America/New_York")
    try:
        page = admin.page
        admin.wait_state("ready")
        page.click(".menu a[data-section=projects]")
        page.locator(f"#project-rows tr[data-project='{project_id}'] button").click()
        page.wait_for_selector(".lot-card[data-lot] .session-form", timeout=TIMEOUT_MS)

        # Lot 02's session: only rooms that may be a main venue are offered as its main venue,
        # only those that may be a sub venue as its sub venues.
        form = ".lot-card:nth-child(2) .session-form"
        main_options = option_texts(page, f"{form} [name=main_venue_id]")
        assert [o.split(" · ")[0] for o in main_options] == [VENUE, MAIN_ONLY], main_options
        chosen = page.eval_on_selector(
            f"{form} [name=main_venue_id]", "s => s.selectedOptions[0].text"
        )
        assert chosen.startswith(VENUE), chosen
        sub_options = option_texts(page, f"{form} [name=add_sub]")
        assert sub_options == [f"{SUB_ONLY}（{CITY}，{CENTRE}）"], sub_options
        page.select_option(f"{form} [name=main_venue_id]", label=main_options[1])
        sub_options = option_texts(page, f"{form} [name=add_sub]")
        assert [o.split("（")[0] for o in sub_options] == [VENUE, SUB_ONLY], sub_options
        screenshots(page, shots, "admin-session-venues", showing=form)

        # The sub venue draw of lot 02 starts from a main venue, likewise.
        page.locator(".lot-card:nth-child(2) .lot-head button:has-text('抽取副场')").click()
        page.wait_for_selector("#draws-body:not([hidden])", timeout=TIMEOUT_MS)
        draw_main = option_texts(page, "#subvenue-main")
        assert [o.split(" · ")[0] for o in draw_main] == [VENUE, MAIN_ONLY], draw_main
        page.locator("[data-lot-bar=draws] button[data-open-project]").click()
        page.wait_for_selector("#project-view:not([hidden])", timeout=TIMEOUT_MS)

        # The forced end: its reason, time (Beijing), who and the phase show on the card.
        card = page.locator(f".session-block[data-session='{session_id}']")
        card.locator("button[data-end]").click()
        page.fill("#end-form [name=reason]", FORCED)
        page.click("#end-form button[type=submit]")
        page.wait_for_function("() => !document.querySelector('#end-dialog').open")
        note = card.locator(".session-note.forced-end")
        note.wait_for(timeout=TIMEOUT_MS)
        forced = api.call(f"/api/projects/{project_id}")["lots"][0]["session"]["forced_end"]
        at = datetime.fromisoformat(forced["at"]).astimezone(BEIJING)
        text = note.inner_text()
        assert "强制结束" in text and FORCED in text, text
        assert f"{at:%Y年%m月%d日 %H:%M}" in text, (text, at)
        assert "管理员 测试管理员" in text and "结束时处于“签到”阶段" in text, text
        screenshots(
            page, shots, "admin-forced-end", showing=f".session-block[data-session='{session_id}']"
        )

        # A re-review held together offers only the rooms that may be its main venue; its
        # reason shows on its card.
        card.locator("button[data-review]").click()
        page.check("#review-form [name=where][value=together]")
        together = option_texts(page, "#review-venue")
        assert [o.split("（")[0] for o in together] == [VENUE, MAIN_ONLY], together
        admin.screenshots(shots, "admin-review-together")
        page.check("#review-form [name=where][value=remote]")
        page.fill("#review-form [name=reason]", REVIEW)
        page.click("#review-form button[type=submit]")
        review = page.locator(".lot-card .session-block.review")
        review.wait_for(timeout=TIMEOUT_MS)
        reason = review.locator(".session-note.review-reason")
        assert (reason.locator("dt").inner_text(), reason.locator("dd").inner_text()) == (
            "复议原因",
            REVIEW,
        )
        assert review.locator(".session-note.forced-end").count() == 0
        screenshots(page, shots, "admin-review-reason", showing=".lot-card .session-block.review")

        # A bidder's link from the card; then the session's party links in 人员与链接.
        card.locator("button[data-party]").click()
        page.fill("#party-form [name=name]", BIDDER)
        page.click("#party-form button[type=submit]")
        page.wait_for_selector("#party-issued:not([hidden])", timeout=TIMEOUT_MS)
        first_url = page.locator("#party-url").input_value()
        page.click("#party-issued [data-close]")
        page.locator(".lot-card").first.locator(".lot-head button:has-text('人员与链接')").click()
        rows = page.locator("#party-rows tr")
        rows.first.wait_for(timeout=TIMEOUT_MS)
        assert rows.count() == 1
        bidder_cells = cells(rows.first)
        assert bidder_cells[:2] == ["投标人", BIDDER] and bidder_cells[2].startswith("有效 至 ")

        # The tenderer's link from the list's own button (the tenderer's name offered).
        page.click("#party-issue")
        page.select_option("#party-form [name=role]", "tenderer")
        assert page.locator("#party-form [name=name]").input_value() == TENDERER
        page.click("#party-form button[type=submit]")
        page.wait_for_selector("#party-issued:not([hidden])", timeout=TIMEOUT_MS)
        page.click("#party-issued [data-close]")
        page.wait_for_function(
            "() => document.querySelectorAll('#party-rows tr').length === 2", timeout=TIMEOUT_MS
        )
        tenderer_cells = cells(page.locator("#party-rows tr[data-role=tenderer]"))
        assert tenderer_cells[:2] == ["招标人", TENDERER] and tenderer_cells[2].startswith("有效")
        screenshots(page, shots, "admin-party-links", showing="#party-card")

        # Re-issued: the new address shows once; the old one stops working.
        bidder = page.locator("#party-rows tr[data-role=bidder]")
        bidder.locator("button[data-reissue-party]").click()
        assert "调阅期限不变" in page.locator("#link-dialog-text").inner_text()
        page.click("#link-form button[type=submit]")
        page.wait_for_selector("#issued-link:not([hidden])", timeout=TIMEOUT_MS)
        assert page.locator("#issued-who").inner_text() == f"投标人 {BIDDER} 的调阅链接"
        assert "北京时间" in page.locator("#issued-note").inner_text()
        new_url = page.locator("#issued-url").input_value()
        assert new_url != first_url and "/archive?code=" in new_url, new_url
        screenshots(page, shots, "admin-party-reissued", showing="#issued-link")
        assert login_status(server, first_url) == (401, "link_revoked")
        assert login_status(server, new_url) == (200, "")

        # Revoked with a reason: the list says so, and the address shown goes.
        bidder.locator("button[data-revoke-party]").click()
        page.click("#link-form button[type=submit]")
        assert form_message(page, "#link-form", "error") == "请填写收回原因"
        page.fill("#link-form [name=reason]", "投标人已撤回异议")
        page.click("#link-form button[type=submit]")
        page.wait_for_selector(
            "#party-rows tr[data-role=bidder] .link-state.revoked", timeout=TIMEOUT_MS
        )
        assert "投标人已撤回异议" in bidder.inner_text()
        assert page.locator("#issued-link").is_hidden()
        assert bidder.locator("button[data-revoke-party]").count() == 0
        assert login_status(server, new_url) == (401, "link_revoked")
        screenshots(page, shots, "admin-party-revoked", showing="#party-card")

        assert admin.violations() == [], admin.violations()
        assert page.evaluate("document.body.dataset.state") == "ready"
    finally:
        admin.close()
