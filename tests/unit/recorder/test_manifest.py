"""The manifest's JSON form and the segment journal."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from recorder.manifest import (
    GapEntry,
    Manifest,
    SegmentEntry,
    TrackEntry,
    append_journal,
    read_journal,
)
from roomserver.canonical import canonical_json


def segment(index: int) -> SegmentEntry:
    return SegmentEntry(
        path=f"media/v1-3-camera/{index:06d}.webm",
        track="v1-3-camera",
        index=index,
        kind="video",
        codec="VP8",
        size=1000 + index,
        sha256="a" * 64,
        sm3="b" * 64,
        frames=300,
        media_duration_s=10.0,
        wall_start=1.5 + index,
        wall_end=11.5 + index,
        repaired=index == 2,
    )


def manifest() -> Manifest:
    return Manifest(
        session_id="s1",
        part=2,
        state="interrupted",
        created_at="2024-04-17T09:00:00+08:00",
        tracks=(TrackEntry("v1-3-camera", "video", "VP8", "专家 3 摄像头"),),
        segments=(segment(1), segment(2)),
        gaps=(GapEntry("v1-3-camera", 21.5, 30.0, "network"),),
        event_count=7,
        last_event_hash="c" * 64,
        last_event_sm3="d" * 64,
    )


def test_manifest_round_trips_and_is_deterministic() -> None:
    m = manifest()
    data = m.to_json()
    assert Manifest.from_json(data) == m
    assert Manifest.from_json(data).to_json() == data
    assert "专家 3 摄像头" in data.decode("utf-8")
    assert json.loads(data)["format"] == 2
    assert data == canonical_json(json.loads(data))


@pytest.mark.parametrize(
    "change",
    [
        lambda o: o.update(format=1),
        lambda o: o.update(signed_by="x"),
        lambda o: o.pop("part"),
        lambda o: o.update(part="2"),
        lambda o: o["segments"][0].update(size=True),
        lambda o: o["segments"][0].update(extra=1),
        lambda o: o.update(tracks="none"),
    ],
)
def test_from_json_refuses_what_is_not_a_manifest(change) -> None:
    obj = json.loads(manifest().to_json())
    change(obj)
    with pytest.raises(ValueError):
        Manifest.from_json(canonical_json(obj))


def test_from_json_refuses_a_manifest_not_in_canonical_form() -> None:
    text = json.dumps(json.loads(manifest().to_json()), indent=2).encode()
    with pytest.raises(ValueError, match="canonical"):
        Manifest.from_json(text)


def test_journal_appends_and_ignores_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "segments.jsonl"
    append_journal(path, segment(1))
    append_journal(path, replace(segment(2), repaired=False))
    assert read_journal(path) == [segment(1), replace(segment(2), repaired=False)]
    with path.open("ab") as f:
        f.write(b'{"path": "media/v1-3-camera/000003.we')
    assert len(read_journal(path)) == 2


def test_a_part_that_died_before_its_first_segment_has_an_empty_journal(tmp_path: Path) -> None:
    assert read_journal(tmp_path / "segments.jsonl") == []


def test_journal_with_a_bad_line_in_the_middle_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "segments.jsonl"
    append_journal(path, segment(1))
    with path.open("ab") as f:
        f.write(b"garbage\n")
    append_journal(path, segment(2))
    with pytest.raises(ValueError, match="line 2"):
        read_journal(path)
