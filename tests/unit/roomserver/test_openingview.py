"""What each person at a bid opening is shown of it (``roomserver.openingview``)."""

from __future__ import annotations

from roomserver.model import Role
from roomserver.openingview import opening_view
from tests.unit.roomserver.opening_support import (
    HOST,
    WITNESS,
    at_published,
    cmd,
    run,
    submitted,
    t,
)

EVERYBODY = (
    (Role.HOST, "host-1"),
    (Role.WITNESS, "witness-1"),
    (Role.BIDDER, "b1"),
    (Role.TENDERER, "tenderer-1"),
    (Role.AGENCY, "agency-1"),
    (Role.PUBLIC, "viewer-1"),
)


def test_incidents_stay_in_everybodys_view_with_their_handling_and_result() -> None:
    state = run(
        at_published(),
        cmd("open_incident", WITNESS, t(1), kind="platform", description="直播画面中断"),
        cmd("handle_incident", HOST, t(2), incident=1, handling="切换备用线路"),
        cmd("open_incident", HOST, t(3), kind="other", description="投标人代表掉线"),
        cmd("close_incident", HOST, t(4), incident=1, result="直播已恢复"),
    )
    for role, viewer in EVERYBODY:
        assert opening_view(state, role, viewer)["incidents"] == [
            {
                "number": 1,
                "kind": "platform",
                "kind_label": "平台故障",
                "description": "直播画面中断",
                "handling": ["切换备用线路"],
                "result": "直播已恢复",
            },
            {
                "number": 2,
                "kind": "other",
                "kind_label": "其他",
                "description": "投标人代表掉线",
                "handling": [],
                "result": None,
            },
        ], role


def test_who_is_muted_and_why_is_for_those_who_run_the_opening_and_the_speaker_is_told() -> None:
    state = run(
        submitted("b1", "b2"),
        cmd("mute", HOST, t(-5), participant="b1", reason="发言与开标无关"),
    )
    for role, viewer in EVERYBODY:
        view = opening_view(state, role, viewer)
        if role in (Role.HOST, Role.WITNESS):
            assert view["muted"] == ["b1"]
            assert view["mute_reasons"] == {"b1": "发言与开标无关"}
        else:
            assert view["muted"] == [] and view["mute_reasons"] == {}, role
        assert view["you_are_muted"] is (viewer == "b1")
