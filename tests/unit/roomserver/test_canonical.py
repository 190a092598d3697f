"""Canonical JSON: RFC 8785's own examples, byte for byte, and what has no canonical form."""

from __future__ import annotations

import json
import struct

import pytest

from roomserver.canonical import NotCanonical, canonical_json, parse_canonical


def double(bits: str) -> float:
    """The IEEE 754 double with these 64 bits (hex), as RFC 8785 appendix B gives them."""
    value: float = struct.unpack(">d", bytes.fromhex(bits))[0]
    return value


# RFC 8785, appendix B: IEEE 754 bits and the number as canonical JSON writes it.
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "text"), APPENDIX_B, ids=[b for b, _ in APPENDIX_B])
def test_numbers_are_written_as_ecmascript_writes_them(bits: str, text: str) -> None:
    assert canonical_json(double(bits)) == text.encode()
    assert canonical_json([double(bits)]) == f"[{text}]".encode()


@pytest.mark.parametrize("bits", ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"])
def test_nan_and_infinity_have_no_canonical_form(bits: str) -> None:
    with pytest.raises(NotCanonical):
        canonical_json({"x": double(bits)})


def test_the_rfcs_example_of_section_3_2_2() -> None:
    text = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        ' "literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_json(json.loads(text)) == expected.encode("utf-8")


def test_members_are_sorted_by_utf16_code_units_as_in_section_3_2_3() -> None:
    value = json.loads(
        '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", '
        '"\\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One", '
        '"\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control", '
        '"\\u00f6": "Latin Small Letter O With Diaeresis"}'
    )
    order = list(json.loads(canonical_json(value)).values())
    # U+1F600 sorts before U+FB33 by its UTF-16 surrogates (0xD83D), not by its code point.
    assert order == [
        "Carriage Return",
        "One",
        "Control",
        "Latin Small Letter O With Diaeresis",
        "Euro Sign",
        "Emoji: Grinning Face",
        "Hebrew Letter Dalet With Dagesh",
    ]


def test_unicode_is_not_normalised_as_in_section_3_2_4() -> None:
    out = canonical_json({"Unnormalized Unicode": "A\u030a"})
    assert out.hex() == ("7b22556e6e6f726d616c697a656420556e69636f6465223a2241cc8a227d")


def test_integers_beyond_a_doubles_precision_are_refused() -> None:
    assert canonical_json(2**53 - 1) == b"9007199254740991"
    with pytest.raises(NotCanonical):
        canonical_json({"amount": 2**53})
    with pytest.raises(NotCanonical):
        canonical_json({"text": "\ud800"})  # a lone surrogate is not Unicode


def test_parse_canonical_takes_only_the_canonical_bytes() -> None:
    raw = canonical_json({"b": [1, 2.5], "a": "评标"})
    assert parse_canonical(raw) == {"a": "评标", "b": [1, 2.5]}
    for other in (
        b'{"b":[1,2.5], "a":"\xe8\xaf\x84\xe6\xa0\x87"}',  # a space
        b'{"b":[1,2.5],"a":"\xe8\xaf\x84\xe6\xa0\x87"}',  # out of order
        b'{"a":"\\u8bc4\\u6807","b":[1,2.5]}',  # escaped where it need not be
        b'{"a":"x","a":"x","b":[1,2.5]}',  # a member twice
        b'{"a":NaN}',
        b'{"a":1.0}',
        raw + b"\n",
        b"\xff",
    ):
        with pytest.raises(NotCanonical):
            parse_canonical(other)
