"""Archive playback in real Chromium, on a session recorded by the test.

Two seats send cameras whose frame counter is the wall clock in 1/15 s steps, so at any point of
the recording both cameras name the same instant. The archivist opens the session, shows one
seat's camera as the main screen and the other's beside it, and at several seek points (across
segment boundaries) the two counters agree within 100 ms. A click on a timeline mark moves the
playhead to its time. An expert's token is refused; a bidder's token sees only the open part.
The package exported from the page verifies with ``archive verify``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import cv2
import numpy as np
import pytest

from media.testing.synthetic import CounterVideoTrack, ToneAudioTrack
from media.testing.testpattern import HEIGHT, WIDTH, read_counter
from signaling.gate.tokens import TokenIssuer, load_or_create_key
from signaling.testing.seat import SyntheticSeat
from tests.e2e.conftest import RunningServer

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000
FPS = 15
BEFORE_S, AWAY_S, AFTER_S = 7.0, 4.0, 6.0
SEGMENT_S = 3
# 100 ms at 15 fps is 1.5 frame periods: counters may differ by at most 1.
MAX_COUNTER_DIFFERENCE = 1


def code_of(url: str) -> str:
    return str(parse_qs(urlparse(url).query)["code"][0])


def post(server: RunningServer, path: str, token: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"{server.base_url}{path}",
        data=json.dumps(body or {}).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def admin_token(server: RunningServer) -> str:
    """An administrator's token, as `roomserver token --admin` gives one."""
    key = load_or_create_key(server.data_dir / "secrets" / "token.key")
    return TokenIssuer(key, default_ttl_s=600).issue_admin("e2e")


def record_session(server: RunningServer, experts: list[dict[str, Any]], host: str) -> None:
    """Two clock-counter seats, check-in opened on the way; the second seat drops out for
    AWAY_S seconds in the middle (a gap in its tracks), then the end instruction."""

    def seat(i: int, expert: dict[str, Any], color: tuple[int, int, int]) -> SyntheticSeat:
        return SyntheticSeat(
            server.base_url,
            expert["token"],
            camera=CounterVideoTrack(color, fps=FPS, clock=True),
            microphone=ToneAudioTrack(440.0),
            name=f"seat-{i}",
            decode=False,
        )

    async def run() -> None:
        first = seat(0, experts[0], (190, 50, 50))
        second = seat(1, experts[1], (50, 50, 190))
        await first.start()
        await second.start()
        try:
            await first.wait_grid_frames(10, 15)
            session = experts[0]["session_id"]
            await asyncio.to_thread(
                post, server, f"/api/sessions/{session}/workflow", host, {"kind": "open_check_in"}
            )
            # The lengths of the recording and of the absence are the point here.
            await asyncio.sleep(BEFORE_S)
            await second.close()
            await asyncio.sleep(AWAY_S)
            second = seat(1, experts[1], (50, 50, 190))
            await second.start()
            await asyncio.sleep(AFTER_S)
            # Ended before any report was signed: an administrator's forced end.
            end = {"reason": "回放测试"}
            path = f"/api/sessions/{session}/end"
            await asyncio.to_thread(post, server, path, admin_token(server), end)
        finally:
            await first.close()
            await second.close()

    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(run())
        except BaseException as exc:
            failure.append(exc)

    # Playwright's sync API owns this thread's event loop: the seats get a thread of their own.
    thread = threading.Thread(target=target, name="recording-seats")
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), "the recording did not finish"
    if failure:
        raise failure[0]


def get_json(server: RunningServer, path: str, token: str) -> Any:
    request = urllib.request.Request(
        f"{server.base_url}{path}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def camera_segments(catalog: dict[str, Any], seat: str) -> list[dict[str, Any]]:
    track = next(t for t in catalog["tracks"] if t["id"] == f"{seat}-camera")
    return list(track["segments"])


def frame_of(page: Any, selector: str) -> np.ndarray:
    """The picture a <video> shows now, as RGB at the camera's own size.

    It crosses from the page as a PNG (lossless): a list of 1.2 million numbers takes seconds.
    """
    url = page.evaluate(
        """([selector, w, h]) => {
            const video = document.querySelector(selector);
            const canvas = document.createElement("canvas");
            canvas.width = w; canvas.height = h;
            canvas.getContext("2d").drawImage(video, 0, 0, w, h);
            return canvas.toDataURL("image/png");
        }""",
        [selector, WIDTH, HEIGHT],
    )
    png = np.frombuffer(base64.b64decode(url.split(",", 1)[1]), np.uint8)
    bgr = cv2.imdecode(png, cv2.IMREAD_COLOR)
    assert bgr is not None and bgr.shape == (HEIGHT, WIDTH, 3), f"no picture from {selector}"
    return np.ascontiguousarray(bgr[:, :, ::-1])


def counter_at(page: Any, selector: str) -> int:
    value = read_counter(frame_of(page, selector), (0, 0, WIDTH, HEIGHT))
    assert value is not None, f"no counter readable in {selector}"
    return value


def wait_archived_and_sealed(server: RunningServer, session_id: str) -> None:
    folder = server.data_dir / "archive" / session_id
    for _ in range(200):
        parts = sorted(folder.glob("part-*"))
        if parts and all((p / "seal.json").is_file() for p in parts):
            return
        threading.Event().wait(0.1)  # polling a folder the server seals on its own
    pytest.fail("the archive was not sealed")


def test_archivist_plays_two_tracks_in_sync_jumps_by_marks_and_exports(
    server: RunningServer, browser: Any, artifacts: Path, tmp_path: Path
) -> None:
    server.stop()
    server.env["ROOMSERVER_SEGMENT_SECONDS"] = str(SEGMENT_S)
    server.start()
    people = server.participants
    experts = [p for p in people if p["role"] == "expert"]
    pair = [experts[0], experts[3]]
    host = next(p for p in people if p["role"] == "host")["token"]
    archivist = next(p for p in people if p["role"] == "archivist")
    archivist_url = archivist["url"]
    session_id = pair[0]["session_id"]
    record_session(server, pair, host)
    wait_archived_and_sealed(server, session_id)

    catalog = get_json(server, f"/api/archive/sessions/{session_id}", archivist["token"])
    context = browser.new_context(
        viewport={"width": 1920, "height": 1080},
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        accept_downloads=True,
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(archivist_url)
        page.wait_for_selector(f"tr[data-session='{session_id}']", timeout=TIMEOUT_MS)
        page.screenshot(path=str(artifacts / "archive-list.png"))
        page.click(f"tr[data-session='{session_id}'] [data-open]")
        page.wait_for_function(
            "() => document.body.dataset.view === 'session' "
            "&& document.body.dataset.state === 'ready'",
            timeout=TIMEOUT_MS,
        )
        # Seat A's camera on the main screen, seat B's beside it.
        camera_a = f"{pair[0]['venue_id']}-{pair[0]['seat']}-camera"
        seat_b = f"{pair[1]['venue_id']}-{pair[1]['seat']}"
        page.select_option("#main-select", camera_a)
        page.select_option("#seat-select", seat_b)
        # Seek points: inside a segment, just after segment boundaries, after seat B's return;
        # and in its absence, where B shows its gap while A plays on.
        t0 = catalog["start"]
        spans = [
            (s["wall_start"] - t0, s["wall_end"] - t0) for s in camera_segments(catalog, seat_b)
        ]
        pairs = zip(spans, spans[1:], strict=False)
        away = [(end, start) for (_, end), (start, _) in pairs if start - end > 1]
        assert len(away) == 1, f"one absence expected in {spans}"
        gap_from, gap_to = away[0]
        points = [spans[0][0] + 1.0, spans[1][0] + 0.3, gap_to + 1.0, spans[-1][0] + 0.3]
        differences = []
        for t in points:
            page.evaluate("(t) => window.archivePlayer.seek(t)", t)
            a = counter_at(page, "#main-video")
            b = counter_at(page, "#seat-camera")
            differences.append(((a - b + 0x8000) & 0xFFFF) - 0x8000)
        assert all(abs(d) <= MAX_COUNTER_DIFFERENCE for d in differences), (points, differences)
        page.evaluate("(t) => window.archivePlayer.seek(t)", (gap_from + gap_to) / 2)
        assert page.locator("#seat-camera-gap").is_visible()
        counter_at(page, "#main-video")  # seat A still shows a readable picture
        page.screenshot(path=str(artifacts / "archive-player-gap.png"))
        page.evaluate("(t) => window.archivePlayer.seek(t)", points[0])
        page.screenshot(path=str(artifacts / "archive-player.png"))

        # One click on a timeline mark (the check-in opening) moves the playhead there.
        mark = page.locator("#marks .mark[data-group='workflow']").first
        expected = float(mark.get_attribute("data-t") or "nan")
        mark.click()
        page.wait_for_function(
            f"() => Math.abs(Number(document.body.dataset.time) - {expected}) < 0.25",
            timeout=TIMEOUT_MS,
        )
        page.click("#play")
        page.wait_for_function(
            f"() => Number(document.body.dataset.time) > {expected} + 0.5", timeout=TIMEOUT_MS
        )
        page.click("#play")

        # Verify and export from the page; the package verifies on its own.
        page.click("#verify-btn")
        page.wait_for_selector("#verify-badge.ok", timeout=TIMEOUT_MS)
        page.click("#export-btn")
        page.wait_for_selector("#export-link:not([hidden])", timeout=TIMEOUT_MS)
        page.screenshot(path=str(artifacts / "archive-export.png"))
        with page.expect_download() as download:
            page.click("#export-link")
        package = tmp_path / "package.tar"
        download.value.save_as(package)
        verdict = json.loads(server.run_cli("archive", "verify", str(package), "--json"))
        assert verdict["ok"], verdict

        # The archivist opens the session's open part to a bidder: a link to hand over.
        page.click("#grant-btn")
        page.fill("#grant-form input[name='name']", "甲建设集团")
        page.click("#grant-issue")
        page.wait_for_selector("#grant-url:not([hidden])", timeout=TIMEOUT_MS)
        bidder = page.input_value("#grant-url")
        page.screenshot(path=str(artifacts / "archive-grant.png"))
        assert not errors, errors
    finally:
        context.close()

    # An expert is refused; the session's bidder sees the room during check-in only.
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(f"{server.base_url}/archive?code={code_of(pair[0]['url'])}")
        page.wait_for_function("() => document.body.dataset.state === 'error'", timeout=TIMEOUT_MS)
        assert "无权" in page.inner_text("#banner")
        page.goto(bidder)
        page.wait_for_selector(f"tr[data-session='{session_id}']", timeout=TIMEOUT_MS)
        page.click(f"tr[data-session='{session_id}'] [data-open]")
        page.wait_for_function("() => document.body.dataset.state === 'ready'", timeout=TIMEOUT_MS)
        options = page.eval_on_selector_all("#main-select option", "os => os.map(o => o.value)")
        assert options == ["room-grid"], options
        assert page.locator("#export-btn").is_hidden()
        page.screenshot(path=str(artifacts / "archive-bidder.png"))
    finally:
        context.close()
