"""Domain model: venue validation, seat labels, session venue order, error codes."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from roomserver.errors import (
    InvalidRequest,
    InvalidVenue,
    NotYourRoom,
    RoomError,
    SeatOutOfRange,
    TokenExpired,
)
from roomserver.model import (
    MAX_SEATS,
    MIN_SEATS,
    Centre,
    Participant,
    Role,
    Session,
    SessionState,
    Venue,
    VenueKind,
    id_last4,
    new_id,
    seat_label,
)

START = datetime(2025, 6, 1, 1, 30, tzinfo=UTC)


def venue(seats: int = 8, *, city: str = "沈阳", name: str = "沈阳第一评标室") -> Venue:
    return Venue(id="v-" + city, centre_id="c1", name=name, city=city, seat_count=seats)


def session() -> Session:
    return Session(
        id="s1",
        project_code="P-1",
        project_name="某工程",
        main_venue_id="v-main",
        sub_venue_ids=("v-sub1", "v-sub2"),
        scheduled_start=START,
    )


def test_seat_label_names_city_venue_kind_and_seat() -> None:
    assert seat_label(venue(city="沈阳"), VenueKind.MAIN, 2) == "沈阳主场 · 2号机位"
    assert seat_label(venue(city="大连"), VenueKind.SUB, 1) == "大连副场 · 1号机位"


@pytest.mark.parametrize("seats", [MIN_SEATS, 7, MAX_SEATS])
def test_venue_accepts_five_to_ten_seats(seats: int) -> None:
    assert venue(seats).seat_count == seats


@pytest.mark.parametrize("seats", [0, 4, 11, -1])
def test_venue_refuses_seat_count_outside_table_1(seats: int) -> None:
    with pytest.raises(InvalidVenue) as info:
        venue(seats)
    assert info.value.code == "invalid_venue"
    assert str(seats) in info.value.message


@pytest.mark.parametrize("field", ["name", "city"])
def test_venue_refuses_blank_name_or_city(field: str) -> None:
    with pytest.raises(InvalidVenue):
        venue(**{field: "  "})


def test_session_lists_main_venue_first_then_subs_in_order() -> None:
    s = session()
    assert s.venue_ids() == ("v-main", "v-sub1", "v-sub2")
    assert s.venue_kind("v-main") is VenueKind.MAIN
    assert s.venue_kind("v-sub2") is VenueKind.SUB
    assert s.state is SessionState.SCHEDULED


def test_session_venue_kind_refuses_foreign_venue() -> None:
    with pytest.raises(NotYourRoom):
        session().venue_kind("v-elsewhere")


def test_session_normalises_start_to_utc_and_refuses_naive_time() -> None:
    beijing = timezone(timedelta(hours=8))
    s = Session("s", "P", "n", "m", (), datetime(2025, 6, 1, 9, 30, tzinfo=beijing))
    assert s.scheduled_start == START and s.scheduled_start.tzinfo is UTC
    with pytest.raises(InvalidRequest):
        Session("s", "P", "n", "m", (), datetime(2025, 6, 1, 9, 30))


def test_session_refuses_a_venue_twice() -> None:
    with pytest.raises(InvalidRequest):
        Session("s", "P", "n", "m", ("a", "m"), START)
    with pytest.raises(InvalidRequest):
        Session("s", "P", "n", "m", ("a", "a"), START)


def test_participant_seat_needs_a_venue() -> None:
    with pytest.raises(InvalidRequest):
        Participant("p", "s", Role.EXPERT, "王建国", venue_id=None, seat_no=1)
    host = Participant("p", "s", Role("host"), "孙立新", venue_id="v")
    assert host.role is Role.HOST and host.seat_no is None


def test_errors_carry_stable_code_and_chinese_default_message() -> None:
    err = TokenExpired()
    assert isinstance(err, RoomError)
    assert (err.code, err.message) == ("token_expired", "登录凭证已过期，请向工作人员索取新的链接")
    custom = SeatOutOfRange("机位号应为1至8")
    assert custom.code == "seat_out_of_range" and custom.message == "机位号应为1至8"
    assert RoomError().code == "room_error"


def test_new_id_is_unique_hex() -> None:
    a, b = new_id(), new_id()
    assert a != b and len(a) == 32 and int(a, 16) >= 0


def test_only_the_last_four_characters_of_an_id_number_are_kept() -> None:
    assert id_last4(" 21010219800101123x ") == "123X"
    for bad in ("12345", "2101021980010112345", "21010219800101123Y", ""):
        with pytest.raises(InvalidRequest):
            id_last4(bad)
    assert Participant("p", "s", Role.EXPERT, "王建国", "v", 1, id_last4="771X").id_last4 == "771X"
    with pytest.raises(InvalidRequest):
        Participant("p", "s", Role.EXPERT, "王建国", "v", 1, id_last4="21010219800101123X")


def test_a_centre_region_code_is_six_digits_and_names_its_province() -> None:
    dalian = Centre("c1", "大连市公共资源交易中心", "大连", region_code="210200")
    assert dalian.province == "210000"
    assert Centre("c2", "某中心", "某市").province == ""
    for bad in ("21020", "2102000", "A10200", "010200"):
        with pytest.raises(InvalidRequest, match="行政区划代码"):
            Centre("c3", "某中心", "某市", region_code=bad)
