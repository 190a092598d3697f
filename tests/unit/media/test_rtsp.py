"""Room camera URLs: what is refused before any connection, and what may be shown."""

from __future__ import annotations

import asyncio

import pytest

from media.rtsp import (
    CameraState,
    CameraStatus,
    RtspCamera,
    check_url,
    redact,
    with_parameter_sets,
)
from media.tap import EncodedFrame, is_h264_keyframe


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("rtsp://10.1.2.3:554/stream1", None),
        ("rtsps://cam.example.cn/live", None),
        ("http://10.1.2.3/stream1", "rtsp://"),
        ("not a camera", "rtsp://"),
        ("rtsp:///stream1", "主机名"),
        ("rtsp://10.1.2.3:99999/x", "格式"),
    ],
)
def test_check_url(url: str, problem: str | None) -> None:
    found = check_url(url)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_redact_removes_credentials() -> None:
    shown = redact("rtsp://admin:s3cret@10.1.2.3:554/Streaming/Channels/101?transport=tcp")
    assert shown == "rtsp://10.1.2.3:554/Streaming/Channels/101"
    assert "s3cret" not in shown and "admin" not in shown


async def test_a_malformed_url_is_a_status_not_a_thread() -> None:
    seen: list[CameraStatus] = []
    camera = RtspCamera("c1", "ftp://x/y", on_frame=lambda f: None, on_status=seen.append)
    await camera.start()
    assert [s.state for s in seen] == [CameraState.INVALID]
    assert "rtsp://" in seen[0].detail
    await camera.close()  # nothing to stop, and no error


async def test_an_unreachable_camera_goes_down_and_is_retried() -> None:
    seen: list[CameraStatus] = []
    down = asyncio.Event()

    def status(s: CameraStatus) -> None:
        seen.append(s)
        if s.state == CameraState.DOWN:
            down.set()

    camera = RtspCamera("c1", "rtsp://127.0.0.1:9/none", on_frame=lambda f: None, on_status=status)
    await camera.start()
    try:
        await asyncio.wait_for(down.wait(), 15)
    finally:
        await camera.close()
    assert seen[0].state == CameraState.CONNECTING
    detail = next(s for s in seen if s.state == CameraState.DOWN).detail
    assert detail.startswith("无法连接") and "连接被拒绝" in detail


SPS_PPS = b"\x00\x00\x00\x01\x67\x42\x00\x1e" + b"\x00\x00\x00\x01\x68\xce\x38\x80"
IDR = b"\x00\x00\x00\x01\x65\x88\x84\x00"
SLICE = b"\x00\x00\x00\x01\x41\x9a\x02\x00"


def test_an_h264_keyframe_is_told_by_its_idr_slice_or_parameter_sets() -> None:
    assert is_h264_keyframe(IDR)
    assert is_h264_keyframe(SPS_PPS + IDR)
    assert not is_h264_keyframe(SLICE)
    assert not is_h264_keyframe(b"")


def test_parameter_sets_are_put_in_front_of_a_keyframe_once() -> None:
    frame = EncodedFrame("video", "H264", IDR, 0, 90_000, True, 0.0)
    shown = with_parameter_sets(frame, SPS_PPS)
    assert shown.data == SPS_PPS + IDR
    # A keyframe relayed by a sub venue's node already carries them.
    assert with_parameter_sets(shown, SPS_PPS).data == SPS_PPS + IDR
