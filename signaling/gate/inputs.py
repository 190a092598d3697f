"""The first thing every input meets: strict JSON, clean values, path parameters by pattern.

Whatever a client sends, a REST body, a query, a path parameter or a Socket.IO payload, is
checked here before any other code sees it, and refused as ``invalid_request`` (400) when it is
not something the rest of the server can always store, hash, frame and archive:

- JSON without ``NaN`` or ``Infinity``, and with no integer beyond what an IEEE 754 double holds
  exactly (``MAX_SAFE_INTEGER``): the archive's canonical JSON (RFC 8785) has no form for them;
  nested at most ``MAX_DEPTH`` deep (Python's parser would raise RecursionError far deeper);
- strings that are valid Unicode (a lone surrogate such as ``"\\ud800"`` cannot be encoded as
  UTF-8, so neither the worker framing nor the archive could write it) and hold no NUL (which
  PostgreSQL's JSON refuses);
- path parameters that match their pattern (``PATH_PATTERNS``), so that no id longer than a
  file name or with a path separator reaches a store or a folder.

The shapes of the values (which fields, their types and sizes) are the pydantic models in
``signaling.gate.schemas``, applied right after.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from roomserver.errors import InvalidRequest

MAX_DEPTH = 12
MAX_SAFE_INTEGER = 2**53 - 1
MAX_BODY_BYTES = 1024 * 1024  # the largest JSON body (a handwritten signature is ~100 KB)
ID = r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}"
PATH_PATTERNS: dict[str, re.Pattern[str]] = {
    "session_id": re.compile(ID),
    "expert_id": re.compile(ID),
    "participant_id": re.compile(ID),  # a participant's id, or one link's id
    "venue_id": re.compile(ID),
    "booking_id": re.compile(ID),
    "project_id": re.compile(ID),
    "lot_id": re.compile(ID),
    "draw_id": re.compile(ID),
    "webhook_id": re.compile(ID),
    "centre_id": re.compile(ID),
    "link_id": re.compile(ID),
    "number": re.compile(r"[1-9][0-9]{0,3}"),
    "index": re.compile(r"[0-9]{1,3}"),
    "part": re.compile(r"[0-9]{1,4}"),
    "name": re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"),
    "job_id": re.compile(r"[0-9a-f]{16}"),
    # An archive file: relative, no "..", no empty segment, modest length.
    "path": re.compile(r"(?!.*(^|/)\.\.?(/|$))[A-Za-z0-9_.-]{1,128}(/[A-Za-z0-9_.-]{1,128}){0,6}"),
    "filename": re.compile(r"[A-Za-z0-9_.-]{1,128}"),
}

M = TypeVar("M", bound=BaseModel)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def clean(value: Any, *, depth: int = 0, name: str = "") -> None:
    """Refuse (InvalidRequest) what could not be stored, hashed and archived as it came.

    `name` is the member the value is in, named by the refusal of an integer out of range.
    """
    if depth > MAX_DEPTH:
        raise InvalidRequest(f"请求嵌套不能超过 {MAX_DEPTH} 层")
    if isinstance(value, str):
        _clean_text(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidRequest("数值必须是有限数")
    elif isinstance(value, int) and not isinstance(value, bool):
        if abs(value) > MAX_SAFE_INTEGER:
            raise InvalidRequest(f"整数超出可精确表示的范围：{(name or '请求')[:40]}")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidRequest("对象的键必须是字符串")
            _clean_text(key)
            clean(item, depth=depth + 1, name=key)
    elif isinstance(value, list | tuple):
        for item in value:
            clean(item, depth=depth + 1, name=name)
    elif value is not None and not isinstance(value, bool | int):
        raise InvalidRequest("请求中含有无法识别的值")


def _clean_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidRequest("文本中含有无效的 Unicode 字符") from exc
    if "\x00" in text:
        raise InvalidRequest("文本中不能含有空字符")


def loads(raw: bytes | str) -> Any:
    """Strict JSON, clean (``clean``); InvalidRequest for anything else."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        value = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidRequest("请求体必须是有效的 JSON") from exc
    clean(value)
    return value


def validate(model: type[M], data: Any) -> M:
    """`data` as `model`; InvalidRequest naming the field at fault otherwise."""
    clean(data)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidRequest("请求内容必须是对象")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "请求"
        raise InvalidRequest(f"请求格式不正确：{where}") from exc


def body_limit_ok(length: int | None, limit: int) -> bool:
    """Whether a declared Content-Length fits; None (chunked) is checked while reading."""
    return length is None or 0 <= length <= limit


def path_params(match_info: Mapping[str, str]) -> None:
    """Refuse a path parameter that does not match its pattern (every one has one)."""
    for name, value in match_info.items():
        pattern = PATH_PATTERNS.get(name)
        if pattern is None:
            raise InvalidRequest(f"未定义的路径参数：{name}")
        try:
            _clean_text(value)
        except InvalidRequest as exc:
            raise InvalidRequest(f"路径参数 {name} 格式不正确") from exc
        if not pattern.fullmatch(value):
            raise InvalidRequest(f"路径参数 {name} 格式不正确")


# A Socket.IO packet whose payload is not clean JSON arrives as this event, which no namespace
# handles: the client gets an ``invalid_request`` answer instead of the server a traceback.
# So does an event a client names like one of the server's own (python-socketio would call the
# namespace's connect or disconnect handler with the client's payload).
INVALID_EVENT = "invalid_payload"
RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error", "message"})


class SocketJson:
    """The JSON codec given to python-socketio: strict on what clients send."""

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        return json.dumps(obj, **kwargs)

    @staticmethod
    def loads(text: str | bytes, **kwargs: Any) -> Any:
        try:
            value = loads(text)
        except InvalidRequest:
            return [INVALID_EVENT]
        if isinstance(value, list) and value and str(value[0]) in RESERVED_EVENTS:
            return [INVALID_EVENT]
        return value
