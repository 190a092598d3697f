"""Openings for the information screen's tests and benchmark: messages as signaling sends them.

Every name is made up. Each function takes the moment the screen is drawn (Unix time) and
places the deadlines around it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8))
DIGITS = "零壹贰叁肆伍陆柒捌玖"
PLACES = ("", "拾", "佰", "仟")
GROUPS = ("", "万", "亿")

BIDDERS = (
    "沈阳盛华建设工程有限公司",
    "大连海川路桥集团有限公司",
    "辽宁中建宏远建筑工程有限责任公司与沈阳市政工程设计研究院有限公司联合体",
    "鞍山恒通市政工程有限公司",
    "抚顺北方建设集团股份有限公司",
    "锦州华宇交通工程有限公司",
    "营口港城建设有限公司",
    "丹东鸭绿江路桥工程有限公司（联合体牵头人）",
    "本溪山城建筑安装工程有限公司",
    "铁岭辽北建设集团有限公司",
    "盘锦辽河油田建设工程有限公司第二分公司",
    "朝阳燕都市政园林工程有限公司",
    "葫芦岛渤海湾建设有限公司",
    "阜新矿区道路工程有限公司",
    "辽阳东方建工集团有限公司",
    "沈阳浑南新区城市建设投资有限公司所属辽宁浑南市政工程集团有限公司",
    "大连金普新区建设工程有限公司",
    "沈阳铁西重工建设有限公司",
    "辽宁路桥建设集团有限公司",
    "沈阳三友市政工程有限公司",
    "大连长兴岛建设工程有限公司",
    "辽宁正大交通工程有限公司",
    "沈阳北方园林绿化工程有限公司",
    "鞍钢建设集团有限公司",
    "辽宁华信工程咨询与建设管理有限公司",
)


def capitals(fen: int) -> str:
    """An amount in fen written in Chinese capitals (大写), as a tender's price is read out."""
    yuan, jiao, cent = fen // 100, fen // 10 % 10, fen % 10
    groups: list[int] = []
    while yuan:
        groups.insert(0, yuan % 10_000)
        yuan //= 10_000
    text = ""
    for index, group in enumerate(groups):
        if not group:
            continue
        if text and group < 1000:
            text += "零"
        part = ""
        digits = f"{group:04d}"
        for place, digit in enumerate(digits):
            if digit == "0":
                if part and not part.endswith("零"):
                    part += "零"
                continue
            part += DIGITS[int(digit)] + PLACES[3 - place]
        text += part.rstrip("零").lstrip("零") + GROUPS[len(groups) - 1 - index]
    text = (text or "零") + "元"
    if not jiao and not cent:
        return text + "整"
    text += DIGITS[jiao] + "角" if jiao else ("零" if cent else "")
    return text + (DIGITS[cent] + "分" if cent else "")


def _iso(now: float, seconds: float) -> str:
    return datetime.fromtimestamp(now + seconds, BEIJING).isoformat(timespec="seconds")


def _common(now: float, phase: str, deadline_in: float) -> dict[str, object]:
    return {
        "project_name": "沈阳市浑南区创新路（全运路至沈中大街段）道路改造及配套管网工程施工",
        "project_code": "SYGC-2026-0158",
        "lot_name": "第一标段（道路及排水工程）",
        "hall": "沈阳市公共资源交易中心 · 第三开标厅",
        "phase": phase,
        "deadline": _iso(now, deadline_in),
    }


def before_deadline(now: float) -> dict[str, object]:
    """Bids still coming in: 1 h 23 min 45 s to the deadline. The message already holds
    bidders, which the screen must not show yet."""
    message = _common(now, "签到与递交投标文件", 3600 + 23 * 60 + 45)
    message["bidders"] = [{"name": name} for name in BIDDERS[:7]]
    message["notice"] = "请各投标人于投标截止时间前完成投标文件递交，逾期系统将拒收"
    return message


def decryption(now: float, bidders: int = 12) -> dict[str, object]:
    """Decryption under way: `bidders` published, in every status, 18 minutes left."""
    statuses = ("已解密", "已解密", "未解密", "已解密", "解密失败", "已解密")
    message = _common(now, "解密中", -12 * 60)
    message["decrypt_deadline"] = _iso(now, 18 * 60 + 5)
    rows = []
    for index, name in enumerate(BIDDERS[:bidders]):
        status = statuses[index % len(statuses)]
        if index == 10:
            status = "失败已受理"
        if index == 7:
            status = "无效"
        row: dict[str, object] = {
            "name": name,
            "submitted_at": _iso(now, -86_400 + index * 1_377),
            "decryption": status,
        }
        if status != "未解密":
            row["decryption_at"] = _iso(now, -11 * 60 + index * 41)
        rows.append(row)
    message["bidders"] = rows
    message["notice"] = "解密截止前未完成解密的，视为撤回投标文件；解密失败请立即通过平台提交说明"
    return message


def readout(now: float, rows: int = 25) -> dict[str, object]:
    """Prices read out for `rows` bidders, three further fields, the benchmark drawn."""
    message = _common(now, "唱标", -40 * 60)
    message["decrypt_deadline"] = _iso(now, -10 * 60)
    message["readout_fields"] = ["质量标准", "项目经理", "投标保证金"]
    confirmations = ("已确认", "已确认", "已确认", "待确认", "有异议", "异议已答复")
    read = []
    for index, name in enumerate((BIDDERS * 2)[:rows]):
        fen = 12_345_678_90 - index * 137_913_57 + (index % 3) * 50
        read.append(
            {
                "bidder": name,
                "price": f"{fen // 100:,}.{fen % 100:02d}",
                "price_capitals": capitals(fen),
                "duration": f"{300 - index * 5}日历天",
                "fields": {
                    "质量标准": "合格" if index % 4 else "优良（省级优质工程）",
                    "项目经理": ("张伟", "王芳", "李建国", "刘洋", "欧阳志远")[index % 5],
                    "投标保证金": "已缴纳" if index != 6 else "未缴纳",
                },
                "confirmation": confirmations[index % len(confirmations)],
            }
        )
    message["readout"] = read
    message["benchmark"] = [
        {"name": "下浮系数 K", "value": "0.95"},
        {"name": "权重系数 A", "value": "0.60"},
        {"name": "有效报价去高去低", "value": "各 10%"},
        {"name": "抽取时间", "value": "10:12:08"},
    ]
    message["notice"] = "对唱标结果有异议的，请于本项目唱标结束后 10 分钟内通过异议入口提出"
    return message
