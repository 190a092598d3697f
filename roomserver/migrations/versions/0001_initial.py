"""Initial schema: centres, venues, sessions and their sub venues, participants, events.

Revision ID: 0001
Revises:
Create Date: 2025-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(32)
# Frozen copy of the type in roomserver.tables: a migration must not change when the model does.
TIMESTAMP = sa.DateTime(timezone=True)
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create every table of the first schema."""
    op.create_table(
        "centres",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("city", sa.String(100), nullable=False),
    )
    op.create_table(
        "venues",
        sa.Column("id", ID, primary_key=True),
        sa.Column("centre_id", ID, sa.ForeignKey("centres.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("city", sa.String(100), nullable=False),
        sa.Column("seat_count", sa.Integer(), nullable=False),
        # Standard Table 1: 5 to 10 expert seats per room.
        sa.CheckConstraint("seat_count BETWEEN 5 AND 10", name="ck_venues_seat_count"),
    )
    op.create_index("ix_venues_centre_id", "venues", ["centre_id"])
    op.create_table(
        "sessions",
        sa.Column("id", ID, primary_key=True),
        sa.Column("project_code", sa.String(100), nullable=False),
        sa.Column("project_name", sa.String(500), nullable=False),
        sa.Column("main_venue_id", ID, sa.ForeignKey("venues.id"), nullable=False),
        sa.Column("scheduled_start", TIMESTAMP, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
    )
    op.create_index("ix_sessions_project_code", "sessions", ["project_code"])
    op.create_table(
        "session_sub_venues",
        sa.Column("session_id", ID, sa.ForeignKey("sessions.id"), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("venue_id", ID, sa.ForeignKey("venues.id"), nullable=False),
        sa.UniqueConstraint("session_id", "venue_id", name="uq_session_sub_venues_venue"),
    )
    op.create_table(
        "participants",
        sa.Column("id", ID, primary_key=True),
        sa.Column("session_id", ID, sa.ForeignKey("sessions.id"), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("venue_id", ID, sa.ForeignKey("venues.id"), nullable=True),
        sa.Column("seat_no", sa.Integer(), nullable=True),
        sa.UniqueConstraint("session_id", "venue_id", "seat_no", name="uq_participants_seat"),
    )
    op.create_index("ix_participants_session_id", "participants", ["session_id"])
    op.create_table(
        "events",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.String(64), nullable=True),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        # AUTOINCREMENT: SQLite then never reuses a seq, so the log order is never ambiguous.
        sqlite_autoincrement=True,
    )
    op.create_index("ix_events_session_id", "events", ["session_id"])


def downgrade() -> None:
    """Drop every table of the first schema."""
    op.drop_index("ix_events_session_id", table_name="events")
    op.drop_table("events")
    op.drop_index("ix_participants_session_id", table_name="participants")
    op.drop_table("participants")
    op.drop_table("session_sub_venues")
    op.drop_index("ix_sessions_project_code", table_name="sessions")
    op.drop_table("sessions")
    op.drop_index("ix_venues_centre_id", table_name="venues")
    op.drop_table("venues")
    op.drop_table("centres")
