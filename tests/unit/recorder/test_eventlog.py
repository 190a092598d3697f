"""The hash-chained event log: writing, continuing after a restart, and finding every change."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from recorder.eventlog import (
    GENESIS,
    START,
    ChainHead,
    EventChainError,
    EventLogWriter,
    chain_record,
    check_chain,
    read_events,
    record_digests,
)
from recorder.hashing import sha256_hex, sm3_hex
from recorder.readme import CHAIN_SCRIPT
from roomserver.canonical import canonical_json


def write(path: Path, n: int, start: ChainHead = START, first_seq: int = 1) -> list[dict]:
    with EventLogWriter(path, start) as log:
        return [
            log.append(
                first_seq + i,
                f"2024-04-17T09:00:0{i}+08:00",
                "note",
                "host-1",
                {"text": f"第{i}条"},
            )
            for i in range(n)
        ]


def test_each_line_is_the_canonical_record_chained_to_the_one_before(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    records = write(path, 3)
    assert read_events(path) == records
    assert path.read_bytes() == b"".join(canonical_json(r) + b"\n" for r in records)
    assert records[0]["prev"] == records[0]["prev_sm3"] == GENESIS
    assert records[1]["prev"] == records[0]["hash"]
    assert records[1]["prev_sm3"] == records[0]["sm3"]
    body = canonical_json({k: v for k, v in records[2].items() if k not in ("hash", "sm3")})
    assert records[2]["hash"] == sha256_hex(body)
    assert records[2]["sm3"] == sm3_hex(body)
    assert records[2]["format"] == 2
    assert check_chain(records, START) == []


def test_a_restart_of_the_same_part_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    first = write(path, 2)
    log = EventLogWriter(path, START)
    assert (log.last_hash, log.last_seq, log.count) == (first[-1]["hash"], 2, 2)
    assert log.truncated_bytes == 0
    third = log.append(3, "2024-04-17T09:10:00+08:00", "resumed", None, {})
    log.close()
    log.close()
    assert third["prev"] == first[-1]["hash"]
    assert check_chain(read_events(path), START) == []
    with pytest.raises(ValueError, match="closed"):
        log.append(4, "t", "k", None, {})


@pytest.mark.parametrize("tail", [b'{"seq": 3, "at": "2024', b"\x00" * 40 + b"\n"])
def test_a_line_torn_by_a_crash_is_cut_away_on_open(tmp_path: Path, tail: bytes) -> None:
    path = tmp_path / "events.jsonl"
    records = write(path, 2)
    intact = path.read_bytes()
    path.write_bytes(intact + tail)
    with EventLogWriter(path, START) as log:
        assert log.truncated_bytes == len(tail)
        assert log.last_hash == records[-1]["hash"]
        log.append(3, "t", "gap", None, {"lost_bytes": log.truncated_bytes})
    assert check_chain(read_events(path), START) == []
    assert path.read_bytes().startswith(intact)


def test_a_log_that_does_not_chain_is_not_continued(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    write(path, 2)
    with pytest.raises(EventChainError, match="line 1"):
        EventLogWriter(path, ChainHead("1" * 64, GENESIS))


def test_seq_must_increase(tmp_path: Path) -> None:
    with EventLogWriter(tmp_path / "events.jsonl", START) as log:
        log.append(5, "t", "k", None, {})
        with pytest.raises(ValueError, match="seq 5 does not follow seq 5"):
            log.append(5, "t", "k", None, {})


def test_a_later_part_chains_from_the_previous_seal(tmp_path: Path) -> None:
    seal = b"seal.json of part 1"
    start = ChainHead(sha256_hex(seal), sm3_hex(seal))
    records = write(tmp_path / "events.jsonl", 2, start=start, first_seq=10)
    assert (records[0]["prev"], records[0]["prev_sm3"]) == (start.sha256, start.sm3)
    assert check_chain(records, start) == []
    assert "line 1 (seq 10): prev is not the start" in check_chain(records, START)[0]
    # Either chain alone tells: the SM3 start is as much a part of the chain as the SHA-256.
    half = ChainHead(start.sha256, GENESIS)
    assert "line 1 (seq 10): prev is not the start" in check_chain(records, half)[0]


def test_every_kind_of_change_is_named_by_line_and_seq(tmp_path: Path) -> None:
    records = write(tmp_path / "events.jsonl", 5)

    edited = [dict(r) for r in records]
    edited[2]["data"] = {"text": "改过"}
    assert check_chain(edited, START) == [
        "line 3 (seq 3): hash (SHA-256) does not match the line's content (edited)",
        "line 3 (seq 3): sm3 does not match the line's content (edited)",
    ]

    # A forger who recomputes one digest is still caught by the other.
    resha = [dict(r) for r in edited]
    resha[2]["hash"] = record_digests(resha[2]).sha256
    assert check_chain(resha, START) == [
        "line 3 (seq 3): sm3 does not match the line's content (edited)",
        "line 4 (seq 4): prev is not the hash of line 3"
        " (a line was removed, inserted or reordered)",
    ]

    removed = records[:1] + records[2:]
    assert check_chain(removed, START) == [
        "line 2 (seq 3): prev is not the hash of line 1 (a line was removed, inserted or reordered)"
    ]

    forged = chain_record(3, "t", "note", None, {}, ChainHead("x", "y"))
    problems = check_chain(records[:2] + [forged] + records[2:], START)
    assert any(p.startswith("line 3 (seq 3): prev") for p in problems)
    assert any(p.startswith("line 4 (seq 3): prev") for p in problems)

    swapped = [records[0], records[2], records[1], *records[3:]]
    problems = check_chain(swapped, START)
    assert any("line 3 (seq 2): seq 2 does not follow seq 3" in p for p in problems)
    assert any(p.startswith("line 2 (seq 3): prev") for p in problems)

    extra = [dict(r) for r in records]
    extra[0]["signed_by"] = "nobody"
    assert any("unexpected field" in p for p in check_chain(extra, START))


def test_read_events_names_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    write(path, 1)
    path.write_bytes(path.read_bytes() + b"not json\n" + json.dumps({"a": 1}).encode() + b"\n")
    with pytest.raises(EventChainError, match="line 2"):
        read_events(path)


def test_the_readme_script_checks_a_chain_with_nothing_but_the_standard_library(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.jsonl"
    tricky = {
        "hash": "f" * 64,  # a member of the same name inside data
        "text": ',"hash":"' + "0" * 64 + '"',  # and its text inside a string
        "sm3": ',"sm3":"' + "0" * 64 + '"}',
        "emoji": "评标 😀",
        "n": [0.1, 1e21, 1e-7, 333333333.3333333, -0.0],
    }
    with EventLogWriter(path, START) as log:
        for seq in (1, 2, 3):
            log.append(seq, f"2024-04-17T09:00:0{seq}+08:00", "note", "host-1", tricky)
        last = log.head
    ok = subprocess.run(
        [sys.executable, "-"],
        cwd=tmp_path,
        input=CHAIN_SCRIPT,
        text=True,
        capture_output=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.splitlines()[-1] == f"last {last.sha256} {last.sm3}"
    # A later part's chains start from the previous seal's digests, given as arguments.
    path.rename(tmp_path / "part1.jsonl")
    start = ChainHead(sha256_hex(b"seal"), sm3_hex(b"seal"))
    write(path, 2, start=start)
    later = subprocess.run(
        [sys.executable, "-", start.sha256, start.sm3],
        cwd=tmp_path,
        input=CHAIN_SCRIPT,
        text=True,
        capture_output=True,
        check=False,
    )
    assert later.returncode == 0, later.stdout
    path.unlink()
    (tmp_path / "part1.jsonl").rename(path)

    raw = path.read_bytes().replace("评标".encode(), "平标".encode(), 1)
    path.write_bytes(raw)
    broken = subprocess.run(
        [sys.executable, "-"],
        cwd=tmp_path,
        input=CHAIN_SCRIPT,
        text=True,
        capture_output=True,
        check=False,
    )
    assert broken.returncode == 1
    assert broken.stdout.splitlines()[0] == "1 1 BROKEN"
