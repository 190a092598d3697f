"""Room monitoring cameras over RTSP, through the real app: a local RTSP camera (GStreamer) is
shown to the supervisor and recorded as it comes; stopping it raises room_camera_down and
starting it again recovers; a malformed camera URL is a status and a warning, never a crash.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image

from media.testing.synthetic import CounterVideoTrack, ToneAudioTrack
from recorder.verify import verify_archive
from roomserver.model import Event, Role
from signaling.testing.seat import SyntheticSeat
from signaling.testing.wall import WallClient
from tests import polling, scenes
from tests.e2e.conftest import free_port
from tests.integration.conftest import RunningServer, start_server
from tests.rtsp import RtspSource, require_gstreamer

TIMEOUT = 45.0


@pytest.fixture
def rtsp() -> Iterator[RtspSource]:
    yield from RtspSource(free_port()).running()


@pytest.fixture
async def server(tmp_path: Path, rtsp: RtspSource) -> AsyncIterator[RunningServer]:
    # The demo's main venue id is only known once the demo exists: a first start makes it.
    probe, running = await start_server(tmp_path / "data")
    venue = running.demo.session.main_venue_id
    await probe.close()
    test_server, running = await start_server(
        tmp_path / "data",
        "--room-camera",
        f"{venue}={rtsp.url}",
        "--room-camera",
        f"{venue}=not a camera",
    )
    try:
        yield running
    finally:
        await test_server.close()


async def wait_event(server: RunningServer, kind: str, /, **data: Any) -> Event:
    return await polling.wait_event(
        server.services.store, server.demo.session.id, kind, within=TIMEOUT, **data
    )


def cameras_in(rooms: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["label"]: c for room in rooms for c in room.get("cameras", [])}


async def test_a_room_camera_is_shown_recorded_and_watched_for(
    server: RunningServer, rtsp: RtspSource
) -> None:
    session_id = server.demo.session.id
    supervisor = server.token(server.participant(Role.SUPERVISOR))
    async with (
        SyntheticSeat(
            server.base_url,
            server.token(server.experts[0]),
            camera=CounterVideoTrack((200, 60, 40)),
            microphone=ToneAudioTrack(440.0),
            decode_grid=False,
        ),
        WallClient(server.base_url, supervisor) as wall,
    ):
        rooms = await wall.wait_rooms(
            lambda rooms: any(c["state"] == "up" for c in cameras_in(rooms).values()), TIMEOUT
        )
        cameras = cameras_in(rooms)
        good = next(c for c in cameras.values() if c["state"] == "up")
        bad = next(c for c in cameras.values() if c is not good)
        assert good["codec"] == "VP8" and good["recorded"] is True
        assert bad["state"] == "invalid" and "rtsp://" in bad["detail"]
        assert "not a camera" not in json.dumps(rooms)  # no URL on the wall

        viewer = await wall.watch_camera(session_id, good["id"])
        received = await viewer.wait_frames("roomcam", 15, TIMEOUT)
        assert received.size == (640, 480)

        # The bad URL is a warning, and the room goes on.
        await wait_event(server, "warning_started", seat=f"camera:{bad['id']}")

        rtsp.stop()
        down = await wait_event(server, "warning_started", seat=f"camera:{good['id']}")
        assert down.data["kind"] == "room_camera_down"
        assert down.data["evidence"] is not None  # what the room looked like meanwhile
        rtsp.start()
        back = await wait_event(server, "warning_ended", id=down.data["id"])
        assert back.data["reason"] == "cleared"
        await wall.wait_rooms(
            lambda rooms: cameras_in(rooms)[good["label"]]["state"] == "up", TIMEOUT
        )

        # The first connection's recording was closed as a segment of the camera's track.
        part = server.config.archive_dir / session_id / "part-0001"
        journal = (part / "segments.jsonl").read_text(encoding="utf-8").splitlines()
        tracks = {json.loads(line)["track"] for line in journal if line.strip()}
        assert f"room-camera-{good['id']}" in tracks
        states = [
            e.data["state"]
            for e in await server.services.store.list_events(session_id)
            if e.kind == "room_camera" and e.data["id"] == good["id"]
        ]
        assert states[:3] == ["up", "down", "up"]


async def test_more_people_in_the_room_camera_than_belong_in_the_room(tmp_path: Path) -> None:
    """丹东's room camera sees three people while its one expert is seated: the expert and the
    venue's member of staff belong there, the third person does not."""
    require_gstreamer()
    picture = tmp_path / "three-people.jpg"
    Image.fromarray(scenes.three_people()).save(picture, quality=92)
    source = RtspSource(free_port(), picture)
    source.start()
    probe, running = await start_server(tmp_path / "data")
    venue = running.demo.venues[2].id  # 丹东: one expert seat, one member of staff
    await probe.close()
    test_server, server = await start_server(
        tmp_path / "data", "--room-camera", f"{venue}={source.url}"
    )
    try:
        expert = next(p for p in server.experts if p.venue_id == venue)
        async with SyntheticSeat(
            server.base_url,
            server.token(expert),
            camera=CounterVideoTrack((200, 60, 40)),
            microphone=ToneAudioTrack(440.0),
            decode_grid=False,
        ):
            started = await wait_event(server, "warning_started", kind="room_camera_person")
            assert started.data["seat"].startswith("camera:")
            assert "监控" in started.data["label"]
            assert started.data["evidence"] is not None
    finally:
        await test_server.close()
        source.stop()


async def test_a_camera_kept_with_its_venue_is_watched_as_one_configured(
    tmp_path: Path,
) -> None:
    """A room camera set on the venue's record (the administration's page, 5.4.5) rather than
    in the server's configuration is pulled, shown and analysed the same way."""
    require_gstreamer()
    picture = tmp_path / "three-people.jpg"
    Image.fromarray(scenes.three_people()).save(picture, quality=92)
    source = RtspSource(free_port(), picture)
    source.start()
    test_server, server = await start_server(tmp_path / "data")
    try:
        venue = server.demo.venues[2].id  # 丹东: one expert seat, one member of staff
        await server.services.store.places.update_venue(
            venue, camera_urls=(source.url,), now=datetime.now(UTC)
        )
        expert = next(p for p in server.experts if p.venue_id == venue)
        async with SyntheticSeat(
            server.base_url,
            server.token(expert),
            camera=CounterVideoTrack((200, 60, 40)),
            microphone=ToneAudioTrack(440.0),
            decode_grid=False,
        ):
            started = await wait_event(server, "warning_started", kind="room_camera_person")
            assert started.data["seat"].startswith("camera:")
            assert "监控" in started.data["label"]
    finally:
        await test_server.close()
        source.stop()


async def test_a_room_camera_counts_the_venues_staff_witness_and_host(tmp_path: Path) -> None:
    """The people who belong in a venue besides its seated experts reach the analysis of its
    room camera: the main venue's host, member of staff and witness; a sub venue's staff."""
    probe, running = await start_server(tmp_path / "data")
    main, _, dandong = (v.id for v in running.demo.venues)
    await probe.close()
    unreachable = "rtsp://127.0.0.1:9/none"  # the camera is down; what it may see is set anyway
    test_server, server = await start_server(
        tmp_path / "data",
        "--room-camera",
        f"{main}={unreachable}",
        "--room-camera",
        f"{dandong}={unreachable}",
    )
    try:
        async with SyntheticSeat(
            server.base_url,
            server.token(server.experts[0]),
            camera=CounterVideoTrack((200, 60, 40)),
            microphone=ToneAudioTrack(440.0),
            decode_grid=False,
        ):
            room = server.services.rooms.find(server.demo.session.id)
            assert room is not None
            cameras = {c["label"]: c["id"] for c in room.cameras.values()}
            media = server.media(server.demo.session.id)
            assert media is not None and media.analysis is not None
            allowed = {
                label: media.analysis.attendants(f"camera:{camera}")
                for label, camera in cameras.items()
            }
            assert allowed == {"沈阳主场 · 监控1": 3, "丹东副场 · 监控1": 1}
    finally:
        await test_server.close()


async def test_an_h264_camera_is_recorded_and_shown_as_it_comes(tmp_path: Path) -> None:
    """Most IP cameras send H.264: recorded (fragmented MP4) and shown without transcoding."""
    require_gstreamer()
    source = RtspSource(free_port(), h264=True)
    source.start()
    probe, running = await start_server(tmp_path / "data")
    venue = running.demo.session.main_venue_id
    await probe.close()
    test_server, server = await start_server(
        tmp_path / "data", "--room-camera", f"{venue}={source.url}"
    )
    session_id = server.demo.session.id
    try:
        async with (
            SyntheticSeat(
                server.base_url,
                server.token(server.experts[0]),
                camera=CounterVideoTrack((200, 60, 40)),
                microphone=ToneAudioTrack(440.0),
                decode_grid=False,
            ),
            WallClient(server.base_url, server.token(server.participant(Role.SUPERVISOR))) as wall,
        ):
            rooms = await wall.wait_rooms(
                lambda rooms: any(c["state"] == "up" for c in cameras_in(rooms).values()),
                TIMEOUT,
            )
            camera = next(iter(cameras_in(rooms).values()))
            assert camera["codec"] == "H264"
            assert camera["recorded"] is True and camera["viewable"] is True
            # Shown as sent: H.264 negotiated with the viewer, its SPS/PPS before keyframes.
            viewer = await wall.watch_camera(session_id, camera["id"])
            received = await viewer.wait_frames("roomcam", 15, TIMEOUT)
            assert received.size == (640, 480)
            folder = server.config.archive_dir / session_id / "part-0001" / "media"
            track = folder / f"room-camera-{camera['id']}"
            await polling.wait_until(
                lambda: any(p.stat().st_size > 20_000 for p in track.glob("*.mp4")),
                TIMEOUT,
                "the camera's first fragments on disk",
            )
        # The room is closed (sealed as interrupted) with the server: the segment is whole.
    finally:
        await test_server.close()
        source.stop()
    segments = sorted(track.glob("*.mp4"))
    assert segments, f"no MP4 segment in {track}"
    with av.open(str(segments[0])) as played:
        stream = played.streams.video[0]
        frames = sum(1 for _ in played.decode(stream))
        assert stream.codec_context.name == "h264"
        assert (stream.codec_context.width, stream.codec_context.height) == (640, 480)
    assert frames >= 15
    report = verify_archive(server.config.archive_dir / session_id)
    assert report.differences == [], report.differences
