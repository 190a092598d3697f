"""Declarative SQLAlchemy tables behind SqlStore, and what text their columns hold on every
engine; the schema itself is owned by Alembic."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql import FromClause

from roomserver.errors import InvalidRequest
from roomserver.model import MAX_SEATS, MIN_SEATS

ID = String(32)  # uuid4 hex
# SQLite only auto-assigns an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
SEQ = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always tz-aware UTC in Python, whatever the backend keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes; store UTC (naive on SQLite, which has no time zones)."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime cannot be stored; attach a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Re-attach UTC to what SQLite hands back; normalise aware values to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of the roomserver tables."""


class CentreRow(Base):
    """Table of trading centres (交易中心)."""

    __tablename__ = "centres"
    # Two centres of one name could not be told apart.
    __table_args__ = (Index("uq_centres_name", "name", unique=True),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    region_code: Mapped[str] = mapped_column(String(6), default="")


class VenueRow(Base):
    """Table of evaluation rooms (评标室)."""

    __tablename__ = "venues"
    __table_args__ = (
        CheckConstraint(
            f"seat_count BETWEEN {MIN_SEATS} AND {MAX_SEATS}", name="ck_venues_seat_count"
        ),
        # Two rooms of one name in the same centre could not be told apart.
        Index("uq_venues_centre_name", "centre_id", "name", unique=True),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    centre_id: Mapped[str] = mapped_column(ID, ForeignKey("centres.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    seat_count: Mapped[int] = mapped_column(Integer)
    main_capable: Mapped[bool] = mapped_column(Boolean, default=True)
    sub_capable: Mapped[bool] = mapped_column(Boolean, default=True)
    camera_urls: Mapped[list[str]] = mapped_column(JSON, default=list)


class SessionRow(Base):
    """Table of evaluation sessions (one project's evaluation)."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_code: Mapped[str] = mapped_column(String(100), index=True)
    project_name: Mapped[str] = mapped_column(String(500))
    main_venue_id: Mapped[str] = mapped_column(ID, ForeignKey("venues.id"))
    scheduled_start: Mapped[datetime] = mapped_column(UtcDateTime())
    state: Mapped[str] = mapped_column(String(16))
    # A re-review (复议, 7.2.4-2) names the session it re-convenes.
    review_of: Mapped[str | None] = mapped_column(ID, nullable=True)
    kind: Mapped[str] = mapped_column(String(16), default="evaluation")  # or "opening"


class SessionSubVenueRow(Base):
    """Link table of a session's sub venues (副场), keeping their order in `position`."""

    __tablename__ = "session_sub_venues"
    __table_args__ = (
        UniqueConstraint("session_id", "venue_id", name="uq_session_sub_venues_venue"),
    )

    session_id: Mapped[str] = mapped_column(ID, ForeignKey("sessions.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    venue_id: Mapped[str] = mapped_column(ID, ForeignKey("venues.id"))


class ParticipantRow(Base):
    """Table of session participants; experts carry a (venue, seat) unique within the session."""

    __tablename__ = "participants"
    __table_args__ = (
        # NULL seats (host, supervisor...) never collide: NULLs are distinct in unique keys.
        UniqueConstraint("session_id", "venue_id", "seat_no", name="uq_participants_seat"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    session_id: Mapped[str] = mapped_column(ID, ForeignKey("sessions.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    venue_id: Mapped[str | None] = mapped_column(ID, ForeignKey("venues.id"), nullable=True)
    seat_no: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The ID number (身份证号) is kept to its last four digits, all the roster shows (7.2.1).
    id_last4: Mapped[str | None] = mapped_column(String(4), nullable=True)
    # An expert who withdrew or took leave gives the seat to the expert drawn in their place.
    replaced_by: Mapped[str | None] = mapped_column(ID, nullable=True)


class EventRow(Base):
    """Append-only activity log; `seq` is the global order of everything that happened."""

    __tablename__ = "events"
    __table_args__ = {"sqlite_autoincrement": True}

    # SqlStore.append_event assigns it (the last one plus one, under a write lock), so that seqs
    # have no gaps and become visible in their order.
    seq: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=True)
    # No foreign key: refusals are logged with whatever session id the caller claimed.
    session_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    kind: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(String(200), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The row's place in the chain (roomserver.eventchain): SHA-256 and SM3 of its content and
    # of the row before's digests.
    hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sm3: Mapped[str | None] = mapped_column(String(64), nullable=True)


class EventChainRow(Base):
    """The head of the event chain: one row, the seq and digests of the last event.

    Appenders take the next seq from it with an UPDATE, so they queue on it, on every engine.
    """

    __tablename__ = "event_chain"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(SEQ)
    hash: Mapped[str] = mapped_column(String(64))
    sm3: Mapped[str] = mapped_column(String(64))


class LinkRow(Base):
    """Personal links (个人链接): the grants a code stands for; the code is kept as its hash."""

    __tablename__ = "links"
    __table_args__ = (UniqueConstraint("code_sha256", name="uq_links_code_sha256"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    code_sha256: Mapped[str] = mapped_column(String(64))
    # What the grants name as their bearer: a participant id, or ROLE:NAME for the unrostered.
    subject: Mapped[str] = mapped_column(String(200), index=True)
    role: Mapped[str] = mapped_column(String(16))
    participant_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    # No foreign keys: a link outlives nothing it names, and parties' sessions may be archives.
    session_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    venue_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    seat_no: Mapped[int | None] = mapped_column(Integer, nullable=True)
    centre_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    name: Mapped[str] = mapped_column(String(100))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    issued_by: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)


class BookingRow(Base):
    """Venue and seat bookings (场地机位预约), active or cancelled; never deleted."""

    __tablename__ = "bookings"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    venue_id: Mapped[str] = mapped_column(ID, ForeignKey("venues.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime())
    seats: Mapped[list[int]] = mapped_column(JSON)
    purpose: Mapped[str] = mapped_column(String(200))
    lot_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    session_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    state: Mapped[str] = mapped_column(String(16))
    booked_by: Mapped[str] = mapped_column(String(200))
    booked_at: Mapped[datetime] = mapped_column(UtcDateTime())
    cancelled_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)


class BookingClaimRow(Base):
    """One seat of one venue for one quarter hour, held by an active booking: the primary key
    is what keeps two overlapping bookings of a seat from both committing."""

    __tablename__ = "booking_claims"

    venue_id: Mapped[str] = mapped_column(ID, ForeignKey("venues.id"), primary_key=True)
    seat_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    quarter: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    booking_id: Mapped[str] = mapped_column(ID, ForeignKey("bookings.id"), index=True)


class ProjectRow(Base):
    """Projects (项目) of the centres; the code is unique."""

    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("code", name="uq_projects_code"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    centre_id: Mapped[str] = mapped_column(ID, ForeignKey("centres.id"), index=True)
    code: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    tenderer: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(200))


class LotRow(Base):
    """Lots (标段) of a project, in order; a lot's evaluation session once it has one."""

    __tablename__ = "lots"
    __table_args__ = (
        UniqueConstraint("project_id", "code", name="uq_lots_code"),
        UniqueConstraint("session_id", name="uq_lots_session"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(ID, ForeignKey("projects.id"), index=True)
    code: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)
    session_id: Mapped[str | None] = mapped_column(ID, ForeignKey("sessions.id"), nullable=True)


class OpeningRow(Base):
    """A lot's bid opening: its session, the deadline and the terms of its tender documents."""

    __tablename__ = "openings"
    # One opening a lot.
    __table_args__ = (UniqueConstraint("lot_id", name="uq_openings_lot"),)

    session_id: Mapped[str] = mapped_column(ID, ForeignKey("sessions.id"), primary_key=True)
    lot_id: Mapped[str] = mapped_column(ID, ForeignKey("lots.id"))
    deadline: Mapped[datetime] = mapped_column(UtcDateTime())
    # fields, min_bids, decryption_minutes, benchmark parameters, broadcast to the public.
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)


class PoolExpertRow(Base):
    """The expert pool (专家库) as imported from the expert management system."""

    __tablename__ = "pool_experts"
    __table_args__ = (UniqueConstraint("external_id", name="uq_pool_experts_external_id"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    id_last4: Mapped[str | None] = mapped_column(String(4), nullable=True)
    specialties: Mapped[list[str]] = mapped_column(JSON)
    city: Mapped[str] = mapped_column(String(100))
    employer: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class DrawRow(Base):
    """Draws of sub venues and experts: the facts and commitment published before, the seed and
    result after. The seed stays here, unpublished, until the draw is revealed."""

    __tablename__ = "draws"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(64), index=True)
    session_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    facts: Mapped[str] = mapped_column(Text)
    commitment: Mapped[str] = mapped_column(String(64))
    seed_hex: Mapped[str] = mapped_column(String(64))
    revealed: Mapped[bool] = mapped_column(Boolean)
    result: Mapped[list[list[str]] | None] = mapped_column(JSON, nullable=True)
    # Drawn experts seated in a session: pool id → participant id.
    participants: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revealed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class WebhookRow(Base):
    """Subscribers to pushes (推送订阅): where to, which topics, and how far they were told."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(2000))
    topics: Mapped[list[str]] = mapped_column(JSON)
    # Kept as given: every push is signed with it. Shown once, when the subscriber is added.
    secret: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean)
    # The seq of the last event the subscriber is done with (delivered, or not of its topics).
    cursor_seq: Mapped[int] = mapped_column(BigInteger)
    # Failed attempts at the event after the cursor (the next pause grows with them).
    failures: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    disabled_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # After a rotation: the former secret, which signs beside the new one until previous_until.
    previous_secret: Mapped[str | None] = mapped_column(String(200), nullable=True)
    previous_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class WebhookDeliveryRow(Base):
    """The delivery log: every attempt to send an event to a subscriber, and how it went."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=True)
    webhook_id: Mapped[str] = mapped_column(ID, ForeignKey("webhooks.id"), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    topic: Mapped[str] = mapped_column(String(32))
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class ClusterNodeRow(Base):
    """A node of the cluster as it last reported itself (roomserver.clusterstore)."""

    __tablename__ = "cluster_nodes"

    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(String(300))
    centres: Mapped[list[str]] = mapped_column(JSON)
    capacity: Mapped[int] = mapped_column(Integer)
    rooms: Mapped[int] = mapped_column(Integer)
    load: Mapped[float] = mapped_column(Float)
    hosts_rooms: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[float] = mapped_column(Float)
    heartbeat_at: Mapped[float] = mapped_column(Float)


class RoomPlacementRow(Base):
    """The node a room is pinned to; `epoch` counts its moves (a move names the epoch it saw)."""

    __tablename__ = "room_placements"

    room_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), index=True)
    epoch: Mapped[int] = mapped_column(Integer)
    placed_at: Mapped[float] = mapped_column(Float)


class ClusterLeaseRow(Base):
    """A job one node of the cluster does at a time, held until `expires_at` unless renewed."""

    __tablename__ = "cluster_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[float] = mapped_column(Float)


class ArchiveCopyRow(Base):
    """A location's copy of a session's archive as last checked (roomserver.copystore)."""

    __tablename__ = "archive_copies"

    session_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    location: Mapped[str] = mapped_column(String(16), primary_key=True)  # primary or replica
    path: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text)
    parts: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(BigInteger)
    checked_at: Mapped[datetime] = mapped_column(UtcDateTime())
    copied_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


def findable(*keys: str | None) -> bool:
    """Whether a lookup by `keys` can find anything: no stored text holds a NUL (see
    refuse_unstorable), and PostgreSQL refuses one even as a query parameter."""
    return not any(key is not None and "\x00" in key for key in keys)


def refuse_unstorable(table: FromClause, values: Mapping[str, Any]) -> None:
    """InvalidRequest for text that one engine would keep and another refuse: longer than its
    column (SQLite ignores the length, PostgreSQL enforces it) or holding a NUL character
    (which PostgreSQL's text cannot hold)."""
    for name, value in values.items():
        if not isinstance(value, str):
            continue
        column_type = table.c[name].type
        length = column_type.length if isinstance(column_type, String) else None
        if "\x00" in value or (length is not None and len(value) > length):
            raise InvalidRequest(f"文字过长或含有无法保存的字符（{name}）")


def refuse_unstorable_row(row: Base) -> None:
    """refuse_unstorable for every column of an ORM row."""
    table = row.__table__
    refuse_unstorable(table, {c.key: getattr(row, c.key) for c in table.columns})
