"""Start and stop the local RTSP test camera (tests/tools/rtsp_source.py, GStreamer)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

SYSTEM_PYTHON = "/usr/bin/python3"
SCRIPT = Path(__file__).resolve().parent / "tools" / "rtsp_source.py"
PROBE = (
    "import gi; gi.require_version('GstRtspServer', '1.0'); gi.require_version('Gst', '1.0');"
    "from gi.repository import Gst; Gst.init(None);"
    "assert Gst.ElementFactory.find('vp8enc') and Gst.ElementFactory.find('x264enc')"
)


def require_gstreamer() -> None:
    """Skip unless the system Python has GStreamer's RTSP server (`.ci/run` installs it)."""
    try:
        probe = subprocess.run([SYSTEM_PYTHON, "-c", PROBE], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"no {SYSTEM_PYTHON} to run the RTSP test camera: {exc}")
    if probe.returncode != 0:
        pytest.skip(
            "GStreamer's RTSP server is missing: apt-get install python3-gi "
            "gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly"
        )


class RtspSource:
    """The test camera on a fixed port, which can be stopped and started again."""

    def __init__(
        self,
        port: int,
        picture: Path | None = None,
        *,
        h264: bool = False,
        launcher: tuple[str, ...] = (),
    ) -> None:
        self.port = port
        self.launcher = launcher  # e.g. ip netns exec NS: the camera on a host of the test's
        self.picture = picture
        self.h264 = h264
        self.url = f"rtsp://127.0.0.1:{port}/cam"
        self._proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        """Start serving; returns once it listens."""
        self._proc = subprocess.Popen(
            [
                *self.launcher,
                SYSTEM_PYTHON,
                str(SCRIPT),
                str(self.port),
                *([str(self.picture)] if self.picture else []),
                *(["--h264"] if self.h264 else []),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()  # blocks until "ready" or the process ends
        if line.strip() != "ready":
            err = self._proc.stderr.read() if self._proc.stderr else ""
            self.stop()
            raise RuntimeError(f"RTSP test camera did not start: {line!r} {err[-2000:]}")

    def running(self) -> Iterator[RtspSource]:
        """Serving for the body of a ``with`` (or a fixture's ``yield from``), stopped after."""
        require_gstreamer()
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop serving (the connection of every client drops)."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)
