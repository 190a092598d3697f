"""A webhook's former secret, which signs beside the new one for a while after a rotation.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A frozen copy of the type in roomserver.tables.
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add webhooks.previous_secret and webhooks.previous_until (both empty)."""
    with op.batch_alter_table("webhooks") as table:
        table.add_column(sa.Column("previous_secret", sa.String(200), nullable=True))
        table.add_column(sa.Column("previous_until", TIMESTAMP, nullable=True))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("webhooks") as table:
        table.drop_column("previous_until")
        table.drop_column("previous_secret")
