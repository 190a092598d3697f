"""The tap on two real in-process aiortc peers: encoded frames out, aiortc's decoder unfed."""

from __future__ import annotations

import asyncio
import itertools
import time

from aiortc import RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack

from media.tap import EncodedFrame, ReceiverTap, install_tap
from media.testing.synthetic import CounterVideoTrack


async def connect() -> tuple[RTCPeerConnection, RTCPeerConnection, asyncio.Future]:
    sender, receiver = RTCPeerConnection(), RTCPeerConnection()
    sender.addTrack(CounterVideoTrack((30, 160, 220)))
    taps: asyncio.Future[tuple[ReceiverTap, MediaStreamTrack]] = (
        asyncio.get_running_loop().create_future()
    )

    @receiver.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        rx = next(t.receiver for t in receiver.getTransceivers() if t.receiver.track is track)
        taps.set_result((install_tap(rx), track))

    await sender.setLocalDescription(await sender.createOffer())
    await receiver.setRemoteDescription(sender.localDescription)
    await receiver.setLocalDescription(await receiver.createAnswer())
    await sender.setRemoteDescription(receiver.localDescription)
    return sender, receiver, taps


async def test_tap_gives_encoded_vp8_frames_without_decoding() -> None:
    sender, receiver, taps = await connect()
    try:
        tap, _track = await asyncio.wait_for(taps, 10)
        frames: list[EncodedFrame] = []
        enough = asyncio.Event()

        def sink(frame: EncodedFrame) -> None:
            frames.append(frame)
            if len(frames) >= 10:
                enough.set()

        tap.add_sink(sink)
        await asyncio.wait_for(enough.wait(), 15)
        assert all(f.codec == "VP8" and f.kind == "video" for f in frames)
        assert frames[0].keyframe  # the first frame of a stream is a keyframe
        assert [f.rtp_timestamp for f in frames] == sorted(f.rtp_timestamp for f in frames)
        assert tap.qsize() == 0  # aiortc's decoder thread is given nothing
    finally:
        await sender.close()
        # The stop marker still reaches the decoder thread: the receiver stops and joins it.
        await asyncio.wait_for(receiver.close(), 10)


async def test_wall_time_follows_the_senders_clock_once_it_reports() -> None:
    sender, receiver, taps = await connect()
    try:
        tap, _track = await asyncio.wait_for(taps, 10)
        reported = asyncio.Event()
        follow = tap.sender_report

        def on_report(ntp: int, rtp: int, arrival: float) -> None:
            follow(ntp, rtp, arrival)
            reported.set()

        tap.sender_report = on_report  # type: ignore[method-assign]
        await asyncio.wait_for(reported.wait(), 10)  # aiortc reports every 0.5 to 1.5 s
        frames: list[EncodedFrame] = []
        enough = asyncio.Event()

        def sink(frame: EncodedFrame) -> None:
            frames.append(frame)
            arrivals.append(time.time())
            if len(frames) >= 15:
                enough.set()

        arrivals: list[float] = []
        tap.add_sink(sink)
        await asyncio.wait_for(enough.wait(), 10)
        # Same machine, same clock: the sender's capture time is a little before arrival.
        for frame, arrival in zip(frames, arrivals, strict=True):
            assert -0.05 <= arrival - frame.wall_time <= 0.5
        steps = [b.wall_time - a.wall_time for a, b in itertools.pairwise(frames)]
        assert all(0 < step < 0.2 for step in steps)  # 15 fps, in order
    finally:
        await sender.close()
        await receiver.close()
