"""The venue console's redraw (补抽替换) in real Chromium: before check-in an expert the draw
seated asks for leave; the staff of the venue redraws from the pool on the same conditions at
the seat's row (请假替换), the console hands over the replacement's seat link, and the roster
shows the replacement in the seat (替补, with whom they replaced). The redraw is on the record
and checks out, the expert on leave's link is refused, and the replacement enters the seat with
the link handed over, which the console then shows online. The session is set up through REST
as the provincial platform would. Screenshots at 1920x1080 and 1366x768 go to
test-artifacts/console-redraw/."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.admin_support import Rest
from tests.e2e.conftest import RunningServer
from tests.e2e.test_pages import BEIJING, TIMEOUT_MS, code_of
from tests.e2e.test_workflow import open_page, shots_at_both_sizes, wait_phase

pytestmark = pytest.mark.e2e

CITY, VENUE = "沈阳", "沈阳第二评标室"
POOL = [
    {
        "external_id": f"E{i:03d}",
        "name": name,
        "specialties": ["建筑"],
        "city": CITY,
        "employer": f"单位{i}",
        "id_number": f"21010219800101{i:04d}",
    }
    for i, name in enumerate(("孙立新", "周明远", "吴海燕", "郑国栋", "王淑华", "冯建军"), 1)
]


def a_drawn_session(server: RunningServer) -> dict[str, Any]:
    """Through REST: a venue, a project's lot booked and its session opened for an hour from
    now, host and staff, and three experts drawn from the pool (committed, then revealed)."""
    api = Rest(server.base_url, server.run_cli("token", "--admin").strip().splitlines()[-1])
    centre = api.call(
        "/api/centres", {"name": "沈阳市公共资源交易中心", "city": CITY, "region_code": "210100"}
    )
    venue = api.call(
        "/api/venues", {"centre_id": centre["id"], "name": VENUE, "city": CITY, "seat_count": 6}
    )
    project = api.call(
        "/api/projects",
        {
            "centre_id": centre["id"],
            "code": "LN-2026-0520",
            "name": "某中学体育馆工程",
            "tenderer": "某区教育局",
            "lots": [{"code": "01", "name": "施工"}],
        },
    )
    lot = project["lots"][0]["id"]
    now = datetime.now(BEIJING).replace(second=0, microsecond=0)
    start = now + timedelta(minutes=60 - now.minute % 15)
    api.call(
        "/api/bookings",
        {
            "venue_id": venue["id"],
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=4)).isoformat(),
            "purpose": "LN-2026-0520 施工标段评标",
            "lot_id": lot,
        },
    )
    opened = api.call(
        f"/api/lots/{lot}/session",
        {"main_venue_id": venue["id"], "scheduled_start": start.isoformat()},
    )
    session_id = opened["session"]["id"]
    staff = api.call(
        f"/api/sessions/{session_id}/people",
        {"role": "staff", "name": "赵工作", "venue_id": venue["id"]},
    )
    api.call(
        f"/api/sessions/{session_id}/people",
        {"role": "host", "name": "李主持", "venue_id": venue["id"]},
    )
    api.call("/api/experts/pool", {"experts": POOL})
    draw = api.call(
        f"/api/lots/{lot}/draws/experts",
        {"needs": [{"count": 3, "venue_id": venue["id"], "specialty": "建筑"}]},
    )
    api.call(f"/api/draws/{draw['id']}/reveal", {})
    people = api.call(f"/api/sessions/{session_id}/people")["items"]
    experts = sorted((p for p in people if p["role"] == "expert"), key=lambda p: p["seat_no"])
    return {"api": api, "lot": lot, "session_id": session_id, "staff": staff, "experts": experts}


def login_code(server: RunningServer, url: str) -> str:
    """The code of the server's answer to a link's code: "" when it lets it in."""
    request = urllib.request.Request(
        f"{server.base_url}/api/login",
        data=json.dumps({"code": code_of(url)}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10):
            return ""
    except urllib.error.HTTPError as refused:
        return str(json.loads(refused.read())["code"])


def test_the_venue_staff_redraws_an_expert_on_leave_and_the_replacement_takes_the_seat(
    empty_server: RunningServer, browser: Any, open_seat: Any, artifacts: Path
) -> None:
    server = empty_server
    made = a_drawn_session(server)
    api: Rest = made["api"]
    session_id, leaving = made["session_id"], made["experts"][1]
    drawn = {p["name"] for p in made["experts"]}
    # The expert on leave had been sent a seat link, as drawn experts are.
    old_url = api.call("/api/tokens", {"participant_id": leaving["id"]})["url"]
    console_url = api.call("/api/tokens", {"participant_id": made["staff"]["id"]})["url"]
    shots = artifacts / "console-redraw"
    shots.mkdir(exist_ok=True)

    context, console, errors = open_page(browser, console_url)
    try:
        console.wait_for_function(
            "() => document.body.dataset.state === 'live'", timeout=TIMEOUT_MS
        )
        wait_phase(console, "scheduled")
        row = f"tr[data-expert='{leaving['id']}']"
        console.wait_for_selector(f"{row} [data-replace]", timeout=TIMEOUT_MS)
        # Before check-in, each expert not at their seat may be on leave: every row offers it.
        assert console.locator("[data-replace]").count() == len(drawn)
        assert console.inner_text(f"{row} [data-replace]") == "请假替换"

        # The redraw: the reason is filled in, the pool's draw repeated on the same conditions.
        console.click(f"{row} [data-replace]")
        console.wait_for_selector("#replace-dialog[open]")
        assert console.input_value("#replace-form textarea[name=reason]") == "请假"
        assert (
            console.inner_text("#replace-name") == f"沈阳主场 · 2号机位：{leaving['name']}（请假）"
        )
        assert console.is_visible("#replace-redraw") and console.is_hidden("#replace-named")
        console.fill("#replace-form textarea[name=reason]", "请假（家中有事）")
        shots_at_both_sizes(console, shots / "01-console-redraw-dialog.png")
        console.click("#replace-redraw")

        # The replacement's seat link is handed over.
        console.wait_for_selector("#link-dialog[open]", timeout=TIMEOUT_MS)
        assert console.inner_text("#link-title") == "补抽的替补专家及其机位链接"
        named = console.inner_text("#link-name")
        newcomer = named.split("（")[0]
        assert newcomer in {e["name"] for e in POOL} - drawn, named
        assert named.endswith("（沈阳主场 · 2号机位）"), named
        url = console.input_value("#link-url")
        assert url.startswith(f"{server.base_url}/seat?code="), url
        shots_at_both_sizes(console, shots / "02-console-replacement-link.png")
        console.click("#link-dialog button[value=ok]")

        # The roster: the replacement in the seat, with whom they replaced.
        replacement = console.locator("#venues tr", has_text=newcomer)
        replacement.wait_for(timeout=TIMEOUT_MS)
        newcomer_id = str(replacement.get_attribute("data-expert"))
        assert replacement.locator(".tag.replacement").inner_text() == "替补"
        assert f"替换 {leaving['name']}" in replacement.inner_text()
        assert replacement.locator("td").first.inner_text() == "2号"
        assert console.locator(row).count() == 0
        shots_at_both_sizes(console, shots / "03-console-replacement-seated.png")

        # On the record: the redraw checks out; the expert on leave's link is refused.
        people = api.call(f"/api/sessions/{session_id}/people")["items"]
        left = next(p for p in people if p["id"] == leaving["id"])
        assert left["replaced_by"] == newcomer_id and left["seat_no"] is None
        draws = api.call(f"/api/lots/{made['lot']}/draws")["items"]
        redraw = draws[-1]
        assert len(draws) == 2 and redraw["result"][0]["name"] == newcomer, redraw
        assert redraw["revealed"] and redraw["verified"] is True, redraw
        assert login_code(server, old_url) == "link_revoked"

        # The replacement enters the seat with the link handed over; the console sees them.
        seat = open_seat(url)
        seat.page.wait_for_selector("#enter-btn:enabled", timeout=TIMEOUT_MS)
        seat.page.click("#enter-btn")
        seat.wait_live(TIMEOUT_MS / 1000)
        assert newcomer in seat.page.inner_text("body")
        # Online, with the camera and microphone of the seat page reaching the server.
        console.wait_for_function(
            f"() => document.querySelector(\"tr[data-expert='{newcomer_id}']\")"
            "?.classList.contains('online') && document.querySelectorAll("
            f"\"tr[data-expert='{newcomer_id}'] .device.on\").length >= 2",
            timeout=TIMEOUT_MS,
        )
        shots_at_both_sizes(console, shots / "04-console-replacement-online.png")
        assert errors == [] and seat.errors == [], errors + seat.errors
    finally:
        context.close()
