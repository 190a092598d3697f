"""repair_segment on files a kill -9 leaves behind: copies of open segments, torn clusters."""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import av
import pytest

from media.tap import EncodedFrame
from recorder.repair import repair_segment
from recorder.segments import SegmentWriter
from tests.unit.recorder.test_segments import (
    FPS,
    audio_frames,
    decoded_counters,
    encode_h264,
    encode_opus,
    encode_vp8,
    video_frames,
    write_segment,
)

_CLUSTER_ID = bytes.fromhex("1f43b675")
_CUES_ID = bytes.fromhex("1c53bb6b")


@pytest.fixture(scope="module")
def vp8_60() -> list[tuple[bytes, bool]]:
    """Four seconds of counter video, a keyframe each second."""
    return encode_vp8(60)


def _duration_s(path: Path) -> float:
    with av.open(str(path)) as container:
        assert "webm" in container.format.name.split(",")
        assert container.duration is not None
        return container.duration / 1e6


def test_copy_of_an_open_segment_is_repaired_to_its_flushed_frames(
    tmp_path: Path, vp8_60: list[tuple[bytes, bool]]
) -> None:
    live = tmp_path / "live.webm"
    writer = SegmentWriter(
        live, kind="video", codec="VP8", clock_rate=90000, flush_interval_ms=1000
    )
    for frame in video_frames(vp8_60):
        writer.write(frame)
    # What a kill -9 leaves on disk now: the writer never gets to write its trailer.
    crashed = tmp_path / "000001.webm"
    shutil.copyfile(live, crashed)
    writer.close()
    with av.open(str(crashed)) as container:
        assert container.duration is None  # no Duration, no Cues: an unfinished file

    result = repair_segment(crashed)

    assert result.ok, result.detail
    # Every frame older than the flush interval (one second = 15 frames) survived.
    assert 60 - FPS <= result.frames_kept < 60
    assert result.original_size == crashed.stat().st_size or result.repaired_size > 0
    assert result.repaired_size == crashed.stat().st_size
    assert decoded_counters(crashed) == list(range(result.frames_kept))
    assert _duration_s(crashed) == pytest.approx(result.frames_kept / FPS, abs=1 / FPS)
    assert result.media_duration_s == pytest.approx(result.frames_kept / FPS, abs=1 / FPS)
    # The repaired file says what the journal will say.
    assert _duration_s(crashed) == pytest.approx(result.media_duration_s, abs=0.001)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_torn_last_cluster_is_cut_back_to_whole_blocks(
    tmp_path: Path, vp8_60: list[tuple[bytes, bool]]
) -> None:
    path = tmp_path / "000001.webm"
    write_segment(path, video_frames(vp8_60))
    data = path.read_bytes()
    last_cluster = data.rfind(_CLUSTER_ID, 0, data.rfind(_CUES_ID))
    assert last_cluster > 0
    # Cut through the middle of the last cluster, as a crash during its write would.
    cut = last_cluster + (data.rfind(_CUES_ID) - last_cluster) // 2
    path.write_bytes(data[:cut])

    result = repair_segment(path)

    assert result.ok, result.detail
    assert result.original_size == cut
    counters = decoded_counters(path)
    assert counters == list(range(result.frames_kept))
    # Everything before the torn cluster is there; the last cluster holds at most a second.
    assert 60 - FPS <= result.frames_kept < 60
    assert _duration_s(path) > 0


@pytest.mark.parametrize("fraction", [0.3, 0.55, 0.8, 0.97])
def test_any_cut_leaves_a_decodable_prefix(
    tmp_path: Path, vp8_60: list[tuple[bytes, bool]], fraction: float
) -> None:
    path = tmp_path / "000001.webm"
    write_segment(path, video_frames(vp8_60))
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])

    result = repair_segment(path)

    assert result.ok, result.detail
    assert decoded_counters(path) == list(range(result.frames_kept))


def test_opus_segment_is_repaired_with_its_header(tmp_path: Path) -> None:
    live = tmp_path / "live.webm"
    writer = SegmentWriter(
        live, kind="audio", codec="opus", clock_rate=48000, flush_interval_ms=1000
    )
    for frame in audio_frames(encode_opus(150)):
        writer.write(frame)
    crashed = tmp_path / "000001.webm"
    shutil.copyfile(live, crashed)
    writer.close()

    result = repair_segment(crashed)

    assert result.ok, result.detail
    assert 150 - 50 <= result.frames_kept < 150
    with av.open(str(crashed)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.extradata[:8] == b"OpusHead"
        pts = [p.pts for p in container.demux(stream) if p.size]
        assert pts[0] == 0
        samples = sum(f.samples for f in container.decode(audio=0))
    assert len(pts) == result.frames_kept
    assert result.media_duration_s == pytest.approx(result.frames_kept * 0.02, abs=0.001)
    del samples


def test_garbage_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "000001.webm"
    garbage = os.urandom(5000)
    path.write_bytes(garbage)

    result = repair_segment(path)

    assert not result.ok
    assert result.frames_kept == 0
    assert path.read_bytes() == garbage
    assert [p.name for p in tmp_path.iterdir()] == ["000001.webm"]


def test_header_only_and_missing_files_do_not_raise(
    tmp_path: Path, vp8_60: list[tuple[bytes, bool]]
) -> None:
    path = tmp_path / "000001.webm"
    write_segment(path, video_frames(vp8_60[:1]))
    data = path.read_bytes()
    path.write_bytes(data[: data.find(_CLUSTER_ID)])

    assert not repair_segment(path).ok
    assert path.read_bytes() == data[: data.find(_CLUSTER_ID)]
    assert not repair_segment(tmp_path / "missing.webm").ok
    empty = tmp_path / "empty.webm"
    empty.write_bytes(b"")
    assert not repair_segment(empty).ok


_CHILD = textwrap.dedent(
    """
    import asyncio, pickle, sys, time
    from pathlib import Path
    from recorder.config import RecorderConfig
    from recorder.track import TrackRecorder

    async def main() -> None:
        frames = pickle.loads(Path(sys.argv[1]).read_bytes())
        recorder = TrackRecorder(
            part_dir=Path(sys.argv[2]), track_id="v01-1-camera", kind="video", codec="VP8",
            clock_rate=90000, config=RecorderConfig(flush_interval_ms=1000),
            on_segment=print, on_gap=print, request_keyframe=None,
        )
        await recorder.start()
        began = time.monotonic()
        for n, frame in enumerate(frames):
            await asyncio.sleep(max(0.0, began + n / 15 - time.monotonic()))
            recorder.push(frame)
        print("pushed", flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


def test_kill_9_loses_at_most_the_flush_interval(
    tmp_path: Path, vp8_60: list[tuple[bytes, bool]]
) -> None:
    frames = tmp_path / "frames.pickle"
    frames.write_bytes(pickle.dumps(video_frames(vp8_60)))
    part = tmp_path / "part-0001"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(frames), str(part)],
        cwd=Path(__file__).resolve().parents[3],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "pushed"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)

    segment = part / "media" / "v01-1-camera" / "000001.webm"
    result = repair_segment(segment)

    assert result.ok, result.detail
    # Pushed at 15 fps: every frame older than the one-second flush interval is on disk.
    assert result.frames_kept >= 60 - FPS
    assert decoded_counters(segment) == list(range(result.frames_kept))


def test_a_torn_h264_segment_is_cut_back_to_whole_fragments(tmp_path: Path) -> None:
    packets, extradata = encode_h264(60)
    path = tmp_path / "000001.mp4"
    writer = SegmentWriter(
        path,
        kind="video",
        codec="H264",
        clock_rate=90_000,
        flush_interval_ms=1000,
        size=(320, 240),
        extradata=extradata,
    )
    for n, packet in enumerate(packets):
        writer.write(
            EncodedFrame(
                kind="video",
                codec="H264",
                data=bytes(packet),
                rtp_timestamp=n * 6000,
                clock_rate=90_000,
                keyframe=bool(packet.is_keyframe),
                wall_time=1_800_000_000 + n / 15,
            )
        )
    writer.close()
    whole = path.read_bytes()
    torn = tmp_path / "000002.mp4"
    torn.write_bytes(whole[: int(len(whole) * 0.7)])  # the crash cut the file mid-fragment
    result = repair_segment(torn)
    assert result.ok, result.detail
    assert 0 < result.frames_kept < 60
    with av.open(str(torn)) as played:
        stream = played.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert sum(1 for _ in played.decode(stream)) == result.frames_kept
