"""Demo data for trying the system out: a lot's three-city evaluation session (沈阳主场, 大连 and
丹东副场) and the lot's bid opening (开标) with three bidders, public."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from roomserver.errors import InvalidRequest, NotFound
from roomserver.model import Centre, Participant, Role, Session, SessionKind, Venue, new_id
from roomserver.openings import Opening, OpeningTerms
from roomserver.projects import Lot, Project
from roomserver.store import SqlStore

DEMO_PROJECT_CODE = "LN-DEMO-0001"
DEMO_PROJECT_NAME = "辽宁省某市政道路工程施工招标"
DEMO_START_DELAY = timedelta(minutes=10)

# (centre name, city, venue name, seats); the first is the main venue.
_PLACES = (
    ("沈阳市公共资源交易中心", "沈阳", "沈阳第一评标室", 8),
    ("大连市公共资源交易中心", "大连", "大连第二评标室", 6),
    ("丹东市公共资源交易中心", "丹东", "丹东第一评标室", 5),
)
# (index into _PLACES, seat number, name, last four of the ID number), in roster order.
_EXPERTS = (
    (0, 1, "王建国", "3516"),
    (0, 2, "李淑珍", "2048"),
    (0, 3, "张志强", "771X"),
    (1, 1, "刘海波", "0633"),
    (1, 2, "陈玉梅", "4125"),
    (2, 1, "赵德明", "9087"),
)
_HOST_NAME = "孙立新"
_SUPERVISOR_NAME = "周文华"
_ARCHIVIST_NAME = "吴秀兰"
# 工作人员 of each venue, in _PLACES order, and the witness (见证人) of the main venue.
_STAFF_NAMES = ("郑晓燕", "冯国庆", "褚明辉")
_WITNESS_NAME = "卫红梅"


# The demo lot's bid opening (开标): its deadline, people and bidders (in the read-out's order).
DEMO_OPENING_DELAY = timedelta(hours=2)
_TENDERER_NAME = "辽宁省某市城市建设局"
_AGENCY_NAME = "辽宁诚信招标代理有限公司"
_OPENING_HOST_NAME = "何静"
_OPENING_WITNESS_NAME = "吕志刚"
_BIDDER_NAMES = ("辽宁路桥建设集团有限公司", "沈阳市政工程有限公司", "大连港湾工程有限公司")


@dataclass(frozen=True)
class DemoData:
    """The demo session with its venues (main first) and participants (experts first), and
    the lot's bid opening with its people (bidders last)."""

    session: Session
    venues: list[Venue]
    participants: list[Participant]
    opening: Session | None = None
    opening_people: list[Participant] = field(default_factory=list)


async def find_demo(store: SqlStore) -> DemoData | None:
    """Return the demo session if it has been created, else None."""
    sessions = [s for s in await store.list_sessions() if s.project_code == DEMO_PROJECT_CODE]
    session = next((s for s in sessions if s.kind == SessionKind.EVALUATION), None)
    if session is None:
        return None
    try:
        venues = [await store.get_venue(venue_id) for venue_id in session.venue_ids()]
    except NotFound:
        return None
    participants = await store.list_participants(session.id)
    opening = next((s for s in sessions if s.kind == SessionKind.OPENING), None)
    people = await store.list_participants(opening.id) if opening is not None else []
    bidders = [p for p in people if p.role == Role.BIDDER]
    ordered = [p for p in people if p.role != Role.BIDDER] + sorted(
        bidders, key=lambda p: _BIDDER_NAMES.index(p.name) if p.name in _BIDDER_NAMES else 99
    )
    return DemoData(session, venues, participants, opening, ordered)


async def create_demo(store: SqlStore, *, now: datetime | None = None) -> DemoData:
    """Create the demo session (starting now + 10 min); return the existing one if present."""
    existing = await find_demo(store)
    if existing is not None:
        # Running `roomserver demo` twice must not pile up copies of the same project.
        return existing
    now = now if now is not None else datetime.now(UTC)

    venues: list[Venue] = []
    for centre_name, city, venue_name, seats in _PLACES:
        centre = Centre(id=new_id(), name=centre_name, city=city)
        await store.add_centre(centre)
        venue = Venue(
            id=new_id(), centre_id=centre.id, name=venue_name, city=city, seat_count=seats
        )
        await store.add_venue(venue)
        venues.append(venue)

    session = Session(
        id=new_id(),
        project_code=DEMO_PROJECT_CODE,
        project_name=DEMO_PROJECT_NAME,
        main_venue_id=venues[0].id,
        sub_venue_ids=tuple(v.id for v in venues[1:]),
        scheduled_start=now + DEMO_START_DELAY,
    )
    project = Project(
        id=new_id(),
        centre_id=venues[0].centre_id,
        code=DEMO_PROJECT_CODE,
        name=DEMO_PROJECT_NAME,
        tenderer=_TENDERER_NAME,
        created_at=now,
        created_by="demo",
    )
    await store.projects.add_project(project)
    lot = Lot(id=new_id(), project_id=project.id, code="01", name="第一标段", position=1)
    await store.projects.add_lot(lot)
    await store.projects.open_session(lot.id, session)

    participants = [
        Participant(
            id=new_id(),
            session_id=session.id,
            role=Role.EXPERT,
            name=name,
            venue_id=venues[place].id,
            seat_no=seat_no,
            id_last4=last4,
        )
        for place, seat_no, name, last4 in _EXPERTS
    ]
    participants += [
        # 主持人 runs the session from the main venue but has no expert seat.
        Participant(
            id=new_id(),
            session_id=session.id,
            role=Role.HOST,
            name=_HOST_NAME,
            venue_id=venues[0].id,
        ),
        *(
            Participant(
                id=new_id(), session_id=session.id, role=Role.STAFF, name=name, venue_id=venue.id
            )
            for name, venue in zip(_STAFF_NAMES, venues, strict=True)
        ),
        Participant(
            id=new_id(),
            session_id=session.id,
            role=Role.WITNESS,
            name=_WITNESS_NAME,
            venue_id=venues[0].id,
        ),
        Participant(
            id=new_id(), session_id=session.id, role=Role.SUPERVISOR, name=_SUPERVISOR_NAME
        ),
        Participant(id=new_id(), session_id=session.id, role=Role.ARCHIVIST, name=_ARCHIVIST_NAME),
    ]
    for p in participants:
        await store.add_participant(p)
    opening, people = await _demo_opening(store, project, lot, venues[0], now)
    return DemoData(session, venues, participants, opening, people)


async def _demo_opening(
    store: SqlStore, project: Project, lot: Lot, venue: Venue, now: datetime
) -> tuple[Session, list[Participant]]:
    """The demo lot's bid opening, public, with its people and three bidders."""
    deadline = now + DEMO_OPENING_DELAY
    opening = Session(
        id=new_id(),
        project_code=project.code,
        project_name=f"{lot.session_title(project)} 开标",
        main_venue_id=venue.id,
        sub_venue_ids=(),
        scheduled_start=deadline,
        kind=SessionKind.OPENING,
    )
    terms = OpeningTerms(deadline=deadline, public=True)
    await store.projects.open_opening(opening, Opening(opening.id, lot.id, terms))
    people = [
        Participant(new_id(), opening.id, Role.HOST, _OPENING_HOST_NAME, venue_id=venue.id),
        Participant(new_id(), opening.id, Role.WITNESS, _OPENING_WITNESS_NAME),
        Participant(new_id(), opening.id, Role.TENDERER, _TENDERER_NAME),
        Participant(new_id(), opening.id, Role.AGENCY, _AGENCY_NAME),
        *(Participant(new_id(), opening.id, Role.BIDDER, name) for name in _BIDDER_NAMES),
    ]
    for p in people:
        await store.add_participant(p)
        if p.role == Role.BIDDER:
            # The read-out's order is the order bidders were added (as over REST).
            await store.append_event(
                "bidder_added", {"bidder": p.id, "name": p.name}, session_id=opening.id
            )
    return opening, people


async def create_load_session(
    store: SqlStore, seats: int, *, now: datetime | None = None
) -> DemoData:
    """A session with `seats` experts for load tests: main venue first, 10 seats a room at most."""
    if not 1 <= seats <= 100:
        raise InvalidRequest("压测机位数必须在 1 到 100 之间")
    now = now if now is not None else datetime.now(UTC)
    code = f"LOAD-{new_id()[:8]}"
    # A centre of its own for each load session: a centre's name is unique.
    centre = Centre(id=new_id(), name=f"压测交易中心（{code}）", city="沈阳")
    await store.add_centre(centre)
    venues: list[Venue] = []
    left = seats
    while left > 0:
        used = min(left, 10)
        kind = "主" if not venues else "副"
        venue = Venue(
            id=new_id(),
            centre_id=centre.id,
            name=f"压测{kind}评标室{len(venues) + 1}",
            city="沈阳",
            seat_count=max(used, 5),
        )
        await store.add_venue(venue)
        venues.append(venue)
        left -= used
    session = Session(
        id=new_id(),
        project_code=code,
        project_name=f"压测项目（{seats}个机位）",
        main_venue_id=venues[0].id,
        sub_venue_ids=tuple(v.id for v in venues[1:]),
        scheduled_start=now,
    )
    await store.add_session(session)
    participants = []
    for i in range(seats):
        p = Participant(
            id=new_id(),
            session_id=session.id,
            role=Role.EXPERT,
            name=f"压测专家{i + 1}",
            venue_id=venues[i // 10].id,
            seat_no=i % 10 + 1,
        )
        await store.add_participant(p)
        participants.append(p)
    return DemoData(session=session, venues=venues, participants=participants)
