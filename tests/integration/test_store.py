"""SqlStore against a real SQLite file: migrations, round trips, constraints, event log, demo."""

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from roomserver.config import StoreConfig
from roomserver.demo import DEMO_PROJECT_CODE, create_demo, find_demo
from roomserver.errors import InvalidRequest, NotFound, SessionEnded
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
    "links",
    "bookings",
    "booking_claims",
    "projects",
    "lots",
    "pool_experts",
    "draws",
    "webhooks",
    "webhook_deliveries",
}
START = datetime(2025, 6, 1, 1, 30, 15, 123456, tzinfo=UTC)


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


@pytest.fixture
async def store(tmp_path: Path):
    async with SqlStore(config(tmp_path)) as s:
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
    path = db_path(tmp_path)
    assert not path.parent.exists()
    async with SqlStore(config(tmp_path)) as store:
        assert await store.is_empty()
        session, *_ = await seed(store)
    first, versions, mode = schema(path)
    assert TABLES <= set(first)
    assert versions == ["0007"]
    assert mode == "wal"
    assert "AUTOINCREMENT" in first["events"]

    async with SqlStore(config(tmp_path)) as store:
        assert not await store.is_empty()
        assert (await store.get_session(session.id)) == session
    second, versions_again, _ = schema(path)
    assert second == first
    assert versions_again == ["0007"]


async def test_a_database_of_the_first_schema_is_upgraded_with_its_participants(
    tmp_path: Path,
) -> None:
    """A server of the first release left a database: its roster survives the upgrade."""
    path = db_path(tmp_path)
    path.parent.mkdir(parents=True)
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        upgrade(conn, "0001")
        conn.exec_driver_sql("INSERT INTO centres VALUES ('c1', '沈阳市公共资源交易中心', '沈阳')")
        conn.exec_driver_sql("INSERT INTO venues VALUES ('v1', 'c1', '沈阳第一评标室', '沈阳', 8)")
        conn.exec_driver_sql(
            "INSERT INTO sessions VALUES ('s1', 'LN-1', '某工程', 'v1', "
            "'2026-01-01 01:00:00.000000', 'scheduled')"
        )
        conn.exec_driver_sql(
            "INSERT INTO participants VALUES ('p1', 's1', 'expert', '王建国', 'v1', 2)"
        )
    engine.dispose()
    async with SqlStore(config(tmp_path)) as store:
        expert = await store.get_participant("p1")
    assert (expert.name, expert.seat_no, expert.id_last4, expert.replaced_by) == (
        "王建国",
        2,
        None,
        None,
    )
    assert schema(path)[1] == ["0007"]


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


async def test_demo_is_created_once_and_found_again(tmp_path: Path) -> None:
    now = datetime(2025, 6, 1, 0, 0, tzinfo=UTC)
    async with SqlStore(config(tmp_path)) as store:
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

    async with SqlStore(config(tmp_path)) as store:
        found = await find_demo(store)
        assert found == demo
        again = await create_demo(store)
        assert again == demo
        assert len(await store.list_sessions()) == 1
        assert len(await store.list_venues()) == 3


async def test_close_twice_is_safe_and_closed_store_refuses_work(tmp_path: Path) -> None:
    store = SqlStore(config(tmp_path))
    await store.close()  # never started
    await store.start()
    await store.start()  # already started: no second engine
    assert await store.is_empty()
    await store.close()
    await store.close()
    with pytest.raises(RuntimeError):
        await store.is_empty()
