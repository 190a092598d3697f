"""The committee workflow's test scenery: three experts in two venues, their keys, and
helpers that bring a session to each phase."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from roomserver import lots, signatures
from roomserver.errors import RoomError
from roomserver.model import Role
from roomserver.workflow import Command, Happened, WorkflowState, apply

MAIN, SUB = "venue-main", "venue-sub"
VENUES = {"e1": MAIN, "e2": MAIN, "e3": SUB}
EXPERTS = frozenset(VENUES)
SESSION = "session-1"
REPORT = hashlib.sha256(b"report").hexdigest()
REPORT_SM3 = "5" * 64
OTHER_REPORT = hashlib.sha256(b"other report").hexdigest()
HANDWRITING = {"path": "documents/x.png", "sha256": "d" * 64, "sm3": "e" * 64}
HOST = ("host-1", Role.HOST, MAIN)
STAFF = ("staff-main", Role.STAFF, MAIN)
SUB_STAFF = ("staff-sub", Role.STAFF, SUB)
SUPERVISOR = ("sup-1", Role.SUPERVISOR, None)
KEYS = {e: ec.generate_private_key(ec.SECP256R1()) for e in ("e1", "e2", "e3", "e4")}

SNAPSHOT = {"path": "evidence/identity.jpg", "sha256": "a" * 64}
SEED = bytes(range(32))
COMMITMENT = lots.commitment(SEED)
REVOTE = {"tie_rule": "revote", "max_rounds": 3, "lot_commitment": COMMITMENT}
LOT = {"tie_rule": "lot", "lot_commitment": COMMITMENT}

Who = tuple[str, Role, str | None]


def cmd(kind: str, who: Who, /, **fields: Any) -> Command:
    return Command(kind=kind, actor=who[0], role=who[1], fields=fields, venue=who[2])


def expert(e: str) -> Who:
    return (e, Role.EXPERT, VENUES.get(e, SUB))


def spki(e: str) -> str:
    der = (
        KEYS[e]
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return base64.b64encode(der).decode()


def sign_as(e: str, sha256: str = REPORT, sm3: str = REPORT_SM3, signer: str = "") -> str:
    """What the seat page's WebCrypto gives: ECDSA P-256 / SHA-256 as r‖s, base64."""
    message = signatures.statement(SESSION, e, sha256, sm3)
    der = KEYS[signer or e].sign(message, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()


def sign_cmd(e: str, **overrides: Any) -> Command:
    fields = {"expert": e, "report_sha256": REPORT, "signature": sign_as(e)}
    fields["handwriting"] = HANDWRITING
    fields.update(overrides)
    return cmd("sign", expert(e), **fields)


def run(state: WorkflowState, *commands: Command) -> WorkflowState:
    for command in commands:
        state, _ = apply(state, command)
    return state


def fresh() -> WorkflowState:
    return WorkflowState(session_id=SESSION, main_venue=MAIN, venues=VENUES)


def at_check_in() -> WorkflowState:
    return run(fresh(), cmd("open_check_in", HOST))


def checked_in(state: WorkflowState, e: str) -> WorkflowState:
    staff = STAFF if state.venues[e] == MAIN else SUB_STAFF
    return run(
        state,
        cmd("check_in", staff, expert=e, snapshot=SNAPSHOT),
        cmd("commit", expert(e), expert=e, no_conflict=True),
        cmd("register_key", expert(e), expert=e, public_key=spki(e)),
    )


def at_election() -> WorkflowState:
    state = at_check_in()
    for e in sorted(EXPERTS):
        state = checked_in(state, e)
    return run(state, cmd("start_election", HOST, **REVOTE))


def ballots(state: WorkflowState, votes: dict[str, str]) -> tuple[WorkflowState, list[Happened]]:
    happened = []
    for voter, candidate in votes.items():
        state, h = apply(
            state, cmd("cast_ballot", expert(voter), expert=voter, candidate=candidate)
        )
        happened.append(h)
    return state, happened


def at_evaluation() -> WorkflowState:
    state, _ = ballots(at_election(), {"e1": "e2", "e2": "e2", "e3": "e1"})
    return state


def put_up(sha256: str = REPORT) -> dict[str, Any]:
    return {"report_sha256": sha256, "report_sm3": REPORT_SM3, "document": {"path": "r.pdf"}}


def at_signing() -> WorkflowState:
    return run(at_evaluation(), cmd("start_signing", expert("e2"), **put_up()))


def signed_by_all() -> WorkflowState:
    return run(at_signing(), *(sign_cmd(e) for e in sorted(EXPERTS)))


def refused(
    state: WorkflowState, command: Command, error: type[RoomError], text: str = ""
) -> RoomError:
    """`command` is refused with `error`; the state object is left exactly as it was."""
    before = state
    with pytest.raises(error) as caught:
        apply(state, command)
    assert state == before
    assert text in caught.value.message
    return caught.value
