"""Projects and their lots; a lot's evaluation session.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(32)
# Frozen copy of the type in roomserver.tables: a migration must not change when the model does.
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the projects and lots tables."""
    op.create_table(
        "projects",
        sa.Column("id", ID, primary_key=True),
        sa.Column("centre_id", ID, sa.ForeignKey("centres.id"), nullable=False),
        sa.Column("code", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("tenderer", sa.String(200), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.UniqueConstraint("code", name="uq_projects_code"),
    )
    op.create_index("ix_projects_centre_id", "projects", ["centre_id"])
    op.create_table(
        "lots",
        sa.Column("id", ID, primary_key=True),
        sa.Column("project_id", ID, sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("code", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("session_id", ID, sa.ForeignKey("sessions.id"), nullable=True),
        sa.UniqueConstraint("project_id", "code", name="uq_lots_code"),
        sa.UniqueConstraint("session_id", name="uq_lots_session"),
    )
    op.create_index("ix_lots_project_id", "lots", ["project_id"])


def downgrade() -> None:
    """Drop the projects and lots tables."""
    op.drop_index("ix_lots_project_id", table_name="lots")
    op.drop_table("lots")
    op.drop_index("ix_projects_centre_id", table_name="projects")
    op.drop_table("projects")
