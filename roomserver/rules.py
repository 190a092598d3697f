"""Pure, synchronous domain checks on seats and the session roster."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from roomserver.errors import NotFound, NotYourRoom, SeatNotInSession, SeatOutOfRange
from roomserver.model import Participant, Role, Session, Venue, VenueKind, seat_label


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
