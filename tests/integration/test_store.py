"""SqlStore against real engines: a SQLite file and a PostgreSQL server. Migrations, round
trips, constraints, the event log, the demo; the SQLite file's own schema and journal mode."""

import asyncio
import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from roomserver.config import StoreConfig
from roomserver.demo import DEMO_PROJECT_CODE, create_demo, find_demo
from roomserver.errors import InvalidRequest, NotFound, SessionEnded
from roomserver.links import Link, code_hash, new_code
from roomserver.migrate import upgrade
from roomserver.model import (
    Centre,
    Participant,
    Role,
    Session,
    SessionState,
    Venue,
    new_id,
)
from roomserver.rules import roster_seats
from roomserver.store import SqlStore

TABLES = {
    "alembic_version",
    "centres",
    "venues",
    "sessions",
    "session_sub_venues",
    "participants",
    "events",
    "event_chain",
    "links",
    "bookings",
    "booking_claims",
    "projects",
    "lots",
    "pool_experts",
    "draws",
    "webhooks",
    "webhook_deliveries",
    "openings",
    "archive_copies",
    "cluster_nodes",
    "room_placements",
    "cluster_leases",
}
START = datetime(2025, 6, 1, 1, 30, 15, 123456, tzinfo=UTC)
BEIJING = timezone(timedelta(hours=8))
HEAD = "0016"


def db_path(tmp_path: Path) -> Path:
    # A nested folder that does not exist yet: start() must create it.
    return tmp_path / "var" / "data" / "roomserver.db"


def config(tmp_path: Path) -> StoreConfig:
    return StoreConfig(database_url=f"sqlite+aiosqlite:///{db_path(tmp_path)}")


def schema(path: Path) -> tuple[dict[str, str], list[str], str]:
    """Return (name -> CREATE sql, alembic versions, journal mode), read with plain sqlite3."""
    with sqlite3.connect(path) as conn:
        objects = dict(
            conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
        )
        versions = [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    return objects, versions, mode


async def alembic_versions(config: StoreConfig) -> list[str]:
    """The revisions recorded in the database's alembic_version table."""
    engine = create_async_engine(config.database_url)
    try:
        async with engine.connect() as conn:
            return list(await conn.scalars(text("SELECT version_num FROM alembic_version")))
    finally:
        await engine.dispose()


@pytest.fixture
async def store(store_config: StoreConfig):
    async with SqlStore(store_config) as s:
        yield s


async def seed(store: SqlStore) -> tuple[Session, Venue, Venue, Venue]:
    """Store a centre, three venues and a session with two sub venues."""
    centre = Centre(id=new_id(), name="沈阳市公共资源交易中心", city="沈阳")
    await store.add_centre(centre)
    main = Venue(new_id(), centre.id, "沈阳第一评标室", "沈阳", 8)
    sub_a = Venue(new_id(), centre.id, "大连第二评标室", "大连", 6)
    sub_b = Venue(new_id(), centre.id, "丹东第一评标室", "丹东", 5)
    for v in (main, sub_a, sub_b):
        await store.add_venue(v)
    # Sub venues deliberately out of id order: the stored order must be the given one.
    subs = tuple(sorted((sub_a.id, sub_b.id), reverse=True))
    session = Session(new_id(), "LN-2025-001", "某道路工程", main.id, subs, START)
    await store.add_session(session)
    return session, main, sub_a, sub_b


async def test_migrations_build_schema_from_nothing_and_rerun_is_noop(tmp_path: Path) -> None:
    """SQLite: the file, its folder, its schema as sqlite3 reads it, and its journal mode."""
    path = db_path(tmp_path)
    assert not path.parent.exists()
    async with SqlStore(config(tmp_path)) as store:
        assert await store.is_empty()
        session, *_ = await seed(store)
    first, versions, mode = schema(path)
    assert TABLES <= set(first)
    assert versions == [HEAD]
    assert mode == "wal"
    assert "AUTOINCREMENT" in first["events"]

    async with SqlStore(config(tmp_path)) as store:
        assert not await store.is_empty()
        assert (await store.get_session(session.id)) == session
    second, versions_again, _ = schema(path)
    assert second == first
    assert versions_again == [HEAD]


def postgresql_schema(conn: Connection) -> dict[str, Any]:
    """Every table's columns (name, type, nullable), keys, unique constraints and indexes."""
    schema = inspect(conn)
    return {
        table: {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"]) for c in schema.get_columns(table)
            ],
            "primary_key": schema.get_pk_constraint(table)["constrained_columns"],
            "foreign_keys": sorted(
                (tuple(fk["constrained_columns"]), fk["referred_table"])
                for fk in schema.get_foreign_keys(table)
            ),
            "unique": sorted(
                (u["name"], tuple(u["column_names"])) for u in schema.get_unique_constraints(table)
            ),
            "indexes": sorted(i["name"] or "" for i in schema.get_indexes(table)),
        }
        for table in schema.get_table_names()
    }


@pytest.mark.postgresql
async def test_migrations_build_the_postgresql_schema_and_rerun_is_noop(
    postgres_url: str,
) -> None:
    """PostgreSQL: time-zone-aware timestamps, a 64-bit event seq, JSON (not JSONB, which
    would reorder keys) for event data, and every key and constraint of the model."""
    config = StoreConfig(database_url=postgres_url)
    async with SqlStore(config) as store:
        session, *_ = await seed(store)
        engine = store._engine
        assert engine is not None
        async with engine.connect() as conn:
            first = await conn.run_sync(postgresql_schema)
    assert TABLES <= set(first)
    assert await alembic_versions(config) == [HEAD]
    columns = {t: {c[0]: c[1:] for c in first[t]["columns"]} for t in first}
    assert columns["events"]["seq"] == ("BIGINT", False)
    assert columns["events"]["data"] == ("JSON", False)
    for table, column in [
        ("sessions", "scheduled_start"),
        ("events", "at"),
        ("links", "issued_at"),
        ("links", "expires_at"),
        ("links", "revoked_at"),
    ]:
        assert columns[table][column][0] == "TIMESTAMP", (table, column)
    assert first["participants"]["unique"] == [
        ("uq_participants_seat", ("session_id", "venue_id", "seat_no"))
    ]
    assert first["links"]["unique"] == [("uq_links_code_sha256", ("code_sha256",))]
    assert first["session_sub_venues"]["foreign_keys"] == [
        (("session_id",), "sessions"),
        (("venue_id",), "venues"),
    ]
    assert first["participants"]["foreign_keys"] == [
        (("session_id",), "sessions"),
        (("venue_id",), "venues"),
    ]

    async with SqlStore(config) as store:
        assert (await store.get_session(session.id)) == session
        engine = store._engine
        assert engine is not None
        async with engine.connect() as conn:
            assert await conn.run_sync(postgresql_schema) == first
            # The inspector's TIMESTAMP does not say whether it has a time zone.
            kinds = await conn.scalars(
                text(
                    "SELECT data_type FROM information_schema.columns "
                    "WHERE table_schema = 'public' AND udt_name LIKE 'timestamp%'"
                )
            )
            assert set(kinds) == {"timestamp with time zone"}
    assert await alembic_versions(config) == [HEAD]


async def test_a_database_of_the_first_schema_is_upgraded_with_its_participants(
    store_config: StoreConfig,
) -> None:
    """A server of the first release left a database: its roster survives the upgrade."""
    engine = create_async_engine(store_config.database_url)
    sqlite_file = engine.url.get_backend_name() == "sqlite" and engine.url.database
    if sqlite_file:
        Path(sqlite_file).parent.mkdir(parents=True)
    # What each engine held of a UTC time (SQLite: naive UTC text).
    start = "2026-01-01 01:00:00.000000" if sqlite_file else "2026-01-01 01:00:00+00"
    async with engine.begin() as conn:
        await conn.run_sync(upgrade, "0001")
        for insert in (
            "INSERT INTO centres VALUES ('c1', '沈阳市公共资源交易中心', '沈阳')",
            "INSERT INTO venues VALUES ('v1', 'c1', '沈阳第一评标室', '沈阳', 8)",
            f"INSERT INTO sessions VALUES ('s1', 'LN-1', '某工程', 'v1', '{start}', 'scheduled')",
            "INSERT INTO participants VALUES ('p1', 's1', 'expert', '王建国', 'v1', 2)",
        ):
            await conn.exec_driver_sql(insert)
    await engine.dispose()
    async with SqlStore(store_config) as store:
        expert = await store.get_participant("p1")
        session = await store.get_session("s1")
    assert (expert.name, expert.seat_no, expert.id_last4, expert.replaced_by) == (
        "王建国",
        2,
        None,
        None,
    )
    assert session.scheduled_start == datetime(2026, 1, 1, 1, 0, tzinfo=UTC)
    assert await alembic_versions(store_config) == [HEAD]


async def test_a_replacement_takes_the_seat_and_the_expert_keeps_the_venue(
    store: SqlStore,
) -> None:
    session, main, *_ = await seed(store)
    expert = Participant(new_id(), session.id, Role.EXPERT, "李淑珍", main.id, 2, "2048")
    await store.add_participant(expert)
    newcomer = Participant(new_id(), session.id, Role.EXPERT, "周建华", main.id, 2, "2345")
    await store.replace_expert(expert.id, newcomer)
    old = await store.get_participant(expert.id)
    assert (old.venue_id, old.seat_no, old.replaced_by) == (main.id, None, newcomer.id)
    assert await store.get_participant(newcomer.id) == newcomer
    # Replaced once only; and a replacement goes to the expert's own seat.
    with pytest.raises(InvalidRequest):
        await store.replace_expert(
            expert.id, Participant(new_id(), session.id, Role.EXPERT, "x", main.id, 2)
        )
    other = Participant(new_id(), session.id, Role.EXPERT, "张志强", main.id, 3)
    await store.add_participant(other)
    with pytest.raises(InvalidRequest, match="原专家的机位"):
        await store.replace_expert(
            other.id, Participant(new_id(), session.id, Role.EXPERT, "y", main.id, 4)
        )
    assert (await store.get_participant(other.id)).seat_no == 3  # nothing changed


async def test_every_entity_round_trips(store: SqlStore) -> None:
    session, main, sub_a, sub_b = await seed(store)
    got = await store.get_session(session.id)
    assert got == session
    assert got.scheduled_start == START and got.scheduled_start.tzinfo is not None
    assert got.sub_venue_ids == session.sub_venue_ids
    assert await store.list_sessions() == [session]

    assert await store.get_venue(main.id) == main
    assert sorted(await store.list_venues(), key=lambda v: v.id) == sorted(
        [main, sub_a, sub_b], key=lambda v: v.id
    )

    host = Participant(new_id(), session.id, Role.HOST, "孙立新", venue_id=main.id)
    sup = Participant(new_id(), session.id, Role.SUPERVISOR, "周文华")
    sub_first = session.sub_venue_ids[0]
    e_sub = Participant(new_id(), session.id, Role.EXPERT, "刘海波", sub_first, 1)
    e_main2 = Participant(new_id(), session.id, Role.EXPERT, "李淑珍", main.id, 2)
    e_main1 = Participant(new_id(), session.id, Role.EXPERT, "王建国", main.id, 1)
    for p in (sup, host, e_sub, e_main2, e_main1):
        await store.add_participant(p)
    assert await store.get_participant(e_sub.id) == e_sub
    assert await store.get_participant(sup.id) == sup
    # Experts in roster order (main venue, then subs, by seat), then the others by role.
    assert await store.list_participants(session.id) == [e_main1, e_main2, e_sub, host, sup]
    assert await store.list_participants("no-such-session") == []


async def test_session_state_moves_forward_and_ended_stays_ended(store: SqlStore) -> None:
    session, *_ = await seed(store)
    live = await store.set_session_state(session.id, SessionState.LIVE)
    assert live.state is SessionState.LIVE
    assert (await store.get_session(session.id)).state is SessionState.LIVE
    ended = await store.set_session_state(session.id, SessionState.ENDED)
    assert ended.state is SessionState.ENDED
    with pytest.raises(SessionEnded):
        await store.set_session_state(session.id, SessionState.LIVE)
    assert (await store.get_session(session.id)).state is SessionState.ENDED
    with pytest.raises(NotFound):
        await store.set_session_state("missing", SessionState.LIVE)


async def test_two_experts_cannot_hold_the_same_seat(store: SqlStore) -> None:
    session, main, *_ = await seed(store)
    await store.add_participant(
        Participant(new_id(), session.id, Role.EXPERT, "王建国", main.id, 1)
    )
    intruder = Participant(new_id(), session.id, Role.EXPERT, "张志强", main.id, 1)
    with pytest.raises(InvalidRequest) as info:
        await store.add_participant(intruder)
    assert info.value.message == "该机位已安排给其他专家"
    with pytest.raises(NotFound):
        await store.get_participant(intruder.id)

    # Seatless people share a venue freely, and the same seat is free in another session.
    for name in ("孙立新", "何晓东"):
        await store.add_participant(Participant(new_id(), session.id, Role.HOST, name, main.id))
    other = Session(new_id(), "LN-2025-002", "另一工程", main.id, (), START + timedelta(days=1))
    await store.add_session(other)
    await store.add_participant(Participant(new_id(), other.id, Role.EXPERT, "张志强", main.id, 1))
    assert len(await store.list_participants(session.id)) == 3


async def test_foreign_keys_are_enforced(store: SqlStore) -> None:
    session, *_ = await seed(store)
    with pytest.raises(InvalidRequest):
        await store.add_participant(
            Participant(new_id(), session.id, Role.EXPERT, "王建国", "no-venue", 1)
        )
    with pytest.raises(InvalidRequest):
        await store.add_venue(Venue(new_id(), "no-centre", "某评标室", "沈阳", 5))
    with pytest.raises(InvalidRequest):
        await store.add_session(Session(new_id(), "P", "n", "no-venue", (), START))
    assert len(await store.list_sessions()) == 1


async def test_missing_records_raise_not_found(store: SqlStore) -> None:
    with pytest.raises(NotFound):
        await store.get_venue("missing")
    with pytest.raises(NotFound):
        await store.get_session("missing")
    with pytest.raises(NotFound) as info:
        await store.get_participant("missing")
    assert info.value.code == "not_found"


async def test_event_log_is_ordered_filterable_and_keeps_data(store: SqlStore) -> None:
    before = datetime.now(UTC)
    appended = [
        await store.append_event(
            "join", {"seat": "沈阳主场 · 1号机位"}, session_id="s1", actor="e1"
        ),
        await store.append_event("token_refused", {"code": "invalid_token"}),
        await store.append_event("leave", session_id="s2", actor="e2"),
        await store.append_event("join", {"n": [1, 2]}, session_id="s1", actor="e3"),
    ]
    after = datetime.now(UTC)
    seqs = [e.seq for e in appended]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all(before <= e.at <= after and e.at.tzinfo is not None for e in appended)

    everything = await store.list_events()
    assert everything == appended
    assert appended[1].session_id is None and appended[1].actor is None
    assert appended[2].data == {}
    assert everything[0].data == {"seat": "沈阳主场 · 1号机位"}

    assert await store.list_events("s1") == [appended[0], appended[3]]
    assert await store.list_events(after_seq=seqs[1]) == appended[2:]
    assert await store.list_events(limit=2) == appended[:2]
    assert await store.list_events("s1", after_seq=seqs[0]) == [appended[3]]
    assert await store.list_events("nobody") == []

    later = await store.append_event("join", session_id="s1")
    assert later.seq > seqs[-1]


async def test_event_data_must_be_json(store: SqlStore) -> None:
    with pytest.raises(InvalidRequest):
        await store.append_event("join", {"when": object()})
    assert await store.list_events() == []


async def test_text_no_engine_can_keep_is_refused_and_found_nowhere(store: SqlStore) -> None:
    """Longer than its column or holding a NUL: SQLite would keep it, PostgreSQL would fail on
    it; every engine refuses it the same way, and a lookup by such a key finds nothing."""
    session, main, *_ = await seed(store)
    full = Participant(new_id(), session.id, Role.HOST, "名" * 100, main.id)
    await store.add_participant(full)  # exactly as long as the column
    for name in ("王\x00建国", "名" * 101):
        with pytest.raises(InvalidRequest):
            await store.add_participant(Participant(new_id(), session.id, Role.HOST, name))
    with pytest.raises(InvalidRequest):
        await store.add_experts(
            [Participant(new_id(), session.id, Role.EXPERT, "x\x00", main.id, 1)]
        )
    assert await store.list_participants(session.id) == [full]
    for bad in ({"session_id": "s" * 65}, {"actor": "a\x00"}, {"actor": "a" * 201}):
        with pytest.raises(InvalidRequest):
            await store.append_event("join", **bad)
    with pytest.raises(InvalidRequest):
        await store.append_event("k" * 65)
    assert await store.list_events() == []

    nul = "s\x00"
    for lookup in (store.get_session, store.get_venue, store.get_participant):
        with pytest.raises(NotFound):
            await lookup(nul)
    with pytest.raises(NotFound):
        await store.set_session_state(nul, SessionState.LIVE)
    with pytest.raises(InvalidRequest):
        await store.replace_expert(nul, Participant(new_id(), session.id, Role.EXPERT, "x"))
    assert await store.list_participants(nul) == []
    assert await store.list_events(nul) == []
    assert await store.ended_at(nul) is None
    assert await store.get_link(nul) is None
    assert await store.link_by_code(nul) is None
    assert await store.revoke_links(by="host", reason="r", subject=nul) == []


async def test_event_data_comes_back_as_it_was_written(store: SqlStore) -> None:
    """Key order, text, numbers and nesting as given: the archive hashes exactly this."""
    data = {
        "z": 1,
        "a": {"y": [1, 2.5, None, True], "b": "沈阳主场 · 1号机位"},
        "big": 2**53 - 1,  # the largest integer canonical JSON (RFC 8785) writes exactly
        "nul": "a\x00b",
        "quote": '"\\/\n',
    }
    appended = await store.append_event("join", data, session_id="s1")
    (stored,) = await store.list_events("s1")
    assert stored == appended
    assert stored.data == data
    assert list(stored.data) == ["z", "a", "big", "nul", "quote"]
    assert list(stored.data["a"]) == ["y", "b"]
    # Beyond it the event chain could not hash the row: refused, and nothing is stored.
    with pytest.raises(InvalidRequest):
        await store.append_event("join", {"big": 2**62 + 1}, session_id="s1")
    assert len(await store.list_events("s1")) == 1


async def test_times_keep_their_instant_and_come_back_in_utc(store: SqlStore) -> None:
    """A time given in Beijing time is the same instant read back, in UTC, to the microsecond;
    sessions are listed by instant, not by the clock reading of their zone."""
    session, main, *_ = await seed(store)
    beijing = datetime(2025, 6, 1, 9, 0, 0, 654321, tzinfo=BEIJING)  # 01:00:00.654321 UTC
    early = Session(new_id(), "LN-2025-002", "早一些的工程", main.id, (), beijing)
    await store.add_session(early)
    got = await store.get_session(early.id)
    assert got.scheduled_start == beijing
    assert got.scheduled_start.utcoffset() == timedelta(0)
    assert got.scheduled_start.microsecond == 654321
    assert [s.id for s in await store.list_sessions()] == [early.id, session.id]

    ended = await store.append_event("session_ended", session_id=session.id)
    assert await store.ended_at(session.id) == ended.at
    assert ended.at.utcoffset() == timedelta(0)


def _link(session_id: str, now: datetime) -> Link:
    return Link(
        id=new_id(),
        subject="p1",
        role=Role.EXPERT,
        name="王建国",
        issued_at=now,
        issued_by="admin",
        expires_at=now + timedelta(hours=24),
        participant_id="p1",
        session_id=session_id,
        venue_id="v1",
        seat_no=1,
    )


async def test_links_are_kept_by_hash_and_revoked_once(store: SqlStore) -> None:
    now = datetime(2025, 6, 1, 9, 0, 0, 123456, tzinfo=BEIJING)
    link = _link("s1", now)
    code = new_code()
    await store.add_link(link, code_hash(code))
    assert await store.link_by_code(code_hash(code)) == link
    assert await store.get_link(link.id) == link
    assert await store.link_by_code(code_hash(new_code())) is None
    # A code's hash names one link only.
    with pytest.raises(InvalidRequest):
        await store.add_link(_link("s1", now), code_hash(code))

    other = _link("s2", now)
    await store.add_link(other, code_hash(new_code()))
    (revoked,) = await store.revoke_links(by="host", reason="换人", subject="p1", session_id="s1")
    assert revoked.id == link.id and revoked.revoked_at is not None
    assert (revoked.revoked_by, revoked.reason) == ("host", "换人")
    assert revoked.revoked_at.utcoffset() == timedelta(0)
    assert await store.revoke_links(by="host", reason="again", link_id=link.id) == []
    assert (await store.get_link(link.id)) == revoked
    assert (await store.get_link(other.id)) == other  # the other session's link stands


async def test_demo_is_created_once_and_found_again(store_config: StoreConfig) -> None:
    now = datetime(2025, 6, 1, 0, 0, tzinfo=UTC)
    async with SqlStore(store_config) as store:
        assert await find_demo(store) is None
        demo = await create_demo(store, now=now)

    s = demo.session
    assert s.project_code == DEMO_PROJECT_CODE
    assert s.project_name == "辽宁省某市政道路工程施工招标"
    assert s.scheduled_start == now + timedelta(minutes=10)
    assert [(v.name, v.city, v.seat_count) for v in demo.venues] == [
        ("沈阳第一评标室", "沈阳", 8),
        ("大连第二评标室", "大连", 6),
        ("丹东第一评标室", "丹东", 5),
    ]
    assert s.venue_ids() == tuple(v.id for v in demo.venues)
    roles = [p.role for p in demo.participants]
    assert roles == [Role.EXPERT] * 6 + [Role.HOST] + [Role.STAFF] * 3 + [
        Role.WITNESS,
        Role.SUPERVISOR,
        Role.ARCHIVIST,
    ]
    # Each venue has its own staff; host and witness are at the main venue.
    staff = [p.venue_id for p in demo.participants if p.role == Role.STAFF]
    assert staff == [v.id for v in demo.venues]
    venues = {v.id: v for v in demo.venues}
    labels = [r.label for r in roster_seats(s, venues, demo.participants)]
    assert labels == [
        "沈阳主场 · 1号机位",
        "沈阳主场 · 2号机位",
        "沈阳主场 · 3号机位",
        "大连副场 · 1号机位",
        "大连副场 · 2号机位",
        "丹东副场 · 1号机位",
    ]
    host = demo.participants[6]
    assert host.venue_id == demo.venues[0].id and host.seat_no is None

    async with SqlStore(store_config) as store:
        found = await find_demo(store)
        assert found == demo
        again = await create_demo(store)
        assert again == demo
        # The lot's evaluation and its bid opening, once each.
        kinds = sorted(str(s.kind) for s in await store.list_sessions())
        assert kinds == ["evaluation", "opening"]
        assert len(await store.list_venues()) == 3
    opening = demo.opening
    assert opening is not None and opening.main_venue_id == demo.venues[0].id
    assert [p.role for p in demo.opening_people] == [
        Role.HOST,
        Role.WITNESS,
        Role.TENDERER,
        Role.AGENCY,
        *[Role.BIDDER] * 3,
    ]


async def test_close_twice_is_safe_and_closed_store_refuses_work(
    store_config: StoreConfig,
) -> None:
    store = SqlStore(store_config)
    await store.close()  # never started
    await store.start()
    await store.start()  # already started: no second engine
    assert await store.is_empty()
    await store.close()
    await store.close()
    with pytest.raises(RuntimeError):
        await store.is_empty()


async def test_an_event_waits_out_a_lock_held_past_the_busy_timeout_and_is_kept(
    tmp_path: Path,
) -> None:
    """Another process (here a plain sqlite3 connection in a thread) holds the database's write
    lock longer than SQLite's busy_timeout: the append is refused once and then tried again,
    and the event is stored in its place in the log."""
    db_file = tmp_path / "roomserver.db"
    async with SqlStore(StoreConfig(f"sqlite+aiosqlite:///{db_file}")) as store:
        first = await store.append_event("before", {})
        locked = threading.Event()
        release = threading.Event()

        def hold_the_lock() -> None:
            other = sqlite3.connect(db_file, timeout=0)
            try:
                other.execute("BEGIN EXCLUSIVE")
                locked.set()
                release.wait(30)
            finally:
                other.rollback()
                other.close()

        holder = threading.Thread(target=hold_the_lock)
        holder.start()
        try:
            assert await asyncio.to_thread(locked.wait, 10)
            appending = asyncio.create_task(store.append_event("while locked", {"n": 1}))
            # Held past the 5 s busy_timeout: the first attempt is refused for the lock.
            await asyncio.sleep(5.5)
            assert not appending.done()
        finally:
            release.set()
            await asyncio.to_thread(holder.join, 10)
        event = await asyncio.wait_for(appending, 10)
        assert event.seq == first.seq + 1
        stored = await store.list_events(after_seq=first.seq)
        assert [(e.kind, e.data) for e in stored] == [("while locked", {"n": 1})]
