"""The information screen's layout (开标大厅信息屏): what is shown where at a moment.

:func:`layout_screen` turns the opening's state and the server's clock into a drawing list
(:mod:`media.infotable`), designed at 1280x720 and scaled to the screen's height:

- a header with the project, its code and lot on the left, the hall and Beijing time on the
  right; a footer with the latest notice (or why the opening is paused) and the page;
- before the deadline only the phase, a large countdown, 投标文件递交中 (主持人尚未开始签到 before
  sign-in opens) and the deadline:
  no bidder's name, no number of bidders, nothing read out, whatever the state holds;
- after it, a bar with the phase, the counts and the decryption countdown, then the read-out
  (唱标) once rows are read, else the bidders with their decryption status, paged when they
  do not fit, and the benchmark-price parameters below once drawn.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from media.infostate import CONFIRMATIONS, DECRYPTION_STATUSES, OpeningState
from media.infotable import (
    DIM,
    TEXT,
    Align,
    Cell,
    Colour,
    Column,
    Fill,
    Item,
    Measure,
    TablePlanner,
    TableStyle,
    Text,
    countdown_text,
    fit_text,
    table_items,
    wrap_text,
)

BEIJING = timezone(timedelta(hours=8), "北京时间")
DESIGN_HEIGHT = 720

BACKGROUND: Colour = (13, 26, 44)
HEADER: Colour = (20, 42, 74)
FOOTER: Colour = (18, 34, 56)
PAUSED_FOOTER: Colour = (92, 26, 26)
GOLD: Colour = (255, 200, 64)
GREEN: Colour = (36, 150, 80)
RED: Colour = (200, 52, 52)
AMBER: Colour = (212, 128, 16)
BLUE: Colour = (40, 108, 200)
TEAL: Colour = (18, 132, 140)
GREY: Colour = (84, 96, 116)
DARK: Colour = (52, 58, 70)

# Before sign-in opens, the screen says what it waits for instead of 投标文件递交中.
WAITING = "等待开始签到"
PHASE_COLOURS: dict[str, Colour] = {
    WAITING: GREY,
    "签到与递交投标文件": BLUE,
    "投标截止": AMBER,
    "解密中": TEAL,
    "唱标": GREEN,
    "异议处理": AMBER,
    "签署开标记录表": BLUE,
    "开标结束": GREEN,
    "流标": RED,
    "暂停": RED,
}
DECRYPTION_COLOURS: dict[str, Colour] = {
    "未解密": GREY,
    "已解密": GREEN,
    "解密失败": RED,
    "失败已受理": AMBER,
    "无效": DARK,
}
CONFIRMATION_COLOURS: dict[str, Colour] = {
    "待确认": GREY,
    "已确认": GREEN,
    "有异议": RED,
    "异议已答复": BLUE,
}
# A bright version of each pill colour, for the counts drawn as text on the dark bar.
COUNT_COLOURS: dict[Colour, Colour] = {
    GREY: DIM,
    GREEN: (90, 220, 130),
    RED: (255, 110, 110),
    AMBER: (255, 176, 64),
    BLUE: (110, 170, 255),
    DARK: (130, 138, 150),
}
# Phases after which an empty list means nothing will be read: the phase says it all.
FINAL_PHASES = ("流标", "开标结束")


@dataclass(frozen=True)
class Screen:
    """One moment of the screen: its drawing list, and the table's page of how many."""

    items: tuple[Item, ...]
    page: int = 0
    pages: int = 1


def beijing(moment: datetime | float) -> datetime:
    """A time (or a Unix timestamp) in Beijing time."""
    if isinstance(moment, float | int):
        return datetime.fromtimestamp(moment, BEIJING)
    return moment.astimezone(BEIJING)


def clock_text(now: float) -> str:
    """The header's clock."""
    return beijing(now).strftime("北京时间 %Y-%m-%d %H:%M:%S")


def layout_screen(
    state: OpeningState | None,
    now: float,
    width: int,
    height: int,
    measure: Measure | TablePlanner,
    page_seconds: float = 6.0,
) -> Screen:
    """The drawing list of the screen showing `state` at `now` (Unix time, the server's), its
    texts measured by `measure` (a planner keeps the tables' plans from one second to the
    next)."""
    planner = measure if isinstance(measure, TablePlanner) else TablePlanner(measure)
    return _Layout(width, height, planner, page_seconds).screen(state, now)


class _Layout:
    """Positions in design pixels (720 high), scaled to the screen."""

    def __init__(self, width: int, height: int, planner: TablePlanner, page_seconds: float) -> None:
        self.width = width
        self.height = height
        self.scale = height / DESIGN_HEIGHT
        self.planner = planner
        self.measure = planner.measure
        self.footer_top: float = 720 - 44
        self.page_seconds = page_seconds
        self.margin = self.px(24)

    def px(self, value: float) -> int:
        return round(value * self.scale)

    def screen(self, state: OpeningState | None, now: float) -> Screen:
        items: list[Item] = [Fill(0, 0, self.width, self.height, BACKGROUND)]
        items += self.header(state, now)
        tables = state is not None and not state.before_deadline(now)
        notice = self.notice_lines(state, paged=tables)
        # The footer's top in design pixels: one line of notice, or two.
        self.footer_top = 720 - (44 if len(notice) < 2 else 76)
        page, pages = 0, 1
        if state is None:
            items.append(self.centred("等待开标信息", 300, 40, DIM))
        elif not tables:
            items += self.before_deadline(state, now)
        else:
            body, page, pages = self.after_deadline(state, now)
            items += body
        items += self.footer(state, notice, page, pages)
        return Screen(tuple(items), page, pages)

    # -- pieces ---------------------------------------------------------------------------------

    def text(
        self,
        text: str,
        box: tuple[float, float, float, float],
        size: float,
        colour: Colour = TEXT,
        *,
        bold: bool = False,
        align: Align = "left",
        ticking: bool = False,
    ) -> Text:
        """A line in a box of design pixels, ellipsized to its width."""
        x, y, w, h = (self.px(v) for v in box)
        pixels = self.px(size)
        fitted = fit_text(text, w, pixels, self.measure, bold)
        return Text(fitted, x, y, w, h, pixels, colour, bold, align, ticking)

    def centred(
        self, text: str, top: float, size: float, colour: Colour, *, bold: bool = False
    ) -> Text:
        """A line centred across the screen, `top` and `size` in design pixels."""
        design_width = self.width / self.scale
        return self.text(
            text, (24, top, design_width - 48, size * 1.4), size, colour, bold=bold, align="center"
        )

    def largest(self, text: str, width: float, sizes: Sequence[float], bold: bool) -> float:
        """The first of `sizes` (design pixels) at which `text` fits `width` (design pixels)."""
        for size in sizes:
            if self.measure(text, self.px(size), bold) <= self.px(width):
                return size
        return sizes[-1]

    def pill(
        self, text: str, x: float, y: float, size: float, colour: Colour
    ) -> tuple[list[Item], float]:
        """A coloured pill with `text`, left edge at x; the items and the pill's design width."""
        w = self.pill_width(text, size)
        h = size * 1.8
        box = Fill(self.px(x), self.px(y), self.px(w), self.px(h), colour, radius=self.px(h / 2))
        label = Text(text, box.x, box.y, box.w, box.h, self.px(size), TEXT, True, "center")
        return [box, label], w

    def pill_width(self, text: str, size: float) -> float:
        """How wide a pill with `text` at `size` is, in design pixels."""
        return self.measure(text, self.px(size), True) / self.scale + 2 * size

    def header(self, state: OpeningState | None, now: float) -> list[Item]:
        design_width = self.width / self.scale
        right = 420
        left = design_width - 48 - right - 24
        items: list[Item] = [Fill(0, 0, self.width, self.px(80), HEADER)]
        hall = state.hall if state else "开标大厅"
        title = state.project_name if state else hall
        size = self.largest(title, left, (30, 26, 22), True)
        items.append(self.text(title, (24, 4, left, 44), size, bold=True))
        if state is not None:
            sub = "　".join(
                part
                for part in (
                    f"项目编号：{state.project_code}" if state.project_code else "",
                    f"标段：{state.lot_name}" if state.lot_name else "",
                )
                if part
            )
            items.append(self.text(sub, (24, 48, left, 26), 19, DIM))
            items.append(
                self.text(hall, (design_width - 24 - right, 8, right, 26), 18, DIM, align="right")
            )
        clock = (design_width - 24 - right, 36, right, 36)
        items.append(self.text(clock_text(now), clock, 26, bold=True, align="right", ticking=True))
        return items

    def notice_lines(self, state: OpeningState | None, *, paged: bool) -> list[str]:
        """The notice in the footer's one line, or two if it needs them (the room of the page
        number kept where tables are shown)."""
        if state is None or not state.notice:
            return []
        width = self.px(self.notice_end(paged) - self.notice_left(state))
        return wrap_text(state.notice, width, self.px(22), self.measure, 2)

    def notice_left(self, state: OpeningState) -> float:
        label = "暂停" if state.phase == "暂停" else "公告"
        return 24 + self.measure(label, self.px(16), True) / self.scale + 32 + 12

    def notice_end(self, paged: bool) -> float:
        return self.width / self.scale - 24 - (150 + 16 if paged else 0)

    def footer(
        self, state: OpeningState | None, notice: list[str], page: int, pages: int
    ) -> list[Item]:
        design_width = self.width / self.scale
        top = self.footer_top
        paused = state is not None and state.phase == "暂停"
        colour = PAUSED_FOOTER if paused else FOOTER
        items: list[Item] = [Fill(0, self.px(top), self.width, self.height - self.px(top), colour)]
        if pages > 1:
            page_box = (design_width - 24 - 150, 720 - 44, 150, 44)
            items.append(self.text(f"第 {page + 1}/{pages} 页", page_box, 22, align="right"))
        if state is not None and notice:
            label, _ = self.pill(
                "暂停" if paused else "公告", 24, top + 8, 16, RED if paused else AMBER
            )
            items += label
            left = self.notice_left(state)
            width = self.notice_end(paged=pages > 1) - left
            if len(notice) == 1:
                items.append(self.text(notice[0], (left, top, width, 44), 22))
            for index, line in enumerate(notice if len(notice) > 1 else []):
                items.append(self.text(line, (left, top + 6 + 32 * index, width, 32), 22))
        return items

    def before_deadline(self, state: OpeningState, now: float) -> list[Item]:
        design_width = self.width / self.scale
        centre = (design_width - self.pill_width(state.phase, 26)) / 2
        items, _ = self.pill(state.phase, centre, 112, 26, PHASE_COLOURS.get(state.phase, BLUE))
        under = "主持人尚未开始签到" if state.phase == WAITING else "投标文件递交中"
        if state.deadline is None:
            items.append(self.centred(under, 300, 56, TEXT, bold=True))
            items.append(self.centred("投标截止时间未公布", 420, 26, DIM))
            return items
        left = state.deadline.timestamp() - now
        items.append(self.centred("距投标截止时间还有", 190, 32, DIM))
        count = countdown_text(left)
        size = self.largest(count, design_width - 96, (150, 120, 96), True)
        items.append(
            self.text(
                count,
                (24, 236, design_width - 48, 180),
                size,
                GOLD,
                bold=True,
                align="center",
                ticking=True,
            )
        )
        items.append(self.centred(under, 440, 44, TEXT, bold=True))
        deadline = beijing(state.deadline).strftime(
            "投标截止时间：%Y年%m月%d日 %H:%M:%S（北京时间）"
        )
        items.append(self.centred(deadline, 530, 24, DIM))
        return items

    def after_deadline(self, state: OpeningState, now: float) -> tuple[list[Item], int, int]:
        design_width = self.width / self.scale
        items, pill_w = self.pill(state.phase, 24, 94, 24, PHASE_COLOURS.get(state.phase, BLUE))
        timer_left = design_width - 24
        decrypting = state.decrypt_deadline is not None and not state.readout
        left = state.decrypt_deadline.timestamp() - now if state.decrypt_deadline else 0.0
        # Once the time is up, that is said only while decryption is what goes on.
        if decrypting and (left > 0 or state.phase == "解密中"):
            value, colour, ticking = countdown_text(left), GOLD, True
            if left <= 0:
                value, colour, ticking = "已截止", COUNT_COLOURS[RED], False
            value_w = self.measure(value, self.px(36), True) / self.scale + 8
            timer_left -= value_w + 130
            items.append(self.text("解密时限", (timer_left, 96, 120, 44), 20, DIM, align="right"))
            items.append(
                self.text(
                    value,
                    (timer_left + 130, 92, value_w, 52),
                    36,
                    colour,
                    bold=True,
                    ticking=ticking,
                )
            )
        items += self.counts(state, 24 + pill_w + 28, timer_left - 24)
        bottom: float = self.footer_top - 8
        if state.benchmark:
            benchmark, top = self.benchmark(state.benchmark, bottom)
            items += benchmark
            bottom = top - 10
        box = (
            self.margin,
            self.px(152),
            self.width - 2 * self.margin,
            self.px(bottom) - self.px(152),
        )
        if state.readout:
            columns, rows = self.readout_table(state)
        elif state.bidders:
            columns, rows = self.bidder_table(state)
        else:
            waiting = state.phase if state.phase in FINAL_PHASES else "投标截止，等待公布投标人名单"
            items.append(
                self.centred(waiting, 330, 40 if waiting == state.phase else 32, DIM, bold=True)
            )
            return items, 0, 1
        style = TableStyle(
            pad=self.px(8),
            header_height=self.px(36),
            header_size=self.px(19),
            min_row=self.px(38),
            row_pad=self.px(5),
            pill_pad=self.px(12),
        )
        table = table_items(box, columns, rows, now, self.page_seconds, self.planner, style)
        return items + list(table.items), table.page, table.pages

    def counts(self, state: OpeningState, left: float, right: float) -> list[Item]:
        """The bar's counts (how many bidders, how many in each status), as far as they fit."""
        if state.readout:
            tally: Counter[str] = Counter(row.confirmation for row in state.readout)
            parts = [("已唱标", f"{len(state.readout)} 家", TEXT)]
            parts += [
                (c, str(tally[c]), COUNT_COLOURS[CONFIRMATION_COLOURS[c]])
                for c in CONFIRMATIONS
                if tally[c]
            ]
        elif state.bidders:
            tally = Counter[str](bidder.decryption for bidder in state.bidders)
            parts = [("投标人", f"{len(state.bidders)} 家", TEXT)]
            parts += [
                (s, str(tally[s]), COUNT_COLOURS[DECRYPTION_COLOURS[s]])
                for s in DECRYPTION_STATUSES
                if tally[s]
            ]
        else:
            return []
        items: list[Item] = []
        x = left
        for label, value, colour in parts:
            label_w = self.measure(label, self.px(20)) / self.scale + 6
            value_w = self.measure(value, self.px(26), True) / self.scale + 4
            if x + label_w + value_w > right:
                break
            items.append(self.text(label, (x, 96, label_w, 44), 20, DIM))
            items.append(self.text(value, (x + label_w, 94, value_w, 48), 26, colour, bold=True))
            x += label_w + value_w + 26
        return items

    def benchmark(
        self, params: Sequence[tuple[str, str]], bottom: float
    ) -> tuple[list[Item], float]:
        """The drawn benchmark-price parameters in a box above `bottom`; the items and its top."""
        design_width = self.width / self.scale
        text = "　　".join(f"{name}：{value}" for name, value in params)
        label_w = 150
        inner = self.px(design_width - 48 - label_w - 24)
        lines = wrap_text(text, inner, self.px(22), self.measure, 2)
        height = 16 + 32 * len(lines)
        top = bottom - height
        items: list[Item] = [
            Fill(
                self.margin,
                self.px(top),
                self.width - 2 * self.margin,
                self.px(height),
                HEADER,
                self.px(8),
            )
        ]
        items.append(self.text("基准价参数", (40, top, label_w, height), 22, GOLD, bold=True))
        for i, line in enumerate(lines):
            items.append(
                Text(
                    line,
                    self.px(40 + label_w),
                    self.px(top + 8 + 32 * i),
                    inner,
                    self.px(32),
                    self.px(22),
                )
            )
        return items, top

    def bidder_table(self, state: OpeningState) -> tuple[list[Column], list[list[Cell]]]:
        px = self.px
        columns = [
            Column("序号", px(56), px(56), "center", px(22)),
            Column("投标人", px(300), size=px(22), wrap_size=px(19), grow=True),
            Column("递交时间", px(180), px(220), "center", px(20), lines=1),
            Column("解密状态", px(150), px(170), "center", px(19), lines=1, bold=True, pill=True),
            Column("解密时间", px(130), px(170), "center", px(20), lines=1),
        ]
        rows = [
            [
                Cell(str(number)),
                Cell(bidder.name, DIM if bidder.decryption == "无效" else TEXT),
                Cell(
                    beijing(bidder.submitted_at).strftime("%m-%d %H:%M:%S")
                    if bidder.submitted_at
                    else "—",
                    DIM,
                ),
                Cell(bidder.decryption, TEXT, DECRYPTION_COLOURS[bidder.decryption]),
                Cell(
                    beijing(bidder.decryption_at).strftime("%H:%M:%S")
                    if bidder.decryption_at
                    else "—",
                    DIM,
                ),
            ]
            for number, bidder in enumerate(state.bidders, 1)
        ]
        return columns, rows

    def readout_table(self, state: OpeningState) -> tuple[list[Column], list[list[Cell]]]:
        px = self.px
        columns = [
            Column("序号", px(56), px(56), "center", px(22)),
            Column("投标人", px(220), size=px(22), wrap_size=px(19), grow=True),
            Column("投标报价（元）", px(150), px(240), "right", px(22), lines=1, bold=True),
            Column("大写", px(200), px(380), size=px(20), wrap_size=px(18)),
            Column("工期", px(100), px(200), "center", px(20), lines=1),
        ]
        columns += [
            Column(name, px(96), px(220), "center", px(20), wrap_size=px(18))
            for name in state.readout_fields
        ]
        columns.append(
            Column("确认", px(120), px(140), "center", px(19), lines=1, bold=True, pill=True)
        )
        rows = []
        for number, row in enumerate(state.readout, 1):
            fields = dict(row.fields)
            rows.append(
                [
                    Cell(str(number)),
                    Cell(row.bidder),
                    Cell(row.price or "—", GOLD),
                    Cell(row.price_capitals or "—", DIM),
                    Cell(row.duration or "—"),
                    *(Cell(fields.get(name, "—")) for name in state.readout_fields),
                    Cell(row.confirmation, TEXT, CONFIRMATION_COLOURS[row.confirmation]),
                ]
            )
        return columns, rows
