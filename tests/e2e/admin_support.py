"""What the administration console's browser tests set up through REST, as the provincial
platform would: a lot whose session runs with one expert checked in at a real seat page; and a
venue's details (what it may be, its cameras, its door system's token) through the console."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.e2e.conftest import RunningServer
from tests.e2e.test_pages import BEIJING, TIMEOUT_MS, WatchedPage

CENTRE, CITY, VENUE = "沈阳市公共资源交易中心", "沈阳", "第一评标室"
EXPERTS = ("周专家", "吴专家")
RENAMED = "第一评标室（东）"
VENUE_DIALOG_CLOSED = "() => !document.querySelector('#venue-dialog').open"


CAMERA = "rtsp://admin:s3cret@192.0.2.10:554/Streaming/Channels/101"
MASKED = "rtsp://admin:***@192.0.2.10:554/Streaming/Channels/101"
SECOND_CAMERA = "rtsps://cam2.example.cn/live"


def form_message(page: Any, form: str, kind: str) -> str:
    """The message under a form once it shows one of that kind (error, ok, info)."""
    selector = f"{form} .form-message[data-kind={kind}]:not([hidden])"
    page.wait_for_selector(selector, timeout=TIMEOUT_MS)
    return str(page.locator(selector).inner_text())


class Rest:
    """REST calls with a bearer token, as the provincial platform makes them."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url, self.token = base_url, token

    def call(self, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            self.base_url + path,
            data=None if body is None else json.dumps(body).encode(),
            method="GET" if body is None else "POST",
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as err:
            raise AssertionError(f"{path}: {err.code} {err.read().decode()}") from err


def a_lot_with_one_expert_checked_in(
    server: RunningServer, open_seat: Any, code: str, name: str
) -> dict[str, Any]:
    """Through REST: a venue, a project of one lot, its session on the booked venue, a host and
    two experts; one expert comes to the seat page and is checked in, the other never comes."""
    api = Rest(server.base_url, server.run_cli("token", "--admin").strip().splitlines()[-1])
    centre = api.call("/api/centres", {"name": CENTRE, "city": CITY, "region_code": "210100"})
    venue = api.call(
        "/api/venues", {"centre_id": centre["id"], "name": VENUE, "city": CITY, "seat_count": 6}
    )
    project = api.call(
        "/api/projects",
        {
            "centre_id": centre["id"],
            "code": code,
            "name": name,
            "tenderer": "某市教育局",
            "lots": [{"code": "01", "name": "施工"}],
        },
    )
    lot = project["lots"][0]
    now = datetime.now(BEIJING).replace(second=0, microsecond=0)
    start = now + timedelta(minutes=15 - now.minute % 15)
    slot = {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=4)).isoformat()}
    api.call(
        "/api/bookings",
        {
            "venue_id": venue["id"],
            **slot,
            "purpose": f"{code} 施工标段评标",
            "lot_id": lot["id"],
            "seats": [1, 2],
        },
    )
    opened = api.call(
        f"/api/lots/{lot['id']}/session",
        {"main_venue_id": venue["id"], "scheduled_start": start.isoformat()},
    )
    session = f"/api/sessions/{opened['session']['id']}"
    host = api.call(
        f"{session}/people", {"role": "host", "name": "张主持", "venue_id": venue["id"]}
    )
    experts = [
        {"name": n, "venue_id": venue["id"], "seat_no": i + 1} for i, n in enumerate(EXPERTS)
    ]
    api.call(f"{session}/experts", {"experts": experts})
    people = api.call(f"{session}/people")["items"]
    came = next(p for p in people if p["name"] == EXPERTS[0])
    seat = open_seat(api.call("/api/tokens", {"participant_id": came["id"]})["url"] + "&auto=1")
    seat.wait_live()
    chair = Rest(server.base_url, api.call("/api/tokens", {"participant_id": host["id"]})["token"])
    chair.call(f"{session}/workflow", {"kind": "open_check_in", "fields": {}})
    deadline = time.monotonic() + 20
    while True:  # the seat's first camera frames reach the server a moment after it is live
        try:
            chair.call(f"{session}/identity/{came['id']}", {})
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    chair.call(f"{session}/workflow", {"kind": "check_in", "fields": {"expert": came["id"]}})
    return {"project": project, "session_id": opened["session"]["id"], "seat": seat, "api": api}


def venue_details_through_the_console(
    admin: WatchedPage, server: RunningServer, shots: Path
) -> None:
    """On the console's venues: a room added with a camera and as a sub venue only (a bad
    address refused before sending), its password masked in the list; its edit (fewer seats
    refused while a booking holds them, the masked address never sent back); a door token."""
    page = admin.page
    page.click(".menu a[data-section=centres]")
    page.fill("#centre-form [name=name]", CENTRE)
    page.fill("#centre-form [name=city]", CITY)
    page.click("#centre-form button[type=submit]")
    page.locator(f"#centre-rows tr:has-text('{CENTRE}') button[data-add-venue]").click()
    page.wait_for_function("() => document.body.dataset.section === 'venues'")
    form = "#venue-form"
    page.fill(f"{form} [name=name]", VENUE)
    page.fill(f"{form} [name=seat_count]", "6")
    page.uncheck(f"{form} [name=main_capable]")
    page.fill(f"{form} [name=camera_urls]", f"{CAMERA}\nhttp://192.0.2.11/live")
    page.click(f"{form} button[type=submit]")
    refusal = form_message(page, form, "error")
    assert refusal == "第 2 个摄像机地址应以 rtsp:// 或 rtsps:// 开头", refusal
    assert page.locator(f"{form} [name=camera_urls]").get_attribute("aria-invalid") == "true"
    assert page.locator("#venue-rows tr").count() == 0
    page.fill(f"{form} [name=camera_urls]", f"{CAMERA}\n")
    page.click(f"{form} button[type=submit]")
    assert "仅作副场，1 路摄像机" in form_message(page, form, "ok")
    row = page.locator(f"#venue-rows tr:has-text('{VENUE}')")
    row.wait_for(timeout=TIMEOUT_MS)
    assert row.locator(".roles-cell .badge").all_inner_texts() == ["副场"]
    row.locator(".cameras summary").click()
    assert row.locator(".cameras li").all_inner_texts() == [MASKED]
    assert "s3cret" not in page.content()
    admin.screenshots(shots, "admin-venue-details")

    # Fewer seats while a booking holds them: the server refuses, in its own words.
    api = Rest(server.base_url, server.run_cli("token", "--admin").strip().splitlines()[-1])
    venue_id = row.get_attribute("data-venue")
    start = datetime.now(BEIJING).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    api.call(
        "/api/bookings",
        {
            "venue_id": venue_id,
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=3)).isoformat(),
            "purpose": "LN-2026-0300 评标",
        },
    )
    sent: list[Any] = []  # the bodies of the page's changes to the venue

    def on_request(request: Any) -> None:
        if request.method == "POST" and request.url.endswith(f"/api/venues/{venue_id}"):
            sent.append(request.post_data_json)

    page.on("request", on_request)
    row.locator("button[data-edit-venue]").click()
    edit = "#venue-edit-form"
    page.wait_for_selector("#venue-dialog[open]")
    assert page.locator(f"{edit} [name=camera_urls]").input_value() == MASKED
    assert not page.locator(f"{edit} [name=main_capable]").is_checked()
    page.fill(f"{edit} [name=seat_count]", "5")
    page.click(f"{edit} button[type=submit]")
    refusal = form_message(page, edit, "error")
    assert "仍有有效预约占用将被减少的机位" in refusal, refusal
    assert sent == [{"seat_count": 5}], sent
    page.fill(f"{edit} [name=seat_count]", "6")
    page.fill(f"{edit} [name=name]", RENAMED)
    page.check(f"{edit} [name=main_capable]")
    # Another camera, the masked one left as shown: refused, its password must be typed again.
    page.fill(f"{edit} [name=camera_urls]", f"{MASKED}\n{SECOND_CAMERA}")
    page.click(f"{edit} button[type=submit]")
    assert "第 1 个摄像机地址的密码显示为 ***" in form_message(page, edit, "error")
    admin.screenshots(shots, "admin-venue-edit")
    page.fill(f"{edit} [name=camera_urls]", f"{CAMERA}\n{SECOND_CAMERA}")
    page.click(f"{edit} button[type=submit]")
    page.wait_for_function(VENUE_DIALOG_CLOSED, timeout=TIMEOUT_MS)
    cameras = [CAMERA, SECOND_CAMERA]
    assert sent[-1] == {"name": RENAMED, "main_capable": True, "camera_urls": cameras}, sent
    row = page.locator(f"#venue-rows tr:has-text('{RENAMED}')")
    row.locator(".cameras summary:has-text('2 路')").wait_for(timeout=TIMEOUT_MS)
    assert row.locator(".roles-cell .badge").all_inner_texts() == ["主场", "副场"]
    # Only the name changed: the cameras, shown masked, are not sent back.
    row.locator("button[data-edit-venue]").click()
    page.fill(f"{edit} [name=name]", VENUE)
    page.click(f"{edit} button[type=submit]")
    page.wait_for_function(
        "([id, name]) => document.querySelector(`#venue-rows tr[data-venue='${id}'] td.name`)"
        "?.textContent === name",
        arg=[venue_id, VENUE],
        timeout=TIMEOUT_MS,
    )
    assert sent[-1] == {"name": VENUE}, sent

    # The door system's token, shown once, works for its venue's entries.
    row = page.locator(f"#venue-rows tr[data-venue='{venue_id}']")
    row.locator("button[data-door-token]").click()
    page.wait_for_selector("#door-dialog[open]")
    assert page.locator("#door-form [name=days]").input_value() == "365"
    page.click("#door-form button[type=submit]")
    page.wait_for_selector("#door-issued:not([hidden])", timeout=TIMEOUT_MS)
    issued = page.locator("#door-issued").inner_text()
    assert "只显示这一次" in issued and "北京时间" in issued, issued
    token = page.locator("#door-token").input_value()
    page.click("#door-copy")
    page.wait_for_selector("#door-copy:has-text('已复制')")
    admin.screenshots(shots, "admin-door-token")
    door = Rest(server.base_url, token)
    entry = {"name": "张三", "direction": "in"}
    assert door.call(f"/api/venues/{venue_id}/door-access", entry) == {"sessions": []}
    page.locator("#door-issued button[data-close]").click()
    # Once closed, the token is gone from the page (the dialog's close event comes a task later).
    page.wait_for_function(
        "() => !document.querySelector('#door-dialog').open"
        " && document.querySelector('#door-token').value === ''",
        timeout=TIMEOUT_MS,
    )
