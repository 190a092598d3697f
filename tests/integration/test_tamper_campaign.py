"""The tamper campaign: a session recorded by the real server, every file of its archive attacked
in each way, and `roomserver archive verify` run on each result as an auditor runs it.

The session: three seats record, the server stops (part 1 sealed as interrupted), the server
starts again and the whole evaluation runs to its end with every expert (identity pictures, the
report and its signatures in documents/; part 2 sealed as ended), each seal time-stamped by a
TSA on loopback. Then, on a fresh copy each time:

- every file: one byte flipped at its start, middle and end; cut to half; deleted;
- every folder: a file added;
- in each part: two segments of one track swapped, and two of different tracks; an event
  removed, one inserted, two reordered; the seal re-signed with another installation's keys;
  the manifest edited, with its digests in SHA256SUMS and seal.json computed again;
- each part removed.

Each must make `archive verify` exit 1 and name the file attacked; the untouched archive passes.
The count of attacks tried and caught is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import shutil
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from media.testing.synthetic import CounterVideoTrack, ToneAudioTrack
from recorder.eventlog import chain_record, head_of
from recorder.hashing import sha256_hex, sm3_hex
from recorder.keys import SealKeys
from recorder.manifest import Manifest
from roomserver.canonical import canonical_json
from roomserver.model import Role
from signaling.cli.main import main
from signaling.testing.seat import SyntheticSeat
from tests import polling
from tests.archivekeys import make_keyring
from tests.integration.conftest import start_server
from tests.integration.sessionflow import run_whole_session
from tests.tsa import LocalTsa

SEAL_SIGNED = ("seal.json", "seal.ed25519.sig", "seal.sm2.sig", "ed25519.pub.pem", "sm2.pub.pem")


@dataclass(frozen=True)
class Attack:
    """One change to the archive, and the paths of which `archive verify` must name one."""

    kind: str
    target: str
    apply: Callable[[Path], None]
    named: tuple[str, ...]


async def record(tmp_path: Path, tsa: LocalTsa) -> tuple[Path, Path]:
    """Record the session in two parts; (data directory, its archive folder)."""
    data = tmp_path / "data"
    # Segments of 3 s: several to a track, so that two of one track can be swapped.
    flags = (
        "--segment-seconds",
        "3",
        "--tsa-url",
        tsa.url,
        "--tsa-certificate",
        str(tsa.certificate),
    )
    server, running = await start_server(data, *flags)
    session_id = running.demo.session.id
    try:
        async with AsyncExitStack() as stack:
            seats = [
                await stack.enter_async_context(
                    SyntheticSeat(
                        running.base_url,
                        running.token(expert),
                        camera=CounterVideoTrack((200, 60 * i, 40)),
                        microphone=ToneAudioTrack(440.0 + 110 * i),
                        name=f"part1-seat-{i}",
                    )
                )
                for i, expert in enumerate(running.experts[:3])
            ]
            await seats[0].wait_grid_frames(15, timeout=30)
            await segments_closed(data / "archive" / session_id / "part-0001")
    finally:
        await server.close()  # the server stops: part 1 is sealed as interrupted

    server, running = await start_server(data, *flags)
    try:
        host = running.participant(Role.HOST)
        part2 = data / "archive" / session_id / "part-0002"
        await run_whole_session(
            running,
            session_id,
            running.experts,
            host,
            host,
            during_evaluation=lambda: segments_closed(part2),
        )
    finally:
        await server.close()
    return data, data / "archive" / session_id


async def segments_closed(part: Path, per_track: int = 2) -> None:
    """Wait until the grid and two seat cameras have each closed `per_track` segments (the
    journal lists a segment once its file is closed)."""

    def enough() -> bool:
        journal = part / "segments.jsonl"
        if not journal.is_file():
            return False
        tracks = Counter(json.loads(line)["track"] for line in journal.read_text().splitlines())
        cameras = [t for t in tracks if t.endswith("-camera") and tracks[t] >= per_track]
        return tracks["room-grid"] >= per_track and len(cameras) >= 2

    await polling.wait_until(enough, 60, f"{per_track} closed segments a track in {part.name}")


def writable_copy(pristine: Path, into: Path) -> Path:
    """A fresh copy of the archive whose files can be changed (read-only bits are no evidence)."""
    if into.exists():
        shutil.rmtree(into)
    copy = into / pristine.name
    shutil.copytree(pristine, copy)
    for root, dirs, files in os.walk(copy):
        for name in dirs:
            os.chmod(Path(root, name), 0o755)
        for name in files:
            os.chmod(Path(root, name), 0o644)
    os.chmod(copy, 0o755)
    return copy


def flip(rel: str, offset: int) -> Callable[[Path], None]:
    def apply(a: Path) -> None:
        data = bytearray((a / rel).read_bytes())
        data[offset] ^= 0x01
        (a / rel).write_bytes(bytes(data))

    return apply


def truncate(rel: str) -> Callable[[Path], None]:
    def apply(a: Path) -> None:
        data = (a / rel).read_bytes()
        (a / rel).write_bytes(data[: len(data) // 2])

    return apply


def delete(rel: str) -> Callable[[Path], None]:
    def apply(a: Path) -> None:
        path = a / rel
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()

    return apply


def add(rel: str) -> Callable[[Path], None]:
    def apply(a: Path) -> None:
        (a / rel).write_bytes(b"\x1a\x45\xdf\xa3 added later")

    return apply


def swap(first: str, second: str) -> Callable[[Path], None]:
    def apply(a: Path) -> None:
        one, two = (a / first).read_bytes(), (a / second).read_bytes()
        (a / first).write_bytes(two)
        (a / second).write_bytes(one)

    return apply


def events_of(a: Path, part: str) -> list[bytes]:
    return (a / part / "events.jsonl").read_bytes().splitlines(keepends=True)


def remove_event(part: str) -> Callable[[Path], None]:
    def apply(a: Path) -> None:
        lines = events_of(a, part)
        del lines[1]
        (a / part / "events.jsonl").write_bytes(b"".join(lines))

    return apply


def insert_event(part: str) -> Callable[[Path], None]:
    """A forged event, chained to the line before it as the recorder would chain it."""

    def apply(a: Path) -> None:
        lines = events_of(a, part)
        before = json.loads(lines[1])
        forged = chain_record(
            before["seq"], before["at"], "note", before["actor"], {"text": "补记"}, head_of(before)
        )
        lines.insert(2, canonical_json(forged) + b"\n")
        (a / part / "events.jsonl").write_bytes(b"".join(lines))

    return apply


def reorder_events(part: str) -> Callable[[Path], None]:
    def apply(a: Path) -> None:
        lines = events_of(a, part)
        lines[1], lines[2] = lines[2], lines[1]
        (a / part / "events.jsonl").write_bytes(b"".join(lines))

    return apply


def sums_with(part_dir: Path, rel: str) -> None:
    """Put `rel`'s new SHA-256 into SHA256SUMS, as a forger who knows the format would."""
    digest = sha256_hex((part_dir / rel).read_bytes())
    lines = (part_dir / "SHA256SUMS").read_text().splitlines()
    fixed = [f"{digest}  {rel}" if line.endswith(f"  {rel}") else line for line in lines]
    (part_dir / "SHA256SUMS").write_text("".join(f"{line}\n" for line in fixed))


def reseal_fields(part_dir: Path, keys: SealKeys | None, **fields: object) -> None:
    """Change seal.json's fields (with SHA256SUMS's digests) and sign it with `keys`, or leave
    the old signatures when there are no keys to sign with."""
    seal = json.loads((part_dir / "seal.json").read_bytes())
    sums = (part_dir / "SHA256SUMS").read_bytes()
    seal.update(fields, sha256sums_sha256=sha256_hex(sums), sha256sums_sm3=sm3_hex(sums))
    if keys is not None:
        seal["keys"] = keys.fingerprints()
    data = canonical_json(seal)
    (part_dir / "seal.json").write_bytes(data)
    if keys is not None:
        (part_dir / "seal.ed25519.sig").write_bytes(keys.ed25519.sign(data))
        (part_dir / "seal.sm2.sig").write_bytes(keys.sm2.sign(data))


def resign(part: str, impostor: SealKeys) -> Callable[[Path], None]:
    """Another installation's keys in the part, SHA256SUMS and the seal made to agree, and the
    seal signed with them: everything checks, except whose keys they are."""

    def apply(a: Path) -> None:
        d = a / part
        (d / "ed25519.pub.pem").write_bytes(impostor.ed25519.public_pem())
        (d / "sm2.pub.pem").write_bytes(impostor.sm2.public_pem())
        sums_with(d, "ed25519.pub.pem")
        sums_with(d, "sm2.pub.pem")
        reseal_fields(d, impostor)

    return apply


def edit_manifest(part: str) -> Callable[[Path], None]:
    """A track's label changed in the manifest, its digests put into SHA256SUMS and the seal."""

    def apply(a: Path) -> None:
        d = a / part
        manifest = json.loads((d / "manifest.json").read_bytes())
        manifest["tracks"][0]["label"] = "改过的标签"
        data = canonical_json(manifest)
        Manifest.from_json(data)  # still a valid manifest
        (d / "manifest.json").write_bytes(data)
        sums_with(d, "manifest.json")
        reseal_fields(d, None, manifest_sha256=sha256_hex(data), manifest_sm3=sm3_hex(data))

    return apply


def attacks(pristine: Path, impostor: SealKeys) -> list[Attack]:
    """Every attack on the archive at `pristine` (its paths are read there)."""
    found: list[Attack] = []
    files = sorted(p.relative_to(pristine).as_posix() for p in pristine.rglob("*") if p.is_file())
    for rel in files:
        size = (pristine / rel).stat().st_size
        places = {"start": 0, "middle": size // 2, "end": size - 1} if size else {}
        for place, offset in places.items():
            kind = f"byte flipped at its {place}"
            found.append(Attack(kind, f"{rel}@{offset}", flip(rel, offset), (rel,)))
        if size:
            found.append(Attack("truncated", rel, truncate(rel), (rel,)))
        found.append(Attack("deleted", rel, delete(rel), (rel,)))
    folders = [pristine, *sorted(p for p in pristine.rglob("*") if p.is_dir())]
    for folder in folders:
        rel = (folder / "added.webm").relative_to(pristine).as_posix()
        found.append(Attack("file added", rel, add(rel), (rel,)))
    parts = sorted(p.name for p in pristine.glob("part-*"))
    for part in parts:
        tracks = sorted(p for p in (pristine / part / "media").iterdir() if p.is_dir())
        several = next(t for t in tracks if len(list(t.iterdir())) >= 2)
        one, two = sorted(several.iterdir())[:2]
        pair = tuple(p.relative_to(pristine).as_posix() for p in (one, two))
        found.append(Attack("segments swapped", pair[0], swap(*pair), pair))
        cameras = [t for t in tracks if t.name.endswith("-camera")]
        first = tuple(sorted(t.iterdir())[0].relative_to(pristine).as_posix() for t in cameras[:2])
        found.append(Attack("segments of two tracks swapped", first[0], swap(*first), first))
        events = f"{part}/events.jsonl"
        for kind, change in (
            ("event removed", remove_event(part)),
            ("event inserted", insert_event(part)),
            ("events reordered", reorder_events(part)),
        ):
            found.append(Attack(kind, events, change, (events,)))
        signed = tuple(f"{part}/{name}" for name in SEAL_SIGNED)
        found.append(
            Attack(
                "seal re-signed with another key",
                f"{part}/seal.json",
                resign(part, impostor),
                signed,
            )
        )
        found.append(
            Attack(
                "manifest edited, digests recomputed",
                f"{part}/manifest.json",
                edit_manifest(part),
                (f"{part}/manifest.json", *signed),
            )
        )
        found.append(Attack("part removed", part, delete(part), (part,)))
    return found


def verify_now(data: Path, folder: Path, certificate: Path) -> tuple[int, str, str]:
    """`roomserver archive verify FOLDER` as an auditor runs it on the server's machine (its data
    directory's keys, the TSA's certificate); (exit status, output, errors)."""
    out, err = folder.parent / "verify.out", folder.parent / "verify.err"
    with out.open("w") as o, err.open("w") as e:
        with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e):
            code = main(
                [
                    "archive",
                    "verify",
                    str(folder),
                    "--data-dir",
                    str(data),
                    "--tsa-cert",
                    str(certificate),
                ]
            )
    return code, out.read_text(), err.read_text()


async def verify(data: Path, folder: Path, tsa: LocalTsa) -> tuple[int, str, str]:
    """``verify_now`` in a thread."""
    return await asyncio.to_thread(verify_now, data, folder, tsa.certificate)


# The campaign of this process (each process of the pool builds it once from the same archive
# and impostor keys, so that attack number i is the same everywhere).
_CAMPAIGN: dict[tuple[str, str], list[Attack]] = {}


def attack_in_process(
    pristine: str, impostor: str, data: str, certificate: str, scratch: str, index: int
) -> tuple[str, int, str, str]:
    """Attack number `index` on a fresh copy, verified in this process: (kind, exit status,
    output, errors). Run by a pool of processes: `archive verify` prints to stdout."""
    key = (pristine, impostor)
    if key not in _CAMPAIGN:
        _CAMPAIGN[key] = attacks(Path(pristine), make_keyring(Path(impostor)).current())
    attack = _CAMPAIGN[key][index]
    copy = writable_copy(Path(pristine), Path(scratch) / f"attacked-{os.getpid()}")
    attack.apply(copy)
    code, out, err = verify_now(Path(data), copy, Path(certificate))
    return attack.kind, code, out, err


async def test_every_attack_on_every_file_of_a_recorded_session_is_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with LocalTsa(tmp_path / "tsa") as tsa:
        data, pristine = await record(tmp_path, tsa)
    assert sorted(p.name for p in pristine.glob("part-*")) == ["part-0001", "part-0002"]
    assert (pristine / "documents").is_dir() and any((pristine / "documents").iterdir())
    assert all((p / "seal.tsr").is_file() for p in pristine.glob("part-*"))

    code, out, err = await verify(data, pristine, tsa)
    assert code == 0, out + err
    assert out.splitlines()[-1].startswith("INTACT")
    assert out.count("STAMPED  ") == 2 and out.count("SIGNED   ") == 4

    impostor = make_keyring(tmp_path / "impostor").current()
    campaign = attacks(pristine, impostor)
    missed: list[str] = []
    caught: Counter[str] = Counter()
    tried: Counter[str] = Counter()
    # Two processes take the attacks in turn (each verify is one core's work).
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = await asyncio.gather(
            *(
                loop.run_in_executor(
                    pool,
                    attack_in_process,
                    str(pristine),
                    str(tmp_path / "impostor"),
                    str(data),
                    str(tsa.certificate),
                    str(tmp_path),
                    index,
                )
                for index in range(len(campaign))
            )
        )
    for attack, (kind, code, out, err) in zip(campaign, results, strict=True):
        assert kind == attack.kind, "the pool's campaign is not this one"
        tried[attack.kind] += 1
        named = any(f"DIFFERS  {where}:" in out for where in attack.named)
        if code == 1 and named:
            caught[attack.kind] += 1
        else:
            missed.append(f"{attack.kind}: {attack.target} (exit {code})\n{out}{err}")

    files = len({a.target for a in campaign if a.kind == "deleted"})
    with capsys.disabled():
        print(f"\ntamper campaign on {pristine.name}: {files} files, 2 parts")
        for kind in tried:
            print(f"  {kind:<40} {caught[kind]:>4} of {tried[kind]:>4} caught")
        print(f"  attacks tried: {sum(tried.values())}, caught: {sum(caught.values())}")
    assert missed == [], "\n\n".join(missed[:5])
    assert sum(tried.values()) == sum(caught.values()) == len(campaign)
