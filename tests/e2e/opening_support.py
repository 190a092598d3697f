"""What the bid opening's browser tests build on: an opening set up through REST on a server
started from an empty data directory (as tests/integration/opening_support.py does in process),
a bidder's sealed bid made in Python when a bidder is driven through REST, and the pages of the
opening's people, each in its own browser context, with their screenshots."""

from __future__ import annotations

import base64
import io
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image

from roomserver import sealing
from tests.e2e.conftest import RunningServer

TIMEOUT_MS = 30_000
SIZES = {"1920": (1920, 1080), "1366": (1366, 768)}
PROJECT = ("LN-2026-0718", "沈阳市浑南区污水处理厂提标改造工程")
LOT = ("01", "施工总承包")
BENCHMARK = [{"name": "k", "label": "下浮系数K", "candidates": ["0.95", "0.96", "0.97", "0.98"]}]
# The statuses of refusals the pages show (bad request, not allowed, conflict, bad signature).
REFUSALS = (400, 403, 409, 422)
WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
});
"""


class Api:
    """REST calls with one person's bearer token, as a script of theirs would make them."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url, self.token = base_url, token

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        expect: int = 200,
        data: bytes | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        """The JSON answer; fails unless the status is `expect`."""
        url = self.base_url + path + (f"?{urllib.parse.urlencode(params)}" if params else "")
        headers = {"Authorization": f"Bearer {self.token}"}
        if data is not None:
            headers["Content-Type"] = "application/octet-stream"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status, text = answer.status, answer.read()
        except urllib.error.HTTPError as err:
            status, text = err.code, err.read()
        assert status == expect, f"{method} {path}: {status} {text.decode(errors='replace')}"
        return json.loads(text) if text else None

    def opening(self, session_id: str) -> Any:
        """The opening as this person sees it."""
        return self.call("GET", f"/api/sessions/{session_id}/opening")

    def command(self, session_id: str, kind: str, **fields: Any) -> Any:
        """A command of the hall or the console."""
        return self.call(
            "POST", f"/api/sessions/{session_id}/opening", {"kind": kind, "fields": fields}
        )


@dataclass
class Person:
    """Somebody of the opening: id, name, personal link and a REST caller of that link."""

    id: str
    name: str
    url: str
    api: Api
    key: bytes = field(default_factory=sealing.new_key)  # a REST-driven bidder's bid key


@dataclass
class OpeningSetUp:
    """An opening and its people."""

    session_id: str
    lot_id: str
    deadline: datetime
    admin: Api
    host: Person
    witness: Person
    tenderer: Person
    bidders: list[Person]


def _link(admin: Api, base_url: str, participant: dict[str, Any]) -> Person:
    issued = admin.call("POST", "/api/tokens", {"participant_id": participant["id"]}, expect=201)
    api = Api(base_url, issued["token"])
    return Person(participant["id"], participant["name"], issued["url"], api)


def set_up(server: RunningServer, lead_s: float, bidders: tuple[str, ...]) -> OpeningSetUp:
    """A centre and its opening room, a project of one lot whose tender documents have a
    benchmark parameter to draw, the lot's opening with its deadline `lead_s` seconds from now,
    its host, witness and tenderer, and the bidders named."""
    admin = Api(server.base_url, server.run_cli("token", "--admin").strip().splitlines()[-1])
    centre = admin.call(
        "POST",
        "/api/centres",
        {"name": "沈阳市公共资源交易中心", "city": "沈阳", "region_code": "210100"},
        expect=201,
    )
    room = admin.call(
        "POST",
        "/api/venues",
        {"centre_id": centre["id"], "name": "第一开标室", "city": "沈阳", "seat_count": 5},
        expect=201,
    )
    project = admin.call(
        "POST",
        "/api/projects",
        {
            "centre_id": centre["id"],
            "code": PROJECT[0],
            "name": PROJECT[1],
            "tenderer": "沈阳市浑南区水务局",
            "lots": [{"code": LOT[0], "name": LOT[1]}],
        },
        expect=201,
    )
    lot = project["lots"][0]
    deadline = datetime.now(UTC) + timedelta(seconds=lead_s)
    opening = admin.call(
        "POST",
        f"/api/lots/{lot['id']}/opening",
        {
            "venue_id": room["id"],
            "deadline": deadline.isoformat(),
            "min_bids": 3,
            "benchmark": BENCHMARK,
        },
        expect=201,
    )
    sid = opening["id"]

    def person(role: str, name: str, **extra: Any) -> Person:
        added = admin.call(
            "POST", f"/api/sessions/{sid}/people", {"role": role, "name": name, **extra}, expect=201
        )
        return _link(admin, server.base_url, added)

    host = person("host", "李主持", venue_id=room["id"])
    witness = person("witness", "钱见证")
    tenderer = person("tenderer", "沈阳市浑南区水务局")
    listed = []
    for name in bidders:
        added = admin.call("POST", f"/api/sessions/{sid}/bidders", {"name": name}, expect=201)
        listed.append(_link(admin, server.base_url, added))
    return OpeningSetUp(sid, lot["id"], deadline, admin, host, witness, tenderer, listed)


def face_jpeg() -> str:
    """A small JPEG standing for the picture a REST-driven representative's camera takes."""
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 160, 120)).save(out, "JPEG")
    return base64.b64encode(out.getvalue()).decode("ascii")


def sign_in_and_submit_through_rest(
    setup: OpeningSetUp, bidder: Person, price: str, days: int
) -> None:
    """A bidder's representative signs in and submits a bid sealed as the browser seals one."""
    sid = setup.session_id
    bidder.api.call(
        "POST",
        f"/api/sessions/{sid}/opening/sign-in",
        {"representative": "赵代表", "id_number": "21010219800101123X", "picture": face_jpeg()},
    )
    plaintext = sealing.envelope(
        setup.lot_id,
        bidder.id,
        {"price": price, "duration_days": days},
        "投标文件.pdf",
        "application/pdf",
        b"%PDF-1.4 " + bidder.name.encode() + b" %%EOF",
    )
    sealed = sealing.seal(bidder.key, plaintext)
    bidder.api.call(
        "POST",
        f"/api/sessions/{sid}/bids",
        expect=201,
        data=sealed.blob,
        params={"plaintext_sha256": sealed.plaintext_sha256, "key_sha256": sealed.key_sha256},
    )


class OpeningPage:
    """One person's page in its own browser context: its console errors, Content-Security-Policy
    violations and downloads, and screenshots at both sizes."""

    def __init__(
        self,
        browser: Any,
        url: str,
        who: str,
        shots: Path,
        *,
        timezone: str = "Asia/Shanghai",
        clock_behind_s: float = 0,
    ) -> None:
        self.who, self.shots = who, shots
        self.context = browser.new_context(
            viewport={"width": 1920, "height": 1080},
            locale="zh-CN",
            timezone_id=timezone,
            accept_downloads=True,
        )
        self.context.add_init_script(WATCH_VIOLATIONS)
        if clock_behind_s:
            # A computer whose clock is wrong: its time runs on, from the wrong point.
            self.context.clock.install(time=datetime.now(UTC) - timedelta(seconds=clock_behind_s))
            self.context.clock.resume()
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.refusals: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on("console", self._on_console)
        self.page.goto(url)
        # Ready, or live already: the hall's broadcast plays in the page.
        self.wait("() => ['ready', 'live'].includes(document.body.dataset.state)")

    def _on_console(self, message: Any) -> None:
        if message.type != "error":
            return
        # A refusal the page shows in the server's words is logged by Chromium too.
        if any(f"status of {code} " in message.text for code in REFUSALS):
            self.refusals.append(message.text)
        else:
            self.errors.append(message.text)

    def wait(self, predicate: str, timeout_ms: float = TIMEOUT_MS) -> None:
        """Until `predicate` holds in the page; fail with what the page shows."""
        try:
            self.page.wait_for_function(predicate, timeout=timeout_ms)
        except Exception as exc:
            banner = self.page.locator("#banner").inner_text()
            state = self.page.evaluate("document.body.dataset.state")
            raise AssertionError(
                f"{self.who}: {predicate} did not hold: state={state!r} banner={banner!r} "
                f"errors={self.errors}"
            ) from exc

    def wait_phase(self, phase: str, timeout_ms: float = TIMEOUT_MS) -> None:
        """Until the page shows the opening in `phase` (from a push or an answer)."""
        self.wait(f"() => document.body.dataset.phase === '{phase}'", timeout_ms)

    def text(self, selector: str) -> str:
        """The text of the first element matching `selector`, once it is visible."""
        locator = self.page.locator(selector).first
        locator.wait_for(state="visible", timeout=TIMEOUT_MS)
        return str(locator.inner_text())

    def violations(self) -> list[str]:
        """The Content-Security-Policy violations the page's listener saw."""
        return list(self.page.evaluate("window.__cspViolations || []"))

    def screenshots(self, step: str) -> None:
        """The whole page at 1920x1080 and at 1366x768."""
        for label, (width, height) in SIZES.items():
            self.page.set_viewport_size({"width": width, "height": height})
            path = self.shots / f"{step}-{self.who}-{label}.png"
            self.page.screenshot(path=str(path), full_page=True)
        self.page.set_viewport_size({"width": 1920, "height": 1080})

    def close(self) -> None:
        self.context.close()
