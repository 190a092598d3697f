"""The sheet of an opening as its log has it: from the opening's state (``roomserver.opening``)
and the times its events were logged, with the names the server keeps of the lot and its people.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from recorder.openingsheet.model import (
    BenchmarkDraw,
    Bid,
    Confirmation,
    Decryption,
    Objection,
    OpeningSheet,
)
from roomserver.amounts import Amount
from roomserver.openingstate import OpeningState

# Events of the opening whose time the sheet shows, by the bidder (or objection) they name.
DECRYPTION_EVENTS = ("bid_decrypted", "bid_decryption_failed", "decryption_failure_reported")


@dataclass(frozen=True)
class SheetContext:
    """What the sheet names besides the state: the lot, its people and its place."""

    project_name: str
    project_code: str
    lot_name: str
    lot_code: str
    tenderer: str
    agency: str
    place: str
    host: str
    witness: str
    supervisors: tuple[str, ...] = ()


def _times(log: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], datetime]:
    """(happened, bidder or objection number) → when, from the opening's logged events
    (their ``details`` and ``at``)."""
    found: dict[tuple[str, str], datetime] = {}
    for event in log:
        details = event.get("details") or {}
        at = datetime.fromisoformat(str(event["at"]))
        happened = str(event.get("happened"))
        if "objection" in details:
            found.setdefault((happened, f"#{details['objection']}"), at)
        found.setdefault((happened, str(details.get("bidder"))), at)
    return found


def _decryption(state: OpeningState, bidder: str) -> Decryption:
    bid = state.bid(bidder)
    if bid.decision == "accepted":
        return Decryption.ACCEPTED
    if bid.fields is not None:
        return Decryption.DECRYPTED
    if bid.refused is not None or bid.failure is not None:
        return Decryption.FAILED
    return Decryption.OVERDUE


def _decrypted_at(
    times: Mapping[tuple[str, str], datetime], bidder: str, decryption: Decryption
) -> datetime | None:
    if decryption is Decryption.OVERDUE:
        return None
    for kind in DECRYPTION_EVENTS:
        if (kind, bidder) in times:
            return times[(kind, bidder)]
    raise ValueError(f"no decryption event of bidder {bidder}")


def _bid(state: OpeningState, order: int, bidder: str, times: Mapping[Any, datetime]) -> Bid:
    bid = state.bid(bidder)
    assert bid.submission is not None
    decryption = _decryption(state, bidder)
    money = next((f for f in state.fields if f.kind == "money"), None)
    duration = next((f for f in state.fields if f.name == "duration_days"), None)
    extras = [f for f in state.fields if f is not money and f is not duration]
    values = bid.fields if decryption.read_out and bid.fields is not None else {}
    objected = any(o.bidder == bidder for o in state.objections)
    return Bid(
        order=order,
        bidder=state.bidders[bidder],
        representative=bid.sign_in.representative if bid.sign_in else "未签到",
        submitted_at=bid.submission.at,
        decryption=decryption,
        decrypted_at=_decrypted_at(times, bidder, decryption),
        price=Amount.parse(values[money.name]) if money and money.name in values else None,
        duration=(
            f"{values[duration.name]} {duration.unit}".strip()
            if duration and duration.name in values
            else None
        ),
        confirmation=(
            Confirmation.CONFIRMED
            if bid.confirmed
            else Confirmation.OBJECTED
            if objected
            else Confirmation.NO_ANSWER
        ),
        extras=tuple(str(values.get(f.name, "")) for f in extras),
    )


def sheet_of(
    state: OpeningState,
    context: SheetContext,
    log: Sequence[Mapping[str, Any]],
    made_at: datetime,
) -> OpeningSheet:
    """The record sheet of the opening now; `log` is the data of its ``opening`` events in
    order."""
    times = _times(log)
    money = next((f for f in state.fields if f.kind == "money"), None)
    extra_fields = tuple(
        f.label for f in state.fields if f is not money and f.name != "duration_days"
    )
    benchmark = None
    if state.benchmark_values and state.benchmark_seed and state.benchmark_commitment:
        drawn = next((at for (kind, _), at in times.items() if kind == "benchmark_drawn"), made_at)
        benchmark = BenchmarkDraw(
            parameters=tuple((p.label, state.benchmark_values[p.name]) for p in state.benchmark),
            commitment_sha256=state.benchmark_commitment,
            seed=state.benchmark_seed,
            drawn_at=drawn,
        )
    objections = tuple(
        Objection(
            raised_by=state.bidders[o.bidder],
            raised_at=times.get(("objection_raised", f"#{o.number}"), made_at),
            content=o.text,
            answer=o.answer or "未答复",
            answered_at=times.get(("objection_answered", f"#{o.number}")),
        )
        for o in state.objections
    )
    return OpeningSheet(
        project_name=context.project_name,
        project_code=context.project_code,
        lot_name=context.lot_name,
        lot_code=context.lot_code,
        tenderer=context.tenderer,
        agency=context.agency,
        deadline=state.deadline,
        opened_at=state.deadline,
        place=context.place,
        host=context.host,
        witness=context.witness,
        bids=tuple(
            _bid(state, order, bidder, times) for order, bidder in enumerate(state.submitted, 1)
        ),
        valid_bids=len(state.valid),
        made_at=made_at,
        failure_reason=state.failed,
        supervisors=context.supervisors,
        extra_fields=extra_fields,
        benchmark=benchmark,
        objections=objections,
    )
