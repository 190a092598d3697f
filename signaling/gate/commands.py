"""Shapes of the fields of each workflow command; anything else is refused before it is applied.

Only fields named here reach the state machine (``roomserver.workflow``) and the session's log:
an unknown field is refused, never logged. These models check types and outer bounds only; the
rules (who, when, what a text may say) are the state machine's, with its own messages.
Fields the server adds itself (the identity snapshot, the report's digests, the handwriting's
place in the archive, the seed of a draw by lot) are not a client's to send.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from roomserver.errors import IllegalCommand
from signaling.gate.inputs import ID, validate

MAX_TEXT_CHARS = 2000  # the state machine allows 500 and says so; this bounds what is read
MAX_HANDWRITING_CHARS = 700 * 1024  # base64 of a PNG of up to 512 KB, with a data: URL prefix


# Valid Unicode without NUL is checked for every payload first (``signaling.gate.inputs``).
Id = Annotated[str, StringConstraints(pattern=f"^{ID}$")]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]
Option = Annotated[str, StringConstraints(max_length=50)]
Hex64 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Number = Annotated[int, Field(ge=1, le=10_000)]


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Own(_Fields):
    """An expert acting for themselves; their token names them when the field is left out."""

    expert: Id | None = None


class NoFields(_Fields):
    """``open_check_in``, ``end``, ``resume``: no fields."""


class CheckIn(_Fields):
    """``check_in``: staff confirm the expert against the identity picture."""

    expert: Id | None = None


class Commit(_Own):
    """``commit``: the commitment letter, with no conflict of interest."""

    no_conflict: bool | None = None


class Withdraw(_Own):
    """``withdraw``: a declared conflict of interest."""

    reason: Text | None = None


class ReplaceExpert(_Fields):
    """``replace_expert`` (the roster route): a newly drawn expert takes the seat."""

    expert: Id
    replacement: Id
    name: Annotated[str, StringConstraints(max_length=64)]
    reason: Text | None = None


class RegisterKey(_Own):
    """``register_key``: the expert's P-256 public key (SPKI, base64)."""

    public_key: Annotated[str, StringConstraints(max_length=512)] | None = None


class StartElection(_Fields):
    """``start_election``: candidates (all seated when left out) and the tie rule."""

    candidates: list[Id] | None = Field(default=None, max_length=100)
    tie_rule: Literal["revote", "lot"] | None = None
    max_rounds: Annotated[int, Field(ge=0, le=100)] | None = None


class CastBallot(_Own):
    """``cast_ballot``: a candidate, or a blank ballot (``abstain``)."""

    candidate: Id | None = None
    abstain: bool = False


class OpenMotion(_Fields):
    """``open_motion``: the question and its options."""

    title: Text | None = None
    options: list[Option] | None = Field(default=None, max_length=20)


class Vote(_Own):
    """``vote``: an option of the open motion, or an abstention."""

    motion: Number | None = None
    option: Option | None = None
    abstain: bool = False


class CloseMotion(_Fields):
    """``close_motion``: closed with the votes cast so far."""

    motion: Number | None = None


class CancelMotion(_Fields):
    """``cancel_motion``: withdrawn without a result."""

    motion: Number | None = None
    reason: Text | None = None


class ExcuseExpert(_Fields):
    """``excuse_expert``: an absent expert leaves the committee, with the reason."""

    expert: Id | None = None
    reason: Text | None = None


class Sign(_Own):
    """``sign``: the statement's signature and the handwriting drawn on the seat page."""

    report_sha256: Hex64 | None = None
    signature: Annotated[str, StringConstraints(max_length=256)] | None = None
    handwriting_png: Annotated[str, StringConstraints(max_length=MAX_HANDWRITING_CHARS)] | None = (
        None
    )


class WithReason(_Fields):
    """``pause``, ``force_end``: a reason."""

    reason: Text | None = None


class Notice(_Fields):
    """``notice``: a text for every seat."""

    text: Text | None = None


class OpenIncident(_Fields):
    """``open_incident``: where, what kind, what happened."""

    venue: Id | None = None
    kind: Annotated[str, StringConstraints(max_length=32)] | None = None
    description: Text | None = None


class HandleIncident(_Fields):
    """``handle_incident``: what was done."""

    incident: Number | None = None
    handling: Text | None = None


class CloseIncident(_Fields):
    """``close_incident``: how it ended."""

    incident: Number | None = None
    result: Text | None = None


class PutUpReport(_Fields):
    """``start_signing`` / ``replace_report``: the uploaded report's digests."""

    report_sha256: Hex64
    report_sm3: Hex64


FIELDS: dict[str, type[_Fields]] = {
    "open_check_in": NoFields,
    "check_in": CheckIn,
    "commit": Commit,
    "withdraw": Withdraw,
    "replace_expert": ReplaceExpert,
    "register_key": RegisterKey,
    "start_election": StartElection,
    "cast_ballot": CastBallot,
    "open_motion": OpenMotion,
    "vote": Vote,
    "close_motion": CloseMotion,
    "cancel_motion": CancelMotion,
    "excuse_expert": ExcuseExpert,
    "start_signing": PutUpReport,
    "replace_report": PutUpReport,
    "sign": Sign,
    "end": NoFields,
    "force_end": WithReason,
    "pause": WithReason,
    "resume": NoFields,
    "notice": Notice,
    "open_incident": OpenIncident,
    "handle_incident": HandleIncident,
    "close_incident": CloseIncident,
}


def model_of(kind: str) -> type[_Fields]:
    """The fields' model of a command `kind`; IllegalCommand for an unknown one."""
    model = FIELDS.get(kind)
    if model is None:
        raise IllegalCommand(f"未知的操作：{printable(kind)}")
    return model


def parse_fields(kind: str, fields: Any) -> dict[str, Any]:
    """The fields a client sent for `kind`, validated; only those it set are kept."""
    return validate(model_of(kind), fields).model_dump(exclude_unset=True)


def printable(kind: str) -> str:
    """A command kind safe to log and to show, whatever a client sent."""
    return kind[:40].encode("utf-8", "backslashreplace").decode("utf-8")
