"""Projects and lots in the database, and the opening of a lot's evaluation session.

A lot gets its session in the same transaction that stores the session, so that a lot never has
two sessions and a session never lacks its lot, whoever asks at the same time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from roomserver.errors import InvalidRequest, NotFound
from roomserver.model import Session, SessionKind, SessionState
from roomserver.openings import Opening, OpeningTerms
from roomserver.projects import Lot, Project
from roomserver.tables import LotRow, OpeningRow, ProjectRow, SessionRow, SessionSubVenueRow


def session_rows(s: Session) -> list[Any]:
    """The rows of a session: itself, then its sub venues in order."""
    row = SessionRow(
        id=s.id,
        project_code=s.project_code,
        project_name=s.project_name,
        main_venue_id=s.main_venue_id,
        scheduled_start=s.scheduled_start,
        state=s.state.value,
        review_of=s.review_of,
        kind=s.kind.value,
    )
    subs = [
        SessionSubVenueRow(session_id=s.id, position=i, venue_id=venue_id)
        for i, venue_id in enumerate(s.sub_venue_ids)
    ]
    return [row, *subs]


def session_of(row: SessionRow, sub_venue_ids: list[str]) -> Session:
    """A session from its row and its sub venues in order (the inverse of `session_rows`)."""
    return Session(
        id=row.id,
        project_code=row.project_code,
        project_name=row.project_name,
        main_venue_id=row.main_venue_id,
        sub_venue_ids=tuple(sub_venue_ids),
        scheduled_start=row.scheduled_start,
        state=SessionState(row.state),
        review_of=row.review_of,
        kind=SessionKind(row.kind),
    )


def _project(row: ProjectRow) -> Project:
    return Project(
        id=row.id,
        centre_id=row.centre_id,
        code=row.code,
        name=row.name,
        tenderer=row.tenderer,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _lot(row: LotRow) -> Lot:
    return Lot(
        id=row.id,
        project_id=row.project_id,
        code=row.code,
        name=row.name,
        position=row.position,
        session_id=row.session_id,
    )


def _opening(row: OpeningRow) -> Opening:
    return Opening(row.session_id, row.lot_id, OpeningTerms.from_json(row.deadline, row.terms))


class ProjectStore:
    """Projects, their lots, and each lot's evaluation session."""

    def __init__(self, db: Callable[[], AsyncSession]) -> None:
        self._db = db

    async def add_project(self, p: Project) -> None:
        """Store a project; InvalidRequest if its code is taken or its centre unknown."""
        async with self._db() as db:
            db.add(
                ProjectRow(
                    id=p.id,
                    centre_id=p.centre_id,
                    code=p.code,
                    name=p.name,
                    tenderer=p.tenderer,
                    created_at=p.created_at,
                    created_by=p.created_by,
                )
            )
            try:
                await db.commit()
            except IntegrityError as exc:
                raise InvalidRequest(f"项目编号 {p.code} 已存在，或交易中心不存在") from exc

    async def project(self, project_id: str) -> Project:
        """One project; NotFound if there is none."""
        async with self._db() as db:
            row = await db.get(ProjectRow, project_id)
        if row is None:
            raise NotFound("未找到该项目")
        return _project(row)

    async def search(
        self, *, text: str = "", centre_id: str = "", page: int = 1, per_page: int = 20
    ) -> tuple[list[Project], int]:
        """A page of the projects whose code, name or tenderer contains `text`, newest first."""
        query = select(ProjectRow)
        if text:
            pattern = f"%{text.replace('%', '').replace('_', '')}%"
            query = query.where(
                or_(
                    ProjectRow.code.like(pattern),
                    ProjectRow.name.like(pattern),
                    ProjectRow.tenderer.like(pattern),
                )
            )
        if centre_id:
            query = query.where(ProjectRow.centre_id == centre_id)
        async with self._db() as db:
            total = await db.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = await db.scalars(
                query.order_by(ProjectRow.created_at.desc(), ProjectRow.id)
                .offset((page - 1) * per_page)
                .limit(per_page)
            )
            return [_project(r) for r in rows], total

    async def add_lot(self, lot: Lot) -> None:
        """Store a lot; InvalidRequest if the project already has its code."""
        async with self._db() as db:
            db.add(
                LotRow(
                    id=lot.id,
                    project_id=lot.project_id,
                    code=lot.code,
                    name=lot.name,
                    position=lot.position,
                    session_id=None,
                )
            )
            try:
                await db.commit()
            except IntegrityError as exc:
                raise InvalidRequest(f"标段编号 {lot.code} 在该项目中已存在") from exc

    async def lots(self, project_id: str) -> list[Lot]:
        """A project's lots in order."""
        async with self._db() as db:
            rows = await db.scalars(
                select(LotRow).where(LotRow.project_id == project_id).order_by(LotRow.position)
            )
            return [_lot(r) for r in rows]

    async def lot(self, lot_id: str) -> Lot:
        """One lot; NotFound if there is none."""
        async with self._db() as db:
            row = await db.get(LotRow, lot_id)
        if row is None:
            raise NotFound("未找到该标段")
        return _lot(row)

    async def lot_of_session(self, session_id: str) -> Lot | None:
        """The lot whose evaluation session this is, if any."""
        async with self._db() as db:
            row = await db.scalar(select(LotRow).where(LotRow.session_id == session_id))
        return _lot(row) if row is not None else None

    async def reviews(self, session_ids: list[str]) -> dict[str, list[Session]]:
        """The re-reviews (复议) of each session, and theirs in turn, by scheduled start."""
        root = {sid: sid for sid in session_ids}
        found: dict[str, list[Session]] = {sid: [] for sid in session_ids}
        frontier = list(session_ids)
        async with self._db() as db:
            while frontier:
                rows = list(
                    await db.scalars(select(SessionRow).where(SessionRow.review_of.in_(frontier)))
                )
                subs: dict[str, list[str]] = {}
                for link in await db.scalars(
                    select(SessionSubVenueRow)
                    .where(SessionSubVenueRow.session_id.in_([r.id for r in rows]))
                    .order_by(SessionSubVenueRow.position)
                ):
                    subs.setdefault(link.session_id, []).append(link.venue_id)
                for r in rows:
                    root[r.id] = root[str(r.review_of)]
                    found[root[r.id]].append(session_of(r, subs.get(r.id, [])))
                frontier = [r.id for r in rows]
        for reviews in found.values():
            reviews.sort(key=lambda s: (s.scheduled_start, s.id))
        return found

    async def open_session(self, lot_id: str, session: Session) -> Lot:
        """Store `session` as the lot's evaluation session, in one transaction; InvalidRequest
        if the lot has one already or a venue is unknown."""
        async with self._db() as db:
            db.add_all(session_rows(session))
            await db.flush()
            taken = await db.execute(
                update(LotRow)
                .where(LotRow.id == lot_id, LotRow.session_id.is_(None))
                .values(session_id=session.id)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]  # a CursorResult
                await db.rollback()
                await self.lot(lot_id)  # NotFound for an unknown lot
                raise InvalidRequest("该标段已有评标场次")
            try:
                await db.commit()
            except IntegrityError as exc:
                raise InvalidRequest("该标段已有评标场次，或评标室不存在") from exc
        return await self.lot(lot_id)

    async def open_opening(self, session: Session, opening: Opening) -> None:
        """Store the lot's opening and its session in one transaction; InvalidRequest if the
        lot has an opening already or the venue is unknown."""
        async with self._db() as db:
            db.add_all(session_rows(session))
            await db.flush()
            db.add(
                OpeningRow(
                    session_id=session.id,
                    lot_id=opening.lot_id,
                    deadline=opening.terms.deadline,
                    terms=opening.terms.as_json(),
                )
            )
            try:
                await db.commit()
            except IntegrityError as exc:
                raise InvalidRequest("该标段已有开标场次，或开标室不存在") from exc

    async def opening(self, session_id: str) -> Opening:
        """The opening whose session this is; NotFound if it is not an opening's."""
        async with self._db() as db:
            row = await db.get(OpeningRow, session_id)
        if row is None:
            raise NotFound("未找到该开标场次")
        return _opening(row)

    async def opening_of_lot(self, lot_id: str) -> Opening | None:
        """The lot's opening, if it has one."""
        async with self._db() as db:
            row = await db.scalar(select(OpeningRow).where(OpeningRow.lot_id == lot_id))
        return _opening(row) if row is not None else None
