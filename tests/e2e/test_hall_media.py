"""The hall's live broadcast in real Chromium: the demo's opening, as `roomserver serve` starts it.

Nobody has joined yet when the public broadcast page (/live) opens: it is live at once, its
information screen moving (the server's clock and the countdown tick on it). A bidder's hall is
live too. The host turns on the camera and microphone at the opening console; the public page
then plays the host's camera (its frame counter read back from the picture, going up) with the
host's sound, and a bidder turns on its microphone in the hall. Each page is photographed at
each step at 1920x1080 and 1366x768 into test-artifacts/hall-media/.
"""

from __future__ import annotations

import base64
import io
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from media.testing.testpattern import read_counter
from tests.e2e.conftest import RunningServer

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000
SIZES = {"1920": (1920, 1080), "1366": (1366, 768)}
# A <video> as the page shows it, drawn into a canvas (what a viewer sees).
GRAB = """(selector) => {
  const video = document.querySelector(selector);
  if (!video || !video.videoWidth) return null;
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  return canvas.toDataURL("image/png");
}"""
# The broadcast's sound as played: its RMS through WebAudio (the element itself plays muted).
LEVEL = """() => {
  const video = document.querySelector("video[data-role=broadcast]");
  if (!window.__level) {
    const context = new AudioContext();
    const source = context.createMediaStreamSource(video.srcObject);
    window.__level = context.createAnalyser();
    source.connect(window.__level);
  }
  const samples = new Float32Array(window.__level.fftSize);
  window.__level.getFloatTimeDomainData(samples);
  return Math.sqrt(samples.reduce((sum, x) => sum + x * x, 0) / samples.length);
}"""


def link(server: RunningServer, role: str, page: str) -> str:
    """The demo opening's link of `role` that opens `page`."""
    return next(
        str(p["url"]) for p in server.participants if p["role"] == role and page in p["url"]
    )


class Page:
    """One person's page in its own browser context, photographed at both sizes."""

    def __init__(self, browser: Any, url: str, who: str, shots: Path) -> None:
        self.who, self.shots = who, shots
        self.context = browser.new_context(
            viewport={"width": 1920, "height": 1080}, locale="zh-CN", timezone_id="Asia/Shanghai"
        )
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.goto(url)

    def wait(self, predicate: str, timeout_ms: float = TIMEOUT_MS) -> None:
        try:
            self.page.wait_for_function(predicate, timeout=timeout_ms)
        except Exception as exc:
            state = self.page.evaluate("document.body.dataset.state")
            banner = self.page.locator("#banner").inner_text()
            raise AssertionError(
                f"{self.who}: {predicate} did not hold: state={state!r} banner={banner!r} "
                f"errors={self.errors}"
            ) from exc

    def wait_live(self) -> None:
        self.wait("() => document.body.dataset.state === 'live'")

    def picture(self, selector: str) -> np.ndarray | None:
        """The picture a <video> shows now, RGB."""
        data = self.page.evaluate(GRAB, selector)
        if data is None:
            return None
        png = base64.b64decode(str(data).split(",", 1)[1])
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))

    def moving(self, selector: str, within_s: float = 15.0) -> None:
        """The video's picture changes: it is live, not a still."""
        first = self.picture(selector)
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            time.sleep(0.5)  # a poll with a deadline: the page has no event for a new picture
            now = self.picture(selector)
            if first is None:
                first = now
            elif now is not None and now.shape == first.shape:
                if float(np.abs(now.astype(int) - first.astype(int)).mean()) > 0.05:
                    return
        raise AssertionError(f"{self.who}: {selector} shows no moving picture in {within_s}s")

    def counters(self, selector: str, count: int, within_s: float = 20.0) -> list[int]:
        """The frame counters read from the video's picture until `count` were read."""
        found: list[int] = []
        deadline = time.monotonic() + within_s
        while len(found) < count and time.monotonic() < deadline:
            image = self.picture(selector)
            if image is not None:
                value = read_counter(image, (0, 0, image.shape[1], image.shape[0]))
                if value is not None and (not found or value != found[-1]):
                    found.append(value)
            time.sleep(0.2)  # a poll with a deadline, as above
        return found

    def screenshots(self, step: str) -> None:
        for label, (width, height) in SIZES.items():
            self.page.set_viewport_size({"width": width, "height": height})
            path = self.shots / f"{step}-{self.who}-{label}.png"
            self.page.screenshot(path=str(path), full_page=True)
        self.page.set_viewport_size({"width": 1920, "height": 1080})

    def close(self) -> None:
        self.context.close()


def test_the_public_broadcast_and_a_bidders_hall_play_the_hall_live(
    server: RunningServer, synced_browser: Any, artifacts: Path
) -> None:
    shots = artifacts / "hall-media"
    shots.mkdir(parents=True, exist_ok=True)
    pages: list[Page] = []
    try:
        # Nobody has joined: the broadcast of the hall is live, its screen moving.
        public = Page(synced_browser, link(server, "public", "/live"), "public", shots)
        pages.append(public)
        public.wait_live()
        public.moving("video[data-role=screen]")
        assert public.page.locator("#speak-toggle").count() == 0  # one way: nothing to speak
        public.screenshots("1-before-the-host")

        bidder = Page(synced_browser, link(server, "bidder", "/hall"), "bidder", shots)
        pages.append(bidder)
        bidder.wait_live()
        bidder.moving("video[data-role=screen]")
        bidder.screenshots("1-before-the-host")

        # The host turns its camera and microphone on: the public sees and hears the host.
        host = Page(synced_browser, link(server, "host", "/opening"), "host", shots)
        pages.append(host)
        host.wait_live()
        host.page.click("#speak-toggle")
        host.wait("() => document.body.dataset.speaking === '1'")
        counted = public.counters("video[data-role=broadcast]", 5)
        # The host's own camera, forwarded as it came: its counter read back, changing.
        assert len(set(counted)) >= 5, counted
        levels = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and max(levels, default=0.0) <= 0.01:
            levels.append(float(public.page.evaluate(LEVEL)))
            time.sleep(0.25)  # a poll with a deadline: WebAudio has no event for a level
        assert max(levels) > 0.01, levels  # the host's tone, through the mix
        public.moving("video[data-role=broadcast]")
        assert len(set(bidder.counters("video[data-role=broadcast]", 2))) == 2
        for page in (public, bidder):  # the camera's placeholder gives way to the picture
            page.wait("() => document.querySelector('#live-camera-placeholder').hidden")
        for page in (public, bidder, host):
            page.screenshots("2-the-host-on-camera")

        # A bidder speaks from its hall.
        bidder.page.click("#speak-toggle")
        bidder.wait("() => document.body.dataset.speaking === '1'")
        assert "正在发言" in bidder.page.locator("#speak-state").inner_text()
        bidder.screenshots("3-the-bidder-speaks")
        for page in pages:
            assert page.errors == [], (page.who, page.errors)
    finally:
        for page in pages:
            page.close()
