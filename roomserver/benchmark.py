"""Benchmark-price parameters drawn at the bid opening (评标基准价参数抽取), with a commit-reveal
audit.

Where the tender documents say so, parameters of the benchmark price (a down-floating rate K,
a weight, ...) are drawn at random at the opening, each from the candidate values the tender
documents list. The draw is that of ``roomserver.lots`` and ``roomserver.draws``: the server
picks a secret 32-byte seed and logs only its SHA-256 when decryption opens, before any bid can
be read; at the draw the seed is revealed, and each parameter's value is

    candidates[HMAC-SHA256(key=seed, message=facts ‖ "\\n" ‖ name) as a big-endian integer mod n]

where ``facts`` is the canonical JSON of the lot and its parameters (``facts_json``). Anybody
holding the log checks the seed against the commitment and computes the same values
(``verify``). Pure: the seed is drawn outside this module.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from roomserver.errors import InvalidRequest
from roomserver.lots import SEED_BYTES, commitment, matches, seed_from_hex

__all__ = ["SEED_BYTES", "Parameter", "commitment", "draw", "facts_json", "verify"]

NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
MAX_CANDIDATES = 100


@dataclass(frozen=True)
class Parameter:
    """One parameter to draw: its name, its label (``下浮率K``), and the values the tender
    documents allow, in their order (``("1%", "2%", "3%")``)."""

    name: str
    label: str
    candidates: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "candidates", tuple(self.candidates))
        if not isinstance(self.name, str) or not NAME.fullmatch(self.name):
            raise InvalidRequest("参数名应为小写字母开头的字母、数字或下划线")
        if not isinstance(self.label, str) or not self.label.strip():
            raise InvalidRequest("参数名称不能为空")
        values = self.candidates
        if not 1 <= len(values) <= MAX_CANDIDATES:
            raise InvalidRequest(f"参数“{self.label}”的备选值应为 1 至 {MAX_CANDIDATES} 个")
        if any(not isinstance(v, str) or not v.strip() for v in values):
            raise InvalidRequest(f"参数“{self.label}”的备选值不能为空")
        if len(set(values)) != len(values):
            raise InvalidRequest(f"参数“{self.label}”的备选值有重复")

    def as_json(self) -> dict[str, object]:
        """The parameter in the published facts."""
        return {"name": self.name, "label": self.label, "candidates": list(self.candidates)}


def check_parameters(parameters: Sequence[Parameter]) -> tuple[Parameter, ...]:
    """The parameters of a lot, each name once; InvalidRequest otherwise."""
    names = [p.name for p in parameters]
    if len(set(names)) != len(names):
        raise InvalidRequest("抽取参数的名称有重复")
    return tuple(parameters)


def facts_json(lot_id: str, parameters: Sequence[Parameter]) -> str:
    """The canonical JSON of what is drawn (ASCII escapes, sorted keys): what the draw hashes."""
    facts = {"lot": lot_id, "parameters": [p.as_json() for p in parameters]}
    return json.dumps(facts, ensure_ascii=True, sort_keys=True, separators=(",", ":"))


def draw(seed: bytes, lot_id: str, parameters: Sequence[Parameter]) -> dict[str, str]:
    """Each parameter's value (name → value) for `seed`."""
    if len(seed) != SEED_BYTES:
        raise ValueError(f"a seed is {SEED_BYTES} bytes")
    facts = facts_json(lot_id, parameters).encode("ascii")
    values = {}
    for p in parameters:
        digest = hmac.new(seed, facts + b"\n" + p.name.encode("ascii"), hashlib.sha256).digest()
        values[p.name] = p.candidates[int.from_bytes(digest, "big") % len(p.candidates)]
    return values


def verify(
    seed_hex: str,
    committed: str,
    lot_id: str,
    parameters: Sequence[Parameter],
    values: Mapping[str, str],
) -> bool:
    """Whether a logged draw is sound: the seed was committed to and gives the values logged."""
    try:
        seed = seed_from_hex(seed_hex)
    except ValueError:
        return False
    return matches(seed, committed) and draw(seed, lot_id, parameters) == dict(values)
