"""The expert roster: an ID number kept to its last four digits, and who replaced an expert.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(32)


def upgrade() -> None:
    """Add the roster columns to participants (both nullable: existing rows stay valid)."""
    op.add_column("participants", sa.Column("id_last4", sa.String(4), nullable=True))
    # No foreign key: SQLite cannot add one to an existing table without copying it.
    op.add_column("participants", sa.Column("replaced_by", ID, nullable=True))


def downgrade() -> None:
    """Drop the roster columns."""
    with op.batch_alter_table("participants") as batch:
        batch.drop_column("replaced_by")
        batch.drop_column("id_last4")
