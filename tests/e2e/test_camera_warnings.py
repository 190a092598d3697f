"""Camera warnings from real Chromium seats whose fake cameras play generated y4m scenes.

Four seats of the demo, each in its own Chromium (a fake camera plays one file): a person at
the seat, nobody, two people, a black picture. The server runs as operators run it, with the
empty-seat threshold shortened through its environment. Each seat must raise exactly the
warning its scene calls for, with the evidence picture in the archive.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from media.testing.testpattern import draw_counter
from tests import scenes
from tests.e2e.conftest import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    VIDEO_FPS,
    RunningServer,
    SeatPage,
    _rgb_frame_to_i420,
    free_port,
)

pytestmark = pytest.mark.e2e

EMPTY_S = 5
SLACK_S = 5  # a warning within its threshold + 5 s
SCENE_SECONDS = 2
SCENES: dict[str, Callable[[], np.ndarray]] = {
    "person": scenes.one_person,
    "empty": scenes.empty_seat,
    "two": scenes.two_people,
    "black": scenes.black,
}


def write_scene_y4m(path: Path, rgb: np.ndarray, *, counter: bool) -> None:
    """A looping camera file of one scene; the counter keeps it moving like a live camera."""
    height, width = rgb.shape[:2]
    with path.open("wb") as out:
        header = f"YUV4MPEG2 W{width} H{height} F{VIDEO_FPS}:1 Ip A1:1 C420jpeg\n"
        out.write(header.encode("ascii"))
        for n in range(SCENE_SECONDS * VIDEO_FPS):
            frame = rgb.copy()
            if counter:
                draw_counter(frame, n)
            out.write(b"FRAME\n")
            out.write(_rgb_frame_to_i420(frame))


@pytest.fixture
def server(tmp_path: Path, artifacts: Path) -> Iterator[RunningServer]:
    log_path = artifacts / "server-camera-warnings.log"
    log_path.unlink(missing_ok=True)
    running = RunningServer(tmp_path / "data", free_port(), log_path)
    running.env["ROOMSERVER_SEAT_EMPTY_SECONDS"] = str(EMPTY_S)
    running.seed_demo()
    try:
        running.start()
        yield running
    finally:
        running.stop()


def archived(server: RunningServer, session_id: str) -> list[dict[str, Any]]:
    parts = sorted((server.data_dir / "archive" / session_id).glob("part-*/events.jsonl"))
    if not parts:
        return []
    text = parts[-1].read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_each_scene_raises_its_warning(
    server: RunningServer, browser: Any, media_files: Any, tmp_path: Path, artifacts: Path
) -> None:
    experts = [p for p in server.participants if p["role"] == "expert"][: len(SCENES)]
    session_id = experts[0]["session_id"]
    browsers, seats = [], {}
    try:
        for (name, scene), expert in zip(SCENES.items(), experts, strict=True):
            video = tmp_path / f"{name}.y4m"
            write_scene_y4m(video, scene(), counter=name != "black")
            flags = [
                *CHROMIUM_FLAGS,
                f"--use-file-for-fake-video-capture={video}",
                f"--use-file-for-fake-audio-capture={media_files.audio}",
            ]
            # One Chromium per camera file: the fake camera is a browser-wide flag.
            own = browser.browser_type.launch(
                executable_path=str(CHROMIUM), headless=True, args=flags
            )
            browsers.append(own)
            seats[name] = SeatPage(own, expert["url"])
        live: dict[str, float] = {}
        for name, seat in seats.items():
            seat.wait_live(45)
            live[name] = time.monotonic()  # no earlier than the seat went live
        keys = {name: seat.self_key() for name, seat in seats.items()}

        wanted = {"empty": "seat_empty", "two": "extra_face", "black": "camera_dark"}
        # The empty seat within its threshold + 5 s (+ 5 s for its first pictures to arrive).
        # Extra face and dark have no bound of their own: a generous one, as four browsers and
        # the server share two cores here and the analysis samples less often when busy.
        deadlines = {
            "empty": live["empty"] + EMPTY_S + SLACK_S + 5,
            "two": live["two"] + 30,
            "black": live["black"] + 30,
        }
        started: dict[str, dict[str, Any]] = {}
        seen_at: dict[str, float] = {}
        while time.monotonic() < max(deadlines.values()) and len(started) < len(wanted):
            for event in archived(server, session_id):
                data = event["data"]
                if event["kind"] != "warning_started":
                    continue
                for name, kind in wanted.items():
                    if data["seat"] == keys[name] and data["kind"] == kind and name not in started:
                        started[name] = data
                        seen_at[name] = time.monotonic()
            time.sleep(0.25)  # polling interval of a deadline-bounded wait on a file
        late = sorted(n for n in wanted if n not in seen_at or seen_at[n] > deadlines[n])
        assert not late, f"no warning in time for {late}: {seen_at} (deadlines {deadlines})"

        for data in started.values():
            evidence = data["evidence"]
            part = server.data_dir / "archive" / session_id / f"part-{evidence['part']:04d}"
            picture = (part / evidence["path"]).read_bytes()
            assert hashlib.sha256(picture).hexdigest() == evidence["sha256"]
        (artifacts / "warning-seat-empty.jpg").write_bytes(
            (
                server.data_dir
                / "archive"
                / session_id
                / f"part-{started['empty']['evidence']['part']:04d}"
                / started["empty"]["evidence"]["path"]
            ).read_bytes()
        )

        # The person at the seat raised nothing drawn from the camera.
        camera_kinds = {"seat_empty", "extra_face", "camera_dark", "camera_frozen"}
        person = [
            e["data"]["kind"]
            for e in archived(server, session_id)
            if e["kind"] == "warning_started"
            and e["data"]["seat"] == keys["person"]
            and e["data"]["kind"] in camera_kinds
        ]
        assert person == [], f"the seat with a person raised {person}"
    finally:
        for seat in seats.values():
            seat.close()
        for own in browsers:
            own.close()
