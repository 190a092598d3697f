"""Seat checks and the roster order that drives the room grid."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from roomserver.errors import NotFound, NotYourRoom, SeatNotInSession, SeatOutOfRange
from roomserver.model import (
    Participant,
    Role,
    Session,
    SessionKind,
    SessionState,
    Venue,
    VenueKind,
)
from roomserver.rules import check_expert_seat, check_seat, roster_seats, takes_door_entries

SHENYANG = Venue("v-sy", "c-sy", "沈阳第一评标室", "沈阳", 8)
DALIAN = Venue("v-dl", "c-dl", "大连第二评标室", "大连", 6)
DANDONG = Venue("v-dd", "c-dd", "丹东第一评标室", "丹东", 5)
ANSHAN = Venue("v-as", "c-as", "鞍山第一评标室", "鞍山", 5)
VENUES = {v.id: v for v in (SHENYANG, DALIAN, DANDONG, ANSHAN)}
SESSION = Session(
    id="s1",
    project_code="P-1",
    project_name="某工程",
    main_venue_id=SHENYANG.id,
    sub_venue_ids=(DALIAN.id, DANDONG.id),
    scheduled_start=datetime(2025, 6, 1, 1, 30, tzinfo=UTC),
)


def expert(pid: str, venue: Venue, seat: int, session_id: str = "s1") -> Participant:
    return Participant(pid, session_id, Role.EXPERT, "专家" + pid, venue_id=venue.id, seat_no=seat)


def test_check_seat_accepts_every_seat_of_a_session_venue() -> None:
    for seat in range(1, SHENYANG.seat_count + 1):
        check_seat(SESSION, SHENYANG, seat)
    check_seat(SESSION, DANDONG, 5)


def test_check_seat_refuses_venue_outside_session() -> None:
    with pytest.raises(NotYourRoom):
        check_seat(SESSION, ANSHAN, 1)


@pytest.mark.parametrize("seat", [0, -1, 7])
def test_check_seat_refuses_seat_out_of_range(seat: int) -> None:
    with pytest.raises(SeatOutOfRange):
        check_seat(SESSION, DALIAN, seat)


def test_check_expert_seat_accepts_seated_expert() -> None:
    check_expert_seat(SESSION, DALIAN, expert("e1", DALIAN, 2))


@pytest.mark.parametrize(
    "participant",
    [
        Participant("h", "s1", Role.HOST, "主持人", venue_id=SHENYANG.id),
        Participant("h2", "s1", Role.SUPERVISOR, "监督", venue_id=SHENYANG.id, seat_no=1),
        Participant("e0", "s1", Role.EXPERT, "未排座专家"),
        Participant("e0", "s1", Role.EXPERT, "无机位专家", venue_id=SHENYANG.id),
        expert("e9", SHENYANG, 1, session_id="other-session"),
    ],
    ids=["host", "supervisor-with-seat", "no-venue", "no-seat", "other-session"],
)
def test_check_expert_seat_refuses_who_has_no_seat_here(participant: Participant) -> None:
    with pytest.raises(SeatNotInSession):
        check_expert_seat(SESSION, SHENYANG, participant)


def test_check_expert_seat_refuses_expert_at_another_venue() -> None:
    with pytest.raises(NotYourRoom):
        check_expert_seat(SESSION, DALIAN, expert("e1", SHENYANG, 1))


def test_check_expert_seat_refuses_venue_outside_session() -> None:
    with pytest.raises(NotYourRoom):
        check_expert_seat(SESSION, ANSHAN, expert("e1", ANSHAN, 1))


def test_check_expert_seat_refuses_seat_beyond_venue() -> None:
    with pytest.raises(SeatOutOfRange):
        check_expert_seat(SESSION, DANDONG, expert("e1", DANDONG, 6))


def test_roster_is_main_venue_then_subs_in_session_order_each_by_seat() -> None:
    people = [
        expert("d1", DANDONG, 1),
        Participant("h", "s1", Role.HOST, "主持人", venue_id=SHENYANG.id),
        expert("l2", DALIAN, 2),
        expert("s3", SHENYANG, 3),
        expert("l1", DALIAN, 1),
        expert("s1", SHENYANG, 1),
        expert("x1", SHENYANG, 2, session_id="other-session"),
    ]
    seats = roster_seats(SESSION, VENUES, people)
    assert [s.expert_id for s in seats] == ["s1", "s3", "l1", "l2", "d1"]
    assert [s.label for s in seats] == [
        "沈阳主场 · 1号机位",
        "沈阳主场 · 3号机位",
        "大连副场 · 1号机位",
        "大连副场 · 2号机位",
        "丹东副场 · 1号机位",
    ]
    first = seats[0]
    assert (first.venue_name, first.venue_kind, first.expert_name) == (
        "沈阳第一评标室",
        VenueKind.MAIN,
        "专家s1",
    )
    assert seats[-1].venue_kind is VenueKind.SUB


def test_roster_follows_the_sessions_sub_venue_order_not_ids() -> None:
    reordered = Session(
        "s1", "P", "n", SHENYANG.id, (DANDONG.id, DALIAN.id), SESSION.scheduled_start
    )
    seats = roster_seats(reordered, VENUES, [expert("l1", DALIAN, 1), expert("d1", DANDONG, 1)])
    assert [s.expert_id for s in seats] == ["d1", "l1"]


def test_roster_refuses_to_drop_an_expert_whose_venue_is_unknown() -> None:
    with pytest.raises(NotFound):
        roster_seats(SESSION, {SHENYANG.id: SHENYANG}, [expert("l1", DALIAN, 1)])


def test_door_entries_go_to_live_sessions_and_those_about_to_start() -> None:
    start = SESSION.scheduled_start
    hours = [timedelta(hours=h) for h in (-12, -1, 0, 1, 3, 30)]
    scheduled = [takes_door_entries(SESSION, DALIAN.id, start + h) for h in hours]
    # From 12 hours before the start to a little after it; never a day later.
    assert scheduled == [True, True, True, True, False, False]
    live = replace(SESSION, state=SessionState.LIVE)
    assert all(takes_door_entries(live, DALIAN.id, start + h) for h in hours)
    ended = replace(SESSION, state=SessionState.ENDED)
    assert not any(takes_door_entries(ended, DALIAN.id, start + h) for h in hours)
    assert not takes_door_entries(live, ANSHAN.id, start)  # not a venue of the session


def test_door_entries_never_go_to_a_bid_opening() -> None:
    opening = replace(SESSION, sub_venue_ids=(), kind=SessionKind.OPENING)
    start = opening.scheduled_start
    assert not takes_door_entries(opening, SHENYANG.id, start)
    assert not takes_door_entries(replace(opening, state=SessionState.LIVE), SHENYANG.id, start)
