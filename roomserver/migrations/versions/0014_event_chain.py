"""The event table hash-chained (roomserver.eventchain): each row's SHA-256 and SM3, and the
chain's head, computed here for the rows already there.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

import sqlalchemy as sa
from alembic import op

# The chain's rule of archive format 2, the one the server checks; a change of the rule would
# be a new format with a migration of its own.
from roomserver.eventchain import GENESIS, row_digests

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2000
# Frozen copy of the columns read and written here: a migration must not change when the model
# does.
events = sa.table(
    "events",
    sa.column("seq", sa.BigInteger()),
    sa.column("session_id", sa.String(64)),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("kind", sa.String(64)),
    sa.column("actor", sa.String(200)),
    sa.column("data", sa.JSON()),
    sa.column("hash", sa.String(64)),
    sa.column("sm3", sa.String(64)),
)


def upgrade() -> None:
    """Add events.hash and events.sm3, chain the rows in seq order, and add the head."""
    op.add_column("events", sa.Column("hash", sa.String(64), nullable=True))
    op.add_column("events", sa.Column("sm3", sa.String(64), nullable=True))
    head = op.create_table(
        "event_chain",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("sm3", sa.String(64), nullable=False),
    )
    bind = op.get_bind()
    prev, last = (GENESIS, GENESIS), 0
    while True:
        rows = bind.execute(
            sa.select(events).where(events.c.seq > last).order_by(events.c.seq).limit(BATCH)
        ).fetchall()
        if not rows:
            break
        for row in rows:
            # SQLite keeps UTC without a zone (roomserver.tables.UtcDateTime).
            at = row.at if row.at.tzinfo is not None else row.at.replace(tzinfo=UTC)
            digests = row_digests(
                seq=row.seq,
                session_id=row.session_id,
                at=at,
                kind=row.kind,
                actor=row.actor,
                data=row.data,
                prev=prev,
            )
            bind.execute(
                events.update()
                .where(events.c.seq == row.seq)
                .values(hash=digests[0], sm3=digests[1])
            )
            prev, last = digests, row.seq
    op.bulk_insert(head, [{"id": 1, "seq": last, "hash": prev[0], "sm3": prev[1]}])


def downgrade() -> None:
    """Remove the chain's head and the rows' digests."""
    op.drop_table("event_chain")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("sm3")
        batch.drop_column("hash")
