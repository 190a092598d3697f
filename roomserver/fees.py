"""Expert fees (专家劳务费, 5.5.6): one record per expert and session for the payment platform.

Nothing is paid here. An expert who was checked in is paid by the centre's rule: a base amount
for the session, which covers the first hours, and an hourly amount for every hour begun after
them. The time counts from their check-in to the end of the session, or to when they withdrew,
were excused or were replaced. Experts never checked in get no record. Amounts are in fen
(分), as integers; the rule is kept with each record, so that a record says how it was made.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from roomserver.errors import InvalidRequest
from roomserver.model import Event, Participant, Role

LEFT = frozenset({"expert_withdrew", "expert_excused", "expert_replaced"})


@dataclass(frozen=True)
class FeeRule:
    """A centre's rule: base and hourly amounts (fen) and the hours the base covers."""

    base_fen: int = 80_000
    hourly_fen: int = 10_000
    included_hours: float = 4.0

    def __post_init__(self) -> None:
        if self.base_fen < 0 or self.hourly_fen < 0 or self.included_hours < 0:
            raise InvalidRequest("劳务费规则中的金额和时长不能为负")

    def amount(self, seconds: float) -> int:
        """The fee of `seconds` at the session."""
        extra = max(0, math.ceil(seconds / 3600 - self.included_hours - 1e-9))
        return self.base_fen + self.hourly_fen * extra


@dataclass(frozen=True)
class FeeRecord:
    """One expert's fee for one session."""

    session_id: str
    expert_id: str
    name: str
    id_last4: str | None
    venue_id: str | None
    checked_in_at: datetime
    left_at: datetime
    seconds: int
    amount_fen: int
    rule: Mapping[str, Any]

    def as_json(self) -> dict[str, Any]:
        """The record as the log and the platform receive it."""
        data = asdict(self)
        data["checked_in_at"] = self.checked_in_at.isoformat()
        data["left_at"] = self.left_at.isoformat()
        data["rule"] = dict(self.rule)
        return data


def _happened(event: Event) -> tuple[str, Mapping[str, Any]] | None:
    if event.kind != "workflow":
        return None
    details = event.data.get("details")
    return str(event.data.get("happened")), details if isinstance(details, Mapping) else {}


def fee_records(
    rule: FeeRule, people: Iterable[Participant], events: Iterable[Event], ended_at: datetime
) -> list[FeeRecord]:
    """The fee records of a session that ended at `ended_at`, from its people and its log."""
    checked_in: dict[str, datetime] = {}
    left: dict[str, datetime] = {}
    for event in events:
        happened = _happened(event)
        if happened is None:
            continue
        kind, details = happened
        expert = details.get("expert")
        if not isinstance(expert, str):
            continue
        if kind == "expert_checked_in":
            checked_in.setdefault(expert, event.at)
        elif kind in LEFT:
            left.setdefault(expert, event.at)
    records = []
    for person in people:
        if person.role != Role.EXPERT or person.id not in checked_in:
            continue
        start = checked_in[person.id]
        stop = min(left.get(person.id, ended_at), ended_at)
        seconds = max(0, int((stop - start).total_seconds()))
        records.append(
            FeeRecord(
                session_id=person.session_id,
                expert_id=person.id,
                name=person.name,
                id_last4=person.id_last4,
                venue_id=person.venue_id,
                checked_in_at=start,
                left_at=stop,
                seconds=seconds,
                amount_fen=rule.amount(seconds),
                rule=asdict(rule),
            )
        )
    return records
