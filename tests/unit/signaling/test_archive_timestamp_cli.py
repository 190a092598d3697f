"""``roomserver archive timestamp``: the configured TSA's tokens for seals made without one."""

from __future__ import annotations

from pathlib import Path

import pytest

from signaling.cli.main import build_parser, main
from signaling.config import ConfigError, build_config, resolve_settings
from tests.tsa import LocalTsa, closed_url
from tests.unit.signaling.test_archive_keys_cli import cli, seal_part_of


async def test_missing_tokens_are_added_later_and_verify_names_the_tsa(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert (await cli(capsys, data, "archive", "rotate-keys"))[0] == 0
    await seal_part_of(data, 1, "interrupted")  # no TSA configured then
    await seal_part_of(data, 2, "ended")
    assert (await cli(capsys, data, "archive", "timestamp"))[0] == 2  # none configured now either

    with LocalTsa(tmp_path / "tsa") as tsa:
        flags = ("--tsa-url", tsa.url, "--tsa-certificate", str(tsa.certificate))
        code, out = await cli(capsys, data, "archive", "timestamp", *flags)
        assert code == 0
        assert [line.split(": ")[0] for line in out.splitlines()] == [
            "STAMPED  s1/part-0001",
            "STAMPED  s1/part-0002",
        ]
        assert await cli(capsys, data, "archive", "timestamp", *flags) == (0, "")  # nothing missing
        code, out = await cli(capsys, data, "archive", "verify", "s1", *flags)
        assert code == 0, out
        stamped = [line for line in out.splitlines() if line.startswith("STAMPED")]
        assert len(stamped) == 2
        assert stamped[0].endswith("by CN=Test TSA (the trusted TSA certificate)")

        # A TSA that is down: the parts it could not stamp are named, exit 1.
        (data / "archive" / "s1" / "part-0002").chmod(0o755)
        (data / "archive" / "s1" / "part-0002" / "seal.tsr").unlink()
        down = ("--tsa-url", closed_url(), "--tsa-certificate", str(tsa.certificate))
        code, out = await cli(capsys, data, "archive", "timestamp", *down)
        assert code == 1 and out.startswith("FAILED   s1/part-0002: the TSA at")


def test_the_tsa_needs_its_certificate(tmp_path: Path) -> None:
    def config(*args: str) -> None:
        build_config(resolve_settings(build_parser().parse_args(["serve", *args]), {}))

    with pytest.raises(ConfigError, match="tsa_certificate"):
        config("--tsa-url", "http://tsa.example.cn/tsa")
    with pytest.raises(ConfigError, match="http"):
        config("--tsa-url", "ftp://tsa.example.cn/", "--tsa-certificate", str(tmp_path / "x.pem"))


def test_the_server_does_not_start_with_a_tsa_certificate_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "tsa.pem").write_text("not a certificate")
    flags = ["--tsa-url", "http://tsa.example.cn/", "--tsa-certificate", str(tmp_path / "tsa.pem")]
    code = main(["serve", "--data-dir", str(tmp_path / "data"), "--bind", "127.0.0.1:0", *flags])
    assert code == 2
    assert "无法读取时间戳服务证书" in capsys.readouterr().err
