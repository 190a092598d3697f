"""The cluster's shared state: nodes with their heartbeat, each room's node, and leases.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create cluster_nodes, room_placements and cluster_leases (all empty)."""
    op.create_table(
        "cluster_nodes",
        sa.Column("node_id", sa.String(64), primary_key=True),
        sa.Column("url", sa.String(300), nullable=False),
        sa.Column("centres", sa.JSON(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("rooms", sa.Integer(), nullable=False),
        sa.Column("load", sa.Float(), nullable=False),
        sa.Column("hosts_rooms", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("heartbeat_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "room_placements",
        sa.Column("room_id", sa.String(80), primary_key=True),
        sa.Column("node_id", sa.String(64), nullable=False, index=True),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("placed_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "cluster_leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("cluster_leases")
    op.drop_table("room_placements")
    op.drop_table("cluster_nodes")
