"""What one part of the signaling process tells the others, without holding on to them.

The parts depend on each other both ways: rooms tell the wall and the warnings that they opened,
closed or moved to another worker; the warnings tell the wall; seats tell the warnings, the wall
and the consoles that a roster changed; the workflow tells the seats and the consoles. So that
``signaling.app`` can still build every part once, in dependency order, with everything it needs
given to its constructor, the senders are given the ``Signals`` (built first) and each listener
connects its own handlers in its constructor. ``Signals.freeze`` ends the wiring before the server
serves: a handler connected later is refused, and a signal sent before then is refused too, so
that nothing is told to a part that does not yet exist.

Handlers run in the order they were connected. A synchronous notice is news: a handler that raises
is logged and the others are still told (one part's fault must not keep the news from the rest).
An awaited notice is a step of the sender's work: a handler that raises stops it, and the sender
sees the error, as if it had called the handler itself. ``aiosignal``, aiohttp's own signal
list, awaits coroutine handlers only; most of these notices are synchronous and must stay so (they
run inside the sender's step), hence the two small classes here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Generic, ParamSpec

if TYPE_CHECKING:
    from roomserver.model import Event
    from roomserver.openingstate import OpeningState
    from roomserver.workflow import Happened, WorkflowState
    from signaling.services.pool import WorkerProcess
    from signaling.services.rooms import Room

logger = logging.getLogger(__name__)

P = ParamSpec("P")


class _Handlers(Generic[P]):
    def __init__(self, name: str) -> None:
        self.name = name
        self._handlers: list[Callable[P, Any]] = []
        self._frozen = False

    def connect(self, handler: Callable[P, Any]) -> None:
        """Call `handler` whenever this is sent (only while the server is being built)."""
        if self._frozen:
            raise RuntimeError(f"signal {self.name}: connected after the server was built")
        self._handlers.append(handler)

    def freeze(self) -> None:
        """No more handlers; sending may start."""
        self._frozen = True

    def _ready(self) -> list[Callable[P, Any]]:
        if not self._frozen:
            raise RuntimeError(f"signal {self.name}: sent before the server was built")
        return list(self._handlers)


class Signal(_Handlers[P]):
    """A synchronous notice: every handler runs now, in order, inside the sender's step."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> None:
        for handler in self._ready():
            try:
                handler(*args, **kwargs)
            except Exception:
                logger.exception("a handler of %s failed", self.name)


class AsyncSignal(_Handlers[P]):
    """A notice the sender waits for: each handler is awaited in turn; an error reaches the
    sender."""

    def connect(self, handler: Callable[P, Awaitable[None]]) -> None:
        """Await `handler` whenever this is sent (only while the server is being built)."""
        super().connect(handler)

    async def __call__(self, *args: P.args, **kwargs: P.kwargs) -> None:
        for handler in self._ready():
            await handler(*args, **kwargs)


def _named(name: str, kind: type[_Handlers[Any]]) -> Any:
    return field(default_factory=lambda: kind(name))


@dataclass(frozen=True)
class Signals:
    """Every notice between the parts of the signaling process: who sends it, who listens."""

    # A media worker reported something about one of its rooms (pool → the worker event table).
    worker_event: Signal[[WorkerProcess, str, dict[str, Any]]] = _named("worker_event", Signal)
    # A worker died and was restarted; its rooms are to be placed again (pool → rooms).
    worker_lost: AsyncSignal[[WorkerProcess, set[str]]] = _named("worker_lost", AsyncSignal)
    # A room opened or closed, or a warning started or ended (rooms, warnings → wall).
    room_changed: Signal[[Room | None]] = _named("room_changed", Signal)
    # A room's media closed (rooms → warnings).
    room_closed: AsyncSignal[[Room]] = _named("room_closed", AsyncSignal)
    # A room's media runs again in another worker (rooms → warnings, seats, wall).
    media_restarted: AsyncSignal[[Room]] = _named("media_restarted", AsyncSignal)
    # The session is ending while its room is live: send the seats away (sessions → seats).
    room_ending: AsyncSignal[[Room, str | None]] = _named("room_ending", AsyncSignal)
    # A seat's tracks changed, as its worker saw them (worker events → seats).
    seat_media: Signal[[Room]] = _named("seat_media", Signal)
    # A room's roster went out to its seats (seats → warnings, wall, consoles).
    roster_changed: Signal[[Room]] = _named("roster_changed", Signal)
    # An event was stored (event log → consoles); handlers must not block.
    event_logged: Signal[[Event]] = _named("event_logged", Signal)
    # A workflow command was accepted (workflow → seats, consoles).
    workflow_happened: Signal[[str, WorkflowState, Happened]] = _named("workflow_happened", Signal)
    # A bid opening's command was accepted, or its bidders changed (openings → the hall).
    opening_changed: Signal[[str, OpeningState, Happened | None]] = _named(
        "opening_changed", Signal
    )
    # A hall's media started, moved to another worker, or stopped: the session and the streams
    # of its broadcast (none: stopped). Its pages watch again (halls → the hall).
    hall_media: Signal[[str, list[str]]] = _named("hall_media", Signal)
    # A bidder was asked for a clarification or answered one: the opening and the bidder
    # (clarifications → the hall).
    clarification_changed: Signal[[str, str]] = _named("clarification_changed", Signal)
    # A part of a session's archive was sealed, here or by a media worker, or recovered after a
    # crash (archives, rooms, halls → the archive's copies); handlers must not block.
    part_sealed: Signal[[str]] = _named("part_sealed", Signal)
    # A session ended and its archive is sealed (sessions → outcomes: fees, results).
    session_ended: AsyncSignal[[str]] = _named("session_ended", AsyncSignal)
    # The workflow reached its end: the session ends with it (workflow → sessions).
    workflow_ended: AsyncSignal[[str, str, WorkflowState]] = _named("workflow_ended", AsyncSignal)

    def freeze(self) -> None:
        """The server is built: no more handlers, and the signals may be sent."""
        for f in fields(self):
            getattr(self, f.name).freeze()

    @classmethod
    def silent(cls) -> Signals:
        """Signals nobody listens to: for a tool that works on the data directory alone."""
        signals = cls()
        signals.freeze()
        return signals
