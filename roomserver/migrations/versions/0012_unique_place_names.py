"""A centre's name is unique, and so is a venue's within its centre.

The server refuses a second centre or venue of a name from now on; a database that already
holds such twins keeps the first of each (by id) as it is, and the others get a number after
their name, e.g. ``第一评标室（2）``, which the administration can change.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-09
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME_MAX = 200


def _numbered(name: str, n: int, taken: set[str]) -> str:
    """`name` with the first number from `n` on that makes it a name not yet taken."""
    while True:
        suffix = f"（{n}）"
        candidate = name[: NAME_MAX - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        n += 1


def _tell_twins_apart(table: str, scope: str | None) -> None:
    """Rename every row after the first of a name (within `scope`, a column, when given)."""
    conn = op.get_bind()
    columns = f"id, name, {scope}" if scope else "id, name, ''"
    rows = conn.execute(sa.text(f"SELECT {columns} FROM {table} ORDER BY id")).all()
    taken: dict[str, set[str]] = {}
    for _, name, group in rows:
        taken.setdefault(group, set()).add(name)
    seen: dict[str, set[str]] = {}
    for row_id, name, group in rows:
        names = seen.setdefault(group, set())
        if name not in names:
            names.add(name)
            continue
        new = _numbered(name, 2, taken[group])
        taken[group].add(new)
        names.add(new)
        conn.execute(
            sa.text(f"UPDATE {table} SET name = :name WHERE id = :id"), {"name": new, "id": row_id}
        )


def upgrade() -> None:
    """Number the twins apart, then add the unique indexes."""
    _tell_twins_apart("centres", None)
    _tell_twins_apart("venues", "centre_id")
    op.create_index("uq_centres_name", "centres", ["name"], unique=True)
    op.create_index("uq_venues_centre_name", "venues", ["centre_id", "name"], unique=True)


def downgrade() -> None:
    """Drop the unique indexes (names stay as they are)."""
    op.drop_index("uq_venues_centre_name", table_name="venues")
    op.drop_index("uq_centres_name", table_name="centres")
