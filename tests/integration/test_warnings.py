"""Automated warnings through the real app: a seat's camera shows a person, nobody, two people,
a black lens; the seat disconnects; experts are late. Each warning is logged with its evidence
picture in the archive and shown on the supervision wall.

Thresholds are configuration; the tests shorten the empty-seat one to 3 s.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from media.testing.synthetic import PictureVideoTrack, ToneAudioTrack
from roomserver.model import Event, Role
from roomserver.store import SqlStore
from signaling.testing.seat import SyntheticSeat
from signaling.testing.wall import WallClient
from tests import polling, scenes
from tests.integration.conftest import RunningServer, start_server

EMPTY_S = 3.0
SLACK_S = 5.0  # the bound: a warning within its threshold + 5 s
TIMEOUT = 30.0


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    test_server, running = await start_server(
        tmp_path / "data", "--seat-empty-seconds", str(EMPTY_S)
    )
    try:
        yield running
    finally:
        await test_server.close()


async def wait_event(
    server: RunningServer, kind: str, /, *, within: float = TIMEOUT, **data: Any
) -> Event:
    return await polling.wait_event(
        server.services.store, server.demo.session.id, kind, within=within, **data
    )


async def kinds_started(server: RunningServer) -> list[str]:
    events = await server.services.store.list_events(server.demo.session.id)
    return [e.data["kind"] for e in events if e.kind == "warning_started"]


def check_evidence(server: RunningServer, event: Event) -> Path:
    """The warning's picture is in the archive part, a JPEG with the digest the event cites."""
    evidence = event.data["evidence"]
    assert evidence is not None, f"{event.data['kind']} has no evidence picture"
    part = server.config.archive_dir / server.demo.session.id / f"part-{evidence['part']:04d}"
    path = part / evidence["path"]
    data = path.read_bytes()
    assert data[:3] == b"\xff\xd8\xff", "not a JPEG"
    assert hashlib.sha256(data).hexdigest() == evidence["sha256"]
    return path


async def test_camera_warnings_start_with_evidence_and_end(server: RunningServer) -> None:
    session_id = server.demo.session.id
    expert = server.experts[0]
    camera = PictureVideoTrack(scenes.one_person())
    supervisor = server.token(server.participant(Role.SUPERVISOR))
    async with (
        SyntheticSeat(
            server.base_url,
            server.token(expert),
            camera=camera,
            microphone=ToneAudioTrack(440.0),
            decode_grid=False,
        ) as seat,
        WallClient(server.base_url, supervisor) as wall,
    ):
        assert seat.seat is not None
        key = seat.seat["key"]
        media = server.media(session_id)
        assert media is not None and media.analysis is not None

        # A person at the seat: several samples past the threshold, and no warning.
        await polling.wait_until(
            lambda: media.analysis is not None and media.analysis.stats.samples >= 6,
            TIMEOUT,
            "six camera samples",
        )
        assert await kinds_started(server) == []

        loop = asyncio.get_running_loop()
        camera.show(scenes.empty_seat())
        shown = loop.time()
        empty = await wait_event(server, "warning_started", kind="seat_empty")
        assert loop.time() - shown <= EMPTY_S + SLACK_S
        assert empty.data["seat"] == key
        assert "擅离职守" in empty.data["message"]
        check_evidence(server, empty)
        rooms = await wall.wait_rooms(
            lambda rooms: any(w["kind"] == "seat_empty" for w in rooms[0]["warnings"]), TIMEOUT
        )
        shown_on_wall = next(w for w in rooms[0]["warnings"] if w["kind"] == "seat_empty")
        assert shown_on_wall["id"] == empty.data["id"]
        await check_snapshot_access(server, shown_on_wall["snapshot"], supervisor)

        camera.show(scenes.two_people())
        await wait_event(server, "warning_ended", id=empty.data["id"])
        extra = await wait_event(server, "warning_started", kind="extra_face")
        check_evidence(server, extra)

        camera.show(scenes.black(), pattern=False)
        dark = await wait_event(server, "warning_started", kind="camera_dark")
        check_evidence(server, dark)
        await wait_event(server, "warning_ended", id=extra.data["id"])

        camera.show(scenes.one_person(), pattern=True)
        ended = await wait_event(server, "warning_ended", id=dark.data["id"])
        assert ended.data["seconds"] > 0
        await wall.wait_rooms(lambda rooms: rooms[0]["warnings"] == [], TIMEOUT)


async def check_snapshot_access(server: RunningServer, url: str, supervisor: str) -> None:
    """The wall's snapshot link works for the supervisor, not for an expert or nobody."""
    expert = server.token(server.experts[1])
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.base_url}{url}?token={supervisor}") as answer:
            assert answer.status == 200
            assert (await answer.read())[:3] == b"\xff\xd8\xff"
        async with http.get(f"{server.base_url}{url}?token={expert}") as answer:
            assert answer.status == 403
        async with http.get(f"{server.base_url}{url}") as answer:
            assert answer.status == 401
        outside = url.rsplit("/", 1)[0] + "/..%2F..%2Fseal.json"
        async with http.get(f"{server.base_url}{outside}?token={supervisor}") as answer:
            assert answer.status == 400  # no picture's name: refused before any file is looked up


async def test_a_seat_that_drops_off_is_a_warning_until_it_is_back(
    server: RunningServer,
) -> None:
    expert = server.experts[0]
    seat = SyntheticSeat(
        server.base_url,
        server.token(expert),
        camera=PictureVideoTrack(scenes.one_person()),
        microphone=ToneAudioTrack(440.0),
        decode_grid=False,
    )
    await seat.start()
    assert seat.seat is not None
    key = seat.seat["key"]
    # A second expert keeps the room live while the first is away.
    async with SyntheticSeat(
        server.base_url,
        server.token(server.experts[1]),
        camera=PictureVideoTrack(scenes.one_person()),
        microphone=ToneAudioTrack(660.0),
        decode_grid=False,
    ):
        await seat.close()
        gone = await wait_event(server, "warning_started", kind="seat_disconnected", seat=key)
        check_evidence(server, gone)  # what the room looked like: the grid picture
        async with SyntheticSeat(
            server.base_url,
            server.token(expert),
            camera=PictureVideoTrack(scenes.one_person()),
            microphone=ToneAudioTrack(440.0),
            decode_grid=False,
        ):
            back = await wait_event(server, "warning_ended", id=gone.data["id"])
            assert back.data["reason"] == "cleared"


async def test_experts_not_there_after_the_start_are_late(tmp_path: Path) -> None:
    # The demo started 10 minutes ago (its start is 10 minutes after `demo_now`).
    test_server, server = await start_server(
        tmp_path / "data",
        "--late-minutes",
        "5",
        demo_now=datetime.now(UTC) - timedelta(minutes=20),
    )
    try:
        late = await wait_event(server, "warning_started", kind="late")
        assert "迟到" in late.data["message"]
        started = datetime.fromisoformat(late.data["started_at"])
        scheduled = server.demo.session.scheduled_start
        assert abs((started - scheduled).total_seconds() - 300) < 1
        # Every expert is late; each seat's warning is its own event, raised one by one.
        for expert in server.experts:
            seat = f"{expert.venue_id}:{expert.seat_no}"
            await wait_event(server, "warning_started", kind="late", seat=seat)
    finally:
        await test_server.close()


async def test_after_a_restart_an_expert_who_had_come_is_not_late(tmp_path: Path) -> None:
    """Lateness is about an expert's first arrival: an expert who came before the server
    restarted, and has not reconnected yet, is not late; those who never came are."""
    data = tmp_path / "data"
    # The demo starts now (10 minutes after `demo_now`); late after 3 seconds.
    late_args = ("--late-minutes", "0.05")
    demo_now = datetime.now(UTC) - timedelta(minutes=10)
    test_server, server = await start_server(data, *late_args, demo_now=demo_now)
    came = server.experts[0]
    try:
        async with SyntheticSeat(
            server.base_url,
            server.token(came),
            camera=PictureVideoTrack(scenes.one_person()),
            microphone=ToneAudioTrack(440.0),
            decode_grid=False,
        ) as seat:
            assert seat.seat is not None
            key = seat.seat["key"]
    finally:
        await test_server.close()
    # Whatever the first server logged, up to its very end, is before the restart.
    async with SqlStore(server.config.store) as store:
        last = max(e.seq for e in await store.list_events(server.demo.session.id))

    test_server, server = await start_server(data, *late_args, demo_now=demo_now)
    try:
        others = {f"{p.venue_id}:{p.seat_no}" for p in server.experts if p.id != came.id}

        async def late_after_restart() -> set[str]:
            events = await server.services.store.list_events(server.demo.session.id, last)
            return {
                e.data["seat"]
                for e in events
                if e.kind == "warning_started" and e.data["kind"] == "late"
            }

        # Seats are looked at in roster order, the expert who came first: once every other
        # seat is late, that one has been looked at too.
        deadline = asyncio.get_running_loop().time() + TIMEOUT
        while not others <= (late := await late_after_restart()):
            assert asyncio.get_running_loop().time() < deadline, f"late after restart: {late}"
            await asyncio.sleep(0.1)  # the log has no push: polled
        assert key not in late
    finally:
        await test_server.close()


async def test_a_seat_that_never_shares_its_desktop_is_a_warning(tmp_path: Path) -> None:
    """Connected without a desktop for the grace time: 桌面未共享, until the desktop comes."""
    test_server, server = await start_server(
        tmp_path / "data", "--warning-threshold", "desktop_missing_s=2"
    )
    expert = server.experts[0]
    try:
        async with SyntheticSeat(
            server.base_url,
            server.token(expert),
            camera=PictureVideoTrack(scenes.one_person()),
            microphone=ToneAudioTrack(440.0),
            decode_grid=False,
        ) as seat:
            assert seat.seat is not None
            key = seat.seat["key"]
            missing = await wait_event(server, "warning_started", kind="desktop_missing")
            assert missing.data["seat"] == key
            assert "桌面未共享" in missing.data["message"]
            # The expert opens the seat again, this time sharing the desktop (the newer
            # connection takes the seat).
            async with SyntheticSeat(
                server.base_url,
                server.token(expert),
                camera=PictureVideoTrack(scenes.one_person()),
                microphone=ToneAudioTrack(440.0),
                desktop=PictureVideoTrack(scenes.empty_seat()),
                decode_grid=False,
            ):
                ended = await wait_event(server, "warning_ended", id=missing.data["id"])
                assert ended.data["reason"] == "cleared"
    finally:
        await test_server.close()
