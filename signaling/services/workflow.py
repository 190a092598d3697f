"""The committee's workflow of each session, kept in its event log.

Every accepted command is one ``workflow`` event (the command and what it did) in the session's
log, and so in its archive; a session's workflow state is those commands applied again in seq
order (``roomserver.workflow``), from the store after a restart. Commands of one session are
applied one at a time: a command is checked against the state, its documents are written, it is
logged, and only then does it count. A refused command is logged as ``request_refused`` and
changes nothing.

What the server adds to a command rather than taking it from the client:
- ``check_in``: the identity snapshot taken from the expert's seat camera (``identity_snapshot``);
- ``start_signing`` / ``replace_report``: the report's digests and its place in the archive, from
  the uploaded PDF;
- ``sign``: the handwritten signature (a PNG drawn on the seat page), stored as a document and
  cited by its digests;
- ``start_election``: the commitment to a secret seed for a draw by lot (``roomserver.lots``);
  the seed is kept in ``secrets/ballots/`` and revealed only in the event of a draw;
- ``cast_ballot`` (and ``excuse_expert``, which may complete a round): the seed, should the
  round end in a draw; it is never logged with the command;
- ``cast_ballot``: the choice (a candidate, or blank) is sealed under its round's ballot key
  (``signaling.services.ballots``) before it is logged, so the log and the archive say who voted
  but not for whom; the tally is published when the round is complete, and the round's key
  destroyed.

Every command's fields are checked against its model (``signaling.gate.commands``) before anything
else: only fields named there reach the state machine and the log. On replay, each command is
given what its event recorded (``Command.recorded``): a round whose key is gone is counted from
its published tally, and a draw from its revealed seed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag

from recorder.documents import store_document
from recorder.hashing import sha256_hex, sm3_hex
from roomserver import lots
from roomserver.errors import InvalidRequest, NotYourRoom, RoomError
from roomserver.letters import COMMITMENT_SHA256
from roomserver.model import Participant, Role, SessionState, id_last4, new_id
from roomserver.store import SqlStore
from roomserver.workflow import (
    BLANK,
    INCIDENT_KINDS,
    PHASE_LABELS,
    TIE_RULES,
    Command,
    Happened,
    Phase,
    WorkflowState,
    apply,
)
from signaling.gate.commands import model_of, parse_fields, printable
from signaling.gate.tokens import Grants
from signaling.services.ballots import BallotKeys
from signaling.services.events import EventLog
from signaling.services.signals import Signals

logger = logging.getLogger(__name__)

EVENT_KIND = "workflow"
REPORT_KINDS = frozenset({"start_signing", "replace_report"})
# Commands that may complete an election round, and so end it in a draw by lot.
ROUND_CLOSERS = frozenset({"cast_ballot", "excuse_expert"})
# Fields only the server sets; a client's values for them are dropped.
SERVER_FIELDS = ("snapshot", "document", "report_sm3", "handwriting", "sealed", "letter_sha256")
MAX_REPORT_BYTES = 50 * 1024 * 1024
MAX_HANDWRITING_BYTES = 512 * 1024
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class _Document:
    """A file a command brings (the report's PDF, a signature's PNG), kept with the archive."""

    data: bytes
    suffix: str


@dataclass
class _Session:
    state: WorkflowState
    lock: asyncio.Lock
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)  # expert → evidence


def state_json(state: WorkflowState) -> dict[str, Any]:
    """What consoles and seat pages are told of the workflow (never a ballot's choice)."""
    return {
        "phase": str(state.phase),
        "phase_label": PHASE_LABELS[state.phase],
        "paused": state.paused,
        "pause_reason": state.pause_reason,
        "experts": len(state.seated),
        "seated": sorted(state.seated),
        "checked_in": sorted(state.checked_in),
        "committed": sorted(state.committed),
        "withdrawn": sorted(state.withdrawn),
        "excused": sorted(state.excused),
        "replaced_by": dict(state.replaced_by),
        "keys": sorted(state.keys),
        "election": {
            "round": state.election_round,
            "candidates": list(state.candidates),
            "voted": sorted(state.voted),
            "tie_rule": state.tie_rule,
            "tie_rule_label": TIE_RULES.get(state.tie_rule or ""),
            "max_rounds": state.max_rounds if state.tie_rule else None,
            "lot_commitment": state.lot_commitment,
        },
        "leader": state.leader,
        "motions": [
            {
                "number": m.number,
                "title": m.title,
                "options": list(m.options),
                "voted": sorted(m.voters()),
                "closed": m.closed,
                "cancelled": m.cancelled,
                # Open votes (7.2.3-2): the counts are shown once the motion is closed.
                "result": m.counts() if m.closed and not m.cancelled else None,
                "abstained": m.abstained() if m.closed and not m.cancelled else None,
            }
            for m in state.motions
        ],
        "report": (
            {"sha256": state.report_sha256, "sm3": state.report_sm3}
            if state.report_sha256
            else None
        ),
        "signed": sorted(state.signed),
        "forced_end": state.forced_end,
        "incidents": [
            {
                "number": i.number,
                "venue": i.venue,
                "kind": i.kind,
                "kind_label": INCIDENT_KINDS.get(i.kind, i.kind),
                "description": i.description,
                "handling": list(i.handling),
                "result": i.result,
            }
            for i in state.incidents
        ],
    }


def _replacement_fields(
    expert_id: str, replacement: Participant, reason: str | None
) -> dict[str, Any]:
    """The checked fields of ``replace_expert``: who leaves the seat, who takes it, and why."""
    fields: dict[str, Any] = {
        "expert": expert_id,
        "replacement": replacement.id,
        "name": replacement.name,
    }
    if reason:
        fields["reason"] = reason
    return parse_fields("replace_expert", fields)


class WorkflowService:
    """Applies workflow commands to sessions, keeps their state and tells who listens."""

    def __init__(
        self,
        store: SqlStore,
        events: EventLog,
        *,
        archive_dir: Path,
        ballots: BallotKeys,
        signals: Signals | None = None,
        snapshot: Callable[[str, Participant], Awaitable[dict[str, Any] | None]] | None = None,
    ) -> None:
        """`signals`: told of each accepted command (``workflow_happened``) and of the end
        (``workflow_ended``, awaited: the session ends with it); without them the service only
        keeps the log (a restarted server's view, in tests). `snapshot` takes an expert's
        identity picture from their seat camera (evidence in the archive)."""
        self._store = store
        self._events = events
        self._archive_dir = archive_dir
        self._ballots = ballots
        self._sessions: dict[str, _Session] = {}
        self._signals = signals if signals is not None else Signals.silent()
        self._snapshot = snapshot

    def forget(self, session_id: str) -> None:
        """Drop the kept state of a session whose roster changed; it is rebuilt from the log."""
        self._sessions.pop(session_id, None)

    async def state(self, session_id: str) -> WorkflowState:
        """The session's workflow state (rebuilt from its log the first time)."""
        return (await self._session(session_id)).state

    async def identity_snapshot(self, session_id: str, grants: Grants, expert_id: str) -> Any:
        """Take the picture staff compare with the roster before they confirm a check-in."""
        try:
            entry = await self._session(session_id)
            if expert_id not in entry.state.venues:
                raise InvalidRequest("该专家不在本场评标名单中")
            expert = await self._store.get_participant(expert_id)
            if grants.role == Role.STAFF and expert.venue_id != grants.venue_id:
                raise NotYourRoom("工作人员只能核验本评标室的专家")
            evidence = await self._snapshot(session_id, expert) if self._snapshot else None
            if evidence is None:
                raise InvalidRequest("该机位没有摄像头画面，无法拍照；请确认专家已进入机位")
        except RoomError as err:
            await self._refused(session_id, grants, "identity_snapshot", err)
            raise
        entry.snapshots[expert_id] = evidence
        await self._events.append(
            "identity_snapshot",
            {"expert": expert_id, "evidence": evidence},
            session_id=session_id,
            actor=grants.participant_id,
        )
        return evidence

    async def put_up_report(
        self, session_id: str, grants: Grants, pdf: bytes
    ) -> tuple[WorkflowState, Happened]:
        """The leader (or host) uploads the report: signing starts, or the report is replaced."""
        signing = (await self.state(session_id)).phase == Phase.SIGNING
        kind = "replace_report" if signing else "start_signing"
        if not pdf.startswith(b"%PDF-") or len(pdf) > MAX_REPORT_BYTES:
            err = InvalidRequest("评标报告必须是不超过 50 MB 的 PDF 文件")
            await self._refused(session_id, grants, kind, err)
            raise err
        document = _Document(pdf, "pdf")
        fields = {"report_sha256": sha256_hex(pdf), "report_sm3": sm3_hex(pdf)}
        return await self._command(session_id, grants, kind, fields, document=document)

    async def replace_expert(
        self,
        session_id: str,
        grants: Grants,
        expert_id: str,
        *,
        name: str,
        id_number: str | None,
        reason: str | None,
        last4: str | None = None,
    ) -> tuple[WorkflowState, Happened, Participant]:
        """Give the seat of an expert who withdrew or took leave to a newly drawn expert (the
        last four characters of their ID number from `id_number`, or `last4` as the pool has
        them)."""
        try:
            expert = await self._store.get_participant(expert_id)
            if expert.session_id != session_id or expert.role != Role.EXPERT:
                raise InvalidRequest("该专家不在本场评标名单中")
            replacement = Participant(
                id=new_id(),
                session_id=session_id,
                role=Role.EXPERT,
                name=name.strip() if isinstance(name, str) else "",
                venue_id=expert.venue_id,
                seat_no=expert.seat_no,
                id_last4=id_last4(id_number) if id_number else last4,
            )
            fields = _replacement_fields(expert_id, replacement, reason)
        except RoomError as err:
            await self._refused(session_id, grants, "replace_expert", err)
            raise

        async def store() -> None:
            await self._store.replace_expert(expert_id, replacement)

        state, happened = await self._command(
            session_id, grants, "replace_expert", fields, document=None, effect=store
        )
        return state, happened, replacement

    async def check_replacement(
        self, session_id: str, grants: Grants, expert_id: str, reason: str | None
    ) -> None:
        """Refuse at once, as ``replace_expert`` would (and logged so), a replacement the
        workflow does not accept now: nothing is drawn for a seat that cannot be given."""
        try:
            expert = await self._store.get_participant(expert_id)
            if expert.session_id != session_id or expert.role != Role.EXPERT:
                raise InvalidRequest("该专家不在本场评标名单中")
            stand_in = Participant(
                id=new_id(), session_id=session_id, role=Role.EXPERT, name="补抽专家"
            )
            fields = _replacement_fields(expert_id, stand_in, reason)
            command = Command(
                kind="replace_expert",
                actor=grants.participant_id,
                role=grants.role,
                fields=fields,
                venue=grants.venue_id,
            )
            apply((await self._session(session_id)).state, command)
        except RoomError as err:
            await self._refused(session_id, grants, "replace_expert", err)
            raise

    async def command(
        self, session_id: str, grants: Grants, kind: str, fields: dict[str, Any]
    ) -> tuple[WorkflowState, Happened]:
        """Apply one command of the bearer of `grants`; a RoomError (logged) if refused."""
        document: _Document | None = None
        try:
            model = model_of(kind)  # IllegalCommand for an unknown kind
            if kind in REPORT_KINDS:
                raise InvalidRequest("评标报告请以 PDF 文件上传")
            if kind == "replace_expert":
                raise InvalidRequest("替换专家请通过专家名单接口，由系统抽取替补专家")
            sent = {k: v for k, v in fields.items() if k not in SERVER_FIELDS}
            fields = parse_fields(kind, sent)
            if grants.role == Role.EXPERT and "expert" in model.model_fields:
                fields.setdefault("expert", grants.participant_id)  # they act for themselves
            if kind == "sign":
                document = _Document(_handwriting(fields.pop("handwriting_png", None)), "png")
        except RoomError as err:
            await self._refused(session_id, grants, printable(kind), err)
            raise
        return await self._command(session_id, grants, kind, fields, document=document)

    async def _command(
        self,
        session_id: str,
        grants: Grants,
        kind: str,
        fields: dict[str, Any],
        *,
        document: _Document | None,
        effect: Callable[[], Awaitable[None]] | None = None,
    ) -> tuple[WorkflowState, Happened]:
        """Check, store what the command brings, log it, and only then let it count."""
        try:
            await self._store.get_session(session_id)  # NotFound for an unknown session
            entry = await self._session(session_id)
            async with entry.lock:
                if kind == "commit":
                    fields["letter_sha256"] = COMMITMENT_SHA256  # the wording the page showed
                if kind == "check_in":
                    snapshot = entry.snapshots.get(str(fields.get("expert")))
                    if snapshot is not None:
                        fields["snapshot"] = snapshot
                seed = None
                if kind == "start_election":
                    seed = secrets.token_bytes(lots.SEED_BYTES)
                    fields["lot_commitment"] = lots.commitment(seed)
                if kind in ROUND_CLOSERS and entry.state.phase == Phase.ELECTION:
                    kept = await asyncio.to_thread(self._ballots.seed, session_id)
                    if kept is not None:
                        fields["lot_seed"] = kept.hex()
                if document is not None:
                    # Cited before it is written: nothing is stored for a refused command.
                    data = document.data
                    cited = {
                        "path": f"documents/{sha256_hex(data)}.{document.suffix}",
                        "size": len(data),
                        "sha256": sha256_hex(data),
                        "sm3": sm3_hex(data),
                    }
                    fields["handwriting" if kind == "sign" else "document"] = cited
                command = Command(
                    kind=kind,
                    actor=grants.participant_id,
                    role=grants.role,
                    fields=fields,
                    venue=grants.venue_id,
                )
                state, happened = apply(entry.state, command)
                if effect is not None:
                    await effect()  # a RoomError here leaves the state and the log untouched
                if happened.kind == "check_in_opened":
                    # The evaluation begins with check-in: the session is live from here on
                    # (SessionEnded, before anything is logged, if it was ended meanwhile).
                    await self._store.set_session_state(session_id, SessionState.LIVE)
                if seed is not None:
                    await asyncio.to_thread(self._ballots.keep_seed, session_id, seed)
                if document is not None:
                    await asyncio.to_thread(
                        store_document,
                        self._archive_dir / session_id,
                        document.data,
                        document.suffix,
                    )
                logged = dict(fields)
                logged.pop("lot_seed", None)  # revealed by the event of a draw, if there is one
                if kind == "cast_ballot":
                    candidate = logged.pop("candidate", None)
                    choice = BLANK if logged.pop("abstain", False) else str(candidate)
                    logged["sealed"] = await asyncio.to_thread(
                        self._ballots.seal,
                        session_id,
                        entry.state.election_round,
                        grants.participant_id,
                        choice,
                    )
                await self._events.append(
                    EVENT_KIND,
                    {
                        "command": {
                            "kind": kind,
                            "role": str(grants.role),
                            "venue": grants.venue_id,
                            "fields": logged,
                        },
                        "happened": happened.kind,
                        "details": happened.data,
                        "phase": str(state.phase),
                    },
                    session_id=session_id,
                    actor=grants.participant_id,
                )
                electing = Phase.ELECTION in (entry.state.phase, state.phase)
                entry.state = state
                if electing:
                    # A published tally destroys its round's key; a new round gets its own.
                    await asyncio.to_thread(self._ballots.settle, session_id, state)
        except RoomError as err:
            await self._refused(session_id, grants, kind, err)
            raise
        self._signals.workflow_happened(session_id, state, happened)
        if state.phase == Phase.ENDED:
            await self._signals.workflow_ended(session_id, grants.participant_id, state)
        return state, happened

    async def _refused(self, session_id: str, grants: Grants, kind: str, err: RoomError) -> None:
        await self._events.append(
            "request_refused",
            {
                "event": f"workflow:{kind}",
                "code": err.code,
                "reason": err.message,
                "session": session_id,
            },
            session_id=session_id if grants.session_id == session_id else None,
            actor=grants.participant_id,
        )

    async def _session(self, session_id: str) -> _Session:
        entry = self._sessions.get(session_id)
        if entry is None:
            state, snapshots = await self._rebuild(session_id)
            entry = _Session(state, asyncio.Lock(), snapshots)
            entry = self._sessions.setdefault(session_id, entry)
        return entry

    async def _rebuild(self, session_id: str) -> tuple[WorkflowState, dict[str, dict[str, Any]]]:
        """The accepted commands of the session, applied again in order, and the identity
        pictures taken for check-ins still to confirm."""
        session = await self._store.get_session(session_id)
        participants = await self._store.list_participants(session_id)
        logged = await self._store.list_events(session_id)
        snapshots = {
            str(e.data["expert"]): dict(e.data["evidence"])
            for e in logged
            if e.kind == "identity_snapshot" and isinstance(e.data.get("evidence"), dict)
        }
        events = [e for e in logged if e.kind == EVENT_KIND]
        # Experts who came in as replacements join the roster with the command that drew them.
        later = {
            str(e.data.get("details", {}).get("replacement"))
            for e in events
            if e.data.get("happened") == "expert_replaced"
        }
        venues = {
            p.id: str(p.venue_id)
            for p in participants
            if p.role == Role.EXPERT and p.venue_id and p.id not in later
        }
        state = WorkflowState(
            session_id=session_id, main_venue=session.main_venue_id, venues=venues
        )
        for event in events:
            if event.actor is None:
                continue
            recorded = event.data.get("command") or {}
            fields = dict(recorded.get("fields") or {})
            kind = str(recorded.get("kind"))
            if kind == "cast_ballot":
                choice = await self._open_ballot(session_id, state, event.actor, fields)
                if choice == BLANK:
                    fields["abstain"] = True
                elif choice is not None:
                    fields["candidate"] = choice
            role = recorded.get("role")
            if role is None:
                raise RuntimeError(f"session {session_id}: logged command {event.seq} has no role")
            command = Command(
                kind=kind,
                actor=event.actor,
                role=Role(role),
                fields=fields,
                venue=recorded.get("venue"),
                recorded=event.data.get("details") or {},
            )
            state, _ = apply(state, command)
        if any(choice is None for _, choice in state.ballots):
            raise RuntimeError(
                f"session {session_id}: the ballots of the open election round cannot be "
                f"opened: its key ({self._ballots.key_path(session_id, state.election_round)}) "
                "is missing; restore secrets/ from the backup"
            )
        await asyncio.to_thread(self._ballots.settle, session_id, state)
        return state, snapshots

    async def _open_ballot(
        self, session_id: str, state: WorkflowState, voter: str, fields: dict[str, Any]
    ) -> str | None:
        """The choice of a logged ballot, or None if its round's key is gone (the round's
        published tally then stands for it)."""
        try:
            return await asyncio.to_thread(
                self._ballots.open,
                session_id,
                state.election_round,
                voter,
                str(fields.pop("sealed")),
            )
        except (KeyError, ValueError, binascii.Error, InvalidTag) as exc:
            raise RuntimeError(
                f"session {session_id}: a sealed ballot does not open with its round's key "
                "in secrets/ballots/; restore secrets/ from the backup"
            ) from exc


def _handwriting(value: object) -> bytes:
    """The PNG bytes of a handwritten signature sent as base64 (a data: URL prefix allowed)."""
    if not isinstance(value, str) or not value:
        raise InvalidRequest("缺少手写签名")
    if value.startswith("data:"):
        _, _, value = value.partition(",")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest("手写签名不是有效的 base64 图片") from exc
    if not data.startswith(PNG_MAGIC) or len(data) > MAX_HANDWRITING_BYTES:
        raise InvalidRequest("手写签名必须是不超过 512 KB 的 PNG 图片")
    return data


def log_size(fields: dict[str, Any]) -> int:
    """The size of `fields` as JSON, for the request limits."""
    return len(json.dumps(fields, ensure_ascii=False))
