"""Bid openings (开标): a session's kind, and each lot's opening with its deadline and terms.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(32)
# Frozen copy of the type in roomserver.tables: a migration must not change when the model does.
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add sessions.kind (every session so far is an evaluation) and the openings table."""
    op.add_column(
        "sessions",
        sa.Column("kind", sa.String(16), nullable=False, server_default="evaluation"),
    )
    op.create_table(
        "openings",
        sa.Column("session_id", ID, sa.ForeignKey("sessions.id"), primary_key=True),
        sa.Column("lot_id", ID, sa.ForeignKey("lots.id"), nullable=False),
        sa.Column("deadline", TIMESTAMP, nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.UniqueConstraint("lot_id", name="uq_openings_lot"),
    )


def downgrade() -> None:
    """Remove the openings table and sessions.kind."""
    op.drop_table("openings")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("kind")
