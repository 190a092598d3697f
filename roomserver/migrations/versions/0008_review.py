"""A re-review (复议, 7.2.4-2) names the ended session it re-convenes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add sessions.review_of (a plain column: SQLite cannot add a key to a table others refer
    to without copying it; the server checks the session exists)."""
    op.add_column("sessions", sa.Column("review_of", sa.String(32), nullable=True))


def downgrade() -> None:
    """Remove sessions.review_of."""
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("review_of")
