"""A hall's broadcast plays in real Chromium: the host's camera, the screen and the sound.

There is no hall page yet: the test page makes the receive-only offer a hall page will make
(camera and sound in one media stream, the screen in another) and shows them in ``<video>``
elements; the test hands its offer to ``Broadcasts.viewer`` of real worker processes, which an
event loop of its own runs beside Playwright's, and the answer back. One viewer is served by
the origin, one through the pipe by the second worker.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaBlackhole
from aiortc.rtcconfiguration import RTCBundlePolicy

from media.config import MediaConfig
from media.testing.synthetic import CounterVideoTrack, ToneAudioTrack
from media.testing.testpattern import read_counter
from signaling.config import IceConfig
from signaling.services.broadcasts import Broadcasts, BroadcastSource
from signaling.services.pool import WorkerPool
from signaling.services.signals import Signals
from signaling.worker.settings import WorkerSettings

pytestmark = pytest.mark.e2e

SESSION = "s-hall-e2e"
HOST = "v1:1"
TIMEOUT_MS = 30_000

PAGE = """<!doctype html><meta charset="utf-8"><title>开标直播</title>
<body style="margin:0;background:#111">
<video data-role="camera" autoplay muted playsinline width="640" height="480"></video>
<video data-role="screen" autoplay muted playsinline width="480" height="360"></video>
<script>
window.watch = async () => {
  const pc = new RTCPeerConnection();
  const main = new MediaStream(), screen = new MediaStream();
  const camera = pc.addTransceiver("video", {direction: "recvonly"});
  const shown = pc.addTransceiver("video", {direction: "recvonly"});
  const sound = pc.addTransceiver("audio", {direction: "recvonly"});
  window.ids = {};
  pc.ontrack = (e) => {
    window.ids[e.transceiver.mid] = e.streams.length ? e.streams[0].id : null;
    (e.transceiver === shown ? screen : main).addTrack(e.track);
    document.querySelector('[data-role="camera"]').srcObject = main;
    document.querySelector('[data-role="screen"]').srcObject = screen;
  };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((done) => {
    if (pc.iceGatheringState === "complete") return done();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && done();
  });
  window.pc = pc;
  window.streams = {camera: camera.mid, screen: shown.mid, sound: sound.mid};
  const roles = {};
  roles[camera.mid] = "camera"; roles[shown.mid] = "screen"; roles[sound.mid] = "sound";
  return {sdp: pc.localDescription.sdp, roles};
};
window.accept = (sdp) => window.pc.setRemoteDescription({type: "answer", sdp});
window.received = async () => {
  const out = {};
  for (const r of (await window.pc.getStats()).values()) {
    if (r.type === "inbound-rtp") {
      out[r.mid] = {frames: r.framesDecoded || 0, width: r.frameWidth || 0,
                    lost: r.packetsLost || 0, packets: r.packetsReceived || 0};
    }
  }
  return out;
};
window.level = () => {
  // The sound as played: its RMS through WebAudio (the camera's element plays it muted).
  if (!window.analyser) {
    const context = new AudioContext();
    const source = context.createMediaStreamSource(
      document.querySelector('[data-role="camera"]').srcObject);
    window.analyser = context.createAnalyser();
    source.connect(window.analyser);
  }
  const samples = new Float32Array(window.analyser.fftSize);
  window.analyser.getFloatTimeDomainData(samples);
  return Math.sqrt(samples.reduce((sum, x) => sum + x * x, 0) / samples.length);
};
window.until = async (mids, deadline) => {
  const end = Date.now() + deadline;
  for (;;) {
    const r = await window.received(), level = window.level();
    const done = (r[mids.camera] || {}).frames > 30 && (r[mids.screen] || {}).frames > 5
      && (r[mids.sound] || {}).packets > 100 && level > 0.01;
    if (done || Date.now() > end) return {received: r, level};
    await new Promise((wake) => setTimeout(wake, 250));
  }
};
window.picture = () => {
  const video = document.querySelector('[data-role="camera"]');
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  return canvas.toDataURL("image/png");
};
</script>"""


class Hall:
    """Two worker processes with the hall's room and its host, run by a loop of their own."""

    def __init__(self, tmp_path: Path) -> None:
        self._tmp = tmp_path
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.broadcasts: Broadcasts | None = None
        self._pool: WorkerPool | None = None
        self._host: RTCPeerConnection | None = None
        self._sink: MediaBlackhole | None = None

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def start(self) -> None:
        settings = WorkerSettings(
            archive_root=str(self._tmp / "archive"),
            archive_keys_dir=str(self._tmp / "secrets" / "archive-keys"),
            archive_keys_path=str(self._tmp / "archive-keys.json"),
            ice=IceConfig(host_addresses=("127.0.0.1",)),
            media=MediaConfig(analysis_interval_s=0, grid_fps=5, grid_bitrate=300_000),
            pin_cpus=False,
        )
        signals = Signals()
        pool = self._pool = WorkerPool(2, settings, signals)
        origin = pool.workers[0]
        broadcasts = self.broadcasts = Broadcasts(
            pool, lambda s: origin if s == SESSION else None, signals, seat_weight=0
        )
        signals.worker_event.connect(
            lambda w, name, params: (
                broadcasts.viewer_state(params) if name == "broadcast_viewer" else None
            )
        )
        signals.freeze()
        await pool.start()
        await origin.request(
            "open_room",
            {
                "session_id": SESSION,
                "project_code": "K-2",
                "project_name": "开标大厅",
                "tiles": [{"key": HOST, "label": "开标大厅 · 主持人"}],
                "record": False,
            },
        )
        origin.rooms.add(SESSION)
        host = self._host = RTCPeerConnection(
            RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        mic = host.addTransceiver(ToneAudioTrack(440), direction="sendrecv")
        cam = host.addTransceiver(CounterVideoTrack((40, 90, 160), fps=15), direction="sendrecv")
        sink = self._sink = MediaBlackhole()
        host.on("track", sink.addTrack)
        await host.setLocalDescription(await host.createOffer())
        answer = await origin.request(
            "negotiate",
            {
                "session_id": SESSION,
                "seat": HOST,
                "sdp": host.localDescription.sdp,
                "roles": {mic.mid: "microphone", cam.mid: "camera"},
            },
        )
        await host.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        await sink.start()
        await broadcasts.open(
            SESSION,
            [
                BroadcastSource("camera", "seat", key=HOST),
                BroadcastSource("screen", "grid"),
                BroadcastSource("sound", "mix"),
            ],
        )

    async def stop(self) -> None:
        if self.broadcasts is not None:
            await self.broadcasts.close_all()
        if self._sink is not None:
            await self._sink.stop()
        if self._host is not None:
            await self._host.close()
        if self._pool is not None:
            await self._pool.close()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@pytest.fixture
def hall(tmp_path: Path) -> Iterator[Hall]:
    running = Hall(tmp_path)
    try:
        running.run(running.start())
        yield running
    finally:
        running.run(running.stop())
        running.close()


def test_the_broadcast_plays_in_chromium_from_either_worker(
    hall: Hall, browser: Any, artifacts: Path
) -> None:
    assert hall.broadcasts is not None
    context = browser.new_context()
    try:
        served_by = []
        pages = []
        for _ in range(2):
            page = context.new_page()
            page.set_content(PAGE)
            offer = page.evaluate("window.watch()")
            answer = hall.run(hall.broadcasts.viewer(SESSION, offer["sdp"], offer["roles"]))
            page.evaluate("(sdp) => window.accept(sdp)", answer.sdp)
            served_by.append(answer.worker)
            pages.append(page)
        assert served_by == [0, 1]  # the second through the pipe
        for index, page in enumerate(pages):
            mids = page.evaluate("window.streams")
            got = page.evaluate("([mids, ms]) => window.until(mids, ms)", [mids, TIMEOUT_MS])
            received = got["received"]
            assert received[mids["camera"]]["frames"] > 30, got
            assert received[mids["camera"]]["width"] == 640
            assert received[mids["screen"]]["frames"] > 5, got
            assert received[mids["screen"]]["width"] == 960
            assert got["level"] > 0.01, got  # the host's tone, through the mix
            # Camera and sound come in one media stream (played in sync), the screen apart.
            ids = page.evaluate("window.ids")
            assert ids[mids["camera"]] == ids[mids["sound"]] != ids[mids["screen"]]
            # The host's own picture: its frame counter is read back from what Chromium shows.
            png = base64.b64decode(page.evaluate("window.picture()").split(",", 1)[1])
            picture = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
            assert read_counter(picture, (0, 0, picture.shape[1], picture.shape[0])) is not None
            page.screenshot(path=str(artifacts / f"broadcast-viewer-{index}.png"))
    finally:
        context.close()
