"""The supervision wall through the real app: who may open it, what a supervisor receives, and
what is written to the session's record (standard 9: silent, read-only, notes archived).

A synthetic seat (Socket.IO + aiortc) sends a red camera, a tone and a desktop with a frame
counter; a WallClient (Socket.IO ``/wall`` + aiortc receive-only viewers) watches.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from media.testing.synthetic import (
    CounterVideoTrack,
    PreEncodedVideoTrack,
    ToneAudioTrack,
    desktop_loop,
)
from media.testing.testpattern import read_counter
from roomserver.model import Event, Role
from signaling.metrics import GRID_STAGES, VOICE_STAGES
from signaling.testing.seat import SyntheticSeat
from signaling.testing.wall import WallClient, WallError
from tests import polling
from tests.integration.conftest import RunningServer

TIMEOUT = 30.0
RED = (255, 0, 0)


async def wait_event(
    server: RunningServer, session_id: str, kind: str, /, *, within: float = 10.0, **data: Any
) -> Event:
    """The first event of `kind` in the session's log whose data has `data`."""
    return await polling.wait_event(server.services.store, session_id, kind, within=within, **data)


def supervisor_token(server: RunningServer) -> str:
    return server.token(server.participant(Role.SUPERVISOR))


@pytest.fixture
async def seat(room_server: RunningServer) -> AsyncIterator[SyntheticSeat]:
    """The first demo expert, online with camera, microphone and desktop."""
    expert = room_server.experts[0]
    async with SyntheticSeat(
        room_server.base_url,
        room_server.token(expert),
        camera=CounterVideoTrack(RED),
        microphone=ToneAudioTrack(440.0),
        desktop=PreEncodedVideoTrack(desktop_loop(seconds=2.0), fps=5),
        name="seat",
    ) as seat:
        yield seat


@pytest.mark.parametrize("role", [Role.EXPERT, Role.HOST, Role.ARCHIVIST])
async def test_only_supervisors_open_the_wall(room_server: RunningServer, role: Role) -> None:
    token = room_server.token(room_server.participant(role))
    with pytest.raises(WallError) as refused:
        await WallClient(room_server.base_url, token).connect()
    assert refused.value.code == "role_not_allowed"
    assert "监督" in refused.value.message
    session_id = room_server.demo.session.id
    await wait_event(room_server, session_id, "connect_refused", namespace="/wall")


async def test_invalid_token_is_refused(room_server: RunningServer) -> None:
    with pytest.raises(WallError) as refused:
        await WallClient(room_server.base_url, "nonsense").connect()
    assert refused.value.code == "invalid_token"


async def test_wall_lists_the_session_before_anyone_is_online(room_server: RunningServer) -> None:
    session = room_server.demo.session
    async with WallClient(room_server.base_url, supervisor_token(room_server)) as wall:
        rooms = await wall.wait_rooms(lambda rooms: len(rooms) == 1, TIMEOUT)
        assert wall.hello is not None and wall.hello["supervisor"]["scope"] == "session"
        info = rooms[0]
        assert info["session_id"] == session.id
        assert info["project_code"] == session.project_code
        assert info["live"] is False
        assert info["seats_online"] == 0
        assert info["seats_expected"] == len(room_server.experts)
        with pytest.raises(WallError) as refused:
            await wall.watch(session.id)
        assert refused.value.code == "not_found"  # nothing to watch yet


async def test_a_session_scoped_supervisor_sees_only_that_session(
    room_server: RunningServer,
) -> None:
    async with WallClient(room_server.base_url, supervisor_token(room_server)) as wall:
        await wall.wait_rooms(lambda rooms: len(rooms) == 1, TIMEOUT)
        with pytest.raises(WallError) as refused:
            await wall.note("some-other-session", "记录")
        assert refused.value.code == "not_your_room"


async def test_watch_and_focus_receive_the_room_and_the_seat_as_sent(
    room_server: RunningServer, seat: SyntheticSeat
) -> None:
    session_id = room_server.demo.session.id
    assert seat.seat is not None
    key = seat.seat["key"]
    media = room_server.media(session_id)
    assert media is not None
    async with WallClient(room_server.base_url, supervisor_token(room_server)) as wall:
        await wall.wait_rooms(
            lambda rooms: bool(rooms) and rooms[0]["live"] and rooms[0]["seats_online"] == 1,
            TIMEOUT,
        )
        subscribers = media.grid.subscribers
        watch = await wall.watch(session_id)
        grid = await watch.wait_frames("grid", 10, TIMEOUT)
        await watch.wait_frames("mix", 50, TIMEOUT)
        # The viewer is one more subscriber of the grid the room encodes anyway.
        assert media.grid.subscribers == subscribers + 1
        assert grid.size == seat.grid_size

        focus = await wall.focus(session_id, key)
        camera = await focus.wait_frames("camera", 10, TIMEOUT)
        desktop = await focus.wait_frames("desktop", 3, TIMEOUT)
        await focus.wait_frames("mix", 50, TIMEOUT)
        # As the seat sent them: the camera's own size and colour, the desktop with its counter.
        assert camera.size == (640, 480)
        assert camera.last_rgb is not None
        middle = camera.last_rgb[200:400, 200:500].reshape(-1, 3).mean(axis=0)
        assert middle[0] > 180 and middle[1] < 80 and middle[2] < 80, middle
        assert desktop.size == (1280, 720)
        assert desktop.last_rgb is not None
        assert read_counter(desktop.last_rgb, (0, 0, 640, 480)) is not None
        assert media.forwards.viewers(key, "camera") == 1

        await wall.unwatch(focus)
        ended = await wait_event(
            room_server, session_id, "supervision_ended", view="focus", seat=key
        )
        assert ended.data["seconds"] > 0
        assert ended.data["supervisor"] == room_server.participant(Role.SUPERVISOR).name
        assert media.forwards.viewers(key, "camera") == 0
    started = await wait_event(room_server, session_id, "supervision_started", view="watch")
    assert started.actor == room_server.participant(Role.SUPERVISOR).id
    await wait_event(
        room_server, session_id, "supervision_ended", view="watch", reason="wall_closed"
    )
    # A supervisor is never a seat: the roster has the one expert online and nobody else.
    room = room_server.services.rooms.find(session_id)
    assert room is not None and list(room.seats) == [key]


async def test_notes_and_warnings_are_recorded_and_a_warning_reaches_the_seat(
    room_server: RunningServer, seat: SyntheticSeat
) -> None:
    session_id = room_server.demo.session.id
    assert seat.seat is not None
    key = seat.seat["key"]
    async with WallClient(room_server.base_url, supervisor_token(room_server)) as wall:
        await wall.wait_rooms(lambda rooms: bool(rooms) and rooms[0]["live"], TIMEOUT)
        saved = await wall.note(session_id, "  1号机位专家多次离席，已提醒现场工作人员  ", seat=key)
        note = await wait_event(room_server, session_id, "supervision_note")
        assert note.seq == saved["seq"]
        assert note.data["text"] == "1号机位专家多次离席，已提醒现场工作人员"
        assert note.data["seat"] == key

        with pytest.raises(WallError) as refused:
            await wall.note(session_id, "   ")
        assert refused.value.code == "invalid_request"
        with pytest.raises(WallError) as refused:
            await wall.warn(session_id, "请注意", seat="no-such:99")
        assert refused.value.code == "not_found"

        sent = await wall.warn(session_id, "请勿使用手机", seat=key)
        assert sent["delivered"] == 1

        async def received() -> dict[str, Any]:
            while True:
                for event, data in seat.events:
                    if event == "warning" and data["id"] == sent["id"]:
                        return data
                await asyncio.sleep(0.05)

        shown = await asyncio.wait_for(received(), TIMEOUT)
        assert shown["text"] == "请勿使用手机" and shown["scope"] == "seat"
        await seat.ack_warning(sent["id"])
        again = await seat.ack_warning(sent["id"])
        assert again.get("already") is True
        acked = await wait_event(room_server, session_id, "warning_acknowledged", id=sent["id"])
        assert acked.data["seat"] == key
        events = await room_server.services.store.list_events(session_id)
        assert sum(1 for e in events if e.kind == "warning_acknowledged") == 1
        logged = await wait_event(room_server, session_id, "supervision_warning", id=sent["id"])
        assert logged.data["delivered"] == 1

        room_wide = await wall.warn(session_id, "全体专家请注意评审纪律")
        assert room_wide["delivered"] == 1


async def test_notes_reach_the_archive(room_server: RunningServer, seat: SyntheticSeat) -> None:
    session_id = room_server.demo.session.id
    async with WallClient(room_server.base_url, supervisor_token(room_server)) as wall:
        await wall.wait_rooms(lambda rooms: bool(rooms) and rooms[0]["live"], TIMEOUT)
        await wall.note(session_id, "评审过程正常")
    parts = sorted((room_server.config.archive_dir / session_id).glob("part-*/events.jsonl"))
    assert parts, f"no archive part under {room_server.config.archive_dir}"

    def archived() -> bool:
        return "评审过程正常" in parts[-1].read_text(encoding="utf-8")

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not archived():
        assert loop.time() < deadline, "the note never reached the archive's event log"
        await asyncio.sleep(0.05)


async def test_metrics_name_no_session_and_show_no_supervisor(
    room_server: RunningServer, seat: SyntheticSeat
) -> None:
    """/metrics, open to a scraper on this machine, shows the seat's frames while a
    supervisor watches the room, but neither the session nor that anybody watches."""
    session_id = room_server.demo.session.id
    assert seat.seat is not None
    key = seat.seat["key"]

    async def scrape() -> str:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{room_server.base_url}/metrics") as answer:
                assert answer.status == 200
                return await answer.text()

    async with WallClient(room_server.base_url, supervisor_token(room_server)) as wall:
        watch = await wall.watch(session_id)
        await watch.wait_frames("grid", 5, TIMEOUT)
        focus = await wall.focus(session_id, key)
        await focus.wait_frames("camera", 5, TIMEOUT)
        text = await scrape()
    families = list(text_string_to_metric_families(text))
    frames = {
        s.labels["kind"]: s.value
        for f in families
        for s in f.samples
        if s.name == "roomserver_inbound_frames_total" and s.labels.get("seat") == key
    }
    assert frames.get("camera", 0) > 0  # what the scraper is for is still there
    assert session_id not in text
    assert not [f.name for f in families if "subscriber" in f.name or "viewer" in f.name]
    labels = {k for f in families for s in f.samples for k in s.labels}
    # The archive's checks are labelled by copy (primary, replica) and verdict, nothing else;
    # the grid's and the voice's stages by their names (the grid's send stage counts a packet
    # once, however many receive it).
    allowed = {
        "worker",
        "seat",
        "kind",
        "code",
        "where",
        "thread",
        "le",
        "location",
        "result",
        "stage",
    }
    assert labels <= allowed, labels
    places = {
        s.labels[k]
        for f in families
        for s in f.samples
        for k in ("location", "result")
        if k in s.labels
    }
    assert places <= {"primary", "replica", "ok", "failed"}, places
    stages = {s.labels["stage"] for f in families for s in f.samples if "stage" in s.labels}
    assert stages <= set(GRID_STAGES) | set(VOICE_STAGES), stages
