"""The one place where errors become wire answers (Socket.IO acks, HTTP problem JSON)."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from roomserver.errors import (
    BadSignature,
    BookingConflict,
    DuplicateName,
    IllegalCommand,
    Internal,
    InvalidRequest,
    InvalidToken,
    NotFound,
    NotYourRoom,
    PayloadTooLarge,
    RoleNotAllowed,
    RoomError,
    SeatNotInSession,
    SeatOutOfRange,
    SessionEnded,
    TokenExpired,
    Unavailable,
)
from signaling.wire import WireError

logger = logging.getLogger(__name__)

HTTP_STATUS: dict[type[RoomError], int] = {
    InvalidToken: 401,
    TokenExpired: 401,
    NotYourRoom: 403,
    RoleNotAllowed: 403,
    SeatNotInSession: 403,
    SeatOutOfRange: 403,
    NotFound: 404,
    InvalidRequest: 400,
    PayloadTooLarge: 413,
    SessionEnded: 409,
    BookingConflict: 409,
    DuplicateName: 409,
    IllegalCommand: 409,
    BadSignature: 422,
    Internal: 500,
    Unavailable: 503,
}


def as_room_error(exc: BaseException) -> RoomError:
    """The domain error to answer with; anything unexpected is logged and becomes ``internal``."""
    if isinstance(exc, RoomError):
        return exc
    if isinstance(exc, WireError):
        # A media worker refused: its answer carries the domain code and message.
        err = RoomError(exc.message)
        err.code = exc.code
        return err
    logger.error("unexpected error", exc_info=exc)
    return Internal()


def error_ack(exc: BaseException) -> dict[str, Any]:
    """A Socket.IO ack for a failed request."""
    err = as_room_error(exc)
    return {"ok": False, "error": {"code": err.code, "message": err.message}}


def http_status(err: RoomError) -> int:
    """The HTTP status of a domain error."""
    for cls in type(err).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 400


def problem_response(exc: BaseException) -> web.Response:
    """An RFC 9457 problem+json response."""
    err = as_room_error(exc)
    status = http_status(err)
    return web.json_response(
        {
            "type": "about:blank",
            "title": err.code,
            "status": status,
            "code": err.code,
            "detail": err.message,
        },
        status=status,
        content_type="application/problem+json",
    )
