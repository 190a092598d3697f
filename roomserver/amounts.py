"""Amounts of money as the read-out (唱标) says them: in figures and in Chinese capitals (大写).

An amount is a decimal string of yuan with at most two decimals (``"1234567.80"``), never a
float. The capitals follow the usual rules for financial documents: digits 零壹贰叁肆伍陆柒捌玖,
places 拾佰仟 within groups of four digits joined by 万 and 亿; a run of zeros inside the
amount is said as one 零; zeros at the end of a group are not said, nor is one before a group
whose first digit is not zero, unless a whole group of zeros lies between; ``元`` closes the
yuan, then 角 and 分, and ``整`` closes an amount without 分 (``壹佰万零伍拾元整``,
``叁元零伍分``).
"""

from __future__ import annotations

import re

__all__ = ["AMOUNT", "MAX_DIGITS", "in_capitals", "in_figures"]

MAX_DIGITS = 15  # up to 999 万亿元 before the decimal point
AMOUNT = re.compile(r"(0|[1-9][0-9]{0,14})(\.[0-9]{1,2})?")

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_PLACES = ("", "拾", "佰", "仟")
_GROUPS = ("", "万", "亿", "万亿")


def _split(amount: str) -> tuple[str, str]:
    if not isinstance(amount, str) or not AMOUNT.fullmatch(amount):
        raise ValueError(f"金额应为不超过两位小数的非负十进制数：{amount!r}")
    whole, _, cents = amount.partition(".")
    return whole, (cents + "00")[:2]


def _group(digits: str) -> str:
    """Four digits (or fewer, at the front) in capitals; zeros inside said as one 零."""
    said = ""
    zero = False
    for i, d in enumerate(digits):
        place = len(digits) - 1 - i
        if d == "0":
            zero = bool(said)
            continue
        if zero:
            said += "零"
            zero = False
        said += _DIGITS[int(d)] + _PLACES[place]
    return said


def in_capitals(amount: str) -> str:
    """The amount in Chinese capitals, e.g. ``"1000100.5"`` → ``壹佰万零壹佰元伍角整``."""
    whole, cents = _split(amount)
    groups: list[str] = []
    while whole:
        groups.insert(0, whole[-4:])
        whole = whole[:-4]
    said = ""
    zero = False  # a whole group of zeros was skipped since the last digit said
    for index, group in enumerate(groups):
        unit = _GROUPS[len(groups) - 1 - index]
        if int(group) == 0:
            zero = zero or bool(said)
            continue
        if said and (zero or group[0] == "0"):
            said += "零"
        said += _group(group.lstrip("0")) + unit
        zero = False
    jiao, fen = int(cents[0]), int(cents[1])
    if said:
        said += "元"
    elif jiao == 0 and fen == 0:
        return "零元整"
    if jiao:
        said += _DIGITS[jiao] + "角"
    elif fen and said:
        said += "零"
    if fen:
        return said + _DIGITS[fen] + "分"
    return said + "整"


def in_figures(amount: str) -> str:
    """The amount in figures with thousands separators and two decimals: ``1,234,567.80``."""
    whole, cents = _split(amount)
    return f"{int(whole):,}.{cents}"
