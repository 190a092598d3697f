"""The committee's workflow of each session, kept in its event log.

Every accepted command is one ``workflow`` event (the command and what it did) in the session's
log, and so in its archive; a session's workflow state is those commands applied again in seq
order (``roomserver.workflow``), from the store after a restart. Commands of one session are
applied one at a time: a command is checked against the state, written, and only then counts.
A refused command is logged as ``request_refused`` and changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from roomserver.errors import NotYourRoom, RoomError
from roomserver.model import Role
from roomserver.store import SqlStore
from roomserver.workflow import Command, Happened, Phase, WorkflowState, apply
from signaling.events import EventLog
from signaling.tokens import Grants

EVENT_KIND = "workflow"


@dataclass
class _Session:
    state: WorkflowState
    lock: asyncio.Lock


def state_json(state: WorkflowState) -> dict[str, Any]:
    """What the consoles and seat pages are told of the workflow."""
    return {
        "phase": str(state.phase),
        "paused": state.paused,
        "pause_reason": state.pause_reason,
        "experts": len(state.seated),
        "checked_in": sorted(state.checked_in),
        "withdrawn": sorted(state.withdrawn),
        "leader": state.leader,
        "report_sha256": state.report_sha256,
        "signed": sorted(state.signed),
    }


class WorkflowService:
    """Applies workflow commands to sessions and keeps their state."""

    def __init__(
        self,
        store: SqlStore,
        events: EventLog,
        on_end: Callable[[str, str], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._events = events
        self._sessions: dict[str, _Session] = {}
        # The end instruction also ends the session (seats sent away, archive sealed).
        self.on_end = on_end

    async def state(self, session_id: str) -> WorkflowState:
        """The session's workflow state (rebuilt from its log the first time)."""
        return (await self._session(session_id)).state

    async def command(
        self, session_id: str, grants: Grants, kind: str, fields: dict[str, Any]
    ) -> tuple[WorkflowState, Happened]:
        """Apply one command of the bearer of `grants`; a RoomError (logged) if refused."""
        try:
            if grants.session_id != session_id:
                raise NotYourRoom("该凭证不属于本场评标")
            entry = await self._session(session_id)
            command = Command(
                kind=kind, actor=grants.participant_id, role=grants.role, fields=fields
            )
            async with entry.lock:
                state, happened = apply(entry.state, command)
                await self._events.append(
                    EVENT_KIND,
                    {
                        "command": {"kind": kind, "role": str(grants.role), "fields": fields},
                        "happened": happened.kind,
                        "details": happened.data,
                        "phase": str(state.phase),
                    },
                    session_id=session_id,
                    actor=grants.participant_id,
                )
                entry.state = state
        except RoomError as err:
            await self._events.append(
                "request_refused",
                {"event": f"workflow:{kind}", "code": err.code, "reason": err.message},
                session_id=session_id if grants.session_id == session_id else None,
                actor=grants.participant_id,
            )
            raise
        if state.phase == Phase.ENDED and self.on_end is not None:
            await self.on_end(session_id, grants.participant_id)
        return state, happened

    async def _session(self, session_id: str) -> _Session:
        entry = self._sessions.get(session_id)
        if entry is None:
            entry = _Session(await self._rebuild(session_id), asyncio.Lock())
            entry = self._sessions.setdefault(session_id, entry)
        return entry

    async def _rebuild(self, session_id: str) -> WorkflowState:
        """The accepted commands of the session, applied again in order."""
        participants = await self._store.list_participants(session_id)
        experts = frozenset(p.id for p in participants if p.role == Role.EXPERT)
        state = WorkflowState(experts=experts)
        for event in await self._store.list_events(session_id):
            if event.kind != EVENT_KIND or event.actor is None:
                continue
            recorded = event.data.get("command") or {}
            command = Command(
                kind=str(recorded.get("kind")),
                actor=event.actor,
                role=Role(recorded.get("role")),
                fields=dict(recorded.get("fields") or {}),
            )
            state, _ = apply(state, command)
        return state
