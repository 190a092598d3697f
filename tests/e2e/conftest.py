"""End-to-end fixtures: known camera/microphone files, Debian's Chromium, and the real server.

The server runs as a subprocess exactly as an operator starts it (`python -m signaling.cli`),
with its ICE host candidates restricted to loopback through its own configuration.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from signaling.testing.chromium import CHROMIUM, CHROMIUM_FLAGS

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"

# Frame counter drawn in the camera file: 16 bits, MSB first, 32x32 px blocks along the top.
COUNTER_BITS = 16
COUNTER_BLOCK = 32
VIDEO_SIZE = (640, 480)
VIDEO_FPS = 15
VIDEO_SECONDS = 5
AUDIO_RATE = 48000
TONE_HZ = 440.0

SERVER_START_DEADLINE_S = 45.0


def _rgb_to_yuv(r: int, g: int, b: int) -> tuple[int, int, int]:
    """BT.601 studio-range Y, Cb, Cr of an 8-bit RGB colour."""
    y = 16 + (65.738 * r + 129.057 * g + 25.064 * b) / 256
    u = 128 + (-37.945 * r - 74.494 * g + 112.439 * b) / 256
    v = 128 + (112.439 * r - 94.154 * g - 18.285 * b) / 256
    return round(y), round(u), round(v)


def counter_frame(n: int, width: int = VIDEO_SIZE[0], height: int = VIDEO_SIZE[1]) -> bytes:
    """One I420 frame: a coloured background with `n` drawn as 16 binary blocks (white = 1)."""
    y_bg, u_bg, v_bg = _rgb_to_yuv(40, 110, 150)  # calm teal
    y_plane = np.full((height, width), y_bg, np.uint8)
    u_plane = np.full((height // 2, width // 2), u_bg, np.uint8)
    v_plane = np.full((height // 2, width // 2), v_bg, np.uint8)
    half = COUNTER_BLOCK // 2
    for bit in range(COUNTER_BITS):
        on = (n >> (COUNTER_BITS - 1 - bit)) & 1
        x = bit * COUNTER_BLOCK
        y_plane[:COUNTER_BLOCK, x : x + COUNTER_BLOCK] = 235 if on else 16
        u_plane[:half, x // 2 : x // 2 + half] = 128
        v_plane[:half, x // 2 : x // 2 + half] = 128
    return y_plane.tobytes() + u_plane.tobytes() + v_plane.tobytes()


def write_counter_y4m(path: Path, seconds: int = VIDEO_SECONDS, fps: int = VIDEO_FPS) -> None:
    """A YUV4MPEG2 file Chromium's fake camera plays in a loop."""
    width, height = VIDEO_SIZE
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for n in range(seconds * fps):
            out.write(b"FRAME\n")
            out.write(counter_frame(n, width, height))


def write_tone_wav(path: Path, seconds: int = VIDEO_SECONDS, hz: float = TONE_HZ) -> None:
    """48 kHz mono 16-bit PCM with a steady sine tone (whole periods, so the loop is seamless)."""
    t = np.arange(seconds * AUDIO_RATE) / AUDIO_RATE
    samples = (0.3 * 32767 * np.sin(2 * np.pi * hz * t)).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(AUDIO_RATE)
        out.writeframes(samples.tobytes())


@dataclass(frozen=True)
class MediaFiles:
    """The fake camera and microphone files."""

    video: Path
    audio: Path


@pytest.fixture(scope="session")
def media_files(tmp_path_factory: pytest.TempPathFactory) -> MediaFiles:
    """A frame-counter y4m and a 440 Hz wav, generated once per run."""
    folder = tmp_path_factory.mktemp("fake-media")
    files = MediaFiles(video=folder / "camera.y4m", audio=folder / "microphone.wav")
    write_counter_y4m(files.video)
    write_tone_wav(files.audio)
    return files


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """test-artifacts/ at the repository root (screenshots, server logs)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser(media_files: MediaFiles) -> Iterator[Any]:
    """Debian's headless Chromium with fake devices fed from `media_files`."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    flags = [
        *CHROMIUM_FLAGS,
        f"--use-file-for-fake-video-capture={media_files.video}",
        f"--use-file-for-fake-audio-capture={media_files.audio}",
    ]
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=flags)
        try:
            yield chromium
        finally:
            chromium.close()


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RunningServer:
    """The server subprocess on a fixed loopback port, and the demo participants it was seeded with.

    It can be stopped and started again on the same port and data directory, as an operator
    restarts it; the seats' links stay valid across restarts.
    """

    def __init__(self, data_dir: Path, port: int, log_path: Path) -> None:
        self.data_dir = data_dir
        self.bind = f"127.0.0.1:{port}"
        self.base_url = f"http://{self.bind}"
        self.log_path = log_path
        self.env = _server_env()
        self.participants: list[dict[str, Any]] = []
        self._proc: subprocess.Popen[bytes] | None = None

    def _cli(self, *args: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "signaling.cli",
            *args,
            "--data-dir",
            str(self.data_dir),
            "--bind",
            self.bind,
        ]

    def run_cli(self, *args: str) -> str:
        """Run a ``roomserver`` command on the server's data directory; what it printed."""
        done = subprocess.run(
            self._cli(*args),
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"`signaling.cli {args[0]}` failed ({done.returncode}):\n{done.stderr}")
        return done.stdout

    def seed_demo(self) -> None:
        """Create the demo session and keep its kiosk links (`demo --json`)."""
        demo = subprocess.run(
            self._cli("demo", "--json"),
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if demo.returncode != 0:
            pytest.fail(f"`signaling.cli demo` failed ({demo.returncode}):\n{demo.stderr[-4000:]}")
        try:
            self.participants = json.loads(demo.stdout)
        except json.JSONDecodeError as exc:
            pytest.fail(
                f"`signaling.cli demo --json` printed no JSON ({exc}):\n{demo.stdout[:2000]}"
            )

    def start(self) -> None:
        """Start `serve` and wait until /healthz answers 200."""
        assert self._proc is None or self._proc.poll() is not None, "server already running"
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                self._cli("serve"), cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        _wait_healthy(self._proc, self.base_url, self.log_path)

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM, as an operator stops it; kill only if it does not stop in time."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            pytest.fail(f"server did not stop within {timeout}s of SIGTERM:\n{self.log_tail()}")

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, str]:
        """GET a path of the server: (status, body)."""
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=timeout) as resp:
                return resp.status, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's output, for failure messages."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""


def _server_env() -> dict[str, str]:
    env = dict(os.environ)
    # Loopback only: ICE over another interface can settle on a path that dies later.
    env["ROOMSERVER_ICE_HOST"] = "127.0.0.1"
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_DEADLINE_S
    last_error = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
            pytest.fail(f"server exited with {proc.returncode} before /healthz answered:\n{log}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return
                last_error = f"status {resp.status}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(exc)
        time.sleep(0.2)  # polling interval of a deadline-bounded wait, not synchronisation
    log = log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
    pytest.fail(f"server not healthy after {SERVER_START_DEADLINE_S}s ({last_error}):\n{log}")


@pytest.fixture
def server(
    request: pytest.FixtureRequest, tmp_path: Path, artifacts: Path
) -> Iterator[RunningServer]:
    """The real server on a free loopback port, seeded with the demo session."""
    log_path = artifacts / f"server-{request.node.name}.log"
    log_path.unlink(missing_ok=True)
    running = RunningServer(tmp_path / "data", free_port(), log_path)
    running.seed_demo()
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture
def empty_server(
    request: pytest.FixtureRequest, tmp_path: Path, artifacts: Path
) -> Iterator[RunningServer]:
    """The real server on an empty data directory, as `roomserver serve` starts in production."""
    log_path = artifacts / f"server-{request.node.name}.log"
    log_path.unlink(missing_ok=True)
    running = RunningServer(tmp_path / "data", free_port(), log_path)
    try:
        running.start()
        yield running
    finally:
        running.stop()


# ---- camera and microphone files that mark the same instant (archive tests) ---------------
#
# Both loops last SYNC_LOOP_S, so Chromium's fake devices, which loop their files, run in step
# for a whole test. At the start of every loop the camera shows counter 0 (the pattern of
# media.testing.testpattern, which read_counter reads back) and the microphone plays a short 1 kHz
# beep instead of the 440 Hz tone. Counter value n >= 1 is captured n + 1 frames into the loop: see
# SYNC_REPEATED_FRAMES.

SYNC_LOOP_S = 3
SYNC_FPS = 15
# Chromium's file camera (156, Debian) shows the first frame of a y4m twice each time it goes
# round (measured with a 45-frame file: ... 43, 44, 0, 0, 1, ... at even 1/15 s steps), so a
# file of N frames loops every N + 1 frames. The y4m has one frame fewer than the loop, for the
# played loop to last exactly SYNC_LOOP_S, like the wav.
SYNC_REPEATED_FRAMES = 1
SYNC_FILE_FRAMES = SYNC_LOOP_S * SYNC_FPS - SYNC_REPEATED_FRAMES
BEEP_HZ = 1000.0
BEEP_S = 0.1
SYNC_BACKGROUND_RGB = (40, 110, 150)


@dataclass(frozen=True)
class SyncedMediaFiles(MediaFiles):
    """Fake camera and microphone files whose played loops last as long and start marked."""

    loop_s: float = float(SYNC_LOOP_S)
    fps: int = SYNC_FPS
    file_frames: int = SYNC_FILE_FRAMES  # counter values 0 .. file_frames - 1
    repeated_frames: int = SYNC_REPEATED_FRAMES  # frame 0 shown this many extra times a loop
    tone_hz: float = TONE_HZ
    beep_hz: float = BEEP_HZ
    beep_s: float = BEEP_S


def _rgb_frame_to_i420(rgb: np.ndarray) -> bytes:
    """BT.601 studio-range I420 of an HxWx3 RGB frame (chroma averaged over 2x2 blocks)."""
    f = rgb.astype(np.float32)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    y = 16 + (65.738 * r + 129.057 * g + 25.064 * b) / 256
    u = 128 + (-37.945 * r - 74.494 * g + 112.439 * b) / 256
    v = 128 + (112.439 * r - 94.154 * g - 18.285 * b) / 256
    h, w = y.shape

    def sub(plane: np.ndarray) -> np.ndarray:
        return plane.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    planes = (y, sub(u), sub(v))
    return b"".join(np.clip(np.rint(p), 0, 255).astype(np.uint8).tobytes() for p in planes)


def write_sync_y4m(path: Path, frames: int = SYNC_FILE_FRAMES, fps: int = SYNC_FPS) -> None:
    """A y4m whose frame n shows counter n (testpattern layout, check word included)."""
    from media.testing.testpattern import solid_frame

    width, height = VIDEO_SIZE
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for n in range(frames):
            out.write(b"FRAME\n")
            out.write(_rgb_frame_to_i420(solid_frame(SYNC_BACKGROUND_RGB, n, (width, height))))


def write_sync_wav(
    path: Path,
    seconds: int = SYNC_LOOP_S,
    tone_hz: float = TONE_HZ,
    beep_hz: float = BEEP_HZ,
    beep_s: float = BEEP_S,
) -> None:
    """48 kHz mono: a 1 kHz beep for the first `beep_s` seconds, then the 440 Hz tone.

    Both waves have whole periods in their spans and start at phase 0, so the switch and the
    loop are seamless (no click that could be mistaken for the beep).
    """
    t = np.arange(seconds * AUDIO_RATE) / AUDIO_RATE
    beep_end = round(beep_s * AUDIO_RATE)
    wave_ = np.sin(2 * np.pi * tone_hz * t)
    wave_[:beep_end] = np.sin(2 * np.pi * beep_hz * t[:beep_end])
    samples = (0.3 * 32767 * wave_).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(AUDIO_RATE)
        out.writeframes(samples.tobytes())


@pytest.fixture(scope="session")
def synced_media_files(tmp_path_factory: pytest.TempPathFactory) -> SyncedMediaFiles:
    """A counter y4m and a tone wav whose loops, as Chromium plays them, last 3 s each."""
    folder = tmp_path_factory.mktemp("synced-media")
    files = SyncedMediaFiles(video=folder / "camera.y4m", audio=folder / "microphone.wav")
    write_sync_y4m(files.video)
    write_sync_wav(files.audio)
    return files


@pytest.fixture
def synced_browser(browser: Any, synced_media_files: SyncedMediaFiles) -> Iterator[Any]:
    """A fresh Chromium whose fake devices play `synced_media_files`, closed after the test.

    Launched through the Playwright instance of `browser` (Playwright's sync API allows one
    per process); a new process per test, so its fake devices start with the test.
    """
    flags = [
        *CHROMIUM_FLAGS,
        f"--use-file-for-fake-video-capture={synced_media_files.video}",
        f"--use-file-for-fake-audio-capture={synced_media_files.audio}",
    ]
    chromium = browser.browser_type.launch(executable_path=str(CHROMIUM), headless=True, args=flags)
    try:
        yield chromium
    finally:
        chromium.close()


# ---- seat pages -------------------------------------------------------------------------

LIVE_DEADLINE_S = 20.0


class SeatPage:
    """One seat's browser context and page, with the errors its console reported."""

    def __init__(self, browser: Any, url: str, init_script: str | None = None) -> None:
        self.context = browser.new_context(
            viewport={"width": 1920, "height": 1080}, locale="zh-CN", timezone_id="Asia/Shanghai"
        )
        if init_script is not None:
            self.context.add_init_script(init_script)  # runs before the page's own scripts
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.started = time.monotonic()
        self.page.goto(url)

    def _on_console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def state(self) -> str:
        return str(self.page.evaluate("document.body.dataset.state"))

    def wait_live(self, deadline_s: float = LIVE_DEADLINE_S) -> None:
        """Wait, from the page's own start, until it is live; fail with what it shows."""
        remaining = max(0.5, deadline_s - (time.monotonic() - self.started))
        try:
            self.page.wait_for_function(
                "() => document.body.dataset.state === 'live'", timeout=remaining * 1000
            )
        except Exception as exc:
            banner = self.page.locator("#banner-text").inner_text()
            raise AssertionError(
                f"seat not live within {deadline_s}s: state={self.state()!r} banner={banner!r} "
                f"console errors={self.errors}"
            ) from exc

    def self_key(self) -> str:
        """The metrics label of this seat, "venueId:seatNo", from its own roster entry."""
        self.page.wait_for_selector("#roster-list li[data-self]", timeout=10000)
        return str(
            self.page.evaluate("document.querySelector('#roster-list li[data-self]').dataset.key")
        )

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def open_seat(browser: Any) -> Any:
    """Open seat pages; their contexts are closed after the test."""
    pages: list[SeatPage] = []

    def opener(url: str, init_script: str | None = None) -> SeatPage:
        seat = SeatPage(browser, url, init_script)
        pages.append(seat)
        return seat

    yield opener
    for seat in pages:
        seat.close()
