"""The opening hall's information screen: its input, its layout rules and its encoded stream."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import av
import numpy as np
import pytest

from media.config import MediaConfig
from media.infolayout import Screen, layout_screen
from media.infoscreen import InfoScreenCompositor, ScreenPainter
from media.infostate import BadOpeningState, OpeningState, parse_opening
from media.infotable import (
    ELLIPSIS,
    Text,
    balanced_wrap,
    countdown_text,
    current_page,
    fit_text,
    paginate,
)
from media.labels import find_cjk_font
from media.testing import openings

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "infoscreen"
NOW = float(int(datetime(2026, 5, 12, 9, 0, tzinfo=timezone(timedelta(hours=8))).timestamp()))
WIDTH, HEIGHT = 1280, 720


@pytest.fixture(scope="module")
def painter() -> ScreenPainter:
    return ScreenPainter(WIDTH, HEIGHT, find_cjk_font())


def layout(state: OpeningState, now: float, painter: ScreenPainter) -> Screen:
    return layout_screen(state, now, WIDTH, HEIGHT, painter.measure)


def texts(screen: Screen) -> list[str]:
    return [item.text for item in screen.items if isinstance(item, Text)]


# -- the input ------------------------------------------------------------------------------------


def test_a_message_with_only_the_required_keys_is_taken_and_unknown_keys_are_ignored() -> None:
    state = parse_opening({"project_name": "某工程", "phase": "解密中", "later": {"x": 1}})
    assert state.project_name == "某工程" and state.bidders == () and state.deadline is None
    nulls = parse_opening(
        {"project_name": "某工程", "phase": "唱标", "bidders": None, "notice": None}
    )
    assert nulls.bidders == () and nulls.notice == ""


@pytest.mark.parametrize(
    "change",
    [
        {"project_name": None},
        {"phase": 3},
        {"deadline": "2026-05-12T09:30:00"},  # no zone: which 09:30?
        {"deadline": "tomorrow"},
        {"bidders": {"name": "A"}},
        {"bidders": [{"name": "A", "decryption": "解密成功"}]},
        {"bidders": [{"submitted_at": "2026-05-12T09:00:00+08:00"}]},
        {"readout": [{"bidder": "A", "price": 12345678.9}]},  # money travels as text
        {"readout": [{"bidder": "A", "fields": {"工期": 365}}]},
        {"readout": [{"bidder": "A", "confirmation": "确认"}]},
        {"benchmark": [{"name": "K"}]},
        {"readout_fields": ["质量", 2]},
    ],
)
def test_a_message_that_breaks_the_schema_is_refused(change: dict[str, object]) -> None:
    message: dict[str, object] = {"project_name": "某工程", "phase": "唱标", **change}
    with pytest.raises(BadOpeningState):
        parse_opening(message)


def test_further_fields_follow_the_lots_order_then_the_rows_own() -> None:
    state = parse_opening(
        {
            "project_name": "某工程",
            "phase": "唱标",
            "readout_fields": ["质量", "项目经理"],
            "readout": [
                {"bidder": "A", "fields": {"备注": "无", "项目经理": "张三", "质量": "合格"}}
            ],
        }
    )
    assert state.readout_fields == ("质量", "项目经理", "备注")
    assert [name for name, _ in state.readout[0].fields] == ["质量", "项目经理", "备注"]


# -- layout logic ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (-5, "00:00:00"),
        (0, "00:00:00"),
        (0.2, "00:00:01"),  # never zero while time is left
        (59.5, "00:01:00"),
        (3600 + 23 * 60 + 45, "01:23:45"),
        (86_400 + 3661, "1天 01:01:01"),
    ],
)
def test_countdown_text(seconds: float, shown: str) -> None:
    assert countdown_text(seconds) == shown


def test_pages_hold_what_fits_evenly_and_in_order() -> None:
    assert [len(p) for p in paginate([40] * 12, 480)] == [12]
    pages = paginate([54] * 25, 420)
    assert len(pages) == 4 and [i for p in pages for i in p] == list(range(25))
    assert max(len(p) for p in pages) - min(len(p) for p in pages) <= 1
    assert all(sum([54] * len(p)) <= 420 for p in pages)
    # A row taller than a page has a page of its own.
    assert [list(p) for p in paginate([30, 500, 30], 100)] == [[0], [1], [2]]
    assert paginate([], 100) == []


def test_pages_turn_on_the_clock_and_come_round_again() -> None:
    assert [current_page(3, t, 6.0) for t in (0, 5.9, 6, 12, 18, 24)] == [0, 0, 1, 2, 0, 1]
    assert current_page(1, 1e9, 6.0) == 0


def test_long_names_are_ellipsized_or_wrapped_within_their_width(painter: ScreenPainter) -> None:
    name = openings.BIDDERS[2]
    cut = fit_text(name, 300, 22, painter.measure)
    assert cut.endswith(ELLIPSIS) and painter.measure(cut, 22) <= 300
    assert fit_text("短名", 300, 22, painter.measure) == "短名"
    lines = balanced_wrap(name, 420, 19, painter.measure, 2)
    assert len(lines) == 2 and "".join(lines) == name
    assert all(painter.measure(line, 19) <= 420 for line in lines)
    # Balanced: the second line is not a stub under a full first one.
    assert len(lines[1]) >= len(lines[0]) - 2
    assert len(balanced_wrap(name * 3, 420, 19, painter.measure, 2)) == 2


def test_before_the_deadline_no_bidder_and_no_count_is_shown(painter: ScreenPainter) -> None:
    message = openings.readout(NOW)
    message["deadline"] = openings.before_deadline(NOW)["deadline"]
    message["bidders"] = [{"name": name} for name in openings.BIDDERS[:7]]
    full = parse_opening(message)
    bare = parse_opening(
        {k: v for k, v in message.items() if k not in ("bidders", "readout", "benchmark")}
    )
    screen = layout(full, NOW, painter)
    # The list, the read-out and the benchmark change nothing on the screen.
    assert screen.items == layout(bare, NOW, painter).items
    shown = " ".join(texts(screen))
    assert not any(name[:6] in shown for name in openings.BIDDERS)
    assert "家" not in shown and "投标人" not in shown.replace("投标截止", "")
    assert "投标文件递交中" in shown and "01:23:45" in shown
    # Without a deadline nothing proves that it passed: still nothing shown.
    undated = parse_opening({**message, "deadline": None})
    assert "投标文件递交中" in texts(layout(undated, NOW, painter))
    assert not any(
        t.startswith(openings.BIDDERS[0][:6]) for t in texts(layout(undated, NOW, painter))
    )
    # From the deadline's second on, the table.
    after = full.deadline.timestamp() if full.deadline else 0.0
    shown_after = texts(layout(full, after, painter))
    assert any(t.startswith(name[:6]) for t in shown_after for name in openings.BIDDERS)


def test_the_countdown_ticks_with_the_clock_alone(painter: ScreenPainter) -> None:
    state = parse_opening(openings.decryption(NOW))
    one, two = layout(state, NOW, painter), layout(state, NOW + 1, painter)
    changed = {(a.text, b.text) for a, b in zip(one.items, two.items, strict=True) if a != b}
    assert ("00:18:05", "00:18:04") in changed
    different = [a for a, b in zip(one.items, two.items, strict=True) if a != b]
    assert all(isinstance(a, Text) and a.ticking for a in different)
    late = texts(layout(state, NOW + 19 * 60, painter))
    assert "已截止" in late


def test_twelve_bidders_fit_one_page_and_every_status_shows(painter: ScreenPainter) -> None:
    screen = layout(parse_opening(openings.decryption(NOW)), NOW, painter)
    shown = texts(screen)
    assert screen.pages == 1 and not any(t.startswith("第 ") for t in shown)
    for status in ("未解密", "已解密", "解密失败", "失败已受理", "无效"):
        assert status in shown
    assert "12 家" in shown


def test_a_long_read_out_turns_pages_and_shows_every_row_once(painter: ScreenPainter) -> None:
    state = parse_opening(openings.readout(NOW))
    first = layout(state, NOW, painter)
    assert first.pages >= 2
    seen: list[str] = []
    for page in range(first.pages):
        screen = layout(state, NOW + page * 6.0, painter)
        assert f"第 {screen.page + 1}/{first.pages} 页" in texts(screen)
        seen += [t for t in texts(screen) if "," in t and t[0].isdigit()]  # the prices
    assert sorted(seen) == sorted(row.price for row in state.readout)


@pytest.mark.parametrize("scene", ["before_deadline", "decryption", "readout"])
def test_texts_fit_their_boxes_inside_the_screen_without_overlapping(
    scene: str, painter: ScreenPainter
) -> None:
    state = parse_opening(getattr(openings, scene)(NOW))
    for page in range(layout(state, NOW, painter).pages):
        lines = [
            i
            for i in layout(state, NOW + 6.0 * page, painter).items
            if isinstance(i, Text) and i.text
        ]
        for item in lines:
            assert painter.measure(item.text, item.size, item.bold) <= item.w + 1, item
            assert (
                item.x >= 0
                and item.y >= 0
                and item.x + item.w <= WIDTH
                and item.y + item.h <= HEIGHT
            )
            assert item.size >= 16, item
        for a, b in itertools.combinations(lines, 2):
            apart = a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y
            assert apart, (a, b)


def test_sample_pictures(painter: ScreenPainter) -> None:
    """Writes test-artifacts/infoscreen/*.png: look at them after a layout change."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for scene in ("before_deadline", "decryption", "readout"):
        state = parse_opening(getattr(openings, scene)(NOW))
        pages = layout(state, NOW, painter).pages
        for page in range(pages):
            screen = layout(state, NOW + 6.0 * page, painter)
            image = painter.picture(screen)
            assert image.size == (WIDTH, HEIGHT)
            suffix = f"-{screen.page + 1}of{pages}" if pages > 1 else ""
            image.save(ARTIFACTS / f"{scene}{suffix}.png")


# -- the encoded stream ---------------------------------------------------------------------------


def decode_all(packets: list[av.Packet]) -> list[av.VideoFrame]:
    decoder = av.CodecContext.create("libvpx", "r")
    return [frame for packet in packets for frame in decoder.decode(packet)]


def busy(luma: np.ndarray) -> bool:
    """A region with text in it: many pixels far from its background."""
    return float(np.mean(np.abs(luma.astype(np.int16) - np.median(luma)) > 40)) > 0.02


async def test_the_screen_streams_decodable_pictures_with_text() -> None:
    now = time.time()
    screen = InfoScreenCompositor(MediaConfig(infoscreen_fps=5), clock=lambda: now)
    screen.update(openings.before_deadline(now))
    recorded: list[tuple[av.Packet, bool]] = []
    screen.add_listener(lambda packet, keyframe: recorded.append((packet, keyframe)))
    async with screen:
        track = screen.subscribe()
        packets = [await asyncio.wait_for(track.recv(), 5) for _ in range(3)]
    assert packets[0].is_keyframe and recorded and recorded[0][1]
    frames = decode_all(packets)
    assert frames and (frames[0].width, frames[0].height) == (WIDTH, HEIGHT)
    luma = frames[-1].to_ndarray()[:HEIGHT]
    assert busy(luma[0:80, 0:760])  # the project's name
    assert busy(luma[0:80, 860:1280])  # the clock
    assert busy(luma[250:420, 300:980])  # the countdown
    assert not busy(luma[140:160, 0:200])  # background, no text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    frames[-1].to_image().save(ARTIFACTS / "decoded-before_deadline.png")


async def test_an_update_changes_the_picture_and_a_bad_one_changes_nothing() -> None:
    now = time.time()
    screen = InfoScreenCompositor(MediaConfig(infoscreen_fps=5), clock=lambda: now)
    screen.update(openings.before_deadline(now))
    async with screen:
        track = screen.subscribe()
        before = [await asyncio.wait_for(track.recv(), 5) for _ in range(2)]
        with pytest.raises(BadOpeningState):
            screen.update({"project_name": "某工程", "phase": 7})
        assert screen.state is not None and screen.state.phase == "签到与递交投标文件"
        screen.update(openings.decryption(now))
        drawn = screen.stats.pictures_drawn
        after: list[av.Packet] = []
        while screen.stats.pictures_drawn == drawn or len(after) < 3:
            after.append(await asyncio.wait_for(track.recv(), 5))
    frames = decode_all(before + after)
    old = frames[0].to_ndarray()[:HEIGHT].astype(np.int16)
    new = frames[-1].to_ndarray()[:HEIGHT].astype(np.int16)
    # The countdown's place now holds the bidders' table.
    assert np.mean(np.abs(new[250:420] - old[250:420]) > 40) > 0.05
    # With the clock standing still, unchanged pictures are not drawn again.
    assert screen.stats.pictures_drawn <= 2 < screen.stats.frames_encoded


async def test_keyframes_come_at_the_interval_and_on_request() -> None:
    config = MediaConfig(infoscreen_fps=10, infoscreen_keyframe_interval_s=0.3)
    async with InfoScreenCompositor(config) as screen:
        track = screen.subscribe()
        packets = [await asyncio.wait_for(track.recv(), 5) for _ in range(12)]
        keyframes = [i for i, p in enumerate(packets) if p.is_keyframe]
        assert len(keyframes) >= 3 and max(np.diff(keyframes)) <= 4
        late = InfoScreenCompositor(
            MediaConfig(infoscreen_fps=10, infoscreen_keyframe_interval_s=60)
        )
        async with late:
            first = late.subscribe()
            await asyncio.wait_for(first.recv(), 5)
            second = late.subscribe()  # a new viewer asks for a keyframe
            assert (await asyncio.wait_for(second.recv(), 5)).is_keyframe


async def test_close_ends_the_tracks_and_is_safe_twice() -> None:
    screen = InfoScreenCompositor(MediaConfig(infoscreen_fps=5))
    await screen.start()
    track = screen.subscribe()
    await asyncio.wait_for(track.recv(), 5)
    await screen.close()
    await screen.close()
    assert track.readyState == "ended" and screen.subscribers == 0
    await screen.start()  # a closed screen stays closed
    assert screen.subscribe().readyState == "ended" and screen.subscribers == 0
    never_started = InfoScreenCompositor(MediaConfig())
    await never_started.close()
    await never_started.close()


def test_before_sign_in_opens_the_screen_says_what_it_waits_for(painter: ScreenPainter) -> None:
    waiting = parse_opening({**openings.before_deadline(NOW), "phase": "等待开始签到"})
    shown = texts(layout(waiting, NOW, painter))
    assert "等待开始签到" in shown and "主持人尚未开始签到" in shown
    assert "投标文件递交中" not in shown
