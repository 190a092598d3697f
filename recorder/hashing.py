"""Digests of the archive: SHA-256 and SM3 (GB/T 32905), Merkle roots; the archive's format."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

CHUNK_BYTES = 1 << 20
ALGORITHMS = ("sha256", "sm3")
# The format of an archive part, written into each of its manifest, seal and event lines. 2: every
# hashed or signed JSON is RFC 8785 canonical JSON (roomserver.canonical). `archive verify`
# reads this format.
FORMAT = 2


def _new(algorithm: str) -> Any:
    """A fresh hash object; SM3 comes from OpenSSL 3 and is not in every build."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown digest algorithm {algorithm!r}, expected one of {ALGORITHMS}")
    try:
        return hashlib.new(algorithm)
    except ValueError as exc:
        raise RuntimeError(
            f"the {algorithm.upper()} digest is not available in this Python's OpenSSL "
            "(SM3 needs OpenSSL 3 with its default provider); the archive cannot be "
            "written or checked without it"
        ) from exc


def sha256_hex(data: bytes) -> str:
    """SHA-256 of `data`, lower-case hex."""
    return hashlib.sha256(data).hexdigest()


def sm3_hex(data: bytes) -> str:
    """SM3 (GB/T 32905) of `data`, lower-case hex."""
    h = _new("sm3")
    h.update(data)
    return h.hexdigest()


def file_digests(path: Path, progress: Callable[[int], None] | None = None) -> tuple[str, str]:
    """(SHA-256 hex, SM3 hex) of a file, read once in 1 MiB chunks; progress gets byte deltas.

    The two digests of a chunk run at the same time (hashlib releases the GIL on large
    updates), so a file takes as long as its slower digest (SM3), not the sum of both.
    """
    sha = hashlib.sha256()
    sm3 = _new("sm3")
    buffers = (bytearray(CHUNK_BYTES), bytearray(CHUNK_BYTES))
    with path.open("rb", buffering=0) as f, ThreadPoolExecutor(1, "sm3") as pool:
        pending: Future[None] | None = None
        turn = 0
        while n := f.readinto(buffers[turn]):
            chunk = memoryview(buffers[turn])[:n]
            if pending is not None:
                pending.result()
            pending = pool.submit(sm3.update, chunk)
            sha.update(chunk)
            if progress is not None:
                progress(n)
            turn ^= 1  # read the next chunk into the other buffer while SM3 works on this one
        if pending is not None:
            pending.result()
    return sha.hexdigest(), sm3.hexdigest()


def merkle_root(leaves: Sequence[bytes], algorithm: str) -> str:
    """RFC 6962 Merkle tree hash of `leaves` with SHA-256 or SM3, hex; no leaves: H(b"")."""
    if not leaves:
        h = _new(algorithm)
        return str(h.hexdigest())

    def digest(data: bytes) -> bytes:
        h = _new(algorithm)
        h.update(data)
        return bytes(h.digest())

    # Level by level, promoting an odd last node unchanged: this is exactly RFC 6962's
    # split at the largest power of two below n, without recursion on long sessions.
    level = [digest(b"\x00" + leaf) for leaf in leaves]
    while len(level) > 1:
        nxt = [digest(b"\x01" + level[i] + level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0].hex()
