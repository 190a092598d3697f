"""A hall's broadcast end to end: two real worker processes, a host seat, real aiortc viewers.

The host (an aiortc peer with a counter camera and a 440 Hz microphone) sits in the hall's room
on worker 0. The broadcast is its camera as it arrives, the room grid as the information
screen and the room's mix, served from worker 0 and, through the pipe, from worker 1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaBlackhole
from aiortc.rtcconfiguration import RTCBundlePolicy

from media.config import MediaConfig
from media.testing.synthetic import CounterVideoTrack, ToneAudioTrack
from signaling.config import IceConfig
from signaling.services.broadcasts import Broadcasts, BroadcastSource, ViewerAnswer
from signaling.services.pool import WorkerPool
from signaling.services.signals import Signals
from signaling.testing.broadcast import BroadcastWatcher
from signaling.wire import WireError
from signaling.worker.settings import WorkerSettings
from tests.polling import wait_until

SESSION = "s-hall"
HOST = "v1:1"
STREAMS = [("video", "camera"), ("video", "screen"), ("audio", "sound")]
SOURCES = [
    BroadcastSource("camera", "seat", key=HOST),
    BroadcastSource("screen", "grid"),
    BroadcastSource("sound", "mix"),
]


@dataclass
class Hall:
    """Two workers, the hall's room on the first, and the broadcasts service over them."""

    pool: WorkerPool
    broadcasts: Broadcasts
    events: list[tuple[str, dict[str, Any]]]


@pytest.fixture
async def hall(tmp_path: Path) -> AsyncIterator[Hall]:
    settings = WorkerSettings(
        archive_root=str(tmp_path / "archive"),
        archive_keys_dir=str(tmp_path / "secrets" / "archive-keys"),
        archive_keys_path=str(tmp_path / "archive-keys.json"),
        ice=IceConfig(host_addresses=("127.0.0.1",)),
        media=MediaConfig(analysis_interval_s=0, grid_fps=5, grid_bitrate=300_000),
        pin_cpus=False,
    )
    signals = Signals()
    pool = WorkerPool(2, settings, signals)
    room_worker = pool.workers[0]
    # Placement by viewers alone: the host's seat does not push viewers to worker 1 first.
    broadcasts = Broadcasts(
        pool, lambda s: room_worker if s == SESSION else None, signals, seat_weight=0
    )
    events: list[tuple[str, dict[str, Any]]] = []

    def on_event(worker: Any, name: str, params: dict[str, Any]) -> None:
        events.append((name, params))
        if name == "broadcast_viewer":
            broadcasts.viewer_state(params)

    signals.worker_event.connect(on_event)
    signals.freeze()
    await pool.start()
    try:
        await room_worker.request(
            "open_room",
            {
                "session_id": SESSION,
                "project_code": "K-1",
                "project_name": "开标大厅",
                "tiles": [{"key": HOST, "label": "开标大厅 · 主持人"}],
                "record": False,
            },
        )
        room_worker.rooms.add(SESSION)
        yield Hall(pool, broadcasts, events)
    finally:
        await broadcasts.close_all()
        await pool.close()


async def seat_host(hall: Hall) -> tuple[RTCPeerConnection, MediaBlackhole]:
    """The host's seat in the hall: a counter camera and a 440 Hz tone."""
    pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    mic = pc.addTransceiver(ToneAudioTrack(440), direction="sendrecv")
    cam = pc.addTransceiver(CounterVideoTrack((40, 90, 160), fps=15), direction="sendrecv")
    sink = MediaBlackhole()  # what the room sends back to the host is read and dropped
    pc.on("track", sink.addTrack)
    await pc.setLocalDescription(await pc.createOffer())
    answer = await hall.pool.workers[0].request(
        "negotiate",
        {
            "session_id": SESSION,
            "seat": HOST,
            "sdp": pc.localDescription.sdp,
            "roles": {mic.mid: "microphone", cam.mid: "camera"},
        },
    )
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
    await sink.start()
    return pc, sink


async def watch(hall: Hall, *, tap: bool = False) -> tuple[BroadcastWatcher, ViewerAnswer]:
    """A new viewer of the whole broadcast, and what the service answered it."""
    watcher = BroadcastWatcher(STREAMS, tap=tap)
    sdp, roles = await watcher.offer()
    answer = await hall.broadcasts.viewer(SESSION, sdp, roles)
    await watcher.accept(answer.sdp)
    return watcher, answer


async def test_viewers_on_both_workers_decode_the_broadcast(hall: Hall) -> None:
    host, sink = await seat_host(hall)
    watchers: list[BroadcastWatcher] = []
    try:
        names = await hall.broadcasts.open(SESSION, SOURCES)
        assert names == ["camera", "screen", "sound"]
        # Through aiortc's own receivers and decoders, as any aiortc client.
        first, first_answer = await watch(hall)
        second, second_answer = await watch(hall, tap=True)
        watchers += [first, second]
        # The first is served by the origin, the second through the pipe by worker 1.
        assert (first_answer.worker, second_answer.worker) == (0, 1)
        for watcher in watchers:
            await watcher.wait_frames("camera", 15, 20)
            await watcher.wait_frames("screen", 3, 20)
            await watcher.wait_frames("sound", 50, 20)
            camera = watcher.streams["camera"]
            # The host's own picture, forwarded as it came: its counter is read back, in order.
            assert camera.size == (640, 480)
            assert len(camera.counters) >= 10
            assert camera.counters == sorted(camera.counters)
            assert watcher.streams["screen"].size == (960, 720)
            assert watcher.streams["sound"].level() > 0.01  # the host's tone, through the mix
        assert second.streams["camera"].first_keyframe is True
        assert second.streams["screen"].first_keyframe is True
        # Both workers serve the same stream: the counters they show are the host's, now.
        assert (
            abs(first.streams["camera"].counters[-1] - second.streams["camera"].counters[-1]) < 30
        )
        assert hall.broadcasts.viewers(SESSION) == {0: 1, 1: 1}

        # A viewer who joins late starts at a keyframe, on either worker.
        late, late_answer = await watch(hall, tap=True)
        watchers.append(late)
        await late.wait_frames("camera", 5, 20)
        assert late.streams["camera"].first_keyframe is True

        stats = await hall.pool.workers[1].request("stats", {})
        relay = next(b for b in stats["broadcasts"] if b["session_id"] == SESSION)
        assert relay["role"] == "relay" and relay["pipe_gaps"] == 0

        # A viewer who leaves is forgotten; the others go on.
        await hall.broadcasts.leave(SESSION, late_answer.viewer)
        assert sum(hall.broadcasts.viewers(SESSION).values()) == 2
        await first.wait_frames("camera", 5, 10)
        await second.wait_frames("camera", 5, 10)
    finally:
        for watcher in watchers:
            await watcher.close()
        await sink.stop()
        await host.close()


async def test_a_viewer_that_closes_frees_its_place(hall: Hall) -> None:
    host, sink = await seat_host(hall)
    try:
        await hall.broadcasts.open(SESSION, SOURCES)
        watcher, _answer = await watch(hall)
        await watcher.wait_frames("sound", 10, 20)
        await wait_until(
            lambda: any(
                n == "broadcast_viewer" and p["state"] == "connected" for n, p in hall.events
            ),
            10,
            "the worker reports the viewer connected",
        )
        await watcher.close()
        await wait_until(
            lambda: not hall.broadcasts.viewers(SESSION), 40, "the closed viewer is forgotten"
        )
    finally:
        await sink.stop()
        await host.close()


async def test_an_offer_for_a_stream_the_broadcast_lacks_is_refused(hall: Hall) -> None:
    await hall.broadcasts.open(SESSION, [BroadcastSource("sound", "mix")])
    watcher = BroadcastWatcher([("video", "camera")])
    try:
        sdp, roles = await watcher.offer()
        with pytest.raises(WireError) as refused:
            await hall.broadcasts.viewer(SESSION, sdp, roles)
        assert refused.value.code == "invalid_request"
        assert not hall.broadcasts.viewers(SESSION)
    finally:
        await watcher.close()
