"""The warning rules: each condition starts after its threshold, backdated, and ends cleanly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from roomserver.model import Event, Participant, Role
from roomserver.warnings import (
    CameraObservation,
    Condition,
    RoomCameraRules,
    SeatCameraRules,
    SeatPresenceRules,
    Transition,
    WarningKind,
    WarningThresholds,
    arrived_experts,
    venue_attendants,
)

T0 = 1_800_000_000.0
NORMAL = {"faces": 1, "luma_mean": 120.0, "luma_std": 40.0, "change": 4.0}


def sample(at: float, **overrides: float | int | None) -> CameraObservation:
    values = {**NORMAL, **overrides}
    return CameraObservation(at=at, **values)  # type: ignore[arg-type]


def run(rules: SeatCameraRules, seconds: int, **overrides: float | int | None) -> list[Transition]:
    """One sample a second from T0 for `seconds` seconds."""
    out: list[Transition] = []
    for i in range(seconds):
        out += rules.observe(sample(T0 + i, **overrides))
    return out


def test_condition_starts_after_holding_and_is_backdated() -> None:
    condition = Condition(WarningKind.SEAT_EMPTY, 30)
    assert condition.update(True, 100.0) is None
    assert condition.update(True, 129.0) is None
    started = condition.update(True, 130.0)
    assert started == Transition(WarningKind.SEAT_EMPTY, True, 100.0)
    assert condition.update(True, 140.0) is None  # raised once
    assert condition.update(False, 141.0) == Transition(WarningKind.SEAT_EMPTY, False, 141.0)
    assert condition.update(False, 142.0) is None


def test_a_short_absence_is_no_warning() -> None:
    condition = Condition(WarningKind.SEAT_EMPTY, 30)
    for at in range(0, 29):
        assert condition.update(True, float(at)) is None
    assert condition.update(False, 29.0) is None
    assert condition.update(True, 30.0) is None  # the clock starts again


def test_a_seat_with_a_face_raises_nothing() -> None:
    assert run(SeatCameraRules(WarningThresholds()), 120) == []


def test_empty_seat_after_the_threshold_and_back() -> None:
    rules = SeatCameraRules(WarningThresholds(seat_empty_s=30))
    transitions = run(rules, 31, faces=0)
    assert transitions == [Transition(WarningKind.SEAT_EMPTY, True, T0)]
    back = rules.observe(sample(T0 + 40))
    assert back == [Transition(WarningKind.SEAT_EMPTY, False, T0 + 40)]


def test_two_faces_raise_extra_face() -> None:
    transitions = run(SeatCameraRules(WarningThresholds(extra_face_s=2)), 3, faces=2)
    assert [t.kind for t in transitions] == [WarningKind.EXTRA_FACE]


@pytest.mark.parametrize("picture", [{"luma_mean": 8.0}, {"luma_std": 2.0}])
def test_a_dark_or_covered_camera_is_dark_and_not_an_empty_seat(
    picture: dict[str, float],
) -> None:
    transitions = run(SeatCameraRules(WarningThresholds()), 60, faces=0, **picture)
    assert [t.kind for t in transitions] == [WarningKind.CAMERA_DARK]


def test_a_frozen_picture() -> None:
    transitions = run(SeatCameraRules(WarningThresholds(frozen_s=10)), 12, change=0.0)
    assert [t.kind for t in transitions] == [WarningKind.CAMERA_FROZEN]


def test_the_first_sample_is_never_frozen() -> None:
    rules = SeatCameraRules(WarningThresholds(frozen_s=0))
    assert rules.observe(sample(T0, change=None)) == []


def test_stop_ends_what_the_camera_showed() -> None:
    rules = SeatCameraRules(WarningThresholds(seat_empty_s=5))
    run(rules, 6, faces=0)
    assert rules.stop(T0 + 10) == [Transition(WarningKind.SEAT_EMPTY, False, T0 + 10)]
    assert rules.stop(T0 + 11) == []


def test_thresholds_must_be_non_negative() -> None:
    with pytest.raises(ValueError, match="seat_empty_s"):
        WarningThresholds(seat_empty_s=-1)


START = datetime.fromtimestamp(T0, UTC)
ALL = frozenset({"camera", "microphone", "desktop"})


def presence(**overrides: float) -> SeatPresenceRules:
    return SeatPresenceRules(WarningThresholds(**overrides), START)


def test_late_is_raised_at_the_deadline_backdated_and_ends_on_arrival() -> None:
    rules = presence(late_after_s=900)
    assert rules.update(T0 + 899, online=False, tracks=frozenset()) == []
    late = rules.update(T0 + 905, online=False, tracks=frozenset())
    assert late == [Transition(WarningKind.LATE, True, T0 + 900)]
    arrived = rules.update(T0 + 1000, online=True, tracks=ALL)
    assert arrived == [Transition(WarningKind.LATE, False, T0 + 1000)]


def test_an_expert_who_arrived_before_is_never_late() -> None:
    """After a restart the rules start afresh; the log says the expert had already come."""
    thresholds = WarningThresholds(late_after_s=900)
    came = SeatPresenceRules(thresholds, START, arrived=True)
    never = SeatPresenceRules(thresholds, START)
    offline = {"online": False, "tracks": frozenset()}
    kinds = [t.kind for at in (T0 + 901, T0 + 3600) for t in came.update(at, **offline)]
    assert WarningKind.LATE not in kinds
    assert [t.kind for t in never.update(T0 + 901, **offline)] == [WarningKind.LATE]


def _event(seq: int, kind: str, actor: str | None, **data: object) -> Event:
    return Event(seq, "s1", START, kind, actor, dict(data))


def test_arrivals_in_the_log_are_seat_connections_and_check_ins() -> None:
    events = [
        _event(1, "seat_connected", "e1", seat="v1:1"),
        _event(2, "seat_joined", "e2", seat="v1:2"),
        _event(3, "workflow", "staff", happened="expert_checked_in", details={"expert": "e3"}),
        _event(4, "workflow", "e4", happened="commitment_accepted", details={"expert": "e4"}),
        _event(5, "connect_refused", None, namespace="/seat"),
        _event(6, "door_access", "door", name="e5"),
    ]
    assert arrived_experts(events) == {"e1", "e2", "e3"}


def test_a_seat_that_was_never_online_is_not_disconnected() -> None:
    rules = presence()
    assert rules.update(T0 + 60, online=False, tracks=frozenset()) == []


def test_disconnected_after_being_online() -> None:
    rules = presence(disconnected_s=5)
    rules.update(T0, online=True, tracks=ALL)
    assert rules.update(T0 + 10, online=False, tracks=frozenset()) == []
    gone = rules.update(T0 + 15, online=False, tracks=frozenset())
    assert gone == [Transition(WarningKind.SEAT_DISCONNECTED, True, T0 + 10)]
    back = rules.update(T0 + 20, online=True, tracks=ALL)
    assert back == [Transition(WarningKind.SEAT_DISCONNECTED, False, T0 + 20)]


def test_tracks_missing_while_online() -> None:
    rules = presence(track_lost_s=8)
    assert rules.update(T0, online=True, tracks=frozenset({"microphone"})) == []
    lost = rules.update(T0 + 8, online=True, tracks=frozenset({"microphone"}))
    assert lost == [Transition(WarningKind.CAMERA_LOST, True, T0)]


def test_desktop_stopped_only_after_it_was_shared() -> None:
    rules = presence(track_lost_s=5)
    without = frozenset({"camera", "microphone"})
    assert rules.update(T0, online=True, tracks=without) == []
    assert rules.update(T0 + 30, online=True, tracks=without) == []
    rules.update(T0 + 31, online=True, tracks=ALL)
    rules.update(T0 + 32, online=True, tracks=without)
    stopped = rules.update(T0 + 37, online=True, tracks=without)
    assert stopped == [Transition(WarningKind.DESKTOP_STOPPED, True, T0 + 32)]


def test_a_desktop_never_shared_is_a_warning_until_it_arrives() -> None:
    rules = presence(desktop_missing_s=60)
    without = frozenset({"camera", "microphone"})
    assert rules.update(T0, online=True, tracks=without) == []
    assert rules.update(T0 + 59, online=True, tracks=without) == []
    missing = rules.update(T0 + 60, online=True, tracks=without)
    assert missing == [Transition(WarningKind.DESKTOP_MISSING, True, T0)]
    shared = rules.update(T0 + 90, online=True, tracks=ALL)
    assert shared == [Transition(WarningKind.DESKTOP_MISSING, False, T0 + 90)]


def test_a_seat_offline_is_not_missing_its_desktop() -> None:
    rules = presence(desktop_missing_s=10)
    assert rules.update(T0 + 30, online=False, tracks=frozenset()) == []
    assert rules.update(T0 + 31, online=True, tracks=ALL) == []
    assert rules.update(T0 + 60, online=True, tracks=ALL) == []


def test_presence_stop_ends_open_warnings() -> None:
    rules = presence(disconnected_s=0)
    rules.update(T0, online=True, tracks=ALL)
    rules.update(T0 + 1, online=False, tracks=frozenset())
    assert rules.stop(T0 + 2) == [Transition(WarningKind.SEAT_DISCONNECTED, False, T0 + 2)]


def test_room_camera_sees_more_people_than_experts_seated() -> None:
    rules = RoomCameraRules(WarningThresholds(extra_face_s=2))
    assert rules.observe(T0, faces=3, seated=3) == []  # the experts themselves
    assert rules.observe(T0 + 1, faces=2, seated=0) == []  # nobody seated: nothing to compare
    assert rules.observe(T0 + 2, faces=4, seated=3) == []
    started = rules.observe(T0 + 4, faces=4, seated=3)
    assert started == [Transition(WarningKind.ROOM_CAMERA_PERSON, True, T0 + 2)]
    assert rules.stop(T0 + 5) == [Transition(WarningKind.ROOM_CAMERA_PERSON, False, T0 + 5)]


def test_room_camera_allows_for_the_venues_staff_witness_and_host() -> None:
    rules = RoomCameraRules(WarningThresholds(extra_face_s=0))
    # One expert seated; the host, a member of staff and the witness are in the room too.
    assert rules.observe(T0, faces=4, seated=1, attendants=3) == []
    started = rules.observe(T0 + 1, faces=5, seated=1, attendants=3)
    assert started == [Transition(WarningKind.ROOM_CAMERA_PERSON, True, T0 + 1)]
    assert rules.observe(T0 + 2, faces=2, seated=0, attendants=3) == [
        Transition(WarningKind.ROOM_CAMERA_PERSON, False, T0 + 2)
    ]


def test_the_attendants_of_a_venue_are_its_staff_witnesses_and_host() -> None:
    def person(pid: str, role: Role, venue: str | None) -> Participant:
        seat = 1 if role == Role.EXPERT else None
        return Participant(pid, "s1", role, "某人", venue_id=venue, seat_no=seat)

    people = [
        person("e1", Role.EXPERT, "main"),
        person("h1", Role.HOST, "main"),
        person("st1", Role.STAFF, "main"),
        person("w1", Role.WITNESS, "main"),
        person("st2", Role.STAFF, "sub"),
        person("sv", Role.SUPERVISOR, None),
        person("ar", Role.ARCHIVIST, None),
    ]
    assert venue_attendants(people, "main") == 3
    assert venue_attendants(people, "sub") == 1
    assert venue_attendants(people, "elsewhere") == 0
