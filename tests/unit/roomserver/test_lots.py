"""Drawing lots: the commitment binds the seed, and the winner is recomputed by anybody."""

from __future__ import annotations

import hashlib
from collections import Counter

from roomserver import lots

SEED = bytes.fromhex("5a" * 32)


def test_the_commitment_is_the_seeds_sha256() -> None:
    assert lots.commitment(SEED) == hashlib.sha256(SEED).hexdigest()
    assert lots.matches(SEED, lots.commitment(SEED))
    assert not lots.matches(bytes(32), lots.commitment(SEED))


def test_the_winner_depends_on_the_facts_and_not_on_their_order() -> None:
    first = lots.winner(SEED, "s1", 2, ["e3", "e1", "e2"])
    assert first in {"e1", "e2", "e3"}
    assert lots.winner(SEED, "s1", 2, ["e2", "e3", "e1"]) == first
    # Recomputed from the published formula alone.
    facts = b'["s1",2,["e1","e2","e3"]]'
    digest = hashlib.sha256(SEED + b"\n" + facts).digest()
    assert first == ["e1", "e2", "e3"][int.from_bytes(digest, "big") % 3]


def test_draws_spread_over_the_candidates() -> None:
    drawn = Counter(lots.winner(SEED, "s1", r, ["a", "b"]) for r in range(1, 401))
    assert set(drawn) == {"a", "b"} and min(drawn.values()) > 150


def test_a_logged_draw_is_verified_against_the_commitment() -> None:
    committed = lots.commitment(SEED)
    drawn = lots.winner(SEED, "s1", 1, ["e1", "e2"])
    other = "e2" if drawn == "e1" else "e1"
    assert lots.verify_draw(SEED.hex(), committed, "s1", 1, ["e1", "e2"], drawn)
    assert not lots.verify_draw(SEED.hex(), committed, "s1", 1, ["e1", "e2"], other)
    assert not lots.verify_draw("00" * 32, committed, "s1", 1, ["e1", "e2"], drawn)
    assert not lots.verify_draw("not hex", committed, "s1", 1, ["e1", "e2"], drawn)
