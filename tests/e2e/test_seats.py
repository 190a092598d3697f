"""Expert seats in real Chromium against the real server: they go live and their media arrives."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.network.chromium import KEEP_PEERS

pytestmark = pytest.mark.e2e

# What a seat page sends; all but the preview (a small copy of the camera) are recorded.
RECORDED_KINDS = ("camera", "microphone", "desktop")
KINDS = (*RECORDED_KINDS, "preview")
CJK = re.compile(r"[\u4e00-\u9fff]")
METRIC_LINE = re.compile(
    r"^roomserver_inbound_frames_total\{(?P<labels>[^}]*)\}\s+(?P<value>[0-9.eE+-]+)$"
)
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

GRID_TIME = "document.querySelector('video[data-role=grid]').currentTime"
# The size of each video the page sends, from its newest peer connection's statistics.
SENT_SIZES = """async () => {
  const pc = window.__peers[window.__peers.length - 1];
  const sizes = [];
  (await pc.getStats()).forEach((s) => {
    if (s.type === "outbound-rtp" && s.kind === "video" && s.frameWidth) {
      sizes.push([s.frameWidth, s.frameHeight]);
    }
  });
  return sizes.sort((a, b) => a[0] - b[0]);
}"""


def is_expert_seat(participant: dict[str, Any]) -> bool:
    """A demo participant whose link opens the expert seat page."""
    return "/seat?" in str(participant.get("url", ""))


def choose_seats(participants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Two 沈阳 experts and one 大连 expert from the demo list."""
    seats = [p for p in participants if is_expert_seat(p)]
    shenyang = [p for p in seats if "沈阳" in str(p.get("venue", ""))]
    dalian = [p for p in seats if "大连" in str(p.get("venue", ""))]
    assert len(shenyang) >= 2 and len(dalian) >= 1, f"demo seats do not fit the test: {seats}"
    return [shenyang[0], shenyang[1], dalian[0]]


def inbound_frames(metrics_text: str) -> dict[tuple[str, str], float]:
    """(seat, kind) -> inbound frame count, from the Prometheus text."""
    found: dict[tuple[str, str], float] = {}
    for line in metrics_text.splitlines():
        match = METRIC_LINE.match(line.strip())
        if not match:
            continue
        labels = dict(LABEL.findall(match["labels"]))
        key = (labels.get("seat", ""), labels.get("kind", ""))
        found[key] = found.get(key, 0.0) + float(match["value"])
    return found


def test_three_seats_in_two_venues_go_live(server: Any, open_seat: Any, artifacts: Path) -> None:
    """Three kiosk seats (two in 沈阳, one in 大连) go live; the server receives all their media:
    camera, microphone, desktop, and the camera's preview at 320x240."""
    seats = [open_seat(p["url"], KEEP_PEERS) for p in choose_seats(server.participants)]
    for seat in seats:
        seat.wait_live()

    for seat in seats:
        start = seat.page.evaluate(GRID_TIME)
        seat.page.wait_for_function(f"() => {GRID_TIME} > {start} + 0.5", timeout=10000)
        assert seat.page.evaluate("document.querySelector('video[data-role=grid]').videoWidth") > 0

    keys = [seat.self_key() for seat in seats]
    assert len(set(keys)) == 3, f"seats must be distinct: {keys}"
    wanted = {(key, kind) for key in keys for kind in KINDS}
    deadline = time.monotonic() + 15
    missing: set[tuple[str, str]] = wanted
    while time.monotonic() < deadline:
        status, body = server.get("/metrics")
        assert status == 200, body[:500]
        frames = inbound_frames(body)
        missing = {k for k in wanted if frames.get(k, 0) <= 0}
        if not missing:
            break
        time.sleep(0.5)  # polling interval of a deadline-bounded wait
    assert not missing, f"no inbound frames for {sorted(missing)}; server log:\n{server.log_tail()}"
    # The preview, the camera and the desktop (the fake screen is 1280 or more wide).
    for seat in seats:
        seat.page.wait_for_function(f"() => ({SENT_SIZES})().then((s) => s.length === 3)")
        preview, camera, _ = seat.page.evaluate(SENT_SIZES)
        assert (preview, camera) == ([320, 240], [640, 480])

    # Every seat sees the other two online in the roster.
    seats[0].page.wait_for_function(
        "() => document.querySelectorAll('#roster-list .dot[data-online]').length >= 3",
        timeout=10000,
    )
    seats[0].page.screenshot(path=str(artifacts / "seat.png"))
    for seat in seats:
        assert seat.state() == "live"
        assert seat.errors == [], f"console errors: {seat.errors}"


def test_device_check_then_enter(server: Any, open_seat: Any, artifacts: Path) -> None:
    """Without auto=1 the expert sees the device check first and enters with a click."""
    url = choose_seats(server.participants)[0]["url"].replace("&auto=1", "").replace("auto=1&", "")
    seat = open_seat(url)
    page = seat.page
    page.wait_for_selector("#check:not([hidden])")
    page.wait_for_function(
        "() => document.querySelector('video[data-role=preview]').videoWidth > 0", timeout=10000
    )
    enter = page.get_by_role("button", name="进入评标室")
    page.wait_for_function("() => !document.querySelector('#enter-btn').disabled", timeout=10000)
    page.screenshot(path=str(artifacts / "seat-device-check.png"))
    assert seat.state() == "connecting"
    enter.click()
    seat.started = time.monotonic()
    seat.wait_live()
    assert page.locator("#check").is_hidden()
    assert seat.errors == [], f"console errors: {seat.errors}"


def test_bad_token_shows_chinese_error(server: Any, open_seat: Any, artifacts: Path) -> None:
    """A code the server never issued ends the page with a visible Chinese reason, no retries."""
    seat = open_seat(f"{server.base_url}/seat?code=not-a-valid-code&auto=1")
    page = seat.page
    page.wait_for_function("() => document.body.dataset.state === 'ended'", timeout=10000)
    assert page.evaluate("document.body.dataset.error") == "invalid_token"
    banner = page.locator("#banner")
    assert banner.is_visible()
    text = page.locator("#banner-text").inner_text()
    assert CJK.search(text), f"banner is not Chinese: {text!r}"
    page.screenshot(path=str(artifacts / "seat-bad-token.png"))


def test_second_window_replaces_the_seat(server: Any, open_seat: Any) -> None:
    """Opening the same seat elsewhere takes it over; the first window ends and says why."""
    url = choose_seats(server.participants)[0]["url"]
    first = open_seat(url)
    first.wait_live()
    second = open_seat(url)
    second.wait_live()
    first.page.wait_for_function("() => document.body.dataset.state === 'ended'", timeout=10000)
    assert first.page.evaluate("document.body.dataset.error") == "seat_replaced"
    assert CJK.search(first.page.locator("#banner-text").inner_text())
    assert second.state() == "live"
    assert second.errors == [], f"console errors: {second.errors}"


def test_seat_comes_back_after_server_restart(server: Any, open_seat: Any, artifacts: Path) -> None:
    """A server restart shows 重新连接, and the seat goes live again by itself, same seat."""
    seat = open_seat(choose_seats(server.participants)[0]["url"])
    seat.wait_live()
    key = seat.self_key()
    server.stop()
    seat.page.wait_for_function(
        "() => document.body.dataset.state === 'reconnecting'", timeout=10000
    )
    assert CJK.search(seat.page.locator("#banner-text").inner_text())
    seat.page.screenshot(path=str(artifacts / "seat-reconnecting.png"))
    server.start()
    seat.started = time.monotonic()
    seat.wait_live(deadline_s=30)
    assert seat.self_key() == key
    start = seat.page.evaluate(GRID_TIME)
    seat.page.wait_for_function(f"() => {GRID_TIME} > {start} + 0.5", timeout=10000)


def _post(server: Any, path: str, token: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        server.base_url + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def _ended_with(page: Any, code: str) -> str:
    page.wait_for_function("() => document.body.dataset.state === 'ended'", timeout=10000)
    assert page.evaluate("document.body.dataset.error") == code
    text = str(page.locator("#banner-text").inner_text())
    assert CJK.search(text), f"banner is not Chinese: {text!r}"
    return text


def test_a_link_leaves_the_address_bar_and_its_revocation_ends_the_open_seat(
    server: Any, open_seat: Any, artifacts: Path
) -> None:
    """The code is exchanged and gone from the address bar; the host revokes the link and the
    open seat ends at once, saying so; the link does not open the seat again."""
    expert = choose_seats(server.participants)[0]
    host = next(p for p in server.participants if p["role"] == "host")
    seat = open_seat(expert["url"])
    seat.wait_live()
    assert "code=" not in seat.page.url and seat.page.url.endswith("/seat?auto=1")
    path = f"/api/sessions/{expert['session_id']}/links/{expert['participant_id']}/revoke"
    _post(server, path, host["token"], {"reason": "专家更换设备"})
    assert "收回" in _ended_with(seat.page, "link_revoked")
    for width, height in ((1920, 1080), (1366, 768)):
        seat.page.set_viewport_size({"width": width, "height": height})
        seat.page.screenshot(path=str(artifacts / f"seat-link-revoked-{width}.png"))
    again = open_seat(expert["url"])
    _ended_with(again.page, "link_revoked")


def test_a_seat_opened_for_one_expert_does_not_act_with_anothers_cookie(
    server: Any, open_seat: Any, artifacts: Path
) -> None:
    """Two links opened in one browser: the first tab, reloaded, refuses the second one's
    cookie instead of taking that expert's seat."""
    first, second = choose_seats(server.participants)[1:3]
    seat = open_seat(first["url"])
    seat.wait_live()
    other = seat.context.new_page()
    other.goto(second["url"])
    other.wait_for_function("() => document.body.dataset.state === 'live'", timeout=20000)
    seat.page.reload()
    text = _ended_with(seat.page, "other_identity")
    assert "其他链接" in text
    for width, height in ((1920, 1080), (1366, 768)):
        seat.page.set_viewport_size({"width": width, "height": height})
        seat.page.screenshot(path=str(artifacts / f"seat-other-identity-{width}.png"))
    assert other.evaluate("document.body.dataset.state") == "live"
