"""Shapes of the Socket.IO payloads; anything else is refused before it reaches the room."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from roomserver.errors import InvalidRequest

MAX_SDP_BYTES = 64 * 1024
MAX_CANDIDATE_BYTES = 1024

Role = Literal["camera", "microphone", "desktop", "preview"]
Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]
SeatKey = Annotated[str, StringConstraints(min_length=3, max_length=100)]
ViewerId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


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


class AckWarningRequest(_Payload):
    """``ack_warning``: the expert has read a supervisor's warning."""

    id: Id


class WatchRequest(_Payload):
    """``watch`` (supervision wall): a receive-only offer for a room's grid and mix."""

    session_id: Id
    viewer: ViewerId
    type: Literal["offer"]
    sdp: str = Field(min_length=10, max_length=MAX_SDP_BYTES)
    roles: dict[str, Literal["grid", "mix"]] = Field(max_length=4)


class FocusRequest(_Payload):
    """``focus`` (supervision wall): a receive-only offer for one seat's camera and desktop."""

    session_id: Id
    seat: SeatKey
    viewer: ViewerId
    type: Literal["offer"]
    sdp: str = Field(min_length=10, max_length=MAX_SDP_BYTES)
    roles: dict[str, Literal["camera", "desktop", "mix"]] = Field(max_length=4)


class CameraViewRequest(_Payload):
    """``camera`` (supervision wall): a receive-only offer for a room monitoring camera."""

    session_id: Id
    camera: Id
    viewer: ViewerId
    type: Literal["offer"]
    sdp: str = Field(min_length=10, max_length=MAX_SDP_BYTES)
    roles: dict[str, Literal["roomcam"]] = Field(max_length=2)


class ViewerCandidateRequest(IceCandidateRequest):
    """``ice_candidate`` of a viewer connection."""

    viewer: ViewerId


class UnwatchRequest(_Payload):
    """``unwatch``: close one viewer connection."""

    viewer: ViewerId


class NoteRequest(_Payload):
    """``note``: a supervision note (监督记录) for the session's record."""

    session_id: Id
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    seat: SeatKey | None = None


class WarnRequest(_Payload):
    """``warn``: a warning shown on a seat's screen, or every seat's of the room."""

    session_id: Id
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    seat: SeatKey | None = None


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
