"""Personal links (个人链接): short random codes the server maps to grants, revocable one by one.

A printed link carries a code, never a signed token: the code says nothing by itself, the server
keeps only its SHA-256 (a copy of the database opens no seat), and a host or an administrator
can revoke it. A page exchanges the code once for a session cookie (``signaling.http.links``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from roomserver.errors import InvalidToken, TokenExpired
from roomserver.model import Role

# 16 URL-safe characters of base64: 96 bits of randomness, short enough to read out on a phone.
CODE_BYTES = 12
CODE_SHAPE = re.compile(r"[A-Za-z0-9_-]{16}")


class LinkRevoked(InvalidToken):
    """The link was revoked by a host or an administrator (or replaced by a new one)."""

    code = "link_revoked"
    default_message = "该链接已被收回，请向工作人员索取新的链接"


class OtherIdentity(InvalidToken):
    """The browser's session cookie is of another person than the page was opened for."""

    code = "other_identity"
    default_message = "本浏览器已用其他链接登录，请重新打开您的个人链接"


@dataclass(frozen=True)
class Link:
    """One issued link: whom it stands for and until when."""

    id: str
    subject: str  # the grants' participant id (ROLE:NAME for those on no roster)
    role: Role
    name: str
    issued_at: datetime
    issued_by: str
    expires_at: datetime
    participant_id: str | None = None
    session_id: str | None = None
    venue_id: str | None = None
    seat_no: int | None = None
    # The trading centre an administrator, supervisor or ops engineer of one centre is limited
    # to (``roomserver.policy``); None for the province's and for a session's people.
    centre_id: str | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    reason: str | None = None

    def check(self, now: datetime) -> None:
        """Refuse a revoked or expired link."""
        if self.revoked_at is not None:
            raise LinkRevoked()
        if now >= self.expires_at:
            raise TokenExpired("该链接已过期，请向工作人员索取新的链接")


def new_code() -> str:
    """A fresh link code: 16 URL-safe characters from the system's random source."""
    return secrets.token_urlsafe(CODE_BYTES)


def code_hash(code: str) -> str:
    """What the store keeps of a code; InvalidToken for anything that is not a code's shape."""
    if not isinstance(code, str) or not CODE_SHAPE.fullmatch(code):
        raise InvalidToken("链接无效，请使用工作人员发给您的个人链接")
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def party_link_expiry(now: datetime, session_end: datetime | None, window: timedelta) -> datetime:
    """When a tenderer's or bidder's link ends: `window` after the session ended (from now while
    it has not), never later. Their access window is the time after the evaluation in which
    they may look at its open part; a link issued late does not stretch it."""
    start = min(now, session_end) if session_end is not None else now
    return start + window
