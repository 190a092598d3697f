"""What a session archive holds, read for playback: tracks and their segments on the wall clock,
gaps, events, evidence pictures and documents.

Sealed parts are read from their manifests; a part still being recorded (or left unsealed by a
crash) from its segment journal. Every time is wall-clock seconds (Unix time), the recorder's
common clock for all tracks, so a player lines tracks up by these spans alone. Nothing here
trusts a path it did not build: file paths come from the manifests and journals, and
``resolve`` answers only for files the catalog lists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from recorder.archive import EVENTS, is_sealed, journal_of, list_parts
from recorder.documents import DOCUMENTS_DIR, citations
from recorder.eventlog import EventChainError, read_events
from recorder.manifest import Manifest, SegmentEntry
from recorder.seal import MANIFEST_JSON, part_name

SEGMENT_TYPES = {".webm": "video/webm", ".mp4": "video/mp4"}


@dataclass
class CatalogTrack:
    """One recorded track across every part of the session."""

    id: str
    kind: str
    codec: str
    label: str
    segments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Catalog:
    """A session archive as the player sees it."""

    session_id: str
    parts: list[dict[str, Any]]
    tracks: dict[str, CatalogTrack]
    gaps: list[dict[str, Any]]
    events: list[dict[str, Any]]
    damaged: list[dict[str, Any]]  # what could not be read, shown on the timeline
    files: set[str]  # session-relative paths the catalog lists (segments, evidence, documents)

    @property
    def start(self) -> float | None:
        """When the recording starts: its first segment, or in a record of events alone (an
        opening held without media) its first event."""
        starts = [s["wall_start"] for t in self.tracks.values() for s in t.segments]
        return min(starts, default=None) if starts else min(self._event_times(), default=None)

    @property
    def end(self) -> float | None:
        """When the recording ends: its last segment, or in a record of events alone its last
        event."""
        ends = [s["wall_end"] for t in self.tracks.values() for s in t.segments]
        return max(ends, default=None) if ends else max(self._event_times(), default=None)

    def _event_times(self) -> list[float]:
        times = []
        for event in self.events:
            try:
                times.append(datetime.fromisoformat(str(event["at"])).timestamp())
            except (KeyError, ValueError):
                continue  # an event without a readable time places nothing
        return times

    def resolve(self, root: Path, rel: str) -> Path | None:
        """The file of a session-relative path the catalog lists; None for anything else."""
        if rel not in self.files:
            return None
        folder = (root / self.session_id).resolve()
        path = (folder / rel).resolve()
        # A manifest is data too: a path in it that leaves the folder is never followed.
        if not path.is_relative_to(folder) or not path.is_file():
            return None
        return path

    def as_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "start": self.start,
            "end": self.end,
            "parts": self.parts,
            "tracks": [
                {
                    "id": t.id,
                    "kind": t.kind,
                    "codec": t.codec,
                    "label": t.label,
                    "segments": t.segments,
                }
                for t in sorted(self.tracks.values(), key=lambda t: t.id)
            ],
            "gaps": self.gaps,
            "events": self.events,
            "damaged": self.damaged,
        }


def _segment(part: str, entry: SegmentEntry) -> dict[str, Any]:
    return {
        "path": f"{part}/{entry.path}",
        "index": entry.index,
        "wall_start": entry.wall_start,
        "wall_end": entry.wall_end,
        "media_duration_s": entry.media_duration_s,
        "frames": entry.frames,
        "size": entry.size,
        "repaired": entry.repaired,
    }


def read_catalog(session_dir: Path) -> Catalog:
    """Read a session archive folder; unreadable pieces are listed as damage, never raised."""
    catalog = Catalog(session_dir.name, [], {}, [], [], [], set())
    for number, part_dir in list_parts(session_dir):
        name = part_name(number)
        sealed = is_sealed(part_dir)
        entry: dict[str, Any] = {"part": number, "sealed": sealed, "state": None}
        segments: list[SegmentEntry] = []
        try:
            if sealed:
                manifest = Manifest.from_json((part_dir / MANIFEST_JSON).read_bytes())
                entry["state"] = manifest.state
                for t in manifest.tracks:
                    catalog.tracks.setdefault(t.id, CatalogTrack(t.id, t.kind, t.codec, t.label))
                segments = list(manifest.segments)
                catalog.gaps += [
                    {"track": g.track, "from": g.wall_start, "to": g.wall_end, "reason": g.reason}
                    for g in manifest.gaps
                ]
            else:
                entry["state"] = "recording"
                segments = journal_of(part_dir)
        except (OSError, ValueError) as exc:
            catalog.damaged.append({"part": number, "what": f"{name}: {exc}"})
        for segment in segments:
            track = catalog.tracks.setdefault(
                segment.track,
                CatalogTrack(segment.track, segment.kind, segment.codec, segment.track),
            )
            track.segments.append(_segment(name, segment))
            catalog.files.add(f"{name}/{segment.path}")
        _read_events(catalog, number, name, part_dir)
        catalog.parts.append(entry)
    for track in catalog.tracks.values():
        track.segments.sort(key=lambda s: s["wall_start"])
    documents = session_dir / DOCUMENTS_DIR
    if documents.is_dir():
        catalog.files.update(f"{DOCUMENTS_DIR}/{f.name}" for f in documents.iterdir())
    return catalog


def _read_events(catalog: Catalog, number: int, name: str, part_dir: Path) -> None:
    path = part_dir / EVENTS
    if not path.is_file():
        return
    try:
        records = read_events(path)
    except (OSError, EventChainError, ValueError) as exc:
        catalog.damaged.append({"part": number, "what": f"{name}/{EVENTS}: {exc}"})
        records = _readable_lines(path)
    for record in records:
        data = record.get("data")
        evidence = data.get("evidence") if isinstance(data, dict) else None
        if isinstance(evidence, dict) and isinstance(evidence.get("path"), str):
            catalog.files.add(f"{part_name(int(evidence.get('part', number)))}/{evidence['path']}")
        for cited in citations(data):
            catalog.files.add(str(cited["path"]))
        catalog.events.append(
            {
                "seq": record.get("seq"),
                "at": record.get("at"),
                "kind": record.get("kind"),
                "actor": record.get("actor"),
                "data": data,
                "part": number,
            }
        )


def _readable_lines(path: Path) -> list[dict[str, Any]]:
    """The lines of a damaged event log that still parse, for the timeline."""
    out = []
    for line in path.read_bytes().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            out.append(record)
    return out
