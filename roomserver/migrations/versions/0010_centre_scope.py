"""The trading centre a link of one centre's administrator, supervisor or ops engineer is
limited to.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add links.centre_id (None: not limited to a centre)."""
    op.add_column("links", sa.Column("centre_id", sa.String(32), nullable=True))


def downgrade() -> None:
    """Remove links.centre_id."""
    with op.batch_alter_table("links") as batch:
        batch.drop_column("centre_id")
