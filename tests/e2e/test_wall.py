"""The supervision wall in real Chromium: two live rooms, focus on a seat, a note, a warning.

Two sessions (the demo, and a second one made with ``roomserver load-session``) each get one
kiosk seat in Chromium; a centre-wide supervisor (``roomserver token --supervisor``) opens the
wall. What the wall writes must be in the session's archived event log.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.e2e.conftest import RunningServer, SeatPage

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000
NOTE = "监督记录：两名专家均在席，评审秩序正常。"
WARNING = "请勿使用手机，保持摄像头对准本人。"


def archived_events(server: RunningServer, session_id: str) -> list[dict[str, Any]]:
    """The events of the session's current archive part, as written so far."""
    parts = sorted((server.data_dir / "archive" / session_id).glob("part-*/events.jsonl"))
    if not parts:
        return []
    lines = parts[-1].read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def wait_archived(server: RunningServer, session_id: str, kind: str, within: float = 15) -> dict:
    deadline = time.monotonic() + within
    while True:
        for event in archived_events(server, session_id):
            if event["kind"] == kind:
                return event
        if time.monotonic() > deadline:
            pytest.fail(f"no {kind} in the archived event log of {session_id}")
        time.sleep(0.2)  # polling interval of a deadline-bounded wait on a file


def code_of(url: str) -> str:
    return str(parse_qs(urlparse(url).query)["code"][0])


def tile(session_id: str) -> str:
    return f"article.room-tile[data-session='{session_id}']"


def frames_of(page: Any, selector: str) -> int:
    return int(page.evaluate(f'Number(document.querySelector("{selector}").dataset.frames)'))


def test_supervisor_watches_two_rooms_focuses_a_seat_and_writes_to_the_record(
    server: RunningServer, open_seat: Any, browser: Any, artifacts: Path
) -> None:
    load = json.loads(server.run_cli("load-session", "--seats", "5"))
    wall_url = server.run_cli("token", "--supervisor", "周文华").strip()
    demo_seat = next(p for p in server.participants if p["role"] == "expert")
    load_seat = next(p for p in load if p["role"] == "expert")
    sessions = [demo_seat["session_id"], load_seat["session_id"]]
    seats: list[SeatPage] = [open_seat(demo_seat["url"]), open_seat(load_seat["url"])]
    for seat in seats:
        seat.wait_live()

    context = browser.new_context(
        viewport={"width": 1920, "height": 1080}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    errors: list[str] = []
    wall = context.new_page()
    wall.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        wall.goto(wall_url)
        wall.wait_for_function("() => document.body.dataset.state === 'ready'", timeout=TIMEOUT_MS)
        # Both rooms' tiles play, and keep playing.
        for session_id in sessions:
            wall.wait_for_selector(f"{tile(session_id)}[data-live='1']", timeout=TIMEOUT_MS)
            wall.wait_for_function(
                f'() => Number(document.querySelector("{tile(session_id)}").dataset.frames) > 15',
                timeout=TIMEOUT_MS,
            )
        for session_id in sessions:
            before = frames_of(wall, tile(session_id))
            wall.wait_for_function(
                f'() => Number(document.querySelector("{tile(session_id)}").dataset.frames) > '
                f"{before + 15}",
                timeout=TIMEOUT_MS,
            )
        wall.screenshot(path=str(artifacts / "wall.png"))

        # Focus: the demo seat's camera and desktop, as the seat sends them.
        seat_key = seats[0].self_key()
        wall.click(f"{tile(sessions[0])} .btn-focus")
        wall.click(f"#focus-seats li.seat-item[data-seat='{seat_key}'] button")
        wall.wait_for_selector(f"section#focus[data-seat='{seat_key}']", timeout=TIMEOUT_MS)
        for video in ("#focus-camera", "#focus-desktop"):
            wall.wait_for_function(
                f"() => Number(document.querySelector('{video}').dataset.frames) > 5",
                timeout=TIMEOUT_MS,
            )
        camera_width = wall.evaluate("document.querySelector('#focus-camera').videoWidth")
        assert camera_width == 640, "the seat's own camera, not the room grid"

        # A note goes into the session's archived record.
        wall.fill("#note-text", NOTE)
        wall.click("#note-save")
        wall.wait_for_selector("ul#notes li.note", timeout=TIMEOUT_MS)
        note = wait_archived(server, sessions[0], "supervision_note")
        assert note["data"]["text"] == NOTE
        assert note["data"]["supervisor"] == "周文华"

        # A warning appears on the seat until the expert acknowledges it.
        wall.fill("#warn-text", WARNING)
        wall.click("#warn-seat")
        card = seats[0].page.wait_for_selector(".warning-card", timeout=TIMEOUT_MS)
        assert card is not None and WARNING in card.inner_text()
        seats[0].page.screenshot(path=str(artifacts / "seat-warning.png"))
        seats[0].page.click("#warning-ack")
        seats[0].page.wait_for_selector(".warning-card", state="detached", timeout=TIMEOUT_MS)
        acked = wait_archived(server, sessions[0], "warning_acknowledged")
        assert acked["data"]["seat"] == seat_key
        wall.screenshot(path=str(artifacts / "wall-focus.png"))

        started = wait_archived(server, sessions[0], "supervision_started")
        assert started["data"]["supervisor"] == "周文华"
        assert not errors, errors
    finally:
        context.close()
    ended = wait_archived(server, sessions[0], "supervision_ended")
    assert ended["data"]["seconds"] > 0


def test_an_expert_cannot_open_the_wall(server: RunningServer, browser: Any) -> None:
    expert = next(p for p in server.participants if p["role"] == "expert")
    code = code_of(expert["url"])
    context = browser.new_context(locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(f"{server.base_url}/wall?code={code}")
        page.wait_for_function("() => document.body.dataset.state === 'error'", timeout=TIMEOUT_MS)
        assert page.evaluate("document.body.dataset.error") == "role_not_allowed"
        assert "监督" in page.locator("#banner").inner_text()
    finally:
        context.close()
