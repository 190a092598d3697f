"""Janus (Debian's ``janus`` package) for bench/janus.py: its configuration, its process, and a
client of its REST API with aiortc peers (a VideoRoom publisher, a subscriber to one stream).

Janus runs from a configuration folder written to a temporary directory: the HTTP transport
on loopback (and its admin API, which shows what each handle received), the VideoRoom plugin
only, ICE on 127.0.0.1 only (no STUN), RTP ports in a range of their own. The peers offer
127.0.0.1 only as well (``media.ice.apply_host_candidate_policy``), as the server's seats do.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

JANUS = Path("/usr/bin/janus")
LIBDIR = Path("/usr/lib/x86_64-linux-gnu/janus")
ADMIN_SECRET = "bench-admin"
ROOM = 1234
EVENT_TIMEOUT = 20.0


def installed() -> bool:
    """Whether Debian's janus is here (with the plugin and transport this bench uses)."""
    return (
        JANUS.exists()
        and (LIBDIR / "plugins/libjanus_videoroom.so").exists()
        and (LIBDIR / "transports/libjanus_http.so").exists()
    )


def _others(kind: str, keep: str) -> str:
    """Every library of ``kind`` (plugins, transports, ...) but `keep`, for a disable list."""
    folder = LIBDIR / kind
    names = sorted(p.name for p in folder.glob("*.so")) if folder.exists() else []
    return ",".join(n for n in names if n != keep)


def write_config(
    folder: Path, port: int, admin_port: int, rtp_ports: tuple[int, int], ice_address: str
) -> Path:
    """Write janus.jcfg, the HTTP transport's and the VideoRoom's config into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "janus.jcfg").write_text(
        f"""general: {{
    configs_folder = "{folder}"
    plugins_folder = "{LIBDIR}/plugins"
    transports_folder = "{LIBDIR}/transports"
    events_folder = "{LIBDIR}/events"
    loggers_folder = "{LIBDIR}/loggers"
    debug_level = 3
    admin_secret = "{ADMIN_SECRET}"
    session_timeout = 60
}}
media: {{
    ipv6 = false
    rtp_port_range = "{rtp_ports[0]}-{rtp_ports[1]}"
}}
nat: {{
    nice_debug = false
    ice_enforce_list = "{ice_address}"
}}
plugins: {{
    disable = "{_others("plugins", "libjanus_videoroom.so")}"
}}
transports: {{
    disable = "{_others("transports", "libjanus_http.so")}"
}}
loggers: {{
    disable = "{_others("loggers", "")}"
}}
events: {{
    broadcast = false
    disable = "{_others("events", "")}"
}}
"""
    )
    (folder / "janus.transport.http.jcfg").write_text(
        f"""general: {{
    json = "compact"
    base_path = "/janus"
    http = true
    port = {port}
    ip = "127.0.0.1"
    https = false
}}
admin: {{
    admin_base_path = "/admin"
    admin_http = true
    admin_port = {admin_port}
    admin_ip = "127.0.0.1"
    admin_https = false
}}
"""
    )
    (folder / "janus.plugin.videoroom.jcfg").write_text("general: {\n}\n")
    return folder / "janus.jcfg"


def start_janus(
    folder: Path, port: int, admin_port: int, ice_address: str, cpus: set[int] | None
) -> subprocess.Popen[bytes]:
    """Start Janus with the configuration in `folder`, logging to janus.log there."""
    config = write_config(folder, port, admin_port, (42000, 42999), ice_address)
    with (folder / "janus.log").open("wb") as log:
        return subprocess.Popen(
            [str(JANUS), "-F", str(folder), "-C", str(config), "-o"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )


async def wait_janus(base_url: str, janus: subprocess.Popen[bytes], timeout: float = 20) -> None:  # noqa: ASYNC109
    """Poll ``GET /janus/info`` until Janus answers (a poll with a deadline: no ready signal)."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with aiohttp.ClientSession() as http:
        while asyncio.get_running_loop().time() < deadline:
            if janus.poll() is not None:
                raise RuntimeError(f"janus exited with {janus.returncode}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with http.get(f"{base_url}/janus/info") as answer:
                    if answer.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise TimeoutError(f"janus did not answer in {timeout:.0f} s")


class JanusError(Exception):
    """Janus or its VideoRoom refused a request."""


class JanusSession:
    """One Janus session over the REST API, with a long poll that takes its events."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = aiohttp.ClientSession()
        self._ids = itertools.count(1)
        self.session_id: int | None = None
        self._events: dict[int, asyncio.Queue[dict[str, Any]]] = {}
        self._poller: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Create the session and start its long poll (which also keeps it alive)."""
        answer = await self._post("/janus", {"janus": "create"})
        self.session_id = int(answer["data"]["id"])
        self._poller = asyncio.create_task(self._poll(), name=f"janus-poll-{self.session_id}")

    async def attach(self) -> int:
        """Attach a VideoRoom handle; its id."""
        answer = await self._post(
            f"/janus/{self.session_id}", {"janus": "attach", "plugin": "janus.plugin.videoroom"}
        )
        handle = int(answer["data"]["id"])
        self._events[handle] = asyncio.Queue()
        return handle

    async def request(self, handle: int, body: dict[str, Any]) -> dict[str, Any]:
        """A synchronous VideoRoom request (``create``, ``listparticipants``): its data."""
        answer = await self._post(
            f"/janus/{self.session_id}/{handle}", {"janus": "message", "body": body}
        )
        data = answer.get("plugindata", {}).get("data", {})
        if "error" in data:
            raise JanusError(f"{body.get('request')}: {data['error']}")
        return dict(data)

    async def message(
        self, handle: int, body: dict[str, Any], jsep: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """An asynchronous VideoRoom request: the event it brings (data, jsep)."""
        payload: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            payload["jsep"] = jsep
        await self._post(f"/janus/{self.session_id}/{handle}", payload)
        while True:
            event = await asyncio.wait_for(self._events[handle].get(), EVENT_TIMEOUT)
            if event.get("janus") != "event":
                continue  # webrtcup, media, ... (not the answer to a request)
            data = event.get("plugindata", {}).get("data", {})
            if "error" in data:
                raise JanusError(f"{body.get('request')}: {data['error']}")
            return dict(data), event.get("jsep")

    async def trickle_done(self, handle: int) -> None:
        """Tell Janus that the offer or answer held every candidate."""
        await self._post(
            f"/janus/{self.session_id}/{handle}",
            {"janus": "trickle", "candidate": {"completed": True}},
        )

    async def close(self) -> None:
        """Destroy the session and stop the poll; safe to call twice."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._poller, 5)
            self._poller = None
        if self.session_id is not None:
            with contextlib.suppress(Exception):
                await self._post(f"/janus/{self.session_id}", {"janus": "destroy"})
            self.session_id = None
        await self._http.close()

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        payload = {**payload, "transaction": f"t{next(self._ids)}"}
        async with self._http.post(f"{self.base_url}{path}", json=payload) as answer:
            data = await answer.json(content_type=None)
        if data.get("janus") == "error":
            raise JanusError(f"{payload['janus']}: {data.get('error')}")
        return dict(data)

    async def _poll(self) -> None:
        url = f"{self.base_url}/janus/{self.session_id}"
        while True:
            try:
                async with self._http.get(url, params={"maxev": "10"}) as answer:
                    events = await answer.json(content_type=None)
            except (aiohttp.ClientError, OSError):
                await asyncio.sleep(0.5)
                continue
            for event in events if isinstance(events, list) else [events]:
                queue = self._events.get(int(event.get("sender", 0) or 0))
                if queue is not None:
                    queue.put_nowait(event)


def offer_only(address: str) -> None:
    """aiortc in this process offers `address` only as its host candidate, as Janus does."""
    from media.ice import apply_host_candidate_policy

    apply_host_candidate_policy([address])


async def publish(
    janus: JanusSession, tracks: list[MediaStreamTrack], display: str
) -> tuple[int, RTCPeerConnection]:
    """Join the room as a publisher and send `tracks` (send-only); the publisher's id."""
    handle = await janus.attach()
    joined, _ = await janus.message(
        handle, {"request": "join", "ptype": "publisher", "room": ROOM, "display": display}
    )
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    for track in tracks:
        pc.addTransceiver(track, direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    offer = {"type": "offer", "sdp": pc.localDescription.sdp}
    _, jsep = await janus.message(handle, {"request": "publish"}, offer)
    if jsep is None:
        raise JanusError("publish: no answer")
    await pc.setRemoteDescription(RTCSessionDescription(sdp=jsep["sdp"], type=jsep["type"]))
    await janus.trickle_done(handle)
    return int(joined["id"]), pc


@dataclass
class Subscription:
    """One subscriber's connection and the frames it has decoded."""

    pc: RTCPeerConnection
    frames: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def close(self) -> None:
        """Close the connection and stop counting."""
        await self.pc.close()
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=5)


def count_frames(subscription: Subscription, track: MediaStreamTrack) -> None:
    """Decode and count what `track` brings (a received track needs a consumer)."""

    async def consume() -> None:
        while True:
            try:
                await track.recv()
            except MediaStreamError:
                return
            subscription.frames += 1

    task = asyncio.create_task(consume(), name=f"count-{track.kind}")
    subscription.tasks.add(task)
    task.add_done_callback(subscription.tasks.discard)


async def subscribe(janus: JanusSession, feed: int, mid: str) -> Subscription:
    """Subscribe to stream `mid` of publisher `feed`; Janus offers, aiortc answers."""
    handle = await janus.attach()
    _, jsep = await janus.message(
        handle,
        {
            "request": "join",
            "ptype": "subscriber",
            "room": ROOM,
            "streams": [{"feed": feed, "mid": mid}],
        },
    )
    if jsep is None:
        raise JanusError("subscribe: no offer")
    subscription = Subscription(RTCPeerConnection(RTCConfiguration(iceServers=[])))
    subscription.pc.on("track", lambda track: count_frames(subscription, track))
    await subscription.pc.setRemoteDescription(
        RTCSessionDescription(sdp=jsep["sdp"], type=jsep["type"])
    )
    await subscription.pc.setLocalDescription(await subscription.pc.createAnswer())
    answer = {"type": "answer", "sdp": subscription.pc.localDescription.sdp}
    await janus.message(handle, {"request": "start", "room": ROOM}, answer)
    await janus.trickle_done(handle)
    return subscription


async def janus_stats(admin_url: str) -> dict[str, int]:
    """What Janus has received and sent so far, summed over every handle (admin API
    ``handle_info``, each medium's ``stats``): packets by direction and kind (``in video``,
    ``out video``, ...), and ``in streams``, the media sections that received any."""
    totals: dict[str, int] = {}
    async with aiohttp.ClientSession() as http:

        async def admin(path: str, request: str) -> dict[str, Any]:
            body = {"janus": request, "transaction": request, "admin_secret": ADMIN_SECRET}
            async with http.post(f"{admin_url}{path}", json=body) as answer:
                return dict(await answer.json(content_type=None))

        for session in (await admin("/admin", "list_sessions")).get("sessions", []):
            handles = (await admin(f"/admin/{session}", "list_handles")).get("handles", [])
            for handle in handles:
                info = (await admin(f"/admin/{session}/{handle}", "handle_info")).get("info", {})
                media = info.get("webrtc", {}).get("media") or {}
                for medium in media.values():
                    stats = medium.get("stats", {})
                    for direction in ("in", "out"):
                        packets = int(stats.get(direction, {}).get("packets", 0))
                        key = f"{direction} {medium.get('type', '?')}"
                        totals[key] = totals.get(key, 0) + packets
                        if direction == "in" and packets:
                            totals["in streams"] = totals.get("in streams", 0) + 1
    return totals
