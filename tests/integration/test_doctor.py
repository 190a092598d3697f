"""``roomserver doctor`` against a good configuration and a broken one, as an operator runs it:
a real coturn (Debian's ``coturn``) on loopback, a time server of the test's own, a
certificate made here; the command run as a process, its lines read."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.tsa import LocalTsa, closed_url, make_tsa_certificate

REPO = Path(__file__).resolve().parents[2]
# Seconds between 1900 (NTP's epoch) and 1970.
NTP_EPOCH = 2_208_988_800
TURN_SECRET = "doctor-test-secret-0123456789"


def free_range(count: int) -> int:
    """The first port of `count` consecutive UDP ports that are free now (above the kernel's
    ephemeral range, so that nothing else of the test takes them meanwhile)."""
    for low in range(20000, 30000, count + 7):
        with contextlib.ExitStack() as held:
            try:
                for port in range(low, low + count):
                    s = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
                    s.bind(("0.0.0.0", port))
            except OSError:
                continue
        return low
    raise AssertionError("no free UDP range")


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TimeServer(asyncio.DatagramProtocol):
    """An SNTP server on loopback whose clock is `offset_s` off the machine's."""

    def __init__(self, offset_s: float) -> None:
        self.offset_s = offset_s
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) < 48 or self.transport is None:
            return
        now = time.time() + self.offset_s + NTP_EPOCH
        stamp = struct.pack("!II", int(now), int((now % 1) * 2**32))
        # LI 0, version 4, mode 4 (server); stratum 1; the client's transmit time as origin.
        head = struct.pack("!BBbb", 0x24, 1, 4, -20) + b"\0" * 8 + b"LOCL" + stamp
        self.transport.sendto(head + data[40:48] + stamp + stamp, addr)


@dataclass
class Turn:
    url: str
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def coturn(tmp_path: Path) -> Iterator[Turn]:
    """Debian's coturn on loopback taking TURN REST credentials made with TURN_SECRET (its
    use-auth-secret, as deploy/coturn/turnserver.conf configures it)."""
    binary = shutil.which("turnserver")
    if binary is None:
        pytest.fail("coturn is not installed (.ci/run installs Debian's coturn)")
    port = free_port()
    relay = free_port()
    process = subprocess.Popen(
        [
            binary,
            "-n",
            "--listening-ip=127.0.0.1",
            f"--listening-port={port}",
            "--relay-ip=127.0.0.1",
            f"--min-port={relay}",
            f"--max-port={relay + 20}",
            "--use-auth-secret",
            f"--static-auth-secret={TURN_SECRET}",
            "--realm=roomserver",
            "--no-tls",
            "--no-dtls",
            "--no-cli",
            "--allow-loopback-peers",
            "--log-file=stdout",
            "--simple-log",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:  # coturn says when its listeners are up
            if b"Total General servers" in line or b"IO method" in line:
                break
        yield Turn(f"turn:127.0.0.1:{port}?transport=udp", process)
    finally:
        process.terminate()
        process.wait(timeout=10)


def certificate(folder: Path, host: str, *, days: float) -> tuple[Path, Path]:
    """A self-signed certificate for `host`, valid from an hour ago for `days` days."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{host}-{days}.crt", folder / f"{host}-{days}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def doctor(*args: str) -> tuple[int, list[str]]:
    """Run ``roomserver doctor`` as a process; its exit status and the lines it printed."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "signaling.cli",
        "doctor",
        "--workers",
        "1",
        *args,
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if not k.startswith("ROOMSERVER_")},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    assert b"Traceback" not in err, err.decode()
    return process.returncode, out.decode().splitlines()


def verdict(lines: list[str], name: str) -> str:
    line = next((line for line in lines if line.split("] ", 1)[-1].startswith(name)), None)
    assert line is not None, (name, lines)
    return line


async def time_server(offset_s: float) -> tuple[asyncio.DatagramTransport, str]:
    port = free_port()
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: TimeServer(offset_s), local_addr=("127.0.0.1", port)
    )
    return transport, f"127.0.0.1:{port}"


async def test_a_good_configuration_passes_every_check(tmp_path: Path) -> None:
    ports = free_range(100)
    cert, key = certificate(tmp_path, "pb.example.cn", days=365)
    clock, ntp = await time_server(0.0)
    try:
        with coturn(tmp_path) as turn, LocalTsa(tmp_path / "tsa") as tsa:
            status, lines = await doctor(
                "--tsa-url",
                tsa.url,
                "--tsa-certificate",
                str(tsa.certificate),
                "--data-dir",
                str(tmp_path / "data"),
                "--seats",
                "2",
                "--hours",
                "1",
                "--min-free-disk-gb",
                "0.1",
                "--ntp-server",
                ntp,
                "--tls-cert",
                str(cert),
                "--tls-key",
                str(key),
                "--public-url",
                "https://pb.example.cn:8443",
                "--ice-server",
                turn.url,
                "--turn-secret",
                TURN_SECRET,
                "--media-ports",
                f"{ports}-{ports + 99}",
            )
    finally:
        clock.close()
    assert status == 0, lines
    for name in (
        "数据目录",
        "档案磁盘空间",
        "数据库",
        "时钟",
        "TLS 证书",
        "媒体端口",
        "媒体进程",
        "TURN 中继",
        "页面脚本",
        "档案签名",
        "时间戳服务",
    ):
        assert verdict(lines, name).startswith("[正常]"), lines
    assert "已分配并释放中继地址 127.0.0.1:" in verdict(lines, "TURN 中继")
    assert "pb.example.cn" in verdict(lines, "TLS 证书")
    assert "100 个空闲" in verdict(lines, "媒体端口")
    assert "SM2" in verdict(lines, "档案签名")
    assert "签发了有效时间戳（CN=Test TSA" in verdict(lines, "时间戳服务")
    assert lines[-1] == "共 12 项检查，未发现异常"


async def test_a_broken_configuration_names_every_fault_with_a_hint(tmp_path: Path) -> None:
    ports = free_range(3)
    cert, key = certificate(tmp_path, "other.example.cn", days=3)
    clock, ntp = await time_server(5.0)
    tsa_cert, _tsa_key = make_tsa_certificate(tmp_path / "tsa")
    try:
        with coturn(tmp_path) as turn:
            status, lines = await doctor(
                "--tsa-url",
                closed_url(),
                "--tsa-certificate",
                str(tsa_cert),
                "--data-dir",
                str(tmp_path / "data"),
                "--seats",
                "1",
                "--hours",
                "1",
                "--min-free-disk-gb",
                "900000",
                "--ntp-server",
                ntp,
                "--tls-cert",
                str(cert),
                "--tls-key",
                str(key),
                "--public-url",
                "https://pb.example.cn",
                "--ice-server",
                turn.url,
                "--turn-secret",
                "not-coturns-secret-0123456789",
                "--media-ports",
                f"{ports}-{ports + 2}",
            )
    finally:
        clock.close()
    assert status == 1, lines
    assert verdict(lines, "档案磁盘空间").startswith("[异常]")
    assert "相差 +5" in verdict(lines, "时钟") and verdict(lines, "时钟").startswith("[异常]")
    assert "即将到期" in verdict(lines, "TLS 证书")
    assert "无法分配中继" in verdict(lines, "TURN 中继")
    assert "3 个空闲" in verdict(lines, "媒体端口") and verdict(lines, "媒体端口").startswith(
        "[异常]"
    )
    assert "did not answer" in verdict(lines, "时间戳服务")
    for name in ("数据目录", "数据库", "媒体进程", "页面脚本", "档案签名"):
        assert verdict(lines, name).startswith("[正常]"), lines
    # Each fault is followed by what to do about it.
    for index, line in enumerate(lines[:-1]):
        if line.startswith("[异常]"):
            assert lines[index + 1].startswith("    提示："), lines
    assert lines[-1] == "共 12 项检查，6 项异常", lines


async def test_a_data_directory_that_cannot_be_made_is_named_and_nothing_crashes(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("a data directory cannot be made under a file")
    status, lines = await doctor(
        "--data-dir",
        str(blocker / "data"),
        "--database-url",
        f"sqlite+aiosqlite:///{tmp_path / 'roomserver.db'}",
        "--seats",
        "1",
        "--hours",
        "0.1",
        "--min-free-disk-gb",
        "0",
    )
    assert status == 1, lines
    assert verdict(lines, "数据目录").startswith("[异常]")
    assert verdict(lines, "媒体进程").startswith("[未检查]")
    assert verdict(lines, "数据库").startswith("[正常]")
