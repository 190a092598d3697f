"""Link codes and a party link's end, without a store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from roomserver.errors import InvalidToken, TokenExpired
from roomserver.links import Link, LinkRevoked, code_hash, new_code, party_link_expiry
from roomserver.model import Role

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_a_code_is_short_random_and_only_its_hash_is_a_key() -> None:
    codes = {new_code() for _ in range(1000)}
    assert len(codes) == 1000
    assert all(len(c) == 16 and "." not in c for c in codes)
    code = codes.pop()
    assert code_hash(code) != code and len(code_hash(code)) == 64
    for bad in ("", "a" * 15, "a" * 17, "a.b.c-aaaaaaaaaa", "名" * 16):
        with pytest.raises(InvalidToken):
            code_hash(bad)


def test_a_party_link_ends_its_window_after_the_session_ended_however_late_it_is_issued() -> None:
    window = timedelta(days=30)
    assert party_link_expiry(NOW, None, window) == NOW + window  # not ended yet: from now
    ended = NOW - timedelta(days=10)
    assert party_link_expiry(NOW, ended, window) == ended + window
    assert party_link_expiry(NOW, NOW + timedelta(days=1), window) == NOW + window


def test_a_revoked_or_expired_link_is_refused() -> None:
    link = Link("l1", "p1", Role.EXPERT, "专家", NOW, "admin", NOW + timedelta(hours=1))
    link.check(NOW)
    with pytest.raises(TokenExpired):
        link.check(NOW + timedelta(hours=1))
    revoked = Link(
        "l2", "p1", Role.EXPERT, "专家", NOW, "admin", NOW + timedelta(hours=1), revoked_at=NOW
    )
    with pytest.raises(LinkRevoked):
        revoked.check(NOW)
