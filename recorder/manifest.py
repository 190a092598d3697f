"""What a part holds: tracks, segments, gaps (``manifest.json``) and the segment journal."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from recorder.eventlog import fsync_dir, split_torn_tail
from recorder.hashing import FORMAT
from roomserver.canonical import canonical_json, parse_canonical


@dataclass(frozen=True)
class SegmentEntry:
    """One closed media file of one track."""

    path: str  # relative to the part folder, e.g. media/room-grid/000001.webm
    track: str
    index: int
    kind: str
    codec: str
    size: int
    sha256: str
    sm3: str
    frames: int
    media_duration_s: float
    wall_start: float
    wall_end: float
    repaired: bool = False  # the file was closed after a crash, not by the writer


@dataclass(frozen=True)
class GapEntry:
    """A span of wall time where a track recorded nothing, and why."""

    track: str
    wall_start: float
    wall_end: float
    reason: str


@dataclass(frozen=True)
class TrackEntry:
    """A recorded track: ``<venue>-<seat>-camera|microphone|desktop``, ``room-grid``, ..."""

    id: str
    kind: str
    codec: str
    label: str


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """The contents of one part, as sealed."""

    format: int = FORMAT
    session_id: str
    part: int
    state: str  # "ended" or "interrupted"
    created_at: str
    tracks: tuple[TrackEntry, ...]
    segments: tuple[SegmentEntry, ...]
    gaps: tuple[GapEntry, ...]
    event_count: int
    last_event_hash: str  # the SHA-256 and the SM3 of the last event (both chains' heads)
    last_event_sm3: str

    def to_json(self) -> bytes:
        """The RFC 8785 canonical JSON that manifest.json holds and the seal hashes."""
        # Canonical, not indented: another implementation must reproduce these exact bytes
        # from the manifest's content for as long as the archive is kept (`python3 -m
        # json.tool manifest.json` shows it indented).
        return canonical_json(asdict(self))

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        """Parse manifest.json; ValueError when it is not a canonical manifest of this format."""
        try:
            obj = parse_canonical(data)
            if not isinstance(obj, dict):
                raise ValueError("not a JSON object")
            if obj.get("format") != FORMAT:
                raise ValueError(f"unsupported archive format {obj.get('format')!r}")
            _check_types(cls, obj)
            return cls(
                **{
                    **obj,
                    "tracks": tuple(_build(TrackEntry, t) for t in obj["tracks"]),
                    "segments": tuple(_build(SegmentEntry, s) for s in obj["segments"]),
                    "gaps": tuple(_build(GapEntry, g) for g in obj["gaps"]),
                }
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a valid manifest: {exc}") from exc


def _build(cls: Any, obj: Any) -> Any:
    """A dataclass from a dict, refusing unknown keys (a manifest is evidence, not a hint)."""
    if not isinstance(obj, dict):
        raise TypeError(f"{cls.__name__} is not a JSON object")
    names = {f.name for f in fields(cls)}
    unknown = obj.keys() - names
    if unknown:
        raise TypeError(f"{cls.__name__} has unknown field(s) {sorted(unknown)}")
    _check_types(cls, obj)
    return cls(**obj)


_SCALARS: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
}


def _check_types(cls: Any, obj: dict[str, Any]) -> None:
    """Reject wrong scalar types, so a damaged manifest cannot crash whoever reads it."""
    for f in fields(cls):
        allowed = _SCALARS.get(str(f.type))
        if allowed is None or f.name not in obj:
            continue
        value = obj[f.name]
        if isinstance(value, bool) and bool not in allowed:
            raise TypeError(f"{cls.__name__}.{f.name} is not {f.type}")
        if not isinstance(value, allowed):
            raise TypeError(f"{cls.__name__}.{f.name} is not {f.type}")


def append_journal(path: Path, entry: SegmentEntry) -> None:
    """Append one finished segment to segments.jsonl, durably."""
    created = not path.exists()
    with path.open("ab") as f:
        f.write(canonical_json(asdict(entry)) + b"\n")
        f.flush()
        os.fsync(f.fileno())
    if created:
        fsync_dir(path.parent)


def read_journal(path: Path) -> list[SegmentEntry]:
    """The journal's entries; a last line torn by a crash is ignored, a bad earlier one raises.
    A part that stopped before its first segment was finished has no journal: no entries."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    complete, _torn = split_torn_tail(data)
    entries = []
    for number, line in enumerate(complete.splitlines(), start=1):
        try:
            entries.append(_build(SegmentEntry, json.loads(line)))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path}: line {number}: not a segment entry ({exc})") from exc
    return entries
