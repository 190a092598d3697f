"""What a session's end gives the platform: expert fee records (5.5.6), and a project's results
once every one of its lots has ended (5.5.7).

Both are events of the log (``expert_fee_recorded`` per expert, ``project_results_ready`` per
project), written when a session ends, so that they reach subscribers in order with the rest
(``signaling.services.webhooks``) and stay in the record.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from roomserver.fees import FeeRecord, FeeRule, fee_records
from roomserver.model import SessionState
from roomserver.store import SqlStore
from roomserver.workflow import WorkflowState
from signaling.services.events import EventLog
from signaling.services.signals import Signals

logger = logging.getLogger(__name__)


class Outcomes:
    """Fee records and project results, as sessions end."""

    def __init__(
        self,
        *,
        store: SqlStore,
        events: EventLog,
        workflow_state: Callable[[str], Awaitable[WorkflowState]],
        rule: FeeRule,
        signals: Signals,
    ) -> None:
        self._store = store
        self._events = events
        self._workflow_state = workflow_state
        self._rule = rule
        signals.session_ended.connect(self.session_ended)

    async def fees(self, session_id: str) -> list[FeeRecord]:
        """The fee records of an ended session (empty while it runs)."""
        ended = await self._store.ended_at(session_id)
        if ended is None:
            return []
        people = await self._store.list_participants(session_id)
        events = await self._store.list_events(session_id=session_id)
        return fee_records(self._rule, people, events, ended)

    async def session_ended(self, session_id: str) -> None:
        """Record the fees; publish the project's results if this was its last lot. A failure
        here does not undo the end: it is logged, and the fees can be read again."""
        try:
            await self._record(session_id)
        except Exception:
            logger.exception(
                "session %s ended, but its fees or results were not recorded", session_id
            )

    async def _record(self, session_id: str) -> None:
        for record in await self.fees(session_id):
            await self._events.append(
                "expert_fee_recorded", record.as_json(), session_id=session_id
            )
        lot = await self._store.projects.lot_of_session(session_id)
        if lot is None:
            return
        project = await self._store.projects.project(lot.project_id)
        lots = await self._store.projects.lots(project.id)
        results: list[dict[str, Any]] = []
        for each in lots:
            if each.session_id is None:
                return
            session = await self._store.get_session(each.session_id)
            if session.state != SessionState.ENDED:
                return
            state = await self._workflow_state(session.id)
            ended = await self._store.ended_at(session.id)
            results.append(
                {
                    "lot": each.id,
                    "code": each.code,
                    "name": each.name,
                    "session": session.id,
                    "ended_at": ended.isoformat() if ended else None,
                    "leader": state.leader,
                    "report_sha256": state.report_sha256,
                    "report_sm3": state.report_sm3,
                    "signed": sorted(state.signed),
                    "forced_end": state.forced_end,
                }
            )
        await self._events.append(
            "project_results_ready",
            {"project": project.id, "code": project.code, "name": project.name, "lots": results},
        )
