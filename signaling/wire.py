"""The protocol between the signaling process and its media workers.

Media never passes here: only SDP, ICE candidates and control. Each message is one frame: a
4-byte big-endian length and a UTF-8 JSON object ``{"v": 1, "kind": ..., "id": ..., ...}``.
``kind`` is ``request``, ``response`` or ``event``; a request names a ``method`` and carries
``params``; its response carries the same ``id`` and either ``result`` or ``error``
(``{"code", "message"}``, the same codes as everywhere else). Either side may send events.
A peer that speaks another version is refused at the first message (``hello``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import struct
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 1 << 20  # an SDP is a few KB; anything near this is a bug or an attack
_HEADER = struct.Struct(">I")

RequestHandler = Callable[[str, dict[str, Any]], Awaitable[Any]]
EventHandler = Callable[[str, dict[str, Any]], None]


class WireError(Exception):
    """The other side answered a request with an error (code and message as it sent them)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ConnectionLost(ConnectionError):
    """The other process went away."""


async def read_frame(reader: asyncio.StreamReader) -> dict[str, Any]:
    """The next message; ConnectionLost at end of stream, ValueError for a malformed frame."""
    try:
        header = await reader.readexactly(_HEADER.size)
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        raise ConnectionLost("peer closed the connection") from exc
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME_BYTES:
        raise ValueError(f"frame of {size} bytes is over the limit")
    try:
        body = await reader.readexactly(size)
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        raise ConnectionLost("peer closed the connection mid-frame") from exc
    message = json.loads(body)
    if not isinstance(message, dict) or message.get("v") != PROTOCOL_VERSION:
        raise ValueError(f"not a version {PROTOCOL_VERSION} message")
    return message


def encode_frame(message: dict[str, Any]) -> bytes:
    """One framed message; WireError ``invalid_request`` for a value JSON cannot carry as it is
    (NaN, a lone surrogate): that request is refused, the channel goes on."""
    try:
        body = json.dumps(
            {"v": PROTOCOL_VERSION, **message}, ensure_ascii=False, allow_nan=False
        ).encode()
    except (ValueError, TypeError) as exc:
        raise WireError("invalid_request", "请求含有无法传送的数据") from exc
    if len(body) > MAX_FRAME_BYTES:
        raise ValueError(f"message of {len(body)} bytes is over the limit")
    return _HEADER.pack(len(body)) + body


class Channel:
    """Requests, responses and events over one stream pair, in both directions."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        name: str,
        on_request: RequestHandler | None = None,
        on_event: EventHandler | None = None,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._name = name
        self._on_request = on_request
        self._on_event = on_event
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._handlers: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()
        self._send_lock = asyncio.Lock()

    async def start(self) -> None:
        """Start reading messages."""
        self._task = asyncio.create_task(self._read_loop(), name=f"wire-{self._name}")

    async def request(self, method: str, params: dict[str, Any], *, timeout_s: float = 30.0) -> Any:
        """Call `method` on the other side and return its result (WireError on an error)."""
        if self._closed.is_set():
            raise ConnectionLost(f"{self._name}: channel closed")
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        try:
            await self._send(
                {"kind": "request", "id": request_id, "method": method, "params": params}
            )
            return await asyncio.wait_for(future, timeout_s)
        finally:
            self._waiting.pop(request_id, None)

    async def event(self, name: str, params: dict[str, Any]) -> None:
        """Tell the other side something; no answer."""
        if not self._closed.is_set():
            await self._send({"kind": "event", "name": name, "params": params})

    async def wait_closed(self) -> None:
        """Until the connection is gone."""
        await self._closed.wait()

    @property
    def closed(self) -> bool:
        """Whether the connection is gone."""
        return self._closed.is_set()

    async def close(self) -> None:
        """Close the connection; pending requests fail with ConnectionLost. Safe twice."""
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._fail_waiting()
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=5)

    async def _send(self, message: dict[str, Any]) -> None:
        frame = encode_frame(message)
        async with self._send_lock:
            try:
                self._writer.write(frame)
                await self._writer.drain()
            except ConnectionError as exc:
                self._closed.set()
                raise ConnectionLost(f"{self._name}: {exc}") from exc

    def _fail_waiting(self) -> None:
        self._closed.set()
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(ConnectionLost(f"{self._name}: connection lost"))

    async def _read_loop(self) -> None:
        try:
            while True:
                message = await read_frame(self._reader)
                self._dispatch(message)
        except ConnectionLost:
            pass
        except (ValueError, json.JSONDecodeError):
            logger.exception("%s: malformed message; closing the channel", self._name)
        finally:
            self._fail_waiting()

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("kind")
        if kind == "response":
            future = self._waiting.get(message.get("id", -1))
            if future is None or future.done():
                return
            error = message.get("error")
            if error is not None:
                future.set_exception(WireError(str(error.get("code")), str(error.get("message"))))
            else:
                future.set_result(message.get("result"))
        elif kind == "request":
            task = asyncio.create_task(
                self._answer(message), name=f"wire-{self._name}-{message.get('method')}"
            )
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        elif kind == "event" and self._on_event is not None:
            try:
                self._on_event(str(message.get("name")), dict(message.get("params") or {}))
            except Exception:
                logger.exception("%s: event handler failed", self._name)

    async def _answer(self, message: dict[str, Any]) -> None:
        request_id = message.get("id")
        try:
            if self._on_request is None:
                raise WireError("not_supported", "this side takes no requests")
            result = await self._on_request(str(message.get("method")), message.get("params") or {})
            reply: dict[str, Any] = {"kind": "response", "id": request_id, "result": result}
        except WireError as exc:
            reply = {
                "kind": "response",
                "id": request_id,
                "error": {"code": exc.code, "message": exc.message},
            }
        except Exception as exc:  # the error crosses the process boundary as data
            code = getattr(exc, "code", "internal")
            text = getattr(exc, "message", None) or "服务器内部错误"
            if code == "internal":
                logger.exception("%s: request %s failed", self._name, message.get("method"))
            reply = {"kind": "response", "id": request_id, "error": {"code": code, "message": text}}
        try:
            await self._send(reply)
        except ConnectionLost:
            pass
        except WireError as exc:  # a result that cannot be framed: answered as an error
            error = {"code": exc.code, "message": exc.message}
            with contextlib.suppress(ConnectionLost, WireError):
                await self._send({"kind": "response", "id": request_id, "error": error})
