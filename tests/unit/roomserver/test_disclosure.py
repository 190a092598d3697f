"""What experts' seats are told about the others: names and seats, no ID digits, no reasons."""

from __future__ import annotations

from roomserver.disclosure import happened_for_experts, roster_for_experts


def test_the_roster_for_experts_keeps_names_and_seats_and_drops_id_digits() -> None:
    seat = {
        "key": "v1:2",
        "venue_id": "v1",
        "label": "沈阳主场 · 2号机位",
        "expert_id": "e2",
        "expert_name": "李淑珍",
        "id_last4": "2048",
        "online": True,
        "tracks": ["camera"],
    }
    told = roster_for_experts({"session_id": "s1", "seats": [seat]})
    assert told == {
        "session_id": "s1",
        "seats": [{k: v for k, v in seat.items() if k != "id_last4"}],
    }


def test_reasons_stay_with_the_consoles_except_a_pauses() -> None:
    withdrew = happened_for_experts("expert_withdrew", {"expert": "e2", "reason": "亲属关系"})
    assert withdrew == {"expert": "e2"}
    replaced = {"expert": "e2", "replacement": "e7", "venue": "v1", "reason": "请假"}
    assert "reason" not in happened_for_experts("expert_replaced", replaced)
    assert "reason" not in happened_for_experts("expert_excused", {"reason": "未到场"})
    paused = happened_for_experts("evaluation_paused", {"reason": "网络故障", "phase": "election"})
    assert paused == {"reason": "网络故障", "phase": "election"}
