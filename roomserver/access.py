"""Who may play back which archive, and which part of it (standard 4.3, 9-5).

Archivists, auditors (审计, 纪委监委) and administrators see every session whole. A supervisor
sees the sessions they supervised: their session's token, or, with a centre-wide token, the
sessions whose log shows them watching. A tenderer or bidder token is scoped to one session and
sees only the phases of the committee's workflow the configuration opens to them (for example
the check-in, not the deliberation), and only the room's tracks. Everyone else is refused.

Pure functions over the session's events: the caller reads them and enforces the answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from roomserver.errors import NotYourRoom
from roomserver.model import Role

WHOLE_ARCHIVE_ROLES = frozenset({Role.ARCHIVIST, Role.AUDITOR, Role.ADMIN})
PARTY_ROLES = frozenset({Role.TENDERER, Role.BIDDER})
# The room's own tracks (grid, mix, room cameras); a party never sees a single expert's seat.
ROOM_TRACK_PREFIX = "room-"


@dataclass(frozen=True)
class Viewer:
    """Who asks: from their token."""

    participant_id: str
    role: Role
    session_id: str | None


@dataclass(frozen=True)
class Scope:
    """What a viewer may see of one session: everything, or some time windows of some tracks."""

    whole: bool
    windows: tuple[tuple[float, float], ...] = ()  # wall-clock seconds, when not whole
    room_tracks_only: bool = False

    def allows_track(self, track_id: str) -> bool:
        return not self.room_tracks_only or track_id.startswith(ROOM_TRACK_PREFIX)

    def allows_span(self, start: float, end: float) -> bool:
        """Whether anything of [start, end] falls in a window."""
        return self.whole or any(start < w_end and end > w_start for w_start, w_end in self.windows)

    def allows_time(self, at: float) -> bool:
        return self.whole or any(w_start <= at <= w_end for w_start, w_end in self.windows)


WHOLE = Scope(whole=True)


def _timestamp(value: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return None


def phase_windows(
    events: Iterable[Mapping[str, Any]], phases: Sequence[str], end: float
) -> tuple[tuple[float, float], ...]:
    """The wall-clock spans the session spent in `phases`, from its ``workflow`` events."""
    windows: list[tuple[float, float]] = []
    current, since = "scheduled", None
    for event in events:
        if event.get("kind") != "workflow":
            continue
        data = event.get("data") or {}
        phase, at = data.get("phase"), _timestamp(event.get("at"))
        if phase is None or at is None or phase == current:
            continue
        if current in phases and since is not None:
            windows.append((since, at))
        current, since = str(phase), at
    if current in phases and since is not None and since < end:
        windows.append((since, end))
    return tuple(windows)


def archive_scope(
    viewer: Viewer,
    session_id: str,
    events: Sequence[Mapping[str, Any]],
    *,
    party_phases: Sequence[str],
    end: float,
) -> Scope:
    """What `viewer` may see of the session's archive; NotYourRoom when nothing."""
    if viewer.role in WHOLE_ARCHIVE_ROLES:
        return WHOLE
    if viewer.role == Role.SUPERVISOR:
        if viewer.session_id == session_id:
            return WHOLE
        supervised = any(
            e.get("kind") == "supervision_started" and e.get("actor") == viewer.participant_id
            for e in events
        )
        if viewer.session_id is None and supervised:
            return WHOLE
        raise NotYourRoom("您未监督过该场评标，无权调阅其档案")
    if viewer.role in PARTY_ROLES and viewer.session_id == session_id:
        windows = phase_windows(events, party_phases, end)
        if not windows:
            raise NotYourRoom("该场评标没有向招标人、投标人开放的内容")
        return Scope(whole=False, windows=windows, room_tracks_only=True)
    raise NotYourRoom("您无权调阅该场评标的档案")
