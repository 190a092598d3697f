"""Clarification (澄清) during the evaluation (standard 3.2, remote Q&A): the committee puts a
written question to a bidder through the host, and the bidder answers in the opening hall.

The committee never speaks to a bidder itself: the host of the main venue puts the question
(7.2.3-3: nobody relays speech between experts and outsiders; what goes out is in writing and
in the record), so the bidder learns nothing of who asked; experts stay anonymous to bidders.
A question goes to a bidder whose bid was valid at the opening, while the committee evaluates
(the evaluation phase). Each bidder answers its own questions, once. Everything is in both
records: the evaluation's and the opening's.

Pure: ``ask`` and ``answer`` return the new state and the item, or raise a RoomError; the state
given is never changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from roomserver.errors import IllegalCommand, RoleNotAllowed
from roomserver.model import Role

MAX_QUESTION = 500
MAX_ANSWER = 2000


@dataclass(frozen=True)
class Clarification:
    """One question to a bidder and its answer."""

    number: int
    bidder: str
    question: str
    asked_at: datetime
    answer: str | None = None
    answered_at: datetime | None = None

    def as_json(self, names: Mapping[str, str]) -> dict[str, object]:
        """As the pages show it (the bidder by name; nothing of who asked)."""
        return {
            "number": self.number,
            "bidder": self.bidder,
            "name": names.get(self.bidder, ""),
            "question": self.question,
            "asked_at": self.asked_at.isoformat(),
            "answer": self.answer,
            "answered_at": self.answered_at.isoformat() if self.answered_at else None,
        }


@dataclass(frozen=True)
class Clarifications:
    """The questions of one evaluation so far, and the bidders who may be asked."""

    bidders: Mapping[str, str]  # the opening's valid bidders: id → name
    items: tuple[Clarification, ...] = ()

    def of(self, bidder: str) -> tuple[Clarification, ...]:
        """The questions put to `bidder`."""
        return tuple(c for c in self.items if c.bidder == bidder)


def _text(value: object, what: str, longest: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise IllegalCommand(f"请填写{what}")
    if len(value.strip()) > longest:
        raise IllegalCommand(f"{what}不能超过 {longest} 字")
    return value.strip()


def ask(
    state: Clarifications,
    *,
    role: Role,
    main_host: bool,
    evaluating: bool,
    bidder: str,
    question: object,
    at: datetime,
) -> tuple[Clarifications, Clarification]:
    """The host of the main venue puts the committee's question to a valid bidder."""
    if role != Role.HOST or not main_host:
        raise RoleNotAllowed("澄清问题由主场主持人代评标委员会发出")
    if not evaluating:
        raise IllegalCommand("只有在评审阶段才能要求投标人澄清")
    if bidder not in state.bidders:
        raise IllegalCommand("只能向开标时投标有效的投标人提出澄清")
    item = Clarification(
        len(state.items) + 1, bidder, _text(question, "澄清问题", MAX_QUESTION), at
    )
    return replace(state, items=(*state.items, item)), item


def answer(
    state: Clarifications,
    *,
    role: Role,
    actor: str,
    number: int,
    text: object,
    at: datetime,
) -> tuple[Clarifications, Clarification]:
    """The bidder answers a question put to it, once."""
    item = next((c for c in state.items if c.number == number), None)
    if item is None:
        raise IllegalCommand("没有该澄清问题")
    if role != Role.BIDDER or actor != item.bidder:
        raise RoleNotAllowed("只有被要求澄清的投标人可以答复")
    if item.answer is not None:
        raise IllegalCommand("该澄清问题已答复")
    answered = replace(item, answer=_text(text, "澄清答复", MAX_ANSWER), answered_at=at)
    items = tuple(answered if c.number == number else c for c in state.items)
    return replace(state, items=items), answered
