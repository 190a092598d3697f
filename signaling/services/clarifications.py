"""Clarifications (澄清) between a lot's evaluation and its bidders, and the opening's record
handed over to the evaluation (standard 3.2, 7.2.3).

A lot's evaluation session and its bid opening are found through the lot (a re-review's through
the session it re-convenes). Each question and answer is a ``clarification`` event in both
logs: the evaluation's, whose archive holds the exchange, and the opening's, where the bidder's
hall finds it (the opening's archive was sealed when the opening ended, so there it stays in the
server's log). The state is rebuilt from the evaluation's log (``roomserver.clarifications``).
The bidder is told of a question in the hall (``Signals.clarification_changed``).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from roomserver.clarifications import Clarification, Clarifications, answer, ask
from roomserver.errors import IllegalCommand, NotFound
from roomserver.model import Role, SessionKind
from roomserver.opening import Phase as OpeningPhase
from roomserver.openingview import opening_view
from roomserver.store import SqlStore
from roomserver.workflow import Phase
from signaling.gate.tokens import Grants
from signaling.services.events import EventLog
from signaling.services.openings import OpeningService
from signaling.services.signals import Signals
from signaling.services.workflow import WorkflowService

EVENT_KIND = "clarification"


class ClarificationService:
    """Questions of a lot's committee to its bidders, and the opening's record it works from."""

    def __init__(
        self,
        store: SqlStore,
        events: EventLog,
        signals: Signals,
        *,
        workflow: WorkflowService,
        openings: OpeningService,
    ) -> None:
        self._store = store
        self._events = events
        self._signals = signals
        self._workflow = workflow
        self._openings = openings
        self._locks: dict[str, asyncio.Lock] = {}

    # -- the lot's two sessions -----------------------------------------------------------------

    async def _evaluation_root(self, session_id: str) -> str:
        session = await self._store.get_session(session_id)
        if session.kind != SessionKind.EVALUATION:
            raise NotFound("该场次不是评标")
        while session.review_of is not None:  # a re-review works from the same opening
            session = await self._store.get_session(session.review_of)
        return session.id

    async def opening_of(self, evaluation_id: str) -> str:
        """The bid opening of the evaluation's lot; NotFound when it has none here."""
        root = await self._evaluation_root(evaluation_id)
        lot = await self._store.projects.lot_of_session(root)
        opening = await self._store.projects.opening_of_lot(lot.id) if lot else None
        if opening is None:
            raise NotFound("该评标场次没有在本平台开标")
        return opening.session_id

    async def evaluation_of(self, opening_id: str) -> str:
        """The evaluation session of the opening's lot; NotFound while there is none."""
        opening = await self._store.projects.opening(opening_id)
        lot = await self._store.projects.lot(opening.lot_id)
        if lot.session_id is None:
            raise NotFound("该标段尚无评标场次")
        return lot.session_id

    # -- state ----------------------------------------------------------------------------------

    async def state(self, evaluation_id: str) -> Clarifications:
        """The evaluation's questions so far, and the bidders it may ask."""
        opening = await self._openings.state(await self.opening_of(evaluation_id))
        bidders = {b: opening.bidders[b] for b in opening.valid}
        items: dict[int, Clarification] = {}
        for event in await self._store.list_events(evaluation_id):
            if event.kind != EVENT_KIND:
                continue
            data = event.data
            number = int(data["number"])
            at = datetime.fromisoformat(str(data["at"]))
            if data["happened"] == "clarification_asked":
                items[number] = Clarification(
                    number, str(data["bidder"]), str(data["question"]), at
                )
            elif number in items:
                item = items[number]
                items[number] = Clarification(
                    number, item.bidder, item.question, item.asked_at, str(data["answer"]), at
                )
        return Clarifications(bidders, tuple(items[n] for n in sorted(items)))

    async def listing(self, evaluation_id: str) -> list[dict[str, Any]]:
        """Every question of the evaluation with its answer."""
        state = await self.state(evaluation_id)
        return [c.as_json(state.bidders) for c in state.items]

    async def for_bidder(self, opening_id: str, grants: Grants) -> list[dict[str, Any]]:
        """The questions put to the asking bidder (none before there is an evaluation)."""
        try:
            evaluation = await self.evaluation_of(opening_id)
        except NotFound:
            return []
        state = await self.state(evaluation)
        return [c.as_json(state.bidders) for c in state.of(grants.participant_id)]

    async def handed_over(self, evaluation_id: str) -> dict[str, Any]:
        """The opening's record as the committee works from it once the opening ended: the
        bidders and their bids' status, the read-out, objections and answers, the benchmark
        draw, the record sheet; nothing of the representatives' identities."""
        opening_id = await self.opening_of(evaluation_id)
        state = await self._openings.state(opening_id)
        if state.phase != OpeningPhase.ENDED:
            raise IllegalCommand("开标尚未结束，开标记录还不能交评标委员会使用")
        return {"opening_session": opening_id, **opening_view(state, Role.TENDERER, None)}

    # -- commands -------------------------------------------------------------------------------

    async def ask(
        self, evaluation_id: str, grants: Grants, bidder: str, question: str
    ) -> dict[str, Any]:
        """The host of the main venue puts the committee's question to a bidder."""
        session = await self._store.get_session(evaluation_id)
        opening_id = await self.opening_of(evaluation_id)
        async with self._lock(evaluation_id):
            state = await self.state(evaluation_id)
            workflow = await self._workflow.state(evaluation_id)
            _, item = ask(
                state,
                role=grants.role,
                main_host=grants.venue_id == session.main_venue_id,
                evaluating=workflow.phase == Phase.EVALUATION,
                bidder=bidder,
                question=question,
                at=datetime.now(UTC),
            )
            data = {
                "happened": "clarification_asked",
                "number": item.number,
                "bidder": item.bidder,
                "name": state.bidders[item.bidder],
                "question": item.question,
                "at": item.asked_at.isoformat(),
            }
            await self._log(evaluation_id, opening_id, data, grants.participant_id)
        self._signals.clarification_changed(opening_id, item.bidder)
        return item.as_json(state.bidders)

    async def answer(
        self, opening_id: str, grants: Grants, number: int, text: str
    ) -> dict[str, Any]:
        """The bidder answers a question put to it."""
        evaluation_id = await self.evaluation_of(opening_id)
        async with self._lock(evaluation_id):
            state = await self.state(evaluation_id)
            _, item = answer(
                state,
                role=grants.role,
                actor=grants.participant_id,
                number=number,
                text=text,
                at=datetime.now(UTC),
            )
            assert item.answered_at is not None
            data = {
                "happened": "clarification_answered",
                "number": item.number,
                "bidder": item.bidder,
                "name": state.bidders[item.bidder],
                "answer": item.answer,
                "at": item.answered_at.isoformat(),
            }
            await self._log(evaluation_id, opening_id, data, grants.participant_id)
        self._signals.clarification_changed(opening_id, item.bidder)
        return item.as_json(state.bidders)

    async def _log(
        self, evaluation_id: str, opening_id: str, data: dict[str, Any], actor: str
    ) -> None:
        await self._events.append(EVENT_KIND, data, session_id=evaluation_id, actor=actor)
        await self._events.append(EVENT_KIND, data, session_id=opening_id, actor=actor)

    def _lock(self, evaluation_id: str) -> asyncio.Lock:
        return self._locks.setdefault(evaluation_id, asyncio.Lock())
