"""Camera analysis benchmark: which detector judges a seat right, and at what cost a sample.

    python bench/analysis.py [--repeat 3]

Each candidate runs over the labelled camera set (``tests/camera_set.py``: clips of a seat's
camera, one picture a second, a person in the ways an expert sits, an empty chair, two and three
people, a covered lens, a frozen picture; each clip names the warnings it must raise) through
the product's warning rules, and the warnings it raised are counted against the labels:
precision and recall per warning kind, the clips it got wrong (``+`` raised wrongly, ``-``
missed), and the CPU time of a sample (the detector and the movement check on a 320x240
picture, one thread, the median and p95 over the set's samples, best of ``--repeat`` runs).

Candidates: OpenCV's frontal face cascade on the luma picture (the analysis before BlazeFace),
the same with the person's movement as a sign of presence, BlazeFace's short-range model on the
colour picture without and with the movement (the product's analysis, ``media.presence``), and
BlazeFace's full-range model with the movement (from ``node_modules``, when installed).
Target: no warning kind worse than the frontal cascade's. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import machine  # noqa: E402
from bench.join import percentile  # noqa: E402
from media.presence import FULL_RANGE  # noqa: E402
from roomserver.warnings import CameraObservation  # noqa: E402
from tests import camera_set  # noqa: E402

FULL_RANGE_MODEL = ROOT / "node_modules" / "@mediapipe" / "face_detection" / FULL_RANGE.name
BASELINE = "frontal cascade"


class TimedSeat:
    """A candidate's seat that notes the CPU time of each sample."""

    def __init__(self, seat: camera_set.Seat, times: list[float]) -> None:
        self._seat = seat
        self._times = times

    def observe(self, bgr: np.ndarray, at: float) -> CameraObservation:
        started = time.thread_time()
        observation = self._seat.observe(bgr, at)
        self._times.append(time.thread_time() - started)
        return observation


def candidates() -> dict[str, camera_set.Candidate]:
    found = {
        BASELINE: camera_set.cascade(),
        "frontal cascade + movement": camera_set.cascade(motion=True),
        "BlazeFace short range": camera_set.blazeface(motion=False),
        "BlazeFace short range + movement (the analysis)": camera_set.blazeface(),
    }
    if FULL_RANGE_MODEL.is_file():
        found["BlazeFace full range + movement"] = camera_set.blazeface(
            FULL_RANGE_MODEL, FULL_RANGE
        )
    return found


def run(
    candidate: camera_set.Candidate, repeat: int
) -> tuple[dict[camera_set.WarningKind, camera_set.KindScore], list[float]]:
    """The candidate's scores and its sample times (of the fastest run)."""
    best: list[float] | None = None
    scores = {}
    for _ in range(repeat):
        times: list[float] = []
        scores = camera_set.score(lambda times=times: TimedSeat(candidate(), times))
        if best is None or statistics.median(times) < statistics.median(best):
            best = times
    assert best is not None
    return scores, best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per candidate (best kept)")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    clips = camera_set.clips()
    samples = sum(len(c.pictures) for c in clips)
    print(f"camera analysis benchmark on {machine()}, one thread")
    print(
        f"the labelled set: {len(clips)} clips, {samples} pictures (640x480, VP8 at "
        f"{camera_set.BITRATE // 1000} kbit/s), analysed at 320x240"
    )
    results = {name: run(c, args.repeat) for name, c in candidates().items()}
    baseline = results[BASELINE][0]
    for name, (scores, times) in results.items():
        worse = [
            kind.value
            for kind, s in scores.items()
            if s.precision < baseline[kind].precision or s.recall < baseline[kind].recall
        ]
        verdict = (
            "the baseline"
            if name == BASELINE
            else (f"NOT met: worse on {', '.join(worse)}" if worse else "met: no kind worse")
        )
        print(
            f"{name}: {statistics.median(times) * 1000:.1f} ms a sample "
            f"(p95 {percentile(times, 95) * 1000:.1f} ms); {verdict}"
        )
        for kind, s in scores.items():
            wrong = " ".join(s.wrong) or "-"
            print(
                f"  {kind.value:14s} precision {s.precision:.2f}  recall {s.recall:.2f}  "
                f"wrong: {wrong}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
