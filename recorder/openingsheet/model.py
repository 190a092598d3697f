"""What an opening record sheet says, checked as it is made; the fonts it is set in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from roomserver.amounts import Amount
from roomserver.errors import InvalidRequest
from roomserver.usage import BEIJING

NOTO_DIR = Path("/usr/share/fonts/opentype/noto")
# Face 2 of Debian's Noto CJK collections is the Simplified Chinese one (… CJK SC).
SIMPLIFIED_CHINESE_FACE = 2
MAX_EXTRA_FIELDS = 6  # beyond this the bids table no longer fits a landscape A4 page legibly
_HEX = re.compile(r"[0-9a-f]+")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


class FontMissing(OSError):
    """A font file of the sheet is not there or is no font: a fault of the installation, not of
    the request, so it is no RoomError (signaling logs it and answers ``internal``)."""


class Decryption(StrEnum):
    """What became of a bid's decryption (解密)."""

    DECRYPTED = "解密成功"
    # The bidder could not decrypt for a reason not of its making and the host accepted the
    # bid from its backup copy (7.2.3-5): its fields are read out as a decrypted bid's.
    ACCEPTED = "解密失败，以备份文件开标"
    FAILED = "解密失败"
    OVERDUE = "逾期未解密"

    @property
    def read_out(self) -> bool:
        """Whether the bid's fields are known (and read out)."""
        return self in (Decryption.DECRYPTED, Decryption.ACCEPTED)


class Confirmation(StrEnum):
    """A bidder's answer to the opening result read out for them."""

    CONFIRMED = "确认"
    OBJECTED = "有异议"
    NO_ANSWER = "未答复"


def _text(value: str, what: str, longest: int, *, lines: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(f"{what}必须是文字")
    # Control characters print as nothing or as boxes; a line break only where lines are kept.
    value = _CONTROL.sub(" ", value).strip()
    if not value:
        raise InvalidRequest(f"{what}不能为空")
    if len(value) > longest:
        raise InvalidRequest(f"{what}不能超过 {longest} 个字")
    return value if lines else " ".join(value.split())


def _when(value: datetime | None, what: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidRequest(f"{what}必须是带时区的时间")


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True)
class Bid:
    """One bidder's row: submission, decryption, what was read out, and their answer.

    `decrypted_at` is when the bid was decrypted or its decryption failed (none if overdue);
    the price is known only for a decrypted bid. `extras` are the values of the sheet's
    `extra_fields`, in their order.
    """

    order: int
    bidder: str
    representative: str
    submitted_at: datetime
    decryption: Decryption
    decrypted_at: datetime | None
    price: Amount | None
    duration: str | None
    confirmation: Confirmation
    extras: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if type(self.order) is not int or self.order < 1:
            raise InvalidRequest("投标人序号必须是正整数")
        _set(self, "bidder", _text(self.bidder, "投标人名称", 200))
        _set(self, "representative", _text(self.representative, "授权代表", 50))
        _when(self.submitted_at, "递交时间")
        _when(self.decrypted_at, "解密时间", optional=True)
        if (self.decrypted_at is None) != (self.decryption is Decryption.OVERDUE):
            raise InvalidRequest("解密成功或失败须有解密时间，逾期未解密则没有")
        if (self.price is not None) != self.decryption.read_out:
            raise InvalidRequest("只有解密成功（或以备份文件开标）的投标才有投标报价")
        if self.duration is not None:
            _set(self, "duration", _text(self.duration, "工期", 50))
        # A field read out empty (or not at all, for a bid not decrypted) shows a dash.
        _set(
            self,
            "extras",
            tuple(_text(v, "开标记录项", 100) if v.strip() else "" for v in self.extras),
        )


@dataclass(frozen=True)
class BenchmarkDraw:
    """The benchmark-price parameters drawn in the hall (基准价参数), with the draw's audit:
    the SHA-256 commitment published before the draw and the seed revealed at it."""

    parameters: tuple[tuple[str, str], ...]
    commitment_sha256: str
    seed: str
    drawn_at: datetime

    def __post_init__(self) -> None:
        if not self.parameters:
            raise InvalidRequest("基准价参数不能为空")
        _set(
            self,
            "parameters",
            tuple((_text(k, "参数名称", 50), _text(v, "参数值", 100)) for k, v in self.parameters),
        )
        if len(self.commitment_sha256) != 64 or not _HEX.fullmatch(self.commitment_sha256):
            raise InvalidRequest("抽取承诺必须是 64 位小写十六进制的 SHA-256")
        if not 1 <= len(self.seed) <= 128 or not _HEX.fullmatch(self.seed):
            raise InvalidRequest("抽取种子必须是小写十六进制")
        _when(self.drawn_at, "抽取时间")


@dataclass(frozen=True)
class Objection:
    """An objection raised in the hall (开标异议) and the tenderer's answer."""

    raised_by: str
    raised_at: datetime
    content: str
    answer: str
    answered_at: datetime | None

    def __post_init__(self) -> None:
        _set(self, "raised_by", _text(self.raised_by, "异议人", 200))
        # Short enough that a row of the objections table fits a page; a longer text is kept
        # in the hall's record and summed up here.
        _set(self, "content", _text(self.content, "异议内容", 500))
        _set(self, "answer", _text(self.answer, "异议答复", 500))
        _when(self.raised_at, "异议提出时间")
        _when(self.answered_at, "答复时间", optional=True)


@dataclass(frozen=True)
class OpeningSheet:
    """Everything the opening record sheet of one lot shows."""

    project_name: str
    project_code: str
    lot_name: str
    lot_code: str
    tenderer: str  # 招标人
    agency: str  # 招标代理机构
    deadline: datetime  # 投标截止时间
    opened_at: datetime  # 开标时间
    place: str  # 开标地点: the centre and its hall
    host: str  # 主持人
    witness: str  # 见证人
    bids: tuple[Bid, ...]
    valid_bids: int
    made_at: datetime  # 制表时间, also the PDF's creation date
    failure_reason: str | None = None  # 流标 and why
    supervisors: tuple[str, ...] = ()  # 监督人
    extra_fields: tuple[str, ...] = ()  # the lot's further opening fields, in its order
    benchmark: BenchmarkDraw | None = None
    objections: tuple[Objection, ...] = ()

    def __post_init__(self) -> None:
        for name, what, longest in (
            ("project_name", "项目名称", 200),
            ("project_code", "项目编号", 100),
            ("lot_name", "标段名称", 200),
            ("lot_code", "标段编号", 100),
            ("tenderer", "招标人", 200),
            ("agency", "招标代理机构", 200),
            ("place", "开标地点", 200),
            ("host", "主持人", 50),
            ("witness", "见证人", 50),
        ):
            _set(self, name, _text(getattr(self, name), what, longest))
        for when, what in ((self.deadline, "投标截止时间"), (self.opened_at, "开标时间")):
            _when(when, what)
        _when(self.made_at, "制表时间")
        _set(self, "supervisors", tuple(_text(s, "监督人", 50) for s in self.supervisors))
        _set(self, "extra_fields", tuple(_text(f, "开标记录项名称", 20) for f in self.extra_fields))
        if len(self.extra_fields) > MAX_EXTRA_FIELDS:
            raise InvalidRequest(f"开标记录项最多 {MAX_EXTRA_FIELDS} 项")
        if any(len(bid.extras) != len(self.extra_fields) for bid in self.bids):
            raise InvalidRequest("每个投标人的开标记录项须与标段的开标记录项一一对应")
        if len({bid.order for bid in self.bids}) != len(self.bids):
            raise InvalidRequest("投标人序号不能重复")
        _set(self, "bids", tuple(sorted(self.bids, key=lambda bid: bid.order)))
        decrypted = sum(bid.decryption.read_out for bid in self.bids)
        if type(self.valid_bids) is not int or not 0 <= self.valid_bids <= decrypted:
            raise InvalidRequest(
                "有效投标数量必须在 0 到解密成功（含以备份文件开标）的投标数量之间"
            )
        if self.failure_reason is not None:
            _set(self, "failure_reason", _text(self.failure_reason, "流标原因", 500, lines=True))


@dataclass(frozen=True)
class SheetFonts:
    """The font files the sheet is set in; a collection's face is chosen by `face`."""

    text: Path = NOTO_DIR / "NotoSerifCJK-Regular.ttc"
    headings: Path = NOTO_DIR / "NotoSansCJK-Bold.ttc"
    face: int = SIMPLIFIED_CHINESE_FACE

    def check(self) -> None:
        """FontMissing unless both font files are there (for a check at start-up)."""
        for path in (self.text, self.headings):
            if not path.is_file():
                raise FontMissing(
                    f"开标记录表所需字体文件不存在：{path}"
                    "（Debian：apt-get install fonts-noto-cjk，或指定其他字体文件）"
                )


def beijing(moment: datetime) -> str:
    """A moment as Beijing time to the second: ``2026-12-08 09:30:00``."""
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
