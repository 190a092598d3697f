"""The opening record sheet laid out with fpdf2 on A4 landscape pages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align, TableHeadingsDisplay, VAlign, WrapMode
from fpdf.fonts import FontFace

from recorder.openingsheet.model import (
    Bid,
    Decryption,
    FontMissing,
    OpeningSheet,
    SheetFonts,
    beijing,
)


def render(sheet: OpeningSheet, fonts: SheetFonts | None = None) -> bytes:
    """The sheet as PDF bytes (A4 landscape); the same sheet and fonts give the same bytes."""
    fonts = fonts or SheetFonts()
    fonts.check()
    # Laid out twice: the first pass counts the pages that "第 x 页 共 y 页" names. The
    # footer takes no part in the flow, so the second pass has as many pages.
    pages = _SheetPdf(sheet, fonts, total_pages=0).lay_out().pages_count
    return bytes(_SheetPdf(sheet, fonts, total_pages=pages).lay_out().output())


_BLACK = 0
_RULE_GREY = 235  # heading cells' shade
_HEADING_MM = 11  # a section heading with the space around it
_PAD = 1.2  # a table cell's padding above and below its text, mm
_TABLE_PT = 8.5  # the listing tables' type size
_TABLE_LINE = 4.2  # and their line height, mm
_TABLE_SIDE = 1  # their cells' padding left and right, mm
_SIGNATURE_ROW_MM = 13  # room for a handwritten signature
_SIGNING_NOTE = (
    "本表在开标结束后生成一次，此后不再改动。主持人、见证人以电子签名签署本文件的 SHA-256 摘要，"
    "电子签名与本文件一并存档；打印件由下列人员在此签字。"
)


class _SheetPdf(FPDF):
    """One rendering of a sheet: fpdf2 with the sheet's page header and footer."""

    def __init__(self, sheet: OpeningSheet, fonts: SheetFonts, total_pages: int) -> None:
        super().__init__(orientation="L", unit="mm", format="A4")
        self.sheet = sheet
        self.total_pages = total_pages
        # The page count comes from the first pass: fpdf2's alias would also replace the
        # same characters in a bidder's name.
        self.alias_nb_pages("")
        self.set_creation_date(sheet.made_at)
        self.set_title(f"开标记录表 {sheet.project_name} {sheet.lot_name}")
        self.set_subject(f"{sheet.project_code} {sheet.lot_code}")
        self.set_creator("远程异地评标 开标记录表")
        self.set_lang("zh-CN")
        self.set_margins(left=14, top=14, right=14)
        self.set_auto_page_break(auto=True, margin=16)
        for family, path in (("text", fonts.text), ("heading", fonts.headings)):
            try:
                self.add_font(family, fname=path, collection_font_number=_face(path, fonts.face))
            except Exception as exc:  # fontTools raises many kinds for a file that is no font
                raise FontMissing(f"无法读取开标记录表所需字体文件：{path}（{exc}）") from exc
        self.set_text_color(_BLACK)
        self.set_draw_color(_BLACK)

    def header(self) -> None:
        """From the second page on, a running title saying whose sheet continues."""
        if self.page_no() == 1:
            return
        self.set_font("text", size=8)
        sheet = self.sheet
        title = f"开标记录表（续）  {sheet.project_name}  {sheet.lot_name}"
        self.cell(0, 5, self._fit(title, self.epw), align=Align.L)
        self.ln(7)

    def footer(self) -> None:
        """The project and lot codes, and 第 x 页 共 y 页."""
        self.set_y(-12)
        self.set_font("text", size=8)
        sheet = self.sheet
        codes = f"项目编号 {sheet.project_code}  标段编号 {sheet.lot_code}"
        self.cell(0, 5, self._fit(codes, self.epw * 0.4), align=Align.L)
        self.set_x(self.l_margin)
        self.cell(0, 5, f"第 {self.page_no()} 页 共 {self.total_pages} 页", align=Align.C)

    def _fit(self, text: str, width: float) -> str:
        """`text`, cut short with an ellipsis if it is wider than `width` mm on one line."""
        if self.get_string_width(text) <= width:
            return text
        while text and self.get_string_width(text + "…") > width:
            text = text[:-1]
        return text + "…"

    def lay_out(self) -> _SheetPdf:
        """Every part of the sheet, in order."""
        self.add_page()
        self._title()
        self._particulars()
        self._bids()
        self._benchmark()
        self._objections()
        self._result()
        self._signatures()
        return self

    def _heading(self, text: str, keep: float = 15) -> None:
        """A section's heading, on a new page unless `keep` mm of what it heads fit below it."""
        self.set_font("heading", size=11)
        if self.will_page_break(_HEADING_MM + keep):
            self.add_page()
        self.ln(3)
        self.cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
        self.ln(1)

    def _paragraph(self, text: str) -> None:
        self.set_font("text", size=10)
        self.multi_cell(0, 5.5, text, new_x="LMARGIN", new_y="NEXT", wrapmode=WrapMode.CHAR)

    def _paragraph_height(self, text: str) -> float:
        self.set_font("text", size=10)
        return self._height(text, self.epw - 2 * self.c_margin, 5.5)

    def _height(self, text: str, width: float, line_height: float) -> float:
        """How tall `text` is in the current font, set `width` mm wide."""
        lines = self.multi_cell(
            width, line_height, text, dry_run=True, output="LINES", wrapmode=WrapMode.CHAR,
            padding=0,
        )  # fmt: skip
        assert isinstance(lines, list)
        return len(lines) * line_height

    def _title(self) -> None:
        self.set_font("heading", size=20)
        self.set_char_spacing(6)
        self.cell(0, 11, "开标记录表", align=Align.C, new_x="LMARGIN", new_y="NEXT")
        self.set_char_spacing(0)
        self.set_font("text", size=9)
        self.cell(
            0, 6, f"制表时间：{beijing(self.sheet.made_at)}（北京时间）", align=Align.R,
            new_x="LMARGIN", new_y="NEXT",
        )  # fmt: skip
        self.ln(1)

    def _particulars(self) -> None:
        sheet = self.sheet
        rows: list[tuple[str, str, str, str] | tuple[str, str]] = [
            ("项目名称", sheet.project_name),
            ("项目编号", sheet.project_code, "标段编号", sheet.lot_code),
            ("标段名称", sheet.lot_name),
            ("招标人", sheet.tenderer, "招标代理机构", sheet.agency),
            (
                "投标截止时间",
                f"{beijing(sheet.deadline)}（北京时间）",
                "开标时间",
                f"{beijing(sheet.opened_at)}（北京时间）",
            ),
            ("开标地点", sheet.place),
            ("主持人", sheet.host, "见证人", sheet.witness),
            ("监督人", "、".join(sheet.supervisors) or "—"),
        ]
        label = FontFace(family="heading", size_pt=9.5, fill_color=_RULE_GREY)
        self.set_font("text", size=10)
        with self.table(
            col_widths=(16, 34, 16, 34),
            first_row_as_headings=False,
            line_height=5.5,
            padding=(_PAD, 1.5),
            text_align=Align.L,
            v_align=VAlign.M,
            wrapmode=WrapMode.CHAR,
        ) as table:
            for cells in rows:
                row = table.row()
                row.cell(cells[0], style=label, align=Align.C)
                row.cell(cells[1], colspan=3 if len(cells) == 2 else 1)
                if len(cells) == 4:
                    row.cell(cells[2], style=label, align=Align.C)
                    row.cell(cells[3])

    def _bids(self) -> None:
        sheet = self.sheet
        title = f"一、投标文件递交、解密及开标情况（共 {len(sheet.bids)} 家投标人）"
        if not sheet.bids:
            self._heading(title)
            self._paragraph("投标截止时间前没有投标人递交投标文件。")
            return
        columns = [
            ("序号", 9, Align.C),
            ("投标人", 36, Align.L),
            ("授权代表", 14, Align.C),
            ("递交时间", 17, Align.C),
            ("解密状态", 13, Align.C),
            ("解密时间", 17, Align.C),
            ("投标报价\n（小写）", 27, Align.R),
            ("投标报价\n（人民币大写）", 42, Align.L),
            ("工期", 15, Align.C),
            *((name, 18, Align.C) for name in sheet.extra_fields),
            ("确认情况", 14, Align.C),
        ]
        self._listing(title, columns, [_bid_cells(bid) for bid in sheet.bids])

    def _listing(
        self,
        title: str,
        columns: Sequence[tuple[str, float, Align]],
        rows: Sequence[Sequence[str]],
    ) -> None:
        """A section that is a table of many rows, its column headings on every page."""
        scale = self.epw / sum(weight for _, weight, _ in columns)
        widths = [weight * scale for _, weight, _ in columns]
        names = [name for name, _, _ in columns]
        # The heading stays with the table's heading row and first row.
        keep = self._row_height(names, widths, "heading") + self._row_height(rows[0], widths)
        self._heading(title, keep=keep)
        self.set_font("text", size=_TABLE_PT)
        with self.table(
            col_widths=widths,
            headings_style=FontFace(family="heading", size_pt=_TABLE_PT, fill_color=_RULE_GREY),
            repeat_headings=TableHeadingsDisplay.ON_TOP_OF_EVERY_PAGE,
            line_height=_TABLE_LINE,
            padding=(_PAD, _TABLE_SIDE),
            text_align=tuple(align for _, _, align in columns),
            v_align=VAlign.M,
            wrapmode=WrapMode.CHAR,
        ) as table:
            heading = table.row()
            for name in names:
                heading.cell(name, align=Align.C)
            for cells in rows:
                table.row(cells)

    def _row_height(
        self, cells: Sequence[str], widths: Sequence[float], family: str = "text"
    ) -> float:
        self.set_font(family, size=_TABLE_PT)
        lines = max(
            self._height(text, width - 2 * _TABLE_SIDE, _TABLE_LINE)
            for text, width in zip(cells, widths, strict=True)
        )
        return lines + 2 * _PAD

    def _benchmark(self) -> None:
        draw = self.sheet.benchmark
        if draw is None:
            self._heading("二、基准价参数抽取")
            self._paragraph("本标段招标文件未要求抽取基准价参数。")
            return
        rows = (
            *draw.parameters,
            ("承诺值（SHA-256）", draw.commitment_sha256),
            ("种子", draw.seed),
        )
        note = (
            f"抽取时间：{beijing(draw.drawn_at)}（北京时间）。承诺值是抽取前公布的种子的 SHA-256 "
            "摘要，种子在抽取时公开：任何人可计算种子的 SHA-256 与承诺值核对。"
        )
        self.set_font("text", size=9)
        height = sum(self._height(value, self.epw * 0.7 - 3, 5) + 2 * _PAD for _, value in rows)
        self._heading("二、基准价参数抽取", keep=self._paragraph_height(note) + 1 + height)
        self._paragraph(note)
        self.ln(1)
        label = FontFace(family="heading", size_pt=9, fill_color=_RULE_GREY)
        self.set_font("text", size=9)
        with self.table(
            col_widths=(30, 70),
            first_row_as_headings=False,
            line_height=5,
            padding=(_PAD, 1.5),
            text_align=Align.L,
            v_align=VAlign.M,
            wrapmode=WrapMode.CHAR,
        ) as table:
            for name, value in rows:
                row = table.row()
                row.cell(name, style=label, align=Align.C)
                row.cell(value)

    def _objections(self) -> None:
        title = "三、异议及答复"
        if not self.sheet.objections:
            self._heading(title)
            self._paragraph("开标过程中没有投标人提出异议。")
            return
        columns = [
            ("序号", 7, Align.C),
            ("异议人", 34, Align.L),
            ("提出时间", 17, Align.C),
            ("异议内容", 70, Align.L),
            ("答复", 70, Align.L),
            ("答复时间", 17, Align.C),
        ]
        rows = [
            (
                str(number),
                objection.raised_by,
                _two_lines(objection.raised_at),
                objection.content,
                objection.answer,
                _two_lines(objection.answered_at) if objection.answered_at else "—",
            )
            for number, objection in enumerate(self.sheet.objections, 1)
        ]
        self._listing(title, columns, rows)

    def _result(self) -> None:
        sheet = self.sheet
        if sheet.failure_reason is not None:
            text = (
                f"本标段流标。流标原因：{sheet.failure_reason}"
                f"（递交投标文件 {len(sheet.bids)} 家，有效投标文件 {sheet.valid_bids} 家。）"
            )
        else:
            decrypted = sum(b.decryption is Decryption.DECRYPTED for b in sheet.bids)
            backup = sum(b.decryption is Decryption.ACCEPTED for b in sheet.bids)
            text = (
                f"递交投标文件 {len(sheet.bids)} 家，解密成功 {decrypted} 家，"
                + (f"以备份文件开标 {backup} 家，" if backup else "")
                + f"有效投标文件 {sheet.valid_bids} 家。"
            )
        # The result stays on the page of the signatures: no page of signatures alone.
        keep = self._paragraph_height(text) + _HEADING_MM + self._signatures_height()
        self._heading("四、开标结果", keep=keep)
        self._paragraph(text)

    def _signers(self) -> list[tuple[str, str]]:
        sheet = self.sheet
        return [
            ("主持人", sheet.host),
            ("见证人", sheet.witness),
            *(("监督人", name) for name in sheet.supervisors),
        ]

    def _signatures_height(self) -> float:
        return self._paragraph_height(_SIGNING_NOTE) + 1 + len(self._signers()) * _SIGNATURE_ROW_MM

    def _signatures(self) -> None:
        self._heading("五、签署", keep=self._signatures_height())
        self._paragraph(_SIGNING_NOTE)
        self.ln(1)
        label = FontFace(family="heading", size_pt=9.5, fill_color=_RULE_GREY)
        self.set_font("text", size=10)
        with self.table(
            col_widths=(14, 30, 14, 50, 14, 40),
            first_row_as_headings=False,
            line_height=5.5,
            padding=(_PAD, 1.5),
            text_align=Align.L,
            v_align=VAlign.M,
            wrapmode=WrapMode.CHAR,
        ) as table:
            for role, name in self._signers():
                row = table.row(min_height=_SIGNATURE_ROW_MM)
                row.cell(role, style=label, align=Align.C)
                row.cell(name)
                row.cell("签字", style=label, align=Align.C)
                row.cell("")
                row.cell("日期", style=label, align=Align.C)
                row.cell("")


def _two_lines(moment: datetime) -> str:
    """Date over time, which fits a narrow column."""
    return beijing(moment).replace(" ", "\n")


def _bid_cells(bid: Bid) -> Sequence[str]:
    price = bid.price
    return (
        str(bid.order),
        bid.bidder,
        bid.representative,
        _two_lines(bid.submitted_at),
        bid.decryption.value,
        _two_lines(bid.decrypted_at) if bid.decrypted_at else "—",
        price.figures() if price else "—",
        price.capitals() if price else "—",
        bid.duration or "—",
        *(value or "—" for value in bid.extras),
        bid.confirmation.value,
    )


def _face(path: Path, face: int) -> int:
    """The face to take: `face` of a collection (TTC/OTC), the only one of a single font."""
    with path.open("rb") as file:
        return face if file.read(4) == b"ttcf" else 0
