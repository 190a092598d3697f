"""The opening record sheet (开标记录表) of a lot, as the PDF a trading centre prints and files.

The sheet records a bid opening in the hall (不见面开标大厅, standard 7.2.3-4 to 9): the lot and
its people, every bid with its submission, decryption and what was read out (the price in
figures and in capitals, the duration and the lot's further fields, in the lot's order), each
bidder's confirmation or objection, the benchmark-price parameters drawn (with the commitment
and seed that let anybody check the draw), the objections and their answers, and the result:
the number of valid bids, or a failed opening (流标) and why.

It is rendered once, when the opening is over and before anybody signs. The host and the
witness then sign the SHA-256 of exactly these bytes with their electronic signatures, which are
kept beside the PDF as the experts' signatures are kept beside the evaluation report
(roomserver/signatures.py); nothing is drawn into the PDF after it was made, which would change
its digest. The lines for handwritten signatures serve a printed copy.

The same sheet, fonts and fpdf2 version give the same bytes: the PDF's creation date is the
sheet's `made_at` and nothing random goes in. Another font or library version may give other
bytes, so the rendering that was signed is what is kept, never a new one.

The type is Noto CJK, the Simplified Chinese face of Debian's fonts-noto-cjk collections: Noto
Serif CJK (宋体-like) for the text and Noto Sans CJK Bold (黑体-like) for the title and headings.
These are CFF-based OpenType fonts; fpdf2 embeds the glyphs a sheet uses as a CID-keyed CFF
subset (CIDFontType0C) with an encoding CMap of its own, and a ToUnicode map so that the text
can be searched and copied. Poppler, MuPDF, PDFium (Chromium) and pdf.js (Firefox) draw the
sheet and read its text; pdfminer.six does not read that encoding CMap and finds no text, and
pypdf puts a NUL before every character.

A sheet is laid out twice (the first pass counts the pages) and its fonts are subset: a
rendering takes a second or more of CPU: async code calls it in a thread.
"""

from recorder.openingsheet.model import (
    BenchmarkDraw,
    Bid,
    Confirmation,
    Decryption,
    FontMissing,
    Objection,
    OpeningSheet,
    SheetFonts,
    beijing,
)
from recorder.openingsheet.record import SheetContext, sheet_of


def render(sheet: OpeningSheet, fonts: SheetFonts | None = None) -> bytes:
    """The sheet as PDF bytes (``layout.render``). fpdf2 and its font tools are loaded with the
    first sheet rendered, not with the server: they would add about 0.3 s to every start."""
    from recorder.openingsheet.layout import render as lay_out

    return lay_out(sheet, fonts)

__all__ = [
    "BenchmarkDraw",
    "Bid",
    "Confirmation",
    "Decryption",
    "FontMissing",
    "Objection",
    "OpeningSheet",
    "SheetContext",
    "SheetFonts",
    "beijing",
    "render",
    "sheet_of",
]
