"""Shapes of the Socket.IO payloads; anything else is refused before it reaches the room."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from roomserver.errors import InvalidRequest

MAX_SDP_BYTES = 64 * 1024
MAX_CANDIDATE_BYTES = 1024

Role = Literal["camera", "microphone", "desktop"]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JoinRequest(_Payload):
    """``join``: no fields."""


class OfferRequest(_Payload):
    """``offer``: the browser's SDP and what each media section carries."""

    type: Literal["offer"]
    sdp: str = Field(min_length=10, max_length=MAX_SDP_BYTES)
    roles: dict[str, Role] = Field(max_length=8)


class IceCandidateRequest(_Payload):
    """``ice_candidate``: one trickled candidate (empty string = end of candidates)."""

    candidate: str = Field(max_length=MAX_CANDIDATE_BYTES)
    sdpMid: str | None = Field(default=None, max_length=32)
    sdpMLineIndex: int | None = Field(default=None, ge=0, le=64)
    usernameFragment: str | None = Field(default=None, max_length=256)


class LeaveRequest(_Payload):
    """``leave``: no fields."""


M = TypeVar("M", bound=_Payload)


def parse_payload(model: type[M], data: Any) -> M:
    """Validate a payload; InvalidRequest (with the field at fault) otherwise."""
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
