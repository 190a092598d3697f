"""Join tokens: signed, expiring, carrying exactly the participant's grants."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from roomserver.errors import InvalidToken, TokenExpired
from roomserver.model import Participant, Role
from signaling.gate.tokens import TokenIssuer, load_or_create_key

EXPERT = Participant(
    id="p1", session_id="s1", role=Role.EXPERT, name="王建国", venue_id="v1", seat_no=2
)


def test_round_trip_carries_the_grants() -> None:
    issuer = TokenIssuer(b"0" * 32, default_ttl_s=60)
    grants = issuer.verify(issuer.issue(EXPERT))
    assert (grants.participant_id, grants.session_id, grants.role) == ("p1", "s1", Role.EXPERT)
    assert grants.seat_key == "v1:2"


def test_expired_forged_and_garbage_tokens_are_refused() -> None:
    issuer = TokenIssuer(b"0" * 32, default_ttl_s=60)
    with pytest.raises(TokenExpired):
        issuer.verify(issuer.issue(EXPERT, ttl_s=-10))
    with pytest.raises(InvalidToken):
        issuer.verify(TokenIssuer(b"1" * 32, default_ttl_s=60).issue(EXPERT))
    for garbage in (None, "", "a.b.c", 42, "x" * 5000):
        with pytest.raises(InvalidToken):
            issuer.verify(garbage)
    unsigned = jwt.encode({"sub": "p1", "role": "expert"}, key=None, algorithm="none")
    with pytest.raises(InvalidToken):
        issuer.verify(unsigned)


def test_admin_token_has_no_session() -> None:
    issuer = TokenIssuer(b"0" * 32, default_ttl_s=60)
    grants = issuer.verify(issuer.issue_admin())
    assert grants.role == Role.ADMIN and grants.session_id is None


def test_key_is_created_once_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "token.key"
    key = load_or_create_key(path)
    assert len(key) == 32 and path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_key(path) == key
