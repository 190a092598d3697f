"""Centres, venues and bookings over REST: what a centre's administration and the provincial
scheduling system set up and book (5.4.7, 7.1.1, 7.1.2, 5.5.1).

Every change is an event of the log (``centre_added``, ``venue_added``, ``booking_made``,
``booking_changed``, ``booking_cancelled``); a booking made for a session is an event of that
session. Two overlapping bookings of a seat never both succeed: the store refuses the second
(``roomserver.bookingstore``), answered 409 with the booking it clashed with. A name says which
place it is: a second centre of a name, or a second room of a name in the same centre, added or
renamed, is refused as 409 ``duplicate_name`` (``roomserver.placestore``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from roomserver.booking import Booking, Period, Slot, seats_of
from roomserver.model import Centre, Role, Venue, new_id
from roomserver.policy import Action
from signaling.gate.centres import centres_of, own_centre
from signaling.gate.guard import body_of, grants_of, query_of, route
from signaling.gate.places import (
    BookingChange,
    BookingList,
    BookingOut,
    BookingQuery,
    BookingRequest,
    CancelRequest,
    CentreList,
    CentreOut,
    CentreRequest,
    DoorTokenOut,
    DoorTokenRequest,
    VacancyList,
    VacancyQuery,
    VenueChange,
    VenueOut,
    VenuePage,
    VenueQuery,
    VenueRequest,
)
from signaling.http.api import SERVICES
from signaling.http.links import issue_link, unrostered_link


def centre_json(centre: Centre) -> dict[str, Any]:
    """A centre as the API answers it."""
    return CentreOut(
        id=centre.id, name=centre.name, city=centre.city, region_code=centre.region_code
    ).model_dump(mode="json")


def masked(url: str) -> str:
    """A camera's address with the password it may carry shown as ***."""
    return re.sub(r"^(rtsps?://[^:/@\s]*):[^@/\s]*@", r"\1:***@", url)


def venue_json(venue: Venue, centres: dict[str, Centre]) -> dict[str, Any]:
    """A venue as the API answers it, with its centre's name."""
    centre = centres.get(venue.centre_id)
    return VenueOut(
        id=venue.id,
        centre_id=venue.centre_id,
        centre_name=centre.name if centre else "",
        name=venue.name,
        city=venue.city,
        seat_count=venue.seat_count,
        main_capable=venue.main_capable,
        sub_capable=venue.sub_capable,
        cameras=[masked(url) for url in venue.camera_urls],
    ).model_dump(mode="json")


def booking_json(b: Booking) -> dict[str, Any]:
    """A booking as the API answers it and the log records it."""
    return BookingOut(
        id=b.id,
        venue_id=b.venue_id,
        starts_at=b.slot.starts_at,
        ends_at=b.slot.ends_at,
        seats=list(b.seats),
        purpose=b.purpose,
        lot_id=b.lot_id,
        session_id=b.session_id,
        state=str(b.state),
        booked_by=b.booked_by,
        booked_at=b.booked_at,
        cancelled_by=b.cancelled_by,
        cancelled_at=b.cancelled_at,
        reason=b.reason,
    ).model_dump(mode="json")


async def _centres(request: web.Request) -> dict[str, Centre]:
    return {c.id: c for c in await request.app[SERVICES].store.places.centres()}


async def list_centres(request: web.Request) -> web.Response:
    """``GET /api/centres``: every trading centre."""
    centres = await request.app[SERVICES].store.places.centres()
    return web.json_response({"items": [centre_json(c) for c in centres]})


async def add_centre(request: web.Request) -> web.Response:
    """``POST /api/centres``: a trading centre."""
    services = request.app[SERVICES]
    body = body_of(request, CentreRequest)
    centre = Centre(id=new_id(), name=body.name, city=body.city, region_code=body.region_code)
    await services.store.add_centre(centre)
    await services.events.append(
        "centre_added", centre_json(centre), actor=grants_of(request).participant_id
    )
    return web.json_response(centre_json(centre), status=201)


async def list_venues(request: web.Request) -> web.Response:
    """``GET /api/venues?q=&centre_id=&page=&per_page=``: a page of the venues."""
    services = request.app[SERVICES]
    query = query_of(request, VenueQuery)
    venues, total = await services.store.places.search_venues(
        text=query.q, centre_id=query.centre_id, page=query.page, per_page=query.per_page
    )
    centres = await _centres(request)
    return web.json_response(
        {
            "items": [venue_json(v, centres) for v in venues],
            "total": total,
            "page": query.page,
            "per_page": query.per_page,
        }
    )


async def add_venue(request: web.Request) -> web.Response:
    """``POST /api/venues``: an evaluation room of a centre."""
    services = request.app[SERVICES]
    body = body_of(request, VenueRequest)
    own_centre(grants_of(request), body.centre_id)
    centre = await services.store.places.centre(body.centre_id)
    venue = Venue(
        new_id(),
        centre.id,
        body.name,
        body.city,
        body.seat_count,
        main_capable=body.main_capable,
        sub_capable=body.sub_capable,
        camera_urls=tuple(body.camera_urls),
    )
    await services.store.add_venue(venue)
    answer = venue_json(venue, {centre.id: centre})
    await services.events.append("venue_added", answer, actor=grants_of(request).participant_id)
    return web.json_response(answer, status=201)


async def get_venue(request: web.Request) -> web.Response:
    """``GET /api/venues/{venue_id}``: one venue."""
    venue = await request.app[SERVICES].store.get_venue(request.match_info["venue_id"])
    return web.json_response(venue_json(venue, await _centres(request)))


async def change_venue(request: web.Request) -> web.Response:
    """``POST /api/venues/{venue_id}``: a venue's name, city or seat count changed (5.5.2)."""
    services = request.app[SERVICES]
    body = body_of(request, VenueChange)
    venue = await services.store.places.update_venue(
        request.match_info["venue_id"],
        name=body.name,
        city=body.city,
        seat_count=body.seat_count,
        main_capable=body.main_capable,
        sub_capable=body.sub_capable,
        camera_urls=tuple(body.camera_urls) if body.camera_urls is not None else None,
        now=datetime.now(UTC),
    )
    answer = venue_json(venue, await _centres(request))
    await services.events.append("venue_changed", answer, actor=grants_of(request).participant_id)
    return web.json_response(answer)


async def door_token(request: web.Request) -> web.Response:
    """``POST /api/venues/{venue_id}/door-token`` {days}: a bearer token for the venue's
    access-control system (门禁系统), which posts its entries and exits; shown once. It stands
    for a link, so that ``roomserver link revoke door:VENUE`` ends it (with every other token
    of that door)."""
    services = request.app[SERVICES]
    body = body_of(request, DoorTokenRequest)
    venue = await services.store.get_venue(request.match_info["venue_id"])
    expires_at = datetime.now(UTC) + timedelta(days=body.days)
    by = grants_of(request).participant_id
    link = unrostered_link(Role.DOOR, venue.id, by=by, expires_at=expires_at, venue_id=venue.id)
    await issue_link(services.store, services.events.append, link)
    answer = DoorTokenOut(
        venue_id=venue.id,
        token=services.tokens.issue_link_session(link),
        link_id=link.id,
        expires_at=expires_at,
    )
    return web.json_response(answer.model_dump(mode="json"), status=201)


async def list_bookings(request: web.Request) -> web.Response:
    """``GET /api/bookings?venue_id=&starts_at=&ends_at=``: bookings overlapping a period; to
    an administrator of one centre, those of its venues and those it made for its lots (the
    others' show as taken seats in the vacancy)."""
    store = request.app[SERVICES].store
    query = query_of(request, BookingQuery)
    found = await store.bookings.find(
        venue_id=query.venue_id or None,
        during=Period(query.starts_at, query.ends_at),
        active_only=not query.include_cancelled,
    )
    scope = grants_of(request).centre_id
    if scope is not None:
        found = [b for b in found if scope in (await centres_of(store, {"booking_id": b.id}) or ())]
    return web.json_response({"items": [booking_json(b) for b in found]})


async def vacancy(request: web.Request) -> web.Response:
    """``GET /api/vacancy?starts_at=&ends_at=&seats=&city=``: venues with enough free seats."""
    store = request.app[SERVICES].store
    query = query_of(request, VacancyQuery)
    slot = Slot(query.starts_at, query.ends_at)
    venues = [v for v in await store.list_venues() if not query.city or v.city == query.city]
    free = await store.bookings.vacancy(venues, slot)
    centres = await _centres(request)
    enough = [v for v in venues if len(free[v.id]) >= query.seats]
    enough.sort(key=lambda v: (-len(free[v.id]), v.city, v.name))
    return web.json_response(
        {
            "items": [
                {"venue": venue_json(v, centres), "free_seats": list(free[v.id])} for v in enough
            ]
        }
    )


async def make_booking(request: web.Request) -> web.Response:
    """``POST /api/bookings``: seats of a venue for a slot (every seat when none are named)."""
    services = request.app[SERVICES]
    body = body_of(request, BookingRequest)
    grants = grants_of(request)
    if grants.centre_id is not None:
        # A centre books any centre's room for its own lots, and its own rooms for anything.
        named = {"session_id": body.session_id, "lot_id": body.lot_id, "venue_id": body.venue_id}
        present = {name: value for name, value in named.items() if value}
        own_centre(grants, await centres_of(services.store, present) or frozenset())
    venue = await services.store.get_venue(body.venue_id)
    by = grants.participant_id
    booking = Booking(
        id=new_id(),
        venue_id=venue.id,
        slot=Slot(body.starts_at, body.ends_at),
        seats=seats_of(tuple(body.seats) if body.seats else None, venue.seat_count),
        purpose=body.purpose,
        booked_by=by,
        booked_at=datetime.now(UTC),
        lot_id=body.lot_id,
        session_id=body.session_id,
    )
    await services.store.bookings.book(booking)
    answer = booking_json(booking)
    await services.events.append("booking_made", answer, session_id=booking.session_id, actor=by)
    return web.json_response(answer, status=201)


async def change_booking(request: web.Request) -> web.Response:
    """``POST /api/bookings/{booking_id}/change``: a new slot or seats; all or nothing."""
    services = request.app[SERVICES]
    body = body_of(request, BookingChange)
    old = await services.store.bookings.get(request.match_info["booking_id"])
    venue = await services.store.get_venue(old.venue_id)
    by, now = grants_of(request).participant_id, datetime.now(UTC)
    new = Booking(
        id=new_id(),
        venue_id=old.venue_id,
        slot=Slot(body.starts_at, body.ends_at),
        seats=seats_of(tuple(body.seats), venue.seat_count) if body.seats else old.seats,
        purpose=old.purpose,
        booked_by=by,
        booked_at=now,
        lot_id=old.lot_id,
        session_id=old.session_id,
    )
    await services.store.bookings.change(old.id, new, by=by, at=now)
    answer = booking_json(new)
    await services.events.append(
        "booking_changed", {"from": old.id, **answer}, session_id=new.session_id, actor=by
    )
    return web.json_response(answer)


async def cancel_booking(request: web.Request) -> web.Response:
    """``POST /api/bookings/{booking_id}/cancel`` {reason}: the seats are free again."""
    services = request.app[SERVICES]
    body = body_of(request, CancelRequest)
    by = grants_of(request).participant_id
    cancelled = await services.store.bookings.cancel(
        request.match_info["booking_id"], by=by, at=datetime.now(UTC), reason=body.reason
    )
    answer = booking_json(cancelled)
    await services.events.append(
        "booking_cancelled", answer, session_id=cancelled.session_id, actor=by
    )
    return web.json_response(answer)


def add_place_routes(app: web.Application) -> None:
    """Register the centre, venue and booking routes."""
    read, manage = Action.PLACES_READ, Action.PLACES_MANAGE
    route(app, "GET", "/api/centres", list_centres, read, answer=CentreList, summary="交易中心列表")
    route(
        app,
        "POST",
        "/api/centres",
        add_centre,
        Action.CENTRES_MANAGE,
        body=CentreRequest,
        answer=CentreOut,
        summary="新增交易中心",
    )
    route(
        app,
        "GET",
        "/api/venues",
        list_venues,
        read,
        query=VenueQuery,
        answer=VenuePage,
        summary="评标室列表（可搜索、分页）",
    )
    route(
        app,
        "POST",
        "/api/venues",
        add_venue,
        manage,
        body=VenueRequest,
        answer=VenueOut,
        summary="新增评标室",
    )
    route(
        app,
        "GET",
        "/api/venues/{venue_id}",
        get_venue,
        read,
        answer=VenueOut,
        summary="评标室信息（5.5.1）",
    )
    route(
        app,
        "POST",
        "/api/venues/{venue_id}",
        change_venue,
        manage,
        body=VenueChange,
        answer=VenueOut,
        summary="评标室信息变更（5.5.2）",
    )
    route(
        app,
        "POST",
        "/api/venues/{venue_id}/door-token",
        door_token,
        manage,
        body=DoorTokenRequest,
        answer=DoorTokenOut,
        summary="为评标室门禁系统签发接口凭证（只显示一次）",
    )
    bookings_read, bookings_manage = Action.BOOKINGS_READ, Action.BOOKINGS_MANAGE
    route(
        app,
        "GET",
        "/api/vacancy",
        vacancy,
        bookings_read,
        query=VacancyQuery,
        answer=VacancyList,
        tag="bookings",
        summary="查询某时段有足够空闲机位的评标室",
    )
    route(
        app,
        "GET",
        "/api/bookings",
        list_bookings,
        bookings_read,
        query=BookingQuery,
        answer=BookingList,
        summary="某时段的场地机位预约",
    )
    route(
        app,
        "POST",
        "/api/bookings",
        make_booking,
        bookings_manage,
        body=BookingRequest,
        answer=BookingOut,
        summary="预约评标室机位（同一机位同一时段不会被重复预约）",
    )
    route(
        app,
        "POST",
        "/api/bookings/{booking_id}/change",
        change_booking,
        bookings_manage,
        body=BookingChange,
        answer=BookingOut,
        summary="变更预约的时段或机位（冲突时不作任何变更）",
    )
    route(
        app,
        "POST",
        "/api/bookings/{booking_id}/cancel",
        cancel_booking,
        bookings_manage,
        body=CancelRequest,
        answer=BookingOut,
        summary="取消预约，释放机位",
    )
