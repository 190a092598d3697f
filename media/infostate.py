"""What the opening hall's information screen (开标大厅信息屏) shows: its input, checked.

The signaling process sends the screen a plain JSON object whenever the opening changes. Every
key not marked required may be missing or ``null``; keys the screen does not know are ignored
(a newer sender may say more). A key that is present must have its type: a wrong type, an
unknown status or a time without its zone is refused as a whole (:class:`BadOpeningState`) and
the screen keeps what it showed. Times are ISO 8601 with a zone (``2026-05-12T09:30:00+08:00``);
they are shown in Beijing time. Money is text, exactly as read out: the screen never computes
with it. An example, every key given::

    {
      "project_name": "沈阳市某道路改造工程施工",
      "project_code": "SYGC-2026-0158",
      "lot_name": "第一标段",
      "hall": "沈阳市公共资源交易中心 开标大厅",
      "phase": "解密中",
      "deadline": "2026-05-12T09:30:00+08:00",
      "decrypt_deadline": "2026-05-12T10:00:00+08:00",
      "bidders": [
        {"name": "辽宁某建设集团有限公司",
         "submitted_at": "2026-05-11T15:02:11+08:00",
         "decryption": "已解密",
         "decryption_at": "2026-05-12T09:41:05+08:00"}
      ],
      "readout_fields": ["质量标准", "项目经理"],
      "readout": [
        {"bidder": "辽宁某建设集团有限公司",
         "price": "12,345,678.90",
         "price_capitals": "壹仟贰佰叁拾肆万伍仟陆佰柒拾捌元玖角整",
         "duration": "365日历天",
         "fields": {"质量标准": "合格", "项目经理": "张三"},
         "confirmation": "已确认"}
      ],
      "benchmark": [{"name": "下浮系数 K", "value": "0.95"}],
      "notice": "投标人请于 10:00 前完成解密"
    }

- ``project_name`` (required) 项目名称, ``project_code`` 项目编号, ``lot_name`` 标段名称;
  ``hall`` the header's title (default 开标大厅).
- ``phase`` (required): the phase's label, shown as it is. 等待开始签到, 签到与递交投标文件,
  投标截止, 解密中, 唱标, 异议处理, 签署开标记录表, 开标结束, 流标 and 暂停 have colours of their
  own.
- ``deadline`` 投标截止时间: until it, the screen shows the countdown and 投标文件递交中, and no
  bidder, no number of bidders, nothing read out, whatever the message holds (nor when it is
  missing). ``decrypt_deadline`` 解密截止时间: the decryption countdown. Both count down on
  the server's clock at every picture, with no new message.
- ``bidders``: the published list, in its order: ``name`` (required), ``submitted_at``
  递交时间, ``decryption`` one of 未解密 (the default), 已解密, 解密失败, 失败已受理, 无效,
  and ``decryption_at``, when it reached that status.
- ``readout`` 唱标, in reading order: ``bidder`` (required), ``price`` in figures (元),
  ``price_capitals`` in Chinese capitals, ``duration`` 工期, ``fields`` further named fields
  (text to text), ``confirmation`` one of 待确认 (the default), 已确认, 有异议, 异议已答复.
  ``readout_fields`` orders the further fields as the lot lists them; a row's fields not named
  there follow in the row's own order.
- ``benchmark`` 基准价参数, once drawn: ``name`` and ``value``, both text.
- ``notice``: the host's latest notice, or why the opening is paused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NotRequired, TypedDict, TypeVar, cast

DecryptionStatus = Literal["未解密", "已解密", "解密失败", "失败已受理", "无效"]
Confirmation = Literal["待确认", "已确认", "有异议", "异议已答复"]
DECRYPTION_STATUSES: tuple[DecryptionStatus, ...] = (
    "未解密",
    "已解密",
    "解密失败",
    "失败已受理",
    "无效",
)
CONFIRMATIONS: tuple[Confirmation, ...] = ("待确认", "已确认", "有异议", "异议已答复")

_T = TypeVar("_T")
_Choice = TypeVar("_Choice", bound=str)


class BidderMessage(TypedDict):
    """One bidder of the published list, as sent."""

    name: str
    submitted_at: NotRequired[str | None]
    decryption: NotRequired[str | None]
    decryption_at: NotRequired[str | None]


class ReadoutMessage(TypedDict):
    """One row read out (唱标), as sent."""

    bidder: str
    price: NotRequired[str | None]
    price_capitals: NotRequired[str | None]
    duration: NotRequired[str | None]
    fields: NotRequired[dict[str, str] | None]
    confirmation: NotRequired[str | None]


class ParameterMessage(TypedDict):
    """One benchmark-price parameter (基准价参数), as sent."""

    name: str
    value: str


class OpeningMessage(TypedDict):
    """The whole input of the information screen, as the signaling process sends it."""

    project_name: str
    phase: str
    project_code: NotRequired[str | None]
    lot_name: NotRequired[str | None]
    hall: NotRequired[str | None]
    deadline: NotRequired[str | None]
    decrypt_deadline: NotRequired[str | None]
    bidders: NotRequired[list[BidderMessage] | None]
    readout_fields: NotRequired[list[str] | None]
    readout: NotRequired[list[ReadoutMessage] | None]
    benchmark: NotRequired[list[ParameterMessage] | None]
    notice: NotRequired[str | None]


class BadOpeningState(ValueError):
    """The screen's input breaks its schema: it is refused whole."""


@dataclass(frozen=True)
class Bidder:
    """A bidder of the published list."""

    name: str
    submitted_at: datetime | None = None
    decryption: DecryptionStatus = "未解密"
    decryption_at: datetime | None = None


@dataclass(frozen=True)
class ReadoutRow:
    """A row read out: price in figures and in capitals, duration, further named fields."""

    bidder: str
    price: str = ""
    price_capitals: str = ""
    duration: str = ""
    fields: tuple[tuple[str, str], ...] = ()
    confirmation: Confirmation = "待确认"


@dataclass(frozen=True)
class OpeningState:
    """The opening as the screen shows it (see the module docstring for each field)."""

    project_name: str
    phase: str
    project_code: str = ""
    lot_name: str = ""
    hall: str = "开标大厅"
    deadline: datetime | None = None
    decrypt_deadline: datetime | None = None
    bidders: tuple[Bidder, ...] = ()
    readout: tuple[ReadoutRow, ...] = ()
    # The further fields' names: the lot's order, then any other a row has.
    readout_fields: tuple[str, ...] = ()
    benchmark: tuple[tuple[str, str], ...] = ()
    notice: str = ""

    def before_deadline(self, now: float) -> bool:
        """Whether bidders are still hidden: the deadline is unknown or not yet passed."""
        return self.deadline is None or now < self.deadline.timestamp()


def parse_opening(message: Mapping[str, object]) -> OpeningState:
    """Check the signaling process's message and make the screen's state of it."""
    if not isinstance(message, Mapping):
        raise BadOpeningState("the screen's state must be a JSON object")
    order = _list(message, "readout_fields", "the opening", _text_item)
    readout = tuple(
        _readout_row(row, order)
        for row in _list(message, "readout", "the opening", _object_item("readout"))
    )
    fields = list(dict.fromkeys(order))
    for row in readout:
        fields += [name for name, _ in row.fields if name not in fields]
    return OpeningState(
        project_name=_required_text(message, "project_name", "the opening"),
        phase=_required_text(message, "phase", "the opening"),
        project_code=_text(message, "project_code", "the opening"),
        lot_name=_text(message, "lot_name", "the opening"),
        hall=_text(message, "hall", "the opening") or "开标大厅",
        deadline=_time(message, "deadline", "the opening"),
        decrypt_deadline=_time(message, "decrypt_deadline", "the opening"),
        bidders=tuple(
            _bidder(item)
            for item in _list(message, "bidders", "the opening", _object_item("bidders"))
        ),
        readout=readout,
        readout_fields=tuple(fields),
        benchmark=tuple(
            (
                _required_text(item, "name", "a benchmark parameter"),
                _required_text(item, "value", "a benchmark parameter"),
            )
            for item in _list(message, "benchmark", "the opening", _object_item("benchmark"))
        ),
        notice=_text(message, "notice", "the opening"),
    )


def _bidder(item: Mapping[str, object]) -> Bidder:
    where = "a bidder"
    return Bidder(
        name=_required_text(item, "name", where),
        submitted_at=_time(item, "submitted_at", where),
        decryption=_choice(item, "decryption", where, DECRYPTION_STATUSES),
        decryption_at=_time(item, "decryption_at", where),
    )


def _readout_row(item: Mapping[str, object], order: list[str]) -> ReadoutRow:
    where = "a read-out row"
    fields = item.get("fields")
    if fields is None:
        fields = {}
    if not isinstance(fields, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in fields.items()
    ):
        raise BadOpeningState(f"{where}: fields must map names to text")
    named = cast(Mapping[str, str], fields)
    ordered = [name for name in order if name in named]
    ordered += [name for name in named if name not in order]
    return ReadoutRow(
        bidder=_required_text(item, "bidder", where),
        price=_text(item, "price", where),
        price_capitals=_text(item, "price_capitals", where),
        duration=_text(item, "duration", where),
        fields=tuple((name, named[name]) for name in ordered),
        confirmation=_choice(item, "confirmation", where, CONFIRMATIONS),
    )


def _text(item: Mapping[str, object], key: str, where: str) -> str:
    value = item.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadOpeningState(f"{where}: {key} must be text, not {type(value).__name__}")
    return value.strip()


def _required_text(item: Mapping[str, object], key: str, where: str) -> str:
    value = _text(item, key, where)
    if not value:
        raise BadOpeningState(f"{where}: {key} is required")
    return value


def _time(item: Mapping[str, object], key: str, where: str) -> datetime | None:
    text = _text(item, key, where)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadOpeningState(f"{where}: {key} is not an ISO 8601 time: {text!r}") from exc
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise BadOpeningState(f"{where}: {key} must say its zone: {text!r}")
    return moment


def _choice(
    item: Mapping[str, object], key: str, where: str, allowed: tuple[_Choice, ...]
) -> _Choice:
    value = _text(item, key, where) or allowed[0]
    for choice in allowed:
        if value == choice:
            return choice
    raise BadOpeningState(f"{where}: {key} must be one of {', '.join(allowed)}, not {value!r}")


def _list(
    item: Mapping[str, object], key: str, where: str, check: Callable[[object, str], _T]
) -> list[_T]:
    value = item.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadOpeningState(f"{where}: {key} must be a list")
    return [check(element, key) for element in value]


def _text_item(element: object, key: str) -> str:
    if not isinstance(element, str):
        raise BadOpeningState(f"{key} must list text")
    return element


def _object_item(key: str) -> Callable[[object, str], Mapping[str, object]]:
    def check(element: object, _key: str) -> Mapping[str, object]:
        if not isinstance(element, Mapping):
            raise BadOpeningState(f"{key} must list objects")
        return cast(Mapping[str, object], element)

    return check
