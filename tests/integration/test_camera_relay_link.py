"""The link of a relayed room camera between two real media workers: the room's worker and a sub
venue's, the offer and answer carried between them as the nodes' signaling carries them. An
H.264 camera crosses it and is recorded by the room; with the room's worker stopped (SIGSTOP:
no packet, no ping), the sub venue's worker records the camera itself, and the room's worker,
going on, links again; the sub venue's archive, sealed as ended, verifies on its own."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from recorder.archive import list_parts
from recorder.manifest import Manifest
from recorder.verify import verify_archive
from signaling.config import IceConfig
from signaling.services.pool import WorkerProcess
from signaling.wire import WireError
from signaling.worker.settings import WorkerSettings
from tests.e2e.conftest import free_port
from tests.polling import wait_until
from tests.rtsp import RtspSource

SESSION = "s-relay-test"
WITHIN_S = 30.0


@dataclass
class Link:
    """The room's worker, the sub venue's, and what the room's worker told."""

    tmp: Path
    room: WorkerProcess | None = None
    sub: WorkerProcess | None = None
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    tasks: set[asyncio.Future[None]] = field(default_factory=set)

    def settings(self, name: str) -> WorkerSettings:
        return WorkerSettings(
            archive_root=str(self.tmp / name / "archive"),
            archive_keys_dir=str(self.tmp / "secrets" / "archive-keys"),
            archive_keys_path=str(self.tmp / "archive-keys.json"),
            relay_root=str(self.tmp / name / "relay-archive"),
            ice=IceConfig(host_addresses=("127.0.0.1",)),
        )

    def on_room_event(self, _worker: WorkerProcess, name: str, params: dict[str, Any]) -> None:
        self.events.append((name, params))
        if name == "camera_relay_offer":
            self.tasks.add(asyncio.ensure_future(self.carry(params)))

    async def carry(self, params: dict[str, Any]) -> None:
        """What the nodes' signaling does with an offer (``camera_relay`` call and back)."""
        assert self.room is not None and self.sub is not None
        answer: dict[str, Any] = {"id": params["id"]}
        try:
            result = await self.sub.request(
                "relay_camera",
                {"session_id": SESSION, "camera": params["camera"], "offer": params["offer"]},
            )
            answer["sdp"] = result["sdp"]
        except WireError as exc:
            answer["error"] = str(exc)
        await self.room.request("camera_relay_answer", answer)

    def camera_states(self, state: str) -> list[dict[str, Any]]:
        return [p for n, p in self.events if n == "room_camera" and p["state"] == state]


@pytest.fixture
def camera() -> Iterator[RtspSource]:
    yield from RtspSource(free_port(), h264=True).running()


@pytest.fixture
async def link(tmp_path: Path) -> AsyncIterator[Link]:
    link = Link(tmp_path)
    link.sub = WorkerProcess(1, link.settings("sub"), lambda w, n, p: None)
    await link.sub.start()
    link.room = WorkerProcess(0, link.settings("room"), link.on_room_event)
    await link.room.start()
    try:
        yield link
    finally:
        if link.room.pid is not None:
            os.kill(link.room.pid, signal.SIGCONT)
        await link.room.stop()
        await link.sub.stop()
        for task in link.tasks:
            task.cancel()


def mp4s(session_dir: Path) -> list[Path]:
    """The camera's segment files being written or written (a track's folder each link)."""
    return sorted(session_dir.glob("part-*/media/room-camera-*/*.mp4"))


def segments(session_dir: Path) -> list[Any]:
    return [
        s
        for _n, part in list_parts(session_dir)
        for s in Manifest.from_json((part / "manifest.json").read_bytes()).segments
        if s.track.startswith("room-camera-")
    ]


async def test_a_relayed_h264_camera_is_recorded_by_the_room_and_by_the_sub_venue_when_cut_off(
    link: Link, camera: RtspSource, tmp_path: Path
) -> None:
    assert link.room is not None and link.sub is not None
    await link.room.request(
        "open_room",
        {
            "session_id": SESSION,
            "project_code": "T-RELAY",
            "project_name": "副场监控转发测试",
            "tiles": [{"key": "v1:1", "label": "沈阳主场 · 1号机位"}],
            "cameras": [
                {
                    "id": "v2-1",
                    "label": "丹东副场 · 监控1",
                    "venue_id": "v2",
                    "url": camera.url,
                    "relay": "r",
                }
            ],
        },
    )
    await wait_until(lambda: bool(link.camera_states("up")), WITHIN_S, "the camera up")
    up = link.camera_states("up")[0]
    assert up["codec"] == "H264" and up["recorded"] and up["viewable"], up
    recorded = tmp_path / "room" / "archive" / SESSION
    await wait_until(lambda: len(mp4s(recorded)) == 1, WITHIN_S, "the room records the camera")

    # The room's worker silent: the sub venue's records the camera on its own disk.
    assert link.room.pid is not None
    os.kill(link.room.pid, signal.SIGSTOP)
    local = tmp_path / "sub" / "relay-archive" / SESSION
    await wait_until(
        lambda: bool(mp4s(local)),
        WITHIN_S,
        "the sub venue's worker records",
    )
    os.kill(link.room.pid, signal.SIGCONT)
    # The room's worker found the link lost and made a new one.
    await wait_until(lambda: len(link.camera_states("up")) >= 2, WITHIN_S, "linked again")
    await wait_until(lambda: len(mp4s(recorded)) >= 2, WITHIN_S, "the room records it again")

    await link.room.request("close_room", {"session_id": SESSION, "state": "ended"})
    answer = await link.sub.request(
        "relay_stop", {"session_id": SESSION, "ended_at": datetime.now(UTC).isoformat()}
    )
    assert answer["archive"] == str(local)
    keys = [(tmp_path / "archive-keys.json").read_bytes()]
    report = verify_archive(local, known_keys=keys)
    assert report.ok, report.differences
    manifests = [
        Manifest.from_json((p / "manifest.json").read_bytes()) for _n, p in list_parts(local)
    ]
    assert manifests[-1].state == "ended"
    assert any(s.path.endswith(".mp4") for s in segments(local)), segments(local)
    main = segments(recorded)
    assert len(main) >= 2 and all(s.path.endswith(".mp4") for s in main), main
    assert verify_archive(recorded, known_keys=keys).ok
