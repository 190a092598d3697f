"""What each person at a bid opening is shown of it (``roomserver.opening``), by role.

- **Before the deadline** nobody may learn who else has signed in or submitted, nor how many
  (招标投标法 22): a bidder sees its own sign-in and submission; the tenderer, its agency and the
  public see the countdown only. The host, the witness and the supervisors (监督人员) run and
  watch the opening and see every bidder.
- **From the deadline** the list of bidders who submitted is public in the hall (7.2.3-4), and
  with it each bid's decryption status and time, and why a bid is invalid (7.2.3-5).
- **The read-out** (唱标, 7.2.3-6) and the benchmark-price parameters drawn are public.
- **Objections** (异议, 7.2.3-9): a bidder sees its own with their answers; the tenderer, its
  agency and those who run or watch the opening see every one; the public none.
- **Incidents** (异常情况) with their handling and result are told to everybody in the hall as
  they happen, and the view keeps them, so that a page opened later shows them too.
- Nobody is shown a representative's ID digits but the host, the witness and supervisors, nor
  who is muted and why but those who run or watch the opening (a muted speaker is told it is);
  no view holds anything of the evaluation committee, which the opening knows nothing of.
"""

from __future__ import annotations

from typing import Any

from roomserver.model import Role
from roomserver.opening import Phase
from roomserver.openingstate import (
    DECISIONS,
    INCIDENT_KINDS,
    PHASE_LABELS,
    Bid,
    OpeningState,
    iso,
)
from roomserver.readout import readout_rows

# Those who run or watch the opening: every bidder, at every phase.
INSIDERS = frozenset({Role.HOST, Role.WITNESS, Role.SUPERVISOR, Role.ADMIN})
ANSWERING = frozenset({Role.TENDERER, Role.AGENCY})
# Who speaks in the hall (7.2.3-8), and so may be muted, with the words that name each role in
# the hall's media (the archive's track labels).
SPEAKER_WORDS = {
    Role.HOST: "主持人",
    Role.BIDDER: "投标人",
    Role.TENDERER: "招标人",
    Role.AGENCY: "招标代理机构",
}
SPEAKERS = frozenset(SPEAKER_WORDS)
BEFORE_DEADLINE = frozenset({Phase.SCHEDULED, Phase.SUBMISSION})

STATUS_LABELS = {
    "absent": "未签到",
    "signed_in": "已签到",
    "submitted": "已递交",
    "key_released": "正在解密",
    "decrypted": "已解密",
    "decryption_failed": "解密失败",
    "failure_reported": "已报告解密失败",
    "accepted": DECISIONS["accepted"],
    "rejected": DECISIONS["rejected"],
}


def _own(bid: Bid, *, insider: bool) -> dict[str, Any]:
    """A bid as its own bidder (or an insider) sees it."""
    sign_in = bid.sign_in
    submission = bid.submission
    return {
        "status": bid.status,
        "status_label": STATUS_LABELS[bid.status],
        "signed_in_at": iso(sign_in.at) if sign_in else None,
        "representative": sign_in.representative if sign_in else None,
        "id_last4": sign_in.id_last4 if sign_in and insider else None,
        "submitted_at": iso(submission.at) if submission else None,
        "blob_sha256": submission.record.blob_sha256 if submission else None,
        "released_at": iso(bid.released_at),
        "refused": bid.refused,
        "failure": bid.failure,
        "decision": bid.decision,
        "handling": bid.handling,
        "confirmed": bid.confirmed,
    }


def _public(bid: Bid) -> dict[str, Any]:
    """A submitted bid as the hall shows it to everybody after the deadline."""
    return {
        "status": bid.status,
        "status_label": STATUS_LABELS[bid.status],
        "submitted_at": iso(bid.submission.at) if bid.submission else None,
        "released_at": iso(bid.released_at),
        "refused": bid.refused,
        "failure": bid.failure,
        "decision": bid.decision,
        "confirmed": bid.confirmed,
    }


def _bidders(state: OpeningState, role: Role | None, viewer: str | None) -> list[dict[str, Any]]:
    insider = role in INSIDERS
    if state.phase in BEFORE_DEADLINE:
        if insider:
            ids = list(state.bidders)
        elif role == Role.BIDDER and viewer is not None and viewer in state.bidders:
            ids = [viewer]
        else:
            return []
        return [
            {"bidder": b, "name": state.bidders[b], **_own(state.bid(b), insider=insider)}
            for b in ids
        ]
    ids = list(state.bidders) if insider else list(state.submitted)
    rows = []
    for b in ids:
        bid = state.bid(b)
        shown = _own(bid, insider=insider) if insider or b == viewer else _public(bid)
        rows.append(
            {
                "bidder": b,
                "name": state.bidders[b],
                "submitted": b in state.submitted,
                "invalid": state.invalid.get(b),
                **shown,
            }
        )
    return rows


def _objections(state: OpeningState, role: Role | None, viewer: str | None) -> list[dict[str, Any]]:
    if role in INSIDERS or role in ANSWERING:
        shown = state.objections
    elif role == Role.BIDDER:
        shown = tuple(o for o in state.objections if o.bidder == viewer)
    else:
        return []
    return [
        {
            "number": o.number,
            "bidder": o.bidder,
            "name": state.bidders.get(o.bidder, ""),
            "text": o.text,
            "attachment": dict(o.attachment) if o.attachment else None,
            "answer": o.answer,
        }
        for o in shown
    ]


def opening_view(state: OpeningState, role: Role | None, viewer: str | None) -> dict[str, Any]:
    """The opening as `viewer` (a participant id) of `role` is shown it."""
    published = state.phase not in BEFORE_DEADLINE
    read_out = state.phase in (Phase.READ_OUT, Phase.SIGNING) or (
        state.phase == Phase.ENDED and state.failed is None
    )
    benchmark = None
    if state.benchmark:
        benchmark = {
            "parameters": [p.as_json() for p in state.benchmark],
            "commitment": state.benchmark_commitment,
            "seed": state.benchmark_seed,
            "values": dict(state.benchmark_values) if state.benchmark_values else None,
        }
    return {
        "lot_id": state.lot_id,
        "phase": str(state.phase),
        "phase_label": PHASE_LABELS[state.phase],
        "paused": state.paused,
        "pause_reason": state.pause_reason,
        "public": state.public,
        "deadline": iso(state.deadline),
        "decryption_until": iso(state.decryption_until),
        "min_bids": state.min_bids,
        "fields": [f.as_json() for f in state.fields],
        "bidders": _bidders(state, role, viewer),
        "submitted_count": len(state.submitted) if published else None,
        "valid": list(state.valid),
        "benchmark": benchmark,
        "readout": readout_rows(state) if read_out else [],
        "objections": _objections(state, role, viewer),
        "record": {
            "sha256": state.record_sha256,
            "sm3": state.record_sm3,
            "signed_by": [
                {"signer": s.signer, "role": str(s.role)}
                for s in state.signatures
                if s.record_sha256 == state.record_sha256
            ],
        },
        "keys": sorted(state.keys) if role in INSIDERS else [],
        "muted": sorted(state.muted) if role in INSIDERS else [],
        "mute_reasons": dict(state.muted) if role in INSIDERS else {},
        "incidents": [
            {
                "number": i.number,
                "kind": i.kind,
                "kind_label": INCIDENT_KINDS.get(i.kind, i.kind),
                "description": i.description,
                "handling": list(i.handling),
                "result": i.result,
            }
            for i in state.incidents
        ],
        "you_are_muted": viewer in state.muted if viewer else False,
        "failed": state.failed,
        "forced_end": state.forced_end,
    }
