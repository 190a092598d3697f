"""The committee's workflow in real Chromium: the host and venue staff at their consoles, an
expert at the seat page who signs the commitment letter, votes for the leader, abstains on a
motion and signs the report with a key made by WebCrypto and a signature drawn on the canvas;
the host then ends the session. Two more experts sit at their own seat pages (their camera gives
the identity picture) and act through the REST API with their own tokens and keys; the other
three never come and are excused, one through the console. Screenshots of the console (at
1920x1080 and 1366x768) and of the seat page at each step are kept as artifacts."""

from __future__ import annotations

import base64
import io
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from PIL import Image, ImageDraw, ImageFont

from recorder.hashing import sha256_hex
from roomserver import signatures
from tests.e2e.conftest import RunningServer, SeatPage

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000
CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")  # fonts-noto-cjk


def report_pdf() -> bytes:
    """A one-page evaluation report as the leader would upload it (drawn, saved as PDF)."""
    page = Image.new("RGB", (1240, 1754), "white")
    draw = ImageDraw.Draw(page)
    big = ImageFont.truetype(str(CJK_FONT), 56) if CJK_FONT.exists() else None
    small = ImageFont.truetype(str(CJK_FONT), 32) if CJK_FONT.exists() else None
    draw.text((330, 160), "评标委员会评标报告", fill="black", font=big)
    lines = [
        "项目名称：辽宁省某市政道路工程施工招标",
        "项目编号：LN-DEMO-0001",
        "评标方法：综合评估法",
        "推荐中标候选人：第一名 甲公司；第二名 乙公司；第三名 丙公司",
        "否决投标：无",
        "评标委员会成员签字：见电子签名页",
    ]
    for i, line in enumerate(lines):
        draw.text((140, 340 + i * 70), line, fill="black", font=small)
    out = io.BytesIO()
    page.save(out, format="PDF", resolution=150)
    return out.getvalue()


class Api:
    """One participant's REST calls with their own token (and, for an expert, their own key)."""

    def __init__(self, server: RunningServer, person: dict[str, Any]) -> None:
        self.person = person
        self.token = str(person["token"])
        self.base = f"{server.base_url}/api/sessions/{person['session_id']}"
        self.key = ec.generate_private_key(ec.SECP256R1())

    def post(self, path: str, body: bytes, content_type: str) -> dict[str, Any]:
        request = urllib.request.Request(
            self.base + path,
            data=body,
            method="POST",
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": content_type},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as err:
            raise AssertionError(f"{self.person['name']} {path}: {err.read().decode()}") from err

    def state(self) -> dict[str, Any]:
        """The workflow state as this participant reads it."""
        request = urllib.request.Request(
            self.base + "/workflow", headers={"Authorization": f"Bearer {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return dict(json.loads(answer.read()))

    def identity(self, expert_id: str, within_s: float = 20.0) -> dict[str, Any]:
        """The identity picture from the expert's seat camera, once the seat sends one."""
        deadline = time.monotonic() + within_s
        while True:
            try:
                return self.post(f"/identity/{expert_id}", b"", "application/json")
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)  # the seat's first camera frames have not reached the server

    def do(self, kind: str, /, **fields: Any) -> dict[str, Any]:
        body = json.dumps({"kind": kind, "fields": fields}).encode()
        return self.post("/workflow", body, "application/json")

    def public_key(self) -> str:
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()

    def sign(self, report: dict[str, str]) -> dict[str, Any]:
        message = signatures.statement(
            self.person["session_id"],
            self.person["participant_id"],
            report["sha256"],
            report["sm3"],
        )
        r, s = decode_dss_signature(self.key.sign(message, ec.ECDSA(hashes.SHA256())))
        image = Image.new("RGBA", (300, 120), (255, 255, 255, 0))
        ImageDraw.Draw(image).line(
            [(10, 90), (90, 20), (180, 100), (290, 30)], fill="black", width=4
        )
        png = io.BytesIO()
        image.save(png, format="PNG")
        return self.do(
            "sign",
            report_sha256=report["sha256"],
            signature=base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode(),
            handwriting_png=base64.b64encode(png.getvalue()).decode(),
        )


def open_page(browser: Any, url: str) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(
        viewport={"width": 1920, "height": 1080}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(url)
    return context, page, errors


def wait_phase(page: Any, phase: str) -> None:
    page.wait_for_function(f"() => document.body.dataset.phase === '{phase}'", timeout=TIMEOUT_MS)


def shots_at_both_sizes(page: Any, path: Path) -> None:
    """The page as a venue PC (1920x1080) and a laptop (1366x768) show it."""
    page.screenshot(path=str(path.with_name(path.stem + "-1920.png")))
    page.set_viewport_size({"width": 1366, "height": 768})
    page.screenshot(path=str(path.with_name(path.stem + "-1366.png")))
    page.set_viewport_size({"width": 1920, "height": 1080})


def test_an_expert_signs_the_report_in_the_seat_page_and_the_host_ends_the_session(
    server: RunningServer, open_seat: Any, browser: Any, artifacts: Path
) -> None:
    people = server.participants
    experts = [p for p in people if p["role"] == "expert"]
    host = next(p for p in people if p["role"] == "host")
    main_staff = next(
        p for p in people if p["role"] == "staff" and p["venue_id"] == host["venue_id"]
    )
    me, others, absent = experts[0], experts[1:3], experts[3:]
    leader = others[0]
    shots = artifacts / "workflow"
    shots.mkdir(exist_ok=True)

    seat: SeatPage = open_seat(me["url"])
    other_seats = [open_seat(p["url"]) for p in others]
    seat.wait_live()
    for other in other_seats:
        other.wait_live()
    host_ctx, console, host_errors = open_page(browser, host["url"])
    staff_ctx, staff_console, staff_errors = open_page(browser, main_staff["url"])
    try:
        console.wait_for_function(
            "() => document.body.dataset.state === 'live'", timeout=TIMEOUT_MS
        )
        wait_phase(console, "scheduled")
        console.screenshot(path=str(shots / "01-console-scheduled.png"))

        # Check-in: the host opens it; staff take the expert's picture and confirm.
        console.click("#open-check-in")
        wait_phase(staff_console, "check_in")
        staff_console.click(f"tr[data-expert='{me['participant_id']}'] [data-identify]")
        staff_console.wait_for_function(
            "() => document.querySelector('#identity-picture').naturalWidth > 0", timeout=TIMEOUT_MS
        )
        staff_console.screenshot(path=str(shots / "02-console-identity-check.png"))
        staff_console.click("#identity-confirm")
        seat.page.wait_for_selector("#open-commitment", timeout=TIMEOUT_MS)
        seat.page.screenshot(path=str(shots / "03-seat-checked-in.png"))

        # The commitment letter, in the seat page; its key is registered with it.
        seat.page.click("#open-commitment")
        seat.page.wait_for_selector("#commitment-letter ol li", timeout=TIMEOUT_MS)
        seat.page.check("#no-conflict")
        seat.page.screenshot(path=str(shots / "04-seat-commitment-letter.png"))
        seat.page.click("#commitment-accept")
        seat.page.wait_for_selector("#flow-body .flow-done", timeout=TIMEOUT_MS)

        # The two other seated experts: identity picture from their seat camera, check-in.
        apis = [Api(server, p) for p in others]
        host_api = Api(server, host)
        for api in apis:
            host_api.identity(api.person["participant_id"])
            host_api.do("check_in", expert=api.person["participant_id"])
            api.do("commit", no_conflict=True)
            # Their seat page registers its own key once committed; this client signs with
            # its own, registered after the page's.
            expert_id = api.person["participant_id"]
            deadline = time.monotonic() + TIMEOUT_MS / 1000
            while expert_id not in api.state()["keys"] and time.monotonic() < deadline:
                time.sleep(0.2)
            api.do("register_key", public_key=api.public_key())
        # Three experts never come: the host excuses one at the console, with the reason.
        first_absent = absent[0]["participant_id"]
        console.click(f"tr[data-expert='{first_absent}'] [data-excuse]")
        console.fill("#excuse-form textarea", "专家未到场，电话联系不上")
        shots_at_both_sizes(console, shots / "05-console-excuse-dialog.png")
        console.click("#excuse-confirm")
        console.wait_for_function(
            f"() => document.querySelector(\"tr[data-expert='{first_absent}']\").textContent"
            ".includes('已请离席')",
            timeout=TIMEOUT_MS,
        )
        for person in absent[1:]:
            host_api.do("excuse_expert", expert=person["participant_id"], reason="未到场")
        console.wait_for_function(
            "() => !document.querySelector('#start-election').disabled", timeout=TIMEOUT_MS
        )
        # The host chooses the tie rule before the ballot.
        console.select_option("#tie-rule", "lot")
        shots_at_both_sizes(console, shots / "06-console-all-checked-in.png")

        # The leader election: a secret ballot in the seat page, with a blank choice offered.
        console.click("#start-election")
        seat.page.wait_for_selector("#cast-ballot", timeout=TIMEOUT_MS)
        assert seat.page.locator("#ballot-abstain").count() == 1
        assert "抽签" in seat.page.inner_text("#flow-body")
        seat.page.check(f"#ballot input[value='{leader['participant_id']}']")
        seat.page.screenshot(path=str(shots / "07-seat-ballot.png"))
        seat.page.click("#cast-ballot")
        seat.page.wait_for_selector("#flow-body .flow-done", timeout=TIMEOUT_MS)
        apis[0].do("cast_ballot", candidate=leader["participant_id"])
        apis[1].do("cast_ballot", abstain=True)
        wait_phase(seat.page, "evaluation")
        wait_phase(console, "evaluation")

        # A motion: the expert abstains in the seat page; the host closes it at the console.
        apis[0].do("open_motion", title="是否否决投标人甲的投标", options=["同意", "不同意"])
        seat.page.wait_for_selector("#vote-abstain", timeout=TIMEOUT_MS)
        seat.page.screenshot(path=str(shots / "08-seat-motion.png"))
        seat.page.click("#vote-abstain")
        seat.page.wait_for_selector("#flow-body .flow-done", timeout=TIMEOUT_MS)
        apis[1].do("vote", motion=1, option="同意")
        console.wait_for_selector("#close-motion", timeout=TIMEOUT_MS)
        shots_at_both_sizes(console, shots / "09-console-open-motion.png")
        console.click("#close-motion")
        console.wait_for_function(
            "() => document.querySelector('#flow-facts').textContent.includes('弃权 1')",
            timeout=TIMEOUT_MS,
        )

        # The leader puts the report up; the expert reads and signs it in the seat page.
        pdf = report_pdf()
        answer = apis[0].post("/report", pdf, "application/pdf")
        report = answer["state"]["report"]
        assert report["sha256"] == sha256_hex(pdf)
        seat.page.wait_for_selector("#open-signing", timeout=TIMEOUT_MS)
        seat.page.click("#open-signing")
        seat.page.wait_for_selector("#report-facts .flow-done", timeout=TIMEOUT_MS)
        assert seat.page.inner_text("#report-sha256") == report["sha256"]
        box = seat.page.locator("#sign-canvas").bounding_box()
        assert box is not None
        seat.page.mouse.move(box["x"] + 40, box["y"] + 140)
        seat.page.mouse.down()
        for x, y in ((120, 50), (200, 150), (300, 60), (420, 120), (480, 70)):
            seat.page.mouse.move(box["x"] + x, box["y"] + y, steps=8)
        seat.page.mouse.up()
        seat.page.screenshot(path=str(shots / "10-seat-signing.png"))
        seat.page.click("#sign-submit")
        seat.page.wait_for_selector("#signing", state="hidden", timeout=TIMEOUT_MS)
        seat.page.wait_for_selector("#flow-body .flow-done", timeout=TIMEOUT_MS)
        seat.page.screenshot(path=str(shots / "11-seat-signed.png"))

        for api in apis:
            api.sign(report)
        console.wait_for_function(
            "() => !document.querySelector('#end-btn').disabled", timeout=TIMEOUT_MS
        )
        console.screenshot(path=str(shots / "12-console-all-signed.png"))

        # The end instruction from the main venue's host reaches the seat.
        console.on("dialog", lambda dialog: dialog.accept())
        console.click("#end-btn")
        seat.page.wait_for_function(
            "() => document.body.dataset.state === 'ended'", timeout=TIMEOUT_MS
        )
        wait_phase(console, "ended")
        seat.page.screenshot(path=str(shots / "13-seat-ended.png"))
        console.screenshot(path=str(shots / "14-console-ended.png"))
        assert not host_errors and not staff_errors, host_errors + staff_errors
    finally:
        host_ctx.close()
        staff_ctx.close()

    # The expert's signature, made in the browser, is on record and was verified by the server.
    session_id = me["session_id"]
    events = [
        json.loads(line)
        for part in sorted((server.data_dir / "archive" / session_id).glob("part-*/events.jsonl"))
        for line in part.read_text(encoding="utf-8").splitlines()
    ]
    signed = [
        e["data"]["details"]
        for e in events
        if e["kind"] == "workflow" and e["data"]["happened"] == "report_signed"
    ]
    mine = next(d for d in signed if d["expert"] == me["participant_id"])
    message = signatures.statement(
        session_id, me["participant_id"], report["sha256"], report["sm3"]
    )
    signatures.verify(mine["public_key"], message, mine["signature"])
    drawn = server.data_dir / "archive" / session_id / mine["handwriting"]["path"]
    assert Image.open(drawn).getbbox() is not None  # something was drawn
    checked_in = next(
        e
        for e in events
        if e["kind"] == "workflow" and e["data"]["happened"] == "expert_checked_in"
    )
    assert checked_in["data"]["details"]["snapshot"]["sha256"]
    verdict = json.loads(server.run_cli("archive", "verify", session_id, "--json"))
    assert verdict["ok"], verdict
