"""Shapes of the REST bodies, queries and answers of the expert pool and of draws."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from roomserver.model import MAX_SEATS, MIN_SEATS
from signaling.gate.places import City, Search, Title
from signaling.gate.projects import Code
from signaling.gate.schemas import Id, Name

Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class PoolEntry(_Body):
    """One expert of the expert management system."""

    external_id: Code
    name: Name
    id_number: Annotated[str, StringConstraints(max_length=32)] | None = None
    specialties: list[Word] = Field(min_length=1, max_length=20)
    city: City
    employer: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    active: bool = True


class PoolImport(_Body):
    """The pool, or a part of it: experts are added or updated by their external id."""

    experts: list[PoolEntry] = Field(min_length=1, max_length=5000)


class PoolQuery(BaseModel):
    """A search of the pool, a page at a time."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    q: Search = ""
    page: int = Field(default=1, ge=1, le=10_000)
    per_page: int = Field(default=20, ge=1, le=100)


class SubVenueDraw(_Body):
    """Sub venues to draw for a lot (3.10): among the venues of the main venue's province,
    other centres than the main venue's, with enough seats free during the slot."""

    main_venue_id: Id
    count: int = Field(ge=1, le=5)
    seats: int = Field(ge=1, le=MAX_SEATS, default=MIN_SEATS)
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class ExpertNeed(_Body):
    """How many experts to draw for a venue of the lot's session, and of what specialty and city."""

    count: int = Field(ge=1, le=MAX_SEATS)
    venue_id: Id
    specialty: Word | None = None
    city: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None


class ExpertDraw(_Body):
    """A draw application (7.1.3): the needs, and who may not be drawn (employers of bidders,
    experts who must withdraw)."""

    needs: list[ExpertNeed] = Field(min_length=1, max_length=10)
    exclude_employers: list[Title] = Field(default_factory=list, max_length=100)
    exclude_external_ids: list[Code] = Field(default_factory=list, max_length=500)


class RedrawRequest(_Body):
    """Why the expert is replaced (请假, 回避, 缺席)."""

    reason: Title


class PoolExpertOut(BaseModel):
    """An expert of the pool."""

    id: str
    external_id: str
    name: str
    id_last4: str | None
    specialties: list[str]
    city: str
    employer: str
    active: bool


class PoolPage(BaseModel):
    """One page of the pool."""

    items: list[PoolExpertOut]
    total: int
    page: int
    per_page: int


class PoolImportOut(BaseModel):
    """How many experts were added and updated."""

    added: int
    updated: int


class DrawnOut(BaseModel):
    """One drawn candidate: for whom (the need's label), its id and name."""

    label: str
    id: str
    name: str


class DrawOut(BaseModel):
    """A draw: the facts and commitment published before it, the seed and result after."""

    id: str
    kind: str
    subject: str
    session_id: str | None
    facts: str
    facts_sha256: str
    commitment: str
    revealed: bool
    seed: str | None
    result: list[DrawnOut] | None
    created_by: str
    created_at: AwareDatetime
    revealed_at: AwareDatetime | None
    verified: bool | None


class SeatLinkOut(BaseModel):
    """An expert's seat and personal link, to hand over at the venue."""

    id: str
    name: str
    venue_id: str
    seat_no: int | None
    id_last4: str | None
    url: str


class RedrawOut(DrawOut):
    """A replacement's draw, revealed, and the seat link of the expert it drew."""

    replacement: SeatLinkOut


class DrawList(BaseModel):
    """A lot's draws, oldest first."""

    items: list[DrawOut]
