"""Who may do what, asked of the real server: every route and Socket.IO namespace × every kind
of token, each cell asserted against the table below (written out here, not computed from
``roomserver.policy``, so that a change to the policy is a change to this test too).

A cell is *refused* when the answer is one of the access codes (no or bad token, wrong role,
another session or venue, a participant who left, a session that ended); *allowed* when the
request got past access, whatever the handler then said of its content (a 404 for a report not
uploaded yet, a 400 for an empty body, a 409 for a command of the wrong phase).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
import socketio

from media.testing.synthetic import CounterVideoTrack
from roomserver.demo import create_load_session
from roomserver.model import Centre, Participant, Role, SessionState, new_id
from roomserver.policy import POLICY
from signaling.gate.guard import ENDPOINTS
from signaling.gate.tokens import TokenIssuer
from signaling.http.links import issue_link, participant_link, unrostered_link
from signaling.testing.seat import SyntheticSeat
from tests import polling
from tests.integration.conftest import RunningServer

ACCESS_CODES = {
    "invalid_token",
    "token_expired",
    "link_revoked",
    "role_not_allowed",
    "not_your_room",
}
ENDED_CODE = "session_ended"


@dataclass(frozen=True)
class Who:
    """A kind of token, and the session its requests aim at."""

    token: str | None
    session_id: str


@dataclass(frozen=True)
class Call:
    """One route as the matrix calls it."""

    method: str
    path: str  # {s}: the session aimed at, {v}: the main venue, {e}: an expert, {c}: the centre,
    # {l}: a bidder's archive link of the demo
    body: Any = field(default=None, hash=False, compare=False)
    raw: bytes | None = None


# Every kind of token. "_ended" ones belong to a session that has ended and aim at it;
# "expert_other" belongs to another session and aims at the demo's.
# "admin_here" is an administrator of the demo's centre (its main venue's), "admin_elsewhere"
# of another centre; "ops" an ops engineer of the province, "ops_elsewhere" of another centre.
WHO = (
    "none forged expired admin admin_here admin_elsewhere host host_sub staff staff_sub witness "
    "expert expert_withdrawn expert_other supervisor supervisor_all archivist auditor tenderer "
    "bidder door ops ops_elsewhere expert_ended host_ended supervisor_ended host_revoked"
).split()

# Administrators who reach the demo's session, and every administrator.
ADMINS_HERE = {"admin", "admin_here"}
ADMINS = ADMINS_HERE | {"admin_elsewhere"}
LIVE_READERS = ADMINS_HERE | {"host", "host_sub", "staff", "staff_sub", "witness", "expert"}
LIVE_READERS |= {"supervisor", "supervisor_all"}
ARCHIVE_KEEPERS = ADMINS_HERE | {"archivist", "auditor"}
# A bid opening's people who act in it, and those who read it (also once it ended).
OPENING_ACTORS = ADMINS_HERE | {"host", "host_sub", "witness", "tenderer", "bidder"}
OPENING_READERS = OPENING_ACTORS | {
    "supervisor",
    "supervisor_all",
    "host_ended",
    "supervisor_ended",
}
SUPERVISORS = {"supervisor", "supervisor_all", "supervisor_ended"}
# "host_revoked" is the session token of the host's personal link, revoked: it opens nothing.
EVERY_TOKEN = set(WHO) - {"none", "forged", "expired", "host_revoked"}

MATRIX: dict[Call, set[str]] = {
    Call("GET", "/"): set(WHO),
    Call("GET", "/seat"): set(WHO),
    Call("GET", "/console"): set(WHO),
    Call("GET", "/wall"): set(WHO),
    Call("GET", "/overview"): set(WHO),
    Call("GET", "/admin"): set(WHO),
    Call("GET", "/ops"): set(WHO),
    Call("GET", "/hall"): set(WHO),
    Call("GET", "/opening"): set(WHO),
    Call("GET", "/live"): set(WHO),
    Call("GET", "/archive"): set(WHO),
    Call("GET", "/healthz"): set(WHO),
    Call("GET", "/livez"): set(WHO),
    Call("GET", "/readyz"): set(WHO),
    Call("GET", "/api/openapi.json"): set(WHO),
    Call("GET", "/api/docs"): set(WHO),
    Call("GET", "/metrics"): set(WHO),
    Call("GET", "/static/lib/dom.js"): set(WHO),
    Call("GET", "/api/me"): EVERY_TOKEN,
    Call("GET", "/api/commitment-letter"): ADMINS
    | {
        "host",
        "host_sub",
        "staff",
        "staff_sub",
        "witness",
        "expert",
        "expert_withdrawn",
        "expert_other",
        "expert_ended",
        "host_ended",
    },
    # The machine's media workers: ops engineers and administrators look, the province's drain.
    Call("GET", "/api/workers"): ADMINS | {"ops", "ops_elsewhere"},
    Call("POST", "/api/workers/{idx}/drain"): {"admin", "ops"},
    # The cluster's nodes and rooms: who looks at the workers looks at the nodes.
    Call("GET", "/api/cluster"): ADMINS | {"ops", "ops_elsewhere"},
    Call("POST", "/api/tokens", body={}): ADMINS,
    # Devices and connections: ops engineers of the province or of the session's centre, the
    # venues' people and administrators.
    Call("GET", "/api/health/sessions"): ADMINS | {"ops", "ops_elsewhere"},
    Call("GET", "/api/sessions/{s}/health"): ADMINS_HERE
    | {"ops", "host", "host_sub", "staff", "staff_sub", "witness"},
    # Centres, venues and bookings are the administration's (empty bodies and queries are
    # refused for their shape, after the table allowed them). Every centre's rooms and vacancy
    # are open to every administrator (sub venues are booked at other centres); a centre's own
    # room, booking or project only to its administrators and the province's. Ids that do not
    # exist belong to no centre.
    Call("GET", "/api/centres"): ADMINS,
    Call("POST", "/api/centres", body={}): {"admin"},
    Call("GET", "/api/centres/{c}/people"): ADMINS_HERE,
    Call("POST", "/api/centres/{c}/people", body={}): ADMINS_HERE,
    Call("POST", "/api/centres/{c}/people/nolink/reissue", body={}): ADMINS_HERE,
    Call("POST", "/api/centres/{c}/people/nolink/revoke", body={}): ADMINS_HERE,
    Call("GET", "/api/venues"): ADMINS,
    Call("POST", "/api/venues", body={}): ADMINS,
    Call("GET", "/api/venues/{v}"): ADMINS_HERE,
    Call("POST", "/api/venues/{v}", body={"seat_count": 1}): ADMINS_HERE,
    Call("POST", "/api/venues/{v}/door-token", body={"days": 0}): ADMINS_HERE,
    Call("GET", "/api/vacancy"): ADMINS,
    Call("GET", "/api/bookings"): ADMINS,
    Call("POST", "/api/bookings", body={}): ADMINS,
    Call("POST", "/api/bookings/nobooking/change", body={}): {"admin"},
    Call("POST", "/api/bookings/nobooking/cancel", body={}): {"admin"},
    Call("GET", "/api/projects"): ADMINS,
    Call("POST", "/api/projects", body={}): ADMINS,
    Call("GET", "/api/projects/noproject"): {"admin"},
    Call("POST", "/api/projects/noproject/lots", body={}): {"admin"},
    Call("POST", "/api/lots/nolot/session", body={}): {"admin"},
    Call("GET", "/api/sessions/{s}/people"): ADMINS_HERE,
    Call("POST", "/api/sessions/{s}/people", body={}): ADMINS_HERE,
    Call("GET", "/api/sessions/{s}/fees"): ADMINS_HERE,
    Call("POST", "/api/sessions/{s}/re-review", body={}): ADMINS_HERE,
    Call("POST", "/api/projects/noproject/documents"): {"admin"},
    Call("GET", "/api/projects/noproject/documents"): {"admin", "archivist", "auditor"},
    Call("GET", "/api/projects/noproject/documents/x.pdf"): {"admin", "archivist", "auditor"},
    # The expert pool and the push subscriptions are the province's.
    Call("POST", "/api/experts/pool", body={}): {"admin"},
    Call("GET", "/api/experts/pool"): {"admin"},
    Call("POST", "/api/lots/nolot/draws/sub-venues", body={}): {"admin"},
    Call("POST", "/api/lots/nolot/draws/experts", body={}): {"admin"},
    Call("POST", "/api/draws/nodraw/reveal"): {"admin"},
    # Centre-wide supervisors see every draw (8.4-2).
    Call("GET", "/api/draws/nodraw"): {"admin", "supervisor_all"},
    Call("GET", "/api/lots/nolot/draws"): {"admin", "supervisor_all"},
    # Push subscribers and their delivery logs are the administration's (5.5).
    Call("GET", "/api/webhooks"): {"admin"},
    Call("POST", "/api/webhooks", body={}): {"admin"},
    Call("POST", "/api/webhooks/nohook/disable"): {"admin"},
    Call("POST", "/api/webhooks/nohook/secret"): {"admin"},
    Call("GET", "/api/webhooks/nohook/deliveries"): {"admin"},
    # A bid opening: set up by the administration; read by its people (also once ended) and by
    # those who watch; commanded by its people while it runs (the opening decides who may give
    # which command); a bidder's own routes. The demo's session is an evaluation: past the
    # table, its handlers answer that it is not an opening.
    Call("POST", "/api/lots/nolot/opening", body={}): {"admin"},
    Call("POST", "/api/sessions/{s}/bidders", body={}): ADMINS_HERE,
    Call("GET", "/api/sessions/{s}/opening"): OPENING_READERS,
    Call("POST", "/api/sessions/{s}/opening", body={"kind": "notice"}): OPENING_ACTORS,
    Call("POST", "/api/sessions/{s}/opening/record", body={}): OPENING_ACTORS,
    Call("GET", "/api/sessions/{s}/opening/record"): OPENING_READERS,
    Call("POST", "/api/sessions/{s}/opening/sign-in", body={}): {"bidder"},
    Call("POST", "/api/sessions/{s}/bids"): {"bidder"},
    Call("POST", "/api/sessions/{s}/opening/key", body={}): {"bidder"},
    Call("POST", "/api/sessions/{s}/opening/objections", body={}): {"bidder"},
    Call("GET", "/api/sessions/{s}/opening/objections/1/attachment"): OPENING_READERS,
    # Clarification (3.2): the main venue's host asks for the committee; a bidder reads and
    # answers its questions, also after its opening ended; the committee reads the exchange
    # and the opening's record.
    Call("POST", "/api/sessions/{s}/clarifications", body={}): {"host"},
    Call("GET", "/api/sessions/{s}/clarifications"): LIVE_READERS,
    Call("GET", "/api/sessions/{s}/bidder-clarifications"): {"bidder"},
    Call("POST", "/api/sessions/{s}/bidder-clarifications/1/answer", body={}): {"bidder"},
    Call("GET", "/api/sessions/{s}/opening-record"): LIVE_READERS,
    Call("GET", "/api/sessions/{s}/opening-record/sheet"): LIVE_READERS,
    # The code is the credential: anyone may try one (an empty body is refused for its shape).
    Call("POST", "/api/login", body={}): set(WHO),
    # Links are taken back or re-issued by the main venue's host or an administrator.
    Call("POST", "/api/sessions/{s}/links/{e}/revoke", body={}): ADMINS_HERE | {"host"},
    Call("POST", "/api/sessions/{s}/links/{e}/reissue", body={"ttl_s": 1}): ADMINS_HERE | {"host"},
    # TURN credentials of one's own: for the pages that open media connections, while the
    # session runs (a centre-wide supervisor's wall reaches every session).
    Call("GET", "/api/sessions/{s}/ice-servers"): {"expert", "supervisor", "supervisor_all"},
    Call("GET", "/api/sessions/{s}/roster"): LIVE_READERS,
    Call("GET", "/api/sessions/{s}/workflow"): LIVE_READERS,
    # Ops engineers give the technical commands of incidents (the workflow decides which).
    Call("POST", "/api/sessions/{s}/workflow", body={"kind": "no_such_command"}): ADMINS_HERE
    | {
        "ops",
        "host",
        "host_sub",
        "staff",
        "staff_sub",
        "expert",
        "supervisor",
        "supervisor_all",
    },
    # The end instruction is the main venue's host's; an administrator's needs a reason.
    Call("POST", "/api/sessions/{s}/end", body={}): ADMINS_HERE | {"host"},
    Call("POST", "/api/sessions/{s}/report", raw=b"not a pdf"): {"host", "host_sub", "expert"},
    Call("GET", "/api/sessions/{s}/report"): LIVE_READERS,
    Call("POST", "/api/sessions/{s}/identity/{e}"): {"host", "host_sub", "staff"},
    Call("GET", "/api/sessions/{s}/activity"): ADMINS_HERE
    | {
        "host",
        "host_sub",
        "staff",
        "staff_sub",
        "witness",
        "supervisor",
        "supervisor_all",
    },
    Call("GET", "/api/sessions/{s}/evidence/1/x.jpg"): ADMINS_HERE
    | {
        "host",
        "host_sub",
        "staff",
        "staff_sub",
        "witness",
        "supervisor",
        "supervisor_all",
        "archivist",
        "auditor",
    },
    Call("POST", "/api/sessions/{s}/experts", body={}): ADMINS_HERE,
    Call("POST", "/api/sessions/{s}/experts/{e}/replacement", body={}): {
        "host",
        "host_sub",
        "staff",
        "staff_sub",
    },
    Call("POST", "/api/sessions/{s}/experts/{e}/redraw", body={}): {
        "host",
        "host_sub",
        "staff",
        "staff_sub",
    },
    Call("POST", "/api/venues/{v}/door-access", body={}): ADMINS_HERE | {"door"},
    Call("GET", "/api/archive/sessions"): ARCHIVE_KEEPERS
    | SUPERVISORS
    | {"admin_elsewhere", "tenderer", "bidder"},
    Call("GET", "/api/archive/sessions/{s}"): ARCHIVE_KEEPERS
    | {"supervisor", "supervisor_all", "supervisor_ended", "tenderer", "bidder"},
    Call("GET", "/api/archive/sessions/{s}/files/part-0001/events.jsonl"): ARCHIVE_KEEPERS
    | {"supervisor", "supervisor_all", "supervisor_ended", "tenderer", "bidder"},
    Call("POST", "/api/archive/sessions/{s}/verify"): ARCHIVE_KEEPERS
    | {"supervisor", "supervisor_all", "supervisor_ended"},
    Call("POST", "/api/archive/sessions/{s}/export"): ARCHIVE_KEEPERS
    | {"supervisor", "supervisor_all", "supervisor_ended"},
    Call("POST", "/api/archive/sessions/{s}/party-links", body={}): ADMINS_HERE | {"archivist"},
    # A session's party links: listed, revoked and re-issued by those who may give them.
    Call("GET", "/api/archive/sessions/{s}/party-links"): {"admin", "admin_here", "archivist"},
    Call("POST", "/api/archive/sessions/{s}/party-links/{l}/revoke", body={}): {
        "admin",
        "admin_here",
        "archivist",
    },
    Call("POST", "/api/archive/sessions/{s}/party-links/{l}/reissue", body={}): {
        "admin",
        "admin_here",
        "archivist",
    },
    Call("GET", "/api/archive/exports/0123456789abcdef"): ARCHIVE_KEEPERS
    | SUPERVISORS
    | {"admin_elsewhere"},
    Call("GET", "/api/archive/exports/0123456789abcdef/file"): ARCHIVE_KEEPERS
    | SUPERVISORS
    | {"admin_elsewhere"},
}

# A connection's session is its token's: another session's expert opens their own seat.
NAMESPACES = {
    "/seat": {"expert", "expert_other"},
    "/console": {"host", "host_sub", "staff", "staff_sub", "witness"},
    "/wall": SUPERVISORS,
    # The demo's session is no opening: nobody opens a hall of it (test_hall has the others).
    "/hall": set(),
}


@dataclass
class World:
    """The demo session in check-in, another session that ended, and every kind of token."""

    server: RunningServer
    who: dict[str, Who]
    main_venue: str
    expert_id: str
    centre_id: str
    party_link: str


@pytest.fixture
async def world(room_server: RunningServer) -> AsyncIterator[World]:
    server = room_server
    store = server.services.store
    tokens = server.tokens
    demo = server.demo
    sid = demo.session.id
    main, sub = demo.venues[0].id, demo.venues[1].id
    experts = server.experts
    staff_of = {p.venue_id: p for p in demo.participants if p.role == Role.STAFF}
    staff_main, staff_sub = staff_of[main], staff_of[sub]
    host_sub = Participant(new_id(), sid, Role.HOST, "副场主持人", venue_id=sub)
    await store.add_participant(host_sub)

    other = await create_load_session(store, 1, now=datetime.now(UTC))
    other_expert = other.participants[0]
    ended = await create_load_session(store, 1, now=datetime.now(UTC))
    ended_id = ended.session.id
    ended_host = Participant(new_id(), ended_id, Role.HOST, "已结束场主持人", ended.venues[0].id)
    ended_supervisor = Participant(new_id(), ended_id, Role.SUPERVISOR, "已结束场监督")
    for p in (ended_host, ended_supervisor):
        await store.add_participant(p)
    await store.set_session_state(ended_id, SessionState.ENDED)

    def issue(p: Participant) -> str:
        return tokens.issue(p)

    link = participant_link(server.participant(Role.HOST), by="test", ttl_s=3600)
    await issue_link(store, store.append_event, link)
    await store.revoke_links(by="test", reason="收回", link_id=link.id)
    week = datetime.now(UTC) + timedelta(days=7)
    party = unrostered_link(Role.BIDDER, "投标人丙", by="test", expires_at=week, session_id=sid)
    await issue_link(store, store.append_event, party)

    here = demo.venues[0].centre_id
    elsewhere = Centre(new_id(), "另一交易中心", "大连市", "210200")
    await store.add_centre(elsewhere)

    forged = TokenIssuer(b"k" * 32, default_ttl_s=3600).issue(experts[0])
    who = {
        "none": Who(None, sid),
        "forged": Who(forged, sid),
        "expired": Who(tokens.issue(experts[0], ttl_s=-60), sid),
        "admin": Who(tokens.issue_admin(), sid),
        "admin_here": Who(tokens.issue_admin("本中心管理员", centre=here), sid),
        "admin_elsewhere": Who(tokens.issue_admin("他中心管理员", centre=elsewhere.id), sid),
        "ops": Who(tokens.issue_ops("省运维"), sid),
        "ops_elsewhere": Who(tokens.issue_ops("他中心运维", centre=elsewhere.id), sid),
        "host": Who(issue(server.participant(Role.HOST)), sid),
        "host_sub": Who(issue(host_sub), sid),
        "staff": Who(issue(staff_main), sid),
        "staff_sub": Who(issue(staff_sub), sid),
        "witness": Who(issue(server.participant(Role.WITNESS)), sid),
        "expert": Who(issue(experts[0]), sid),
        "expert_withdrawn": Who(issue(experts[1]), sid),
        "expert_other": Who(issue(other_expert), sid),
        "supervisor": Who(issue(server.participant(Role.SUPERVISOR)), sid),
        "supervisor_all": Who(tokens.issue_supervisor("省监督"), sid),
        "archivist": Who(issue(server.participant(Role.ARCHIVIST)), sid),
        "auditor": Who(tokens.issue_auditor("审计"), sid),
        "tenderer": Who(tokens.issue_party(Role.TENDERER, "招标人甲", sid), sid),
        "bidder": Who(tokens.issue_party(Role.BIDDER, "投标人乙", sid), sid),
        "door": Who(tokens.issue_door(main), sid),
        "expert_ended": Who(issue(ended.participants[0]), ended_id),
        "host_ended": Who(issue(ended_host), ended_id),
        "supervisor_ended": Who(issue(ended_supervisor), ended_id),
        "host_revoked": Who(tokens.issue_link_session(link), sid),
    }
    assert set(who) == set(WHO)
    async with aiohttp.ClientSession() as http:
        base = f"{server.base_url}/api/sessions/{sid}/workflow"

        async def command(token: str | None, kind: str, **fields: Any) -> None:
            body = {"kind": kind, "fields": fields}
            async with http.post(base, json=body, headers=_auth(token)) as r:
                assert r.status == 200, await r.text()

        await command(who["host"].token, "open_check_in")
        await command(who["expert_withdrawn"].token, "withdraw", reason="与投标人有利害关系")
    yield World(server, who, main, experts[0].id, here, party.id)


def _auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


async def _outcome(http: aiohttp.ClientSession, world: World, call: Call, who: Who) -> str:
    path = (
        call.path.replace("{s}", who.session_id)
        .replace("{v}", world.main_venue)
        .replace("{e}", world.expert_id)
        .replace("{c}", world.centre_id)
        .replace("{l}", world.party_link)
        .replace("{idx}", "99")
    )
    kwargs: dict[str, Any] = {"headers": _auth(who.token)}
    if call.body is not None:
        kwargs["json"] = call.body
    if call.raw is not None:
        kwargs["data"] = call.raw
    async with http.request(call.method, world.server.base_url + path, **kwargs) as r:
        assert r.status < 500, (call, who, r.status, await r.text())
        if r.status < 400:
            return "allowed"
        problem = await r.json(content_type=None)
        code = problem.get("code")
        if code in ACCESS_CODES or code == ENDED_CODE:
            return "refused"
        return "allowed"


async def test_every_route_answers_every_kind_of_token_as_the_table_says(world: World) -> None:
    wrong: list[str] = []
    async with aiohttp.ClientSession() as http:
        for call, allowed in MATRIX.items():
            for name in WHO:
                expected = "allowed" if name in allowed else "refused"
                got = await _outcome(http, world, call, world.who[name])
                if got != expected:
                    wrong.append(f"{call.method} {call.path} × {name}: {got}, expected {expected}")
    assert not wrong, "\n".join(wrong)


def test_every_route_of_the_app_has_a_row_and_a_matrix_entry(world: World) -> None:
    app = world.server.app
    endpoints = app[ENDPOINTS]
    called = {(c.method, c.path) for c in MATRIX}
    missing_row, missing_cell = [], []
    for resource in app.router.resources():
        canonical = resource.canonical
        for route in resource:
            if route.method in ("HEAD", "OPTIONS", "*"):
                continue
            key = (route.method, canonical)
            row = endpoints.get(key) or endpoints.get((route.method, canonical.rstrip("/") + "/"))
            if row is None:
                missing_row.append(key)
            if canonical.startswith(("/static", "/vendor", "/socket.io")):
                continue
            template = (
                canonical.replace("{session_id}", "{s}")
                .replace("{venue_id}", "{v}")
                .replace("{expert_id}", "{e}")
                .replace("{centre_id}", "{c}")
                .replace("{index}", "{idx}")
            )
            if not any(m == route.method and _same_route(template, p) for m, p in called):
                missing_cell.append(key)
    assert not missing_row, f"routes without a row in the policy table: {missing_row}"
    assert not missing_cell, f"routes the matrix does not call: {missing_cell}"
    assert {row.action for row in endpoints.values()} <= set(POLICY)


def _same_route(template: str, path: str) -> bool:
    """Whether a matrix path is an instance of a route template."""
    parts, given = template.split("/"), path.split("/")
    if "{path}" in template:
        return path.startswith(template.split("{path}")[0])
    if len(parts) != len(given):
        return False
    return all(p == g or p.startswith("{") for p, g in zip(parts, given, strict=True))


async def _connects(world: World, namespace: str, who: Who) -> str:
    client = socketio.AsyncClient(reconnection=False)
    try:
        await client.connect(
            world.server.base_url,
            namespaces=[namespace],
            auth={"token": who.token} if who.token else {},
            transports=["websocket"],
            wait_timeout=10,
        )
    except socketio.exceptions.ConnectionError:
        return "refused"
    await client.disconnect()
    return "allowed"


async def test_every_namespace_admits_only_the_roles_the_table_opens_it_to(world: World) -> None:
    wrong = []
    for namespace, allowed in {**NAMESPACES, "/": set()}.items():
        for name in WHO:
            expected = "allowed" if name in allowed else "refused"
            got = await _connects(world, namespace, world.who[name])
            if got != expected:
                wrong.append(f"{namespace} × {name}: {got}, expected {expected}")
    assert not wrong, "\n".join(wrong)


async def test_an_expert_who_withdraws_loses_the_seat_and_every_read_at_once(
    room_server: RunningServer,
) -> None:
    server = room_server
    sid = server.demo.session.id
    expert = server.experts[2]
    token = server.token(expert)
    host = server.token(server.participant(Role.HOST))
    seat = SyntheticSeat(server.base_url, token, camera=CounterVideoTrack((40, 160, 90)))
    async with seat, aiohttp.ClientSession() as http:
        url = f"{server.base_url}/api/sessions/{sid}"
        async with http.get(f"{url}/roster", headers=_auth(token)) as r:
            assert r.status == 200
        for who, kind, fields in (
            (host, "open_check_in", {}),
            (token, "withdraw", {"reason": "与投标人有利害关系"}),
        ):
            body = {"kind": kind, "fields": fields}
            async with http.post(f"{url}/workflow", json=body, headers=_auth(who)) as r:
                assert r.status == 200, await r.text()
        await polling.wait_until(
            lambda: any(
                e == "replaced" and d.get("code") == "expert_withdrew" for e, d in seat.events
            ),
            10,
            "the seat told it is no longer in the session",
        )
        for path in ("roster", "workflow", "report"):
            async with http.get(f"{url}/{path}", headers=_auth(token)) as r:
                assert r.status == 403, (path, await r.text())
    room = server.services.rooms.find(sid)
    assert room is not None
    assert all(s.participant_id != expert.id for s in room.seats.values())


async def test_a_refused_valid_token_is_on_the_sessions_record_and_a_report_read_too(
    room_server: RunningServer,
) -> None:
    server = room_server
    sid = server.demo.session.id
    bidder = server.tokens.issue_party(Role.BIDDER, "投标人乙", sid)
    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"{server.base_url}/api/sessions/{sid}/roster", headers=_auth(bidder)
        ) as r:
            assert r.status == 403
        async with http.get(f"{server.base_url}/api/sessions/{sid}/roster") as r:
            assert r.status == 401
    refused = await polling.wait_event(
        server.services.store, sid, "request_refused", code="role_not_allowed"
    )
    assert refused.actor == "bidder:投标人乙"
    assert refused.data["event"] == "GET /api/sessions/{session_id}/roster"
    events = await server.services.store.list_events(sid)
    assert sum(e.kind == "request_refused" for e in events) == 1  # not the tokenless one


# The hall's media events, in the demo's opening, × every kind of token that opens its hall:
# everybody there watches the broadcast; only its speakers speak (never the witness, a
# supervisor, an administrator or the public).
HALL_WHO = "host witness tenderer agency bidder public supervisor_all admin".split()
HALL_SPEAKERS = {"host", "tenderer", "agency", "bidder"}
HALL_EVENTS = {
    "watch": set(HALL_WHO),
    "watch_candidate": set(HALL_WHO),
    "unwatch": set(HALL_WHO),
    "speak": HALL_SPEAKERS,
    "speak_candidate": HALL_SPEAKERS,
    "stop_speaking": HALL_SPEAKERS,
}


async def test_every_hall_event_answers_every_kind_of_token_as_the_table_says(
    room_server: RunningServer,
) -> None:
    server = room_server
    opening = server.demo.opening
    assert opening is not None
    sid = opening.id
    people = {p.role: p for p in server.demo.opening_people}
    week = datetime.now(UTC) + timedelta(days=7)
    public = unrostered_link(Role.PUBLIC, "公众", by="test", expires_at=week, session_id=sid)
    await issue_link(server.services.store, server.services.events.append, public)
    tokens = {
        **{
            name: server.token(people[Role(name)])
            for name in ("host", "witness", "tenderer", "agency", "bidder")
        },
        "public": server.tokens.issue_link_session(public),
        "supervisor_all": server.tokens.issue_supervisor("省监督"),
        "admin": server.tokens.issue_admin(),
    }
    wrong = []
    for name in HALL_WHO:
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(
            server.base_url,
            namespaces=["/hall"],
            auth={"token": tokens[name], "session_id": sid},
            transports=["websocket"],
            wait_timeout=10,
        )
        try:
            for event, allowed in HALL_EVENTS.items():
                answer = await client.call(event, {}, namespace="/hall", timeout=15)
                refused = not answer["ok"] and answer["error"]["code"] in ACCESS_CODES
                got = "refused" if refused else "allowed"
                expected = "allowed" if name in allowed else "refused"
                if got != expected:
                    wrong.append(f"/hall:{event} × {name}: {got}, expected {expected}")
        finally:
            await client.disconnect()
    assert not wrong, "\n".join(wrong)
