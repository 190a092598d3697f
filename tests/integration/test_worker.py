"""A media worker process on its own: real subprocess, real aiortc peer, real archive."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaBlackhole
from aiortc.rtcconfiguration import RTCBundlePolicy

from media.testing.synthetic import CounterVideoTrack, ToneAudioTrack
from recorder.archive import list_parts
from recorder.manifest import Manifest
from signaling.config import IceConfig
from signaling.services.pool import WorkerProcess
from signaling.wire import ConnectionLost, WireError
from signaling.worker.process import WorkerSettings
from tests.polling import wait_until

SESSION = "s-worker-test"
TILES = [
    {"key": "v1:1", "label": "沈阳主场 · 1号机位"},
    {"key": "v1:2", "label": "沈阳主场 · 2号机位"},
]


@pytest.fixture
async def worker(tmp_path: Path) -> AsyncIterator[tuple[WorkerProcess, list[tuple[str, dict]]]]:
    events: list[tuple[str, dict]] = []
    settings = WorkerSettings(
        archive_root=str(tmp_path / "archive"),
        archive_keys_dir=str(tmp_path / "secrets" / "archive-keys"),
        archive_keys_path=str(tmp_path / "archive-keys.json"),
        ice=IceConfig(host_addresses=("127.0.0.1",)),
    )
    process = WorkerProcess(0, settings, lambda w, name, params: events.append((name, params)))
    await process.start()
    yield process, events
    await process.stop()


async def offer_seat(
    worker: WorkerProcess, seat: str
) -> tuple[RTCPeerConnection, asyncio.Event, MediaBlackhole]:
    """A seat negotiated through the worker; the event fires when grid video arrives."""
    pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    mic = pc.addTransceiver(ToneAudioTrack(440), direction="sendrecv")
    cam = pc.addTransceiver(CounterVideoTrack((200, 40, 40)), direction="sendrecv")
    got_grid = asyncio.Event()
    sink = MediaBlackhole()

    @pc.on("track")
    def on_track(track: Any) -> None:
        if track.kind == "audio":
            sink.addTrack(track)
            return
        original = track.recv

        async def recv() -> Any:
            frame = await original()
            got_grid.set()
            return frame

        track.recv = recv
        sink.addTrack(track)  # the blackhole reads it (a track nobody reads grows)

    await pc.setLocalDescription(await pc.createOffer())
    answer = await worker.request(
        "negotiate",
        {
            "session_id": SESSION,
            "seat": seat,
            "sdp": pc.localDescription.sdp,
            "roles": {mic.mid: "microphone", cam.mid: "camera"},
        },
    )
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
    await sink.start()
    return pc, got_grid, sink


async def test_a_worker_hosts_a_room_and_seals_its_archive(worker, tmp_path: Path) -> None:
    process, events = worker
    opened = await process.request(
        "open_room",
        {"session_id": SESSION, "project_code": "T-1", "project_name": "测试项目", "tiles": TILES},
    )
    assert opened == {"part": 1, "last_seq": 0}
    pc, got_grid, sink = await offer_seat(process, "v1:1")
    await asyncio.wait_for(got_grid.wait(), 15)
    await process.request(
        "record_events",
        {
            "session_id": SESSION,
            "events": [
                {
                    "seq": 7,
                    "at": "2026-11-26T00:00:00+00:00",
                    "kind": "seat_joined",
                    "actor": "p1",
                    "data": {"seat": "v1:1"},
                },
            ],
        },
    )
    # The worker tells signaling which tracks arrive.
    await wait_until(
        lambda: any(n == "seat_media" and "camera" in p["tracks"] for n, p in events),
        15,
        "the worker reports the seat's camera",
    )
    with pytest.raises(WireError) as missing:
        await process.request(
            "negotiate", {"session_id": "nope", "seat": "x", "sdp": "", "roles": {}}
        )
    assert missing.value.code == "not_found"
    assert (await process.request("close_room", {"session_id": SESSION, "state": "ended"})) == {
        "sealed": True
    }
    await sink.stop()
    await pc.close()
    part = list_parts(tmp_path / "archive" / SESSION)[0][1]
    manifest = Manifest.from_json((part / "manifest.json").read_bytes())
    assert manifest.state == "ended" and manifest.event_count == 1
    assert {s.track for s in manifest.segments} >= {"room-grid", "room-mix", "v1-1-camera"}


async def test_a_killed_worker_is_noticed_at_once(worker) -> None:
    process, _ = worker
    await process.request(
        "open_room",
        {"session_id": SESSION, "project_code": "T-1", "project_name": "测试项目", "tiles": TILES},
    )
    process.kill()
    await asyncio.wait_for(process.wait_lost(), 5)
    assert not process.alive
    with pytest.raises(ConnectionLost):
        await process.request("stats", {})
    # A new process takes the same slot.
    await process.start()
    assert process.alive
    stats = await process.request("stats", {})
    assert stats["rooms"] == []
