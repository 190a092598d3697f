"""The hall's media, through the real server: the demo's opening has its room on a worker from
the server's start, with nobody in it, and its broadcast plays the information screen to a real
aiortc viewer over ``/hall``; a bidder who speaks is heard in the broadcast's sound until the
host mutes it; the public watches but cannot speak (refused, with the reason, and logged); and
the hall's archive part records the screen and the mix, sealed and verified when the server
stops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp.test_utils import TestServer
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaBlackhole
from aiortc.rtcconfiguration import RTCBundlePolicy

from media.testing.synthetic import CounterVideoTrack, ToneAudioTrack
from recorder.manifest import Manifest
from recorder.verify import verify_archive
from roomserver.model import Participant, Role
from signaling.http.api import SERVICES
from signaling.http.links import issue_link, unrostered_link
from signaling.testing.broadcast import BroadcastWatcher
from signaling.worker.inprocess import InProcessWorker
from tests import polling
from tests.integration.conftest import RunningServer, start_server
from tests.integration.opening_support import person as opening_person
from tests.integration.platform_support import Admin, iso

# The information screen is 1280x720 at 2 pictures a second.
SCREEN_SIZE = (1280, 720)


class HallSocket:
    """A page's ``/hall`` connection: the ``media`` pushes, and requests with their acks."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url, self.token = base_url, token
        self.sio = socketio.AsyncClient(reconnection=False)
        self.media: list[dict[str, Any]] = []
        self.sio.on("media", self.media.append, namespace="/hall")

    async def __aenter__(self) -> HallSocket:
        await self.sio.connect(
            self.base_url,
            namespaces=["/hall"],
            auth={"token": self.token},
            transports=["websocket"],
            wait_timeout=10,
        )
        await polling.wait_until(lambda: bool(self.media), 10, "the hall's media told")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.sio.disconnect()

    async def call(self, event: str, payload: Any) -> dict[str, Any]:
        answer: dict[str, Any] = await self.sio.call(event, payload, namespace="/hall", timeout=20)
        return answer

    async def watch(self, streams: list[tuple[str, str]]) -> BroadcastWatcher:
        watcher = BroadcastWatcher(streams)
        sdp, roles = await watcher.offer()
        answer = await self.call("watch", {"type": "offer", "sdp": sdp, "roles": roles})
        assert answer["ok"], answer
        await watcher.accept(answer["sdp"])
        return watcher


class Speaker:
    """A speaker's page: a 440 Hz microphone offered to the hall (with `camera`, a counter
    camera too, as the host's console offers it), the mix-minus read back."""

    def __init__(self, *, camera: bool = False) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.microphone = self.pc.addTransceiver(ToneAudioTrack(440), direction="sendrecv")
        self.camera = (
            self.pc.addTransceiver(CounterVideoTrack((40, 90, 160), fps=15), direction="sendonly")
            if camera
            else None
        )
        self.sink = MediaBlackhole()
        self.pc.on("track", self.sink.addTrack)

    async def offer(self) -> dict[str, Any]:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        sdp = self.pc.localDescription.sdp
        roles = {self.microphone.mid: "microphone"}
        if self.camera is not None:
            roles[self.camera.mid] = "camera"
        return {"type": "offer", "sdp": sdp, "roles": roles}

    async def accept(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        await self.sink.start()

    async def close(self) -> None:
        await self.sink.stop()
        await self.pc.close()


def person(server: RunningServer, role: Role) -> Participant:
    """The first of the demo opening's people with `role`."""
    return next(p for p in server.demo.opening_people if p.role == role)


async def public_token(server: RunningServer) -> str:
    """The token a public viewer's link of the demo's opening is exchanged for."""
    assert server.demo.opening is not None
    week = datetime.now(UTC) + timedelta(days=7)
    link = unrostered_link(
        Role.PUBLIC, "公众", by="test", expires_at=week, session_id=server.demo.opening.id
    )
    await issue_link(server.services.store, server.services.events.append, link)
    return server.tokens.issue_link_session(link)


def worker_room(server: RunningServer, session_id: str) -> Any:
    """The hall's room inside the in-process worker (its media, its archive part)."""
    worker = server.services.workers.workers[0]
    assert isinstance(worker, InProcessWorker) and worker.worker is not None
    return worker.worker.rooms.get(session_id)


@pytest.fixture
async def hall_server(tmp_path: Path) -> AsyncIterator[tuple[TestServer, RunningServer]]:
    """The server with the demo, which a test may stop itself to look at the archive."""
    server, running = await start_server(tmp_path / "data")
    try:
        yield server, running
    finally:
        await server.close()


async def test_the_hall_is_live_from_the_start_and_a_viewer_sees_its_screen(
    hall_server: tuple[TestServer, RunningServer],
) -> None:
    test_server, server = hall_server
    assert server.demo.opening is not None
    sid = server.demo.opening.id
    # Nobody has joined, nobody has given a command: the room runs on the worker already.
    hall = server.services.halls.find(sid)
    assert hall is not None and server.services.halls.streams(sid) == ["camera", "screen", "sound"]
    room = worker_room(server, sid)
    assert room is not None and room.media.screen is not None and not room.peers
    assert room.media.screen.state is not None
    assert room.media.screen.state.lot_name  # the screen was sent the opening at the start
    assert {t.split()[0] for t in room.labels.values()} == {
        "主持人",
        "投标人",
        "招标人",
        "招标代理机构",
    }

    async with HallSocket(server.base_url, await public_token(server)) as page:
        assert page.media[-1]["streams"] == ["camera", "screen", "sound"]
        watcher = await page.watch([("video", "screen")])
        try:
            await watcher.wait_frames("screen", 4, 20)
            assert watcher.streams["screen"].size == SCREEN_SIZE
        finally:
            await watcher.close()
        assert (await page.call("unwatch", {}))["ok"]

    # The hall's archive part records the screen and the sound; stopping the server seals it
    # as interrupted, and it verifies.
    await test_server.close()
    folder = server.config.archive_dir / sid
    verdict = verify_archive(folder)
    assert verdict.ok, verdict.differences
    manifest = Manifest.from_json((folder / "part-0001" / "manifest.json").read_bytes())
    assert manifest.state == "interrupted"
    tracks = {t.id: t for t in manifest.tracks}
    assert tracks["hall-screen"].label == "开标大厅信息屏"
    assert {"hall-screen", "room-mix"} <= tracks.keys()
    assert any(s.track == "hall-screen" for s in manifest.segments)


async def test_a_speaker_is_heard_until_muted_and_the_public_cannot_speak(
    room_server: RunningServer,
) -> None:
    server = room_server
    assert server.demo.opening is not None
    sid = server.demo.opening.id
    bidder = person(server, Role.BIDDER)
    host = server.token(person(server, Role.HOST))
    async with (
        HallSocket(server.base_url, await public_token(server)) as public,
        HallSocket(server.base_url, server.token(bidder)) as hall,
        aiohttp.ClientSession() as http,
    ):
        # The public watches the sound; the bidder speaks.
        watcher = await public.watch([("audio", "sound")])
        speaker = Speaker()
        try:
            answer = await hall.call("speak", await speaker.offer())
            assert answer["ok"], answer
            await speaker.accept(answer["sdp"])
            sound = watcher.streams["sound"]
            await polling.wait_until(lambda: sound.level() > 0.02, 20, "the bidder is heard")
            assert await polling.wait_event(
                server.services.store, sid, "speaker_negotiated", roles=["microphone"]
            )

            # The host mutes the bidder: nobody hears it in the mix any more.
            command = f"{server.base_url}/api/sessions/{sid}/opening"
            headers = {"Authorization": f"Bearer {host}"}
            mute = {"kind": "mute", "fields": {"participant": bidder.id, "reason": "与开标无关"}}
            async with http.post(command, json=mute, headers=headers) as r:
                assert r.status == 200, await r.text()
            await polling.wait_until(lambda: sound.level() < 0.002, 10, "the muted bidder silent")
            media = server.media(sid)
            assert media is not None and media.mixer.muted == {bidder.id}
            unmute = {"kind": "unmute", "fields": {"participant": bidder.id}}
            async with http.post(command, json=unmute, headers=headers) as r:
                assert r.status == 200, await r.text()
            await polling.wait_until(lambda: sound.level() > 0.02, 10, "heard again")

            # A public viewer may not speak: refused with the reason, and on the record.
            silent = Speaker()
            refused = await public.call("speak", await silent.offer())
            await silent.close()
            assert refused["ok"] is False
            assert refused["error"]["code"] == "role_not_allowed"
            assert "只能观看" in refused["error"]["message"]
            logged = await polling.wait_event(
                server.services.store, sid, "request_refused", event="/hall:speak"
            )
            assert logged.actor == "public:公众" and logged.data["code"] == "role_not_allowed"
            # Nor may a bidder send a camera: only the host's camera is broadcast.
            camera = Speaker()
            offer = await camera.offer()
            offer["roles"] = {camera.microphone.mid: "camera"}
            wrong = await hall.call("speak", offer)
            assert wrong["ok"] is False and wrong["error"]["code"] == "invalid_request"
            await camera.close()
        finally:
            await watcher.close()
            await speaker.close()
        # The bidder stops: its media leaves the room.
        assert (await hall.call("stop_speaking", {}))["ok"]
        room = worker_room(server, sid)
        await polling.wait_until(lambda: bidder.id not in room.peers, 10, "the speaker gone")


async def test_the_hall_moves_with_its_worker_and_its_broadcast_opens_again(
    tmp_path: Path,
) -> None:
    # Two real worker processes: the hall is drained off one, then its new one is killed.
    test_server, server = await start_server(tmp_path / "data", "--workers", "2")
    try:
        assert server.demo.opening is not None
        sid = server.demo.opening.id
        halls = server.services.halls
        hall = halls.find(sid)
        assert hall is not None and hall.archive is not None and hall.archive.part == 1
        first = hall.worker
        async with HallSocket(server.base_url, await public_token(server)) as page:
            admin = {"Authorization": f"Bearer {server.tokens.issue_admin()}"}
            async with aiohttp.ClientSession() as http:
                drain = f"{server.base_url}/api/workers/{first.index}/drain"
                async with http.post(drain, headers=admin) as r:
                    assert r.status == 200, await r.text()
                    assert sid in (await r.json())["moved"]
            second = hall.worker
            assert second is not first and hall.archive.part == 2
            # The page is told to watch again, and does: the screen comes from the new worker.
            await polling.wait_until(lambda: len(page.media) >= 2, 10, "told the hall moved")
            watcher = await page.watch([("video", "screen")])
            try:
                await watcher.wait_frames("screen", 2, 20)
            finally:
                await watcher.close()

            # The new worker dies: the hall is recovered and opened again, a third part.
            generation = second.generation
            second.kill()
            await polling.wait_until(
                lambda: (
                    second.generation > generation
                    and hall.archive is not None
                    and hall.archive.part == 3
                ),
                30,
                "the hall opened again after its worker died",
            )
            await polling.wait_until(lambda: len(page.media) >= 3, 10, "told again")
            assert page.media[-1]["streams"] == ["camera", "screen", "sound"]
            watcher = await page.watch([("video", "screen")])
            try:
                await watcher.wait_frames("screen", 2, 20)
            finally:
                await watcher.close()
        events = [e.kind for e in await server.services.store.list_events(sid)]
        assert "media_moved" in events and "media_restarted" in events
    finally:
        await test_server.close()
    # Every part is sealed (the second recovered after the kill) and the archive verifies.
    folder = server.config.archive_dir / sid
    verdict = verify_archive(folder)
    assert verdict.ok, verdict.differences


async def test_a_host_added_after_the_hall_opened_is_its_camera(
    empty_server: tuple[TestServer, Any, Any],
) -> None:
    server, _, tokens = empty_server
    base_url = str(server.make_url("")).rstrip("/")
    halls = server.app[SERVICES].halls
    async with aiohttp.ClientSession() as http:
        admin = Admin(http, base_url, tokens.issue_admin())
        centre, room = await admin.venue("沈阳", "沈阳开标室", 5, region_code="210100")
        project = await admin.project(centre["id"], "LN-2026-0402", "某工程", [("01", "一标段")])
        deadline = datetime.now(UTC) + timedelta(hours=1)
        opening = await admin.call(
            "POST",
            f"/api/lots/{project['lots'][0]['id']}/opening",
            201,
            json={"venue_id": room["id"], "deadline": iso(deadline)},
        )
        sid = opening["id"]
        # The first bidder opens the hall: no host yet, so no camera in the broadcast.
        await admin.call("POST", f"/api/sessions/{sid}/bidders", 201, json={"name": "甲公司"})
        assert halls.streams(sid) == ["screen", "sound"]
        _, host_token = await opening_person(admin, sid, "host", "李主持", venue_id=room["id"])
        async with HallSocket(base_url, host_token) as console:
            speaker = Speaker(camera=True)
            try:
                answer = await console.call("speak", await speaker.offer())
                assert answer["ok"], answer
                await speaker.accept(answer["sdp"])
                # The host is the broadcast's camera now, and the page is told so.
                assert halls.streams(sid) == ["camera", "screen", "sound"]
                await polling.wait_until(
                    lambda: "camera" in console.media[-1]["streams"], 10, "told of the camera"
                )
                watcher = await console.watch([("video", "camera")])
                try:
                    await watcher.wait_frames("camera", 10, 20)
                    assert len(watcher.streams["camera"].counters) >= 5
                finally:
                    await watcher.close()
            finally:
                await speaker.close()


async def test_the_public_is_sent_off_when_the_host_closes_the_broadcast_to_it(
    hall_server: tuple[TestServer, RunningServer],
) -> None:
    """The demo's opening is public by its terms; the host closes the broadcast to the public:
    a public page is told and disconnected, a new one is refused; the bidders keep watching."""
    _, server = hall_server
    assert server.demo.opening is not None
    opening = server.demo.opening.id
    host = server.tokens.issue(person(server, Role.HOST))
    told: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    async with HallSocket(server.base_url, await public_token(server)) as public:
        public.sio.on(
            "revoked", lambda data: told.done() or told.set_result(data), namespace="/hall"
        )
        async with HallSocket(
            server.base_url, server.tokens.issue(person(server, Role.BIDDER))
        ) as bidder:
            async with aiohttp.ClientSession() as http:
                async with http.post(
                    f"{server.base_url}/api/sessions/{opening}/opening",
                    json={
                        "kind": "allow_public",
                        "fields": {"public": False, "reason": "现场秩序恢复前暂停公开"},
                    },
                    headers={"Authorization": f"Bearer {host}"},
                ) as r:
                    assert r.status == 200, await r.text()
            assert (await asyncio.wait_for(told, 10))["message"] == "本场开标的直播未对公众开放"
            await polling.wait_until(lambda: not public.sio.connected, 10, "sent off")
            assert bidder.sio.connected
    with pytest.raises(socketio.exceptions.ConnectionError):
        async with HallSocket(server.base_url, await public_token(server)):
            pass
