"""What a venue may be (main, sub) and its room monitoring cameras.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add venues.main_capable, venues.sub_capable and venues.camera_urls."""
    op.add_column(
        "venues", sa.Column("main_capable", sa.Boolean(), nullable=False, server_default=sa.true())
    )
    op.add_column(
        "venues", sa.Column("sub_capable", sa.Boolean(), nullable=False, server_default=sa.true())
    )
    op.add_column(
        "venues", sa.Column("camera_urls", sa.JSON(), nullable=False, server_default="[]")
    )


def downgrade() -> None:
    """Remove the three columns."""
    with op.batch_alter_table("venues") as batch:
        batch.drop_column("camera_urls")
        batch.drop_column("sub_capable")
        batch.drop_column("main_capable")
