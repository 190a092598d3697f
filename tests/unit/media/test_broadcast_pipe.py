"""The pipe between workers: the origin's packets, whole frames and keyframes at the relay."""

from __future__ import annotations

import asyncio

from media.broadcast import Packetizer, RtpFrame, StreamSpec
from media.broadcastpipe import PipeOrigin, PipeRelay
from media.broadcastviewer import Broadcast, segment_runs
from tests.unit.media.test_broadcast import vp8_frames

CAMERA = StreamSpec("camera", "video", "VP8", 90_000, ssrc=0x01020304, payload_type=96)
SOUND = StreamSpec("sound", "audio", "opus", 48_000, ssrc=0x05060708, payload_type=111)


class Collector:
    """An outlet that keeps every frame it is given and says when it has enough."""

    def __init__(self, enough: int) -> None:
        self.frames: list[RtpFrame] = []
        self._enough = enough
        self.done = asyncio.Event()

    def send_frame(self, frame: RtpFrame) -> int:
        self.frames.append(frame)
        if len(self.frames) >= self._enough:
            self.done.set()
        return len(frame.packets)


async def test_a_relay_gets_the_origins_frames_as_they_were_made() -> None:
    asked = asyncio.Event()
    origin_side = Broadcast([CAMERA, SOUND], name="hall", keyframe_requests={"camera": asked.set})
    await origin_side.start()
    origin = PipeOrigin(origin_side)
    relay = PipeRelay([CAMERA, SOUND], origin=await origin.start(), name="hall")
    try:
        origin.add_relay(await relay.start())
        camera, sound = Collector(6), Collector(6)
        relay.broadcast.streams["camera"].add_outlet(camera)
        relay.broadcast.streams["sound"].add_outlet(sound)
        video = Packetizer(CAMERA, first_sequence=10, timestamp_origin=0)
        audio = Packetizer(SOUND, first_sequence=20, timestamp_origin=0)
        made = []
        for index, packet in enumerate(vp8_frames(6)):
            frame = video.frame(
                bytes(packet), index * 3000, keyframe=packet.is_keyframe, wall_time=100.0 + index
            )
            assert frame is not None
            made.append(frame)
            origin_side.streams["camera"].publish(frame)
            spoken = audio.frame(b"\xfc\x01", index * 960, keyframe=True, wall_time=100.0 + index)
            assert spoken is not None
            origin_side.streams["sound"].publish(spoken)
        await asyncio.wait_for(camera.done.wait(), 5)
        await asyncio.wait_for(sound.done.wait(), 5)
        # The same packets, frame by frame; the keyframe found again in the payload.
        assert [f.packets for f in camera.frames] == [f.packets for f in made]
        assert [f.keyframe for f in camera.frames] == [True] + [False] * 5
        assert all(len(f.packets) == 1 for f in sound.frames)
        assert relay.gaps == 0
        # A viewer of the relay lost a picture: the origin's source is asked for a keyframe.
        relay.broadcast.streams["camera"].request_keyframe()
        await asyncio.wait_for(asked.wait(), 5)
        assert origin.keyframe_requests == 1
    finally:
        await relay.close()
        await origin.close()
        await origin_side.close()


def test_runs_of_one_size_are_segmented_together() -> None:
    # A frame cut into equal parts, the last one shorter: one run.
    assert segment_runs([1300, 1300, 1300, 700]) == [(0, 4)]
    # A shorter datagram ends a run; a longer one starts a new one.
    assert segment_runs([1300, 700, 1300, 1300]) == [(0, 2), (2, 4)]
    assert segment_runs([500, 1300, 1300]) == [(0, 1), (1, 3)]
    assert segment_runs([80]) == [(0, 1)]
    # At most 64 segments, and at most 60 000 bytes, in one run.
    assert segment_runs([100] * 70) == [(0, 64), (64, 70)]
    assert segment_runs([1300] * 50) == [(0, 46), (46, 50)]
