"""What the hall's information screen is sent (``media.infostate``): the opening as everybody in
the hall may see it (``roomserver.openingview`` for the public), in the screen's words.

The screen is in the broadcast and the archive, so it shows nothing the public may not see:
before the deadline the countdown only (the screen itself also keeps to that rule), from it the
bidders who submitted with their decryption status, the read-out and the benchmark draw.
"""

from __future__ import annotations

from typing import Any

from roomserver.model import Role
from roomserver.opening import Phase
from roomserver.openingstate import OpeningState
from roomserver.openingview import opening_view

PHASE_WORDS = {
    Phase.SCHEDULED: "等待开始签到",
    Phase.SUBMISSION: "签到与递交投标文件",
    Phase.PUBLISHED: "投标截止",
    Phase.DECRYPTION: "解密中",
    Phase.DECRYPTED: "解密结束",
    Phase.READ_OUT: "唱标",
    Phase.SIGNING: "签署开标记录表",
    Phase.ENDED: "开标结束",
}
DECRYPTION_WORDS = {
    "submitted": "未解密",
    "key_released": "未解密",
    "decrypted": "已解密",
    "decryption_failed": "解密失败",
    "failure_reported": "解密失败",
    "accepted": "失败已受理",
    "rejected": "无效",
}


def _phase(state: OpeningState) -> str:
    if state.failed is not None:
        return "流标"
    if state.paused:
        return "暂停"
    if state.phase == Phase.READ_OUT and any(o.answer is None for o in state.objections):
        return "异议处理"
    return PHASE_WORDS[state.phase]


def _confirmation(state: OpeningState, bidder: str) -> str:
    if state.bid(bidder).confirmed:
        return "已确认"
    objections = [o for o in state.objections if o.bidder == bidder]
    if not objections:
        return "待确认"
    return "有异议" if any(o.answer is None for o in objections) else "异议已答复"


def screen_message(
    state: OpeningState,
    *,
    project_name: str,
    project_code: str,
    lot_name: str,
    hall: str,
    notice: str | None = None,
) -> dict[str, Any]:
    """The screen's message for the opening now; `notice` the host's latest notice."""
    view = opening_view(state, Role.PUBLIC, None)
    bidders = []
    for row in view["bidders"]:
        status = "无效" if row.get("invalid") else DECRYPTION_WORDS.get(row["status"], "未解密")
        bid = state.bid(row["bidder"])
        bidders.append(
            {
                "name": row["name"],
                "submitted_at": row.get("submitted_at"),
                "decryption": status,
                "decryption_at": row.get("released_at") if bid.fields is not None else None,
            }
        )
    money = next((f.name for f in state.fields if f.kind == "money"), None)
    readout_fields = [
        f.label for f in state.fields if f.name != money and f.name != "duration_days"
    ]
    readout = []
    for row in view["readout"]:
        cells = {cell["name"]: cell for cell in row["fields"]}
        price = cells.get(money or "")
        duration = cells.get("duration_days")
        readout.append(
            {
                "bidder": row["name"],
                "price": price["figures"].lstrip("¥") if price else None,
                "price_capitals": price.get("capitals") if price else None,
                "duration": f"{duration['figures']}{duration['unit']}" if duration else None,
                "fields": {
                    cell["label"]: str(cell["figures"])
                    for name, cell in cells.items()
                    if name != money and name != "duration_days"
                },
                "confirmation": _confirmation(state, row["bidder"]),
            }
        )
    benchmark = None
    if state.benchmark_values:
        benchmark = [
            {"name": p.label, "value": state.benchmark_values[p.name]} for p in state.benchmark
        ]
    return {
        "project_name": project_name,
        "project_code": project_code,
        "lot_name": lot_name,
        "hall": hall,
        "phase": _phase(state),
        "deadline": state.deadline.isoformat(),
        "decrypt_deadline": (
            state.decryption_until.isoformat()
            if state.phase == Phase.DECRYPTION and state.decryption_until
            else None
        ),
        "bidders": bidders,
        "readout_fields": readout_fields,
        "readout": readout,
        "benchmark": benchmark,
        "notice": state.pause_reason if state.paused else (state.failed or notice),
    }
