"""Pure, synchronous domain checks on seats and the session roster."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from roomserver.errors import NotFound, NotYourRoom, SeatNotInSession, SeatOutOfRange
from roomserver.model import (
    Participant,
    Role,
    Session,
    SessionKind,
    SessionState,
    Venue,
    VenueKind,
    seat_label,
)

# A venue's door entries (5.4.2) go to its sessions that are live, and to those scheduled to
# start within DOOR_AHEAD (people arrive before the start). One still scheduled DOOR_OVERDUE
# after its start was not held as planned (its check-in never opened, nobody ended it): it
# takes none, or every stale session of the venue would collect its entries for ever.
DOOR_AHEAD = timedelta(hours=12)
DOOR_OVERDUE = timedelta(hours=2)


def check_seat(session: Session, venue: Venue, seat_no: int) -> None:
    """Raise NotYourRoom if the venue is not in the session, SeatOutOfRange if the seat is not."""
    session.venue_kind(venue.id)
    if isinstance(seat_no, bool) or not isinstance(seat_no, int):
        raise SeatOutOfRange()
    if not 1 <= seat_no <= venue.seat_count:
        raise SeatOutOfRange(f"机位号应为1至{venue.seat_count}，当前为{seat_no}")


def check_expert_seat(session: Session, venue: Venue, participant: Participant) -> None:
    """Check that the participant is an expert of this session seated in this venue."""
    if (
        participant.role is not Role.EXPERT
        or participant.session_id != session.id
        or participant.venue_id is None
        or participant.seat_no is None
    ):
        raise SeatNotInSession()
    if participant.venue_id != venue.id:
        # The expert's token is for another room of the session (or another session).
        raise NotYourRoom("该专家未被安排在此评标室")
    check_seat(session, venue, participant.seat_no)


def takes_door_entries(session: Session, venue_id: str, now: datetime) -> bool:
    """Whether a door entry of `venue_id` at `now` belongs in the session's record: the
    door system guards an evaluation area (5.4.2); a bid opening is held in the hall, with
    bidders at their own offices, so no door entry is its business."""
    if session.kind != SessionKind.EVALUATION or venue_id not in session.venue_ids():
        return False
    if session.state == SessionState.LIVE:
        return True
    if session.state != SessionState.SCHEDULED:
        return False
    return -DOOR_OVERDUE <= session.scheduled_start - now <= DOOR_AHEAD


@dataclass(frozen=True)
class RosterSeat:
    """One occupied expert seat as shown in the room grid."""

    venue_id: str
    venue_name: str
    venue_kind: VenueKind
    seat_no: int
    label: str
    expert_id: str
    expert_name: str
    id_last4: str | None = None


def roster_seats(
    session: Session,
    venues: Mapping[str, Venue],
    participants: Iterable[Participant],
) -> list[RosterSeat]:
    """Return the session's expert seats, main venue first, then sub venues, each by seat_no."""
    order = {venue_id: i for i, venue_id in enumerate(session.venue_ids())}
    seats: list[RosterSeat] = []
    for p in participants:
        if (
            p.role is not Role.EXPERT
            or p.session_id != session.id
            or p.venue_id is None
            or p.seat_no is None
            or p.venue_id not in order
        ):
            continue
        venue = venues.get(p.venue_id)
        if venue is None:
            # A roster without its venue cannot be labelled; skipping would hide an expert.
            raise NotFound("未找到专家所在评标室的资料")
        kind = session.venue_kind(venue.id)
        seats.append(
            RosterSeat(
                venue_id=venue.id,
                venue_name=venue.name,
                venue_kind=kind,
                seat_no=p.seat_no,
                label=seat_label(venue, kind, p.seat_no),
                expert_id=p.id,
                expert_name=p.name,
                id_last4=p.id_last4,
            )
        )
    seats.sort(key=lambda s: (order[s.venue_id], s.seat_no))
    return seats
