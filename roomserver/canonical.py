"""Canonical JSON (RFC 8785, JSON Canonicalization Scheme): the bytes that are hashed or signed.

Everything the archive and the event table hash or sign is written in this one form: object
members sorted by their names' UTF-16 code units, no whitespace, strings escaped only where JSON
requires it, numbers as ECMAScript prints them, UTF-8. Any implementation of RFC 8785, in any
language, gives the same bytes for the same value, so a digest of a JSON structure can be checked
without this software for as long as the evidence is kept.

Integers are limited to what an IEEE 754 double holds exactly (±(2**53 - 1)), NaN and infinities
are refused, and so are strings that are not valid Unicode: such a value has no canonical form.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785


class NotCanonical(ValueError):
    """A value has no RFC 8785 form, or bytes are not the RFC 8785 form of what they hold."""


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 bytes of `value` (dicts, lists, tuples, str, int, float, bool, None)."""
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        raise NotCanonical(str(exc)) from exc


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object hook refusing a member name given twice (RFC 8785 has no form for it)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise NotCanonical("an object names a member twice")
    return obj


def _no_constant(name: str) -> Any:
    raise NotCanonical(f"{name} is not a JSON number")


def parse_canonical(raw: bytes) -> Any:
    """The value of `raw`, which must be exactly its own RFC 8785 form; NotCanonical otherwise."""
    try:
        value = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant
        )
    except UnicodeDecodeError as exc:
        raise NotCanonical("not UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise NotCanonical(f"not JSON: {exc}") from exc
    if canonical_json(value) != raw:
        raise NotCanonical("not in canonical form (RFC 8785)")
    return value
