"""``roomserver archive keys``, ``rotate-keys`` and ``verify``: which keys signed, and when."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from recorder.archive import ArchivedEvent, SessionArchive
from recorder.config import RecorderConfig
from recorder.keys import Keyring
from signaling.cli.main import main


async def cli(capsys: pytest.CaptureFixture[str], data: Path, *args: str) -> tuple[int, str]:
    """The command line, as a person runs it: in a thread of its own, with no event loop."""
    code = await asyncio.to_thread(main, [*args, "--data-dir", str(data)])
    return code, capsys.readouterr().out


async def seal_part_of(data: Path, seq: int, state: str) -> None:
    keyring = Keyring(data / "secrets" / "archive-keys", data / "archive-keys.json")
    archive = SessionArchive(data / "archive", "s1", keys=keyring, config=RecorderConfig())
    await archive.open()
    await archive.record_events([ArchivedEvent(seq, "2026-12-07T09:00:00+08:00", "note", None, {})])
    await archive.seal(state)
    await archive.close()


async def test_keys_are_listed_rotated_and_named_by_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert await cli(capsys, data, "archive", "keys") == (
        0,
        "（尚无签名密钥：服务首次启动时生成）\n",
    )
    code, out = await cli(capsys, data, "archive", "rotate-keys")
    assert code == 0 and out.startswith("第 1 代签名密钥已启用")
    await seal_part_of(data, 1, "interrupted")
    code, out = await cli(capsys, data, "archive", "rotate-keys")
    assert code == 0 and out.startswith("第 2 代签名密钥已启用")
    await seal_part_of(data, 2, "ended")

    code, out = await cli(capsys, data, "archive", "keys")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 4
    assert lines[0].startswith("第 1 代  Ed25519") and lines[0].endswith("已停用")
    assert lines[1].startswith("第 1 代  SM2") and " 至 今" not in lines[1]
    assert lines[3].startswith("第 2 代  SM2") and lines[3].endswith("至 今  当前")

    code, out = await cli(capsys, data, "archive", "verify", "s1")
    assert code == 0, out
    signed = [line for line in out.splitlines() if line.startswith("SIGNED")]
    assert len(signed) == 4
    assert signed[0].startswith("SIGNED   part-0001: Ed25519 ")
    assert "(generation 1, trusted, within its validity)" in signed[0]
    assert signed[3].startswith("SIGNED   part-0002: SM2 ")
    assert "(generation 2, trusted, within its validity)" in signed[3]
    assert out.splitlines()[-1].startswith("INTACT")
    assert "every seal signed by trusted keys" in out

    sig = data / "archive" / "s1" / "part-0002" / "seal.sm2.sig"
    sig.parent.chmod(0o755)
    sig.unlink()
    sig.write_bytes(b"0D\x02 " + bytes(32) + b"\x02 " + bytes(32))
    code, out = await cli(capsys, data, "archive", "verify", "s1")
    assert code == 1
    assert "DIFFERS  part-0002/seal.sm2.sig: the SM2 signature does not verify" in out
    assert "NOT signed by the trusted keys" in out

    code, out = await cli(capsys, data, "archive", "verify", "s1", "--public-key", str(sig))
    assert code == 2
