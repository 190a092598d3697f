"""Draws of sub venues and experts: reproducible from the seed and the facts, steered by nobody."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from roomserver.draws import Candidate, Draw, Need, commitment, verify
from roomserver.errors import DrawShortfall, InvalidRequest

SEED = bytes(range(32))
OTHER_SEED = bytes(range(1, 33))


def expert(eid: str, city: str, *specialties: str, employer: str = "") -> Candidate:
    attrs = {"city": (city,), "specialty": specialties}
    if employer:
        attrs["employer"] = (employer,)
    return Candidate(eid, attrs)


POOL = (
    expert("e01", "沈阳", "建筑"),
    expert("e02", "沈阳", "建筑", "造价"),
    expert("e03", "沈阳", "造价", employer="某建设集团"),
    expert("e04", "大连", "建筑"),
    expert("e05", "大连", "造价"),
    expert("e06", "大连", "建筑", "造价"),
    expert("e07", "丹东", "建筑"),
    expert("e08", "丹东", "造价"),
    expert("e09", "沈阳", "建筑"),
    expert("e10", "大连", "建筑", employer="某建设集团"),
)


def expert_draw(**changes: object) -> Draw:
    facts: dict[str, object] = {
        "kind": "experts",
        "subject": "LN-2026-0001",
        "pool": POOL,
        "needs": (
            Need(2, {"city": "沈阳", "specialty": "建筑"}, "沈阳主场"),
            Need(1, {"city": "大连", "specialty": "造价"}, "大连副场"),
            Need(2, {"specialty": "建筑"}, "任一场"),
        ),
        "exclusions": {"employer": frozenset({"某建设集团"})},
    }
    facts.update(changes)
    return Draw(**facts)  # type: ignore[arg-type]


def test_the_same_seed_and_facts_give_the_same_experts() -> None:
    first = expert_draw().result(SEED)
    again = expert_draw().result(SEED)
    assert first == again
    assert [label for label, _ in first] == ["沈阳主场"] * 2 + ["大连副场"] + ["任一场"] * 2


def test_the_result_can_be_computed_by_anyone_from_the_published_facts() -> None:
    """The rule in the module's docstring, written out independently: rank by HMAC, serve the
    needs in order. An auditor needs nothing but the record."""
    draw = expert_draw()
    facts = draw.facts_json().encode("ascii")
    published = json.loads(facts)

    def rank(cid: str) -> bytes:
        return hmac.new(SEED, facts + b"\n" + cid.encode(), hashlib.sha256).digest()

    pool = {c["id"]: c["attributes"] for c in published["pool"]}
    ranked = [
        cid
        for cid in sorted(pool, key=rank)
        if not set(pool[cid].get("employer", ())) & set(published["exclusions"]["employer"])
    ]
    expected: list[tuple[str, str]] = []
    for need in published["needs"]:
        fits = [
            cid
            for cid in ranked
            if cid not in {c for _, c in expected}
            and all(v in pool[cid].get(k, ()) for k, v in need["conditions"].items())
        ]
        expected += [(need["label"], cid) for cid in fits[: need["count"]]]
    assert draw.result(SEED) == expected


def test_conditions_and_exclusions_are_met() -> None:
    drawn = expert_draw().result(SEED)
    by_id = {c.id: c for c in POOL}
    ids = [cid for _, cid in drawn]
    assert len(set(ids)) == len(ids)
    assert "e03" not in ids and "e10" not in ids  # employers of bidders
    for label, cid in drawn:
        attrs = by_id[cid].attributes
        assert "建筑" in attrs["specialty"] if label != "大连副场" else "造价" in attrs["specialty"]
        if label == "沈阳主场":
            assert attrs["city"] == ("沈阳",)
        if label == "大连副场":
            assert attrs["city"] == ("大连",)


def test_another_seed_or_another_pool_changes_the_ranks() -> None:
    draw = expert_draw()
    assert [c.id for c in draw.ranked(SEED)] != [c.id for c in draw.ranked(OTHER_SEED)]
    # Adding one candidate changes every rank: the pool cannot be fitted to a known seed.
    bigger = expert_draw(pool=(*POOL, expert("e11", "丹东", "建筑")))
    common = [c.id for c in bigger.ranked(SEED) if c.id != "e11"]
    assert common != [c.id for c in draw.ranked(SEED)]


def test_a_draw_that_cannot_serve_every_need_draws_nothing() -> None:
    draw = expert_draw(needs=(Need(4, {"city": "沈阳", "specialty": "建筑"}, "沈阳主场"),))
    with pytest.raises(DrawShortfall, match="沈阳主场：符合条件的候选只有 3 个，需要 4 个"):
        draw.result(SEED)


def test_a_replacement_excludes_everyone_drawn_before() -> None:
    first = expert_draw().result(SEED)
    drawn = frozenset(cid for _, cid in first)
    replacement = expert_draw(
        needs=(Need(1, {"specialty": "建筑"}, "任一场"),), excluded_ids=drawn
    ).result(OTHER_SEED)
    assert len(replacement) == 1 and replacement[0][1] not in drawn


def test_verify_checks_the_commitment_and_the_result() -> None:
    draw = expert_draw()
    committed = commitment(SEED)
    drawn = draw.result(SEED)
    assert verify(draw, SEED.hex(), committed, drawn)
    assert not verify(draw, OTHER_SEED.hex(), committed, draw.result(OTHER_SEED))
    assert not verify(draw, SEED.hex(), committed, list(reversed(drawn)))
    assert not verify(draw, "zz", committed, drawn)


def test_a_venue_draw_within_the_region() -> None:
    venues = tuple(
        Candidate(f"v{i}", {"region": ("210000",), "seats": tuple(str(n) for n in range(5, 11))})
        for i in range(6)
    )
    draw = Draw("sub_venues", "LN-2026-0001", venues, (Need(2, {"region": "210000"}),))
    result = draw.result(SEED)
    assert len(result) == 2 and verify(draw, SEED.hex(), commitment(SEED), result)


def test_malformed_draws_are_refused() -> None:
    with pytest.raises(InvalidRequest):
        Need(0)
    with pytest.raises(InvalidRequest):
        Draw("experts", "x", (expert("e1", "沈阳"), expert("e1", "大连")), (Need(1),))
    with pytest.raises(InvalidRequest):
        Draw("experts", "x", POOL, ())


def test_the_published_facts_give_back_the_same_draw() -> None:
    draw = expert_draw()
    again = Draw.from_facts_json(draw.facts_json())
    assert again.facts_json() == draw.facts_json()
    assert again.result(SEED) == draw.result(SEED)
