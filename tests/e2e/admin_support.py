"""What the administration console's browser tests set up through REST, as the provincial
platform would: a lot whose session runs with one expert checked in at a real seat page."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import Any

from tests.e2e.conftest import RunningServer
from tests.e2e.test_pages import BEIJING

CENTRE, CITY, VENUE = "沈阳市公共资源交易中心", "沈阳", "第一评标室"
EXPERTS = ("周专家", "吴专家")


class Rest:
    """REST calls with a bearer token, as the provincial platform makes them."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url, self.token = base_url, token

    def call(self, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            self.base_url + path,
            data=None if body is None else json.dumps(body).encode(),
            method="GET" if body is None else "POST",
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as err:
            raise AssertionError(f"{path}: {err.code} {err.read().decode()}") from err


def a_lot_with_one_expert_checked_in(
    server: RunningServer, open_seat: Any, code: str, name: str
) -> dict[str, Any]:
    """Through REST: a venue, a project of one lot, its session on the booked venue, a host and
    two experts; one expert comes to the seat page and is checked in, the other never comes."""
    api = Rest(server.base_url, server.run_cli("token", "--admin").strip().splitlines()[-1])
    centre = api.call("/api/centres", {"name": CENTRE, "city": CITY, "region_code": "210100"})
    venue = api.call(
        "/api/venues", {"centre_id": centre["id"], "name": VENUE, "city": CITY, "seat_count": 6}
    )
    project = api.call(
        "/api/projects",
        {
            "centre_id": centre["id"],
            "code": code,
            "name": name,
            "tenderer": "某市教育局",
            "lots": [{"code": "01", "name": "施工"}],
        },
    )
    lot = project["lots"][0]
    now = datetime.now(BEIJING).replace(second=0, microsecond=0)
    start = now + timedelta(minutes=15 - now.minute % 15)
    slot = {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=4)).isoformat()}
    api.call(
        "/api/bookings",
        {
            "venue_id": venue["id"],
            **slot,
            "purpose": f"{code} 施工标段评标",
            "lot_id": lot["id"],
            "seats": [1, 2],
        },
    )
    opened = api.call(
        f"/api/lots/{lot['id']}/session",
        {"main_venue_id": venue["id"], "scheduled_start": start.isoformat()},
    )
    session = f"/api/sessions/{opened['session']['id']}"
    host = api.call(
        f"{session}/people", {"role": "host", "name": "张主持", "venue_id": venue["id"]}
    )
    experts = [
        {"name": n, "venue_id": venue["id"], "seat_no": i + 1} for i, n in enumerate(EXPERTS)
    ]
    api.call(f"{session}/experts", {"experts": experts})
    people = api.call(f"{session}/people")["items"]
    came = next(p for p in people if p["name"] == EXPERTS[0])
    seat = open_seat(api.call("/api/tokens", {"participant_id": came["id"]})["url"] + "&auto=1")
    seat.wait_live()
    chair = Rest(server.base_url, api.call("/api/tokens", {"participant_id": host["id"]})["token"])
    chair.call(f"{session}/workflow", {"kind": "open_check_in", "fields": {}})
    deadline = time.monotonic() + 20
    while True:  # the seat's first camera frames reach the server a moment after it is live
        try:
            chair.call(f"{session}/identity/{came['id']}", {})
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    chair.call(f"{session}/workflow", {"kind": "check_in", "fields": {"expert": came["id"]}})
    return {"project": project, "session_id": opened["session"]["id"], "seat": seat, "api": api}
