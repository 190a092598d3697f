"""The load of the broadcast benchmark: the hall's host, and processes of cheap viewers.

Host (``host_process``): one aiortc peer that sits in the hall's room as the host, sending a
pre-encoded 1280x720 VP8 camera loop (a keyframe only at its start, as a browser sends them:
on request) and an Opus tone. A keyframe request from the server (a viewer joined) makes the
next frame the loop's first, a keyframe of the same size as a camera's.

Viewers (``viewers_process``): each process runs many viewers on one event loop. A viewer is a
real aiortc peer that makes the receive-only offer a viewer's page makes, and completes ICE and
DTLS with the server; once its ICE pair is chosen, every SRTP datagram is counted by its RTP
header (which SRTP leaves in clear: SSRC and sequence number) and dropped, without decrypting,
depacketizing or decoding: a viewer costs the load generator a few microseconds a packet, so
that it does not take the cores the server's workers are measured on. STUN (consent checks)
and DTLS still reach aioice and aiortc. A viewer sends no RTCP (no NACK, no PLI, no receiver
report): what it counts as lost was never sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

VIDEO_MIDS = 2  # camera, screen; then the sound
STREAMS = [("video", "camera"), ("video", "screen"), ("audio", "sound")]
RECEIVE_BUFFER = 1 << 20


@dataclass
class HostJob:
    """What the host sends."""

    camera: list[bytes]  # one VP8 frame each, the first a keyframe
    microphone: list[bytes]  # 20 ms Opus packets
    fps: float
    ice_host: str = "127.0.0.1"
    cpus: set[int] | None = None


def host_process(job: HostJob, conn: Connection) -> None:
    """Entry point of the host: negotiate through the parent, then send until told to stop."""
    if job.cpus:
        os.sched_setaffinity(0, job.cpus)
    try:
        asyncio.run(_host(job, conn))
    except Exception as exc:
        with contextlib.suppress(OSError):
            conn.send(("error", repr(exc)))
    finally:
        conn.close()


async def _host(job: HostJob, conn: Connection) -> None:
    from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.contrib.media import MediaBlackhole

    from media.ice import apply_host_candidate_policy
    from media.tap import hook_keyframe_requests
    from media.testing.synthetic import PreEncodedAudioTrack, PreEncodedVideoTrack

    apply_host_candidate_policy([job.ice_host])

    camera = PreEncodedVideoTrack(job.camera, job.fps)
    microphone = PreEncodedAudioTrack(job.microphone)
    pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    mic = pc.addTransceiver(microphone, direction="sendrecv")
    cam = pc.addTransceiver(camera, direction="sendrecv")
    # A keyframe request restarts the loop at its first frame, a keyframe.
    hook_keyframe_requests(cam.sender, camera.restart)
    sink = MediaBlackhole()
    pc.on("track", sink.addTrack)
    await pc.setLocalDescription(await pc.createOffer())
    conn.send(("offer", pc.localDescription.sdp, {mic.mid: "microphone", cam.mid: "camera"}))
    loop = asyncio.get_running_loop()
    kind, sdp = await loop.run_in_executor(None, conn.recv)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
    await sink.start()
    conn.send(("ready", None))
    await loop.run_in_executor(None, conn.recv)  # stop
    await sink.stop()
    await pc.close()


class _Counts:
    """What one viewer received, counted by SSRC from the RTP headers."""

    def __init__(self, camera_ssrc: int, started: float) -> None:
        self.camera_ssrc = camera_ssrc
        self.started = started
        self.first_packet: float | None = None
        self.first_camera: float | None = None
        # ssrc -> [packets, highest extended sequence number]
        self.streams: dict[int, list[int]] = {}
        self.camera_frames = 0  # packets of the camera that end a frame (marker bit)

    def packet(self, data: bytes) -> None:
        ssrc = int.from_bytes(data[8:12], "big")
        sequence = (data[2] << 8) | data[3]
        if ssrc == self.camera_ssrc and data[1] & 0x80:
            self.camera_frames += 1
        entry = self.streams.get(ssrc)
        if entry is None:
            now = time.monotonic()
            if self.first_packet is None:
                self.first_packet = now
            if ssrc == self.camera_ssrc:
                self.first_camera = now
            self.streams[ssrc] = [1, sequence]
            return
        entry[0] += 1
        highest = entry[1]
        step = ((sequence - highest + 0x8000) & 0xFFFF) - 0x8000
        if step > 0:
            entry[1] = highest + step


class _Viewer:
    """One cheap viewer: a real aiortc peer whose SRTP is counted, not decrypted."""

    def __init__(self, vid: str) -> None:
        from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection

        self.vid = vid
        self.pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        for kind, _name in STREAMS:
            self.pc.addTransceiver(kind, direction="recvonly")
        self.counts: _Counts | None = None
        self.started = 0.0
        self.answered = asyncio.get_running_loop().create_future()

    async def offer(self) -> tuple[str, dict[str, str]]:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        roles = {
            str(t.mid): name
            for t, (_k, name) in zip(self.pc.getTransceivers(), STREAMS, strict=True)
        }
        self.started = time.monotonic()
        return self.pc.localDescription.sdp, roles

    async def accept(self, sdp: str) -> None:
        from aiortc import RTCSessionDescription
        from aiortc.sdp import SessionDescription

        description = SessionDescription.parse(sdp)
        camera_ssrc = description.media[0].ssrc[0].ssrc
        self.counts = _Counts(camera_ssrc, self.started)
        connected = asyncio.Event()

        @self.pc.on("iceconnectionstatechange")
        def on_ice() -> None:
            if self.pc.iceConnectionState in ("completed", "connected"):
                connected.set()

        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        await asyncio.wait_for(connected.wait(), 30)
        self._count_srtp()

    def _count_srtp(self) -> None:
        """Count SRTP by its clear header before aiortc sees it; pass STUN and DTLS on."""
        dtls = self.pc.getTransceivers()[0].receiver.transport
        pair = dtls.transport._connection._nominated[1]
        protocol = pair.protocol
        sock = protocol.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        original = protocol.datagram_received
        counts = self.counts
        assert counts is not None

        def received(data: bytes, addr: Any) -> None:
            first = data[0]
            if 127 < first < 192:
                if not 72 <= data[1] & 0x7F <= 76:  # RTCP (SR, SDES) is not counted
                    counts.packet(data)
                return
            original(data, addr)

        protocol.datagram_received = received

    def snapshot(self) -> dict[str, Any]:
        counts = self.counts
        if counts is None:
            return {
                "streams": {},
                "camera": None,
                "camera_frames": 0,
                "join": None,
                "join_camera": None,
            }
        return {
            "streams": {ssrc: list(v) for ssrc, v in counts.streams.items()},
            "camera": counts.camera_ssrc,
            "camera_frames": counts.camera_frames,
            "join": None if counts.first_packet is None else counts.first_packet - counts.started,
            "join_camera": None
            if counts.first_camera is None
            else counts.first_camera - counts.started,
        }


def viewers_process(conn: Connection, cpus: set[int] | None, ice_host: str) -> None:
    """Entry point of a viewers' process: add viewers when told, report their counts."""
    if cpus:
        os.sched_setaffinity(0, cpus)
    os.setpgrp()
    try:
        asyncio.run(_viewers(conn, ice_host))
    except Exception as exc:
        with contextlib.suppress(OSError):
            conn.send(("error", repr(exc)))
    finally:
        conn.close()


async def _viewers(conn: Connection, ice_host: str) -> None:
    from media.ice import apply_host_candidate_policy

    apply_host_candidate_policy([ice_host])
    loop = asyncio.get_running_loop()
    viewers: dict[str, _Viewer] = {}
    inbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    loop.add_reader(conn.fileno(), lambda: inbox.put_nowait(conn.recv()))
    joining: set[asyncio.Task[None]] = set()

    async def join(vid: str) -> None:
        viewer = viewers[vid] = _Viewer(vid)
        sdp, roles = await viewer.offer()
        conn.send(("offer", (vid, sdp, roles)))
        answer = await viewer.answered
        await viewer.accept(answer)

    while True:
        kind, data = await inbox.get()
        if kind == "join":
            for vid in data:
                task = asyncio.create_task(join(vid), name=f"join-{vid}")
                joining.add(task)
                task.add_done_callback(joining.discard)
        elif kind == "answer":
            vid, sdp = data
            viewers[vid].answered.set_result(sdp)
        elif kind == "refused":
            viewers[data[0]].answered.cancel()
        elif kind == "snapshot":
            conn.send(("snapshot", {vid: v.snapshot() for vid, v in viewers.items()}))
        elif kind == "stop":
            loop.remove_reader(conn.fileno())
            for task in joining:
                task.cancel()
            await asyncio.gather(*(v.pc.close() for v in viewers.values()), return_exceptions=True)
            conn.send(("stopped", None))
            return
