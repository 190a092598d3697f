"""Venue and seat bookings, and the claims (venue, seat, quarter hour) that make them exclusive.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(32)
# Frozen copy of the type in roomserver.tables: a migration must not change when the model does.
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the bookings and booking_claims tables."""
    op.create_table(
        "bookings",
        sa.Column("id", ID, primary_key=True),
        sa.Column("venue_id", ID, sa.ForeignKey("venues.id"), nullable=False),
        sa.Column("starts_at", TIMESTAMP, nullable=False),
        sa.Column("ends_at", TIMESTAMP, nullable=False),
        sa.Column("seats", sa.JSON(), nullable=False),
        sa.Column("purpose", sa.String(200), nullable=False),
        sa.Column("lot_id", sa.String(64), nullable=True),
        sa.Column("session_id", sa.String(64), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("booked_by", sa.String(200), nullable=False),
        sa.Column("booked_at", TIMESTAMP, nullable=False),
        sa.Column("cancelled_by", sa.String(200), nullable=True),
        sa.Column("cancelled_at", TIMESTAMP, nullable=True),
        sa.Column("reason", sa.String(200), nullable=True),
    )
    op.create_index("ix_bookings_venue_id", "bookings", ["venue_id"])
    op.create_index("ix_bookings_session_id", "bookings", ["session_id"])
    op.create_table(
        "booking_claims",
        sa.Column("venue_id", ID, sa.ForeignKey("venues.id"), primary_key=True),
        sa.Column("seat_no", sa.Integer(), primary_key=True),
        sa.Column("quarter", sa.BigInteger(), primary_key=True),
        sa.Column("booking_id", ID, sa.ForeignKey("bookings.id"), nullable=False),
    )
    op.create_index("ix_booking_claims_booking_id", "booking_claims", ["booking_id"])


def downgrade() -> None:
    """Drop the booking tables."""
    op.drop_index("ix_booking_claims_booking_id", table_name="booking_claims")
    op.drop_table("booking_claims")
    op.drop_index("ix_bookings_session_id", table_name="bookings")
    op.drop_index("ix_bookings_venue_id", table_name="bookings")
    op.drop_table("bookings")
