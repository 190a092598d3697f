"""A broadcast stream to real in-process aiortc viewers: keyframes first, NACKs answered."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from fractions import Fraction

import av
import pytest
from aiortc import RTCConfiguration
from aiortc.rtp import RTCP_PSFB_PLI, RtcpPsfbPacket

from media.broadcast import Packetizer, StreamSpec
from media.broadcastviewer import Broadcast, BroadcastViewer, _RtcpSink
from media.testing.testpattern import solid_frame
from signaling.testing.broadcast import BroadcastWatcher

SPEC = StreamSpec("camera", "video", "VP8", 90_000, ssrc=0x0BADCAFE, payload_type=96)
FPS = 30


class CounterSource:
    """A camera encoded here, its frame counter drawn in: a keyframe when asked for one."""

    def __init__(self, broadcast: Broadcast) -> None:
        self._stream = broadcast.streams["camera"]
        self._packetizer = Packetizer(SPEC, first_sequence=1000, timestamp_origin=5)
        self._encoder = av.CodecContext.create("libvpx", "w")
        self._encoder.width, self._encoder.height = 640, 480
        self._encoder.pix_fmt = "yuv420p"
        self._encoder.time_base = Fraction(1, FPS)
        self._encoder.bit_rate = 400_000
        self._encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        self.keyframe_wanted = True
        self.keyframes_asked = 0
        self.asked = asyncio.Event()

    def request_keyframe(self) -> None:
        self.keyframes_asked += 1
        self.keyframe_wanted = True
        self.asked.set()

    async def run(self) -> None:
        for index in itertools.count():
            picture = av.VideoFrame.from_ndarray(
                solid_frame((30, 120, 200), index), format="rgb24"
            ).reformat(format="yuv420p")
            picture.pts = index
            if self.keyframe_wanted:
                picture.pict_type = av.video.frame.PictureType.I
                self.keyframe_wanted = False
            for packet in self._encoder.encode(picture):
                frame = self._packetizer.frame(
                    bytes(packet), index * 3000, keyframe=packet.is_keyframe, wall_time=0.0
                )
                assert frame is not None
                self._stream.publish(frame)
            await asyncio.sleep(1 / FPS)  # the camera's own pace


@pytest.fixture
async def broadcast() -> AsyncIterator[tuple[Broadcast, CounterSource]]:
    source: CounterSource | None = None
    broadcast = Broadcast(
        [SPEC],
        name="hall",
        keyframe_requests={"camera": lambda: source and source.request_keyframe()},
    )
    source = CounterSource(broadcast)
    await broadcast.start()
    task = asyncio.create_task(source.run())
    try:
        yield broadcast, source
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await broadcast.close()


async def connect(broadcast: Broadcast) -> tuple[BroadcastViewer, BroadcastWatcher]:
    viewer = BroadcastViewer(broadcast, configuration=RTCConfiguration(), name="v")
    watcher = BroadcastWatcher([("video", "camera")], tap=True)
    sdp, roles = await watcher.offer()
    await watcher.accept(await viewer.negotiate(sdp, [roles[mid] for mid in sorted(roles)]))
    return viewer, watcher


async def test_a_viewer_starts_at_a_keyframe_and_sees_every_frame(broadcast) -> None:
    hall, source = broadcast
    viewer, watcher = await connect(hall)
    try:
        await watcher.wait_frames("camera", 30, 20)
        camera = watcher.streams["camera"]
        assert camera.first_keyframe is True
        assert source.keyframes_asked >= 1  # asked for when the viewer joined
        counters = camera.counters
        assert counters == list(range(counters[0], counters[0] + len(counters)))
    finally:
        await watcher.close()
        await viewer.close()


async def test_lost_packets_are_sent_again_when_the_viewer_asks(broadcast) -> None:
    hall, _source = broadcast
    viewer, watcher = await connect(hall)
    dropped: list[int] = []
    try:
        await watcher.wait_frames("camera", 5, 20)
        # The viewer's network loses one packet of the camera in 15 (never a retransmission,
        # which comes on the RTX stream).
        transport = watcher.pc.getTransceivers()[0].receiver.transport
        handle = transport._handle_rtp_data

        async def lossy(data: bytes, arrival_time_ms: int) -> None:
            sequence = int.from_bytes(data[2:4], "big")
            ssrc = int.from_bytes(data[8:12], "big")
            if ssrc == SPEC.ssrc and sequence % 15 == 0 and sequence not in dropped:
                dropped.append(sequence)
                return
            await handle(data, arrival_time_ms)

        transport._handle_rtp_data = lossy
        before = len(watcher.streams["camera"].counters)
        await watcher.wait_frames("camera", 45, 20)
        counters = watcher.streams["camera"].counters[before:]
        assert len(dropped) >= 3
        assert viewer.streams[0].retransmitted >= len(dropped) - 1
        # Every frame came whole, in order: nothing lost was missed.
        assert counters == list(range(counters[0], counters[0] + len(counters)))
    finally:
        await watcher.close()
        await viewer.close()


async def test_a_picture_loss_report_asks_the_source_for_a_keyframe(broadcast) -> None:
    hall, source = broadcast
    viewer, watcher = await connect(hall)
    try:
        await watcher.wait_frames("camera", 5, 20)
        source.asked.clear()
        sink = _RtcpSink(viewer.streams[0])
        await sink._handle_rtcp_packet(
            RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=SPEC.ssrc)
        )
        await asyncio.wait_for(source.asked.wait(), 5)  # at once, or when the throttle allows
    finally:
        await watcher.close()
        await viewer.close()
