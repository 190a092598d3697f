"""Seat inputs decoded where they are used: cameras by the grid's thread, microphones inline."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import av
import numpy as np

from media.config import MediaConfig
from media.decode import CameraDecoder, MicrophoneDecoder
from media.grid import GridCompositor, TileSpec, tile_rects
from media.room import RoomMedia
from media.tap import EncodedFrame, is_vp8_keyframe
from media.testing.synthetic import camera_loop, tone_loop
from media.testing.testpattern import read_counter

FULL = (0, 0, 640, 480)


def encoded(packet: av.Packet | bytes, index: int, codec: str = "VP8") -> EncodedFrame:
    data = bytes(packet)
    video = codec == "VP8"
    return EncodedFrame(
        kind="video" if video else "audio",
        codec=codec,
        data=data,
        rtp_timestamp=index * (6000 if video else 960),
        clock_rate=90_000 if video else 48_000,
        keyframe=is_vp8_keyframe(data) if video else True,
        wall_time=1_700_000_000 + index / 15,
    )


def counter_of(picture: av.VideoFrame | None) -> int | None:
    assert picture is not None
    return read_counter(picture.to_ndarray(format="rgb24"), FULL)


async def test_camera_starts_on_a_keyframe_and_keeps_the_newest_picture() -> None:
    packets = camera_loop((200, 60, 40), seconds=2, keyframe_interval=10)
    asked: list[str] = []
    camera = CameraDecoder(request_keyframe=lambda: asked.append("pli"))
    # Frames 1..9 come before any keyframe (a seat joined mid-stream): nothing to decode yet.
    for index in range(1, 10):
        camera.push(encoded(packets[index], index))
    assert camera.pending() == 0
    assert camera.decode_pending() is None
    for index in range(10, 14):
        camera.push(encoded(packets[index], index))
    assert camera.pending() == 4
    # Decoded in the consumer's thread, every frame in order; the picture is the newest.
    picture = await asyncio.to_thread(camera.decode_pending)
    assert camera.frames_decoded == 4 and camera.pending() == 0
    assert counter_of(picture) == 13
    assert asked == []


async def test_camera_backlog_is_dropped_and_a_keyframe_asked_for() -> None:
    packets = camera_loop((40, 60, 200), seconds=2, keyframe_interval=10)
    asked: list[str] = []
    drops: list[int] = []
    camera = CameraDecoder(request_keyframe=lambda: asked.append("pli"), on_drop=drops.append)
    camera.push(encoded(packets[0], 0))
    for index in range(1, 5):  # nobody decodes: the consumer has stalled
        camera.push(encoded(packets[index], index))
    camera._max_pending = 5
    camera.push(encoded(packets[5], 5))
    assert drops == [6] and asked == ["pli"] and camera.pending() == 0
    # Until the next keyframe nothing is kept: an inter frame would decode to garbage.
    for index in range(6, 10):
        camera.push(encoded(packets[index], index))
    assert camera.pending() == 0
    camera.push(encoded(packets[10], 10))
    assert counter_of(camera.decode_pending()) == 10


async def test_a_frame_that_does_not_decode_asks_for_a_keyframe() -> None:
    packets = camera_loop((40, 160, 60), seconds=2, keyframe_interval=10)
    asked = asyncio.Event()
    camera = CameraDecoder(request_keyframe=asked.set)
    camera.push(encoded(packets[0], 0))
    assert counter_of(await asyncio.to_thread(camera.decode_pending)) == 0
    # A keyframe tag on a few bytes of garbage: the decoder refuses it.
    camera.push(encoded(b"\x00\x00\x00\x9d\x01\x2a\x80\x02", 1))
    camera.push(encoded(packets[2], 2))
    picture = await asyncio.to_thread(camera.decode_pending)
    await asyncio.wait_for(asked.wait(), 5)  # delivered on the event loop
    assert camera.decode_errors == 1 and counter_of(picture) == 0
    camera.push(encoded(packets[3], 3))  # not a keyframe: still waiting for one
    assert camera.pending() == 0
    camera.push(encoded(packets[10], 10))
    assert counter_of(camera.decode_pending()) == 10


def test_microphone_frames_reach_the_mixer_as_mono_s16() -> None:
    delivered: list[av.AudioFrame] = []
    microphone = MicrophoneDecoder(delivered.append)
    packets = tone_loop(440.0, seconds=0.2)
    for index, packet in enumerate(packets):
        microphone.push(encoded(packet, index, codec="opus"))
    assert microphone.frames_decoded == len(packets) == len(delivered)
    shapes = {(f.format.name, f.layout.name, f.sample_rate, f.samples) for f in delivered}
    assert shapes == {("s16", "mono", 48_000, 960)}
    samples = np.concatenate([f.to_ndarray().reshape(-1) for f in delivered[2:]])
    assert np.abs(samples).max() > 3000  # the tone, not silence
    # A codec the room cannot decode costs its frames, not the seat's connection.
    microphone.push(encoded(b"\xff" * 160, len(packets), codec="PCMU"))
    assert microphone.decode_errors == 1 and len(delivered) == len(packets)


async def test_the_grid_shows_a_camera_it_decodes_itself() -> None:
    grid = GridCompositor(MediaConfig(grid_fps=30))
    grid.set_tiles([TileSpec("v:1", "1号机位")])
    camera = CameraDecoder(request_keyframe=lambda: None)
    grid.set_source("v:1", camera)
    packets = camera_loop((200, 60, 40), seconds=1, keyframe_interval=10, motion=False)
    for index in range(6):
        camera.push(encoded(packets[index], index))
    # The roster changes without the seat: its camera stays attached and is still decoded.
    grid.set_tiles([TileSpec("v:2", "2号机位")])
    grid.set_tiles([TileSpec("v:1", "1号机位")])
    async with grid:
        track = grid.subscribe()
        decoder = av.CodecContext.create("libvpx", "r")
        pictures = [f for _ in range(3) for f in decoder.decode(await track.recv())]
    assert camera.pending() == 0 and camera.frames_decoded == 6
    rgb = pictures[-1].to_ndarray(format="rgb24")
    assert read_counter(rgb, tile_rects(1)[0]) == 5


async def test_a_camera_not_decoded_keeps_nothing_and_restarts_on_a_keyframe() -> None:
    packets = camera_loop((200, 60, 40), seconds=2, keyframe_interval=10, motion=False)
    asked: list[str] = []
    camera = CameraDecoder(request_keyframe=lambda: asked.append("pli"))
    for index in range(0, 4):
        camera.push(encoded(packets[index], index))
    await asyncio.to_thread(camera.decode_pending)
    assert camera.picture is not None and camera.decoding
    camera.set_decoding(False)
    assert camera.picture is None and camera.pending() == 0 and asked == []
    for index in range(4, 12):  # a keyframe among them: still nothing kept
        camera.push(encoded(packets[index], index))
    assert camera.pending() == 0 and camera.frames_dropped == 0
    camera.set_decoding(True)
    assert asked == ["pli"]
    for index in range(12, 22):  # decoding starts again at the keyframe 20
        camera.push(encoded(packets[index], index))
    assert camera.pending() == 2
    assert counter_of(await asyncio.to_thread(camera.decode_pending)) == 21


async def test_a_still_at_full_size_comes_from_the_next_keyframe() -> None:
    packets = camera_loop((40, 160, 60), seconds=2, keyframe_interval=10, motion=False)
    asked: list[str] = []
    camera = CameraDecoder(request_keyframe=lambda: asked.append("pli"))
    camera.set_decoding(False)
    still = asyncio.create_task(camera.fresh_picture(within_s=5))
    await asyncio.sleep(0)  # the task asks for its keyframe
    assert asked == ["pli"]
    for index in range(11, 21):
        camera.push(encoded(packets[index], index))
    picture = await still
    assert picture is not None and (picture.width, picture.height) == (640, 480)
    assert counter_of(picture) == 20
    # No keyframe in time: no still.
    assert await camera.fresh_picture(within_s=0.05) is None


async def test_the_grid_shows_the_preview_and_the_camera_without_one() -> None:
    room = RoomMedia(MediaConfig(grid_fps=30), name="test")
    room.set_tiles([TileSpec("v:1", "1号机位")])
    asked: list[str] = []
    camera = room.attach_camera("v:1", request_keyframe=lambda: asked.append("camera"))
    preview = room.attach_camera(
        "v:1", request_keyframe=lambda: asked.append("preview"), role="preview"
    )
    # The camera is shown until the preview's first keyframe.
    assert camera.decoding and not preview.decoding
    big = camera_loop((200, 60, 40), seconds=1, keyframe_interval=10, motion=False)
    little = camera_loop(
        (40, 60, 200),
        seconds=1,
        bitrate=150_000,
        keyframe_interval=10,
        motion=False,
        size=(320, 240),
    )
    camera.push(encoded(big[0], 0))
    assert camera.pending() == 1
    # Then the preview is shown; the camera is not decoded (only recorded and forwarded).
    for index in range(6):
        preview.push(encoded(little[index], index + 100))
        camera.push(encoded(big[index + 1], index + 1))
    assert preview.decoding and not camera.decoding
    assert camera.pending() == 0 and preview.pending() == 6
    async with room.grid:
        track = room.grid_track()
        decoder = av.CodecContext.create("libvpx", "r")
        pictures = [f for _ in range(3) for f in decoder.decode(await track.recv())]
        assert preview.frames_decoded == 6 and camera.frames_decoded == 0
        # The preview is blue, the camera red: the tile is the preview's.
        tile = tile_rects(1)[0]
        rgb = pictures[-1].to_ndarray(format="rgb24")
        assert read_counter(rgb, tile) == 5
        x, y, w, h = tile
        red, _, blue = rgb[y + h - 20 : y + h - 5, x + 5 : x + w - 5].reshape(-1, 3).mean(axis=0)
        assert blue > red
        # The preview ends: the camera is decoded again, from a keyframe it is asked for.
        await room.detach("v:1", "preview", preview)
        assert camera.decoding and asked == ["preview", "camera"]
        for index in range(10, 13):
            camera.push(encoded(big[index], index))
        assert camera.pending() == 3
    await room.close()


async def test_the_grid_tells_the_time_a_frame_spends_in_each_stage() -> None:
    """From the camera's sender clock to its arrival, to the tick that decodes it, composing,
    encoding, and the packet's wait for a sender: once a packet, however many receive it."""
    stages: list[tuple[str, float]] = []
    grid = GridCompositor(MediaConfig(grid_fps=30))
    grid.on_stage = lambda stage, seconds: stages.append((stage, seconds))
    grid.set_tiles([TileSpec("a", "A")])
    camera = CameraDecoder(request_keyframe=lambda: None)
    grid.set_source("a", camera)
    packets = camera_loop((200, 60, 40), seconds=1)
    sent = time.time() - 0.05  # sent 50 ms before it arrives
    frame = encoded(packets[0], 0)
    camera.push(dataclasses.replace(frame, wall_time=sent))
    async with grid:
        first, second = grid.subscribe(), grid.subscribe()
        for _ in range(6):
            await asyncio.wait_for(first.recv(), 5)
            await asyncio.wait_for(second.recv(), 5)
    told = {stage for stage, _ in stages}
    assert told == {"ingress", "wait", "compose", "encode", "send"}
    (ingress,) = [s for stage, s in stages if stage == "ingress"]  # one camera frame
    assert 0.05 <= ingress < 1.0
    assert all(0 <= s < 1.0 for _, s in stages)
    # Twelve packets taken by two subscribers: six told (and one per frame encoded at most).
    sends = [s for stage, s in stages if stage == "send"]
    assert 6 <= len(sends) <= len([s for stage, s in stages if stage == "encode"]) + 1
