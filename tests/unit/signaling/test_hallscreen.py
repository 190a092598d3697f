"""The hall's information screen is sent the opening as the public may see it, in words the
screen takes (``media.infostate`` parses every message without refusing it)."""

from __future__ import annotations

from media.infostate import parse_opening
from roomserver.opening import apply
from signaling.services.hallscreen import screen_message
from tests.unit.roomserver.opening_support import (
    BIDDERS,
    HOST,
    at_decryption,
    at_readout,
    at_submission,
    cmd,
    fresh,
    t,
)

NAMES = {"project_name": "沈阳市某工程", "project_code": "LN-1", "lot_name": "第一标段"}


def message(state, **extra):  # type: ignore[no-untyped-def]
    sent = screen_message(state, hall="沈阳市公共资源交易中心 开标大厅", **NAMES, **extra)
    parse_opening(sent)  # the screen takes it
    return sent


def test_before_the_deadline_the_screen_is_sent_no_bidder() -> None:
    assert message(fresh())["phase"] == "等待开始签到"  # before the host opens sign-in
    sent = message(at_submission())
    assert sent["phase"] == "签到与递交投标文件"
    assert sent["bidders"] == [] and sent["readout"] == []


def test_during_decryption_the_bidders_their_status_and_the_time_limit() -> None:
    state = at_decryption()
    sent = message(state)
    assert sent["phase"] == "解密中" and sent["decrypt_deadline"]
    assert [b["name"] for b in sent["bidders"]] == [BIDDERS[b] for b in state.submitted]
    assert {b["decryption"] for b in sent["bidders"]} <= {"未解密", "已解密", "解密失败"}


def test_the_read_out_in_figures_and_capitals_and_a_pause_as_the_notice() -> None:
    state = at_readout()
    sent = message(state, notice="请各投标人核对唱标结果")
    row = sent["readout"][0]
    assert row["price"] and row["price_capitals"].endswith(("元整", "角", "分"))
    assert row["confirmation"] == "待确认"
    assert sent["notice"] == "请各投标人核对唱标结果"
    paused, _ = apply(state, cmd("pause", HOST, t(30), reason="网络故障"))
    assert message(paused)["phase"] == "暂停" and message(paused)["notice"] == "网络故障"
