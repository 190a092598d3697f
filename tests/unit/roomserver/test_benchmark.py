"""The benchmark-price draw: reproducible from the revealed seed, checked against the commitment."""

from __future__ import annotations

import pytest

from roomserver import lots
from roomserver.benchmark import Parameter, draw, facts_json, verify
from roomserver.errors import InvalidRequest

SEED = bytes(range(32))
PARAMETERS = (
    Parameter("k", "下浮率K", ("1%", "2%", "3%", "4%", "5%")),
    Parameter("weight", "权重系数", ("0.6", "0.7", "0.8")),
)


def test_the_same_seed_and_facts_give_the_same_values() -> None:
    values = draw(SEED, "lot-1", PARAMETERS)
    assert values == draw(SEED, "lot-1", PARAMETERS)
    assert values["k"] in PARAMETERS[0].candidates
    assert values["weight"] in PARAMETERS[1].candidates
    assert verify(SEED.hex(), lots.commitment(SEED), "lot-1", PARAMETERS, values)


def test_the_values_depend_on_the_seed_and_every_fact() -> None:
    seeds = [bytes([i]) * 32 for i in range(40)]
    assert len({draw(s, "lot-1", PARAMETERS)["k"] for s in seeds}) == 5
    other_lot = [draw(s, "lot-2", PARAMETERS) for s in seeds]
    assert other_lot != [draw(s, "lot-1", PARAMETERS) for s in seeds]


def test_a_draw_that_does_not_match_is_found_out() -> None:
    values = draw(SEED, "lot-1", PARAMETERS)
    committed = lots.commitment(SEED)
    other = bytes(32)
    assert not verify(other.hex(), committed, "lot-1", PARAMETERS, draw(other, "lot-1", PARAMETERS))
    changed = {**values, "k": next(v for v in PARAMETERS[0].candidates if v != values["k"])}
    assert not verify(SEED.hex(), committed, "lot-1", PARAMETERS, changed)
    assert not verify("zz", committed, "lot-1", PARAMETERS, values)


def test_the_facts_are_canonical() -> None:
    assert facts_json("lot-1", PARAMETERS).isascii()
    assert '"candidates":["1%","2%","3%","4%","5%"]' in facts_json("lot-1", PARAMETERS)


@pytest.mark.parametrize(
    ("name", "label", "candidates"),
    [("K", "下浮率", ("1",)), ("k", " ", ("1",)), ("k", "下浮率", ()), ("k", "下浮率", ("1", "1"))],
)
def test_a_parameter_is_sound(name: str, label: str, candidates: tuple[str, ...]) -> None:
    with pytest.raises(InvalidRequest):
        Parameter(name, label, candidates)
