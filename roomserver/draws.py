"""Random draws nobody can steer: sub venues (3.10) and experts (7.1.3), with a commit-reveal audit.

Before a draw the server picks a secret random seed and publishes only its commitment (the SHA-256
of the seed, as ``roomserver.lots`` does for an election) together with the draw's facts: what is
drawn, the pool of candidates with the attributes the conditions look at, the needs and the
exclusions. After the draw it reveals the seed. The result is a pure function of the seed and the
published facts:

1. every candidate gets the rank ``HMAC-SHA256(key=seed, message=facts ‖ "\\n" ‖ candidate id)``,
   where ``facts`` is the canonical JSON of the facts (``Draw.facts_json``);
2. needs are served in the order given: each takes, in rank order, the candidates not yet taken
   and not excluded whose attributes meet its conditions, as many as it asks for;
3. a draw that cannot serve every need is refused as a whole, naming the shortfall.

Anyone holding the record can check the seed against the commitment and compute the same result
(``verify``). Nobody, the operators included, can choose the result: the seed is fixed before the
pool is known to it (the commitment is published with the pool), and the pool cannot be changed
after the seed is seen. A replacement (an expert on leave, or absent) is a new draw with its own
seed, excluding everyone drawn before.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from roomserver.errors import DrawShortfall, InvalidRequest
from roomserver.lots import SEED_BYTES, commitment, matches, seed_from_hex

__all__ = ["SEED_BYTES", "Candidate", "Draw", "Need", "commitment", "verify"]


@dataclass(frozen=True)
class Candidate:
    """One candidate of a pool: its id and the attributes conditions look at (each a set of
    values: an expert's specialties, their city and employer; a venue's region and city)."""

    id: str
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def meets(self, conditions: Mapping[str, str]) -> bool:
        """Whether every condition's value is among the candidate's values of that attribute."""
        return all(value in self.attributes.get(key, ()) for key, value in conditions.items())

    def excluded_by(self, exclusions: Mapping[str, frozenset[str]]) -> bool:
        """Whether any of the candidate's values is excluded (an employer of a bidder, say)."""
        return any(set(self.attributes.get(key, ())) & values for key, values in exclusions.items())

    def as_json(self) -> dict[str, object]:
        """The candidate in the published facts."""
        return {"id": self.id, "attributes": {k: sorted(v) for k, v in self.attributes.items()}}


@dataclass(frozen=True)
class Need:
    """How many to draw that meet the conditions (attribute → required value), and for what
    (a venue's id, say: where the drawn experts will sit)."""

    count: int
    conditions: Mapping[str, str] = field(default_factory=dict)
    label: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
            raise InvalidRequest("每项抽取人数至少为 1")

    def as_json(self) -> dict[str, object]:
        """The need in the published facts."""
        conditions = dict(sorted(self.conditions.items()))
        return {"count": self.count, "conditions": conditions, "label": self.label}


@dataclass(frozen=True)
class Draw:
    """What is drawn from what: everything published with the commitment, before the draw."""

    kind: str
    subject: str
    pool: tuple[Candidate, ...]
    needs: tuple[Need, ...]
    excluded_ids: frozenset[str] = frozenset()
    exclusions: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ids = [c.id for c in self.pool]
        if len(set(ids)) != len(ids):
            raise InvalidRequest("候选名单中有重复")
        if not self.needs:
            raise InvalidRequest("没有要抽取的项")

    def facts_json(self) -> str:
        """The facts, canonical (sorted keys and pool, ASCII escapes): what the ranks hash."""
        facts = {
            "kind": self.kind,
            "subject": self.subject,
            "pool": [c.as_json() for c in sorted(self.pool, key=lambda c: c.id)],
            "needs": [n.as_json() for n in self.needs],
            "excluded_ids": sorted(self.excluded_ids),
            "exclusions": {k: sorted(v) for k, v in sorted(self.exclusions.items())},
        }
        return json.dumps(facts, ensure_ascii=True, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_facts_json(cls, text: str) -> Draw:
        """The draw a published facts text describes (its ``facts_json`` gives the same text)."""
        facts = json.loads(text)
        return cls(
            kind=facts["kind"],
            subject=facts["subject"],
            pool=tuple(
                Candidate(c["id"], {k: tuple(v) for k, v in c["attributes"].items()})
                for c in facts["pool"]
            ),
            needs=tuple(
                Need(n["count"], dict(n["conditions"]), n["label"]) for n in facts["needs"]
            ),
            excluded_ids=frozenset(facts["excluded_ids"]),
            exclusions={k: frozenset(v) for k, v in facts["exclusions"].items()},
        )

    def ranked(self, seed: bytes) -> list[Candidate]:
        """The pool in rank order for `seed`."""
        if len(seed) != SEED_BYTES:
            raise ValueError(f"a seed is {SEED_BYTES} bytes")
        facts = self.facts_json().encode("ascii")

        def rank(candidate: Candidate) -> bytes:
            message = facts + b"\n" + candidate.id.encode("utf-8")
            return hmac.new(seed, message, hashlib.sha256).digest()

        return sorted(self.pool, key=rank)

    def result(self, seed: bytes) -> list[tuple[str, str]]:
        """The drawn candidates as (need label, candidate id), needs in order; DrawShortfall if a
        need cannot be served (nothing is drawn then)."""
        ranked = [
            c
            for c in self.ranked(seed)
            if c.id not in self.excluded_ids and not c.excluded_by(self.exclusions)
        ]
        taken: set[str] = set()
        drawn: list[tuple[str, str]] = []
        for need in self.needs:
            chosen = [c for c in ranked if c.id not in taken and c.meets(need.conditions)]
            chosen = chosen[: need.count]
            if len(chosen) < need.count:
                what = need.label or "本次抽取"
                found, wanted = len(chosen), need.count
                raise DrawShortfall(f"{what}：符合条件的候选只有 {found} 个，需要 {wanted} 个")
            taken.update(c.id for c in chosen)
            drawn.extend((need.label, c.id) for c in chosen)
        return drawn


def verify(draw: Draw, seed_hex: str, committed: str, drawn: Sequence[tuple[str, str]]) -> bool:
    """Whether a published draw is sound: the revealed seed was committed to and gives exactly
    the result published."""
    try:
        seed = seed_from_hex(seed_hex)
    except ValueError:
        return False
    if not matches(seed, committed):
        return False
    try:
        return draw.result(seed) == [tuple(pair) for pair in drawn]
    except DrawShortfall:
        return False
