"""Camera analysis: faces in the test scenes, picture statistics, sampling under load."""

from __future__ import annotations

import asyncio
import threading

import pytest

from media.analysis import MAX_INTERVAL_S, FaceCounter, RoomAnalysis, jpeg, luma
from media.presence import observe
from roomserver.warnings import Transition, WarningKind, WarningThresholds
from tests import scenes

frame_of = scenes.decoded


@pytest.mark.parametrize(("scene", "faces"), scenes.FACES)
def test_faces_in_the_scenes(scene: object, faces: int) -> None:
    gray = luma(frame_of(scene()), 320)  # type: ignore[operator]
    assert gray.shape == (240, 320)
    assert FaceCounter().count(gray) == faces


def test_observation_numbers() -> None:
    first = luma(frame_of(scenes.one_person(), 1), 320)
    second = luma(frame_of(scenes.one_person(), 2), 320)
    obs = observe(second, first, faces=1, at=5.0)
    assert obs.at == 5.0 and obs.faces == 1
    assert 60 < obs.luma_mean < 200 and obs.luma_std > 20
    assert obs.change is not None and obs.change > 0
    frozen = observe(second, second, faces=1, at=6.0)
    assert frozen.change == 0.0
    dark = observe(luma(frame_of(scenes.black(), None), 320), None, faces=0, at=7.0)
    assert dark.luma_mean < 20 and dark.change is None


def test_snapshot_is_a_jpeg_of_the_whole_picture() -> None:
    data = jpeg(frame_of(scenes.one_person()))
    assert data[:3] == b"\xff\xd8\xff"
    assert 5_000 < len(data) < 200_000


async def test_an_empty_seat_is_reported_with_its_picture() -> None:
    analysis = RoomAnalysis(
        name="test", thresholds=WarningThresholds(seat_empty_s=0.3), interval_s=0.1
    )
    reported: list[tuple[str, Transition, bytes | None]] = []
    arrived = asyncio.Event()

    def on_warning(seat: str, transition: Transition, snapshot: bytes | None) -> None:
        reported.append((seat, transition, snapshot))
        arrived.set()

    analysis.on_warning = on_warning
    await analysis.start()
    try:
        analysis.update_frame("v:1", frame_of(scenes.empty_seat()))
        await asyncio.wait_for(arrived.wait(), 10)
        seat, transition, snapshot = reported[0]
        assert seat == "v:1" and transition.kind == WarningKind.SEAT_EMPTY and transition.starts
        assert snapshot is not None and snapshot[:3] == b"\xff\xd8\xff"
        arrived.clear()
        await analysis.camera_ended("v:1")
        assert reported[-1][1] == Transition(WarningKind.SEAT_EMPTY, False, reported[-1][1].at)
        assert reported[-1][2] is None
    finally:
        await analysis.close()


async def test_slow_passes_sample_less_often() -> None:
    analysis = RoomAnalysis(
        name="test", thresholds=WarningThresholds(), interval_s=1.0, max_share=0.01
    )
    analysis.record_pass(spent=0.02, samples=10)  # 20 ms a pass at a 1 % share: every 2 s
    assert analysis.stats.interval_s == pytest.approx(2.0)
    assert analysis.stats.slowed_passes == 1
    analysis.record_pass(spent=1.0, samples=10)
    assert analysis.stats.interval_s == MAX_INTERVAL_S
    analysis.record_pass(spent=0.001, samples=10)
    assert analysis.stats.interval_s == 1.0
    assert analysis.stats.samples == 30


async def test_a_pass_counts_the_cpu_it_used_not_the_time_it_waited() -> None:
    """A pass held up (its thread busy, the core taken by the media) does not make the room
    sample less often: only the CPU the analysis itself used counts against its share."""
    analysis = RoomAnalysis(
        name="test", thresholds=WarningThresholds(), interval_s=1.0, max_share=0.25
    )
    passed = asyncio.Event()
    record = analysis.record_pass

    def recorded(spent: float, samples: int) -> None:
        record(spent, samples)
        passed.set()

    analysis.record_pass = recorded  # type: ignore[method-assign]
    analysis.update_frame("v:1", frame_of(scenes.one_person()))
    await analysis.start()
    busy = threading.Event()
    try:
        # The analysis thread is held for 0.4 s before the seat's sample reaches it.
        assert analysis._executor is not None
        analysis._executor.submit(busy.wait, 0.4)
        await asyncio.wait_for(passed.wait(), 10)
    finally:
        await analysis.close()
    assert analysis.stats.samples == 1
    # A face search at 320 wide takes a few milliseconds of CPU; the wait took 400 ms.
    assert analysis.stats.last_pass_ms < 100, analysis.stats.last_pass_ms
    assert analysis.stats.interval_s == 1.0
