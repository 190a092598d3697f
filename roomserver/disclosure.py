"""What an expert's seat is told about the others.

The committee sits together: each expert sees the other experts' names, seats and whether
they are online, and follows the workflow. Nobody's ID number digits (身份证号后四位, for the
staff who check identities) and nobody's reasons for withdrawing (回避) or being excused or
replaced reach an expert's seat; the venue consoles of hosts and staff keep both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The fields of a roster seat that experts' seats receive.
SEAT_ROSTER_FIELDS = (
    "key",
    "venue_id",
    "venue_name",
    "venue_kind",
    "seat_no",
    "label",
    "expert_id",
    "expert_name",
    "online",
    "tracks",
)
# What happened in the workflow whose reason the seats are shown: the committee waits for it.
PUBLIC_REASONS = frozenset({"evaluation_paused"})
# Fields of a workflow step that stay with the consoles, whatever the step.
PRIVATE_FIELDS = frozenset({"id_last4", "id_number"})


def roster_for_experts(roster: Mapping[str, Any]) -> dict[str, Any]:
    """The roster as experts' seats receive it: names and seats, no ID number digits."""
    seats = [
        {k: seat[k] for k in SEAT_ROSTER_FIELDS if k in seat} for seat in roster.get("seats", [])
    ]
    return {**roster, "seats": seats}


def happened_for_experts(kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """A workflow step's details as experts' seats receive them: nobody's reasons (a
    withdrawal's, an excusal's, a replacement's) except a pause's, no ID number digits."""
    hidden = PRIVATE_FIELDS if kind in PUBLIC_REASONS else PRIVATE_FIELDS | {"reason"}
    return {k: v for k, v in data.items() if k not in hidden}
