"""Checking a session archive: needs only the folder (no database, no server)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from recorder.documents import DOCUMENT_PATH, DOCUMENTS_DIR, citations
from recorder.eventlog import START, ChainHead, chain_problems, head_of
from recorder.export import PACKAGE_FILES, PACKAGE_KEYS
from recorder.hashing import FORMAT, file_digests, files_digests, merkle_root
from recorder.keys import KeyRecord, key_records
from recorder.manifest import Manifest
from recorder.seal import (
    ED25519_PUB,
    EVENTS_JSONL,
    MANIFEST_JSON,
    MEDIA_DIR,
    README,
    RELAYED_DIR,
    SEAL_ED25519_SIG,
    SEAL_JSON,
    SEAL_SM2_SIG,
    SHA256SUMS,
    SM2_PUB,
    UNLISTED,
    merkle_leaves,
    part_files,
    part_name,
    part_number,
    safe_relative,
)
from recorder.sealcheck import PartTimestamp, SealSigners, Signer, check_timestamp
from recorder.sessioncheck import check_retention, check_session_files
from recorder.timestamp import load_certificates
from roomserver.canonical import NotCanonical, canonical_json, parse_canonical

REQUIRED = (
    SEAL_JSON,
    SEAL_ED25519_SIG,
    SEAL_SM2_SIG,
    ED25519_PUB,
    SM2_PUB,
    MANIFEST_JSON,
    SHA256SUMS,
    EVENTS_JSONL,
)
SUMS_LINE = re.compile(r"([0-9a-f]{64}) [ *](.+)")
_UNKNOWN = object()  # the previous part's seal hash, when its seal.json is missing


@dataclass(frozen=True)
class Difference:
    """One thing in the archive that is not as it was sealed."""

    where: str  # e.g. part-0001/media/room-grid/000003.webm or part-0001/events.jsonl
    what: str


@dataclass
class VerifyReport:
    """What was checked and every difference found."""

    differences: list[Difference] = field(default_factory=list)
    parts: int = 0
    segments: int = 0
    events: int = 0
    bytes: int = 0
    # Which keys signed each part's seal (Ed25519 and SM2), and what is known of them.
    signers: list[Signer] = field(default_factory=list)
    # Whether every seal was signed by keys of the pinned key list; None: no pinned list.
    key_trusted: bool | None = None
    # The parts' valid RFC 3161 time-stamps (a part without one has a note).
    timestamps: list[PartTimestamp] = field(default_factory=list)
    # The final seal's retention date (7.2.5-2), None while the session has not ended.
    retention_until: str | None = None
    # The session the seals name (the first readable one's).
    session_id: str | None = None
    # Facts that are not differences but that a reader should know (e.g. an unfinished end).
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing differs."""
        return not self.differences

    @property
    def key_fingerprints(self) -> list[str]:
        """The fingerprints of the keys that signed, each once, in the order they were met."""
        return list(dict.fromkeys(s.fingerprint for s in self.signers))


class _Checker:
    """Walks one archive, part by part, collecting differences."""

    def __init__(
        self,
        keys: list[KeyRecord] | None,
        pinned: bool,
        trusted_tsa: list[x509.Certificate] | None,
        progress: Callable[[int, int], None] | None,
        total: int,
    ) -> None:
        self.report = VerifyReport()
        self.trusted_tsa = trusted_tsa
        self.signers = SealSigners(keys, pinned, self.diff)
        self.report.signers = self.signers.signers
        self.progress = progress
        self.total = total
        self.done = 0
        self.session_id: str | None = None
        self.cited_documents: set[str] = set()
        self.document_digests: dict[str, tuple[str, str]] = {}
        self.last_seal: dict[str, Any] | None = None  # of the last part, when it has one

    def diff(self, where: str, what: str) -> None:
        self.report.differences.append(Difference(where, what))

    def _advance(self, n: int) -> None:
        self.done += n
        if self.progress is not None:
            self.progress(self.done, self.total)

    def part(self, part_dir: Path, number: int, previous_seal: object) -> ChainHead | None:
        """Check one part; returns the digests of its seal.json (None if it has none)."""
        name = part_dir.name
        files = part_files(part_dir)
        regular: dict[str, Path] = {}
        for rel, full in files.items():
            if full.is_symlink() or not full.is_file():
                self.diff(f"{name}/{rel}", "added file: not a regular file (e.g. a link)")
            else:
                regular[rel] = full
        names = list(regular)
        digests = dict(
            zip(names, files_digests([regular[n] for n in names], self._advance), strict=True)
        )
        self.report.bytes += sum(full.stat().st_size for full in regular.values())

        for required in REQUIRED:
            if required not in regular:
                self.diff(f"{name}/{required}", "deleted: every sealed part has this file")

        seal = self._seal(name, regular, number, previous_seal)
        if SEAL_JSON in regular:
            self.signers.part(name, regular, seal)
        else:
            self.signers.untrusted()
        stamp = check_timestamp(
            name, regular, seal, self.trusted_tsa, self.diff, self.report.notes.append
        )
        if stamp is not None:
            self.report.timestamps.append(stamp)
        self.last_seal = seal or None
        manifest = self._manifest(name, regular, digests, seal, number)
        reported: set[str] = set()
        if manifest is not None:
            reported = self._segments(name, regular, digests, manifest)
        self._sums(name, regular, digests, seal, reported)
        chain_start = START if number == 1 else previous_seal
        items = self._events(name, regular, manifest, seal, chain_start)
        self._evidence(name, number, regular, digests, items)
        self._documents(name, part_dir.parent, items)
        if manifest is not None and seal:
            self._merkle(name, manifest, seal)
        if seal.get("state") == "ended":
            self._retention(name, seal, items)
        if SEAL_JSON in digests:
            return ChainHead(*digests[SEAL_JSON])
        return None

    def _seal(
        self, name: str, regular: dict[str, Path], number: int, previous_seal: object
    ) -> dict[str, Any]:
        """Signature, key, and the seal's own fields; {} when seal.json is unusable."""
        if SEAL_JSON not in regular:
            return {}
        seal_bytes = regular[SEAL_JSON].read_bytes()
        where = f"{name}/{SEAL_JSON}"
        try:
            seal = parse_canonical(seal_bytes)
        except NotCanonical as exc:
            self.diff(where, f"not canonical JSON (RFC 8785): {exc}")
            try:
                seal = json.loads(seal_bytes)
            except ValueError:
                return {}
        if not isinstance(seal, dict):
            self.diff(where, "not a JSON object")
            return {}
        if seal.get("format") != FORMAT:
            self.diff(where, f"archive format {seal.get('format')!r}: this verifier reads {FORMAT}")
        if seal.get("part") != number:
            self.diff(where, f"says part {seal.get('part')!r}, the folder is part {number}")
        if self.session_id is None:
            self.session_id = seal.get("session_id")
        elif seal.get("session_id") != self.session_id:
            self.diff(where, f"session {seal.get('session_id')!r} is not {self.session_id!r}")
        if number == 1:
            if seal.get("previous_seal_sha256") is not None or seal.get("previous_seal_sm3"):
                self.diff(where, "the first part must not name a previous seal")
        elif isinstance(previous_seal, ChainHead):
            if seal.get("previous_seal_sha256") != previous_seal.sha256:
                self.diff(
                    where,
                    "previous_seal_sha256 is not the SHA-256 of the previous part's seal.json",
                )
            if seal.get("previous_seal_sm3") != previous_seal.sm3:
                self.diff(
                    where, "previous_seal_sm3 is not the SM3 of the previous part's seal.json"
                )
        return seal

    def _manifest(
        self,
        name: str,
        regular: dict[str, Path],
        digests: dict[str, tuple[str, str]],
        seal: dict[str, Any],
        number: int,
    ) -> Manifest | None:
        if MANIFEST_JSON not in regular:
            return None
        where = f"{name}/{MANIFEST_JSON}"
        sha, sm3 = digests[MANIFEST_JSON]
        if seal and sha != seal.get("manifest_sha256"):
            self.diff(where, "SHA-256 differs from the seal's manifest_sha256")
        if seal and sm3 != seal.get("manifest_sm3"):
            self.diff(where, "SM3 differs from the seal's manifest_sm3")
        try:
            manifest = Manifest.from_json(regular[MANIFEST_JSON].read_bytes())
        except ValueError as exc:
            self.diff(where, f"not a readable manifest: {exc}")
            return None
        self.report.segments += len(manifest.segments)
        if manifest.part != number:
            self.diff(where, f"says part {manifest.part}, the folder is part {number}")
        for key in ("session_id", "state", "event_count", "last_event_hash", "last_event_sm3"):
            if seal and seal.get(key) != getattr(manifest, key):
                self.diff(where, f"{key} differs from the seal's")
        if seal and seal.get("segments") != len(manifest.segments):
            self.diff(
                where,
                f"lists {len(manifest.segments)} segments, the seal says {seal.get('segments')!r}",
            )
        return manifest

    def _segments(
        self,
        name: str,
        regular: dict[str, Path],
        digests: dict[str, tuple[str, str]],
        manifest: Manifest,
    ) -> set[str]:
        """Each listed segment as listed; returns the paths already reported."""
        reported: set[str] = set()
        listed: set[str] = set()
        for seg in manifest.segments:
            where = f"{name}/{seg.path}"
            if not safe_relative(seg.path):
                self.diff(f"{name}/{MANIFEST_JSON}", f"segment path {seg.path!r} is not plain")
                continue
            if seg.path in listed:
                self.diff(f"{name}/{MANIFEST_JSON}", f"segment {seg.path} is listed twice")
            listed.add(seg.path)
            reported.add(seg.path)
            if seg.path not in regular:
                self.diff(where, "deleted: in the manifest but missing")
                continue
            size = regular[seg.path].stat().st_size
            sha, sm3 = digests[seg.path]
            if size != seg.size:
                self.diff(where, f"size is {size} bytes, the manifest says {seg.size}")
            elif sha != seg.sha256 and sm3 != seg.sm3:
                self.diff(where, "SHA-256 and SM3 differ from the manifest")
            elif sha != seg.sha256:
                self.diff(where, "SHA-256 differs from the manifest")
            elif sm3 != seg.sm3:
                self.diff(where, "SM3 differs from the manifest")
            else:
                reported.discard(seg.path)
        for rel in sorted(regular):
            if rel.startswith(MEDIA_DIR + "/") and rel not in listed:
                self.diff(f"{name}/{rel}", "added file: a media file not in the manifest")
                reported.add(rel)
        return reported

    def _sums(
        self,
        name: str,
        regular: dict[str, Path],
        digests: dict[str, tuple[str, str]],
        seal: dict[str, Any],
        reported: set[str],
    ) -> None:
        """SHA256SUMS lists exactly the part's files, and their SHA-256."""
        if SHA256SUMS not in regular:
            return
        where = f"{name}/{SHA256SUMS}"
        if seal and digests[SHA256SUMS][0] != seal.get("sha256sums_sha256"):
            self.diff(where, "SHA-256 differs from the seal's sha256sums_sha256")
        if seal and digests[SHA256SUMS][1] != seal.get("sha256sums_sm3"):
            self.diff(where, "SM3 differs from the seal's sha256sums_sm3")
        listed: dict[str, str] = {}
        text = regular[SHA256SUMS].read_bytes().decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            m = SUMS_LINE.fullmatch(line)
            if m is None:
                self.diff(where, f"line {number} is not a sha256sum line")
                continue
            listed[m.group(2)] = m.group(1)
        for rel, digest in sorted(listed.items()):
            if rel in reported:
                continue
            if rel not in regular:
                self.diff(f"{name}/{rel}", "deleted: listed in SHA256SUMS but missing")
            elif digests[rel][0] != digest:
                self.diff(f"{name}/{rel}", "SHA-256 differs from SHA256SUMS")
        for rel in sorted(regular):
            if rel not in listed and rel not in UNLISTED and rel not in reported:
                self.diff(f"{name}/{rel}", "added file: not listed in SHA256SUMS")

    def _events(
        self,
        name: str,
        regular: dict[str, Path],
        manifest: Manifest | None,
        seal: dict[str, Any],
        chain_start: object,
    ) -> list[tuple[int, dict[str, Any]]]:
        """Check the hash chain and the counts; returns the events (line number, record)."""
        if EVENTS_JSONL not in regular:
            return []
        where = f"{name}/{EVENTS_JSONL}"
        raw = regular[EVENTS_JSONL].read_bytes()
        if raw and not raw.endswith(b"\n"):
            self.diff(where, "the last line has no newline (cut off)")
        items: list[tuple[int, dict[str, Any]]] = []
        for number, line in enumerate(raw.splitlines(), start=1):
            try:
                record = json.loads(line)
            except ValueError:
                self.diff(where, f"line {number}: not valid JSON")
                continue
            if not isinstance(record, dict):
                self.diff(where, f"line {number}: not a JSON object")
                continue
            try:
                canonical = canonical_json(record) == line
            except NotCanonical:
                canonical = False
            if not canonical:
                self.diff(where, f"line {number}: not in canonical form (RFC 8785)")
            items.append((number, record))
        self.report.events += len(items)
        start: ChainHead | None
        if isinstance(chain_start, ChainHead):
            start = chain_start
        else:
            # The previous seal is gone (reported); still check the chain within this part.
            start = (
                ChainHead(*(str(items[0][1].get(k)) for k in ("prev", "prev_sm3")))
                if items
                else None
            )
        if start is not None:
            for problem in chain_problems(items, start):
                self.diff(where, problem)
        last = head_of(items[-1][1]) if items else start
        claims: list[tuple[str, Any, ChainHead]] = []
        if manifest is not None:
            claims.append(
                (
                    "manifest",
                    manifest.event_count,
                    ChainHead(manifest.last_event_hash, manifest.last_event_sm3),
                )
            )
        if seal:
            claims.append(
                (
                    "seal",
                    seal.get("event_count"),
                    ChainHead(str(seal.get("last_event_hash")), str(seal.get("last_event_sm3"))),
                )
            )
        for source, count, claimed in claims:
            if count != len(items):
                self.diff(where, f"has {len(items)} events, the {source} says {count!r}")
            if start is not None and claimed != last:
                self.diff(
                    where,
                    f"the last event's digests are not the {source}'s last_event_hash and "
                    "last_event_sm3",
                )
        return items

    def _evidence(
        self,
        name: str,
        number: int,
        regular: dict[str, Path],
        digests: dict[str, tuple[str, str]],
        items: list[tuple[int, dict[str, Any]]],
    ) -> None:
        """An evidence picture an event cites is there, with the digests the event recorded.

        The event log binds a picture the moment its warning is logged, long before the part
        is sealed; a picture swapped in between is caught here.
        """
        for line, record in items:
            data = record.get("data")
            evidence = data.get("evidence") if isinstance(data, dict) else None
            if not isinstance(evidence, dict) or evidence.get("part", number) != number:
                continue
            rel = str(evidence.get("path", ""))
            where = f"{name}/{rel}"
            if rel not in regular:
                self.diff(where, f"deleted: cited as evidence by event line {line}")
            elif digests[rel] != (evidence.get("sha256"), evidence.get("sm3")):
                self.diff(where, f"differs from the digests cited by event line {line}")

    def _documents(
        self, name: str, session_dir: Path, items: list[tuple[int, dict[str, Any]]]
    ) -> None:
        """A document an event cites (the report, a handwritten signature) is there, unchanged."""
        for line, record in items:
            for cited in citations(record.get("data")):
                rel = str(cited["path"])
                self.cited_documents.add(rel)
                full = session_dir / rel
                if not DOCUMENT_PATH.fullmatch(rel):
                    self.diff(f"{name}/events.jsonl", f"line {line} cites a document as {rel!r}")
                elif full.is_symlink() or not full.is_file():
                    self.diff(rel, f"deleted: cited by event line {line} of {name}")
                elif self._document_digests(full, rel) != (cited.get("sha256"), cited.get("sm3")):
                    self.diff(rel, f"differs from the digests cited by event line {line} of {name}")

    def _document_digests(self, full: Path, rel: str) -> tuple[str, str]:
        """A document's digests, read once however many events cite it."""
        if rel not in self.document_digests:
            self.document_digests[rel] = file_digests(full, self._advance)
        return self.document_digests[rel]

    def _retention(self, name: str, seal: dict[str, Any], items: list[tuple[int, Any]]) -> None:
        """The final seal says when the session ended and keeps it fifteen years from that day."""
        until = check_retention(f"{name}/{SEAL_JSON}", seal, items, self.diff)
        if until is not None:
            self.report.retention_until = until

    def session_files(self, session_dir: Path) -> None:
        """README.txt as the last seal names it; documents/ as the final seal lists it."""
        if self.last_seal is not None:  # else missing or unreadable: reported with the part
            check_session_files(session_dir, self.last_seal, self._file_digests, self.diff)

    def _file_digests(self, full: Path, rel: str) -> tuple[str, str]:
        if rel.startswith(f"{DOCUMENTS_DIR}/"):
            return self._document_digests(full, rel)
        return file_digests(full, self._advance)

    def _merkle(self, name: str, manifest: Manifest, seal: dict[str, Any]) -> None:
        where = f"{name}/{SEAL_JSON}"
        for algorithm in ("sha256", "sm3"):
            try:
                root = merkle_root(merkle_leaves(manifest, algorithm), algorithm)
            except ValueError:
                self.diff(f"{name}/{MANIFEST_JSON}", f"a {algorithm} digest is not hex")
                return
            if root != seal.get(f"merkle_root_{algorithm}"):
                self.diff(
                    where,
                    f"merkle_root_{algorithm} is not the root of the manifest's segments "
                    "and last event",
                )


def verify_archive(
    path: Path,
    *,
    trusted_keys: Sequence[bytes] = (),
    known_keys: Sequence[bytes] = (),
    trusted_tsa: Sequence[bytes] = (),
    progress: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """Check a session archive folder (``part-*`` inside) against its seals and chains.

    `trusted_keys` (pinned) are the operator's key lists (``archive-keys.json``) or public keys
    in PEM (Ed25519, SM2) that every seal must be signed with; `known_keys` (not pinned) only
    say which keys were valid when, to tell a key rotation between parts from a change of key.
    Without either, an evidence package's own key list is the known one. ValueError when a
    given key is none of these. `trusted_tsa` are PEM files of the TSA certificates a
    time-stamp must be signed with (none: each token is checked with the certificate it
    carries). `progress` gets (bytes hashed, bytes total).
    """
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: not a folder")
    parts: dict[int, Path] = {}
    for child in sorted(path.iterdir()):
        number = part_number(child.name)
        if number is not None and child.is_dir() and not child.is_symlink():
            parts[number] = child
    total = sum(
        f.stat().st_size
        for p in parts.values()
        for f in part_files(p).values()
        if f.is_file() and not f.is_symlink()
    )
    if (path / DOCUMENTS_DIR).is_dir():
        total += sum(f.stat().st_size for f in (path / DOCUMENTS_DIR).iterdir() if f.is_file())
    pinned = bool(trusted_keys)
    if not trusted_keys and not known_keys and (path / PACKAGE_KEYS).is_file():
        known_keys = [(path / PACKAGE_KEYS).read_bytes()]
    keys: list[KeyRecord] | None = None
    if trusted_keys or known_keys:
        keys = [record for data in (trusted_keys or known_keys) for record in key_records(data)]
    tsa = [c for data in trusted_tsa for c in load_certificates(data)] if trusted_tsa else None
    checker = _Checker(keys, pinned, tsa, progress, total)
    report = checker.report
    if not parts:
        hint = " (this is a part; give its session folder)" if part_number(path.name) else ""
        checker.diff(path.name, f"no part-* folders: not a session archive, or all deleted{hint}")
        return report
    others = [
        c.name
        for c in sorted(path.iterdir())
        if c.name not in (README, DOCUMENTS_DIR, RELAYED_DIR) and part_number(c.name) is None
    ]
    for name in others:
        if name in PACKAGE_FILES:
            # What an evidence package adds beside the sealed folder for whoever checks it.
            report.notes.append(f"{name}: added by the evidence package, not part of any seal")
        else:
            checker.diff(name, "added file: not part of any seal")
    previous: object = None
    last_state = None
    for number in range(1, max(parts) + 1):
        if number not in parts:
            checker.diff(part_name(number), "deleted: a part is missing (parts are numbered 1, 2…)")
            previous = _UNKNOWN
            continue
        report.parts += 1
        digest = checker.part(parts[number], number, previous)
        previous = digest if digest is not None else _UNKNOWN
        last_state = _state(parts[number])
    report.key_trusted = checker.signers.trusted
    report.session_id = checker.session_id
    checker.session_files(path)
    if (path / RELAYED_DIR).exists():
        _relayed(path / RELAYED_DIR, report, trusted_keys, known_keys, trusted_tsa)
    documents = path / DOCUMENTS_DIR
    if documents.is_dir():
        uncited = sorted(
            f"{DOCUMENTS_DIR}/{f.name}"
            for f in documents.iterdir()
            if f"{DOCUMENTS_DIR}/{f.name}" not in checker.cited_documents
        )
        if uncited:
            # Stored for a command that was then refused, or added later: no event binds them.
            report.notes.append(f"documents no event cites: {', '.join(uncited)}")
    if last_state == "interrupted":
        report.notes.append(
            "the last part was interrupted: the session did not end within this archive"
        )
    return report


def _relayed(
    folder: Path,
    report: VerifyReport,
    trusted_keys: Sequence[bytes],
    known_keys: Sequence[bytes],
    trusted_tsa: Sequence[bytes],
) -> None:
    """The archives sub venue nodes recorded of the session (``relayed/<node>/<session>/``):
    each verified on its own with the same keys; its differences are the session's."""
    if folder.is_symlink() or not folder.is_dir():
        report.differences.append(Difference(RELAYED_DIR, "not a folder"))
        return
    for node in sorted(folder.iterdir()):
        inside = sorted(node.iterdir()) if node.is_dir() and not node.is_symlink() else []
        if not inside:
            report.differences.append(
                Difference(f"{RELAYED_DIR}/{node.name}", "added file: not a relayed archive")
            )
        for archive in inside:
            where = f"{RELAYED_DIR}/{node.name}/{archive.name}"
            if archive.name != report.session_id or archive.is_symlink() or not archive.is_dir():
                report.differences.append(Difference(where, "not an archive of this session"))
                continue
            sub = verify_archive(
                archive,
                trusted_keys=trusted_keys,
                known_keys=known_keys,
                trusted_tsa=trusted_tsa,
            )
            report.differences.extend(
                Difference(f"{where}/{d.where}", d.what) for d in sub.differences
            )
            if sub.session_id != report.session_id:
                report.differences.append(Difference(where, "its seals name another session"))
            if sub.key_trusted is False:
                report.key_trusted = False
            report.segments += sub.segments
            report.events += sub.events
            report.bytes += sub.bytes
            report.signers.extend(sub.signers)
            report.notes.append(
                f"{where}: recorded by sub venue node {node.name} while its link was down, "
                f"{sub.parts} part(s), {'verified' if sub.ok else 'NOT verified'}"
            )


def _state(part_dir: Path) -> str | None:
    try:
        return str(json.loads((part_dir / SEAL_JSON).read_bytes()).get("state"))
    except (OSError, ValueError, AttributeError):
        return None


def check_against_record(report: VerifyReport, path: Path, parts: set[int], ended: bool) -> None:
    """Hold the folder to what the server's event table records of it: the parts it opened
    (`parts`) and whether the session ended (`ended`).

    A folder cannot show on its own that its last parts were taken away: the chain ends where it
    ends. The event table, hash-chained itself, can.
    """
    present = {n: p for n, p in ((part_number(c.name), c) for c in path.iterdir()) if n}
    for number in sorted(parts - present.keys()):
        report.differences.append(
            Difference(part_name(number), "deleted: the event table records this part")
        )
    if ended and present and _state(present[max(present)]) != "ended":
        report.differences.append(
            Difference(
                part_name(max(present)),
                "the event table records the session's end; the last part here is not sealed "
                "as ended",
            )
        )
    listed = ", ".join(str(n) for n in sorted(parts)) or "none"
    end = "ended" if ended else "not ended"
    report.notes.append(f"held to the event table: parts {listed} recorded, session {end}")
