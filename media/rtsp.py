"""Room monitoring cameras (standard 5.4.5, 8.2): IP cameras and NVRs pulled over RTSP.

Each camera is pulled by PyAV (libavformat's RTSP client, RTP over TCP) in a thread of its own;
its encoded frames are handed to the event loop as they arrive, never decoded: they are
recorded and forwarded to supervisors as the camera sent them. A camera that cannot be reached,
stops sending or ends its stream is retried with exponential backoff, and every change of state
is reported (a camera that stays down becomes a warning in the session).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from urllib.parse import urlsplit, urlunsplit

import av

from media.tap import EncodedFrame

logger = logging.getLogger(__name__)

OPEN_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 5.0
BACKOFF_MIN_S = 1.0
BACKOFF_MAX_S = 30.0
# A connection that stayed up this long starts the next retry from the shortest backoff again.
STABLE_S = 10.0
VIDEO_CLOCK = 90_000
# Codecs the archive takes as they are (VP8 in WebM, H.264 in MP4) and that supervisors'
# browsers are sent as they are (WebRTC).
RECORDED_CODECS = frozenset({"VP8", "H264"})
FORWARDED_CODECS = frozenset({"VP8", "H264"})


def with_parameter_sets(frame: EncodedFrame, extradata: bytes | None) -> EncodedFrame:
    """An H.264 keyframe with the camera's SPS/PPS in front, so that it decodes on its own.

    RTSP cameras announce their parameter sets once, in the session description; a viewer or a
    decoder that starts at any keyframe needs them in the stream.
    """
    if frame.codec != "H264" or not frame.keyframe or not extradata:
        return frame
    if not extradata.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01")):
        return frame  # not Annex B (avcC): nothing to put in front as it is
    if frame.data.startswith(extradata):
        return frame  # they came with it (a camera relayed by a sub venue's node)
    return replace(frame, data=extradata + frame.data)


class CameraState:
    """What a room camera is doing."""

    CONNECTING = "connecting"
    UP = "up"
    DOWN = "down"
    INVALID = "invalid"  # the URL is not an RTSP URL: nothing to retry


@dataclass(frozen=True)
class CameraStatus:
    """A camera's state and, when it is not up, why (in Chinese, for people)."""

    state: str
    detail: str = ""
    codec: str | None = None
    size: tuple[int, int] | None = None
    extradata: bytes | None = None  # H.264: SPS/PPS as the camera announced them


def redact(url: str) -> str:
    """The URL without its user and password (cameras carry credentials in the URL)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "（无法解析的地址）"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def check_url(url: str) -> str | None:
    """Why `url` is not an RTSP URL we can pull, or None if it is one."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return "地址格式不正确"
    if parts.scheme not in ("rtsp", "rtsps"):
        return "地址必须以 rtsp:// 或 rtsps:// 开头"
    if not parts.hostname:
        return "地址缺少主机名"
    return None


class RtspCamera:
    """Pulls one RTSP camera until closed, reconnecting by itself."""

    def __init__(
        self,
        camera_id: str,
        url: str,
        *,
        on_frame: Callable[[EncodedFrame], None],
        on_status: Callable[[CameraStatus], None],
    ) -> None:
        self.camera_id = camera_id
        self._url = url
        self._on_frame = on_frame
        self._on_status = on_status
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self.status = CameraStatus(CameraState.CONNECTING)
        self.frames = 0
        self.connects = 0

    @property
    def display_url(self) -> str:
        """The URL as it may be shown and logged."""
        return redact(self._url)

    async def start(self) -> None:
        """Start pulling (an invalid URL is reported, not retried)."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        problem = check_url(self._url)
        if problem is not None:
            self._set_status(CameraStatus(CameraState.INVALID, problem))
            return
        self._thread = threading.Thread(
            target=self._run, name=f"rtsp-{self.camera_id}", daemon=True
        )
        self._thread.start()

    async def close(self) -> None:
        """Stop pulling; waits at most the read timeout for the thread."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            await asyncio.to_thread(thread.join, READ_TIMEOUT_S + OPEN_TIMEOUT_S)
            if thread.is_alive():
                logger.error("room camera %s: puller did not stop", self.camera_id)

    # -- the puller thread ----------------------------------------------------------------------

    def _run(self) -> None:
        backoff = BACKOFF_MIN_S
        while not self._stop.is_set():
            self._set_status(CameraStatus(CameraState.CONNECTING))
            started = time.monotonic()
            detail = self._pull()
            if self._stop.is_set():
                return
            if time.monotonic() - started >= STABLE_S:
                backoff = BACKOFF_MIN_S
            self._set_status(CameraStatus(CameraState.DOWN, detail))
            logger.warning(
                "room camera %s (%s) down: %s; retrying in %.0f s",
                self.camera_id,
                self.display_url,
                detail,
                backoff,
            )
            self._stop.wait(backoff)
            backoff = min(BACKOFF_MAX_S, backoff * 2)

    def _pull(self) -> str:
        """One connection: frames until it ends; returns why it ended (Chinese)."""
        try:
            container = av.open(
                self._url,
                options={"rtsp_transport": "tcp"},
                timeout=(OPEN_TIMEOUT_S, READ_TIMEOUT_S),
            )
        except av.error.FFmpegError as exc:
            return f"无法连接：{_reason(exc)}"
        try:
            if not container.streams.video:
                return "该地址没有视频流"
            stream = container.streams.video[0]
            codec = (stream.codec_context.name or "").upper()
            self.connects += 1
            context = stream.codec_context
            size = (context.width, context.height) if context.width and context.height else None
            self._set_status(
                CameraStatus(
                    CameraState.UP, codec=codec, size=size, extradata=context.extradata or None
                )
            )
            time_base = stream.time_base or Fraction(1, VIDEO_CLOCK)
            for packet in container.demux(stream):
                if self._stop.is_set():
                    return "已停止"
                if packet.size == 0 or packet.pts is None:
                    continue
                ticks = int(packet.pts * time_base * VIDEO_CLOCK)
                frame = EncodedFrame(
                    kind="video",
                    codec=codec,
                    data=bytes(packet),
                    rtp_timestamp=ticks & 0xFFFFFFFF,
                    clock_rate=VIDEO_CLOCK,
                    keyframe=bool(packet.is_keyframe),
                    wall_time=time.time(),
                )
                self.frames += 1
                self._deliver(frame)
            return "视频流已结束"
        except av.error.FFmpegError as exc:
            return f"接收中断：{_reason(exc)}"
        finally:
            with contextlib.suppress(Exception):
                container.close()

    def _deliver(self, frame: EncodedFrame) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._on_frame, frame)

    def _set_status(self, status: CameraStatus) -> None:
        self.status = status
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if threading.get_ident() == self._loop_thread:
            self._on_status(status)
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._on_status, status)


# libav's reasons as people here read them (the rest are passed on as libav words them).
_REASONS = {
    errno.ECONNREFUSED: "连接被拒绝（摄像头未开启或端口不对）",
    errno.ETIMEDOUT: "连接超时",
    errno.EHOSTUNREACH: "主机不可达",
    errno.ENETUNREACH: "网络不可达",
    errno.ECONNRESET: "连接被对方重置",
}
_HTTP_REASONS = {"401": "用户名或密码错误", "403": "没有访问权限", "404": "地址不存在"}


def _reason(exc: av.error.FFmpegError) -> str:
    """A short reason from libav's error, without the URL (it may carry credentials)."""
    number = getattr(exc, "errno", None)
    if isinstance(number, int) and abs(number) in _REASONS:
        return _REASONS[abs(number)]
    text = str(getattr(exc, "strerror", None) or type(exc).__name__)
    for code, reason in _HTTP_REASONS.items():
        if code in text:
            return reason
    return text
