"""TrackRecorder with real files and real PyAV: rolling, dropping, failing and resuming."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import replace
from pathlib import Path

import av
import pytest

from recorder.config import RecorderConfig
from recorder.track import FinishedSegment, Gap, TrackRecorder
from tests.polling import wait_until
from tests.unit.recorder.test_segments import (
    EPOCH,
    FPS,
    Frame,
    audio_frames,
    decoded_counters,
    encode_opus,
    encode_vp8,
    video_frames,
)

# A screen share: a picture only when the screen changes, 1 to 5 a second, irregularly. After
# 2 s a keyframe is asked for, and it comes 0.15 s after a picture that followed a 1.1 s pause.
SLOW_TIMES = [0.0, 1.0, 1.4, 2.5, 2.65, 3.1, 4.1, 4.3]


@pytest.fixture(scope="module")
def slow() -> list[Frame]:
    """`SLOW_TIMES` as received frames of counter video, keyframes at 0 and 2.65 s."""
    frames = [
        replace(f, rtp_timestamp=1234 + round(t * 90000), wall_time=EPOCH + t)
        for f, t in zip(video_frames(encode_vp8(8, keyframe_every=4)), SLOW_TIMES, strict=True)
    ]
    assert [n for n, f in enumerate(frames) if f.keyframe] == [0, 4]
    return frames


def _file_duration_s(path: Path) -> float:
    """The segment's length as its file states it (WebM: its Duration)."""
    with av.open(str(path)) as container:
        assert container.duration is not None
        return float(container.duration / 1e6)


@pytest.fixture(scope="module")
def video() -> list[Frame]:
    """Nine seconds of counter video as received frames, a keyframe each second."""
    return video_frames(encode_vp8(9 * FPS))


@pytest.fixture(scope="module")
def audio() -> list[Frame]:
    """Three seconds of tone as received Opus frames."""
    return audio_frames(encode_opus(150))


class Recording:
    """A TrackRecorder and everything it reported."""

    def __init__(self, part_dir: Path, kind: str, config: RecorderConfig) -> None:
        self.segments: list[FinishedSegment] = []
        self.gaps: list[Gap] = []
        self.keyframe_requests = 0
        video = kind == "video"
        self.track_id = "v01-3-camera" if video else "v01-3-microphone"
        self.recorder = TrackRecorder(
            part_dir=part_dir,
            track_id=self.track_id,
            kind=kind,
            codec="VP8" if video else "opus",
            clock_rate=90000 if video else 48000,
            config=config,
            on_segment=self.segments.append,
            on_gap=self.gaps.append,
            request_keyframe=self._keyframe,
        )

    def _keyframe(self) -> None:
        self.keyframe_requests += 1

    def push_all(self, frames: list[Frame]) -> None:
        for frame in frames:
            self.recorder.push(frame)


async def test_video_rolls_at_the_first_keyframe_after_segment_seconds(
    tmp_path: Path, video: list[Frame]
) -> None:
    rec = Recording(tmp_path, "video", RecorderConfig(segment_seconds=1.5))
    await rec.recorder.start()
    rec.push_all(video[:90])
    await rec.recorder.close()

    # 1.5 s is up at frame 23; the next keyframe (frame 30, 60) starts the next segment.
    assert [s.index for s in rec.segments] == [1, 2, 3]
    assert [s.frames for s in rec.segments] == [30, 30, 30]
    assert [s.relative for s in rec.segments] == [
        f"media/{rec.track_id}/00000{i}.webm" for i in (1, 2, 3)
    ]
    assert all(s.path.is_absolute() and s.path.is_file() for s in rec.segments)
    assert all(s.complete for s in rec.segments)
    assert [s.media_duration_s for s in rec.segments] == pytest.approx([2.0] * 3, abs=1 / FPS)
    assert rec.segments[1].wall_start == pytest.approx(video[30].wall_time, abs=0.001)
    assert rec.segments[0].wall_end == pytest.approx(video[30].wall_time, abs=1e-3)
    counters: list[int] = []
    for segment in rec.segments:
        counters += decoded_counters(segment.path)
    assert counters == list(range(90))
    # One request at start, and one in each segment when 1.5 s were up (frames 23, 53, 83).
    assert rec.keyframe_requests == 4
    assert rec.recorder.frames_written == 90
    assert rec.recorder.frames_dropped == 0
    assert rec.recorder.segments == 3
    assert rec.gaps == []


async def test_a_slow_track_s_segments_join_without_overlap(
    tmp_path: Path, slow: list[Frame]
) -> None:
    rec = Recording(tmp_path, "video", RecorderConfig(segment_seconds=2.0))
    async with rec.recorder:
        rec.push_all(slow)

    first, second = rec.segments
    assert [first.frames, second.frames] == [4, 4]
    # The keyframe that opens the second segment ends the first one's last picture: 0.15 s,
    # not the 1.1 s before it, so the wall spans join and the media time is what was there.
    assert first.media_duration_s == pytest.approx(2.65, abs=0.001)
    assert first.wall_end == pytest.approx(EPOCH + 2.65, abs=0.001)
    assert second.wall_start == pytest.approx(first.wall_end, abs=0.001)
    # The end closes the second one: its last picture lasts as long as the interval before it.
    assert second.media_duration_s == pytest.approx(4.3 - 2.65 + 0.2, abs=0.001)
    assert second.wall_end == pytest.approx(EPOCH + 4.5, abs=0.001)
    for segment in rec.segments:
        assert _file_duration_s(segment.path) == pytest.approx(segment.media_duration_s, abs=0.001)
    assert decoded_counters(first.path) + decoded_counters(second.path) == list(range(8))


async def test_idle_and_one_frame_segments_keep_the_guessed_last_length(
    tmp_path: Path, slow: list[Frame]
) -> None:
    rec = Recording(tmp_path, "video", RecorderConfig(video_idle_close_s=0.3))
    await rec.recorder.start()
    rec.push_all(slow[:3])
    await wait_until(lambda: len(rec.segments) == 1, 5, "segment closed while idle")
    rec.recorder.push(slow[4])  # the keyframe asked for: a segment of one picture, then the end
    await rec.recorder.close()

    idle, alone = rec.segments
    # Nothing came after the last picture: it lasts as long as the interval before it (0.4 s).
    assert idle.frames == 3
    assert idle.media_duration_s == pytest.approx(1.8, abs=0.001)
    assert idle.wall_end == pytest.approx(EPOCH + 1.8, abs=0.001)
    # Alone in its segment: 1/15 s, in whole milliseconds as the file states it.
    assert alone.frames == 1
    assert alone.media_duration_s == pytest.approx(0.067, abs=0.001)
    assert alone.wall_start == pytest.approx(EPOCH + 2.65, abs=0.001)
    assert alone.wall_end == pytest.approx(EPOCH + 2.717, abs=0.001)
    for segment in rec.segments:
        assert _file_duration_s(segment.path) == pytest.approx(segment.media_duration_s, abs=0.001)
    assert decoded_counters(alone.path) == [4]


async def test_audio_rolls_as_soon_as_segment_seconds_are_up(
    tmp_path: Path, audio: list[Frame]
) -> None:
    rec = Recording(tmp_path, "audio", RecorderConfig(segment_seconds=1.0))
    async with rec.recorder:
        rec.push_all(audio)

    assert [s.frames for s in rec.segments] == [50, 50, 50]
    assert [s.wall_start for s in rec.segments] == [EPOCH, EPOCH + 1.0, EPOCH + 2.0]
    assert rec.keyframe_requests == 0


async def test_frames_before_the_first_keyframe_are_dropped_and_a_keyframe_asked(
    tmp_path: Path, video: list[Frame]
) -> None:
    rec = Recording(tmp_path, "video", RecorderConfig())
    await rec.recorder.start()
    assert rec.keyframe_requests == 1  # asked at once: the stream is joined mid-way
    rec.push_all(video[5:45])
    await rec.recorder.close()

    assert len(rec.segments) == 1
    assert decoded_counters(rec.segments[0].path) == list(range(15, 45))
    assert rec.recorder.frames_dropped == 10
    assert rec.gaps == [Gap(rec.track_id, video[5].wall_time, video[15].wall_time, "no_keyframe")]


async def test_numbering_continues_after_the_segments_of_an_earlier_run(
    tmp_path: Path, audio: list[Frame]
) -> None:
    folder = tmp_path / "media" / "v01-3-microphone"
    folder.mkdir(parents=True)
    (folder / "000007.webm").write_bytes(b"from the run before the restart")
    rec = Recording(tmp_path, "audio", RecorderConfig())
    async with rec.recorder:
        rec.push_all(audio[:10])

    assert [s.relative for s in rec.segments] == ["media/v01-3-microphone/000008.webm"]
    assert (folder / "000007.webm").read_bytes() == b"from the run before the restart"


async def test_a_full_queue_drops_frames_reports_a_gap_and_never_blocks(
    tmp_path: Path, audio: list[Frame]
) -> None:
    rec = Recording(tmp_path, "audio", RecorderConfig(max_queued_frames=4, segment_seconds=600))
    await rec.recorder.start()
    frames = audio_frames([f.data for f in audio] * 20)  # one minute of audio at once
    slowest = 0.0
    began = time.perf_counter()
    for frame in frames:
        t0 = time.perf_counter()
        rec.recorder.push(frame)
        slowest = max(slowest, time.perf_counter() - t0)
    pushing = time.perf_counter() - began
    await rec.recorder.close()

    assert pushing < 1.0, "3000 pushes must not wait for the disk"
    assert slowest < 0.05
    assert rec.recorder.frames_dropped > 0
    assert rec.recorder.frames_written + rec.recorder.frames_dropped == len(frames)
    assert sum(s.frames for s in rec.segments) == rec.recorder.frames_written
    assert rec.gaps and {g.reason for g in rec.gaps} == {"queue_full"}
    assert all(
        frames[0].wall_time <= g.wall_start < g.wall_end <= frames[-1].wall_time for g in rec.gaps
    )
    # Each drought is reported once, when it ends, and droughts do not overlap.
    assert all(a.wall_end <= b.wall_start for a, b in zip(rec.gaps, rec.gaps[1:], strict=False))


async def test_video_after_dropped_frames_restarts_at_a_keyframe(
    tmp_path: Path, video: list[Frame]
) -> None:
    rec = Recording(tmp_path, "video", RecorderConfig(max_queued_frames=3, segment_seconds=60))
    await rec.recorder.start()
    for burst in range(0, len(video), 10):
        rec.push_all(video[burst : burst + 10])  # faster than the writer can take them
        await asyncio.sleep(0.01)
    await rec.recorder.close()

    assert rec.recorder.frames_dropped > 0
    assert {g.reason for g in rec.gaps} >= {"queue_full", "no_keyframe"}
    assert rec.keyframe_requests > 1
    # A frame after a lost one would decode into garbage: every segment starts at a keyframe
    # and holds an unbroken run of pictures.
    assert rec.segments
    for segment in rec.segments:
        counters = decoded_counters(segment.path)
        assert counters[0] % FPS == 0
        assert counters == list(range(counters[0], counters[0] + len(counters)))
        assert len(counters) == segment.frames


def _descriptor_of(path: Path) -> int:
    """The descriptor this process has open on `path` (the muxer's own)."""
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}") == str(path):
                return int(name)
        except OSError:
            continue
    raise AssertionError(f"{path} is not open")


async def test_a_write_error_reports_a_gap_and_recording_resumes(
    tmp_path: Path, video: list[Frame]
) -> None:
    # A long flush interval: the segment must still be open when the disk fills up.
    rec = Recording(tmp_path, "video", RecorderConfig(segment_seconds=60, flush_interval_ms=2000))
    await rec.recorder.start()
    rec.push_all(video[:45])
    await wait_until(lambda: rec.recorder.frames_written == 45, 5, "45 frames written")

    # The disk fills up under the open segment: from now on every write gets ENOSPC.
    first = rec.recorder.folder / "000001.webm"
    full = os.open("/dev/full", os.O_WRONLY)
    try:
        os.dup2(full, _descriptor_of(first))
    finally:
        os.close(full)
    rec.push_all(video[45:60])
    await wait_until(lambda: len(rec.segments) == 1, 5, "the broken segment reported")
    # Not a synchronisation: the writer must back off for a second of real time.
    await asyncio.sleep(1.1)
    rec.push_all(video[60:135])
    await rec.recorder.close()

    broken, resumed = rec.segments
    assert not broken.complete
    # What reached the disk before the error is kept and still plays: all but the last
    # cluster, which holds at most half the flush interval and the frame that closes it.
    assert 45 - FPS - 1 <= broken.frames < 45
    assert decoded_counters(broken.path) == list(range(broken.frames))
    assert resumed.complete and resumed.index == 2
    assert decoded_counters(resumed.path) == list(range(60, 135))
    assert rec.gaps == [Gap(rec.track_id, broken.wall_end, video[60].wall_time, "write_error")]
    assert rec.recorder.frames_written == broken.frames + 75
    assert rec.recorder.frames_written + rec.recorder.frames_dropped == 135


async def test_a_stalled_track_closes_its_segment_within_the_flush_interval(
    tmp_path: Path, audio: list[Frame]
) -> None:
    rec = Recording(tmp_path, "audio", RecorderConfig(flush_interval_ms=300))
    await rec.recorder.start()
    rec.push_all(audio[:20])
    # No more frames: the open cluster must reach the disk anyway, as a finished segment.
    await wait_until(lambda: len(rec.segments) == 1, 2, "segment closed while idle")
    rec.push_all(audio[20:40])
    await rec.recorder.close()
    await rec.recorder.close()  # twice is fine

    assert [s.frames for s in rec.segments] == [20, 20]
    assert [s.index for s in rec.segments] == [1, 2]
    rec.recorder.push(audio[40])  # after close: ignored, never raises
    assert rec.recorder.frames_written == 40
