"""Topics of the pushes to the provincial platform (5.5): which events make which push, and
what a sign-in and a finished session carry."""

from __future__ import annotations

from datetime import UTC, datetime

from roomserver.booking import Booking, Slot
from roomserver.model import Event, Participant, Role, Session, Venue
from roomserver.projects import Lot
from roomserver.pushes import (
    KIND_TOPICS,
    WORKFLOW_EVENT,
    Topic,
    finished_session_data,
    kinds_of,
    sign_in_data,
    topic_of,
)
from signaling.services.workflow import EVENT_KIND

AT = datetime(2026, 12, 8, 2, 30, tzinfo=UTC)


def workflow_event(command: str, **details: object) -> Event:
    data = {
        "command": {"kind": command, "role": "staff", "venue": "v1", "fields": {}},
        "happened": "expert_checked_in",
        "details": details,
        "phase": "check_in",
    }
    return Event(seq=9, session_id="s1", at=AT, kind=WORKFLOW_EVENT, actor="staff1", data=data)


def test_each_pushed_kind_has_its_topic() -> None:
    assert dict(KIND_TOPICS) == {
        "centre_added": Topic.VENUES,
        "venue_added": Topic.VENUES,
        "venue_changed": Topic.VENUES,
        "booking_made": Topic.VENUE_USAGE,
        "booking_changed": Topic.VENUE_USAGE,
        "booking_cancelled": Topic.VENUE_USAGE,
        "venue_usage_scheduled": Topic.VENUE_USAGE,
        "session_ended": Topic.SESSION_FINISHED,
        "draw_committed": Topic.DRAWS,
        "draw_revealed": Topic.DRAWS,
        "expert_fee_recorded": Topic.EXPERT_FEES,
        "project_results_ready": Topic.RESULTS,
    }
    for kind, topic in KIND_TOPICS.items():
        assert topic_of(kind, {}) == topic
    # Everything else stays in the server's own log.
    for kind in ("server_started", "seat_joined", "request_refused", "webhook_added"):
        assert topic_of(kind, {}) is None


def test_a_workflow_event_is_pushed_only_for_a_check_in() -> None:
    # The workflow service logs its commands under the kind this module expects.
    assert EVENT_KIND == WORKFLOW_EVENT
    assert topic_of(WORKFLOW_EVENT, workflow_event("check_in").data) == Topic.EXPERT_SIGN_IN
    for command in ("open_check_in", "commit", "cast_ballot", "sign"):
        assert topic_of(WORKFLOW_EVENT, workflow_event(command).data) is None
    assert topic_of(WORKFLOW_EVENT, {"command": "check_in"}) is None  # not a logged command
    assert kinds_of(Topic.EXPERT_SIGN_IN) == {WORKFLOW_EVENT}
    assert kinds_of(Topic.VENUE_USAGE) == {
        "booking_made",
        "booking_changed",
        "booking_cancelled",
        "venue_usage_scheduled",
    }


def test_a_sign_in_says_who_where_when_and_who_confirmed_it() -> None:
    expert = Participant("e1", "s1", Role.EXPERT, "王建国", venue_id="v1", seat_no=3)
    event = workflow_event("check_in", expert="e1", venue="v1", snapshot={"sha256": "ab"})
    assert sign_in_data(event, expert) == {
        "expert_id": "e1",
        "name": "王建国",
        "venue_id": "v1",
        "seat_no": 3,
        "checked_in_at": "2026-12-08T02:30:00+00:00",
        "confirmed_by": "staff1",
    }
    # The expert cannot be found: what the event says still goes out.
    assert sign_in_data(event, None)["expert_id"] == "e1"
    assert sign_in_data(event, None)["venue_id"] == "v1"


def test_a_finished_session_lists_its_venues_with_the_experts_at_their_seats() -> None:
    session = Session("s1", "LN-2026-0300", "某学校教学楼工程 施工", "v1", ("v2",), AT)
    venues = {
        "v1": Venue("v1", "c1", "沈阳第一评标室", "沈阳", 6),
        "v2": Venue("v2", "c2", "大连第一评标室", "大连", 5),
    }
    people = [
        Participant("e2", "s1", Role.EXPERT, "李四", venue_id="v1", seat_no=2),
        Participant("e1", "s1", Role.EXPERT, "张三", venue_id="v1", seat_no=1),
        Participant("e3", "s1", Role.EXPERT, "王五", venue_id="v2", seat_no=1),
        # Replaced: no seat any more.
        Participant("e4", "s1", Role.EXPERT, "赵六", venue_id="v2", replaced_by="e3"),
        Participant("h1", "s1", Role.HOST, "主持人", venue_id="v1"),
    ]
    slot = Slot(AT, datetime(2026, 12, 8, 6, 30, tzinfo=UTC))
    booking = Booking(
        "b1", "v2", slot, (1, 2, 3), "评标", "admin", AT, lot_id="l1", session_id="s1"
    )
    lot = Lot("l1", "p1", "01", "施工", 1, session_id="s1")
    ended = Event(10, "s1", AT, "session_ended", "host1", {"by": "host1"})
    data = finished_session_data(ended, session, venues, people, [booking], lot)
    assert data["session"]["ended_at"] == "2026-12-08T02:30:00+00:00"
    assert data["lot"] == {"id": "l1", "project_id": "p1", "code": "01", "name": "施工"}
    assert [(v["id"], v["kind"], v["seat_count"]) for v in data["venues"]] == [
        ("v1", "main", 6),
        ("v2", "sub", 5),
    ]
    assert [s["expert_name"] for s in data["venues"][0]["seats"]] == ["张三", "李四"]
    assert data["venues"][1]["seats"] == [{"seat_no": 1, "expert_id": "e3", "expert_name": "王五"}]
    assert data["bookings"][0]["seats"] == [1, 2, 3]
