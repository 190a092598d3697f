"""Replica benchmark: how fast a sealed session is copied to the replica and verified there, and
how closely the pace (``replica_rate``, ``reverify_rate``) holds.

    python bench/replica.py [--archive-mb 500] [--segment-mb 8] [--paced-mb-s 50]
                            [--replica DIR]

A session of ``--archive-mb`` of media (random bytes in segments of ``--segment-mb``, as large
as ten seconds of a busy room's tracks) is sealed with real keys as the recorder seals it, then
``recorder.replica.copy_session`` copies it to ``--replica`` (default: a folder beside it, the
same disk) with no pace, ``recorder.verify.verify_archive`` checks the copy, the copy is removed
and made again at ``--paced-mb-s``. Every file is written through fsync, as the server copies;
the source is read from the page cache (written just before), so the figures are those of the
writing disk and the digests, not of a cold read. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from recorder.eventlog import START, EventLogWriter  # noqa: E402
from recorder.hashing import file_digests  # noqa: E402
from recorder.keys import Keyring  # noqa: E402
from recorder.manifest import Manifest, SegmentEntry, TrackEntry  # noqa: E402
from recorder.pacing import MB, Pace  # noqa: E402
from recorder.replica import copy_session  # noqa: E402
from recorder.seal import seal_part  # noqa: E402
from recorder.verify import verify_archive  # noqa: E402


def sealed_session(base: Path, total_mb: int, segment_mb: int) -> tuple[Path, Keyring]:
    """A session folder with one sealed part of `total_mb` of media."""
    keyring = Keyring(base / "secrets" / "archive-keys", base / "archive-keys.json")
    keyring.ensure()
    part = base / "archive" / "bench" / "part-0001"
    segments = []
    chunk = os.urandom(segment_mb * MB)
    for index in range(1, max(total_mb // segment_mb, 1) + 1):
        rel = f"media/room-grid/{index:06d}.webm"
        path = part / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(chunk[index % 7 :] + chunk[: index % 7])  # each file its own bytes
        sha, sm3 = file_digests(path)
        segments.append(
            SegmentEntry(
                path=rel,
                track="room-grid",
                index=index,
                kind="video",
                codec="VP8",
                size=path.stat().st_size,
                sha256=sha,
                sm3=sm3,
                frames=150,
                media_duration_s=10.0,
                wall_start=10.0 * index,
                wall_end=10.0 * index + 10,
            )
        )
    with EventLogWriter(part / "events.jsonl", START) as log:
        log.append(1, "2026-12-07T09:00:00+08:00", "note", None, {"text": "基准"})
        count, last = log.count, log.head
    manifest = Manifest(
        session_id="bench",
        part=1,
        state="ended",
        created_at="2026-12-07T09:00:00+08:00",
        tracks=(TrackEntry("room-grid", "video", "VP8", "评标室画面"),),
        segments=tuple(segments),
        gaps=(),
        event_count=count,
        last_event_hash=last.sha256,
        last_event_sm3=last.sm3,
    )
    seal_part(part, manifest, keyring.current(), None)
    return part.parent, keyring


def remove(folder: Path) -> None:
    for root, dirs, _files in os.walk(folder):
        os.chmod(root, 0o700)
        for name in dirs:
            os.chmod(Path(root, name), 0o700)
    shutil.rmtree(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive-mb", type=int, default=500)
    parser.add_argument("--segment-mb", type=int, default=8)
    parser.add_argument("--paced-mb-s", type=float, default=50.0)
    parser.add_argument("--replica", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-replica-") as tmp:
        base = Path(tmp)
        session, keyring = sealed_session(base, args.archive_mb, args.segment_mb)
        size = sum(f.stat().st_size for f in session.rglob("*") if f.is_file())
        replica = args.replica or base / "replica"
        replica.mkdir(parents=True, exist_ok=True)
        print(f"session: {size / MB:,.0f} MB in {len(list(session.rglob('*.webm')))} segments")

        started = time.monotonic()
        report = copy_session(session, replica)
        copy_s = time.monotonic() - started
        assert report.ok, report.conflicts
        print(f"copy, no pace:   {copy_s:6.2f} s  {report.bytes / MB / copy_s:7.1f} MB/s (fsync)")

        started = time.monotonic()
        check = verify_archive(replica / "bench", trusted_keys=[keyring.listing.read_bytes()])
        verify_s = time.monotonic() - started
        assert check.ok, check.differences
        print(f"verify the copy: {verify_s:6.2f} s  {check.bytes / MB / verify_s:7.1f} MB/s")

        remove(replica / "bench")
        pace = Pace(args.paced_mb_s)
        started = time.monotonic()
        report = copy_session(session, replica, pace)
        paced_s = time.monotonic() - started
        print(
            f"copy at {args.paced_mb_s:g} MB/s: {paced_s:6.2f} s  "
            f"{report.bytes / MB / paced_s:7.1f} MB/s, slept {pace.slept_s:.1f} s"
        )
        remove(replica / "bench")


if __name__ == "__main__":
    main()
