"""Bid prices as money: read from a plain decimal string, written in figures and in capitals."""

from __future__ import annotations

import pytest

from roomserver.amounts import MAX_FEN, Amount
from roomserver.errors import InvalidAmount, InvalidRequest

# Each expected string was worked out by hand from the rules in roomserver/amounts.py; the ones
# marked "rule" are the examples of the bank rules themselves.
CASES = [
    ("0", "¥0.00", "零元整"),
    ("0.00", "¥0.00", "零元整"),
    ("0.01", "¥0.01", "壹分"),
    ("0.05", "¥0.05", "伍分"),
    ("0.5", "¥0.50", "伍角"),
    ("0.52", "¥0.52", "伍角贰分"),
    ("1", "¥1.00", "壹元整"),
    ("10", "¥10.00", "壹拾元整"),
    ("10.00", "¥10.00", "壹拾元整"),
    ("10.01", "¥10.01", "壹拾元零壹分"),
    ("20.3", "¥20.30", "贰拾元叁角"),
    ("110", "¥110.00", "壹佰壹拾元整"),
    ("325.04", "¥325.04", "叁佰贰拾伍元零肆分"),  # rule
    ("1000.10", "¥1,000.10", "壹仟元壹角"),
    ("1010", "¥1,010.00", "壹仟零壹拾元整"),
    ("1409.50", "¥1,409.50", "壹仟肆佰零玖元伍角"),  # rule
    ("1680.32", "¥1,680.32", "壹仟陆佰捌拾元叁角贰分"),  # rule, its form without 零
    ("6007.14", "¥6,007.14", "陆仟零柒元壹角肆分"),  # rule
    ("10000", "¥10,000.00", "壹万元整"),
    ("16409.02", "¥16,409.02", "壹万陆仟肆佰零玖元零贰分"),  # rule
    ("100000", "¥100,000.00", "壹拾万元整"),
    ("100100", "¥100,100.00", "壹拾万零壹佰元整"),
    ("101000", "¥101,000.00", "壹拾万壹仟元整"),
    ("107000.53", "¥107,000.53", "壹拾万柒仟元伍角叁分"),  # rule, its form without 零
    ("1000000", "¥1,000,000.00", "壹佰万元整"),
    ("1234567.89", "¥1,234,567.89", "壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分"),
    ("10001000", "¥10,001,000.00", "壹仟万壹仟元整"),
    ("100000000", "¥100,000,000.00", "壹亿元整"),
    ("100000001", "¥100,000,001.00", "壹亿零壹元整"),  # 1,0000,0001
    ("100001000", "¥100,001,000.00", "壹亿零壹仟元整"),
    ("100010000", "¥100,010,000.00", "壹亿零壹万元整"),
    ("100010001.01", "¥100,010,001.01", "壹亿零壹万零壹元零壹分"),
    ("101000000", "¥101,000,000.00", "壹亿零壹佰万元整"),
    ("101010101.1", "¥101,010,101.10", "壹亿零壹佰零壹万零壹佰零壹元壹角"),
    ("110000000", "¥110,000,000.00", "壹亿壹仟万元整"),
    ("123456789", "¥123,456,789.00", "壹亿贰仟叁佰肆拾伍万陆仟柒佰捌拾玖元整"),
    ("1000000001", "¥1,000,000,001.00", "壹拾亿零壹元整"),  # 10,0000,0001
    ("100000000000", "¥100,000,000,000.00", "壹仟亿元整"),
    (
        "999999999999.99",
        "¥999,999,999,999.99",
        "玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分",
    ),
]


@pytest.mark.parametrize(("text", "figures", "capitals"), CASES)
def test_an_amount_is_written_in_figures_and_in_capitals(
    text: str, figures: str, capitals: str
) -> None:
    amount = Amount.parse(text)
    assert amount.figures() == figures
    assert amount.capitals() == capitals
    assert Amount.parse(str(amount)) == amount


def test_an_amount_is_kept_in_fen_and_compares_as_money() -> None:
    assert Amount.parse("1234567.89").fen == 123456789
    assert Amount.parse("0.5") == Amount(50)
    assert str(Amount(5)) == "0.05"
    assert Amount.parse("99.99") < Amount.parse("100") < Amount.parse("100.01")
    assert Amount.parse(" 12.50 ") == Amount(1250)  # a pasted figure's spaces are dropped
    assert Amount.parse("999999999999.99").fen == MAX_FEN


@pytest.mark.parametrize(
    "text",
    [
        "NaN", "nan", "Infinity", "-inf", "sNaN",  # Decimal reads these
        "1e3", "1E3", "1e-2",  # exponents
        "-1", "+1", "-0",  # signs
        "1,000", "1,000.00", "1_000",  # separators (Decimal reads 1_000)
        "1.", ".5", "1..2", "1.2.3",
        "１２３", "١٢٣", "一百",  # other scripts' digits (Decimal reads the first two)
        "¥100", "100元", "0x10", "1 000", "12\n3",
        "abc", "ＮａＮ",
    ],
)  # fmt: skip
def test_anything_but_a_plain_decimal_figure_is_refused(text: str) -> None:
    with pytest.raises(InvalidAmount) as caught:
        Amount.parse(text)
    assert caught.value.code == "invalid_amount"
    assert "金额格式不正确" in caught.value.message


def test_refusals_say_what_is_wrong_in_chinese() -> None:
    cases = {
        "1.234": "金额最多两位小数（到分）",
        "0.001": "金额最多两位小数（到分）",
        "01": "金额格式不正确：整数部分不能以 0 开头",
        "00.5": "金额格式不正确：整数部分不能以 0 开头",
        "1000000000000": "金额不能超过 ¥999,999,999,999.99",
        "": "金额不能为空",
        "   ": "金额不能为空",
    }
    for text, message in cases.items():
        with pytest.raises(InvalidAmount) as caught:
            Amount.parse(text)
        assert caught.value.message == message, text


@pytest.mark.parametrize("value", [None, 12, 12.5, True, b"12"])
def test_only_text_is_read_never_a_float_or_a_number(value: object) -> None:
    with pytest.raises(InvalidAmount, match="金额必须以文字形式给出"):
        Amount.parse(value)


@pytest.mark.parametrize("fen", [-1, MAX_FEN + 1, True])
def test_an_amount_out_of_range_cannot_be_made(fen: int) -> None:
    with pytest.raises(InvalidAmount, match="金额必须在"):
        Amount(fen)


def test_an_invalid_amount_is_an_invalid_request() -> None:
    assert issubclass(InvalidAmount, InvalidRequest)
    assert InvalidAmount().message == "金额格式不正确"
