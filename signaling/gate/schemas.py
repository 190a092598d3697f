"""Shapes of every input: Socket.IO payloads, REST bodies and queries.

Anything else is refused before it reaches the room; ``signaling.gate.inputs`` has already refused
what is not clean JSON. The workflow's command fields are in ``signaling.gate.commands``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from signaling.gate.inputs import ID, validate

MAX_SDP_BYTES = 64 * 1024
MAX_CANDIDATE_BYTES = 1024
# An ICE candidate line (RFC 8839): foundation, component, transport, priority, address, port,
# "typ" and its type, then optional attributes; or the empty end-of-candidates.
CANDIDATE = (
    r"^$|^(a=)?candidate:[A-Za-z0-9+/]{1,32} [0-9]{1,3} [A-Za-z]{3,8} [0-9]{1,10} "
    r"[A-Za-z0-9.:_-]{1,255} [0-9]{1,5} typ [a-z]{4,5}( [ -~]{0,800})?$"
)

Role = Literal["camera", "microphone", "desktop", "preview"]
Id = Annotated[str, StringConstraints(pattern=f"^{ID}$")]
SeatKey = Annotated[str, StringConstraints(min_length=3, max_length=100)]
ViewerId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class JoinRequest(_Payload):
    """``join``: no fields."""


class OfferRequest(_Payload):
    """``offer``: the browser's SDP and what each media section carries."""

    type: Literal["offer"]
    sdp: str = Field(min_length=10, max_length=MAX_SDP_BYTES)
    roles: dict[str, Role] = Field(max_length=8)


class IceCandidateRequest(_Payload):
    """``ice_candidate``: one trickled candidate (empty string = end of candidates)."""

    candidate: str = Field(max_length=MAX_CANDIDATE_BYTES, pattern=CANDIDATE)
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


class SpeakRequest(_Payload):
    """``speak`` (hall): a speaker's offer: its microphone, and the host's camera too."""

    type: Literal["offer"]
    sdp: str = Field(min_length=10, max_length=MAX_SDP_BYTES)
    roles: dict[str, Literal["camera", "microphone"]] = Field(min_length=1, max_length=2)


class StopSpeakingRequest(_Payload):
    """``stop_speaking`` (hall): no fields."""


class HallWatchRequest(_Payload):
    """``watch`` (hall): a receive-only offer for the hall's broadcast, each media section's
    mid mapped to a stream (the host's camera, the information screen, the sound)."""

    type: Literal["offer"]
    sdp: str = Field(min_length=10, max_length=MAX_SDP_BYTES)
    roles: dict[str, Literal["camera", "screen", "sound"]] = Field(min_length=1, max_length=3)


class HallUnwatchRequest(_Payload):
    """``unwatch`` (hall): no fields (a connection watches once)."""


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


# -- REST bodies and queries ---------------------------------------------------------------------

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class TokenRequest(_Payload):
    """``POST /api/tokens``: a participant's join link."""

    participant_id: Id
    ttl_s: int | None = Field(default=None, ge=60, le=30 * 24 * 3600, strict=True)


class LoginRequest(_Payload):
    """``POST /api/login``: the code of a personal link, or the hand-over login of a page sent on
    to another node of the cluster."""

    code: str | None = Field(default=None, min_length=1, max_length=64)
    handover: str | None = Field(default=None, min_length=1, max_length=4096)

    @model_validator(mode="after")
    def _one_of_them(self) -> LoginRequest:
        if (self.code is None) == (self.handover is None):
            raise ValueError("code or handover, one of them")
        return self


class LinkRevokeRequest(_Payload):
    """``POST /api/sessions/{id}/links/{participant_id}/revoke``: why the link is taken back."""

    reason: str = Field(min_length=1, max_length=200)


class LinkReissueRequest(_Payload):
    """``POST /api/sessions/{id}/links/{participant_id}/reissue``: a new link, the old revoked."""

    reason: str = Field(default="重新发放", min_length=1, max_length=200)
    ttl_s: int | None = Field(default=None, ge=60, le=30 * 24 * 3600, strict=True)


class WorkflowRequest(_Payload):
    """``POST /api/sessions/{id}/workflow``: one command; its fields are checked by kind."""

    kind: Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,32}$")]
    fields: dict[str, Any] = Field(default_factory=dict)


class EndRequest(_Payload):
    """``POST /api/sessions/{id}/end``: the end instruction; an administrator gives a reason."""

    reason: Text | None = None


class ExpertEntry(_Payload):
    """One drawn expert of an import."""

    name: Name
    venue_id: Id
    seat_no: int = Field(ge=1, le=99, strict=True)
    id_number: Annotated[str, StringConstraints(max_length=32)] | None = None


class ExpertsImport(_Payload):
    """``POST /api/sessions/{id}/experts``: the experts drawn for the session."""

    experts: list[ExpertEntry] = Field(min_length=1, max_length=30)


class ReplacementRequest(_Payload):
    """``POST /api/sessions/{id}/experts/{expert}/replacement``: the expert drawn instead."""

    name: Name
    id_number: Annotated[str, StringConstraints(max_length=32)] | None = None
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None


class DoorEntry(_Payload):
    """``POST /api/venues/{venue}/door-access``: one entry or exit at the venue's door."""

    name: Name
    direction: Literal["in", "out"]
    at: Annotated[str, StringConstraints(max_length=40)] | None = None
    card: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{1,32}$")] | None = None


class ActivityQuery(_Payload):
    """``GET /api/sessions/{id}/activity?after=``: events after this sequence number."""

    model_config = ConfigDict(extra="ignore", frozen=True)  # ``token`` may come along

    after: int = Field(default=0, ge=0, le=2**53)


class ArchiveQuery(_Payload):
    """``GET /api/archive/sessions?q=&from=&to=&venue=``: a search of the archives."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    q: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""
    from_: Annotated[str, StringConstraints(pattern=r"^(\d{4}-\d{2}-\d{2})?$")] = Field(
        default="", alias="from"
    )
    to: Annotated[str, StringConstraints(pattern=r"^(\d{4}-\d{2}-\d{2})?$")] = ""
    venue: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] = ""


M = TypeVar("M", bound=_Payload)


def parse_payload(model: type[M], data: Any) -> M:
    """Validate a payload; InvalidRequest (with the field at fault) otherwise."""
    return validate(model, data)
