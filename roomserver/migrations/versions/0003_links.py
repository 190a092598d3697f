"""Personal links: a random code the server maps to its grants, kept only as its SHA-256.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(32)
# Frozen copy of the type in roomserver.tables: a migration must not change when the model does.
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the links table."""
    op.create_table(
        "links",
        sa.Column("id", ID, primary_key=True),
        sa.Column("code_sha256", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("participant_id", ID, nullable=True),
        sa.Column("session_id", sa.String(64), nullable=True),
        sa.Column("venue_id", ID, nullable=True),
        sa.Column("seat_no", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("issued_at", TIMESTAMP, nullable=False),
        sa.Column("issued_by", sa.String(200), nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.Column("revoked_by", sa.String(200), nullable=True),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.UniqueConstraint("code_sha256", name="uq_links_code_sha256"),
    )
    op.create_index("ix_links_subject", "links", ["subject"])
    op.create_index("ix_links_session_id", "links", ["session_id"])


def downgrade() -> None:
    """Drop the links table."""
    op.drop_index("ix_links_session_id", table_name="links")
    op.drop_index("ix_links_subject", table_name="links")
    op.drop_table("links")
