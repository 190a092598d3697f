"""The copies of each session's archive (存档副本) and when each is to be checked again.

A session's archive is kept in two locations: the primary, on the server's own disk, and the
replica (副本), a second location on another machine's disk or at another site
(``archive_replica``), where every sealed part is copied. Each copy has its latest check: when
it was copied, when it was last verified (as ``roomserver archive verify`` does), and the result.
The archive is evidence for fifteen years, so a copy verified once is verified again every so
many days: a disk that rots in silence is found while the other copy is still good.

What this module decides, without any disk or database: a copy's state after a check, which
copies are due, which is checked first (the longest unchecked), and the figures /metrics shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

PRIMARY, REPLICA = "primary", "replica"
LOCATIONS = (PRIMARY, REPLICA)

# A copy's state after its latest check.
VERIFIED = "verified"  # verified: every seal, chain and digest as sealed
FAILED = "failed"  # verified, with differences; or the replica holds what the primary does not
COPY_FAILED = "copy_failed"  # the copy could not be made: location missing, full, read-only…
STATES = (VERIFIED, FAILED, COPY_FAILED)
# What the archive page shows besides: never checked (primary), never copied (replica), and a
# replica without a part sealed since its latest copy.
UNCHECKED, MISSING, BEHIND = "unchecked", "missing", "behind"


@dataclass(frozen=True)
class ArchiveCopy:
    """One location's copy of one session's archive, as last checked."""

    session_id: str
    location: str  # PRIMARY or REPLICA
    path: str  # the session's folder there, when it was checked
    state: str
    checked_at: datetime  # the latest check (a copy, a verification, or an attempt)
    detail: str = ""  # what failed, or what the check found (a few differences)
    parts: int = 0  # the sealed parts the check covered
    bytes: int = 0
    copied_at: datetime | None = None  # the latest copy that added something (replica)
    verified_at: datetime | None = None  # the latest verification, whatever its result

    @property
    def ok(self) -> bool:
        """Verified, and nothing differs."""
        return self.state == VERIFIED


def after_check(
    previous: ArchiveCopy | None,
    session_id: str,
    location: str,
    path: str,
    state: str,
    at: datetime,
    *,
    detail: str = "",
    parts: int | None = None,
    size: int | None = None,
    copied: bool = False,
    verified: bool = False,
) -> ArchiveCopy:
    """The copy after a check at `at`: its state and detail are this check's; the times of the
    latest copy and verification, its parts and bytes stay unless this check gives new ones."""
    if state not in STATES:
        raise ValueError(f"unknown copy state {state!r}")
    base = previous or ArchiveCopy(session_id, location, path, state, at)
    return replace(
        base,
        path=path,
        state=state,
        checked_at=at,
        detail=detail[:500],
        parts=base.parts if parts is None else parts,
        bytes=base.bytes if size is None else size,
        copied_at=at if copied else base.copied_at,
        verified_at=at if verified else base.verified_at,
    )


def shown_state(copy: ArchiveCopy | None, location: str, sealed_parts: int) -> str:
    """What the archive page says of a location's copy of a session with `sealed_parts`."""
    if copy is None:
        return UNCHECKED if location == PRIMARY else MISSING
    if location == REPLICA and copy.state == VERIFIED and copy.parts < sealed_parts:
        return BEHIND
    return copy.state


@dataclass(frozen=True)
class Schedule:
    """When a copy is checked again."""

    every_s: float  # a verified copy is verified again this long after (reverify_days)
    retry_s: float  # a copy that could not be made is tried again this long after
    replica: bool  # a replica location is configured

    def locations(self) -> tuple[str, ...]:
        """The locations whose copies are kept."""
        return LOCATIONS if self.replica else (PRIMARY,)

    def due(self, copy: ArchiveCopy | None, now: datetime, sealed_parts: int) -> bool:
        """Whether a copy is to be checked now (a session whose `sealed_parts` are finished)."""
        if copy is None:
            return True
        recent = (now - copy.checked_at).total_seconds() < self.retry_s
        if copy.state == COPY_FAILED:
            return not recent
        if copy.location == REPLICA and copy.parts < sealed_parts:
            return copy.ok or not recent  # behind: copy the new part (a failure: not at once)
        if copy.verified_at is None:
            return not recent
        return (now - copy.verified_at).total_seconds() >= self.every_s

    def order(self, copies: Mapping[str, ArchiveCopy], sealed_at: datetime) -> datetime:
        """Sorts a session's check before another's: the one whose copy has gone longest
        without a verification first (a copy never verified: since its archive was sealed)."""
        times = [
            copy.verified_at if copy and copy.verified_at else sealed_at
            for copy in (copies.get(location) for location in self.locations())
        ]
        return min(times)


@dataclass(frozen=True)
class SealedSession:
    """A session whose archive parts are all sealed, as the sweep finds it on disk."""

    session_id: str
    parts: int
    sealed_at: datetime  # when its last part was sealed


@dataclass(frozen=True)
class CopyFigures:
    """What /metrics shows of the copies."""

    oldest_age_s: float  # the longest any copy has gone without a verification
    failed: int  # sessions whose latest check of a copy failed, or whose replica is missing


def figures(
    sessions: Iterable[SealedSession],
    copies: Mapping[tuple[str, str], ArchiveCopy],
    schedule: Schedule,
    now: datetime,
) -> CopyFigures:
    """The copies' figures over every sealed session."""
    oldest = 0.0
    failed = 0
    for session in sessions:
        bad = False
        for location in schedule.locations():
            copy = copies.get((session.session_id, location))
            since = copy.verified_at if copy and copy.verified_at else session.sealed_at
            oldest = max(oldest, (now - since).total_seconds())
            shown = shown_state(copy, location, session.parts)
            bad = (
                bad or shown in (FAILED, COPY_FAILED) or (location == REPLICA and shown == MISSING)
            )
        failed += bad
    return CopyFigures(oldest, failed)
