"""The policy table's rules, without a server: roles, reach, and the live rules."""

from __future__ import annotations

from dataclasses import replace

import pytest

from roomserver.errors import InvalidToken, NotYourRoom, RoleNotAllowed, SessionEnded
from roomserver.model import Role
from roomserver.policy import POLICY, Action, Grants, Reach, Target, decide, require

SESSION = "s1"


def grants(role: Role, session: str | None = SESSION, venue: str | None = "v1") -> Grants:
    return Grants(f"{role}-1", session, role, venue, None, 0, "t")


def test_every_action_has_a_row_and_every_row_names_roles() -> None:
    assert set(POLICY) == set(Action)
    for action, row in POLICY.items():
        assert row.roles, action
        assert row.everywhere <= row.roles and row.centre_wide <= row.roles


def test_an_open_action_needs_no_token_and_a_closed_one_does() -> None:
    assert decide(None, Action.HEALTH).allowed
    assert isinstance(decide(None, Action.ROSTER_READ, Target(SESSION)).error, InvalidToken)
    with pytest.raises(InvalidToken):
        require(None, Action.WHOAMI)


@pytest.mark.parametrize("role", [Role.TENDERER, Role.BIDDER, Role.DOOR, Role.ARCHIVIST])
def test_parties_and_others_never_read_a_running_session(role: Role) -> None:
    for action in (Action.ROSTER_READ, Action.WORKFLOW_READ, Action.REPORT_READ):
        decision = decide(grants(role), action, Target(SESSION))
        assert isinstance(decision.error, RoleNotAllowed), (role, action)


def test_a_token_of_another_session_does_not_reach_this_one() -> None:
    decision = decide(grants(Role.EXPERT, "other"), Action.WORKFLOW_READ, Target(SESSION))
    assert isinstance(decision.error, NotYourRoom)
    assert decide(grants(Role.EXPERT), Action.WORKFLOW_READ, Target(SESSION)).allowed


def test_administrators_reach_every_session_and_centre_wide_supervisors_too() -> None:
    admin = grants(Role.ADMIN, None)
    assert decide(admin, Action.ROSTER_READ, Target("any")).allowed
    supervisor = grants(Role.SUPERVISOR, None)
    assert decide(supervisor, Action.WALL_SESSION, Target("any")).allowed
    # ... but a supervisor's token of one session stays in it.
    scoped = grants(Role.SUPERVISOR)
    assert isinstance(decide(scoped, Action.WALL_SESSION, Target("any")).error, NotYourRoom)


def test_the_end_of_a_session_ends_its_participants_live_access_not_the_archive() -> None:
    ended = Target(SESSION, ended=True)
    for role in (Role.EXPERT, Role.HOST, Role.STAFF, Role.WITNESS, Role.SUPERVISOR):
        decision = decide(grants(role), Action.WORKFLOW_READ, ended)
        assert isinstance(decision.error, SessionEnded), role
    assert decide(grants(Role.ADMIN, None), Action.WORKFLOW_READ, ended).allowed
    assert decide(grants(Role.SUPERVISOR), Action.ARCHIVE_READ, ended).allowed
    assert decide(grants(Role.BIDDER), Action.ARCHIVE_READ, ended).allowed


def test_an_expert_who_left_loses_every_live_action_at_once() -> None:
    left = Target(SESSION, left=True)
    for action in (Action.SEAT, Action.ROSTER_READ, Action.WORKFLOW_COMMAND, Action.REPORT_READ):
        assert isinstance(decide(grants(Role.EXPERT), action, left).error, NotYourRoom), action


def test_a_door_reaches_its_own_venue_only() -> None:
    door = grants(Role.DOOR, None, "v1")
    assert decide(door, Action.DOOR_ACCESS, Target(venue_id="v1")).allowed
    assert isinstance(decide(door, Action.DOOR_ACCESS, Target(venue_id="v2")).error, NotYourRoom)
    assert POLICY[Action.DOOR_ACCESS].reach == Reach.VENUE


def test_only_administrators_maintain_and_issue() -> None:
    for action, roles in (
        (Action.ISSUE_TOKEN, {Role.ADMIN}),
        (Action.EXPERTS_IMPORT, {Role.ADMIN}),
        (Action.WORKERS_DRAIN, {Role.ADMIN, Role.OPS}),
    ):
        for role in Role:
            assert decide(grants(role, None), action).allowed == (role in roles), (action, role)


def test_a_token_of_one_centre_reaches_that_centre_only() -> None:
    admin = replace(grants(Role.ADMIN, None), centre_id="c1")
    here, there = (
        Target(SESSION, centre_ids=frozenset({"c1"})),
        Target(SESSION, centre_ids=frozenset({"c2"})),
    )
    assert decide(admin, Action.PEOPLE_READ, here).allowed
    assert isinstance(decide(admin, Action.PEOPLE_READ, there).error, NotYourRoom)
    # What belongs to no centre (an id that does not exist) is nobody's.
    nowhere = Target(SESSION, centre_ids=frozenset())
    assert isinstance(decide(admin, Action.WORKFLOW_READ, nowhere).error, NotYourRoom)
    # The province's rows are refused whatever the target.
    for action in (
        Action.WEBHOOKS_MANAGE,
        Action.POOL_READ,
        Action.CENTRES_MANAGE,
        Action.WORKERS_DRAIN,
    ):
        assert POLICY[action].province
        assert isinstance(decide(admin, action, here).error, RoleNotAllowed), action
        assert decide(grants(Role.ADMIN, None), action, here).allowed
    # Nor are they a session's ops engineer's, who may look at the workers but not drain them.
    session_ops = grants(Role.OPS)
    assert decide(session_ops, Action.WORKERS_READ).allowed
    assert isinstance(decide(session_ops, Action.WORKERS_DRAIN).error, RoleNotAllowed)
    # A supervisor and an ops engineer of one centre see its sessions only.
    for role, action in ((Role.SUPERVISOR, Action.WALL_SESSION), (Role.OPS, Action.SESSION_HEALTH)):
        scoped = replace(grants(role, None), centre_id="c1")
        assert decide(scoped, action, here).allowed
        assert isinstance(decide(scoped, action, there).error, NotYourRoom)
        assert decide(grants(role, None), action, there).allowed


def test_metrics_are_for_a_scraper_on_this_machine_only() -> None:
    assert decide(None, Action.METRICS, Target(local=True)).allowed
    refused = decide(grants(Role.ADMIN, None), Action.METRICS, Target(local=False))
    assert isinstance(refused.error, RoleNotAllowed)
