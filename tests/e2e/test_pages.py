"""Every page in real Chromium under its Content-Security-Policy, and in Beijing time everywhere.

The pages are opened as their people open them (demo links; a seat sends its camera, so the
room records and the archive has something to play) and every Content-Security-Policy
violation is collected: the `securitypolicyviolation` events of each frame and Chromium's
console reports. What the pages do only later in a session (the report to sign in a blob: frame,
the identity picture from a blob: URL) is done on the page the way the page does it.

Another test runs the browser in New York's time zone: the header clocks and the times the
pages show must still be Beijing time. The last one has a seat drop off and come back: the
console's record names the warning that ended, and why, in Chinese.
"""

from __future__ import annotations

import base64
import io
import json
import re
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from signaling.http.headers import CONTENT_SECURITY_POLICY
from tests.e2e.conftest import RunningServer, free_port

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000
BEIJING = ZoneInfo("Asia/Shanghai")
SIZES = {"1920": (1920, 1080), "1366": (1366, 768)}
WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} ` +
    `(${e.sourceFile || location.href}:${e.lineNumber})`);
});
"""


@pytest.fixture
def recording_server(
    request: pytest.FixtureRequest, tmp_path: Path, artifacts: Path
) -> Iterator[RunningServer]:
    """The demo server with 2 s archive segments, so that a few seconds of a seat can be played."""
    log_path = artifacts / f"server-{request.node.name}.log"
    log_path.unlink(missing_ok=True)
    running = RunningServer(tmp_path / "data", free_port(), log_path)
    running.env["ROOMSERVER_SEGMENT_SECONDS"] = "2"
    running.seed_demo()
    try:
        running.start()
        yield running
    finally:
        running.stop()


class WatchedPage:
    """A page in its own context, with every CSP violation and console error it reported."""

    def __init__(self, browser: Any, url: str, *, timezone: str = "Asia/Shanghai") -> None:
        self.context = browser.new_context(
            viewport={"width": 1920, "height": 1080}, locale="zh-CN", timezone_id=timezone
        )
        self.context.add_init_script(WATCH_VIOLATIONS)
        self.page = self.context.new_page()
        self.console: list[str] = []
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda exc: self.console.append(f"pageerror: {exc}"))
        self.response = self.page.goto(url)

    def _on_console(self, message: Any) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            self.console.append(message.text)

    def wait_state(self, state: str) -> None:
        self.page.wait_for_function(
            f"() => document.body.dataset.state === '{state}'", timeout=TIMEOUT_MS
        )

    def violations(self) -> list[str]:
        """Violations seen by every frame's listener, then Chromium's own reports."""
        found: list[str] = []
        for frame in self.page.frames:
            try:
                found += frame.evaluate("window.__cspViolations || []")
            except Exception:  # a frame showing a PDF has no script to ask
                continue
        found += [m for m in self.console if "Content Security Policy" in m]
        return found

    def screenshots(self, folder: Path, name: str) -> None:
        for label, (width, height) in SIZES.items():
            self.page.set_viewport_size({"width": width, "height": height})
            self.page.screenshot(path=str(folder / f"{name}-{label}.png"))
        self.page.set_viewport_size({"width": 1920, "height": 1080})

    def close(self) -> None:
        self.context.close()


def person(server: RunningServer, role: str) -> dict[str, Any]:
    return next(p for p in server.participants if p["role"] == role)


def code_of(url: str) -> str:
    return str(parse_qs(urlparse(url).query)["code"][0])


def get_json(server: RunningServer, path: str, token: str) -> Any:
    request = urllib.request.Request(
        server.base_url + path, headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def wait_for_segments(server: RunningServer, session_id: str, token: str) -> None:
    """Until the archive lists a finished video segment of the session (2 s segments)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        catalog = get_json(server, f"/api/archive/sessions/{session_id}", token)
        if any(t["kind"] == "video" and t["segments"] for t in catalog["tracks"]):
            return
        time.sleep(0.5)  # polling interval of a deadline-bounded wait on the recorder
    pytest.fail("the archive listed no video segment within 30 s")


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (40, 110, 150)).save(out, format="PNG")
    return out.getvalue()


def pdf_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (400, 560), "white").save(out, format="PDF", resolution=72)
    return out.getvalue()


SHOW_BLOB = """([selector, b64, type]) => new Promise((resolve, reject) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const node = document.querySelector(selector);
  node.addEventListener("load", () => resolve(true), { once: true });
  const failed = () => reject(new Error(`${selector} did not load`));
  node.addEventListener("error", failed, { once: true });
  node.src = URL.createObjectURL(new Blob([bytes], { type }));
})"""


def check_headers(page: WatchedPage) -> None:
    assert page.response is not None and page.response.ok
    headers = page.response.headers
    assert headers.get("content-security-policy") == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers.get("x-frame-options") == "DENY"
    assert headers.get("referrer-policy") == "no-referrer"
    assert headers.get("x-content-type-options") == "nosniff"


def test_no_page_breaks_its_content_security_policy(
    recording_server: RunningServer, browser: Any, artifacts: Path
) -> None:
    server = recording_server
    expert, host = person(server, "expert"), person(server, "host")
    archivist, supervisor = person(server, "archivist"), person(server, "supervisor")
    session_id = expert["session_id"]
    shots = artifacts / "pages"
    shots.mkdir(exist_ok=True)
    pages: dict[str, WatchedPage] = {}
    try:
        pages["seat"] = WatchedPage(browser, expert["url"])
        pages["seat"].wait_state("live")
        pages["console"] = WatchedPage(browser, host["url"])
        pages["console"].wait_state("live")
        pages["wall"] = WatchedPage(browser, supervisor["url"])
        pages["wall"].wait_state("ready")
        pages["wall"].page.wait_for_function(
            "() => [...document.querySelectorAll('video')].some((v) => v.videoWidth > 0)",
            timeout=TIMEOUT_MS,
        )
        pages["overview"] = WatchedPage(
            browser, f"{server.base_url}/overview?code={code_of(host['url'])}"
        )
        pages["overview"].wait_state("ready")
        # The public broadcast of the demo's opening: live before anybody joined its hall.
        pages["live"] = WatchedPage(browser, person(server, "public")["url"])
        pages["live"].wait_state("live")
        pages["index"] = WatchedPage(browser, server.base_url + "/")
        # The API page, with one operation opened: who may call it and its body's fields.
        pages["api-docs"] = WatchedPage(browser, server.base_url + "/api/docs")
        pages["api-docs"].wait_state("ready")
        pages["api-docs"].page.click("details[data-operation='end_session_route'] summary")
        pages["api-docs"].page.wait_for_selector(
            "details[data-operation='end_session_route'] .body table"
        )
        # Another expert's seat page as a person opens it: the device check before entering.
        other = [p for p in server.participants if p["role"] == "expert"][1]
        check_url = other["url"].replace("&auto=1", "")
        pages["seat-check"] = WatchedPage(browser, check_url)
        pages["seat-check"].page.wait_for_function(
            "() => document.querySelector('video[data-role=preview]').videoWidth > 0",
            timeout=TIMEOUT_MS,
        )

        # The report to sign, as a blob: PDF in the seat page's frame; the identity picture,
        # as a blob: image on the console.
        seat = pages["seat"].page
        pdf = base64.b64encode(pdf_bytes()).decode()
        seat.evaluate(SHOW_BLOB, ["#report-frame", pdf, "application/pdf"])
        console = pages["console"].page
        png = base64.b64encode(png_bytes()).decode()
        console.evaluate(SHOW_BLOB, ["#identity-picture", png, "image/png"])

        # The archive: the session's recording so far, played through MediaSource.
        wait_for_segments(server, session_id, archivist["token"])
        pages["archive"] = WatchedPage(browser, archivist["url"])
        archive = pages["archive"].page
        archive.wait_for_selector(f"tr[data-session='{session_id}']", timeout=TIMEOUT_MS)
        archive.click(f"tr[data-session='{session_id}'] [data-open]")
        archive.wait_for_function(
            "() => document.body.dataset.view === 'session' "
            "&& document.body.dataset.state === 'ready'",
            timeout=TIMEOUT_MS,
        )
        # The room's sound plays through MediaSource, from a blob: URL.
        archive.select_option("#audio-select", "room-mix")
        archive.click("#play")
        archive.wait_for_function(
            "() => Number(document.body.dataset.time) > 0.5", timeout=TIMEOUT_MS
        )
        archive.wait_for_function(
            "() => document.querySelector('#audio').buffered.length > 0", timeout=TIMEOUT_MS
        )
        archive.click("#play")
        sources = archive.evaluate(
            "[...document.querySelectorAll('video, audio')].map((v) => v.src)"
        )
        assert any(s.startswith("blob:") for s in sources), (
            f"the player did not use MediaSource (blob: went untested): {sources}"
        )

        for name, page in pages.items():
            check_headers(page)
            # A personal link's code is exchanged for a cookie and leaves the address bar.
            assert "code=" not in page.page.url, f"{name}: {page.page.url}"
            assert page.violations() == [], f"{name}: {page.violations()}"
            page.screenshots(shots, name)
        assert pages["index"].page.evaluate("getComputedStyle(document.body).marginTop") != "8px", (
            "the landing page's stylesheet did not apply"
        )
        # The watch itself: an inline style attribute is refused and seen.
        index = pages["index"]
        index.page.evaluate("document.body.setAttribute('style', 'color: red')")
        index.page.wait_for_function("() => window.__cspViolations.length > 0")
        assert "style-src" in index.violations()[0], index.violations()
    finally:
        for page in pages.values():
            page.close()


def assert_beijing_time(text: str, where: str, within_s: int = 2) -> None:
    """The first HH:MM:SS in `text` is Beijing's time now, give or take `within_s` seconds."""
    found = re.search(r"(\d\d):(\d\d):(\d\d)", text)
    assert found is not None, f"{where}: no time in {text!r}"
    h, m, s = (int(x) for x in found.groups())
    now = datetime.now(BEIJING)
    apart = abs(h * 3600 + m * 60 + s - (now.hour * 3600 + now.minute * 60 + now.second))
    assert min(apart, 86400 - apart) <= within_s, f"{where}: {found[0]}, Beijing {now:%H:%M:%S}"


def assert_beijing_clock(page: Any, where: str) -> None:
    """The header clock reads Beijing's time and date (within two seconds of this machine's)."""
    now = datetime.now(BEIJING)
    assert_beijing_time(page.locator("#clock-time").inner_text(), where)
    date = page.locator("#clock-date").inner_text()
    days = {f"{d:%Y年%m月%d日}" for d in (now - timedelta(seconds=3), now)}
    assert date.split(" ")[0] in days, f"{where}: date {date}, Beijing {now:%Y-%m-%d}"
    local = page.evaluate("new Date().getHours()")
    assert local != now.hour, "the browser's own zone should differ from Beijing"


def test_clocks_and_times_are_beijing_time_in_a_browser_set_to_new_york(
    server: RunningServer, browser: Any, artifacts: Path
) -> None:
    expert, host = person(server, "expert"), person(server, "host")
    supervisor = person(server, "supervisor")
    zone = "America/New_York"
    shots = artifacts / "pages"
    shots.mkdir(exist_ok=True)
    pages: list[WatchedPage] = []
    try:
        seat = WatchedPage(browser, expert["url"], timezone=zone)
        pages.append(seat)
        console = WatchedPage(browser, host["url"], timezone=zone)
        pages.append(console)
        wall = WatchedPage(browser, supervisor["url"], timezone=zone)
        pages.append(wall)
        overview = WatchedPage(
            browser, f"{server.base_url}/overview?code={code_of(host['url'])}", timezone=zone
        )
        pages.append(overview)
        seat.wait_state("live")
        console.wait_state("live")
        wall.wait_state("ready")
        overview.wait_state("ready")
        assert_beijing_clock(seat.page, "seat")
        assert_beijing_clock(wall.page, "wall")

        me = get_json(server, "/api/me", host["token"])
        start = datetime.fromisoformat(me["session"]["scheduled_start"]).astimezone(BEIJING)
        for page in (console, overview):
            meta = page.page.locator("#project-meta").inner_text()
            assert f"计划开始 {start:%Y年%m月%d日 %H:%M}" in meta, meta
        # The console's record: the seat's arrival, at Beijing time.
        joined = console.page.locator("#activity tr.k-seat_joined").first
        joined.wait_for(timeout=TIMEOUT_MS)
        assert_beijing_time(joined.inner_text(), "console activity", within_s=30)

        seat.screenshots(shots, "seat-new-york")
        wall.screenshots(shots, "wall-new-york")
        console.screenshots(shots, "console-new-york")
        overview.screenshots(shots, "overview-new-york")
        for page in pages:
            assert page.violations() == [], page.violations()
    finally:
        for page in pages:
            page.close()


def test_the_console_names_a_warning_that_ended_in_chinese(
    server: RunningServer, browser: Any, artifacts: Path
) -> None:
    expert, host = person(server, "expert"), person(server, "host")
    pages: list[WatchedPage] = []
    try:
        console = WatchedPage(browser, host["url"])
        pages.append(console)
        seat = WatchedPage(browser, expert["url"])
        pages.append(seat)
        console.wait_state("live")
        seat.wait_state("live")
        # The seat drops off long enough for the disconnection warning, then comes back.
        seat.close()
        pages.remove(seat)
        console.page.wait_for_selector("#activity tr.k-warning_started", timeout=TIMEOUT_MS)
        seat = WatchedPage(browser, expert["url"])
        pages.append(seat)
        seat.wait_state("live")
        ended = console.page.locator("#activity tr.k-warning_ended").first
        ended.wait_for(timeout=TIMEOUT_MS)
        text = ended.inner_text()
        assert "情况已消除" in text and "机位断线" in text, text
        rows = console.page.locator("#activity").inner_text()
        # No reason is left in the server's English words.
        assert not re.search(r"cleared|transport close|client disconnect|ping timeout", rows), rows
        console.page.locator("#activity").scroll_into_view_if_needed()
        console.page.screenshot(path=str(artifacts / "pages" / "console-warning-ended.png"))
    finally:
        for page in pages:
            page.close()
