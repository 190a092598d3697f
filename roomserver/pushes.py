"""What the provincial platform is told (平台联通与信息共享, 5.5): topics of pushes, which events
make them, and what each push carries.

A push is an event of the log, sent to the subscribers of its topic (``roomserver.webhooks``
says how). One table, ``KIND_TOPICS``, names the event kinds of each topic; a workflow event is
pushed according to its command (``WORKFLOW_TOPICS``):

========================  =================================================================
topic                     events
========================  =================================================================
``venues``                5.5.1, 5.5.2 venue information and its changes: ``centre_added``,
                          ``venue_added``, ``venue_changed``
``venue_usage``           5.5.3 venue and seat usage: ``booking_made``, ``booking_changed``,
                          ``booking_cancelled``, and daily the days ahead:
                          ``venue_usage_scheduled`` (``roomserver.usage``)
``session_finished``      5.5.4 a finished session's venues and seats: ``session_ended``, with
                          the session, its lot, venues, seated experts and bookings looked up
                          when the push is built (``finished_session_data``)
``expert_sign_in``        5.5.8 an expert's sign-in: a ``workflow`` event whose command is
                          ``check_in`` (``sign_in_data``)
``draws``                 3.10, 7.1.3 (and the drawn experts of 5.5.9): ``draw_committed``,
                          ``draw_revealed``
``expert_fees``           5.5.6 an expert's fee, when a session ends: ``expert_fee_recorded``
``results``               5.5.7 a project's results, once every one of its lots has ended:
                          ``project_results_ready``
========================  =================================================================

5.5.5 (project formation) is a call into the server (``POST /api/projects``, bookings), not a
push. A new push is a new event kind and a row of this table.

Everything here is pure: the lookups a push needs are made by its caller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from roomserver.booking import Booking
from roomserver.model import Event, Participant, Role, Session, Venue
from roomserver.projects import Lot

# The kind of the event a workflow command is logged as (``signaling.services.workflow``).
WORKFLOW_EVENT = "workflow"


class Topic(StrEnum):
    """What a subscriber may ask to be told."""

    VENUES = "venues"  # 场地信息及变更 (5.5.1, 5.5.2)
    VENUE_USAGE = "venue_usage"  # 场地使用情况 (5.5.3)
    SESSION_FINISHED = "session_finished"  # 已完成项目的场地机位信息 (5.5.4)
    EXPERT_SIGN_IN = "expert_sign_in"  # 专家签到信息 (5.5.8)
    DRAWS = "draws"  # 抽取副场和专家 (3.10, 7.1.3)
    EXPERT_FEES = "expert_fees"  # 专家费 (5.5.6)
    RESULTS = "results"  # 评标评审结果 (5.5.7)


KIND_TOPICS: Mapping[str, Topic] = MappingProxyType(
    {
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
)
# Workflow events by their command's kind.
WORKFLOW_TOPICS: Mapping[str, Topic] = MappingProxyType({"check_in": Topic.EXPERT_SIGN_IN})


def topic_of(kind: str, data: Mapping[str, Any]) -> Topic | None:
    """The topic an event of `kind` with `data` is pushed under, or None if it is not pushed."""
    if kind == WORKFLOW_EVENT:
        command = data.get("command")
        if not isinstance(command, Mapping):
            return None
        return WORKFLOW_TOPICS.get(str(command.get("kind")))
    return KIND_TOPICS.get(kind)


def kinds_of(topic: Topic) -> frozenset[str]:
    """The event kinds of a topic (``workflow`` for a topic of workflow commands)."""
    kinds = {kind for kind, t in KIND_TOPICS.items() if t == topic}
    if topic in WORKFLOW_TOPICS.values():
        kinds.add(WORKFLOW_EVENT)
    return frozenset(kinds)


def sign_in_data(event: Event, expert: Participant | None) -> dict[str, Any]:
    """An expert's sign-in (5.5.8): who, where, when, and which staff confirmed it.

    `expert` is the participant as stored now (None if it cannot be found): it gives the name
    and seat. The picture staff compared is evidence of the archive and is not pushed.
    """
    details = event.data.get("details")
    details = details if isinstance(details, Mapping) else {}
    expert_id = str(details.get("expert") or (expert.id if expert else ""))
    return {
        "expert_id": expert_id,
        "name": expert.name if expert else None,
        "venue_id": details.get("venue") or (expert.venue_id if expert else None),
        "seat_no": expert.seat_no if expert else None,
        "checked_in_at": event.at.isoformat(),
        "confirmed_by": event.actor,
    }


def finished_session_data(
    event: Event,
    session: Session,
    venues: Mapping[str, Venue],
    people: Sequence[Participant],
    bookings: Sequence[Booking],
    lot: Lot | None,
) -> dict[str, Any]:
    """A finished session's venues and seats (5.5.4): each venue with the experts at its seats,
    the session's bookings, and its lot."""
    seated = [p for p in people if p.role == Role.EXPERT and p.seat_no is not None]
    rooms = []
    for venue_id in session.venue_ids():
        venue = venues.get(venue_id)
        rooms.append(
            {
                "id": venue_id,
                "kind": str(session.venue_kind(venue_id)),
                "name": venue.name if venue else None,
                "city": venue.city if venue else None,
                "centre_id": venue.centre_id if venue else None,
                "seat_count": venue.seat_count if venue else None,
                "seats": [
                    {"seat_no": p.seat_no, "expert_id": p.id, "expert_name": p.name}
                    for p in sorted(
                        (p for p in seated if p.venue_id == venue_id),
                        key=lambda p: p.seat_no or 0,
                    )
                ],
            }
        )
    return {
        "session": {
            "id": session.id,
            "project_code": session.project_code,
            "project_name": session.project_name,
            "scheduled_start": session.scheduled_start.isoformat(),
            "ended_at": event.at.isoformat(),
            "ended_by": event.data.get("by", event.actor),
        },
        "lot": (
            {"id": lot.id, "project_id": lot.project_id, "code": lot.code, "name": lot.name}
            if lot is not None
            else None
        ),
        "venues": rooms,
        "bookings": [
            {
                "id": b.id,
                "venue_id": b.venue_id,
                "starts_at": b.slot.starts_at.isoformat(),
                "ends_at": b.slot.ends_at.isoformat(),
                "seats": list(b.seats),
                "state": str(b.state),
            }
            for b in bookings
        ],
    }
