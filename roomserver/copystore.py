"""The copies of each session's archive in the database (``archive_copies``): one row per
session and location (primary, replica), written after every copy and every verification.

Nodes of a cluster that share the database share these rows: whichever node checked a copy last
wrote its row, so the archive page of every node shows the same.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from roomserver.copies import ArchiveCopy
from roomserver.tables import ArchiveCopyRow, findable, refuse_unstorable


def _copy(row: ArchiveCopyRow) -> ArchiveCopy:
    return ArchiveCopy(
        session_id=row.session_id,
        location=row.location,
        path=row.path,
        state=row.state,
        checked_at=row.checked_at,
        detail=row.detail,
        parts=row.parts,
        bytes=row.bytes,
        copied_at=row.copied_at,
        verified_at=row.verified_at,
    )


class CopyStore:
    """The archive copies' latest checks as the database holds them."""

    def __init__(self, db: Callable[[], AsyncSession]) -> None:
        self._db = db

    async def save(self, copy: ArchiveCopy) -> None:
        """Write a copy's row (replacing its earlier check)."""
        values = {
            "path": copy.path,
            "state": copy.state,
            "detail": copy.detail,
            "parts": copy.parts,
            "bytes": copy.bytes,
            "checked_at": copy.checked_at,
            "copied_at": copy.copied_at,
            "verified_at": copy.verified_at,
        }
        key = {"session_id": copy.session_id, "location": copy.location}
        refuse_unstorable(ArchiveCopyRow.__table__, {**key, **values})
        where = (
            ArchiveCopyRow.session_id == copy.session_id,
            ArchiveCopyRow.location == copy.location,
        )
        for _attempt in range(2):
            async with self._db() as db:
                result = await db.execute(update(ArchiveCopyRow).where(*where).values(values))
                if result.rowcount:  # type: ignore[attr-defined]
                    await db.commit()
                    return
                db.add(ArchiveCopyRow(**key, **values))
                try:
                    await db.commit()
                    return
                except IntegrityError:
                    await db.rollback()  # another node wrote it first: update theirs
        raise RuntimeError(f"archive copy {copy.session_id}/{copy.location} could not be saved")

    async def of_session(self, session_id: str) -> dict[str, ArchiveCopy]:
        """A session's copies by location."""
        if not findable(session_id):
            return {}
        async with self._db() as db:
            rows = await db.scalars(
                select(ArchiveCopyRow).where(ArchiveCopyRow.session_id == session_id)
            )
            return {row.location: _copy(row) for row in rows}

    async def all(self) -> list[ArchiveCopy]:
        """Every copy of every session, by session and location."""
        async with self._db() as db:
            rows = await db.scalars(
                select(ArchiveCopyRow).order_by(ArchiveCopyRow.session_id, ArchiveCopyRow.location)
            )
            return [_copy(row) for row in rows]
