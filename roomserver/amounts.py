"""Sums of money such as a bid price (投标报价), in yuan to the fen: parsed, and written out.

An amount is kept as a whole number of fen (分), never as a float. It is read from a decimal
string only: digits, optionally a point and one or two decimals (``1234567.89``, ``10``,
``0.5``); no sign, no exponent, no thousands separators, no NaN or infinity, no digits of other
scripts. It is at most 999,999,999,999.99 yuan, below one 万亿, so that a mistyped figure is
refused rather than recorded.

It is written in figures as ``¥1,234,567.89`` (always two decimals) and in Chinese capitals
(大写金额) by the usual rules of Chinese financial writing (the bank rules for filling in
bills and vouchers, 正确填写票据和结算凭证的基本规定), which leave some choices open; the choices
made here are marked *chosen*:

1. Digits 零壹贰叁肆伍陆柒捌玖; units 拾佰仟 inside a group of four digits, and 万 and 亿 after
   the groups: 1,2345,6789 is 壹亿贰仟叁佰肆拾伍万陆仟柒佰捌拾玖. A ten is 壹拾, never a bare
   拾 (10 is 壹拾元整, 100000 is 壹拾万元整).
2. The whole yuan are followed by 元, then 角 (tenths) and 分 (hundredths).
3. An amount with neither 角 nor 分 ends in 整: 10.00 is 壹拾元整. An amount that ends in 分
   has no 整. After 角 the rule allows 整 or nothing; *chosen*: nothing, as the rule's own
   example writes ¥1,409.50 as 壹仟肆佰零玖元伍角.
4. Zeros between non-zero digits are written as one 零, however many there are:
   ¥6,007.14 is 陆仟零柒元壹角肆分, and 1,0000,0001 is 壹亿零壹元整 (the empty 万 group
   too is one 零).
5. Zeros that end a group are carried by the group's unit word (万, 亿, 元) and not written
   when the next group starts with a non-zero digit: 1000,1000 is 壹仟万壹仟元整. The rule
   allows one 零 or none where the 万 or 元 place is zero and the next digit is not;
   *chosen*: none, the same at 元 as at 万, so ¥1,680.32 is 壹仟陆佰捌拾元叁角贰分 and
   ¥107,000.53 is 壹拾万柒仟元伍角叁分, both among the rule's allowed forms. A group that
   starts with a zero after a higher non-zero group is joined with 零: 10,0100 is
   壹拾万零壹佰元整. A group that is all zeros has no unit word: 1,0000,0000 is 壹亿元整.
6. 角 zero and 分 not: 零 after 元, which the rule requires (¥16,409.02 is
   壹万陆仟肆佰零玖元零贰分; ¥325.04 is 叁佰贰拾伍元零肆分).
7. Less than one yuan: no 元 and no leading 零 (0.05 is 伍分, 0.50 is 伍角). Nothing at all is
   零元整.

Capitals carry no 人民币 prefix; the form that prints them says the currency.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from roomserver.errors import InvalidAmount

MAX_FEN = 10**14 - 1  # 999,999,999,999.99 yuan
_MAX_YUAN_DIGITS = 12
_SHAPE = re.compile(r"([0-9]+)(?:\.([0-9]+))?")
DIGITS = "零壹贰叁肆伍陆柒捌玖"
_IN_GROUP = ("仟", "佰", "拾", "")
_GROUP_UNITS = ("", "万", "亿")


@dataclass(frozen=True, order=True)
class Amount:
    """A sum of money in fen (分), from 0 to MAX_FEN."""

    fen: int

    def __post_init__(self) -> None:
        if type(self.fen) is not int or not 0 <= self.fen <= MAX_FEN:
            raise InvalidAmount(f"金额必须在 ¥0.00 到 {_figures(MAX_FEN)} 之间")

    @classmethod
    def parse(cls, text: object) -> Amount:
        """The amount of a decimal string of yuan (``"1234567.89"``); InvalidAmount if not one."""
        if not isinstance(text, str):
            raise InvalidAmount('金额必须以文字形式给出，如 "1234567.89"')
        text = text.strip()
        if not text:
            raise InvalidAmount("金额不能为空")
        shape = _SHAPE.fullmatch(text)
        if shape is None:
            raise InvalidAmount(
                "金额格式不正确：只能是不带正负号和千位分隔符的数字，最多两位小数，如 1234567.89"
            )
        whole, decimals = shape.group(1), shape.group(2) or ""
        if len(whole) > 1 and whole.startswith("0"):
            raise InvalidAmount("金额格式不正确：整数部分不能以 0 开头")
        if len(decimals) > 2:
            raise InvalidAmount("金额最多两位小数（到分）")
        if len(whole) > _MAX_YUAN_DIGITS:
            raise InvalidAmount(f"金额不能超过 {_figures(MAX_FEN)}")
        return cls(int(whole) * 100 + int(decimals.ljust(2, "0")))

    def __str__(self) -> str:
        """The plain decimal string, two decimals, that parse reads back (``1234567.89``)."""
        yuan, fen = divmod(self.fen, 100)
        return f"{yuan}.{fen:02d}"

    def figures(self) -> str:
        """In figures with thousands separators: ``¥1,234,567.89``."""
        return _figures(self.fen)

    def capitals(self) -> str:
        """In Chinese capitals (大写金额) by the rules of the module's docstring."""
        yuan, rest = divmod(self.fen, 100)
        jiao, fen = divmod(rest, 10)
        if self.fen == 0:
            return "零元整"
        text = f"{_yuan(yuan)}元" if yuan else ""
        if not jiao and not fen:
            return f"{text}整"
        if jiao:
            text += f"{DIGITS[jiao]}角"
        elif yuan:
            text += "零"
        if fen:
            text += f"{DIGITS[fen]}分"
        return text


def _figures(fen: int) -> str:
    yuan, rest = divmod(fen, 100)
    return f"¥{yuan:,}.{rest:02d}"


def _group(value: int) -> str:
    """One group of four digits (1 to 9999): leading and trailing zeros unwritten, a run of
    zeros between digits one 零."""
    parts: list[str] = []
    zero = False
    for digit, unit in zip(f"{value:04d}", _IN_GROUP, strict=True):
        if digit == "0":
            zero = bool(parts)
            continue
        if zero:
            parts.append("零")
            zero = False
        parts.append(DIGITS[int(digit)] + unit)
    return "".join(parts)


def _yuan(yuan: int) -> str:
    """Whole yuan (at least 1) in capitals, without 元."""
    groups: list[int] = []
    while yuan:
        yuan, group = divmod(yuan, 10_000)
        groups.append(group)
    parts: list[str] = []
    zero = False
    for place in reversed(range(len(groups))):
        group = groups[place]
        if group == 0:
            zero = bool(parts)
            continue
        if parts and (zero or group < 1000):
            parts.append("零")
        parts.append(_group(group) + _GROUP_UNITS[place])
        zero = False
    return "".join(parts)
