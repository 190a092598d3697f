"""Signed, expiring join tokens (JWT) with a participant's grants, like LiveKit's access tokens."""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path

import jwt

from roomserver.errors import InvalidToken, TokenExpired
from roomserver.links import Link
from roomserver.model import Participant, Role
from roomserver.policy import Grants
from roomserver.privatefiles import read_secret, write_secret

ISSUER = "roomserver"
ALGORITHM = "HS256"
# A JWT is three base64url parts; anything else is refused before the library sees it.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,2048}\.[A-Za-z0-9_-]{1,2048}\.[A-Za-z0-9_-]{0,512}")

# A hand-over login (a page sent on to the node of its room, in a cluster) is good this long.
HANDOVER_TTL_S = 120
HANDOVER = "handover"

__all__ = ["HANDOVER_TTL_S", "Grants", "TokenIssuer", "load_or_create_key"]


def load_or_create_key(path: Path) -> bytes:
    """The signing key kept in the secrets folder, created (mode 600) at first start.

    UnsafePermissions when the key or its folder can be opened by other users.
    """
    data = read_secret(path)
    if data is None:
        write_secret(path, (secrets.token_bytes(32).hex() + "\n").encode("ascii"))
        # Read back: when two processes start at once, both use the one that was written.
        data = read_secret(path) or b""
    key = bytes.fromhex(data.decode("ascii").strip())
    if len(key) < 32:
        raise ValueError(f"token key in {path} is too short")
    return key


class TokenIssuer:
    """Issues and verifies join tokens."""

    def __init__(self, key: bytes, *, default_ttl_s: int) -> None:
        self._key = key
        self._ttl = default_ttl_s

    def issue(self, participant: Participant, *, ttl_s: int | None = None) -> str:
        """A token for `participant`, valid for `ttl_s` seconds."""
        now = int(time.time())
        claims: dict[str, object] = {
            "iss": ISSUER,
            "sub": participant.id,
            "iat": now,
            "nbf": now - 5,
            "exp": now + (ttl_s or self._ttl),
            "jti": secrets.token_hex(8),
            "role": str(participant.role),
        }
        if participant.session_id:
            claims["sid"] = participant.session_id
        if participant.venue_id is not None:
            claims["venue"] = participant.venue_id
        if participant.seat_no is not None:
            claims["seat"] = participant.seat_no
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def issue_admin(
        self, name: str = "admin", *, ttl_s: int | None = None, centre: str | None = None
    ) -> str:
        """An administrator's token (REST administration): of the province, or of one trading
        centre (`centre`)."""
        return self._issue_unscoped(Role.ADMIN, name, ttl_s, centre=centre)

    def issue_supervisor(
        self, name: str, *, ttl_s: int | None = None, centre: str | None = None
    ) -> str:
        """A supervisor's token for every session: of the province, or of one centre's
        sessions (`centre`)."""
        if not name.strip() or len(name) > 64:
            raise ValueError("a supervisor's name is 1 to 64 characters")
        return self._issue_unscoped(Role.SUPERVISOR, name.strip(), ttl_s, centre=centre)

    def issue_ops(self, name: str, *, ttl_s: int | None = None, centre: str | None = None) -> str:
        """An ops engineer's token (运维技术人员): the health of every session's devices and
        connections, of the province or of one centre (`centre`)."""
        if not name.strip() or len(name) > 64:
            raise ValueError("an ops engineer's name is 1 to 64 characters")
        return self._issue_unscoped(Role.OPS, name.strip(), ttl_s, centre=centre)

    def issue_auditor(self, name: str, *, ttl_s: int | None = None) -> str:
        """An auditor's token (审计, 纪委监委): every archive, read only."""
        if not name.strip() or len(name) > 64:
            raise ValueError("an auditor's name is 1 to 64 characters")
        return self._issue_unscoped(Role.AUDITOR, name.strip(), ttl_s)

    def issue_party(
        self, role: Role, name: str, session_id: str, *, ttl_s: int | None = None
    ) -> str:
        """A tenderer's or bidder's token: the open part of one session's archive."""
        if role not in (Role.TENDERER, Role.BIDDER):
            raise ValueError("a party is a tenderer or a bidder")
        if not name.strip() or len(name) > 64 or not session_id:
            raise ValueError("a party's name is 1 to 64 characters, and a session is needed")
        return self._issue_unscoped(role, name.strip(), ttl_s, session=session_id)

    def issue_door(self, venue_id: str, *, ttl_s: int | None = None) -> str:
        """A token for a venue's access-control system: it may post that venue's door entries."""
        if not venue_id.strip():
            raise ValueError("a venue id is needed")
        return self._issue_unscoped(Role.DOOR, venue_id, ttl_s, venue=venue_id)

    def _issue_unscoped(
        self,
        role: Role,
        name: str,
        ttl_s: int | None,
        *,
        venue: str | None = None,
        session: str | None = None,
        centre: str | None = None,
    ) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": f"{role}:{name}",
            "iat": now,
            "nbf": now - 5,
            "exp": now + (ttl_s or self._ttl),
            "jti": secrets.token_hex(8),
            "role": str(role),
        }
        if venue is not None:
            claims["venue"] = venue
        if session is not None:
            claims["sid"] = session
        if centre is not None:
            claims["centre"] = centre
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def issue_link_session(self, link: Link) -> str:
        """The session token a personal link's code is exchanged for: the link's grants and
        its id (``lid``), which the guard checks against the links table on every request."""
        now = int(time.time())
        claims: dict[str, object] = {
            "iss": ISSUER,
            "sub": link.subject,
            "iat": now,
            "nbf": now - 5,
            "exp": int(link.expires_at.timestamp()),
            "jti": secrets.token_hex(8),
            "role": str(link.role),
            "lid": link.id,
        }
        if link.session_id is not None:
            claims["sid"] = link.session_id
        if link.venue_id is not None:
            claims["venue"] = link.venue_id
        if link.seat_no is not None:
            claims["seat"] = link.seat_no
        if link.centre_id is not None:
            claims["centre"] = link.centre_id
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def issue_handover(self, grants: Grants) -> str:
        """A short-lived login for the same grants on another node of the cluster: the page
        that is sent on exchanges it there for its cookie (``/api/login``), once."""
        now = int(time.time())
        claims = _claims_of(grants)
        claims.update(
            iat=now,
            nbf=now - 5,
            exp=min(grants.expires_at, now + HANDOVER_TTL_S),
            jti=secrets.token_hex(8),
            use=HANDOVER,
            until=grants.expires_at,
        )
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def redeem_handover(self, token: object) -> tuple[Grants, str]:
        """The grants of a hand-over login (its ``token_id`` is the one to spend) and the
        session token it is exchanged for, valid as long as the one it was issued from;
        InvalidToken or TokenExpired otherwise."""
        claims = self._decode(token)
        if claims.get("use") != HANDOVER or not isinstance(claims.get("until"), int):
            raise InvalidToken()
        handed = self._grants(claims)
        now = int(time.time())
        session = _claims_of(handed)
        session.update(
            iat=now, nbf=now - 5, exp=int(str(claims["until"])), jti=secrets.token_hex(8)
        )
        return handed, jwt.encode(session, self._key, algorithm=ALGORITHM)

    def verify(self, token: object) -> Grants:
        """The grants of a valid token; InvalidToken or TokenExpired otherwise (a hand-over
        login is good for ``redeem_handover`` only)."""
        claims = self._decode(token)
        if claims.get("use") is not None:
            raise InvalidToken()
        return self._grants(claims)

    def _decode(self, token: object) -> dict[str, object]:
        if not isinstance(token, str) or not TOKEN_SHAPE.fullmatch(token):
            raise InvalidToken()
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "role", "jti"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenExpired() from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken() from exc
        return dict(claims)

    @staticmethod
    def _grants(claims: dict[str, object]) -> Grants:
        try:
            role = Role(str(claims["role"]))
            seat = claims.get("seat")
            centre = claims.get("centre")
            sid, venue = claims.get("sid"), claims.get("venue")
            return Grants(
                participant_id=str(claims["sub"]),
                session_id=str(sid) if sid is not None else None,
                role=role,
                venue_id=str(venue) if venue is not None else None,
                seat_no=int(str(seat)) if seat is not None else None,
                expires_at=int(str(claims["exp"])),
                token_id=str(claims["jti"]),
                link_id=str(claims["lid"]) if claims.get("lid") is not None else None,
                centre_id=str(centre) if centre is not None else None,
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise InvalidToken() from exc


def _claims_of(grants: Grants) -> dict[str, object]:
    """The claims that carry `grants` (without the times and the token id)."""
    claims: dict[str, object] = {
        "iss": ISSUER,
        "sub": grants.participant_id,
        "role": str(grants.role),
    }
    optional = {
        "sid": grants.session_id,
        "venue": grants.venue_id,
        "seat": grants.seat_no,
        "lid": grants.link_id,
        "centre": grants.centre_id,
    }
    claims.update({k: v for k, v in optional.items() if v is not None})
    return claims
