"""Drawing lots (抽签) between tied candidates, with a commit-reveal audit.

When an election starts, the server draws a secret random seed and logs only its commitment,
the SHA-256 of the seed. Should a tie be broken by lot, the seed is revealed in the event of the
draw, and the winner is a deterministic function of the seed, the session, the round and the
tied candidates: anybody holding the log can check that the seed matches the commitment made
before any ballot was cast, and compute the same winner again. The seed is drawn outside this
module (``signaling.services.workflow``); everything here is pure.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable

SEED_BYTES = 32


def commitment(seed: bytes) -> str:
    """The commitment logged when the election starts: SHA-256 of the seed, hex."""
    return hashlib.sha256(seed).hexdigest()


def seed_from_hex(value: object) -> bytes:
    """The seed as logged at the draw (hex); ValueError if it is not one."""
    if not isinstance(value, str) or len(value) != 2 * SEED_BYTES:
        raise ValueError("a seed is 64 hex digits")
    return bytes.fromhex(value)


def matches(seed: bytes, committed: str) -> bool:
    """Whether `seed` is the one committed to."""
    return hmac.compare_digest(commitment(seed), committed)


def winner(seed: bytes, session_id: str, round_no: int, tied: Iterable[str]) -> str:
    """The candidate drawn: SHA-256 over the seed and the draw's facts, as an integer, mod n."""
    candidates = sorted(set(tied))
    if not candidates:
        raise ValueError("nobody to draw from")
    # Canonical JSON keeps the facts unambiguous, whatever characters the ids hold.
    facts = json.dumps([session_id, round_no, candidates], ensure_ascii=True, separators=(",", ":"))
    digest = hashlib.sha256(seed + b"\n" + facts.encode("ascii")).digest()
    return candidates[int.from_bytes(digest, "big") % len(candidates)]


def verify_draw(
    seed_hex: str, committed: str, session_id: str, round_no: int, tied: Iterable[str], drawn: str
) -> bool:
    """Whether a logged draw is sound: the seed was committed to and gives the winner named."""
    try:
        seed = seed_from_hex(seed_hex)
    except ValueError:
        return False
    return matches(seed, committed) and winner(seed, session_id, round_no, tied) == drawn
