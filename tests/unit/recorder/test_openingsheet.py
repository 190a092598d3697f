"""The opening record sheet: a PDF with its Chinese text embedded, paged, and the same every time.

Read back and drawn with PDFium, Chromium's PDF engine; the fonts' objects read with pypdf. The
three-bidder sheet's pages go to test-artifacts/ as PDF and PNG, to be looked at.
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from pypdf import PdfReader

from recorder.openingsheet import (
    BenchmarkDraw,
    Bid,
    Confirmation,
    Decryption,
    FontMissing,
    Objection,
    OpeningSheet,
    SheetFonts,
    render,
)
from roomserver.amounts import Amount
from roomserver.errors import InvalidRequest

if not (SheetFonts().text.is_file() and SheetFonts().headings.is_file()):
    pytest.skip("needs Debian's fonts-noto-cjk", allow_module_level=True)

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
T0 = datetime(2026, 12, 8, 1, 30, tzinfo=UTC)  # 09:30 in Beijing
LONG_NAME = (
    "大连某某路桥建设集团股份有限公司（联合体牵头人）"
    "与鞍山市某某市政设计研究院有限公司（联合体成员）"
)
NAMES = ("辽宁省沈阳市第一建筑工程有限公司", LONG_NAME, "锦州恒信建设有限公司")
PRICES = ("12345678.90", "100010001.01", "9876543.00")


def bid(order: int, name: str, read_price: str | None, **changes: Any) -> Bid:
    decrypted = read_price is not None
    made = Bid(
        order=order,
        bidder=name,
        representative="欧阳修远",
        submitted_at=T0 - timedelta(hours=20, minutes=order),
        decryption=Decryption.DECRYPTED if decrypted else Decryption.FAILED,
        decrypted_at=T0 + timedelta(minutes=3 + order),
        price=Amount.parse(read_price) if read_price else None,
        duration="365日历天" if decrypted else None,
        confirmation=Confirmation.CONFIRMED,
        extras=("合格", "王建国（一级建造师）") if decrypted else ("", ""),
    )
    return replace(made, **changes)


def sheet(bids: tuple[Bid, ...], **changes: Any) -> OpeningSheet:
    fields: dict[str, Any] = dict(
        project_name="沈阳市浑南区某某学校新建教学楼及附属设施工程施工总承包",
        project_code="SYGC-2026-0815",
        lot_name="第一标段（土建及安装）",
        lot_code="SYGC-2026-0815-01",
        tenderer="沈阳市浑南区教育局",
        agency="辽宁某某工程咨询有限公司",
        deadline=T0,
        opened_at=T0,
        place="沈阳市公共资源交易中心 不见面开标大厅（第三开标室）",
        host="刘明",
        witness="陈静",
        supervisors=("赵监督",),
        bids=bids,
        valid_bids=sum(b.decryption is Decryption.DECRYPTED for b in bids),
        made_at=T0 + timedelta(hours=1, minutes=12),
        extra_fields=("质量标准", "项目经理"),
        benchmark=BenchmarkDraw(
            parameters=(("下浮系数 K", "4.5%"), ("权重系数 Q1", "0.70")),
            commitment_sha256="3f" * 32,
            seed="0a1b" * 16,
            drawn_at=T0 + timedelta(minutes=40),
        ),
        objections=(
            Objection(
                raised_by=LONG_NAME,
                raised_at=T0 + timedelta(minutes=30),
                content="第 1 家投标人的投标报价大写与小写不一致。",
                answer="经核对，以开标一览表的大写金额为准，异议不成立。",
                answered_at=T0 + timedelta(minutes=45),
            ),
        ),
    )
    return OpeningSheet(**(fields | changes))


def three() -> OpeningSheet:
    return sheet(
        (
            bid(1, NAMES[0], PRICES[0]),
            bid(2, NAMES[1], PRICES[1], confirmation=Confirmation.OBJECTED),
            bid(3, NAMES[2], PRICES[2]),
        )
    )


def forty() -> OpeningSheet:
    bids = tuple(
        bid(n, f"{NAMES[n % 3][:14]}第{n}号", None if n % 9 == 0 else PRICES[n % 3])
        for n in range(1, 41)
    )
    return sheet(bids)


@pytest.fixture(scope="module")
def three_pdf() -> bytes:
    return render(three())


@pytest.fixture(scope="module")
def forty_pdf() -> bytes:
    return render(forty())


def flat(text: str) -> str:
    """The text without its spaces and line breaks, which wrapping and pypdf put anywhere."""
    return "".join(text.split())


def page_texts(data: bytes) -> list[str]:
    document = pdfium.PdfDocument(data)
    return [flat(page.get_textpage().get_text_bounded()) for page in document]


def fonts(data: bytes) -> dict[str, dict[str, Any]]:
    """Each font the pages use: its type, its font file's type and size."""
    found: dict[str, dict[str, Any]] = {}
    for page in PdfReader(io.BytesIO(data)).pages:
        for ref in page["/Resources"]["/Font"].values():
            font = ref.get_object()
            descendant = font["/DescendantFonts"][0].get_object()
            program = descendant["/FontDescriptor"]["/FontFile3"].get_object()
            found[str(font["/BaseFont"])] = {
                "subtype": descendant["/Subtype"],
                "file": program["/Subtype"],
                "size": len(program.get_data()),
                "unicode": "/ToUnicode" in font,
            }
    return found


def test_the_sheet_is_an_a4_pdf_whose_chinese_text_reads_back(three_pdf: bytes) -> None:
    assert three_pdf.startswith(b"%PDF-1.") and three_pdf.rstrip().endswith(b"%%EOF")
    box = PdfReader(io.BytesIO(three_pdf)).pages[0].mediabox
    assert (round(box.width / 72 * 25.4), round(box.height / 72 * 25.4)) == (297, 210)
    text = "".join(page_texts(three_pdf))
    for expected in (
        "开标记录表",
        "沈阳市浑南区某某学校新建教学楼及附属设施工程施工总承包",
        "项目编号SYGC-2026-0815",
        "开标时间2026-12-0809:30:00（北京时间）",
        "主持人刘明见证人陈静",
        "投标报价（人民币大写）",
        *NAMES,
        "¥12,345,678.90壹仟贰佰叁拾肆万伍仟陆佰柒拾捌元玖角",
        "¥100,010,001.01壹亿零壹万零壹元零壹分",
        "¥9,876,543.00玖佰捌拾柒万陆仟伍佰肆拾叁元整",
        "365日历天合格王建国（一级建造师）",
        "解密成功2026-12-0809:35:00",
        "有异议",
        "下浮系数K4.5%",
        "3f" * 32,
        "以开标一览表的大写金额为准，异议不成立。",
        "递交投标文件3家，解密成功3家，有效投标文件3家。",
        "主持人刘明签字日期",
        "见证人陈静签字日期",
        "监督人赵监督签字日期",
        "电子签名签署本文件的SHA-256摘要",
    ):
        assert expected in text, expected


def test_the_type_is_embedded_as_cff_subsets_with_unicode_maps(three_pdf: bytes) -> None:
    found = fonts(three_pdf)
    assert sorted(name.lstrip("/").split("+")[1] for name in found) == [
        "NotoSansCJKSCBold",
        "NotoSerifCJKSC",
    ]
    for name, font in found.items():
        assert len(name.lstrip("/").split("+")[0]) == 6, name  # the subset tag
        assert font["subtype"] == "/CIDFontType0" and font["file"] == "/CIDFontType0C"
        assert font["unicode"]
        # The glyphs used, not the collection of 65,535 (over 10 MB a face).
        assert font["size"] < 300_000, (name, font["size"])


def test_the_same_sheet_gives_the_same_bytes_dated_as_made(three_pdf: bytes) -> None:
    assert render(three()) == three_pdf
    metadata = PdfReader(io.BytesIO(three_pdf)).metadata
    assert metadata is not None and metadata["/CreationDate"] == "D:20261208024200Z"
    assert metadata["/Title"] == f"开标记录表 {three().project_name} {three().lot_name}"


def test_forty_bidders_flow_over_pages_with_headings_repeated_and_numbered(
    forty_pdf: bytes,
) -> None:
    pages = page_texts(forty_pdf)
    total = len(pages)
    assert total >= 3
    for number, text in enumerate(pages, 1):
        assert f"第{number}页共{total}页" in text
        if number > 1:
            assert "开标记录表（续）" in text
    bidders_on = [[n for n in range(1, 41) if f"第{n}号" in text] for text in pages]
    assert sorted(n for numbers in bidders_on for n in numbers) == list(range(1, 41))
    assert sum(1 for numbers in bidders_on if numbers) >= 2
    for text, numbers in zip(pages, bidders_on, strict=True):
        if numbers:  # every page of the table starts with its heading
            assert "序号投标人授权代表递交时间解密状态解密时间投标报价（小写）" in text
    assert "".join(pages).count("解密失败") == 4  # orders 9, 18, 27 and 36
    # The result and the signatures close the sheet on one page.
    assert "四、开标结果" in pages[-1] and "五、签署" in pages[-1]


def test_a_failed_opening_says_why_and_empty_parts_say_so() -> None:
    failed = sheet(
        (bid(1, NAMES[0], PRICES[0]), bid(2, NAMES[2], None)),
        valid_bids=1,
        failure_reason="有效投标人不足三家",
        benchmark=None,
        objections=(),
        supervisors=(),
    )
    text = "".join(page_texts(render(failed)))
    assert "本标段流标。流标原因：有效投标人不足三家（递交投标文件2家，有效投标文件1家。）" in text
    assert "本标段招标文件未要求抽取基准价参数。" in text
    assert "开标过程中没有投标人提出异议。" in text
    assert "监督人—" in text
    assert "解密失败" in text


def test_text_is_printed_as_given_even_what_looks_like_a_page_count_alias() -> None:
    odd = sheet((bid(1, "某某{nb}公司", PRICES[0]),), project_name="项目{nb}")
    text = "".join(page_texts(render(odd)))
    assert "某某{nb}公司" in text and "项目{nb}" in text


def test_a_missing_or_unreadable_font_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "none.ttc"
    with pytest.raises(FontMissing) as caught:
        render(three(), SheetFonts(text=missing))
    assert str(missing) in str(caught.value) and "fonts-noto-cjk" in str(caught.value)
    garbage = tmp_path / "garbage.ttc"
    garbage.write_bytes(b"not a font")
    with pytest.raises(FontMissing, match="无法读取"):
        render(three(), SheetFonts(headings=garbage))


def test_a_sheet_that_does_not_add_up_cannot_be_made() -> None:
    naive = datetime(2026, 12, 8, 9, 30)
    cases: list[tuple[Any, str]] = [
        (lambda: bid(1, NAMES[0], PRICES[0], submitted_at=naive), "递交时间必须是带时区的时间"),
        (
            lambda: bid(1, NAMES[0], None, price=Amount(1)),
            "只有解密成功（或以备份文件开标）的投标才有投标报价",
        ),
        (
            lambda: bid(1, NAMES[0], None, decryption=Decryption.OVERDUE),
            "解密成功或失败须有解密时间，逾期未解密则没有",
        ),
        (lambda: bid(0, NAMES[0], PRICES[0]), "投标人序号必须是正整数"),
        (lambda: bid(1, "  ", PRICES[0]), "投标人名称不能为空"),
        (lambda: bid(1, "名" * 201, PRICES[0]), "投标人名称不能超过 200 个字"),
        (
            lambda: sheet((bid(1, NAMES[0], PRICES[0]), bid(1, NAMES[1], PRICES[1]))),
            "投标人序号不能重复",
        ),
        (
            lambda: sheet((bid(1, NAMES[0], PRICES[0], extras=("合格",)),)),
            "每个投标人的开标记录项须与标段的开标记录项一一对应",
        ),
        (
            lambda: sheet((bid(1, NAMES[0], None),), valid_bids=1),
            "有效投标数量必须在 0 到解密成功（含以备份文件开标）的投标数量之间",
        ),
        (lambda: sheet((), extra_fields=("项",) * 7), "开标记录项最多 6 项"),
        (lambda: sheet((), made_at=naive), "制表时间必须是带时区的时间"),
        (
            lambda: BenchmarkDraw((("K", "1%"),), "3F" * 32, "00", T0),
            "抽取承诺必须是 64 位小写十六进制的 SHA-256",
        ),
    ]
    for make, message in cases:
        with pytest.raises(InvalidRequest) as caught:
            make()
        assert caught.value.message == message


def test_control_characters_never_reach_the_page() -> None:
    made = bid(1, "某某\x00建设\t有限\r\n公司", PRICES[0])
    assert made.bidder == "某某 建设 有限 公司"
    objection = Objection(LONG_NAME, T0, "第一行\r\n第二行\x07", "答复", None)
    assert objection.content == "第一行 第二行"
    failed = sheet((), valid_bids=0, failure_reason="原因一\r\n原因二")
    assert failed.failure_reason == "原因一 \n原因二"


def test_the_pages_are_drawn_with_their_glyphs(three_pdf: bytes, forty_pdf: bytes) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "opening-sheet-3.pdf").write_bytes(three_pdf)
    for number, page in enumerate(pdfium.PdfDocument(three_pdf), 1):
        image = page.render(scale=100 / 72).to_pil().convert("L")
        image.save(ARTIFACTS / f"opening-sheet-3-{number}.png")
        assert image.size in {(1169, 827), (1170, 827)}  # A4 landscape at 100 dpi
        if number == 1:
            # The title's glyphs are drawn: a font that does not load leaves the text blank
            # while the text still reads back.
            title = image.crop((450, 50, 720, 100))
            assert sum(title.histogram()[:128]) > 1500  # dark pixels
    (ARTIFACTS / "opening-sheet-40.pdf").write_bytes(forty_pdf)


def test_the_longest_values_allowed_still_fit_their_rows() -> None:
    fields = tuple(f"记录项{n}" for n in range(1, 7))
    longest = sheet(
        tuple(
            bid(n, "投" * 200, "999999999999.99", duration="天" * 50, extras=("项" * 100,) * 6)
            for n in range(1, 4)
        ),
        project_name="项" * 200,
        lot_name="段" * 200,
        place="地" * 200,
        extra_fields=fields,
        objections=(Objection("异" * 200, T0, "容" * 500, "复" * 500, T0),),
        failure_reason="因" * 500,
        valid_bids=0,
    )
    text = "".join(page_texts(render(longest)))
    assert "投" * 200 in text and "项" * 100 in text and "容" * 500 in text
