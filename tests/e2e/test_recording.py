"""The session archive, end to end: two Chromium seats are recorded for 20 s, the session ends,
and every recorded track is decoded and compared with what the fake devices played.

The camera plays a counter loop and the microphone a 440 Hz loop beginning with a 1 kHz beep,
both 3 s long as Chromium plays them (``synced_media_files`` in conftest). The counter shows
frames lost or repeated; the tone shows the audio intact; counter 0 and the beep, both at the
start of a loop, mark one instant of the camera and one of the microphone. Each seat's page
also reads its own camera and microphone and notes when those marks were captured (on the
browser's capture clock): the archive's wall clock must put them the same distance apart.

Every measurement is written to ``test-artifacts/recording-measurements.json``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from recorder.manifest import Manifest
from tests.e2e.conftest import REPO, RunningServer, SyncedMediaFiles
from tests.e2e.recording_support import (
    AUDIO_RATE,
    DecodedSegment,
    MarkedSeat,
    beep_onsets,
    counter_steps,
    decode_segment,
    dominant_hz,
    middle,
    stats,
)
from tests.e2e.test_seats import KINDS, RECORDED_KINDS, inbound_frames, is_expert_seat

pytestmark = pytest.mark.e2e

RECORD_S = 20.0  # how long both seats stay live and recorded
DURATION_TOLERANCE_S = 0.5
ALIGN_TOLERANCE_S = 0.1
TONE_TOLERANCE_HZ = 2.0
TONE_MIN_PROMINENCE_DB = 40.0
TONE_WINDOW_S = 4.0
# Share of camera frames Chromium may skip, one at a time, when the machine is busy (measured:
# at most 1 of ~340 per track on a quiet machine, 6 of ~400 with another benchmark running).
MAX_CAMERA_SKIPPED_SHARE = 0.03
MEASUREMENTS = "recording-measurements.json"


# ---- the server and its archive ------------------------------------------------------------


def cli(server: RunningServer, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`python -m signaling.cli ARGS --data-dir D --bind H:P`, as an operator runs it."""
    command = [sys.executable, "-m", "signaling.cli", *args]
    command += ["--data-dir", str(server.data_dir), "--bind", server.bind]
    return subprocess.run(
        command, cwd=REPO, env=server.env, capture_output=True, text=True, timeout=timeout
    )


def wait_sealed(session_dir: Path, deadline_s: float = 20.0) -> list[Path]:
    """The archive's parts, once the last one is sealed."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        parts = sorted(session_dir.glob("part-*"))
        if parts and (parts[-1] / "seal.json").is_file():
            return parts
        time.sleep(0.2)  # polling interval of a deadline-bounded wait
    raise AssertionError(f"archive {session_dir} not sealed within {deadline_s}s")


def event_time(part_dirs: list[Path], kind: str) -> float:
    """Wall clock (epoch seconds) of the first archived event of `kind`."""
    for part in part_dirs:
        for line in (part / "events.jsonl").read_text(encoding="utf-8").splitlines():
            event = json.loads(line)
            if event["kind"] == kind:
                return datetime.fromisoformat(event["at"]).timestamp()
    raise AssertionError(f"no {kind} event in the archive")


def track_id(participant: dict[str, Any], role: str) -> str:
    """``<venue_id>-<seat_no>-<role>``, as the recorder names a seat's track."""
    return f"{participant['venue_id']}-{participant['seat']}-{role}"


def record_two_seats(
    server: RunningServer,
    browser: Any,
    experts: list[dict[str, Any]],
    media: SyncedMediaFiles,
    artifacts: Path,
) -> tuple[float, list[tuple[list[float], list[float]]]]:
    """Both seats live for RECORD_S, then `session end`.

    Returns when the CLI returned, and per seat what its page saw its devices capture.
    """
    seats = [MarkedSeat(browser, p["url"]) for p in experts]
    try:
        for seat in seats:
            seat.wait_live()
        # Every track of both seats reaches the server before the recording time is counted.
        wanted = {(f"{p['venue_id']}:{p['seat']}", kind) for p in experts for kind in KINDS}
        deadline = time.monotonic() + 15
        missing = wanted
        while missing and time.monotonic() < deadline:
            status, body = server.get("/metrics")
            assert status == 200, body[:500]
            frames_in = inbound_frames(body)
            missing = {k for k in wanted if frames_in.get(k, 0) <= 0}
            if missing:
                time.sleep(0.3)  # polling interval of a deadline-bounded wait
        assert not missing, f"no inbound frames for {sorted(missing)}:\n{server.log_tail()}"

        # The one deliberate wait: the recording's length is what this test is about.
        seats[0].page.wait_for_timeout(RECORD_S * 1000)
        for seat in seats:
            assert seat.state() == "live", f"a seat left the room while recorded: {seat.errors}"
        captured = [seat.device_marks(media) for seat in seats]

        ended = cli(server, "session", "end", experts[0]["session_id"], "--reason", "测试结束")
        returned = time.time()
        assert ended.returncode == 0, f"session end failed:\n{ended.stderr[-3000:]}"
        assert ended.stdout.strip() == "ended", ended.stdout
        for seat in seats:
            seat.page.wait_for_function(
                "() => document.body.dataset.state === 'ended'", timeout=10000
            )
            assert not seat.page.evaluate("document.body.dataset.error"), "ended with an error"
            banner = seat.page.locator("#banner-text").inner_text()
            assert "评审结束" in banner, f"the seat does not say the session ended: {banner!r}"
        seats[0].page.screenshot(path=str(artifacts / "seat-ended.png"))
        for seat in seats:
            assert seat.errors == [], f"console errors: {seat.errors}"
        return returned, captured
    finally:
        for seat in seats:
            seat.close()


# ---- the test ------------------------------------------------------------------------------


def test_two_seats_recorded_for_20_s(
    server: RunningServer,
    synced_browser: Any,
    synced_media_files: SyncedMediaFiles,
    artifacts: Path,
) -> None:
    """Two seats live for 20 s, the end instruction; then every track of the sealed archive."""
    media = synced_media_files
    experts = [p for p in server.participants if is_expert_seat(p)][:2]
    assert len(experts) == 2, f"the demo has fewer than two expert seats: {server.participants}"
    session_id = experts[0]["session_id"]
    cli_returned, captured = record_two_seats(server, synced_browser, experts, media, artifacts)

    # ---- sealed, intact, and listing every track ------------------------------------------
    part_dirs = wait_sealed(server.data_dir / "archive" / session_id)
    verified = cli(server, "archive", "verify", session_id, "--json")
    assert verified.returncode == 0, f"archive verify:\n{verified.stdout}\n{verified.stderr}"
    assert json.loads(verified.stdout)["ok"], verified.stdout
    manifests = [Manifest.from_json((p / "manifest.json").read_bytes()) for p in part_dirs]
    assert manifests[-1].state == "ended", [m.state for m in manifests]
    cameras = [track_id(p, "camera") for p in experts]
    microphones = [track_id(p, "microphone") for p in experts]
    tracks = sorted({track_id(p, role) for p in experts for role in RECORDED_KINDS})
    tracks += ["room-grid", "room-mix"]
    listed = {t.id for m in manifests for t in m.tracks}
    assert set(tracks) <= listed, f"tracks missing from the manifest: {set(tracks) - listed}"
    assert not {t for t in listed if t.endswith("-preview")}, listed  # the camera is recorded
    # The server's clock at the end instruction: its session_ended event.
    end_at = event_time(part_dirs, "session_ended")
    report: dict[str, Any] = {
        "session": session_id,
        "end_event_to_cli_return_s": round(cli_returned - end_at, 3),
    }
    problems: list[str] = []  # every failed check, reported together at the end

    # ---- every segment decodes, and says what the manifest says -----------------------------
    decoded: dict[str, list[DecodedSegment]] = {}
    for track in tracks:
        entries = sorted(
            (
                (part, e)
                for part, m in zip(part_dirs, manifests, strict=True)
                for e in m.segments
                if e.track == track
            ),
            key=lambda pe: pe[1].wall_start,
        )
        assert entries, f"{track} has no segment"
        decoded[track] = [decode_segment(p, e, track in cameras) for p, e in entries]
        for seg in decoded[track]:
            if seg.frames != seg.entry.frames:
                problems.append(f"{seg.entry.path}: {seg.frames} of {seg.entry.frames} decoded")
            if abs(seg.media_s - seg.entry.media_duration_s) > 0.01:
                problems.append(
                    f"{seg.entry.path}: decodes to {seg.media_s:.3f} s, the manifest says "
                    f"{seg.entry.media_duration_s:.3f} s"
                )
    gaps = [g for m in manifests for g in m.gaps]
    report["gaps"] = [
        {"track": g.track, "s": round(g.wall_end - g.wall_start, 3), "reason": g.reason}
        for g in gaps
    ]
    for g in gaps:
        problems.append(
            f"{g.track}: {g.wall_end - g.wall_start:.2f} s not recorded ({g.reason}) from "
            f"{g.wall_start - end_at:+.2f} s to {g.wall_end - end_at:+.2f} s of the end"
        )

    # ---- durations against the wall clock --------------------------------------------------
    # Compared, per track: (a) the media time of its files (the decoded frames' timestamps,
    # summed over segments) and (b) its wall span in the manifest (first segment's wall_start
    # to last segment's wall_end), each against (c) the wall time from the track's first
    # recorded frame to the end instruction (the session_ended event). (c) leaves out the
    # start-up before the first frame reached the recorder (page load, ICE, the first keyframe),
    # which is not a loss. A screen share sends pictures only as fast as its encoder keeps up
    # (here 1 to 5 a second at 1920x1080): its last picture may precede the end by as long as
    # the longest interval between two consecutive pictures in one of its segments, which its
    # tolerance adds (not the intervals across segment joins: those are what is checked).
    durations: dict[str, Any] = {}
    for track in tracks:
        segs = decoded[track]
        first, last = segs[0].entry, segs[-1].entry
        media_s = sum(s.media_s for s in segs)
        span_s = last.wall_end - first.wall_start
        live_s = end_at - first.wall_start
        tolerance = DURATION_TOLERANCE_S
        if track.endswith("-desktop"):
            tolerance += max(
                (float(np.max(np.diff(s.times))) for s in segs if s.frames > 1), default=0.0
            )
            # A screen share sends nothing while the picture holds still: the time from its
            # last picture to the end instruction is a still screen, not a loss. Measured
            # against the last picture instead (what is lost between pictures shows as a gap
            # or a segment join, both checked).
            last_picture = segs[-1].wall(segs[-1].times[-1])
            live_s = min(live_s, last_picture - first.wall_start + DURATION_TOLERANCE_S)
        durations[track] = {
            "segments": len(segs),
            "frames": sum(s.frames for s in segs),
            "media_s": round(media_s, 3),
            "wall_span_s": round(span_s, 3),
            "first_frame_to_end_s": round(live_s, 3),
            "last_frame_after_end_s": round(last.wall_end - end_at, 3),
            "tolerance_s": round(tolerance, 3),
            # Where the manifest starts a segment against the end (by media time) of the one
            # before: 0 when the archive's clock runs on without a step.
            "segment_joins_s": [
                round(b.entry.wall_start - a.wall(a.times[0] + a.media_s), 3)
                for a, b in zip(segs, segs[1:], strict=False)
            ],
        }
        for name, value in (("media time", media_s), ("wall span", span_s)):
            if abs(value - live_s) > tolerance:
                problems.append(
                    f"{track}: {name} {value:.2f} s, but {live_s:.2f} s from its first frame "
                    f"to the end instruction (tolerance {tolerance:.2f} s)"
                )
    report["durations"] = durations

    # ---- the camera's frame counter ---------------------------------------------------------
    # Measured in 12 runs (24 camera tracks, ~340 pictures each): every picture reads; the
    # counter advances by exactly one, across segment joins too, except that Chromium shows
    # frame 0 twice at every wrap. In 3 tracks one single frame was missing (a 0.13 s step in
    # the RTP timestamps, so never sent: Chromium skipped it while the 2 cores were busiest, at
    # start-up or as the `session end` process started), never two in a row; with another
    # benchmark loading the machine, up to 6 per track. Such a frame was never encoded: a frame
    # lost on its way through the server would instead break the decoding or show as a gap in
    # the manifest, both checked above. Asserted: no repeat besides the wraps', no step over
    # more than one frame, single skips under MAX_CAMERA_SKIPPED_SHARE of the pictures.
    counters: dict[str, Any] = {}
    video_loops: dict[str, list[float]] = {}
    for track in cameras:
        reads = [read for s in decoded[track] for read in s.counted()]
        sizes = {size for s in decoded[track] for size in s.sizes}
        if sizes != {(640, 480)}:
            problems.append(f"{track}: camera pictures are {sorted(sizes)}, not 640x480")
        unreadable = sum(1 for _, c in reads if c is None)
        values = [c for _, c in reads if c is not None]
        steps = counter_steps(values, media.file_frames)
        counters[track] = {"pictures": len(reads), "unreadable": unreadable, **steps}
        if unreadable:
            problems.append(f"{track}: {unreadable} of {len(reads)} pictures show no counter")
        if steps["repeated"]:
            problems.append(f"{track}: {steps['repeated']} pictures repeated: {steps}")
        too_many = steps["skipped"] > MAX_CAMERA_SKIPPED_SHARE * max(1, len(reads))
        if too_many or steps["jumps"] != steps["skipped"]:
            problems.append(f"{track}: frames missing from the counter: {steps}")
        if not steps["wraps"] - 1 <= steps["wrap_repeat"] <= steps["wraps"]:
            # The loop timing below counts on the repeat (the last wrap may be cut by the end).
            problems.append(f"{track}: frame 0 not shown twice at each wrap: {steps}")
        # The start of each camera loop on the archive's clock: counter n >= 1 was captured
        # n + 1 frame intervals after the first frame 0 of its loop.
        video_loops[track] = [
            t - (c + media.repeated_frames) / media.fps
            for t, c in reads
            if c  # not None, not 0
        ]
    report["counters"] = counters

    # ---- tone ------------------------------------------------------------------------------
    # A microphone: the strongest frequency over 4 s is the tone's (the beeps are 0.1 s of 3).
    # The room mix adds both seats' tones at whatever phase they arrive in: measured, they may
    # cancel down to a third, and then the beeps of two seats can outweigh them in a 4 s
    # window. So in the mix the tone must be the strongest frequency below the beep's and stand
    # clear of the spectrum (measured: over 100 dB above the median; 40 required).
    tones: dict[str, Any] = {}
    for track in [*microphones, "room-mix"]:
        pcm = np.concatenate([s.pcm for s in decoded[track] if s.pcm is not None])
        below = (media.tone_hz + media.beep_hz) / 2 if track == "room-mix" else AUDIO_RATE / 2
        hz, prominence = dominant_hz(middle(pcm, TONE_WINDOW_S), below)
        tones[track] = {"hz": round(hz, 2), "above_median_db": round(prominence, 1)}
        if abs(hz - media.tone_hz) > TONE_TOLERANCE_HZ or prominence < TONE_MIN_PROMINENCE_DB:
            problems.append(f"{track}: strongest frequency {tones[track]}, not {media.tone_hz} Hz")
    report["tone"] = tones

    # ---- camera against microphone, per seat ----------------------------------------------
    # Both loops last 3.0 s, so the distance from a loop's counter 0 to its beep is one number
    # per seat for the whole run, but not a known one: the camera is one device shared by both
    # seats (opened by the first), and each seat's microphone starts its file when that seat
    # opens it. The ground truth is what the seat's page saw its own devices capture
    # (DEVICE_MARKS_JS, on the browser's capture clock). Asserted, for every loop: the archive's
    # distance (beep on the microphone track minus loop start on the camera track, both on the
    # manifest's wall clock) is the page's within ALIGN_TOLERANCE_S. Reported as well: how far
    # each track alone is from the page (its absolute wall-clock error).
    alignment: dict[str, Any] = {}
    for participant, camera, microphone, (page_loops, page_beeps) in zip(
        experts, cameras, microphones, captured, strict=True
    ):
        beeps = [
            s.wall(s.pcm_start_s + t)
            for s in decoded[microphone]
            if s.pcm is not None
            for t in beep_onsets(s.pcm, media.beep_hz)
        ]
        starts, page_starts = np.asarray(video_loops[camera]), np.asarray(page_loops)
        archive_offsets, page_offsets, video_errors, audio_errors = [], [], [], []
        for beep in beeps:
            page_beep = min(page_beeps, key=lambda b: abs(b - beep), default=None)
            if page_beep is None or abs(page_beep - beep) > media.loop_s / 2:
                continue  # after the page's devices were read, or before
            near = starts[np.abs(starts - beep) < media.loop_s / 2]
            page_near = page_starts[np.abs(page_starts - page_beep) < media.loop_s / 2]
            if not near.size or not page_near.size:
                continue
            loop, page_loop = float(np.median(near)), float(np.median(page_near))
            archive_offsets.append(beep - loop)
            page_offsets.append(page_beep - page_loop)
            video_errors.append(loop - page_loop)
            audio_errors.append(beep - page_beep)
        misaligned = [a - b for a, b in zip(archive_offsets, page_offsets, strict=True)]
        seat = f"seat {participant['seat']}"
        alignment[seat] = {
            "archive_audio_minus_video_s": [round(o, 3) for o in archive_offsets],
            "page_audio_minus_video_s": [round(o, 3) for o in page_offsets],
            "archive_minus_page_s": stats(misaligned),
            "camera_track_minus_page_s": [round(e, 3) for e in video_errors],
            "microphone_track_minus_page_s": [round(e, 3) for e in audio_errors],
            "archive_offset_spread_s": stats(archive_offsets).get("spread"),
            "beep_intervals_s": [round(b - a, 3) for a, b in zip(beeps, beeps[1:], strict=False)],
        }
        if len(misaligned) < RECORD_S / media.loop_s - 1:
            problems.append(
                f"{seat}: only {len(misaligned)} loops found in both the archive and the page "
                f"({len(beeps)} beeps in the archive, {len(page_beeps)} in the page)"
            )
        elif max(abs(m) for m in misaligned) > ALIGN_TOLERANCE_S:
            problems.append(
                f"{seat}: camera and microphone misaligned by up to "
                f"{max(misaligned, key=abs):+.3f} s (audio minus video, archive "
                f"{alignment[seat]['archive_audio_minus_video_s']}, page "
                f"{alignment[seat]['page_audio_minus_video_s']})"
            )
    # Ground truth for video alone: both seats' cameras are the same device, so one picture
    # (same loop, same counter) was captured once; the archive should place both copies at the
    # same wall time. Measured, not asserted.
    shared: list[list[float]] = [[] for _ in decoded[cameras[0]]]  # by seat 1's segment
    later = [read for s in decoded[cameras[1]] for read in s.counted()]
    later_t = np.asarray([t for t, c in later if c])
    later_c = np.asarray([c for t, c in later if c])
    for index, seg in enumerate(decoded[cameras[0]]):
        for t, c in seg.counted():
            same = np.flatnonzero((later_c == c) & (np.abs(later_t - t) < 1.0))
            if c and same.size:
                shared[index].append(float(later_t[same[0]] - t))
    alignment["camera_seat2_minus_seat1_s_by_segment"] = [stats(x) for x in shared]
    report["alignment"] = alignment

    (artifacts / MEASUREMENTS).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    assert not problems, "the archive differs from what was played:\n" + "\n".join(problems)
