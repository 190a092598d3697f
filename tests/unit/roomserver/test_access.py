"""Who may play back which archive, and which part of it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from roomserver.access import Viewer, archive_scope, phase_windows
from roomserver.errors import NotYourRoom
from roomserver.model import Role

T0 = 1_790_000_000.0


def at(seconds: float) -> str:
    return datetime.fromtimestamp(T0 + seconds, UTC).isoformat()


def workflow(seconds: float, phase: str) -> dict[str, Any]:
    return {"kind": "workflow", "at": at(seconds), "actor": "h", "data": {"phase": phase}}


EVENTS = [
    {"kind": "seat_connected", "at": at(0), "actor": "e1", "data": {}},
    workflow(10, "check_in"),
    workflow(20, "check_in"),  # another check-in step: the phase goes on
    workflow(60, "election"),
    {"kind": "supervision_started", "at": at(70), "actor": "supervisor:周文华", "data": {}},
    workflow(90, "evaluation"),
    workflow(300, "signing"),
    workflow(400, "ended"),
]


def scope(role: Role, session: str | None = "s1", who: str = "p", phases=("check_in",)):
    return archive_scope(
        Viewer(who, role, session), "s1", EVENTS, party_phases=phases, end=T0 + 500
    )


@pytest.mark.parametrize("role", [Role.ARCHIVIST, Role.AUDITOR, Role.ADMIN])
def test_archivists_and_auditors_see_every_session_whole(role: Role) -> None:
    assert scope(role, session=None).whole


def test_a_supervisor_sees_the_sessions_they_supervised() -> None:
    assert scope(Role.SUPERVISOR, session="s1").whole
    assert scope(Role.SUPERVISOR, session=None, who="supervisor:周文华").whole
    with pytest.raises(NotYourRoom):
        scope(Role.SUPERVISOR, session=None, who="supervisor:someone else")
    with pytest.raises(NotYourRoom):
        scope(Role.SUPERVISOR, session="s2")


@pytest.mark.parametrize("role", [Role.EXPERT, Role.HOST, Role.STAFF, Role.WITNESS, Role.DOOR])
def test_participants_of_the_session_do_not_play_it_back(role: Role) -> None:
    with pytest.raises(NotYourRoom):
        scope(role)


@pytest.mark.parametrize("role", [Role.TENDERER, Role.BIDDER])
def test_a_party_sees_the_open_phases_and_the_rooms_tracks_only(role: Role) -> None:
    seen = scope(role)
    assert not seen.whole and seen.windows == ((T0 + 10, T0 + 60),)
    assert seen.allows_track("room-grid") and not seen.allows_track("venue-1-camera")
    assert seen.allows_span(T0 + 50, T0 + 70) and not seen.allows_span(T0 + 60, T0 + 90)
    assert seen.allows_time(T0 + 30) and not seen.allows_time(T0 + 200)
    both = scope(role, phases=("check_in", "signing"))
    assert both.windows == ((T0 + 10, T0 + 60), (T0 + 300, T0 + 400))
    with pytest.raises(NotYourRoom):
        scope(role, session="s2")
    with pytest.raises(NotYourRoom, match="没有"):
        scope(role, phases=())


def test_a_phase_still_open_lasts_to_the_end_of_the_recording() -> None:
    windows = phase_windows(EVENTS[:5], ("election",), T0 + 500)
    assert windows == ((T0 + 60, T0 + 500),)
