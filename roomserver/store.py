"""SqlStore: async persistence of the domain model (SQLite or PostgreSQL via SQLAlchemy 2)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any, Self

from sqlalchemy import (
    ColumnElement,
    event,
    exists,
    select,
    update,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import StaticPool

from roomserver import migrate
from roomserver.bookingstore import BookingStore
from roomserver.canonical import canonical_json
from roomserver.clusterstore import ClusterStore
from roomserver.config import StoreConfig
from roomserver.copystore import CopyStore
from roomserver.drawstore import DrawStore
from roomserver.errors import InvalidRequest, NotFound, SessionEnded
from roomserver.eventchain import row_digests
from roomserver.eventchainstore import CHAIN_HEAD, EventChainStore
from roomserver.links import Link
from roomserver.model import (
    Centre,
    Event,
    Participant,
    Role,
    Session,
    SessionState,
    Venue,
)
from roomserver.placestore import PlaceStore, venue_of
from roomserver.privatefiles import make_private_dir, private_file, tighten
from roomserver.projectstore import ProjectStore, session_of, session_rows
from roomserver.tables import (
    EventChainRow,
    EventRow,
    LinkRow,
    ParticipantRow,
    SessionRow,
    SessionSubVenueRow,
    VenueRow,
    findable,
    refuse_unstorable,
    refuse_unstorable_row,
)
from roomserver.webhookstore import WebhookStore

logger = logging.getLogger(__name__)

# An event that SQLite refused for its lock is tried this many times in all, the pauses
# doubling from APPEND_RETRY_S (0.05 + 0.1 + 0.2 + 0.4 s).
APPEND_ATTEMPTS = 5
APPEND_RETRY_S = 0.05
# Non-expert roles follow the experts in this order when a session's people are listed.
_ROLE_ORDER = MappingProxyType({role: i for i, role in enumerate(Role)})


def _sqlite_file(url: URL) -> Path | None:
    """Return the database file of a SQLite URL, or None for in-memory or other backends."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def _locked(exc: OperationalError) -> bool:
    """Whether SQLite refused for its lock (SQLITE_BUSY), which a later attempt may pass."""
    return "database is locked" in str(exc.orig)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Per connection and outside any transaction, where SQLite honours these pragmas.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # Writers wait for each other instead of failing at once with "database is locked".
        cursor.execute("PRAGMA busy_timeout=5000")
    finally:
        cursor.close()


def _participant(row: ParticipantRow) -> Participant:
    return Participant(
        id=row.id,
        session_id=row.session_id,
        role=Role(row.role),
        name=row.name,
        venue_id=row.venue_id,
        seat_no=row.seat_no,
        id_last4=row.id_last4,
        replaced_by=row.replaced_by,
    )


def _participant_row(p: Participant) -> ParticipantRow:
    return ParticipantRow(
        id=p.id,
        session_id=p.session_id,
        role=p.role.value,
        name=p.name,
        venue_id=p.venue_id,
        seat_no=p.seat_no,
        id_last4=p.id_last4,
        replaced_by=p.replaced_by,
    )


def _link(row: LinkRow) -> Link:
    return Link(
        id=row.id,
        subject=row.subject,
        role=Role(row.role),
        name=row.name,
        issued_at=row.issued_at,
        issued_by=row.issued_by,
        expires_at=row.expires_at,
        participant_id=row.participant_id,
        session_id=row.session_id,
        venue_id=row.venue_id,
        seat_no=row.seat_no,
        centre_id=row.centre_id,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
        reason=row.reason,
    )


def _event(row: EventRow) -> Event:
    return Event(
        seq=row.seq,
        session_id=row.session_id,
        at=row.at,
        kind=row.kind,
        actor=row.actor,
        data=dict(row.data),
    )


class SqlStore:
    """Relational store of centres, venues, sessions, participants and the event log."""

    def __init__(self, config: StoreConfig) -> None:
        self._config = config
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self.bookings = BookingStore(self._db)
        self.places = PlaceStore(self._db)
        self.projects = ProjectStore(self._db)
        self.draws = DrawStore(self._db)
        self.webhooks = WebhookStore(self._db)
        self.chain = EventChainStore(self._db)
        self.cluster = ClusterStore(self._db)
        self.copies = CopyStore(self._db)

    async def start(self) -> None:
        """Create the engine and migrate the schema to the newest Alembic revision."""
        if self._engine is not None:
            return
        url = make_url(self._config.database_url)
        options: dict[str, Any] = {}
        is_sqlite = url.get_backend_name() == "sqlite"
        db_file = _sqlite_file(url)
        if db_file is not None:
            make_private_dir(db_file.parent)
            # Created here with mode 600 before SQLite opens it: SQLite would make it 644, and
            # it gives its -wal and -shm files the mode of the database file.
            private_file(db_file)
            for suffix in ("-wal", "-shm", "-journal"):
                tighten(db_file.with_name(db_file.name + suffix))
        elif is_sqlite:
            # An in-memory database lives as long as its one connection.
            options["poolclass"] = StaticPool
        engine = create_async_engine(url, **options)
        if is_sqlite:
            event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(migrate.upgrade)
        except BaseException:
            await engine.dispose()
            raise
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def close(self) -> None:
        """Dispose of the engine; safe to call twice."""
        engine, self._engine, self._sessions = self._engine, None, None
        if engine is not None:
            await engine.dispose()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _db(self) -> AsyncSession:
        if self._sessions is None:
            raise RuntimeError("SqlStore is not started (or already closed)")
        return self._sessions()

    async def _insert(self, *rows: Any, refused: str) -> None:
        for row in rows:
            refuse_unstorable_row(row)
        # One transaction per add: either the whole entity is stored or nothing is.
        async with self._db() as db:
            db.add_all(rows)
            try:
                await db.commit()
            except IntegrityError as exc:
                await db.rollback()
                raise InvalidRequest(refused) from exc

    # --- reads and writes of the model -------------------------------------------------

    async def is_empty(self) -> bool:
        """Return True while no session has been stored."""
        async with self._db() as db:
            return not await db.scalar(select(exists().select_from(SessionRow)))

    async def add_centre(self, c: Centre) -> None:
        """Store a trading centre (``PlaceStore.add_centre``)."""
        await self.places.add_centre(c)

    async def add_venue(self, v: Venue) -> None:
        """Store an evaluation room (``PlaceStore.add_venue``)."""
        await self.places.add_venue(v)

    async def add_session(self, s: Session) -> None:
        """Store a session with its sub venues in order; InvalidRequest on unknown venues."""
        await self._insert(*session_rows(s), refused="评标场次编号重复或评标室不存在")

    async def add_participant(self, p: Participant) -> None:
        """Store a participant; InvalidRequest if the seat is taken or references are unknown."""
        row = _participant_row(p)
        refuse_unstorable_row(row)  # before its values are used in the query below
        refused = "参与人员编号重复或评标场次、评标室不存在"
        if p.seat_no is not None:
            async with self._db() as db:
                taken = await db.scalar(
                    select(
                        exists().where(
                            ParticipantRow.session_id == p.session_id,
                            ParticipantRow.venue_id == p.venue_id,
                            ParticipantRow.seat_no == p.seat_no,
                        )
                    )
                )
            if taken:
                # Only the message depends on this pre-check; the unique key enforces the rule.
                refused = "该机位已安排给其他专家"
        await self._insert(row, refused=refused)

    async def add_experts(self, experts: list[Participant]) -> None:
        """Store a drawn roster in one transaction: every expert, or none if a seat is taken."""
        rows = [_participant_row(p) for p in experts]
        await self._insert(*rows, refused="机位已安排给其他专家，或评标室不存在")

    async def replace_expert(self, expert_id: str, replacement: Participant) -> None:
        """Give an expert's seat to `replacement`, in one transaction.

        The expert keeps their venue but no longer a seat, and points to the replacement; the
        replacement is stored at that seat. InvalidRequest if the expert has no seat (already
        replaced) or the replacement cannot be stored; nothing is changed then.
        """
        newcomer = _participant_row(replacement)
        refuse_unstorable_row(newcomer)
        async with self._db() as db:
            row = await db.get(ParticipantRow, expert_id) if findable(expert_id) else None
            if row is None or row.role != Role.EXPERT.value or row.seat_no is None:
                raise InvalidRequest("该专家没有可替换的机位")
            if (replacement.session_id, replacement.venue_id, replacement.seat_no) != (
                row.session_id,
                row.venue_id,
                row.seat_no,
            ):
                raise InvalidRequest("替补专家必须安排在原专家的机位")
            row.seat_no = None
            row.replaced_by = replacement.id
            # The seat is freed before the replacement takes it (the unique key is checked
            # per statement).
            await db.flush()
            db.add(newcomer)
            try:
                await db.commit()
            except IntegrityError as exc:
                await db.rollback()
                raise InvalidRequest("替补专家编号重复") from exc

    async def get_venue(self, venue_id: str) -> Venue:
        """Return the venue; NotFound if missing."""
        async with self._db() as db:
            row = await db.get(VenueRow, venue_id) if findable(venue_id) else None
        if row is None:
            raise NotFound("未找到该评标室")
        return venue_of(row)

    async def get_session(self, session_id: str) -> Session:
        """Return the session; NotFound if missing."""
        async with self._db() as db:
            row = await db.get(SessionRow, session_id) if findable(session_id) else None
            if row is None:
                raise NotFound("未找到该评标场次")
            subs = await db.scalars(
                select(SessionSubVenueRow.venue_id)
                .where(SessionSubVenueRow.session_id == session_id)
                .order_by(SessionSubVenueRow.position)
            )
            return session_of(row, list(subs))

    async def get_participant(self, participant_id: str) -> Participant:
        """Return the participant; NotFound if missing."""
        async with self._db() as db:
            row = await db.get(ParticipantRow, participant_id) if findable(participant_id) else None
        if row is None:
            raise NotFound("未找到该参与人员")
        return _participant(row)

    async def list_venues(self) -> list[Venue]:
        """Return every venue, by city then name."""
        async with self._db() as db:
            rows = await db.scalars(
                select(VenueRow).order_by(VenueRow.city, VenueRow.name, VenueRow.id)
            )
            return [venue_of(r) for r in rows]

    async def list_sessions(self) -> list[Session]:
        """Return every session, by scheduled start."""
        async with self._db() as db:
            rows = list(
                await db.scalars(
                    select(SessionRow).order_by(SessionRow.scheduled_start, SessionRow.id)
                )
            )
            links = await db.scalars(
                select(SessionSubVenueRow).order_by(
                    SessionSubVenueRow.session_id, SessionSubVenueRow.position
                )
            )
            subs: dict[str, list[str]] = {}
            for link in links:
                subs.setdefault(link.session_id, []).append(link.venue_id)
        return [session_of(r, subs.get(r.id, [])) for r in rows]

    async def list_participants(self, session_id: str) -> list[Participant]:
        """Return a session's people: experts in roster order, then the others by role."""
        try:
            session = await self.get_session(session_id)
        except NotFound:
            return []
        async with self._db() as db:
            rows = await db.scalars(
                select(ParticipantRow).where(ParticipantRow.session_id == session_id)
            )
            people = [_participant(r) for r in rows]
        venue_order = {venue_id: i for i, venue_id in enumerate(session.venue_ids())}
        no_venue = len(venue_order)

        def key(p: Participant) -> tuple[int, int, int, str, str]:
            return (
                _ROLE_ORDER[p.role],
                venue_order.get(p.venue_id or "", no_venue),
                p.seat_no if p.seat_no is not None else 0,
                p.name,
                p.id,
            )

        return sorted(people, key=key)

    async def set_session_state(self, session_id: str, state: SessionState) -> Session:
        """Move a session to `state`; an ended session cannot be reopened (SessionEnded)."""
        state = SessionState(state)
        if not findable(session_id):
            raise NotFound("未找到该评标场次")
        async with self._db() as db:
            # One conditional UPDATE, so two concurrent callers cannot both reopen a session.
            stmt = update(SessionRow).where(SessionRow.id == session_id)
            if state is not SessionState.ENDED:
                stmt = stmt.where(SessionRow.state != SessionState.ENDED.value)
            result = await db.execute(stmt.values(state=state.value))
            await db.commit()
        # SQLAlchemy types execute() as returning a Result; an UPDATE's is a CursorResult.
        if result.rowcount == 0:  # type: ignore[attr-defined]
            await self.get_session(session_id)  # NotFound if it never existed
            raise SessionEnded()
        return await self.get_session(session_id)

    # --- event log (活动记录) ------------------------------------------------------------

    async def append_event(
        self,
        kind: str,
        data: Mapping[str, Any] | None = None,
        *,
        session_id: str | None = None,
        actor: str | None = None,
    ) -> Event:
        """Append one entry to the activity log and return it with its seq."""
        if not kind:
            raise InvalidRequest("事件类型不能为空")
        refuse_unstorable(
            EventRow.__table__, {"kind": kind, "actor": actor, "session_id": session_id}
        )
        try:
            # A JSON round trip: the caller gets back exactly what a later read returns. No NaN
            # and valid Unicode only: the archive hashes and frames exactly this, and so does
            # the event chain, in its canonical form (which also refuses integers beyond 2**53).
            encoded = json.dumps(dict(data or {}), ensure_ascii=False, allow_nan=False)
            encoded.encode("utf-8")
            payload: dict[str, Any] = json.loads(encoded)
            canonical_json(payload)
        except (TypeError, ValueError) as exc:
            raise InvalidRequest("事件数据无法保存为 JSON") from exc
        at = datetime.now(UTC)
        # The next seq and the digests to chain to come from the chain's head, taken with an
        # UPDATE: the row stays locked to this appender until it commits, so appenders queue on
        # it (in every process sharing the database, on SQLite as on PostgreSQL), seqs have no
        # gaps and become visible in their order, and a reader that follows the log with
        # after_seq (the archive's catch-up, the consoles) never skips one.
        take = (
            update(EventChainRow)
            .where(EventChainRow.id == CHAIN_HEAD)
            .values(seq=EventChainRow.seq + 1)
            .returning(EventChainRow.seq, EventChainRow.hash, EventChainRow.sm3)
        )
        for attempt in range(APPEND_ATTEMPTS):
            try:
                async with self._db() as db:
                    seq, prev_sha, prev_sm3 = (await db.execute(take)).one()
                    sha, sm3 = row_digests(
                        seq=seq,
                        session_id=session_id,
                        at=at,
                        kind=kind,
                        actor=actor,
                        data=payload,
                        prev=(prev_sha, prev_sm3),
                    )
                    row = EventRow(
                        seq=seq,
                        session_id=session_id,
                        at=at,
                        kind=kind,
                        actor=actor,
                        data=payload,
                        hash=sha,
                        sm3=sm3,
                    )
                    db.add(row)
                    await db.flush()
                    await db.execute(
                        update(EventChainRow)
                        .where(EventChainRow.id == CHAIN_HEAD)
                        .values(hash=sha, sm3=sm3)
                    )
                    await db.commit()
                return Event(
                    seq=seq, session_id=session_id, at=at, kind=kind, actor=actor, data=payload
                )
            except OperationalError as exc:
                # SQLite answers "database is locked" at once, without waiting, where waiting
                # could deadlock, and after busy_timeout otherwise: the entry is tried again
                # rather than lost (it was not written: the transaction rolled back).
                if not _locked(exc) or attempt == APPEND_ATTEMPTS - 1:
                    raise
                logger.warning("event %s: database locked, trying again", kind)
                await asyncio.sleep(APPEND_RETRY_S * 2**attempt)
        raise AssertionError("unreachable: the last attempt raises")

    async def list_events(
        self,
        session_id: str | None = None,
        after_seq: int = 0,
        limit: int | None = None,
        kind: str | None = None,
    ) -> list[Event]:
        """Return log entries with seq > after_seq in ascending seq; session_id None means all,
        and `kind` only those of that kind."""
        if not findable(session_id, kind):
            return []
        # Seqs become visible in their order (see append_event): a reader that asks again with
        # the last seq it got misses nothing.
        stmt = select(EventRow).where(EventRow.seq > after_seq).order_by(EventRow.seq)
        if session_id is not None:
            stmt = stmt.where(EventRow.session_id == session_id)
        if kind is not None:
            stmt = stmt.where(EventRow.kind == kind)
        if limit is not None:
            stmt = stmt.limit(max(limit, 0))
        async with self._db() as db:
            rows = await db.scalars(stmt)
            return [_event(r) for r in rows]

    async def last_event(self, session_id: str, kind: str) -> Event | None:
        """The session's latest event of `kind`, or None."""
        if not findable(session_id, kind):
            return None
        async with self._db() as db:
            row = await db.scalar(
                select(EventRow)
                .where(EventRow.session_id == session_id, EventRow.kind == kind)
                .order_by(EventRow.seq.desc())
                .limit(1)
            )
        return _event(row) if row is not None else None

    # --- personal links (个人链接) -------------------------------------------------------

    async def add_link(self, link: Link, code_sha256: str) -> None:
        """Store an issued link under its code's hash (the code itself is never stored)."""
        row = LinkRow(
            id=link.id,
            code_sha256=code_sha256,
            subject=link.subject,
            role=link.role.value,
            participant_id=link.participant_id,
            session_id=link.session_id,
            venue_id=link.venue_id,
            seat_no=link.seat_no,
            centre_id=link.centre_id,
            name=link.name,
            issued_at=link.issued_at,
            issued_by=link.issued_by,
            expires_at=link.expires_at,
        )
        await self._insert(row, refused="链接编号重复")

    async def link_by_code(self, code_sha256: str) -> Link | None:
        """The link whose code hashes to `code_sha256`, or None."""
        if not findable(code_sha256):
            return None
        async with self._db() as db:
            row = await db.scalar(select(LinkRow).where(LinkRow.code_sha256 == code_sha256))
        return _link(row) if row is not None else None

    async def get_link(self, link_id: str) -> Link | None:
        """The link with this id, or None."""
        async with self._db() as db:
            row = await db.get(LinkRow, link_id) if findable(link_id) else None
        return _link(row) if row is not None else None

    async def session_links(self, session_id: str) -> list[Link]:
        """Every link issued for the session's people, oldest first (revoked ones too)."""
        if not findable(session_id):
            return []
        async with self._db() as db:
            rows = await db.scalars(
                select(LinkRow)
                .where(LinkRow.session_id == session_id)
                .order_by(LinkRow.issued_at, LinkRow.id)
            )
            return [_link(r) for r in rows]

    async def centre_links(self, centre_id: str) -> list[Link]:
        """Every link of a centre's own people (its administrators, supervisors and ops
        engineers), oldest first (revoked ones too)."""
        if not findable(centre_id):
            return []
        async with self._db() as db:
            rows = await db.scalars(
                select(LinkRow)
                .where(LinkRow.centre_id == centre_id)
                .order_by(LinkRow.issued_at, LinkRow.id)
            )
            return [_link(r) for r in rows]

    async def revoke_links(
        self,
        *,
        by: str,
        reason: str,
        subject: str | None = None,
        link_id: str | None = None,
        session_id: str | None = None,
    ) -> list[Link]:
        """Revoke the open links of `subject` (in `session_id`) or the link `link_id`; the
        links revoked now, in one conditional UPDATE so that a link is revoked once."""
        if subject is None and link_id is None:
            raise InvalidRequest("须指明收回谁的链接")
        refuse_unstorable(LinkRow.__table__, {"revoked_by": by, "reason": reason})
        if not findable(subject, link_id, session_id):
            return []
        where: list[ColumnElement[bool]] = [LinkRow.revoked_at.is_(None)]
        if subject is not None:
            where.append(LinkRow.subject == subject)
        if link_id is not None:
            where.append(LinkRow.id == link_id)
        if session_id is not None:
            where.append(LinkRow.session_id == session_id)
        now = datetime.now(UTC)
        async with self._db() as db:
            ids = list(await db.scalars(select(LinkRow.id).where(*where)))
            if not ids:
                return []
            await db.execute(
                update(LinkRow)
                .where(LinkRow.id.in_(ids), LinkRow.revoked_at.is_(None))
                .values(revoked_at=now, revoked_by=by, reason=reason)
            )
            await db.commit()
            rows = await db.scalars(select(LinkRow).where(LinkRow.id.in_(ids)))
            return [_link(r) for r in rows]

    async def ended_at(self, session_id: str) -> datetime | None:
        """When the session ended (its ``session_ended`` event), or None while it runs."""
        if not findable(session_id):
            return None
        async with self._db() as db:
            return await db.scalar(
                select(EventRow.at)
                .where(EventRow.session_id == session_id, EventRow.kind == "session_ended")
                .order_by(EventRow.seq)
                .limit(1)
            )
