"""Shapes of what the bid opening's routes take: the opening a lot's administrator sets up, its
bidders, the commands of the hall and the opening console, a representative's sign-in, a key
released and an objection.

Only the fields named here reach the state machine (``roomserver.opening``) and the log: what
the server adds itself (digests of what it stores, the draw's commitment and seed, the record
sheet's digests, who the bidder is) is not a page's to send. These models check types and outer
bounds; the rules are the state machine's, with its own messages.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from roomserver.errors import IllegalCommand
from signaling.gate.inputs import validate
from signaling.gate.schemas import Id, Name

MAX_TEXT_CHARS = 2000  # the state machine allows 500 and says so; this bounds what is read
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]
Hex64 = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")]
FieldName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
# A picture or a PDF as base64 (of up to 512 KB), with or without a data: URL prefix.
MAX_ATTACHMENT_CHARS = 700 * 1024
# A face picture (JPEG, up to 512 KB) as base64.
MAX_PICTURE_CHARS = 700 * 1024


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class FieldSpecIn(_Body):
    """One opening field the tender documents define (read out at the opening)."""

    name: FieldName
    label: Label
    kind: Literal["money", "decimal", "integer", "text"] = "text"
    unit: Annotated[str, StringConstraints(max_length=20)] = ""


class ParameterIn(_Body):
    """A benchmark-price parameter to draw, with the values the tender documents allow."""

    name: FieldName
    label: Label
    candidates: list[Annotated[str, StringConstraints(min_length=1, max_length=40)]] = Field(
        min_length=1, max_length=100
    )


class OpeningRequest(_Body):
    """``POST /api/lots/{lot_id}/opening``: the lot's bid opening, where its host sits, the
    bid deadline (when the opening starts) and the tender documents' terms."""

    venue_id: Id
    deadline: AwareDatetime
    fields: list[FieldSpecIn] | None = Field(default=None, min_length=1, max_length=12)
    min_bids: int = Field(default=3, ge=1, le=50, strict=True)
    decryption_minutes: int = Field(default=30, ge=1, le=240, strict=True)
    benchmark: list[ParameterIn] = Field(default_factory=list, max_length=10)
    public: bool = False


class BidderRequest(_Body):
    """``POST /api/sessions/{session_id}/bidders``: a bidder (投标人) of the lot, by its name,
    with its unified social credit code (统一社会信用代码) when known."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    credit_code: Annotated[str, StringConstraints(pattern=r"^([0-9A-Z]{18})?$")] = ""


class OpeningCommand(_Body):
    """``POST /api/sessions/{session_id}/opening``: a command of the hall or the console."""

    kind: Annotated[str, StringConstraints(max_length=40)]
    fields: dict[str, Any] = Field(default_factory=dict)


class SignInRequest(_Body):
    """``POST /api/sessions/{session_id}/opening/sign-in``: a representative's identity and
    the face picture from their camera (a JPEG, base64)."""

    representative: Name
    id_number: Annotated[str, StringConstraints(pattern=r"^[0-9]{17}[0-9Xx]$")]
    picture: Annotated[str, StringConstraints(min_length=100, max_length=MAX_PICTURE_CHARS)]


class KeyRelease(_Body):
    """``POST /api/sessions/{session_id}/opening/key``: the bidder's raw AES-256 key, base64."""

    key: Annotated[str, StringConstraints(min_length=40, max_length=64)]


class ObjectionRequest(_Body):
    """``POST /api/sessions/{session_id}/opening/objections``: an objection (异议), with a
    picture or a PDF as base64 if the bidder adds one."""

    text: Text
    attachment: Annotated[str, StringConstraints(max_length=MAX_ATTACHMENT_CHARS)] | None = None
    attachment_type: Literal["image/jpeg", "image/png", "application/pdf"] | None = None


class RecordRequest(_Body):
    """``POST /api/sessions/{session_id}/opening/record``: the host puts up the opening record
    sheet the server makes (again, after a change)."""

    again: bool = False


# -- the fields of each command a page may give through ``OpeningCommand`` ---------------------


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class NoFields(_Fields):
    """No fields."""


class Minutes(_Fields):
    """``open_decryption``: the time limit, if not the terms'."""

    minutes: int | None = Field(default=None, ge=1, le=240)


class Extend(_Fields):
    """``extend_decryption``: more minutes, and why."""

    minutes: int = Field(ge=1, le=240)
    reason: Text


class Reason(_Fields):
    """A reason (``report_failure``, ``pause``, ``force_end``)."""

    reason: Text


class OwnBidder(_Fields):
    """A bidder acting for itself (``confirm_row``); the token names it when left out."""

    bidder: Id | None = None


class Failure(_Fields):
    """``report_failure``: why the bidder cannot decrypt."""

    bidder: Id | None = None
    reason: Text


class Handling(_Fields):
    """``handle_failure``: the host's decision on a reported failure, and for an accepted bid
    its fields read by other means (its backup copy)."""

    bidder: Id
    decision: Literal["accepted", "rejected"]
    handling: Text
    fields: dict[str, str | int] | None = None


class Answer(_Fields):
    """``answer_objection``."""

    objection: int = Field(ge=1, le=10_000)
    answer: Text


class PublicKey(_Fields):
    """``register_key``: the host's or witness's P-256 public key (SPKI, base64)."""

    public_key: Annotated[str, StringConstraints(max_length=512)]


class Signature(_Fields):
    """``sign_record``: the signature over the current sheet's statement."""

    record_sha256: Hex64
    signature: Annotated[str, StringConstraints(max_length=200)]


class Text1(_Fields):
    """A text (``urge``, ``notice``)."""

    text: Text


class Mute(_Fields):
    """``mute``: a speaker and why."""

    participant: Id
    reason: Text


class Unmute(_Fields):
    """``unmute``."""

    participant: Id


class OpenIncident(_Fields):
    """``open_incident``."""

    kind: Literal["platform", "other"]
    description: Text


class HandleIncident(_Fields):
    """``handle_incident``."""

    incident: int = Field(ge=1, le=10_000)
    handling: Text


class CloseIncident(_Fields):
    """``close_incident``."""

    incident: int = Field(ge=1, le=10_000)
    result: Text


class AllowPublic(_Fields):
    """``allow_public``: the public broadcast opened (true) or closed, with why when closed."""

    public: bool = Field(strict=True)
    reason: Text | None = None


FIELDS: dict[str, type[_Fields]] = {
    "open_submission": NoFields,
    "open_decryption": Minutes,
    "extend_decryption": Extend,
    "report_failure": Failure,
    "handle_failure": Handling,
    "close_decryption": NoFields,
    "draw_benchmark": NoFields,
    "publish_readout": NoFields,
    "confirm_row": OwnBidder,
    "answer_objection": Answer,
    "register_key": PublicKey,
    "sign_record": Signature,
    "end": NoFields,
    "force_end": Reason,
    "urge": Text1,
    "notice": Text1,
    "allow_public": AllowPublic,
    "mute": Mute,
    "unmute": Unmute,
    "pause": Reason,
    "resume": NoFields,
    "open_incident": OpenIncident,
    "handle_incident": HandleIncident,
    "close_incident": CloseIncident,
}


def opening_fields(kind: str, fields: Any) -> dict[str, Any]:
    """The fields a page sent for `kind`, validated; IllegalCommand for a command no page
    gives this way (the server's own, and those with their own routes)."""
    model = FIELDS.get(kind)
    if model is None:
        shown = kind[:40].encode("utf-8", "backslashreplace").decode("utf-8")
        raise IllegalCommand(f"不支持的开标操作：{shown}")
    return validate(model, fields).model_dump(exclude_unset=True)
