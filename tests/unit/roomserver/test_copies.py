"""When an archive's copies are checked again, which first, and what /metrics says of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from roomserver.copies import (
    BEHIND,
    COPY_FAILED,
    FAILED,
    MISSING,
    PRIMARY,
    REPLICA,
    UNCHECKED,
    VERIFIED,
    ArchiveCopy,
    Schedule,
    SealedSession,
    after_check,
    figures,
    shown_state,
)

NOW = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SCHEDULE = Schedule(every_s=30 * 86400, retry_s=300, replica=True)


def copy(location: str, state: str, at: datetime, **kw: object) -> ArchiveCopy:
    return after_check(None, "s1", location, "/x", state, at, **kw)  # type: ignore[arg-type]


def test_a_check_keeps_the_times_of_the_latest_copy_and_verification() -> None:
    first = copy(REPLICA, VERIFIED, NOW - DAY, parts=2, size=10, copied=True, verified=True)
    failed = after_check(first, "s1", REPLICA, "/y", COPY_FAILED, NOW, detail="x" * 900)
    assert (failed.copied_at, failed.verified_at) == (NOW - DAY, NOW - DAY)
    assert (failed.parts, failed.bytes, failed.path) == (2, 10, "/y")
    assert failed.checked_at == NOW and len(failed.detail) == 500 and not failed.ok
    with pytest.raises(ValueError):
        after_check(None, "s1", PRIMARY, "/x", "fine", NOW)


def test_a_verified_copy_is_due_again_after_the_interval() -> None:
    verified = copy(PRIMARY, VERIFIED, NOW - 29 * DAY, parts=1, verified=True)
    assert not SCHEDULE.due(verified, NOW, 1)
    assert SCHEDULE.due(verified, NOW + DAY, 1)
    # A copy that failed its verification is not checked over and over: it is reported.
    failed = copy(REPLICA, FAILED, NOW - DAY, parts=1, verified=True)
    assert not SCHEDULE.due(failed, NOW, 1)
    assert SCHEDULE.due(None, NOW, 1)


def test_a_copy_that_could_not_be_made_is_tried_again_after_the_retry_pause() -> None:
    gone = copy(REPLICA, COPY_FAILED, NOW - timedelta(seconds=299))
    assert not SCHEDULE.due(gone, NOW, 1)
    assert SCHEDULE.due(gone, NOW + timedelta(seconds=1), 1)
    # A replica that failed before it was ever verified (a part of it differs) waits as long.
    differs = copy(REPLICA, FAILED, NOW - timedelta(seconds=10), parts=1, copied=True)
    assert not SCHEDULE.due(differs, NOW, 1)
    assert SCHEDULE.due(differs, NOW + timedelta(seconds=300), 1)


def test_a_replica_without_the_latest_part_is_due_at_once() -> None:
    verified = copy(REPLICA, VERIFIED, NOW - timedelta(seconds=5), parts=1, verified=True)
    assert SCHEDULE.due(verified, NOW, 2)
    assert shown_state(verified, REPLICA, 2) == BEHIND
    assert shown_state(verified, REPLICA, 1) == VERIFIED
    assert shown_state(None, REPLICA, 1) == MISSING
    assert shown_state(None, PRIMARY, 1) == UNCHECKED


def test_the_session_unverified_longest_comes_first() -> None:
    sealed = NOW - 100 * DAY
    never = SCHEDULE.order({}, sealed)
    recent = SCHEDULE.order(
        {
            PRIMARY: copy(PRIMARY, VERIFIED, NOW - 40 * DAY, verified=True),
            REPLICA: copy(REPLICA, VERIFIED, NOW - 2 * DAY, verified=True),
        },
        sealed,
    )
    older = SCHEDULE.order(
        {PRIMARY: copy(PRIMARY, VERIFIED, NOW - 35 * DAY, verified=True)}, NOW - 60 * DAY
    )
    assert sorted([recent, older, never]) == [never, older, recent]
    assert recent == NOW - 40 * DAY
    # Without a replica, only the primary counts.
    alone = Schedule(every_s=30 * 86400, retry_s=300, replica=False)
    assert alone.order({PRIMARY: copy(PRIMARY, VERIFIED, NOW, verified=True)}, sealed) == NOW


def test_figures_count_sessions_with_a_failed_or_missing_copy_and_the_oldest_check() -> None:
    sessions = [
        SealedSession("s1", 1, NOW - 10 * DAY),
        SealedSession("s2", 2, NOW - 5 * DAY),
        SealedSession("s3", 1, NOW - DAY),
    ]
    copies = {
        ("s1", PRIMARY): copy(PRIMARY, VERIFIED, NOW - 3 * DAY, verified=True),
        ("s1", REPLICA): copy(REPLICA, VERIFIED, NOW - 2 * DAY, parts=1, verified=True),
        ("s2", PRIMARY): copy(PRIMARY, VERIFIED, NOW - DAY, verified=True),
        ("s2", REPLICA): copy(REPLICA, FAILED, NOW - DAY, parts=2, verified=True),
        ("s3", PRIMARY): copy(PRIMARY, VERIFIED, NOW, verified=True),
    }
    shown = figures(sessions, copies, SCHEDULE, NOW)
    assert shown.failed == 2  # s2's replica failed, s3 has none
    assert shown.oldest_age_s == pytest.approx(3 * 86400)  # s1's primary
    alone = figures(sessions, copies, Schedule(1, 1, replica=False), NOW)
    assert alone.failed == 0
    assert figures([], {}, SCHEDULE, NOW).oldest_age_s == 0.0
