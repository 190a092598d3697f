"""The copies of each session's archive: primary and replica, their latest copy and check.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create archive_copies (empty: every archive is checked again by the sweep)."""
    op.create_table(
        "archive_copies",
        sa.Column("session_id", sa.String(80), primary_key=True),
        sa.Column("location", sa.String(16), primary_key=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("checked_at", TIMESTAMP, nullable=False),
        sa.Column("copied_at", TIMESTAMP, nullable=True),
        sa.Column("verified_at", TIMESTAMP, nullable=True),
    )


def downgrade() -> None:
    """Drop it."""
    op.drop_table("archive_copies")
