"""Trading centres and their evaluation rooms: added, listed, searched by page, and a venue
changed. A centre's name is unique, and a venue's within its centre: the unique indexes decide
(two requests at once cannot both take a name), and the refusal names the name
(``DuplicateName``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from roomserver.errors import DuplicateName, InvalidRequest, NotFound
from roomserver.model import Centre, Venue
from roomserver.tables import (
    Base,
    BookingRow,
    CentreRow,
    VenueRow,
    refuse_unstorable,
    refuse_unstorable_row,
)


def centre_name_taken(name: str) -> DuplicateName:
    """The refusal of a second centre named `name`."""
    return DuplicateName(f"已有名为“{name}”的交易中心")


def venue_name_taken(name: str) -> DuplicateName:
    """The refusal of a second venue named `name` in the same centre."""
    return DuplicateName(f"该交易中心已有名为“{name}”的评标室")


def _centre(row: CentreRow) -> Centre:
    return Centre(id=row.id, name=row.name, city=row.city, region_code=row.region_code)


def venue_of(row: VenueRow) -> Venue:
    """The venue of a row."""
    return Venue(
        id=row.id,
        centre_id=row.centre_id,
        name=row.name,
        city=row.city,
        seat_count=row.seat_count,
        main_capable=row.main_capable,
        sub_capable=row.sub_capable,
        camera_urls=tuple(row.camera_urls or ()),
    )


class PlaceStore:
    """Reads of centres and venues."""

    def __init__(self, db: Callable[[], AsyncSession]) -> None:
        self._db = db

    async def add_centre(self, c: Centre) -> None:
        """Store a trading centre; DuplicateName if another centre has its name, InvalidRequest
        if its id is taken."""
        row = CentreRow(id=c.id, name=c.name, city=c.city, region_code=c.region_code)
        await self._add(
            row, CentreRow.name == c.name, centre_name_taken(c.name), "交易中心编号重复"
        )

    async def add_venue(self, v: Venue) -> None:
        """Store an evaluation room; DuplicateName if another room of its centre has its name,
        InvalidRequest if its id is taken or its centre unknown."""
        row = VenueRow(
            id=v.id,
            centre_id=v.centre_id,
            name=v.name,
            city=v.city,
            seat_count=v.seat_count,
            main_capable=v.main_capable,
            sub_capable=v.sub_capable,
            camera_urls=list(v.camera_urls),
        )
        twin = (VenueRow.centre_id == v.centre_id) & (VenueRow.name == v.name)
        await self._add(row, twin, venue_name_taken(v.name), "评标室编号重复或所属交易中心不存在")

    async def _add(
        self, row: Base, twin: ColumnElement[bool], taken: DuplicateName, refused: str
    ) -> None:
        """Insert `row` unless a `twin` has its name; `refused` for any other broken key."""
        refuse_unstorable_row(row)  # before its name is used in a query
        async with self._db() as db:
            if await db.scalar(select(exists().where(twin))):
                raise taken
            db.add(row)
            try:
                await db.commit()
            except IntegrityError as exc:
                await db.rollback()
                # Taken meanwhile by another request: the unique index refused this one.
                if await db.scalar(select(exists().where(twin))):
                    raise taken from exc
                raise InvalidRequest(refused) from exc

    async def centres(self) -> list[Centre]:
        """Every centre, by city then name."""
        async with self._db() as db:
            rows = await db.scalars(select(CentreRow).order_by(CentreRow.city, CentreRow.name))
            return [_centre(r) for r in rows]

    async def centre(self, centre_id: str) -> Centre:
        """One centre; NotFound if there is none."""
        async with self._db() as db:
            row = await db.get(CentreRow, centre_id)
        if row is None:
            raise NotFound("未找到该交易中心")
        return _centre(row)

    async def update_venue(
        self,
        venue_id: str,
        *,
        name: str | None = None,
        city: str | None = None,
        seat_count: int | None = None,
        main_capable: bool | None = None,
        sub_capable: bool | None = None,
        camera_urls: tuple[str, ...] | None = None,
        now: datetime,
    ) -> Venue:
        """Change a venue (5.5.2); fewer seats are refused while an active booking from `now` on
        holds one of the seats that would go, and a name another venue of its centre has."""
        if name is not None:
            refuse_unstorable(VenueRow.__table__, {"name": name})
        async with self._db() as db:
            row = await db.get(VenueRow, venue_id, with_for_update=True)
            if row is None:
                raise NotFound("未找到该评标室")
            renamed = name is not None and name != row.name
            if name is not None and renamed:
                twin = await db.scalar(
                    select(
                        exists().where(
                            VenueRow.centre_id == row.centre_id,
                            VenueRow.name == name,
                            VenueRow.id != row.id,
                        )
                    )
                )
                if twin:
                    raise venue_name_taken(name)
            changed = Venue(
                id=row.id,
                centre_id=row.centre_id,
                name=name if name is not None else row.name,
                city=city if city is not None else row.city,
                seat_count=seat_count if seat_count is not None else row.seat_count,
                main_capable=main_capable if main_capable is not None else row.main_capable,
                sub_capable=sub_capable if sub_capable is not None else row.sub_capable,
                camera_urls=camera_urls if camera_urls is not None else tuple(row.camera_urls),
            )  # InvalidVenue for what the model refuses
            if changed.seat_count < row.seat_count:
                held = await db.scalars(
                    select(BookingRow).where(
                        BookingRow.venue_id == venue_id,
                        BookingRow.state == "active",
                        BookingRow.ends_at > now,
                    )
                )
                if any(max(b.seats) > changed.seat_count for b in held):
                    raise InvalidRequest("仍有有效预约占用将被减少的机位，请先变更或取消这些预约")
            row.name, row.city, row.seat_count = changed.name, changed.city, changed.seat_count
            row.main_capable, row.sub_capable = changed.main_capable, changed.sub_capable
            row.camera_urls = list(changed.camera_urls)
            try:
                await db.commit()
            except IntegrityError as exc:
                await db.rollback()
                if renamed:  # another venue took the name meanwhile: the unique index refused it
                    raise venue_name_taken(changed.name) from exc
                raise InvalidRequest("评标室信息无法保存") from exc
            return changed

    async def search_venues(
        self, *, text: str = "", centre_id: str = "", page: int = 1, per_page: int = 20
    ) -> tuple[list[Venue], int]:
        """A page of the venues whose name or city contains `text` (of one centre, if given),
        by city then name, and how many there are in all."""
        query = select(VenueRow)
        if text:
            pattern = f"%{text.replace('%', '').replace('_', '')}%"
            query = query.where(or_(VenueRow.name.like(pattern), VenueRow.city.like(pattern)))
        if centre_id:
            query = query.where(VenueRow.centre_id == centre_id)
        async with self._db() as db:
            total = await db.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = await db.scalars(
                query.order_by(VenueRow.city, VenueRow.name, VenueRow.id)
                .offset((page - 1) * per_page)
                .limit(per_page)
            )
            return [venue_of(r) for r in rows], total
