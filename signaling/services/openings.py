"""Each lot's bid opening (开标), kept in its session's event log.

Every accepted command is one ``opening`` event (the command, with the server's clock, and what
it did) in the opening session's log, and so in its archive; the state is those commands
applied again in seq order (``roomserver.opening``), from the store after a restart. Commands of
one opening are applied one at a time. A refused command is logged as ``request_refused`` and
changes nothing.

What the server adds rather than taking it from a page:
- ``sign_in``: the representative's face picture, kept as a document of the archive, and its
  SHA-256; the ID number is kept to its last four characters;
- ``submit_bid``: the sealed blob, kept as a document (``.sealed``), and its digests
  (``roomserver.sealing.record_submission``); the server can read nothing of it;
- ``release_key``: the SHA-256 of the key received. The key is then used at once to open the
  seal (in a thread); the result is always recorded as ``seal_opened`` (ok, with the bid's
  fields and its file, archived as a document; or refused, with the reason), since decryption
  cannot close while a result is missing. The key itself is archived beside the blob, so that
  an auditor can open the seal again;
- ``raise_objection``: its attachment (a picture or a PDF), kept as a document;
- ``open_decryption`` and ``draw_benchmark``: the commitment to, and then the seed of, the draw of
  the benchmark-price parameters; the seed is kept in ``secrets/openings/`` until it is revealed;
- ``deadline_passed`` at the deadline and ``close_decryption`` at the time limit are the
  server's own commands (role None); a timer per opening issues them.

The opening's events go into its archive through its hall's room (``services.halls``): the
room, with its archive part on a media worker, is opened when the opening is taken up (at
server start for every opening that has not ended, or with its first bidder) and closed, its
part sealed as ended, when the opening ends (the session ends with it). A room that could not
be opened is tried again at the next command; the events wait in the store meanwhile and the
part catches up with them when it opens.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recorder.documents import DOCUMENTS_DIR, OPENING_SUFFIXES, store_document
from recorder.hashing import sha256_hex, sm3_hex
from recorder.openingsheet import SheetContext, SheetFonts, render, sheet_of
from roomserver import benchmark
from roomserver.errors import InvalidRequest, NotFound, RoomError, SessionEnded
from roomserver.model import Role, SessionKind, SessionState, id_last4
from roomserver.opening import Phase, apply
from roomserver.openings import Opening
from roomserver.openingstate import SERVER, Command, Happened, OpeningState
from roomserver.openingview import ANSWERING, INSIDERS, SPEAKERS
from roomserver.privatefiles import read_secret, write_secret
from roomserver.sealing import SealLimits, SealRecord, key_sha256_of, open_seal, record_submission
from roomserver.store import SqlStore
from signaling.gate.tokens import Grants
from signaling.services.archiving import ArchiveManager
from signaling.services.events import EventLog
from signaling.services.halls import HallRooms
from signaling.services.signals import Signals
from signaling.tasks import TaskSet
from signaling.wire import ConnectionLost, WireError

logger = logging.getLogger(__name__)

EVENT_KIND = "opening"
# Commands a bidder gives for itself: the service names the bidder when the page does not.
OWN_COMMANDS = frozenset(
    {"sign_in", "submit_bid", "release_key", "report_failure", "confirm_row", "raise_objection"}
)
# How long stopping the server waits for a clock in the middle of a command.
CLOCK_STOP_WAIT_S = 30.0
# How long the timer waits at most before looking again (a clock that jumps, a lost wake-up).
TIMER_MAX_WAIT_S = 30.0
# A bid file's type → the suffix it is kept under (anything else: .bin).
BIDS_BY_TYPE = {t: s for s, t in OPENING_SUFFIXES.items() if s not in ("sealed", "key", "bin")}
Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


def _cited(data: bytes, suffix: str, sha256: str, sm3: str) -> dict[str, Any]:
    """How an event cites a document it keeps (``recorder.documents.store_document``)."""
    return {
        "path": f"{DOCUMENTS_DIR}/{sha256}.{suffix}",
        "size": len(data),
        "sha256": sha256,
        "sm3": sm3,
    }


async def _citation(data: bytes, suffix: str) -> dict[str, Any]:
    sha256, sm3 = await asyncio.to_thread(lambda: (sha256_hex(data), sm3_hex(data)))
    return _cited(data, suffix, sha256, sm3)


@dataclass
class _Entry:
    opening: Opening
    state: OpeningState
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    timer: asyncio.Task[None] | None = None


class OpeningService:
    """Bid openings: commands, the sealed bids, their decryption, and the opening's clock."""

    def __init__(
        self,
        store: SqlStore,
        events: EventLog,
        signals: Signals,
        *,
        archives: ArchiveManager,
        halls: HallRooms,
        secrets_dir: Path,
        tasks: TaskSet,
        limits: SealLimits | None = None,
        fonts: SheetFonts | None = None,
        clock: Clock = _now,
        leading: Callable[[], bool] = lambda: True,
    ) -> None:
        self._store = store
        # In a cluster the openings run on the node that leads it (signaling.services.cluster):
        # elsewhere an opening is read, never run (no clock, no hall).
        self._leading = leading
        self._events = events
        self._signals = signals
        self._archives = archives
        self._halls = halls
        self._seeds = secrets_dir / "openings"
        self._tasks = tasks
        self.limits = limits or SealLimits()
        self._fonts = fonts or SheetFonts()
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._closing = False

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Take up every opening that has not ended and has bidders: its clock runs again. One
        still without bidders (set up, its list to come) is taken up with its first bidder."""
        self._closing = False
        for session in await self._store.list_sessions():
            if session.kind != SessionKind.OPENING or session.state == SessionState.ENDED:
                continue
            people = await self._store.list_participants(session.id)
            if any(p.role == Role.BIDDER for p in people):
                await self._entry(session.id)

    async def stop(self) -> None:
        """Stop the clocks (the halls' rooms are closed after them: ``HallRooms.close_all``);
        safe to call twice.

        A clock is woken and let finish rather than cancelled: it may be in the middle of a
        command that ends the opening and seals its part, which must not be cut off halfway.
        """
        self._closing = True
        for entry in list(self._entries.values()):
            entry.wake.set()
            if entry.timer is not None:
                try:
                    await asyncio.wait_for(asyncio.shield(entry.timer), CLOCK_STOP_WAIT_S)
                except TimeoutError:
                    logger.error("opening clock did not stop in time; cancelled")
                    entry.timer.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await entry.timer
        self._entries.clear()

    # -- reading --------------------------------------------------------------------------------

    async def state(self, session_id: str) -> OpeningState:
        """The opening's state (rebuilt from its log the first time)."""
        return (await self._entry(session_id)).state

    async def opening(self, session_id: str) -> Opening:
        """The opening's terms."""
        return (await self._entry(session_id)).opening

    async def bidders_changed(self, session_id: str) -> None:
        """A bidder was added: the state is built again with the new list (with the first
        bidder, the opening is taken up and its clock runs)."""
        entry = self._entries.get(session_id)
        if entry is None:
            await self._entry(session_id)
            return
        async with entry.lock:
            entry.state = await self._rebuild(entry.opening)
        self._signals.opening_changed(session_id, entry.state, None)

    # -- commands -------------------------------------------------------------------------------

    async def command(
        self, session_id: str, grants: Grants, kind: str, fields: Mapping[str, Any]
    ) -> tuple[OpeningState, Happened]:
        """A command of a page (fields checked by ``signaling.gate.openings``), with what the
        server adds: the draw's commitment and seed, the bidder acting for itself."""
        extra: dict[str, Any] = {}
        if kind == "open_decryption":
            entry = await self._entry(session_id)
            if entry.state.benchmark:
                extra["benchmark_commitment"] = await self._commitment(session_id)
        elif kind == "mute":
            await self._require_speaker(session_id, fields.get("participant"))
        elif kind == "draw_benchmark":
            seed = await asyncio.to_thread(read_secret, self._seed_path(session_id))
            if seed is None:
                raise InvalidRequest("抽取参数的随机种子不在本服务器上，无法抽取")
            extra["seed"] = seed.hex()
        return await self._run(session_id, grants, kind, {**fields, **extra})

    async def _require_speaker(self, session_id: str, participant: object) -> None:
        """Only somebody who may speak in the hall can be muted: its host, a bidder, the
        tenderer or the agency, of this opening."""
        people = {p.id: p for p in await self._store.list_participants(session_id)}
        person = people.get(participant) if isinstance(participant, str) else None
        if person is None or person.role not in SPEAKERS:
            raise InvalidRequest(
                "被禁言的人不是本场开标的发言人（主持人、投标人、招标人或代理机构）"
            )

    async def sign_in(
        self,
        session_id: str,
        grants: Grants,
        *,
        representative: str,
        id_number: str,
        picture: bytes,
    ) -> tuple[OpeningState, Happened]:
        """A bidder's representative signs in with the face picture from their camera."""
        face = await _citation(picture, "jpg")
        fields = {
            "representative": representative,
            "id_last4": id_last4(id_number),
            "face_sha256": face["sha256"],
            "face": face,
        }
        return await self._run(session_id, grants, "sign_in", fields, ((picture, "jpg"),))

    async def submit(
        self, session_id: str, grants: Grants, blob: bytes, plaintext_sha256: str, key_sha256: str
    ) -> tuple[OpeningState, Happened]:
        """A sealed bid, kept as it came; the commitments come with it."""
        record = await asyncio.to_thread(
            record_submission, blob, plaintext_sha256, key_sha256, self.limits
        )
        citation = _cited(blob, "sealed", record.blob_sha256, record.blob_sm3)
        fields = {**record.as_fields(), "blob": citation}
        return await self._run(session_id, grants, "submit_bid", fields, ((blob, "sealed"),))

    async def release_key(
        self, session_id: str, grants: Grants, key: bytes
    ) -> tuple[OpeningState, Happened]:
        """The bidder's key: checked against its commitment, then the seal is opened at once
        and its result recorded (``seal_opened``)."""
        digest = key_sha256_of(key)
        state, happened = await self._run(session_id, grants, "release_key", {"key_sha256": digest})
        bidder = grants.participant_id
        result, documents = await self._open(session_id, state, bidder, key)
        fields = {"bidder": bidder, **result}
        state, _ = await self._run(session_id, None, "seal_opened", fields, documents)
        return state, happened

    async def object(
        self,
        session_id: str,
        grants: Grants,
        text: str,
        attachment: tuple[bytes, str] | None,
    ) -> tuple[OpeningState, Happened]:
        """A bidder's objection, with a picture or a PDF kept as a document."""
        fields: dict[str, Any] = {"text": text}
        documents: tuple[tuple[bytes, str], ...] = ()
        if attachment is not None:
            data, media_type = attachment
            suffix = BIDS_BY_TYPE.get(media_type)
            if suffix not in ("jpg", "png", "pdf"):
                raise InvalidRequest("异议附件应为图片（JPEG、PNG）或 PDF")
            citation = await _citation(data, suffix)
            fields["attachment"] = {"sha256": citation["sha256"], "type": media_type}
            fields["document"] = citation
            documents = ((data, suffix),)
        return await self._run(session_id, grants, "raise_objection", fields, documents)

    async def objection_attachment(
        self, session_id: str, grants: Grants, number: int
    ) -> tuple[bytes, str, str]:
        """The picture or PDF of an objection, its type and suffix: for those who answer and run the
        opening, and for the bidder who raised it (as ``roomserver.openingview`` shows them)."""
        state = (await self._entry(session_id)).state
        found = next((o for o in state.objections if o.number == number), None)
        mine = found is not None and found.bidder == grants.participant_id
        if (
            found is None
            or found.attachment is None
            or not (grants.role in INSIDERS or grants.role in ANSWERING or mine)
        ):
            raise NotFound("没有这份异议附件")
        sha256, media_type = found.attachment["sha256"], found.attachment["type"]
        suffix = BIDS_BY_TYPE[media_type]
        path = self._archives.root / session_id / DOCUMENTS_DIR / f"{sha256}.{suffix}"
        data = await asyncio.to_thread(path.read_bytes)
        if sha256_hex(data) != sha256:
            raise OSError(f"{path} differs from its name")
        return data, media_type, suffix

    async def put_up_record(
        self, session_id: str, grants: Grants, *, again: bool
    ) -> tuple[OpeningState, Happened]:
        """The opening record sheet (开标记录表), made now from the opening's log as a PDF and
        put up for host and witness to sign (the host's command)."""
        entry = await self._entry(session_id)
        if grants.role != Role.HOST:  # the state machine says so too; no PDF made for nothing
            return await self._run(session_id, grants, "put_up_record", {})
        context = await self._sheet_context(entry.opening)
        log = [e.data for e in await self._store.list_events(session_id) if e.kind == EVENT_KIND]
        sheet = sheet_of(entry.state, context, log, self._clock())
        pdf = await asyncio.to_thread(render, sheet, self._fonts)
        citation = await _citation(pdf, "pdf")
        fields = {
            "record_sha256": citation["sha256"],
            "record_sm3": citation["sm3"],
            "document": citation,
        }
        kind = "replace_record" if again else "put_up_record"
        return await self._run(session_id, grants, kind, fields, ((pdf, "pdf"),))

    async def record_pdf(self, session_id: str) -> bytes:
        """The record sheet put up last (the one to sign); NotFound before there is one."""
        state = await self.state(session_id)
        if state.record_sha256 is None:
            raise NotFound("开标记录表尚未生成")
        path = self._archives.root / session_id / "documents" / f"{state.record_sha256}.pdf"
        return await asyncio.to_thread(path.read_bytes)

    async def _sheet_context(self, opening: Opening) -> SheetContext:
        store = self._store
        session = await store.get_session(opening.session_id)
        lot = await store.projects.lot(opening.lot_id)
        project = await store.projects.project(lot.project_id)
        venue = await store.get_venue(session.main_venue_id)
        centre = await store.places.centre(venue.centre_id)
        people = await store.list_participants(session.id)

        def named(role: Role) -> list[str]:
            return [p.name for p in people if p.role == role]

        return SheetContext(
            project_name=project.name,
            project_code=project.code,
            lot_name=lot.name,
            lot_code=lot.code,
            tenderer=project.tenderer,
            agency="、".join(named(Role.AGENCY)) or "无",
            place=f"{centre.name} {venue.name}（不见面开标大厅）",
            host="、".join(named(Role.HOST)) or "未指定",
            witness="、".join(named(Role.WITNESS)) or "未指定",
            supervisors=tuple(named(Role.SUPERVISOR)),
        )

    # -- the opening's course -------------------------------------------------------------------

    async def _run(
        self,
        session_id: str,
        grants: Grants | None,
        kind: str,
        fields: Mapping[str, Any],
        documents: Sequence[tuple[bytes, str]] = (),
    ) -> tuple[OpeningState, Happened]:
        """Apply a command; once the opening accepts it, keep its `documents` (the files its
        fields cite) and log it, and only then does it count."""
        entry = await self._entry(session_id)
        actor = grants.participant_id if grants is not None else SERVER
        role = grants.role if grants is not None else None
        given = dict(fields)
        if role == Role.BIDDER and kind in OWN_COMMANDS:
            given.setdefault("bidder", actor)
        try:
            async with entry.lock:
                if self._closing:
                    raise SessionEnded("服务器正在停止，请稍后再试")
                command = Command(kind, actor, role, self._clock(), given)
                state, happened = apply(entry.state, command)
                await self._live(session_id, entry)
                for data, suffix in documents:
                    await self._document(session_id, data, suffix)
                await self._events.append(
                    EVENT_KIND,
                    {
                        "command": kind,
                        "role": str(role) if role is not None else None,
                        "at": command.at.isoformat(),
                        "fields": given,
                        "happened": happened.kind,
                        "details": happened.data,
                    },
                    session_id=session_id,
                    actor=actor,
                )
                entry.state = state
        except RoomError as err:
            if grants is not None:
                await self._events.append(
                    "request_refused",
                    {"event": f"opening:{kind[:40]}", "code": err.code, "reason": err.message},
                    session_id=session_id,
                    actor=actor,
                )
            raise
        entry.wake.set()
        self._signals.opening_changed(session_id, state, happened)
        if state.phase == Phase.ENDED:
            await self._ended(session_id, entry, actor)
        return state, happened

    async def _server(
        self, session_id: str, kind: str, fields: Mapping[str, Any]
    ) -> tuple[OpeningState, Happened]:
        return await self._run(session_id, None, kind, fields)

    async def _open(
        self, session_id: str, state: OpeningState, bidder: str, key: bytes
    ) -> tuple[dict[str, Any], tuple[tuple[bytes, str], ...]]:
        """Open a released seal: the fields of ``seal_opened`` and the documents they cite
        (never an exception: a result is always recorded)."""
        bid = state.bid(bidder)
        try:
            assert bid.submission is not None
            record: SealRecord = bid.submission.record
            blob = await asyncio.to_thread(self._read_blob, session_id, record.blob_sha256)
            opened = await asyncio.to_thread(
                open_seal,
                blob,
                key,
                record,
                lot=state.lot_id,
                bidder=bidder,
                specs=state.fields,
                limits=self.limits,
            )
            suffix = BIDS_BY_TYPE.get(opened.media_type, "bin")  # kept as it came, whatever it is
            plaintext = await _citation(opened.data, suffix)
            kept = await _citation(key, "key")
            documents = ((opened.data, suffix), (key, "key"))
            return {**opened.as_fields(), "document": plaintext, "key": kept}, documents
        except RoomError as err:
            return {"ok": False, "code": err.code, "reason": err.message}, ()
        except Exception:
            logger.exception("opening %s: the seal of %s could not be opened", session_id, bidder)
            failed = {"ok": False, "code": "internal", "reason": "服务器打开密封投标文件时出错"}
            return failed, ()

    def _read_blob(self, session_id: str, sha256: str) -> bytes:
        path = self._archives.root / session_id / "documents" / f"{sha256}.sealed"
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise OSError(f"{path} differs from its name")
        return data

    async def _document(self, session_id: str, data: bytes, suffix: str) -> dict[str, Any]:
        return await asyncio.to_thread(
            store_document, self._archives.root / session_id, data, suffix, OPENING_SUFFIXES
        )

    # -- the benchmark draw's seed --------------------------------------------------------------

    def _seed_path(self, session_id: str) -> Path:
        return self._seeds / f"{session_id}.seed"

    async def _commitment(self, session_id: str) -> str:
        """The commitment to the draw's seed, made once and kept until the draw."""
        path = self._seed_path(session_id)
        seed = await asyncio.to_thread(read_secret, path)
        if seed is None:
            self._seeds.mkdir(mode=0o700, parents=True, exist_ok=True)
            await asyncio.to_thread(write_secret, path, secrets.token_bytes(32))
            seed = await asyncio.to_thread(read_secret, path)
            assert seed is not None
        return benchmark.commitment(seed)

    # -- state, archive, clock ------------------------------------------------------------------

    async def _entry(self, session_id: str) -> _Entry:
        entry = self._entries.get(session_id)
        if entry is not None:
            return entry
        session = await self._store.get_session(session_id)
        if session.kind != SessionKind.OPENING:
            raise NotFound("该场次不是开标")
        opening = await self._store.projects.opening(session_id)
        state = await self._rebuild(opening)
        if not self._leading():
            return _Entry(opening, state)  # read as it stands; the leader runs it
        entry = self._entries.setdefault(session_id, _Entry(opening, state))
        if entry.timer is None and state.phase != Phase.ENDED and not self._closing:
            entry.timer = self._tasks.spawn(
                self._clock_of(session_id, entry), name=f"opening-clock-{session_id}"
            )
            await self._hall(session_id, entry)
        return entry

    async def _hall(self, session_id: str, entry: _Entry) -> None:
        """Open the hall's room (its screen, broadcast and archive part) if it is not open; a
        room that cannot be opened now is tried again at the next command."""
        if self._halls.find(session_id) is not None or entry.state.phase == Phase.ENDED:
            return
        try:
            await self._halls.open(session_id, entry.state)
        except (WireError, ConnectionLost, TimeoutError, RoomError) as exc:
            logger.warning("opening %s: hall not opened yet: %s", session_id, exc)

    async def _live(self, session_id: str, entry: _Entry) -> None:
        """The opening is under way: it is live, and its hall's room runs (its part records
        the events)."""
        session = await self._store.get_session(session_id)
        if session.state == SessionState.ENDED:
            return
        if session.state == SessionState.SCHEDULED:
            await self._store.set_session_state(session_id, SessionState.LIVE)
        await self._hall(session_id, entry)

    async def _rebuild(self, opening: Opening) -> OpeningState:
        people = await self._store.list_participants(opening.session_id)
        logged = await self._store.list_events(opening.session_id)
        # The bidders in the order they were added (the read-out's order).
        added = [str(e.data.get("bidder")) for e in logged if e.kind == "bidder_added"]
        names = {p.id: p.name for p in people if p.role == Role.BIDDER}
        order = [b for b in added if b in names] + sorted(set(names) - set(added))
        if not order:
            raise InvalidRequest("开标场次还没有投标人名单")
        state = opening.initial_state({b: names[b] for b in order})
        for event in logged:
            if event.kind != EVENT_KIND:
                continue
            data = event.data
            role = data.get("role")
            command = Command(
                str(data["command"]),
                event.actor or SERVER,
                Role(role) if role else None,
                datetime.fromisoformat(str(data["at"])),
                dict(data.get("fields") or {}),
            )
            try:
                state, _ = apply(state, command)
            except RoomError as err:  # a logged command is never refused; say so if it is
                logger.error(
                    "opening %s: event %d refused on replay: %s", opening.session_id, event.seq, err
                )
        return state

    async def _clock_of(self, session_id: str, entry: _Entry) -> None:
        """Issue the deadline and the decryption time limit as the server, when they come."""
        while not self._closing:
            entry.wake.clear()
            state = entry.state
            due: datetime | None = None
            kind = ""
            if state.phase in (Phase.SCHEDULED, Phase.SUBMISSION):
                due, kind = state.deadline, "deadline_passed"
            elif state.phase == Phase.DECRYPTION and state.decryption_until is not None:
                due, kind = state.decryption_until, "close_decryption"
            elif state.phase == Phase.ENDED:
                return
            if due is not None and self._clock() >= due:
                try:
                    await self._server(session_id, kind, {})
                    continue
                except RoomError as err:
                    # Decryption waits for a result or a handling: look again when it changes.
                    logger.info("opening %s: %s not yet: %s", session_id, kind, err.message)
                    due = None
            wait = TIMER_MAX_WAIT_S
            if due is not None:
                wait = min(wait, max((due - self._clock()).total_seconds(), 0.0))
            if self._closing:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(entry.wake.wait(), wait)

    async def _ended(self, session_id: str, entry: _Entry, actor: str) -> None:
        """The opening ended (signed, failed or forced): the session ends and its archive is
        sealed as ended."""
        session = await self._store.get_session(session_id)
        if session.state == SessionState.ENDED:
            return
        await self._store.set_session_state(session_id, SessionState.ENDED)
        await self._events.append(
            "session_ended", {"by": actor}, session_id=session_id, actor=actor
        )
        await self._halls.close(session_id, "ended")
        if asyncio.current_task() is not entry.timer:
            entry.wake.set()  # the clock sees the end and stops
