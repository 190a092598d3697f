"""A bid opening (开标) from the empty data directory to its end, in real Chromium: the hall of
three bidders and of the tenderer, and the opening console of the host and of the witness.

The centre sets the opening up through REST. The host opens sign-in at the console; bidder A's
representative signs in with a picture taken from the fake camera, seals a bid in the page
(a wrong price refused before anything is sealed), keeps the key file the page offers, and
submits again (the second replaces the first, under the same key); bidder C signs in and
submits in its page too; bidder B is driven through REST, its hall open. Before the deadline the
host sees every sign-in and submission, the tenderer and bidders nobody else. The server's clock
publishes the list at the deadline. At decryption A releases its key from the key file (another
bidder's key file refused by the page), C from the key its browser kept, B reports a failure in
its hall and the host accepts it with the backup copy's fields; the witness pauses the opening,
records an incident and mutes a bidder. The benchmark parameter is drawn, the read-out published
(prices in capitals); A objects with a picture (its confirmation and the host's record sheet are
refused until the tenderer answers, in the server's words), the tenderer answers in its hall;
the record sheet is read and signed in the browser by host and witness, and the host ends the
opening. Each page is photographed at each step at 1920x1080 and 1366x768.
"""

from __future__ import annotations

import io
import re
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.e2e.conftest import RunningServer
from tests.e2e.opening_steps import (
    answer_the_objection,
    close_incident,
    confirm_my_row,
    contains,
    extend_decryption,
    handle_incident,
    handle_the_failure,
    mute,
    open_decryption,
    open_incident,
    pause,
    raise_an_objection,
    release_from_the_key_file,
    report_a_failure,
    resume,
    seal_and_submit,
    send_text,
    sign_in_with_the_camera,
    sign_the_record,
    unmute,
    visible,
)
from tests.e2e.opening_support import (
    OpeningPage,
    OpeningSetUp,
    set_up,
    sign_in_and_submit_through_rest,
)

pytestmark = pytest.mark.e2e

A, B, C = "辽宁甲建设集团有限公司", "沈阳乙市政工程有限公司", "大连丙水务工程有限公司"
# Everything before the deadline (six pages opened, two sign-ins with the camera, three bids,
# their screenshots) fits in this: it took 17 s on a two-core machine, where a longer lead was
# spent waiting for the deadline. The test prints what it took.
LEAD_S = 35.0
BEIJING = timezone(timedelta(hours=8))
A_PRICE, A_CAPITALS = "12345678.90", "壹仟贰佰叁拾肆万伍仟陆佰柒拾捌元玖角"
B_PRICE, B_DAYS = "11800000", 300
C_PRICE, C_DAYS = "13000000.5", 400
OBJECTION = "第二家投标人解密失败后按备份文件开标，请说明依据。"
ANSWER = "依据招标文件第二章第 3.7 条，投标人因设备故障不能解密的，以其备份投标文件开标。"


def bid_pdf(folder: Path, name: str) -> Path:
    """A bid file to seal: a small PDF."""
    path = folder / f"{name}.pdf"
    body = bytes(range(256)) * 40
    path.write_bytes(b"%PDF-1.4\n% " + name.encode() + b"\n" + body + b"\n%%EOF\n")
    return path


def png(folder: Path) -> Path:
    path = folder / "现场照片.png"
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (40, 110, 150)).save(out, "PNG")
    path.write_bytes(out.getvalue())
    return path


def beijing_minute(at: datetime) -> str:
    """A time as the pages write it: 2026年06月18日 09:30, Beijing time."""
    return at.astimezone(BEIJING).strftime("%Y年%m月%d日 %H:%M")


def shoot(step: str, *pages: OpeningPage) -> None:
    for page in pages:
        page.screenshots(step)


def test_a_bid_opening_from_sign_in_to_the_signed_record_in_the_pages(
    empty_server: RunningServer, browser: Any, artifacts: Path, tmp_path: Path
) -> None:
    shots = artifacts / "opening"
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()
    keys = tmp_path / "keys"
    keys.mkdir()
    setup = set_up(empty_server, LEAD_S, (A, B, C))
    a_id, b_id, c_id = (b.id for b in setup.bidders)
    opened: list[OpeningPage] = []

    def page(url: str, who: str, **options: Any) -> OpeningPage:
        shown = OpeningPage(browser, url, who, shots, **options)
        opened.append(shown)
        return shown

    try:
        host = page(setup.host.url, "host")
        witness = page(setup.witness.url, "witness")
        # The tenderer's computer is in New York and its clock is three hours slow: the page
        # still counts down to the deadline on the server's clock, in Beijing time.
        tenderer = page(
            setup.tenderer.url, "tenderer", timezone="America/New_York", clock_behind_s=3 * 3600
        )
        hall_a = page(setup.bidders[0].url, "bidder-a")
        hall_b = page(setup.bidders[1].url, "bidder-b")
        hall_c = page(setup.bidders[2].url, "bidder-c")
        before_the_deadline(setup, host, witness, tenderer, hall_a, hall_b, hall_c, keys, tmp_path)
        decryption(setup, host, witness, tenderer, hall_a, hall_b, hall_c, keys)
        read_out_and_record(setup, host, witness, tenderer, hall_a, hall_b, hall_c, tmp_path)
        for shown in opened:
            assert shown.violations() == [], (shown.who, shown.violations())
            assert shown.errors == [], (shown.who, shown.errors)
    finally:
        for shown in opened:
            shown.close()

    # What the pages did is what the server recorded.
    seen = setup.admin.opening(setup.session_id)
    assert seen["phase"] == "ended" and seen["session"]["state"] == "ended"
    assert {s["role"] for s in seen["record"]["signed_by"]} == {"host", "witness"}
    statuses = {b["bidder"]: b["status"] for b in seen["bidders"]}
    assert statuses == {a_id: "decrypted", b_id: "accepted", c_id: "decrypted"}
    assert all(b["confirmed"] for b in seen["bidders"])
    prices = {row["bidder"]: row["fields"][0]["figures"] for row in seen["readout"]}
    assert prices == {a_id: "¥12,345,678.90", b_id: "¥11,800,000.00", c_id: "¥13,000,000.50"}


def before_the_deadline(
    setup: OpeningSetUp,
    host: OpeningPage,
    witness: OpeningPage,
    tenderer: OpeningPage,
    hall_a: OpeningPage,
    hall_b: OpeningPage,
    hall_c: OpeningPage,
    keys: Path,
    folder: Path,
) -> None:
    started = time.monotonic()
    deadline = beijing_minute(setup.deadline)
    left = (setup.deadline - datetime.now(UTC)).total_seconds()
    countdown = tenderer.text("#countdown")
    hours, minutes, seconds = (int(x) for x in countdown.split(":"))
    assert 0 < hours * 3600 + minutes * 60 + seconds <= left + 2, countdown
    assert deadline in tenderer.text("#countdown-at")
    # The header clock too is the server's, in Beijing time.
    shown_clock, now = tenderer.text("#clock-time")[:5], datetime.now(BEIJING)
    assert shown_clock in {f"{now:%H:%M}", f"{now - timedelta(minutes=1):%H:%M}"}, shown_clock
    everyone = (host, witness, tenderer, hall_a, hall_b, hall_c)
    shoot("01-scheduled", *everyone)

    host.page.click("#open-submission")
    for shown in (hall_a, hall_b, hall_c, tenderer, witness):
        shown.wait_phase("submission")

    # A: sign-in with the camera, a wrong price refused in the page, the sealed bid and its key.
    sign_in_with_the_camera(hall_a, "王建国", "21010219800101123X")
    hall_a.page.fill("#bid-fields [data-field=price]", "12,345,678.90")
    hall_a.page.fill("#bid-fields [data-field=duration_days]", "365")
    hall_a.page.click("#bid-submit")
    assert "金额格式不正确" in hall_a.text("[data-error=price]")
    hall_a.page.fill("#bid-fields [data-field=price]", "12345678.9")
    assert A_CAPITALS in hall_a.text("[data-hint=price]")
    first_key = seal_and_submit(hall_a, "12345678.9", 365, bid_pdf(folder, "甲投标文件"), keys)
    assert first_key["format"] == "roomserver-bid-key/1"
    assert first_key["lot"] == setup.lot_id and first_key["bidder"] == setup.bidders[0].id
    first_blob = hall_a.text("#bid-done")
    shoot("02-bid-submitted", hall_a)
    # Submitted again before the deadline: it replaces the first, under the same key.
    hall_a.page.click("#bid-again")
    again_key = seal_and_submit(hall_a, A_PRICE, 365, bid_pdf(folder, "甲投标文件（修订）"), keys)
    assert again_key["key"] == first_key["key"]
    assert hall_a.text("#bid-done") != first_blob

    # C in its page as well; B through REST.
    sign_in_with_the_camera(hall_c, "孙立", "21020219790202456X")
    seal_and_submit(hall_c, C_PRICE, C_DAYS, bid_pdf(folder, "丙投标文件"), keys)
    sign_in_and_submit_through_rest(setup, setup.bidders[1], B_PRICE, B_DAYS)

    # The host sees every sign-in and submission; the tenderer and the bidders nobody else.
    host.wait("() => document.querySelectorAll('#bidders tr[data-status=submitted]').length === 3")
    row_a = f"#bidders tr[data-bidder='{setup.bidders[0].id}']"
    host.wait(contains(row_a, "王建国（证件尾号 123X）"))
    for name in (B, C):
        assert name not in hall_a.page.inner_text("body")
        assert name not in tenderer.page.inner_text("body")
    assert tenderer.page.locator("#bidders").is_hidden()
    send_text(host, "#notice-form", "请各投标人代表保持网络畅通，投标截止后开启解密。")
    for shown in (hall_a, tenderer):
        shown.wait(contains("#notice-text", "保持网络畅通"))
    send_text(witness, "#urge-form", "请主持人提醒投标人核对密钥文件。")
    host.wait(contains("#log", "见证人提醒主持人"))
    # The host opens the broadcast to the public; the hall hears of it.
    host.page.click("#public-btn")
    host.wait(contains("#public-state", "公开直播已开放"))
    hall_a.wait(contains("#log", "主持人开放公开直播"))
    shoot("03-before-deadline", *everyone)
    print(
        f"before the deadline: {LEAD_S - left + time.monotonic() - started:.1f} s of {LEAD_S} s"
    )

    # The server's clock publishes the list at the deadline.
    within = ((setup.deadline - datetime.now(UTC)).total_seconds() + 30) * 1000
    for shown in (tenderer, hall_a, hall_b, hall_c, host, witness):
        shown.wait_phase("published", max(within, 30_000))
    tenderer.wait("() => document.querySelectorAll('#bidders tbody tr').length === 3")
    assert tenderer.text("#bidders-count") == "递交 3 家"
    tenderer.wait(contains("#log", "投标截止，共 3 家投标人递交了投标文件"))
    shoot("04-published", *everyone)


def decryption(
    setup: OpeningSetUp,
    host: OpeningPage,
    witness: OpeningPage,
    tenderer: OpeningPage,
    hall_a: OpeningPage,
    hall_b: OpeningPage,
    hall_c: OpeningPage,
    keys: Path,
) -> None:
    _, b_id, c_id = (b.id for b in setup.bidders)
    open_decryption(host, 20)
    for shown in (hall_a, hall_b, hall_c, tenderer):
        shown.wait_phase("decryption")
    assert hall_a.text("#countdown-label") == "距解密截止"
    extend_decryption(host, 5, "有投标人反映网络不稳定")
    hall_a.wait(contains("#log", "解密时限延长 5 分钟"))

    # A: another bidder's key file is refused by the page; its own opens its bid.
    release_from_the_key_file(hall_a, keys / f"bidder-c-投标密钥-{setup.lot_id}-{C}.json")
    hall_a.wait(contains("#decrypt-error", "该密钥文件不属于本标段或本投标人"))
    release_from_the_key_file(hall_a, keys / f"bidder-a-投标密钥-{setup.lot_id}-{A}.json")
    hall_a.wait(contains("#decrypt-done", "解密成功"))
    # C: the key its browser kept.
    hall_c.wait(visible("#release-stored"))
    hall_c.page.click("#release-stored")
    hall_c.wait(contains("#decrypt-done", "解密成功"))
    # B cannot decrypt and reports it; the host accepts it with the backup copy's fields.
    report_a_failure(hall_b, "CA 锁损坏，无法读取密钥文件")
    host.wait(f"() => !!document.querySelector(\"button[data-handle='{b_id}']\")")
    shoot("05-decryption", host, witness, tenderer, hall_a, hall_b, hall_c)
    handle_the_failure(host, b_id, "经核实系设备故障，按备份投标文件开标", B_PRICE, B_DAYS)
    hall_b.wait(contains("#decrypt-done", "认可，投标有效"))

    # The witness pauses the opening, records an incident and its handling, mutes a bidder.
    pause(witness, "开标大厅直播卡顿")
    for shown in (hall_a, tenderer, host):
        shown.wait(contains("#paused", "开标大厅直播卡顿"))
    open_incident(witness, "platform", "开标大厅直播画面卡顿，部分投标人反映看不到")
    handle_incident(witness, 1, "切换备用线路")
    close_incident(host, 1, "直播恢复正常")
    hall_a.wait(contains("#incidents", "直播恢复正常"))
    shoot("06-paused", witness, hall_a)
    resume(host)
    hall_a.wait("() => document.querySelector('#paused').hidden")
    mute(witness, c_id, "发言与开标无关")
    hall_c.wait(contains("#muted", "发言与开标无关"))
    shoot("07-muted", hall_c, witness)
    unmute(host, c_id)
    hall_c.wait("() => document.querySelector('#muted').hidden")

    host.page.click("#close-decryption")
    for shown in (host, hall_a, tenderer):
        shown.wait_phase("decrypted")
    tenderer.wait(contains("#facts", "有效投标3 家"))
    host.page.click("#draw-benchmark")
    host.wait("() => !document.querySelector('#benchmark-card .drawn').textContent.includes('—')")
    drawn = host.text("#benchmark-card .drawn")
    assert drawn in ("0.95", "0.96", "0.97", "0.98")
    tenderer.wait(contains("#benchmark-card .drawn", drawn))


def read_out_and_record(
    setup: OpeningSetUp,
    host: OpeningPage,
    witness: OpeningPage,
    tenderer: OpeningPage,
    hall_a: OpeningPage,
    hall_b: OpeningPage,
    hall_c: OpeningPage,
    folder: Path,
) -> None:
    host.page.click("#publish-readout")
    for shown in (hall_a, hall_b, hall_c, tenderer, witness):
        shown.wait_phase("read_out")
    hall_a.wait(contains("#readout", A_CAPITALS))
    assert "¥12,345,678.90" in hall_a.text("#readout tr.mine")
    shoot("08-read-out", host, witness, tenderer, hall_a, hall_b, hall_c)

    # A objects with a picture; until the answer its confirmation and the record sheet wait,
    # refused in the server's words.
    raise_an_objection(hall_a, OBJECTION, png(folder))
    confirm_my_row(hall_a)
    hall_a.wait(contains("#banner", "尚有异议未答复，请在答复后再确认"))
    host.wait(contains("#readout-pending", "尚有 1 条异议待招标人答复"))
    host.page.click("#put-up-record")
    host.wait(contains("#controls-error", "尚有 1 条异议未答复，不能提交开标记录表"))
    tenderer.wait(contains("#objections", OBJECTION[:10]))
    shoot("09-objection", hall_a, tenderer)
    # The tenderer opens the picture before answering: fetched, checked against its digest.
    with tenderer.page.expect_popup() as opened:
        tenderer.page.click("#objections [data-attachment='1']")
    opened.value.wait_for_url(re.compile(r"^blob:"))
    opened.value.close()
    answer_the_objection(tenderer, 1, ANSWER)
    hall_a.wait(contains("#objections", ANSWER[:12]))
    # The refusals named an objection now answered: they are taken away.
    hall_a.wait("() => document.querySelector('#banner').hidden")
    host.wait("() => document.querySelector('#controls-error').textContent === ''")
    assert OBJECTION not in hall_b.page.inner_text("body")  # another bidder's objection
    for shown in (hall_a, hall_b, hall_c):
        confirm_my_row(shown)
        shown.wait(contains("#readout tr.mine", "已确认"))
    shoot("10-confirmed", host, witness, tenderer, hall_a, hall_b, hall_c)

    # The record sheet, read and signed in the browser by host and witness; the end.
    host.page.click("#put-up-record")
    for shown in (host, witness, hall_a):
        shown.wait_phase("signing")
    sign_the_record(host)
    witness.wait(contains("#record-signed", "主持人"))
    shoot("11-signing", host, witness, tenderer, hall_a)
    sign_the_record(witness)
    host.wait("() => !document.querySelector('#end-opening').disabled")
    host.page.click("#end-opening")
    for shown in (host, witness, tenderer, hall_a, hall_b, hall_c):
        shown.wait_phase("ended")
    hall_a.page.click("#record-show")
    hall_a.wait("() => !!document.querySelector('#record-frame').dataset.loaded")
    witness.wait("() => !!document.querySelector('#record-frame').dataset.loaded")
    shoot("12-ended", host, witness, tenderer, hall_a, hall_b, hall_c)
