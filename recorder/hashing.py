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


def files_digests(
    paths: Sequence[Path], progress: Callable[[int], None] | None = None
) -> list[tuple[str, str]]:
    """(SHA-256 hex, SM3 hex) of each file, like ``file_digests``, with SM3 kept busy across files.

    SM3 is the slower digest, so a run over many files goes as fast as SM3 can go only if its
    thread never waits: one SM3 thread serves every file, the reader stays up to two chunks
    ahead of it (three buffers in turn), and a file's SM3 is read off when the thread gets to
    it, while the next files are read. SHA-256 runs on this thread meanwhile.
    """
    buffers = [bytearray(CHUNK_BYTES) for _ in range(3)]
    using: list[Future[None] | None] = [None] * len(buffers)
    finals: list[tuple[str, Future[str]]] = []
    turn = 0
    with ThreadPoolExecutor(1, "sm3") as pool:
        for path in paths:
            sha = hashlib.sha256()
            sm3 = _new("sm3")
            with path.open("rb", buffering=0) as f:
                while True:
                    busy = using[turn]
                    if busy is not None:
                        busy.result()  # SM3 is done with this buffer
                        using[turn] = None
                    n = f.readinto(buffers[turn])
                    if not n:
                        break
                    chunk = memoryview(buffers[turn])[:n]
                    using[turn] = pool.submit(sm3.update, chunk)
                    sha.update(chunk)
                    if progress is not None:
                        progress(n)
                    turn = (turn + 1) % len(buffers)
            finals.append((sha.hexdigest(), pool.submit(sm3.hexdigest)))
        return [(sha_hex, sm3_hex.result()) for sha_hex, sm3_hex in finals]


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
