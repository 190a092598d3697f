"""A lot's bid opening (开标) as the centre sets it up: its session, the bid deadline and the
terms its tender documents give (the fields read out, the fewest valid bids, the decryption
time limit, the benchmark-price parameters to draw, and whether the public may watch the
broadcast). The opening's course is ``roomserver.opening``; this is what it starts from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from roomserver.benchmark import Parameter
from roomserver.errors import InvalidRequest
from roomserver.openingstate import (
    DEFAULT_DECRYPTION_MINUTES,
    DEFAULT_MIN_BIDS,
    MAX_DECRYPTION_MINUTES,
    OpeningState,
)
from roomserver.sealing import DEFAULT_FIELDS, FieldSpec

MAX_FIELDS = 12
MAX_MIN_BIDS = 50


@dataclass(frozen=True)
class OpeningTerms:
    """What the tender documents say of the opening."""

    deadline: datetime  # 投标截止时间, also when the opening starts
    fields: tuple[FieldSpec, ...] = DEFAULT_FIELDS
    min_bids: int = DEFAULT_MIN_BIDS
    decryption_minutes: int = DEFAULT_DECRYPTION_MINUTES
    benchmark: tuple[Parameter, ...] = ()
    public: bool = False  # whether anybody with the public link may watch the broadcast

    def __post_init__(self) -> None:
        if self.deadline.tzinfo is None or self.deadline.utcoffset() is None:
            raise InvalidRequest("投标截止时间必须带时区")
        object.__setattr__(self, "deadline", self.deadline.astimezone(UTC))
        object.__setattr__(self, "fields", tuple(self.fields))
        object.__setattr__(self, "benchmark", tuple(self.benchmark))
        if not 1 <= len(self.fields) <= MAX_FIELDS:
            raise InvalidRequest(f"开标字段应为 1 至 {MAX_FIELDS} 个")
        if isinstance(self.min_bids, bool) or not 1 <= self.min_bids <= MAX_MIN_BIDS:
            raise InvalidRequest(f"最少有效投标数应为 1 至 {MAX_MIN_BIDS}")
        if not 1 <= self.decryption_minutes <= MAX_DECRYPTION_MINUTES:
            raise InvalidRequest(f"解密时限应为 1 至 {MAX_DECRYPTION_MINUTES} 分钟")

    def as_json(self) -> dict[str, Any]:
        """The terms as they are kept (the deadline apart) and shown."""
        return {
            "fields": [f.as_json() for f in self.fields],
            "min_bids": self.min_bids,
            "decryption_minutes": self.decryption_minutes,
            "benchmark": [p.as_json() for p in self.benchmark],
            "public": self.public,
        }

    @classmethod
    def from_json(cls, deadline: datetime, kept: Mapping[str, Any]) -> OpeningTerms:
        """The terms kept by `as_json`, with their deadline."""
        return cls(
            deadline=deadline,
            fields=tuple(FieldSpec(**f) for f in kept["fields"]),
            min_bids=int(kept["min_bids"]),
            decryption_minutes=int(kept["decryption_minutes"]),
            benchmark=tuple(
                Parameter(p["name"], p["label"], tuple(p["candidates"]))
                for p in kept.get("benchmark", [])
            ),
            public=bool(kept.get("public", False)),
        )


@dataclass(frozen=True)
class Opening:
    """A lot's opening: which session, which lot, on which terms."""

    session_id: str
    lot_id: str
    terms: OpeningTerms

    def initial_state(self, bidders: Mapping[str, str]) -> OpeningState:
        """The state the opening's commands start from; `bidders` (id → name) in the order of
        the read-out."""
        return OpeningState(
            lot_id=self.lot_id,
            bidders=dict(bidders),
            deadline=self.terms.deadline,
            fields=self.terms.fields,
            min_bids=self.terms.min_bids,
            decryption_minutes=self.terms.decryption_minutes,
            benchmark=self.terms.benchmark,
            public=self.terms.public,
        )
