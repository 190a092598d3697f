"""The archive survives kill -9 and SIGTERM: what was written plays, the rest is a recorded gap."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import av
import pytest

from media.testing.synthetic import CounterVideoTrack, ToneAudioTrack
from recorder.archive import list_parts
from recorder.manifest import Manifest
from signaling.testing.seat import SyntheticSeat
from tests.serverproc import ServerProcess

MAX_LOST_S = 2.0


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ServerProcess]:
    """A demo server subprocess on its own data dir, with short segments."""
    proc = ServerProcess(tmp_path / "data", extra_args=("--segment-seconds", "3"))
    await proc.demo()
    await proc.start()
    try:
        yield proc
    finally:
        await proc.stop()


def seat(
    server: ServerProcess, index: int, color: tuple[int, int, int], freq: float
) -> SyntheticSeat:
    """A synthetic seat of demo expert `index` with a counter camera and a tone."""
    return SyntheticSeat(
        server.base_url,
        server.token(index),
        camera=CounterVideoTrack(color),
        microphone=ToneAudioTrack(freq),
        name=f"seat{index}",
    )


def manifest(part_dir: Path) -> Manifest:
    """The sealed manifest of a part."""
    return Manifest.from_json((part_dir / "manifest.json").read_bytes())


def decodes(path: Path) -> int:
    """Frames (or audio frames) decoded from a segment file; raises if it does not play."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(container.streams[0]))


def events(part_dir: Path) -> list[dict]:
    """The hash-chained events of a part."""
    lines = (part_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


async def test_kill_9_loses_at_most_two_seconds_and_the_session_goes_on(
    server: ServerProcess,
) -> None:
    seats = [seat(server, 0, (200, 40, 40), 440), seat(server, 1, (40, 40, 200), 660)]
    for s in seats:
        await s.start()
    # About ten seconds of media (150 grid frames at 15 fps) before the crash.
    await seats[0].wait_grid_frames(150, timeout=40)
    killed_at = await server.kill9()
    for s in seats:
        await s.close()

    await server.start()  # recovery runs before the server answers /healthz
    session_dir = server.data_dir / "archive" / server.session_id
    parts = list_parts(session_dir)
    assert [n for n, _ in parts] == [1]
    part = parts[0][1]
    first = manifest(part)
    assert first.state == "interrupted"
    tracks = {s.track for s in first.segments}
    seat_tracks = {t for t in tracks if t.endswith(("-camera", "-microphone"))}
    assert len(seat_tracks) == 4 and {"room-grid", "room-mix"} <= tracks
    for track in sorted(tracks):
        segments = [s for s in first.segments if s.track == track]
        # Every segment, finished or repaired after the crash, plays.
        for segment in segments:
            assert decodes(part / segment.path) > 0, segment.path
        lost = killed_at - max(s.wall_end for s in segments)
        assert lost <= MAX_LOST_S, f"{track}: {lost:.2f} s lost at the crash"
    assert any(s.repaired for s in first.segments)
    kinds = [e["kind"] for e in events(part)]
    assert "recording_interrupted" in kinds
    assert {g.reason for g in first.gaps} == {"server_stopped"}

    # The seats come back; the session goes on in part 2 and ends there.
    seats = [seat(server, 0, (200, 40, 40), 440), seat(server, 1, (40, 40, 200), 660)]
    for s in seats:
        await s.start()
    await seats[0].wait_grid_frames(30, timeout=30)
    code, out = await server.cli("session", "end", server.session_id, "--reason", "测试结束")
    assert out.strip() == "ended"
    for s in seats:
        await s.close()
    parts = list_parts(session_dir)
    assert [n for n, _ in parts] == [1, 2]
    assert manifest(parts[1][1]).state == "ended"
    code, out = await server.cli("archive", "verify", server.session_id, check=False)
    assert code == 0, out
    assert "INTACT" in out


async def test_sigterm_seals_within_15_seconds_with_seats_connected(
    server: ServerProcess,
) -> None:
    seats = [seat(server, 0, (200, 40, 40), 440), seat(server, 2, (40, 200, 40), 990)]
    for s in seats:
        await s.start()
    await seats[0].wait_grid_frames(45, timeout=30)
    took = await server.terminate()
    assert took <= 15.0, f"SIGTERM took {took:.1f} s"
    # The seats were told the server is going away.
    for s in seats:
        assert any(event == "server_shutdown" for event, _ in s.events), s.events
        await s.close()
    part = list_parts(server.data_dir / "archive" / server.session_id)[0][1]
    sealed = manifest(part)
    assert sealed.state == "interrupted"
    assert not any(s.repaired for s in sealed.segments)  # finished cleanly, nothing to repair
    server.proc = None
    code, out = await server.cli("archive", "verify", server.session_id, check=False)
    assert code == 0, out
