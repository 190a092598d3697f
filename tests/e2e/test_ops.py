"""The ops page (运维监控) in real Chromium, opened with an ops engineer's personal link.

An ops engineer of the demo's trading centre (``roomserver token --ops NAME --centre ID``)
watches the live demo session while a seat is connected in Chromium: the seat is online and its
camera, microphone and desktop arrive; the media workers are listed without the province's
drain button. The engineer opens a platform fault and records its handling; the host's console
shows both, and when the host has closed the fault, the engineer's late handling is refused in
the server's own words. The browser runs in New York's time zone: the page shows Beijing time.
The province's ops engineer drains an idle worker; a session's own ops engineer, of a sub venue,
sees that session at once and records faults of that venue.
"""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import pytest

from signaling.http.headers import CONTENT_SECURITY_POLICY
from tests.e2e.conftest import RunningServer

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000
BEIJING = ZoneInfo("Asia/Shanghai")
SIZES = {"1920": (1920, 1080), "1366": (1366, 768)}
FAULT = "10:05 沈阳主场 1号机位画面卡顿，网络丢包"
HANDLING = "已重启机位所接交换机端口，机位重新连接，画面恢复"
LATE_HANDLING = "复查机房网络设备"
RESULT = "网络已恢复，评审继续"
WATCH_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.reportViolation(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
});
"""


def api_get(server: RunningServer, path: str, token: str) -> Any:
    request = urllib.request.Request(
        server.base_url + path, headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def api_post(server: RunningServer, path: str, token: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        server.base_url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def person(server: RunningServer, role: str) -> dict[str, Any]:
    return next(p for p in server.participants if p["role"] == role)


def new_page(browser: Any, errors: list[str], *, timezone: str = "Asia/Shanghai") -> Any:
    """A page in its own context; page errors and Content-Security-Policy violations go to
    `errors`."""
    context = browser.new_context(
        viewport={"width": 1920, "height": 1080}, locale="zh-CN", timezone_id=timezone
    )
    context.expose_function("reportViolation", lambda text: errors.append(text))
    context.add_init_script(WATCH_VIOLATIONS)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page


def wait_state(page: Any, state: str) -> None:
    page.wait_for_function(f"() => document.body.dataset.state === '{state}'", timeout=TIMEOUT_MS)


def test_an_ops_engineer_sees_a_live_seat_and_records_a_platform_fault(
    server: RunningServer, open_seat: Any, browser: Any, artifacts: Path
) -> None:
    expert, host = person(server, "expert"), person(server, "host")
    session_id = expert["session_id"]
    seat_key = f"{expert['venue_id']}:{expert['seat']}"
    admin = server.run_cli("token", "--admin").strip()
    centre_id = api_get(server, f"/api/venues/{expert['venue_id']}", admin)["centre_id"]
    ops_url = server.run_cli("token", "--ops", "李运维", "--centre", centre_id).strip()
    assert urlparse(ops_url).path == "/ops"
    seat = open_seat(expert["url"])
    seat.wait_live()

    errors: list[str] = []
    ops = new_page(browser, errors, timezone="America/New_York")
    console = None
    try:
        # The page's timers run on a clock the test can stop (to hold the page still while
        # the host acts elsewhere); until then it runs as the real one.
        ops.clock.install()
        response = ops.goto(ops_url)
        assert response is not None
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        wait_state(ops, "ready")
        assert "code=" not in ops.url
        assert "运维技术人员 · 李运维" in ops.locator("#who").inner_text()

        # The live session is listed and shown, its start in Beijing time.
        item = f"#sessions button.session[data-session='{session_id}']"
        ops.wait_for_selector(f"{item}[data-live='1']", timeout=TIMEOUT_MS)
        ops.click(item)
        ops.wait_for_function(
            f"() => document.body.dataset.session === '{session_id}'", timeout=TIMEOUT_MS
        )
        me = api_get(server, "/api/me", host["token"])
        start = datetime.fromisoformat(me["session"]["scheduled_start"]).astimezone(BEIJING)
        meta = ops.locator("#detail-meta").inner_text()
        assert f"计划开始 {start:%Y年%m月%d日 %H:%M}" in meta, meta

        # The seat in Chromium is online and its camera, microphone and desktop arrive.
        tile = f"#seats .seat[data-seat='{seat_key}']"
        ops.wait_for_selector(f"{tile}[data-online='1'][data-tone='ok']", timeout=TIMEOUT_MS)
        for kind in ("camera", "microphone", "desktop"):
            assert ops.locator(f"{tile} .track.on[data-kind='{kind}']").count() == 1, kind
        assert "音视频正常" in ops.locator(tile).inner_text()
        assert ops.locator("#seats .seat[data-online='0']").count() == 5
        assert ops.locator("#fig-seats").inner_text() == "1/6"

        # The media workers, the room's with its project; a centre's engineer drains none.
        worker = api_get(server, f"/api/sessions/{session_id}/health", admin)["worker"]["index"]
        row = ops.locator(f"#workers tr[data-worker='{worker}']")
        row.wait_for(timeout=TIMEOUT_MS)
        assert me["session"]["project_name"] in row.inner_text()
        assert "1 个机位" in row.inner_text()
        assert ops.locator("#workers button[data-drain]").count() == 0
        assert ops.locator("#drain-note").is_visible()

        # A platform fault: the form says what is missing, then the server records it.
        form = "#fault-form"
        ops.select_option(f"{form} select[name=venue]", expert["venue_id"])
        ops.click(f"{form} button[type=submit]")
        assert ops.locator(f"{form} .form-message").inner_text() == "请填写故障现象"
        ops.fill(f"{form} textarea[name=description]", FAULT)
        ops.click(f"{form} button[type=submit]")
        incident = "#incidents li[data-incident='1']"
        ops.wait_for_selector(incident, timeout=TIMEOUT_MS)
        text = ops.locator(incident).inner_text()
        assert FAULT in text and "平台故障" in text and "处理中" in text, text
        assert "已登记为第 1 项异常情况" in ops.locator(f"{form} .form-message").inner_text()
        ops.fill(f"{incident} input[name=handling]", HANDLING)
        ops.click(f"{incident} button[type=submit]")
        ops.wait_for_selector(f"{incident} ol.handling li", timeout=TIMEOUT_MS)
        assert ops.locator(f"{incident} ol.handling li").inner_text() == HANDLING
        assert ops.locator("#fig-incidents").inner_text() == "1"
        ops.wait_for_selector(f"{item}[data-tone='bad']", timeout=TIMEOUT_MS)
        shots = artifacts / "ops"
        shots.mkdir(exist_ok=True)
        for label, (width, height) in SIZES.items():
            ops.set_viewport_size({"width": width, "height": height})
            ops.evaluate("window.scrollTo(0, 0)")
            ops.screenshot(path=str(shots / f"ops-{label}.png"))
            ops.screenshot(path=str(shots / f"ops-{label}-full.png"), full_page=True)
        ops.set_viewport_size({"width": 1920, "height": 1080})

        # The host's console shows the fault and its handling.
        console = new_page(browser, errors)
        console.goto(host["url"])
        wait_state(console, "live")
        at_console = console.locator("#incidents li.open").filter(has_text=FAULT)
        at_console.wait_for(timeout=TIMEOUT_MS)
        assert f"处理：{HANDLING}" in at_console.inner_text()

        # The ops page holds still (no refresh under way or to come) while the host closes
        # the fault at the console: the engineer's late handling is refused in the server's
        # words, and once the page refreshes the fault shows closed with the host's result.
        ops.clock.pause_at(datetime.now() + timedelta(seconds=1))
        ops.wait_for_function("() => !document.body.dataset.refreshing", timeout=TIMEOUT_MS)
        ops.fill(f"{incident} input[name=handling]", LATE_HANDLING)
        at_console.locator("input").fill(RESULT)
        at_console.get_by_role("button", name="处理完毕").click()
        console.locator("#incidents li.closed").filter(has_text=f"结果：{RESULT}").wait_for(
            timeout=TIMEOUT_MS
        )
        ops.click(f"{incident} button[type=submit]")
        refusal = ops.locator(f"{incident} .form-message")
        refusal.wait_for(state="visible", timeout=TIMEOUT_MS)
        assert refusal.inner_text() == "该异常情况已处理完毕"
        ops.screenshot(path=str(shots / "ops-refused-1920.png"))
        ops.clock.resume()
        ops.wait_for_selector(f"{incident}.closed", timeout=TIMEOUT_MS)
        assert f"处理结果：{RESULT}" in ops.locator(incident).inner_text()
        assert ops.locator(f"{incident} form").count() == 0

        workflow = api_get(server, f"/api/sessions/{session_id}/workflow", host["token"])
        assert [(i["description"], i["handling"], i["result"]) for i in workflow["incidents"]] == [
            (FAULT, [HANDLING], RESULT)
        ]
        assert not errors, errors
    finally:
        ops.context.close()
        if console is not None:
            console.context.close()


def test_the_province_s_ops_engineer_drains_a_worker(
    server: RunningServer, browser: Any, artifacts: Path
) -> None:
    ops_url = server.run_cli("token", "--ops", "省运维").strip()
    errors: list[str] = []
    ops = new_page(browser, errors)
    try:
        ops.goto(ops_url)
        wait_state(ops, "ready")
        workers = ops.locator("#workers tr[data-worker]")
        workers.first.wait_for(timeout=TIMEOUT_MS)
        count = workers.count()
        assert ops.locator("#workers button[data-drain]").count() == count
        assert not ops.locator("#drain-note").is_visible()
        # The demo's evaluation room is not open; its bid opening's hall is, on one worker:
        # draining worker 0 moves what it holds, and the page says how many.
        ops.click("#workers tr[data-worker='0'] button[data-drain]")
        asked = re.search(r"(\d+) 个评标室", ops.locator("#drain-text").inner_text())
        assert asked is not None
        held = int(asked.group(1))
        assert held in (0, 1)
        shots = artifacts / "ops"
        shots.mkdir(exist_ok=True)
        ops.screenshot(path=str(shots / "ops-drain-1920.png"))
        ops.click("#drain-confirm")
        ops.wait_for_selector("#workers tr[data-worker='0'][data-tone='warn']", timeout=TIMEOUT_MS)
        assert f"已迁出 {held} 个评标室" in ops.locator("#banner").inner_text()
        assert ops.locator("#workers tr[data-worker='0'] button[data-drain]").count() == 0
        assert ops.locator("#workers button[data-drain]").count() == count - 1
        ops.screenshot(path=str(shots / "ops-drained-1920.png"))
        assert not errors, errors
    finally:
        ops.context.close()


def test_a_session_s_ops_engineer_sees_that_session_at_once(
    server: RunningServer, browser: Any
) -> None:
    admin = server.run_cli("token", "--admin").strip()
    sub = next(
        p for p in server.participants if p["role"] == "staff" and p["venue"] != "沈阳第一评标室"
    )
    session_id = sub["session_id"]
    added = api_post(
        server,
        f"/api/sessions/{session_id}/people",
        admin,
        {"role": "ops", "name": "王运维", "venue_id": sub["venue_id"]},
    )
    link = api_post(server, "/api/tokens", admin, {"participant_id": added["id"]})
    assert urlparse(link["url"]).path == "/ops"
    errors: list[str] = []
    ops = new_page(browser, errors)
    try:
        ops.goto(link["url"])
        wait_state(ops, "ready")
        assert ops.evaluate("document.body.dataset.session") == session_id
        assert not ops.locator("#sessions-card").is_visible()
        assert ops.locator("#seats .seat").count() == 6
        # Faults of the engineer's own venue only.
        venues = ops.locator("#fault-venue option")
        assert venues.count() == 1
        assert venues.first.get_attribute("value") == sub["venue_id"]
        assert venues.first.inner_text() == f"副场 {sub['venue']}"
        ops.fill("#fault-form textarea[name=description]", "2号机位显示器无信号")
        ops.click("#fault-form button[type=submit]")
        ops.wait_for_selector("#incidents li[data-incident='1']", timeout=TIMEOUT_MS)
        assert (
            f"副场 {sub['venue']}" in ops.locator("#incidents li[data-incident='1']").inner_text()
        )
        assert not errors, errors
    finally:
        ops.context.close()
