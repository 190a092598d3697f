"""The archive page shows where each archive is kept and how each copy last checked out.

The server copies every sealed part to its replica folder. An archivist, whose computer is set
to New York's time, finds the session: its replica verified, at the Beijing time the server
recorded. She verifies the primary from the page, and the list says so. A byte of the replica
then turns; a month on, the re-verification finds it, and the page says 副本 校验失败 while the
primary stays 已校验. Screenshots at 1920x1080 and 1366x768.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from media.testing.synthetic import CounterVideoTrack, ToneAudioTrack
from recorder.manifest import Manifest
from roomserver.config import StoreConfig
from roomserver.store import SqlStore
from signaling.testing.seat import SyntheticSeat
from tests.e2e.conftest import RunningServer
from tests.e2e.test_playback import admin_token, get_json, post

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000
SIZES = {"1920": {"width": 1920, "height": 1080}, "1366": {"width": 1366, "height": 768}}
BEIJING = timezone(timedelta(hours=8))
SESSION_READY = (
    "() => document.body.dataset.view === 'session' && document.body.dataset.state === 'ready'"
)


def in_thread(work: Any) -> Any:
    """Run a coroutine function to its end in a thread of its own (Playwright's sync API owns
    this thread's event loop)."""
    result: list[Any] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(work()))
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=target, name="archive-copies-work")
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), "the work did not finish"
    if failure:
        raise failure[0]
    return result[0] if result else None


def record_and_end(server: RunningServer, expert: dict[str, Any]) -> None:
    """One seat for a few seconds, then an administrator's end."""

    async def run() -> None:
        async with SyntheticSeat(
            server.base_url,
            expert["token"],
            camera=CounterVideoTrack((190, 50, 50)),
            microphone=ToneAudioTrack(440.0),
            name="seat-0",
            decode=False,
        ):
            await asyncio.sleep(4)
            path = f"/api/sessions/{expert['session_id']}/end"
            await asyncio.to_thread(post, server, path, admin_token(server), {"reason": "副本"})

    in_thread(run)


def copies_of(server: RunningServer, token: str, session_id: str) -> dict[str, Any]:
    entries = get_json(server, "/api/archive/sessions", token)
    entry = next(e for e in entries if e["id"] == session_id)
    return {c["location"]: c for c in entry["copies"]}


def wait_state(
    server: RunningServer, token: str, session_id: str, location: str, state: str
) -> None:
    for _ in range(600):
        if copies_of(server, token, session_id)[location]["state"] == state:
            return
        threading.Event().wait(0.1)  # polling the server's list: nothing is pushed to a page
    pytest.fail(f"the {location} copy of {session_id} did not become {state}")


def beijing_minute(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def shots(page: Any, artifacts: Path, name: str) -> list[Path]:
    """The page at both sizes; returns the files."""
    made = []
    for label, size in SIZES.items():
        page.set_viewport_size(size)
        path = artifacts / f"{name}-{label}.png"
        page.screenshot(path=str(path))
        made.append(path)
    page.set_viewport_size(SIZES["1920"])
    return made


def test_the_archive_list_shows_each_copy_and_its_latest_check(
    server: RunningServer, browser: Any, artifacts: Path, tmp_path: Path
) -> None:
    replica = tmp_path / "mnt" / "replica"
    replica.mkdir(parents=True)
    server.stop()
    server.env["ROOMSERVER_ARCHIVE_REPLICA"] = str(replica)
    server.start()
    people = server.participants
    expert = next(p for p in people if p["role"] == "expert")
    archivist = next(p for p in people if p["role"] == "archivist")
    session_id = expert["session_id"]
    record_and_end(server, expert)
    wait_state(server, archivist["token"], session_id, "replica", "verified")
    replica_check = copies_of(server, archivist["token"], session_id)["replica"]

    context = browser.new_context(
        viewport=SIZES["1920"], locale="zh-CN", timezone_id="America/New_York"
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    row = f"tr[data-session='{session_id}']"
    try:
        page.goto(archivist["url"])
        page.wait_for_selector(f"{row} .copy[data-location='replica'].ok", timeout=TIMEOUT_MS)
        text = page.inner_text(f"{row} .copy[data-location='replica']")
        assert text == f"副本 已校验 {beijing_minute(replica_check['verified_at'])}"
        assert page.inner_text(f"{row} .copy[data-location='primary']") == "主档 未校验"

        # The archivist verifies the primary from the session's page; the list says so.
        page.click(f"{row} [data-open]")
        page.wait_for_function(SESSION_READY, timeout=TIMEOUT_MS)
        assert page.inner_text("#facts .copy[data-location='replica']").startswith("副本 已校验")
        page.click("#verify-btn")
        page.wait_for_selector("#verify-badge.ok", timeout=TIMEOUT_MS)
        page.click("#back")
        page.wait_for_selector(f"{row} .copy[data-location='primary'].ok", timeout=TIMEOUT_MS)
        primary = copies_of(server, archivist["token"], session_id)["primary"]
        assert page.inner_text(f"{row} .copy[data-location='primary']") == (
            f"主档 已校验 {beijing_minute(primary['verified_at'])}"
        )
        shots(page, artifacts, "archive-copies-list")
        page.click(f"{row} [data-open]")
        page.wait_for_function(SESSION_READY, timeout=TIMEOUT_MS)
        shots(page, artifacts, "archive-copies-session")

        # A byte of the replica turns; a month later the re-verification (at the server's start)
        # finds it.
        part = replica / session_id / "part-0001"
        manifest = Manifest.from_json((part / "manifest.json").read_bytes())
        segment = part / manifest.segments[-1].path
        segment.chmod(0o644)
        data = bytearray(segment.read_bytes())
        data[len(data) // 2] ^= 0xFF
        segment.write_bytes(bytes(data))
        server.stop()
        in_thread(lambda: age_checks(server, session_id, days=31))
        server.start()
        wait_state(server, archivist["token"], session_id, "replica", "failed")
        page.click("#back")
        page.wait_for_selector(f"{row} .copy[data-location='replica'].bad", timeout=TIMEOUT_MS)
        failed = copies_of(server, archivist["token"], session_id)["replica"]
        assert page.inner_text(f"{row} .copy[data-location='replica']") == (
            f"副本 校验失败 {beijing_minute(failed['verified_at'])}"
        )
        title = page.get_attribute(f"{row} .copy[data-location='replica']", "title") or ""
        assert manifest.segments[-1].path in title
        assert page.inner_text(f"{row} .copy[data-location='primary']").startswith("主档 已校验")
        shots(page, artifacts, "archive-copies-failed")
        assert errors == []
    finally:
        context.close()


async def age_checks(server: RunningServer, session_id: str, *, days: int) -> None:
    """Set the session's checks `days` back, as if a month had passed (the server stopped)."""
    config = StoreConfig(database_url=f"sqlite+aiosqlite:///{server.data_dir / 'roomserver.db'}")
    async with SqlStore(config) as store:
        then = datetime.now(UTC) - timedelta(days=days)
        for copy in (await store.copies.of_session(session_id)).values():
            await store.copies.save(replace(copy, checked_at=then, verified_at=then))
