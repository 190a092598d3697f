"""Region codes of centres, the expert pool, and draws (3.10 sub venues, 7.1.3 experts).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(32)
# Frozen copy of the type in roomserver.tables: a migration must not change when the model does.
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add centres.region_code; create pool_experts and draws."""
    with op.batch_alter_table("centres") as batch:
        batch.add_column(sa.Column("region_code", sa.String(6), nullable=False, server_default=""))
    op.create_table(
        "pool_experts",
        sa.Column("id", ID, primary_key=True),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("id_last4", sa.String(4), nullable=True),
        sa.Column("specialties", sa.JSON(), nullable=False),
        sa.Column("city", sa.String(100), nullable=False),
        sa.Column("employer", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.UniqueConstraint("external_id", name="uq_pool_experts_external_id"),
    )
    op.create_table(
        "draws",
        sa.Column("id", ID, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=True),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("commitment", sa.String(64), nullable=False),
        sa.Column("seed_hex", sa.String(64), nullable=False),
        sa.Column("revealed", sa.Boolean(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("participants", sa.JSON(), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("revealed_at", TIMESTAMP, nullable=True),
    )
    op.create_index("ix_draws_subject", "draws", ["subject"])


def downgrade() -> None:
    """Drop draws and pool_experts; remove centres.region_code."""
    op.drop_index("ix_draws_subject", table_name="draws")
    op.drop_table("draws")
    op.drop_table("pool_experts")
    with op.batch_alter_table("centres") as batch:
        batch.drop_column("region_code")
