"""How fast this machine runs right now: a fixed sample of the server's kind of work, timed.

A virtual machine's speed changes from minute to minute (other guests on the host, clock
frequency), and a benchmark near its limit passes or fails with it. The capacity benchmark
runs this probe on the idle machine before each run and prints its time next to the run's
figures, so that a run on a slow machine can be told from a slower server.

Two parts, each timed on this thread's CPU clock:

- Python: aiortc parsing and serializing RTP packets, the kind of work the media workers' event
  loops spend most of their time on;
- codec: libvpx encoding 640x480 VP8 pictures, the kind of work of the grid's thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction

import av
from aiortc.rtp import RtpPacket

from media.testing.synthetic import counter_frames

PACKETS = 40_000
PICTURES = 45


@dataclass(frozen=True)
class ProbeTime:
    """CPU milliseconds of each part of one probe."""

    python_ms: float
    codec_ms: float

    def relative_to(self, first: ProbeTime) -> float:
        """This probe's total time in % of `first`'s: above 100, the machine runs slower."""
        return 100.0 * (self.python_ms + self.codec_ms) / (first.python_ms + first.codec_ms)


class SpeedProbe:
    """The same work every time it runs."""

    def __init__(self) -> None:
        packet = RtpPacket(payload_type=96, sequence_number=1, timestamp=90_000, ssrc=1234)
        packet.payload = bytes(range(256)) * 4
        self._packet = packet.serialize()
        # The benchmarks' own camera pictures: a counter over a drifting texture.
        self._pictures = [
            av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            for rgb in counter_frames((120, 90, 60), PICTURES, motion=True)
        ]

    def best_of(self, runs: int = 3) -> ProbeTime:
        """The quickest of `runs` probes: a probe is short, and one run can be interrupted."""
        return min((self.run() for _ in range(runs)), key=lambda t: t.python_ms + t.codec_ms)

    def run(self) -> ProbeTime:
        """Run both parts once."""
        started = time.thread_time()
        for _ in range(PACKETS):
            RtpPacket.parse(self._packet).serialize()
        python_ms = (time.thread_time() - started) * 1000
        encoder = av.CodecContext.create("libvpx", "w")
        encoder.width, encoder.height = 640, 480
        encoder.pix_fmt = "yuv420p"
        encoder.time_base = Fraction(1, 15)
        encoder.bit_rate = 500_000
        encoder.thread_count = 1
        encoder.options = {"deadline": "realtime", "cpu-used": "-6", "lag-in-frames": "0"}
        started = time.thread_time()
        for index, picture in enumerate(self._pictures):
            picture.pts = index
            encoder.encode(picture)
        encoder.encode(None)
        codec_ms = (time.thread_time() - started) * 1000
        return ProbeTime(python_ms, codec_ms)
