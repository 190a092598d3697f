"""The expert pool and the draws in the database.

A draw is stored when it is committed: its facts (canonical JSON, ``roomserver.draws``), its
commitment and its secret seed. Revealing it stores the result and marks the seed published; a
draw is revealed once. The facts are kept as the very text that was hashed, so that anyone can
recompute the ranks from the record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from roomserver.errors import InvalidRequest, NotFound
from roomserver.expertpool import PoolExpert
from roomserver.tables import DrawRow, PoolExpertRow


@dataclass(frozen=True)
class DrawRecord:
    """A draw as stored: published facts and commitment; seed and result once revealed."""

    id: str
    kind: str
    subject: str
    session_id: str | None
    facts: str
    commitment: str
    seed_hex: str
    revealed: bool
    result: tuple[tuple[str, str], ...] | None
    created_by: str
    created_at: datetime
    revealed_at: datetime | None
    participants: Mapping[str, str] = field(default_factory=dict)


def _record(row: DrawRow) -> DrawRecord:
    return DrawRecord(
        id=row.id,
        kind=row.kind,
        subject=row.subject,
        session_id=row.session_id,
        facts=row.facts,
        commitment=row.commitment,
        seed_hex=row.seed_hex,
        revealed=row.revealed,
        result=tuple((a, b) for a, b in row.result) if row.result is not None else None,
        created_by=row.created_by,
        created_at=row.created_at,
        revealed_at=row.revealed_at,
        participants=dict(row.participants or {}),
    )


def _expert(row: PoolExpertRow) -> PoolExpert:
    return PoolExpert(
        id=row.id,
        external_id=row.external_id,
        name=row.name,
        specialties=tuple(row.specialties),
        city=row.city,
        employer=row.employer,
        id_last4=row.id_last4,
        active=row.active,
    )


class DrawStore:
    """The pool's experts and the draws made from it."""

    def __init__(self, db: Callable[[], AsyncSession]) -> None:
        self._db = db

    async def import_pool(self, experts: Sequence[PoolExpert], at: datetime) -> tuple[int, int]:
        """Add or update experts by their external id, in one transaction: (added, updated)."""
        added = updated = 0
        async with self._db() as db:
            for e in experts:
                row = await db.scalar(
                    select(PoolExpertRow).where(PoolExpertRow.external_id == e.external_id)
                )
                if row is None:
                    db.add(
                        PoolExpertRow(
                            id=e.id,
                            external_id=e.external_id,
                            name=e.name,
                            id_last4=e.id_last4,
                            specialties=list(e.specialties),
                            city=e.city,
                            employer=e.employer,
                            active=e.active,
                            updated_at=at,
                        )
                    )
                    added += 1
                else:
                    row.name, row.id_last4 = e.name, e.id_last4
                    row.specialties, row.city = list(e.specialties), e.city
                    row.employer, row.active, row.updated_at = e.employer, e.active, at
                    updated += 1
            await db.commit()
        return added, updated

    async def pool(self, *, active_only: bool = True) -> list[PoolExpert]:
        """The pool, by external id."""
        query = select(PoolExpertRow).order_by(PoolExpertRow.external_id)
        if active_only:
            query = query.where(PoolExpertRow.active.is_(True))
        async with self._db() as db:
            return [_expert(r) for r in await db.scalars(query)]

    async def search_pool(
        self, *, text: str = "", page: int = 1, per_page: int = 20
    ) -> tuple[list[PoolExpert], int]:
        """A page of the pool whose name, city or employer contains `text`."""
        query = select(PoolExpertRow)
        if text:
            pattern = f"%{text.replace('%', '').replace('_', '')}%"
            query = query.where(
                or_(
                    PoolExpertRow.name.like(pattern),
                    PoolExpertRow.city.like(pattern),
                    PoolExpertRow.employer.like(pattern),
                )
            )
        async with self._db() as db:
            total = await db.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = await db.scalars(
                query.order_by(PoolExpertRow.external_id)
                .offset((page - 1) * per_page)
                .limit(per_page)
            )
            return [_expert(r) for r in rows], total

    async def experts(self, ids: Sequence[str]) -> dict[str, PoolExpert]:
        """Pool experts by id."""
        async with self._db() as db:
            rows = await db.scalars(select(PoolExpertRow).where(PoolExpertRow.id.in_(list(ids))))
            return {r.id: _expert(r) for r in rows}

    async def commit(self, record: DrawRecord) -> None:
        """Store a committed draw (not yet revealed)."""
        if record.revealed:
            raise InvalidRequest("新的抽取不能已揭示")
        async with self._db() as db:
            db.add(
                DrawRow(
                    id=record.id,
                    kind=record.kind,
                    subject=record.subject,
                    session_id=record.session_id,
                    facts=record.facts,
                    commitment=record.commitment,
                    seed_hex=record.seed_hex,
                    revealed=False,
                    result=None,
                    created_by=record.created_by,
                    created_at=record.created_at,
                    revealed_at=None,
                )
            )
            await db.commit()

    async def reveal(
        self,
        draw_id: str,
        result: Sequence[tuple[str, str]],
        at: datetime,
        participants: Mapping[str, str] | None = None,
    ) -> DrawRecord:
        """Store a draw's result (and the participants its experts became) and publish its
        seed; InvalidRequest if already revealed."""
        async with self._db() as db:
            done = await db.execute(
                update(DrawRow)
                .where(DrawRow.id == draw_id, DrawRow.revealed.is_(False))
                .values(
                    revealed=True,
                    result=[list(pair) for pair in result],
                    revealed_at=at,
                    participants=dict(participants or {}),
                )
            )
            if done.rowcount != 1:  # type: ignore[attr-defined]  # a CursorResult
                await db.rollback()
                await self.draw(draw_id)  # NotFound for an unknown draw
                raise InvalidRequest("该抽取已经揭示")
            await db.commit()
        return await self.draw(draw_id)

    async def draw(self, draw_id: str) -> DrawRecord:
        """One draw; NotFound if there is none."""
        async with self._db() as db:
            row = await db.get(DrawRow, draw_id)
        if row is None:
            raise NotFound("未找到该抽取")
        return _record(row)

    async def draws_of(self, subject: str) -> list[DrawRecord]:
        """The draws of a subject (a lot), oldest first."""
        async with self._db() as db:
            rows = await db.scalars(
                select(DrawRow).where(DrawRow.subject == subject).order_by(DrawRow.created_at)
            )
            return [_record(r) for r in rows]
