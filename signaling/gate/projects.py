"""Shapes of the REST bodies, queries and answers of projects, lots, their sessions and the
people of a session (other than experts, who come from the expert draw)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from signaling.gate.places import Search, Title
from signaling.gate.schemas import Id, Name

Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_.\-]{1,100}$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class LotRequest(_Body):
    """A lot (标段) of a project."""

    code: Code
    name: Title


class ProjectRequest(_Body):
    """A project with its lots (at least one)."""

    centre_id: Id
    code: Code
    name: Title
    tenderer: Title
    lots: list[LotRequest] = Field(min_length=1, max_length=50)


class ProjectQuery(BaseModel):
    """A search of the projects, a page at a time, newest first."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    q: Search = ""
    centre_id: Annotated[str, StringConstraints(max_length=64)] = ""
    page: int = Field(default=1, ge=1, le=10_000)
    per_page: int = Field(default=20, ge=1, le=100)


class SessionRequest(_Body):
    """A lot's evaluation session: its main venue, its sub venues (drawn, 3.10) and its start.
    Each venue must be booked for the lot at the start (7.1.2)."""

    main_venue_id: Id
    sub_venue_ids: list[Id] = Field(default_factory=list, max_length=10)
    scheduled_start: AwareDatetime


class ReviewRequest(_Body):
    """A re-review (复议) of an ended session by the same committee: remote, in the same
    venues (no `venue_id`), or all together in one venue."""

    scheduled_start: AwareDatetime
    reason: Title
    venue_id: Id | None = None


class PersonRequest(_Body):
    """Somebody of the session other than an expert: the host and staff at a venue, the
    witness, a supervisor or an ops engineer (运维技术人员, at a venue or for every venue); at
    a bid opening also the tenderer (招标人) and its agency (招标代理机构)."""

    role: Literal["host", "staff", "witness", "supervisor", "ops", "tenderer", "agency"]
    name: Name
    venue_id: Id | None = None


class ForcedEnd(BaseModel):
    """An administrator's forced end of a session: why, when, by whom, and in which phase of
    the workflow it came."""

    reason: str
    at: AwareDatetime
    by: str | None
    phase: str
    phase_label: str


class SessionSummary(BaseModel):
    """A lot's evaluation session in brief."""

    id: str
    state: str
    scheduled_start: AwareDatetime
    main_venue_id: str
    sub_venue_ids: list[str]
    review_of: str | None = None  # the ended session a re-review (复议) re-convenes
    review_reason: str | None = None  # why the re-review was convened
    forced_end: ForcedEnd | None = None  # an ended session's forced end, if it was forced


class OpeningField(BaseModel):
    """A field the bids give and the opening reads out (投标报价, 工期…)."""

    name: str
    label: str
    kind: str
    unit: str


class OpeningParameter(BaseModel):
    """A benchmark-price parameter drawn at the opening, with its candidate values."""

    name: str
    label: str
    candidates: list[str]


class OpeningSummary(BaseModel):
    """A lot's bid opening (开标) in brief: its session, room, deadline, phase and terms."""

    id: str  # the opening's session
    state: str  # the session's: scheduled, live, ended
    phase: str  # the opening's (``roomserver.openingstate.Phase``)
    phase_label: str
    venue_id: str
    deadline: AwareDatetime
    bidders: int
    fields: list[OpeningField]
    min_bids: int
    decryption_minutes: int
    benchmark: list[OpeningParameter]
    public: bool


class LotOut(BaseModel):
    """A lot and its evaluation session, if it has one, with the re-reviews (复议) of that
    session and of those in turn, by scheduled start (each names the session it re-convenes);
    and its bid opening, if one was set up."""

    id: str
    code: str
    name: str
    position: int
    session: SessionSummary | None
    reviews: list[SessionSummary] = Field(default_factory=list)
    opening: OpeningSummary | None = None


class ProjectOut(BaseModel):
    """A project with its lots."""

    id: str
    centre_id: str
    code: str
    name: str
    tenderer: str
    created_at: AwareDatetime
    created_by: str
    lots: list[LotOut]


class ProjectPage(BaseModel):
    """One page of a project search (lots not included)."""

    items: list[ProjectOut]
    total: int
    page: int
    per_page: int


class DocumentQuery(BaseModel):
    """What a document added to a project's record is, and its name."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: Literal[
        "tender", "bid", "standard", "clarification", "award", "contract", "complaint", "other"
    ]
    name: Title


class DocumentOut(BaseModel):
    """A document of a project's record, with its digests and where to read it."""

    project: str
    kind: str
    name: str
    content_type: str
    path: str
    size: int
    sha256: str
    sm3: str
    added_at: AwareDatetime
    added_by: str
    url: str


class DocumentList(BaseModel):
    """A project's documents, oldest first."""

    items: list[DocumentOut]


class ReviewOut(BaseModel):
    """The re-review session and who of the committee was seated in it."""

    session: SessionSummary
    review_of: str
    experts: list[str]


class FeeOut(BaseModel):
    """One expert's fee for a session (5.5.6), in fen, with the rule that made it."""

    session_id: str
    expert_id: str
    name: str
    id_last4: str | None
    venue_id: str | None
    checked_in_at: AwareDatetime
    left_at: AwareDatetime
    seconds: int
    amount_fen: int
    rule: dict[str, float]


class FeeList(BaseModel):
    """The fee records of an ended session."""

    items: list[FeeOut]


class PersonOut(BaseModel):
    """A person added to a session."""

    id: str
    session_id: str
    role: str
    name: str
    venue_id: str | None


class LinkState(BaseModel):
    """A person's latest link: open (active), revoked or expired, and how many are open."""

    id: str
    state: Literal["active", "revoked", "expired"]
    issued_at: AwareDatetime
    expires_at: AwareDatetime
    revoked_at: AwareDatetime | None
    reason: str | None
    open: int


class PersonEntry(BaseModel):
    """Somebody of a session (an expert with their seat, or another role), and their link."""

    id: str
    role: str
    name: str
    venue_id: str | None
    seat_no: int | None
    id_last4: str | None
    replaced_by: str | None
    link: LinkState | None


class PeopleList(BaseModel):
    """A session's people: experts in roster order, then the others by role."""

    items: list[PersonEntry]
