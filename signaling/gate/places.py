"""Shapes of the REST bodies, queries and answers of centres, venues and bookings.

Bodies and queries are refused before a handler runs when they do not fit; answers are what the
handlers return, and with the bodies they make the API document (``signaling.http.openapi``).
Times are ISO 8601 with a time zone (Beijing time, ``+08:00``, is what the pages send).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from roomserver.model import MAX_SEATS, MIN_SEATS
from signaling.gate.schemas import Id, Text

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
City = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Search = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
SeatNo = Annotated[int, Field(ge=1, le=MAX_SEATS, strict=True)]
RtspUrl = Annotated[str, StringConstraints(pattern=r"^rtsps?://\S{1,490}$")]
Cameras = Annotated[list[RtspUrl], Field(max_length=8)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class _Query(BaseModel):
    # A page's token may come along in the query.
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


class CentreRequest(_Body):
    """A trading centre to add, with its 行政区划代码 (six digits) when known."""

    name: Title
    city: City
    region_code: Annotated[str, StringConstraints(pattern=r"^([1-8][0-9]{5})?$")] = ""


class VenueRequest(_Body):
    """An evaluation room to add."""

    centre_id: Id
    name: Title
    city: City
    seat_count: int = Field(ge=MIN_SEATS, le=MAX_SEATS, strict=True)
    main_capable: bool = True
    sub_capable: bool = True
    camera_urls: Cameras = Field(default_factory=list)


class VenueChange(_Body):
    """What changed of a venue (5.5.2); what is left out stays."""

    name: Title | None = None
    city: City | None = None
    seat_count: int | None = Field(default=None, ge=MIN_SEATS, le=MAX_SEATS, strict=True)
    main_capable: bool | None = None
    sub_capable: bool | None = None
    camera_urls: Cameras | None = None


class VenueQuery(_Query):
    """A search of the venues, a page at a time."""

    q: Search = ""
    centre_id: Annotated[str, StringConstraints(max_length=64)] = ""
    page: int = Field(default=1, ge=1, le=10_000)
    per_page: int = Field(default=20, ge=1, le=100)


class BookingRequest(_Body):
    """Seats of a venue for a time slot; no seats named means every seat of the venue."""

    venue_id: Id
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    seats: list[SeatNo] | None = Field(default=None, min_length=1, max_length=MAX_SEATS)
    purpose: Title
    lot_id: Id | None = None
    session_id: Id | None = None


class BookingChange(_Body):
    """A booking's new slot and seats (same venue); no seats named keeps its seats."""

    starts_at: AwareDatetime
    ends_at: AwareDatetime
    seats: list[SeatNo] | None = Field(default=None, min_length=1, max_length=MAX_SEATS)


class CancelRequest(_Body):
    """Why a booking is cancelled."""

    reason: Text


class BookingQuery(_Query):
    """Bookings of a venue or of every venue, overlapping a period."""

    venue_id: Annotated[str, StringConstraints(max_length=64)] = ""
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    include_cancelled: bool = False


class VacancyQuery(_Query):
    """Which venues have enough free seats during a slot, in every centre or one city."""

    starts_at: AwareDatetime
    ends_at: AwareDatetime
    seats: int = Field(default=MIN_SEATS, ge=1, le=MAX_SEATS)
    city: Search = ""


class CentreOut(BaseModel):
    """A trading centre."""

    id: str
    name: str
    city: str
    region_code: str


class CentreList(BaseModel):
    """Every trading centre."""

    items: list[CentreOut]


class VenueOut(BaseModel):
    """An evaluation room."""

    id: str
    centre_id: str
    centre_name: str
    name: str
    city: str
    seat_count: int
    main_capable: bool
    sub_capable: bool
    # The cameras' addresses, a password in them shown as ***.
    cameras: list[str]


class DoorTokenRequest(_Body):
    """How long a venue's access-control system's token is valid."""

    days: int = Field(default=365, ge=1, le=3650)


class DoorTokenOut(BaseModel):
    """A bearer token for the venue's access-control system, shown once."""

    venue_id: str
    token: str
    link_id: str
    expires_at: AwareDatetime


class VenuePage(BaseModel):
    """One page of a venue search."""

    items: list[VenueOut]
    total: int
    page: int
    per_page: int


class BookingOut(BaseModel):
    """A booking, active or cancelled."""

    id: str
    venue_id: str
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    seats: list[int]
    purpose: str
    lot_id: str | None
    session_id: str | None
    state: str
    booked_by: str
    booked_at: AwareDatetime
    cancelled_by: str | None
    cancelled_at: AwareDatetime | None
    reason: str | None


class BookingList(BaseModel):
    """Bookings by start time."""

    items: list[BookingOut]


class VacancyOut(BaseModel):
    """A venue with the seats free during the slot asked about."""

    venue: VenueOut
    free_seats: list[int]


class VacancyList(BaseModel):
    """Venues with enough free seats, the most free first."""

    items: list[VacancyOut]


class CentrePersonRequest(_Body):
    """One of a centre's own people: an administrator, a supervisor of its sessions or an ops
    engineer (运维技术人员), and for how many days their link holds."""

    role: Literal["admin", "supervisor", "ops"]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    days: int = Field(default=30, ge=1, le=366, strict=True)


class CentrePersonReissue(_Body):
    """A new link for one of a centre's people; the old one is revoked."""

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    days: int = Field(default=30, ge=1, le=366, strict=True)


class CentrePersonRevoke(_Body):
    """Why a centre person's link is taken back."""

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class CentrePersonOut(BaseModel):
    """One of a centre's people, by their latest link; the URL only when just issued."""

    link_id: str
    role: str
    name: str
    subject: str
    state: Literal["active", "revoked", "expired"]
    issued_at: AwareDatetime
    issued_by: str
    expires_at: AwareDatetime
    revoked_at: AwareDatetime | None = None
    reason: str | None = None
    url: str | None = None


class CentrePeople(BaseModel):
    """A centre's people with their links, newest first."""

    items: list[CentrePersonOut]
