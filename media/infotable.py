"""Drawing lists for the information screen: texts that fit their boxes, and paged tables.

Nothing here draws. The screen's layout is a list of :class:`Fill` and :class:`Text` items in
pixels, each text already wrapped or ellipsized to its box by a :class:`Measure` (the painter's
font metrics), so that what is shown can be checked without looking at pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

Colour = tuple[int, int, int]
Align = Literal["left", "center", "right"]

ELLIPSIS = "…"
TEXT: Colour = (240, 244, 250)
DIM: Colour = (160, 176, 198)
TABLE_HEAD: Colour = (29, 53, 87)
ROW_COLOURS: tuple[Colour, Colour] = ((16, 31, 52), (22, 41, 67))


class Measure(Protocol):
    """The width in pixels of `text` drawn at `size` pixels, regular or bold."""

    def __call__(self, text: str, size: int, bold: bool = False) -> float: ...


@dataclass(frozen=True)
class Fill:
    """A filled rectangle, its corners rounded by `radius`."""

    x: int
    y: int
    w: int
    h: int
    colour: Colour
    radius: int = 0


@dataclass(frozen=True)
class Text:
    """One line of text in its box, centred vertically; `ticking` texts change every second."""

    text: str
    x: int
    y: int
    w: int
    h: int
    size: int
    colour: Colour = TEXT
    bold: bool = False
    align: Align = "left"
    ticking: bool = False


Item = Fill | Text


def fit_text(text: str, width: float, size: int, measure: Measure, bold: bool = False) -> str:
    """`text` as it is if it fits `width`, else cut and ended with an ellipsis."""
    if measure(text, size, bold) <= width:
        return text
    low, high = 0, len(text)
    # The longest prefix that still fits with the ellipsis after it.
    while low < high:
        middle = (low + high + 1) // 2
        if measure(text[:middle] + ELLIPSIS, size, bold) <= width:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + ELLIPSIS if low else ""


def wrap_text(
    text: str, width: float, size: int, measure: Measure, lines: int, bold: bool = False
) -> list[str]:
    """`text` broken into at most `lines` lines of `width` (anywhere: Chinese has no spaces to
    break at), the last one ellipsized if the text is longer still."""
    result: list[str] = []
    rest = text.strip()
    while rest and len(result) < lines - 1:
        if measure(rest, size, bold) <= width:
            break
        cut = len(fit_text(rest, width, size, measure, bold).rstrip(ELLIPSIS)) + 1
        # A word of Latin letters or digits is kept whole where it can be.
        space = rest.rfind(" ", 0, cut)
        if space > cut // 2:
            cut = space
        while cut > 1 and measure(rest[:cut], size, bold) > width:
            cut -= 1
        result.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        result.append(fit_text(rest, width, size, measure, bold))
    return result or [""]


def balanced_wrap(
    text: str, width: float, size: int, measure: Measure, lines: int, bold: bool = False
) -> list[str]:
    """Like :func:`wrap_text`, but when the text fits its lines they are made about as long as
    each other (no line of one lone character under a long one)."""
    wrapped = wrap_text(text, width, size, measure, lines, bold)
    if len(wrapped) < 2 or wrapped[-1].endswith(ELLIPSIS):
        return wrapped
    low, high = measure(text, size, bold) / len(wrapped), width
    while high - low > 1:
        middle = (low + high) / 2
        trial = wrap_text(text, middle, size, measure, len(wrapped), bold)
        if trial[-1].endswith(ELLIPSIS):
            low = middle
        else:
            high = middle
    return wrap_text(text, high, size, measure, len(wrapped), bold)


def countdown_text(seconds: float) -> str:
    """What is left, as HH:MM:SS (with days in front past a day); never 00:00:00 while any time
    is left."""
    left = max(0, math.ceil(seconds - 1e-6))
    days, left = divmod(left, 86_400)
    hours, left = divmod(left, 3_600)
    minutes, secs = divmod(left, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}天 {clock}" if days else clock


def paginate(heights: Sequence[int], space: int) -> list[range]:
    """Rows (by index) per page: as few pages as hold them in `space` pixels, as evenly filled
    as that many pages allow (a last page of one row looks like a fault), one row at least."""
    count = len(_fill_pages(heights, space))
    pages: list[range] = []
    start = 0
    for left in range(count, 0, -1):
        target = sum(heights[start:]) / left
        stop, used = start + 1, heights[start]
        while stop < len(heights) and used + heights[stop] <= space:
            # Past this page's share, and what is left still fits the pages left: a new page.
            if used + heights[stop] / 2 > target and len(_fill_pages(heights[stop:], space)) < left:
                break
            used += heights[stop]
            stop += 1
        pages.append(range(start, stop))
        start = stop
    return pages


def _fill_pages(heights: Sequence[int], space: int) -> list[range]:
    pages: list[range] = []
    start, used = 0, 0
    for index, height in enumerate(heights):
        if index > start and used + height > space:
            pages.append(range(start, index))
            start, used = index, 0
        used += height
    if start < len(heights):
        pages.append(range(start, len(heights)))
    return pages


def current_page(pages: int, now: float, page_seconds: float) -> int:
    """The page shown at `now`: pages turn every `page_seconds`, on the server's clock."""
    if pages <= 1:
        return 0
    return int(now // page_seconds) % pages


@dataclass(frozen=True)
class Column:
    """A column of a table: its header, how its cells are drawn and how wide it may be."""

    header: str
    min_width: int
    max_width: int = 10_000
    align: Align = "left"
    size: int = 22
    wrap_size: int = 19
    lines: int = 2
    bold: bool = False
    grow: bool = False
    pill: bool = False


@dataclass(frozen=True)
class Cell:
    """A value of a table; `pill` the colour of the status pill it is drawn on."""

    text: str
    colour: Colour = TEXT
    pill: Colour | None = None


@dataclass(frozen=True)
class TableStyle:
    """A table's sizes in pixels (scaled with the screen)."""

    pad: int = 10
    header_height: int = 36
    header_size: int = 19
    min_row: int = 40
    row_pad: int = 5
    pill_pad: int = 12


@dataclass(frozen=True)
class TablePage:
    """What a table draws at a moment: its items, and which page of how many."""

    items: tuple[Item, ...]
    page: int
    pages: int


def column_widths(
    columns: Sequence[Column],
    rows: Sequence[Sequence[Cell]],
    width: int,
    measure: Measure,
    style: TableStyle,
) -> list[int]:
    """Each column as wide as its widest value on one line, within its bounds.

    Where the table is too narrow, the columns that may wrap give way first down to the width
    at which their widest value takes all their lines, then down to their minimum (their
    longest values are ellipsized); a one-line column (a price, a status) never gives way, nor
    a header. Room left over goes to the growing columns.
    """
    natural, wrapped, floor = [], [], []
    for index, column in enumerate(columns):
        header = math.ceil(measure(column.header, style.header_size)) + 2 * style.pad
        extra = 2 * style.pad + (2 * style.pill_pad if column.pill else 0)
        one_line = max(
            (measure(row[index].text, column.size, column.bold) for row in rows), default=0.0
        )
        wanted = max(column.min_width, min(column.max_width, math.ceil(one_line) + extra), header)
        natural.append(wanted)
        if column.lines <= 1:
            wrapped.append(wanted)
            floor.append(wanted)
            continue
        lowest = max(column.min_width, header)
        many = max(
            (measure(row[index].text, column.wrap_size, column.bold) for row in rows), default=0.0
        )
        # Breaking anywhere leaves each line a little short of the width: a tenth to spare.
        fits = math.ceil(many * 1.1 / column.lines) + extra
        wrapped.append(min(wanted, max(lowest, fits)))
        floor.append(min(wanted, lowest))
    widths = natural
    for target in (wrapped, floor):
        widths = _shrink(widths, target, sum(widths) - width)
    extra_room = width - sum(widths)
    if extra_room > 0:
        growing = [i for i, c in enumerate(columns) if c.grow] or [len(columns) - 1]
        for count, i in enumerate(growing):
            widths[i] += extra_room // len(growing) + (count < extra_room % len(growing))
    # Minimums wider than the table: every column gives way alike.
    over = sum(widths) - width
    if over > 0:
        widths = [max(1, w - math.ceil(over * w / sum(widths))) for w in widths]
    widths[-1] += width - sum(widths)
    return widths


def _shrink(widths: list[int], targets: list[int], over: int) -> list[int]:
    """`widths` narrowed by `over` pixels in all, each in proportion to its distance from its
    target and never below it."""
    if over <= 0:
        return widths
    slack = [w - t for w, t in zip(widths, targets, strict=True)]
    total = sum(slack)
    if total <= over:
        return list(targets)
    return [w - math.ceil(s * over / total) for w, s in zip(widths, slack, strict=True)]


def cell_lines(
    cell: Cell, column: Column, width: int, measure: Measure, style: TableStyle
) -> tuple[list[str], int]:
    """The lines a cell is drawn in, and their size: one line at the column's size if it fits,
    else wrapped at the smaller wrap size."""
    inner = width - 2 * style.pad - (2 * style.pill_pad if column.pill else 0)
    if column.lines <= 1 or measure(cell.text, column.size, column.bold) <= inner:
        return [fit_text(cell.text, inner, column.size, measure, column.bold)], column.size
    size = column.wrap_size
    return balanced_wrap(cell.text, inner, size, measure, column.lines, column.bold), size


def line_height(size: int) -> int:
    """The distance between two lines of text at `size`."""
    return size + max(4, size // 5)


@dataclass(frozen=True)
class TablePlan:
    """A table's columns' widths, each cell's lines and size, each row's height, its pages."""

    widths: tuple[int, ...]
    cells: tuple[tuple[tuple[tuple[str, ...], int], ...], ...]
    heights: tuple[int, ...]
    pages: tuple[range, ...]


class TablePlanner:
    """Plans tables with `measure`, keeping the last plan: a table changes only with the
    opening's state, while the screen is laid out again every second."""

    def __init__(self, measure: Measure) -> None:
        self.measure = measure
        self._last: tuple[object, TablePlan] | None = None

    def plan(
        self,
        columns: Sequence[Column],
        rows: Sequence[Sequence[Cell]],
        width: int,
        height: int,
        style: TableStyle,
    ) -> TablePlan:
        """Where everything of a table `width` x `height` pixels goes (pages of rows)."""
        key = (tuple(columns), tuple(tuple(row) for row in rows), width, height, style)
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        measure = self.measure
        widths = column_widths(columns, rows, width, measure, style)
        cells = tuple(
            tuple(
                (tuple(lines), size)
                for cell, c, w in zip(row, columns, widths, strict=True)
                for lines, size in [cell_lines(cell, c, w, measure, style)]
            )
            for row in rows
        )
        heights = tuple(
            max(
                style.min_row,
                *(len(lines) * line_height(size) + 2 * style.row_pad for lines, size in row),
            )
            for row in cells
        )
        pages = tuple(paginate(heights, height - style.header_height))
        plan = TablePlan(tuple(widths), cells, heights, pages)
        self._last = (key, plan)
        return plan


def table_items(
    box: tuple[int, int, int, int],
    columns: Sequence[Column],
    rows: Sequence[Sequence[Cell]],
    now: float,
    page_seconds: float,
    planner: TablePlanner,
    style: TableStyle,
) -> TablePage:
    """A table in `box` (x, y, w, h): its header, and the page of rows shown at `now`."""
    x, y, width, height = box
    measure = planner.measure
    plan = planner.plan(columns, rows, width, height, style)
    widths = plan.widths
    lefts = [x + sum(widths[:i]) for i in range(len(widths))]
    page = current_page(len(plan.pages), now, page_seconds)
    items: list[Item] = [Fill(x, y, width, style.header_height, TABLE_HEAD)]
    for column, left, w in zip(columns, lefts, widths, strict=True):
        title = fit_text(column.header, w - 2 * style.pad, style.header_size, measure)
        items.append(
            _aligned(
                title, left, y, w, style.header_height, style.header_size, DIM, column.align, style
            )
        )
    top = y + style.header_height
    for index in plan.pages[page] if plan.pages else range(0):
        row_h = plan.heights[index]
        items.append(Fill(x, top, width, row_h, ROW_COLOURS[index % 2]))
        for cell, column, left, w, (lines, size) in zip(
            rows[index], columns, lefts, widths, plan.cells[index], strict=True
        ):
            items.extend(
                _cell_items(cell, column, (left, top, w, row_h), lines, size, measure, style)
            )
        top += row_h
    return TablePage(tuple(items), page, len(plan.pages))


def _cell_items(
    cell: Cell,
    column: Column,
    box: tuple[int, int, int, int],
    lines: Sequence[str],
    size: int,
    measure: Measure,
    style: TableStyle,
) -> list[Item]:
    left, top, w, row_h = box
    step = line_height(size)
    first = top + (row_h - step * len(lines)) // 2
    if column.pill and cell.pill is not None and lines[0]:
        pill_w = min(
            w - 2 * style.pad, math.ceil(measure(lines[0], size, column.bold)) + 2 * style.pill_pad
        )
        pill_h = size + 2 * max(4, size // 3)
        pill_x = {"left": left + style.pad, "right": left + w - style.pad - pill_w}.get(
            column.align, left + (w - pill_w) // 2
        )
        pill_y = top + (row_h - pill_h) // 2
        return [
            Fill(pill_x, pill_y, pill_w, pill_h, cell.pill, radius=pill_h // 2),
            Text(
                lines[0], pill_x, pill_y, pill_w, pill_h, size, cell.colour, column.bold, "center"
            ),
        ]
    return [
        _aligned(
            line,
            left,
            first + i * step,
            w,
            step,
            size,
            cell.colour,
            column.align,
            style,
            column.bold,
        )
        for i, line in enumerate(lines)
    ]


def _aligned(
    text: str,
    left: int,
    top: int,
    w: int,
    h: int,
    size: int,
    colour: Colour,
    align: Align,
    style: TableStyle,
    bold: bool = False,
) -> Text:
    return Text(text, left + style.pad, top, w - 2 * style.pad, h, size, colour, bold, align)
