"""Which trading centres a request's target belongs to, for the tokens of one centre.

An administrator, a supervisor or an ops engineer of one centre (``Grants.centre_id``) reaches
only what belongs to that centre (``roomserver.policy``). The guard resolves, from the first of
a route's path parameters that names something:

- a session: its main venue's centre, where the project is traded (3.6); a sub venue's centre
  takes part through the session's own people (its host and staff), not through its managers;
- a lot, or a draw (drawn for a lot): the lot's project's centre; a project: its centre;
- a booking: its venue's centre and, for a lot's booking, the lot's project's centre (the
  centre that keeps the room, and the centre that booked it);
- a venue: its centre; a centre: itself.

Something that does not exist belongs to no centre, so a token of one centre learns nothing of
another's ids. What a body names (the centre a venue is added to, a venue to book) and what a
list shows are the handler's: ``own_centre``, and ``Grants.centre_id`` to filter a list.
"""

from __future__ import annotations

from collections.abc import Mapping

from roomserver.errors import NotFound, NotYourRoom
from roomserver.policy import OTHER_CENTRE, Grants
from roomserver.store import SqlStore

# Path parameters in the order they are looked at: the most specific first.
NAMING = ("session_id", "lot_id", "draw_id", "booking_id", "project_id", "venue_id", "centre_id")


async def _of_lot(store: SqlStore, lot_id: str) -> frozenset[str]:
    lot = await store.projects.lot(lot_id)
    return frozenset({(await store.projects.project(lot.project_id)).centre_id})


async def _of_venue(store: SqlStore, venue_id: str) -> frozenset[str]:
    return frozenset({(await store.get_venue(venue_id)).centre_id})


async def _resolve(store: SqlStore, name: str, value: str) -> frozenset[str]:
    if name == "session_id":
        return await _of_venue(store, (await store.get_session(value)).main_venue_id)
    if name == "lot_id":
        return await _of_lot(store, value)
    if name == "draw_id":
        return await _of_lot(store, (await store.draws.draw(value)).subject)
    if name == "booking_id":
        booking = await store.bookings.get(value)
        centres = await _of_venue(store, booking.venue_id)
        return centres | (await _of_lot(store, booking.lot_id) if booking.lot_id else frozenset())
    if name == "project_id":
        return frozenset({(await store.projects.project(value)).centre_id})
    if name == "venue_id":
        return await _of_venue(store, value)
    return frozenset({value})


async def centres_of(store: SqlStore, params: Mapping[str, str]) -> frozenset[str] | None:
    """The centres what `params` names belongs to; None when they name nothing of a centre's."""
    for name in NAMING:
        value = params.get(name)
        if value is None:
            continue
        try:
            return await _resolve(store, name, value)
        except NotFound:
            return frozenset()
    return None


def own_centre(grants: Grants, centres: str | frozenset[str]) -> None:
    """Refuse a token of one centre what a body names of another centre's."""
    if grants.centre_id is None:
        return
    named = frozenset({centres}) if isinstance(centres, str) else centres
    if grants.centre_id not in named:
        raise NotYourRoom(OTHER_CENTRE)
