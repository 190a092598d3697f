"""One session's archive while it is being recorded: tracks, events, journal, seal."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recorder.config import RecorderConfig
from recorder.documents import document_entries, seal_documents
from recorder.eventlog import START, ChainHead, EventLogWriter, fsync_dir, read_events
from recorder.hashing import file_digests, sha256_hex, sm3_hex
from recorder.keys import KeySource
from recorder.manifest import (
    GapEntry,
    Manifest,
    SegmentEntry,
    TrackEntry,
    append_journal,
    read_journal,
)
from recorder.ports import EncodedFrame
from recorder.readme import archive_readme
from recorder.repair import RepairResult, repair_segment
from recorder.seal import (
    README,
    SESSION_ENDED,
    part_name,
    part_number,
    seal_head,
    seal_part,
)
from recorder.timestamp import Tsa
from recorder.track import FinishedSegment, Gap, TrackRecorder

logger = logging.getLogger(__name__)

EVENTS = "events.jsonl"
JOURNAL = "segments.jsonl"
SEAL = "seal.json"
EVIDENCE_DIR = "evidence"
EVIDENCE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,120}\.jpg")


def list_parts(session_dir: Path) -> list[tuple[int, Path]]:
    """The parts of a session archive in order."""
    if not session_dir.is_dir():
        return []
    found = []
    for child in session_dir.iterdir():
        number = part_number(child.name)
        if number is not None and child.is_dir():
            found.append((number, child))
    return sorted(found)


def is_sealed(part_dir: Path) -> bool:
    """Whether a part has been sealed."""
    return (part_dir / SEAL).is_file()


def session_retention(session_dir: Path) -> str | None:
    """Until when the whole session archive is kept (ISO date): from the seal of its end.

    Every part of the session is kept until that date; None while the session has not ended.
    """
    for _number, part_dir in reversed(list_parts(session_dir)):
        try:
            seal = json.loads((part_dir / SEAL).read_bytes())
        except (OSError, ValueError):
            continue
        if isinstance(seal, dict) and seal.get("state") == "ended":
            until = seal.get("retention_until")
            return until if isinstance(until, str) else None
    return None


@dataclass(frozen=True)
class ArchivedEvent:
    """An event as the archive takes it (the store's event log entry)."""

    seq: int
    at: str
    kind: str
    actor: str | None
    data: Mapping[str, Any]


@dataclass
class _Track:
    entry: TrackEntry
    recorder: TrackRecorder


@dataclass
class PartState:
    """What a part holds so far (rebuilt from the journal on recovery)."""

    segments: list[SegmentEntry] = field(default_factory=list)
    gaps: list[GapEntry] = field(default_factory=list)
    tracks: dict[str, TrackEntry] = field(default_factory=dict)


class SessionArchive:
    """Records one part of a session: opened when the room opens, sealed when it ends or stops."""

    def __init__(
        self,
        root: Path,
        session_id: str,
        *,
        keys: KeySource,
        config: RecorderConfig,
        project: str | None = None,
        on_gap: Callable[[Gap], None] | None = None,
    ) -> None:
        self.session_dir = root / session_id
        self.session_id = session_id
        self._keys = keys
        self._tsa = _tsa_of(config)
        self._config = config
        self._project = project
        self._on_gap = on_gap
        self._tracks: dict[str, _Track] = {}
        self._state = PartState()
        self._io = ThreadPoolExecutor(1, thread_name_prefix=f"archive-{session_id[:8]}")
        self._events: EventLogWriter | None = None
        self._event_lock = asyncio.Lock()
        self._pending: set[asyncio.Future[Any]] = set()
        self.part = 0
        self.part_dir = self.session_dir
        self.last_seq = 0
        self.event_count = 0
        self._ended_at: datetime | None = None
        self._sealed = False

    # -- lifecycle ------------------------------------------------------------------------------

    async def open(self) -> None:
        """Start a new part, chained to the previous part's seal (if any)."""
        parts = await asyncio.to_thread(list_parts, self.session_dir)
        start = START
        if parts:
            number, last = parts[-1]
            if not is_sealed(last):
                raise RuntimeError(f"{last} is not sealed: recover the archive before recording")
            start = await asyncio.to_thread(seal_head, last)
            self.last_seq = await asyncio.to_thread(_last_seq_of, last)
        self.part = (parts[-1][0] + 1) if parts else 1
        self.part_dir = self.session_dir / part_name(self.part)
        await asyncio.to_thread((self.part_dir / "media").mkdir, parents=True)
        self._events = await self._run_io(EventLogWriter, self.part_dir / EVENTS, start)
        logger.info("archive %s: recording part %d", self.session_id, self.part)

    async def resume_unsealed(self) -> tuple[list[RepairResult], list[dict[str, Any]]] | None:
        """Adopt a part left unsealed by a crash: repair its media, rebuild it from the journal.

        Returns the repairs made and the unplayable remnants removed, or None when there is
        no unsealed part. The caller then
        records the gap and the missing events and seals the part as interrupted.
        """
        parts = await asyncio.to_thread(list_parts, self.session_dir)
        if not parts or is_sealed(parts[-1][1]):
            return None
        self.part, self.part_dir = parts[-1]
        start = await asyncio.to_thread(seal_head, parts[-2][1]) if len(parts) > 1 else START
        self._events = await self._run_io(EventLogWriter, self.part_dir / EVENTS, start)
        records = await asyncio.to_thread(read_events, self.part_dir / EVENTS)
        self.event_count = len(records)
        if records:
            self.last_seq = int(records[-1]["seq"])
        elif len(parts) > 1:
            self.last_seq = await asyncio.to_thread(_last_seq_of, parts[-2][1])
        repairs = await self._run_io(_repair_unjournaled, self.part_dir)
        for entry in await asyncio.to_thread(journal_of, self.part_dir):
            self._state.segments.append(entry)
            self._state.tracks.setdefault(
                entry.track,
                TrackEntry(id=entry.track, kind=entry.kind, codec=entry.codec, label=entry.track),
            )
        return repairs

    def add_gap(self, gap: GapEntry) -> None:
        """Record a span of a track that is missing from the archive."""
        self._state.gaps.append(gap)

    def last_wall_end(self) -> dict[str, float]:
        """Per track, the wall-clock end of its last archived segment."""
        ends: dict[str, float] = {}
        for entry in self._state.segments:
            ends[entry.track] = max(ends.get(entry.track, 0.0), entry.wall_end)
        return ends

    async def seal(self, state: str) -> dict[str, Any]:
        """Finish every track and seal the part (state ``ended`` or ``interrupted``)."""
        if self._sealed:
            raise RuntimeError("part already sealed")
        for track_id in list(self._tracks):
            await self.remove_track(track_id)
        if self._pending:
            await asyncio.wait(self._pending)
        async with self._event_lock:
            assert self._events is not None
            manifest = Manifest(
                session_id=self.session_id,
                part=self.part,
                state=state,
                created_at=datetime.now(UTC).isoformat(),
                tracks=tuple(self._state.tracks.values()),
                segments=tuple(self._state.segments),
                gaps=tuple(self._state.gaps),
                event_count=self.event_count,
                last_event_hash=self._events.head.sha256,
                last_event_sm3=self._events.head.sm3,
            )
            await self._run_io(self._events.close)
            previous = await asyncio.to_thread(self._previous_head)
            readme = archive_readme(self.session_id, self._project)
            # Before the seal, which names its digests.
            await self._run_io(_write_readme, self.session_dir / README, readme)
            documents = None
            if state == "ended":
                # The report and the signatures are final once the session ends: read-only
                # first, then listed in the final seal, so that nothing slips in between.
                await self._run_io(seal_documents, self.session_dir)
                documents = await self._run_io(document_entries, self.session_dir)
            # The keys of the moment: a rotation since the part opened applies to its seal.
            keys = await self._run_io(self._keys.current)
            seal = await self._run_io(
                seal_part,
                self.part_dir,
                manifest,
                keys,
                previous,
                retention_years=self._config.retention_years,
                ended_at=self._ended_at,
                documents=documents,
                tsa=self._tsa,
            )
        self._sealed = True
        logger.info("archive %s: part %d sealed (%s)", self.session_id, self.part, state)
        return seal

    async def close(self) -> None:
        """Release the I/O thread (after seal); safe to call twice."""
        with contextlib.suppress(RuntimeError):
            await asyncio.to_thread(self._io.shutdown, wait=True)

    @property
    def sealed(self) -> bool:
        """Whether this part is sealed."""
        return self._sealed

    # -- events ---------------------------------------------------------------------------------

    async def record_events(self, events: list[ArchivedEvent]) -> None:
        """Append events in order; those at or below the last archived seq are skipped."""
        async with self._event_lock:
            assert self._events is not None
            for event in events:
                if event.seq <= self.last_seq:
                    continue
                await self._run_io(
                    self._events.append,
                    event.seq,
                    event.at,
                    event.kind,
                    event.actor,
                    dict(event.data),
                )
                self.last_seq = event.seq
                self.event_count += 1
                if event.kind == SESSION_ENDED and self._ended_at is None:
                    with contextlib.suppress(ValueError):
                        self._ended_at = datetime.fromisoformat(event.at)

    # -- evidence -------------------------------------------------------------------------------

    async def add_evidence(self, name: str, data: bytes) -> dict[str, Any]:
        """Store an evidence picture (a warning's snapshot) in the part; never overwrites one.

        Returns its path in the part and its digests, for the event that cites it: the event
        log binds the picture at once, the seal (SHA256SUMS) when the part is sealed.
        """
        if self._sealed:
            raise RuntimeError("part already sealed")
        if not EVIDENCE_NAME.fullmatch(name):
            raise ValueError(f"not an evidence file name: {name!r}")
        rel = f"{EVIDENCE_DIR}/{name}"
        await self._run_io(_write_new, self.part_dir / EVIDENCE_DIR, name, data)
        return {"path": rel, "size": len(data), "sha256": sha256_hex(data), "sm3": sm3_hex(data)}

    # -- tracks ---------------------------------------------------------------------------------

    async def add_track(
        self,
        track_id: str,
        *,
        kind: str,
        codec: str,
        clock_rate: int,
        label: str,
        request_keyframe: Callable[[], None] | None,
        size: tuple[int, int] | None = None,
        extradata: bytes | None = None,
    ) -> TrackRecorder:
        """Start recording a track (a new recorder continues the numbering of its folder).

        An H.264 track (a room camera) gives its picture `size` and SPS/PPS `extradata`.
        """
        await self.remove_track(track_id)
        recorder = TrackRecorder(
            part_dir=self.part_dir,
            track_id=track_id,
            kind=kind,
            codec=codec,
            clock_rate=clock_rate,
            config=self._config,
            on_segment=self._segment_finished,
            on_gap=self._gap,
            request_keyframe=request_keyframe,
            size=size,
            extradata=extradata,
        )
        await recorder.start()
        entry = TrackEntry(id=track_id, kind=kind, codec=codec, label=label)
        self._state.tracks[track_id] = entry
        self._tracks[track_id] = _Track(entry, recorder)
        return recorder

    def push(self, track_id: str, frame: EncodedFrame) -> None:
        """One frame for a track (dropped if the track is not being recorded)."""
        track = self._tracks.get(track_id)
        if track is not None:
            track.recorder.push(frame)

    async def remove_track(self, track_id: str, recorder: TrackRecorder | None = None) -> None:
        """Finish a track's current segment; with `recorder`, only if it is still that one."""
        track = self._tracks.get(track_id)
        if track is None or (recorder is not None and track.recorder is not recorder):
            return
        del self._tracks[track_id]
        await track.recorder.close()

    def recording(self) -> list[str]:
        """Track ids being recorded now."""
        return list(self._tracks)

    # -- internals ------------------------------------------------------------------------------

    def _segment_finished(self, segment: FinishedSegment) -> None:
        future = asyncio.ensure_future(self._journal(segment))
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

    async def _journal(self, segment: FinishedSegment) -> None:
        sha256, sm3 = await self._run_io(file_digests, segment.path)
        size = await asyncio.to_thread(lambda: segment.path.stat().st_size)
        entry = SegmentEntry(
            path=segment.relative,
            track=segment.track,
            index=segment.index,
            kind=segment.kind,
            codec=segment.codec,
            size=size,
            sha256=sha256,
            sm3=sm3,
            frames=segment.frames,
            media_duration_s=segment.media_duration_s,
            wall_start=segment.wall_start,
            wall_end=segment.wall_end,
        )
        await self._run_io(append_journal, self.part_dir / JOURNAL, entry)
        self._state.segments.append(entry)

    def _gap(self, gap: Gap) -> None:
        self._state.gaps.append(
            GapEntry(
                track=gap.track, wall_start=gap.wall_start, wall_end=gap.wall_end, reason=gap.reason
            )
        )
        if self._on_gap is not None:
            self._on_gap(gap)

    def _previous_head(self) -> ChainHead | None:
        parts = list_parts(self.session_dir)
        earlier = [p for n, p in parts if n < self.part]
        return seal_head(earlier[-1]) if earlier else None

    async def _run_io(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._io, lambda: fn(*args, **kwargs))


def _tsa_of(config: RecorderConfig) -> Tsa | None:
    """The configured TSA; one whose certificate cannot be read gives no valid token, so that
    each seal says it has none and why, while the recording goes on."""
    try:
        return Tsa.from_config(config)
    except (OSError, ValueError) as exc:
        logger.error("the TSA certificate %s cannot be read: %s", config.tsa_certificate, exc)
        return Tsa(str(config.tsa_url), (), config.tsa_timeout_s)


def _write_new(folder: Path, name: str, data: bytes) -> None:
    """Write a new file durably (its folder entry too); an existing one is an error."""
    created = not folder.exists()
    folder.mkdir(exist_ok=True)
    if created:
        fsync_dir(folder.parent)
    fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    fsync_dir(folder)


def _write_readme(path: Path, text: str) -> None:
    if path.exists():
        path.chmod(0o644)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o444)


def _last_seq_of(part_dir: Path) -> int:
    events = read_events(part_dir / EVENTS)
    return int(events[-1]["seq"]) if events else 0


def _repair_unjournaled(part_dir: Path) -> tuple[list[RepairResult], list[dict[str, Any]]]:
    """Repair every media file that the journal does not list, and journal it.

    Returns the repairs and the unplayable remnants that were removed.
    """
    journaled = {entry.path for entry in read_journal(part_dir / JOURNAL)}
    results: list[RepairResult] = []
    removed: list[dict[str, Any]] = []
    media = part_dir / "media"
    found = [*media.glob("*/*.webm"), *media.glob("*/*.mp4")] if media.is_dir() else []
    for path in sorted(found):
        relative = path.relative_to(part_dir).as_posix()
        if relative in journaled or path.name.startswith("."):
            continue
        result = repair_segment(path)
        results.append(result)
        if not result.ok and result.frames_kept == 0:
            # Nothing playable: the writer died before its first cluster reached the disk (a
            # header at most). The remnant's size and digest go into the recovery event, and the
            # file goes, so that every segment the archive lists plays.
            sha256, _sm3 = file_digests(path)
            removed.append({"file": relative, "size": path.stat().st_size, "sha256": sha256})
            path.unlink()
            continue
        stat = path.stat()
        # The writer was killed: the last flush is the file's modification time.
        wall_end = stat.st_mtime
        sha256, sm3 = file_digests(path)
        track = path.parent.name
        kind = "audio" if track.endswith(("microphone", "mix")) else "video"
        append_journal(
            part_dir / JOURNAL,
            SegmentEntry(
                path=relative,
                track=track,
                index=int(path.stem),
                kind=kind,
                codec="opus" if kind == "audio" else "H264" if path.suffix == ".mp4" else "VP8",
                size=stat.st_size,
                sha256=sha256,
                sm3=sm3,
                frames=result.frames_kept,
                media_duration_s=result.media_duration_s,
                wall_start=wall_end - result.media_duration_s,
                wall_end=wall_end,
                repaired=True,
            ),
        )
    return results, removed


def journal_of(part_dir: Path) -> list[SegmentEntry]:
    """Finished segments of a part as journaled."""
    return read_journal(part_dir / JOURNAL)
