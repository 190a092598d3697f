"""Digests, Merkle roots and canonical JSON: the byte-exact rules the archive is checked by."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from recorder import hashing
from recorder.hashing import (
    CHUNK_BYTES,
    file_digests,
    files_digests,
    merkle_root,
    sha256_hex,
    sm3_hex,
)


def test_sm3_matches_the_gbt_32905_vector() -> None:
    assert sm3_hex(b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert sha256_hex(b"abc") == hashlib.sha256(b"abc").hexdigest()


def test_file_digests_read_once_in_chunks_and_report_progress(tmp_path: Path) -> None:
    data = bytes(range(256)) * 9000  # a little over two 1 MiB chunks
    path = tmp_path / "seg.webm"
    path.write_bytes(data)
    deltas: list[int] = []
    assert file_digests(path, deltas.append) == (sha256_hex(data), sm3_hex(data))
    assert sum(deltas) == len(data) and len(deltas) == 3
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert file_digests(empty) == (sha256_hex(b""), sm3_hex(b""))


def test_a_missing_sm3_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real_new = hashlib.new

    def no_sm3(name: str, *args: object) -> object:
        if name == "sm3":
            raise ValueError("unsupported hash type sm3")
        return real_new(name, *args)

    monkeypatch.setattr(hashing.hashlib, "new", no_sm3)
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(RuntimeError, match="SM3"):
        sm3_hex(b"abc")
    with pytest.raises(RuntimeError, match="SM3"):
        file_digests(tmp_path / "f")


def h(algorithm: str, data: bytes) -> bytes:
    return hashlib.new(algorithm, data).digest()


def rfc6962(leaves: list[bytes], algorithm: str) -> bytes:
    """RFC 6962 section 2.1, literally: split at the largest power of two below n."""
    if len(leaves) == 1:
        return h(algorithm, b"\x00" + leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    left, right = rfc6962(leaves[:k], algorithm), rfc6962(leaves[k:], algorithm)
    return h(algorithm, b"\x01" + left + right)


@pytest.mark.parametrize("algorithm", ["sha256", "sm3"])
def test_merkle_root_shapes(algorithm: str) -> None:
    a, b, c, d, e = (bytes([i]) * 32 for i in range(5))

    def leaf(x: bytes) -> bytes:
        return h(algorithm, b"\x00" + x)

    def node(x: bytes, y: bytes) -> bytes:
        return h(algorithm, b"\x01" + x + y)

    expected = {
        1: leaf(a),
        2: node(leaf(a), leaf(b)),
        3: node(node(leaf(a), leaf(b)), leaf(c)),  # the odd node is promoted, not doubled
        4: node(node(leaf(a), leaf(b)), node(leaf(c), leaf(d))),
        5: node(node(node(leaf(a), leaf(b)), node(leaf(c), leaf(d))), leaf(e)),
    }
    for n, root in expected.items():
        assert merkle_root([a, b, c, d, e][:n], algorithm) == root.hex()
    for n in range(1, 40):
        leaves = [bytes([i % 256]) * 32 for i in range(n)]
        assert merkle_root(leaves, algorithm) == rfc6962(leaves, algorithm).hex()
    assert merkle_root([], algorithm) == hashlib.new(algorithm, b"").hexdigest()


def test_merkle_root_refuses_an_unknown_algorithm() -> None:
    with pytest.raises(ValueError, match="md5"):
        merkle_root([b"x"], "md5")


def test_many_files_give_the_digests_each_gives_alone(tmp_path: Path) -> None:
    sizes = [0, 1, 5000, CHUNK_BYTES, CHUNK_BYTES + 1, 3 * CHUNK_BYTES + 7, 200]
    paths = []
    for i, size in enumerate(sizes):
        path = tmp_path / f"f{i}"
        path.write_bytes(bytes((i * 7 + k) % 251 for k in range(size)))
        paths.append(path)
    seen: list[int] = []
    assert files_digests(paths, seen.append) == [file_digests(p) for p in paths]
    assert sum(seen) == sum(sizes)
    assert files_digests([]) == []
