"""Amounts read out in figures and in Chinese capitals (大写), as financial documents write them."""

from __future__ import annotations

import pytest

from roomserver.amounts import in_capitals, in_figures


@pytest.mark.parametrize(
    ("amount", "capitals"),
    [
        ("0", "零元整"),
        ("0.00", "零元整"),
        ("0.5", "伍角整"),
        ("0.05", "伍分"),
        ("1", "壹元整"),
        ("10", "壹拾元整"),
        ("105", "壹佰零伍元整"),
        ("100.05", "壹佰元零伍分"),
        ("1000.50", "壹仟元伍角整"),
        ("1010", "壹仟零壹拾元整"),
        ("10010", "壹万零壹拾元整"),
        ("101000", "壹拾万壹仟元整"),
        ("1000100", "壹佰万零壹佰元整"),
        ("11800000", "壹仟壹佰捌拾万元整"),
        ("12345678.90", "壹仟贰佰叁拾肆万伍仟陆佰柒拾捌元玖角整"),
        ("100000000", "壹亿元整"),
        ("100001000", "壹亿零壹仟元整"),
        ("120034000", "壹亿贰仟零叁万肆仟元整"),
        ("1000000000.01", "壹拾亿元零壹分"),
    ],
)
def test_capitals(amount: str, capitals: str) -> None:
    assert in_capitals(amount) == capitals


def test_figures() -> None:
    assert in_figures("12345678.9") == "12,345,678.90"
    assert in_figures("0") == "0.00"


@pytest.mark.parametrize("amount", ["", "-1", "1.234", "01", "1e5", "1,000", " 1", "1" * 16])
def test_what_is_not_an_amount(amount: str) -> None:
    with pytest.raises(ValueError):
        in_capitals(amount)
