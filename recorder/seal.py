"""Sealing a part: manifest, SHA256SUMS, Merkle roots, Ed25519 and SM2 signatures, read-only."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from recorder.config import RecorderConfig
from recorder.eventlog import (
    START,
    ChainHead,
    EventChainError,
    check_chain,
    fsync_dir,
    head_of,
    read_events,
)
from recorder.hashing import FORMAT, merkle_root, sha256_hex, sm3_hex
from recorder.keys import SealKeys
from recorder.manifest import Manifest
from recorder.timestamp import TimestampError, TokenInfo, Tsa, check_token
from roomserver.canonical import canonical_json

MANIFEST_JSON = "manifest.json"
SHA256SUMS = "SHA256SUMS"
SEAL_JSON = "seal.json"
SEAL_ED25519_SIG = "seal.ed25519.sig"  # Ed25519 over the bytes of seal.json
SEAL_SM2_SIG = "seal.sm2.sig"  # SM2 (SM3, default identifier) over the same bytes, DER
ED25519_PUB = "ed25519.pub.pem"  # the public keys that signed, as SubjectPublicKeyInfo PEM
SM2_PUB = "sm2.pub.pem"
EVENTS_JSONL = "events.jsonl"
SEGMENTS_JSONL = "segments.jsonl"
MEDIA_DIR = "media"
# Files that SHA256SUMS cannot list: itself, and what is written after it.
SEAL_TSR = "seal.tsr"  # the TSA's RFC 3161 response over the SHA-256 of seal.json
UNLISTED = frozenset({SHA256SUMS, SEAL_JSON, SEAL_ED25519_SIG, SEAL_SM2_SIG, SEAL_TSR})
# What a seal says of its time-stamp (seal.json's "timestamp"): a token over these very bytes was
# asked of the TSA and is in seal.tsr; the TSA could not give one; no TSA is configured.
REQUESTED, UNAVAILABLE, NONE_CONFIGURED = "requested", "unavailable", "none configured"
PART_NAME = re.compile(r"part-(\d{4,})")
README = "README.txt"  # the session folder's instructions, beside its parts
# Archives a sub venue's node recorded of the session while its link was down, handed over after
# the session: relayed/<node>/<session id>/ beside the parts, each sealed and verified on its own.
RELAYED_DIR = "relayed"
# The event that ends the evaluation (评标结束): the final seal counts retention from its time.
SESSION_ENDED = "session_ended"
# 7.2.5-2: kept fifteen years at least, from the day the evaluation ended.
MIN_RETENTION_YEARS = 15
# 评标结束之日: the day the evaluation ended is a day in China Standard Time.
CHINA_TIME = timezone(timedelta(hours=8))


class SealError(ValueError):
    """The part cannot be sealed as it is: sealing it would sign something untrue."""


def part_name(number: int) -> str:
    """Folder name of part `number`: ``part-0001``."""
    return f"part-{number:04d}"


def part_number(name: str) -> int | None:
    """The number of a part folder name, None if it is not one."""
    m = PART_NAME.fullmatch(name)
    if m is None or part_name(int(m.group(1))) != name:
        return None
    return int(m.group(1))


def seal_head(part_dir: Path) -> ChainHead:
    """SHA-256 and SM3 of the exact bytes of a part's seal.json: what the next part chains from."""
    data = (part_dir / SEAL_JSON).read_bytes()
    return ChainHead(sha256_hex(data), sm3_hex(data))


def seal_json_bytes(seal: dict[str, Any]) -> bytes:
    """The bytes written to seal.json and signed: its RFC 8785 canonical JSON."""
    return canonical_json(seal)


def merkle_leaves(manifest: Manifest, algorithm: str) -> list[bytes]:
    """Segment digests in manifest order, then the last event's digest, all of `algorithm`."""
    digests = [bytes.fromhex(getattr(s, algorithm)) for s in manifest.segments]
    last = manifest.last_event_hash if algorithm == "sha256" else manifest.last_event_sm3
    return [*digests, bytes.fromhex(last)]


def retention_until(ended_at: datetime, years: int) -> str:
    """The last day an archive is kept: `years` after the day (China time) the session ended."""
    return add_years(ended_at.astimezone(CHINA_TIME).date(), years).isoformat()


def add_years(day: date, years: int) -> date:
    """`day` plus whole calendar years; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def safe_relative(path: str) -> bool:
    """Whether a manifest path stays inside the part's media folder and has no odd names."""
    p = PurePosixPath(path)
    return (
        not p.is_absolute()
        and len(p.parts) >= 2
        and p.parts[0] == MEDIA_DIR
        and ".." not in p.parts
        and "\\" not in path
        and "\n" not in path
        and str(p) == path
    )


def part_files(part_dir: Path) -> dict[str, Path]:
    """Every regular file of a part by its relative POSIX path (symlinks are not followed)."""
    found: dict[str, Path] = {}
    for root, dirs, files in os.walk(part_dir):
        dirs.sort()
        for name in [*files, *(d for d in dirs if Path(root, d).is_symlink())]:
            full = Path(root, name)
            found[full.relative_to(part_dir).as_posix()] = full
    return found


def _write(path: Path, data: bytes) -> None:
    """Write a file durably; a read-only leftover of an interrupted seal is replaced."""
    if path.exists():
        path.unlink()
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _check_part(part_dir: Path, manifest: Manifest, chain_start: ChainHead) -> None:
    """Refuse to sign a part whose files do not say what the manifest says."""
    problems: list[str] = []
    events_path = part_dir / EVENTS_JSONL
    try:
        records = read_events(events_path)
    except EventChainError as exc:
        raise SealError(f"{events_path}: {exc}") from exc
    problems += [f"{EVENTS_JSONL}: {p}" for p in check_chain(records, chain_start)]
    last = head_of(records[-1]) if records else chain_start
    claimed = ChainHead(manifest.last_event_hash, manifest.last_event_sm3)
    if len(records) != manifest.event_count or last != claimed:
        problems.append(
            f"{EVENTS_JSONL} has {len(records)} events ending in {last.sha256}, the manifest "
            f"says {manifest.event_count} ending in {manifest.last_event_hash}"
        )
    files = part_files(part_dir)
    listed = set()
    for seg in manifest.segments:
        if not safe_relative(seg.path):
            problems.append(f"{seg.path}: not a plain path inside {MEDIA_DIR}/")
            continue
        listed.add(seg.path)
        full = files.get(seg.path)
        if full is None or not full.is_file() or full.is_symlink():
            problems.append(f"{seg.path}: in the manifest but not a file in the part")
        elif full.stat().st_size != seg.size:
            problems.append(
                f"{seg.path}: {full.stat().st_size} bytes, the manifest says {seg.size}"
            )
    for rel, full in files.items():
        if rel.startswith(MEDIA_DIR + "/") and rel not in listed:
            problems.append(f"{rel}: a media file that is not in the manifest")
        if full.is_symlink() or not full.is_file():
            problems.append(f"{rel}: not a regular file")
        if "\\" in rel or "\n" in rel:
            problems.append(f"{rel}: a name that SHA256SUMS cannot list plainly")
    if problems:
        raise SealError(f"{part_dir}: " + "; ".join(problems))


def _make_read_only(part_dir: Path) -> None:
    """chmod files 0444 and folders 0555, deepest first, the part folder last."""
    for root, dirs, files in os.walk(part_dir, topdown=False):
        for name in files:
            os.chmod(Path(root, name), 0o444)
        for name in dirs:
            os.chmod(Path(root, name), 0o555)
    os.chmod(part_dir, 0o555)


def seal_part(
    part_dir: Path,
    manifest: Manifest,
    keys: SealKeys,
    previous: ChainHead | None,
    *,
    retention_years: int = RecorderConfig.retention_years,
    ended_at: datetime | None = None,
    documents: Sequence[Mapping[str, Any]] | None = None,
    tsa: Tsa | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Write manifest, public keys, SHA256SUMS, seal.json and its two signatures, read-only.

    With a `tsa`, the seal asks it for an RFC 3161 token over the SHA-256 of its bytes, which
    say so ("timestamp": requested) and which the token, kept as seal.tsr, then covers. When no
    token can be had, the seal is made without one and says that instead (unavailable, with
    the reason); without a TSA it says none is configured. ``stamp_part`` adds a token later.

    `previous` is ``seal_head`` of the part before (None for part 1). The segment files'
    SHA-256 in SHA256SUMS are taken from the manifest (computed when each segment closed) so
    that sealing a long session at shutdown does not read every video again.

    The part sealed as ``ended`` is the session's final seal: it names when the session ended
    (`ended_at`, the evaluation's end; the seal's own time when not given), the retention date
    counted from that day, and the session's `documents` (path, size, SHA-256, SM3 of each
    file of ``documents/``, already read-only). The README beside the parts is named by its
    digests in every seal, the last seal's being the one it must match.
    """
    number = part_number(part_dir.name)
    if number is None or number != manifest.part:
        raise SealError(f"{part_dir}: folder name does not match manifest part {manifest.part}")
    if (number == 1) != (previous is None):
        raise SealError(f"{part_dir}: part 1 has no previous seal, every later part has one")
    if manifest.state not in ("ended", "interrupted"):
        raise SealError(f"{part_dir}: state must be ended or interrupted, not {manifest.state!r}")
    if (part_dir / SEAL_SM2_SIG).exists():
        raise SealError(f"{part_dir}: already sealed")
    events_path = part_dir / EVENTS_JSONL
    if not events_path.exists():
        # A part without events still has a (empty) log, so that its absence is a deletion.
        _write(events_path, b"")
    _check_part(part_dir, manifest, previous or START)

    manifest_bytes = manifest.to_json()
    _write(part_dir / MANIFEST_JSON, manifest_bytes)
    _write(part_dir / ED25519_PUB, keys.ed25519.public_pem())
    _write(part_dir / SM2_PUB, keys.sm2.public_pem())

    known = {s.path: s.sha256 for s in manifest.segments}
    lines = []
    for rel, full in sorted(part_files(part_dir).items()):
        if rel in UNLISTED:
            continue
        digest = known.get(rel) or sha256_hex(full.read_bytes())
        lines.append(f"{digest}  {rel}\n")
    sums = "".join(lines).encode("utf-8")
    _write(part_dir / SHA256SUMS, sums)

    sealed_at = (now or datetime.now(UTC)).astimezone(UTC)
    ended = manifest.state == "ended"
    end = (ended_at or sealed_at).astimezone(UTC) if ended else None
    readme = part_dir.parent / README
    readme_bytes = readme.read_bytes() if readme.is_file() and not readme.is_symlink() else None
    seal: dict[str, Any] = {
        "format": FORMAT,
        "session_id": manifest.session_id,
        "part": manifest.part,
        "state": manifest.state,
        "sealed_at": sealed_at.isoformat(timespec="seconds"),
        "manifest_sha256": sha256_hex(manifest_bytes),
        "manifest_sm3": sm3_hex(manifest_bytes),
        "sha256sums_sha256": sha256_hex(sums),
        "sha256sums_sm3": sm3_hex(sums),
        "merkle_root_sha256": merkle_root(merkle_leaves(manifest, "sha256"), "sha256"),
        "merkle_root_sm3": merkle_root(merkle_leaves(manifest, "sm3"), "sm3"),
        "event_count": manifest.event_count,
        "last_event_hash": manifest.last_event_hash,
        "last_event_sm3": manifest.last_event_sm3,
        "previous_seal_sha256": previous.sha256 if previous else None,
        "previous_seal_sm3": previous.sm3 if previous else None,
        "segments": len(manifest.segments),
        "keys": keys.fingerprints(),
        # Written once, in the final seal, one date for every part (7.2.5-2: fifteen years from
        # the day the evaluation ended): an interrupted part cannot know it yet, and a part
        # deleted earlier than the rest would break the others' chain.
        "session_ended_at": end.isoformat(timespec="seconds") if end else None,
        "retention_until": retention_until(end, retention_years) if end else None,
        "documents": [dict(d) for d in documents or ()] if ended else None,
        "readme_sha256": sha256_hex(readme_bytes) if readme_bytes is not None else None,
        "readme_sm3": sm3_hex(readme_bytes) if readme_bytes is not None else None,
        "timestamp": {
            "tsa": tsa.url if tsa else None,
            "status": REQUESTED if tsa else NONE_CONFIGURED,
        },
    }
    seal_bytes = seal_json_bytes(seal)
    token: bytes | None = None
    if tsa is not None:
        try:
            token = tsa.stamp(seal_bytes)
        except TimestampError as exc:
            seal["timestamp"] = {"tsa": tsa.url, "status": UNAVAILABLE, "reason": str(exc)[:300]}
            seal_bytes = seal_json_bytes(seal)
    # Both signatures are made before anything of the seal is written: a key that fails
    # leaves the part unsealed, not sealed with one signature.
    ed25519_sig, sm2_sig = keys.ed25519.sign(seal_bytes), keys.sm2.sign(seal_bytes)
    _write(part_dir / SEAL_JSON, seal_bytes)
    if token is not None:
        _write(part_dir / SEAL_TSR, token)
    _write(part_dir / SEAL_ED25519_SIG, ed25519_sig)
    # The SM2 signature last: its presence is what marks the part as sealed.
    _write(part_dir / SEAL_SM2_SIG, sm2_sig)
    fsync_dir(part_dir)
    _make_read_only(part_dir)
    return seal


def stamp_part(part_dir: Path, tsa: Tsa) -> TokenInfo | None:
    """Add the TSA's token to a sealed part that has none (``roomserver archive timestamp``).

    The token covers the seal's exact bytes as they are; the seal itself is not changed, so it
    still says what happened when it was made. None when the part already has a token.
    TimestampError when the TSA gives none.
    """
    if (part_dir / SEAL_TSR).exists():
        return None
    seal_bytes = (part_dir / SEAL_JSON).read_bytes()
    token = tsa.stamp(seal_bytes)
    info = check_token(token, bytes.fromhex(sha256_hex(seal_bytes)), tsa.certificates)
    mode = part_dir.stat().st_mode & 0o777
    os.chmod(part_dir, mode | 0o200)
    try:
        _write(part_dir / SEAL_TSR, token)
        os.chmod(part_dir / SEAL_TSR, 0o444)
        fsync_dir(part_dir)
    finally:
        os.chmod(part_dir, mode)
    return info
