"""``roomserver doctor``: a configuration checked before a session, each check 正常, 异常 or 未检查
with a hint; the exit status is 1 when any check is 异常.

Checks, in order: the data directory is writable; its disk has room for the sessions expected
(``--seats`` seats for ``--hours`` hours at ``RECORDING_BYTES_PER_SEAT_S``, above
``min_free_disk_gb``); the database answers; the clock agrees with ``ntp_server`` within
``CLOCK_TOLERANCE_S``; the TLS certificate is valid, not near its end and names the public
address; the media UDP range has free ports for the seats; a media worker starts; from it,
every TURN server allocates a relay with the credential a page would get (with
``turn_secret``, a fresh one) and releases it; the Socket.IO client bundle the pages load is
there; the archive's seals can be signed and checked with both Ed25519 and SM2 (OpenSSL 3's
command line, SM3); the time-stamping authority, when one is configured, answers with a valid
token.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import ipaddress
import logging
import os
import socket
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import ntplib
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from recorder.keys import Keyring, OpenSslMissing, Sm2Key, ed25519_verify, sm2_verify
from recorder.timestamp import TimestampError, Tsa, check_token
from roomserver.privatefiles import make_private_dir
from roomserver.store import SqlStore
from signaling.app import worker_settings
from signaling.config import AppConfig
from signaling.http.api import WEB_DIR
from signaling.http.webassets import VendorBundleMissing, require_vendor_bundle
from signaling.metrics import free_bytes
from signaling.services.pool import WorkerProcess

# What a seat's recording takes: its camera (720p, as Chromium sends it: up to about
# 1.5 Mbit/s), its desktop (about 0.8 Mbit/s) and its voice, with the room's share of the grid
# and the mix: 2.5 Mbit/s, about 1.1 GB an hour.
RECORDING_BYTES_PER_SEAT_S = 2_500_000 / 8
# The clock may be this far from the time server: the record's times are evidence.
CLOCK_TOLERANCE_S = 1.0
# A certificate this close to its end is a failure to act on now.
CERT_MARGIN = timedelta(days=14)
WORKER_START_TIMEOUT_S = 60.0
# A seat's connection takes a media port for each host address it is offered on; consoles,
# walls and broadcast viewers take theirs from the same range.
MEDIA_PORTS_PER_SEAT = 2
MEDIA_PORTS_SPARE = 50

OK, FAILED, SKIPPED = "正常", "异常", "未检查"


@dataclass(frozen=True)
class Finding:
    """One check's verdict: what was checked, the status, what was found and what to do."""

    name: str
    status: str
    detail: str
    hint: str = ""

    @property
    def failed(self) -> bool:
        """Whether the check found a fault."""
        return self.status == FAILED


def _ok(name: str, detail: str) -> Finding:
    return Finding(name, OK, detail)


def _failed(name: str, detail: str, hint: str) -> Finding:
    return Finding(name, FAILED, detail, hint)


def _skipped(name: str, detail: str, hint: str = "") -> Finding:
    return Finding(name, SKIPPED, detail, hint)


def check_data_dir(config: AppConfig) -> Finding:
    """The data directory exists (or can be made) and takes a file, written to the disk."""
    name = "数据目录"
    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=config.data_dir, prefix=".doctor-") as probe:
            probe.write(b"roomserver doctor")
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        return _failed(
            name,
            f"{config.data_dir} 不可写：{exc.strerror or exc}",
            "检查目录的属主与权限（服务以哪个用户运行）、磁盘是否只读",
        )
    return _ok(name, f"{config.data_dir.resolve()} 可写")


def check_disk(config: AppConfig, seats: int, hours: float) -> Finding:
    """Free space for the sessions expected, above the configured floor."""
    name = "档案磁盘空间"
    free = free_bytes(config.archive_dir)
    expected = seats * hours * 3600 * RECORDING_BYTES_PER_SEAT_S
    need = expected + config.min_free_disk_gb * 1e9
    detail = (
        f"剩余 {free / 1e9:.1f} GB；{seats} 个机位录制 {hours:g} 小时约需 {expected / 1e9:.1f} GB，"
        f"另留 {config.min_free_disk_gb:g} GB"
    )
    if free < need:
        return _failed(name, detail, "清理或扩容档案磁盘，或把 data_dir 放到更大的磁盘上")
    return _ok(name, detail)


async def check_database(config: AppConfig) -> Finding:
    """The database opens (its schema brought up to date) and answers."""
    name = "数据库"
    try:
        async with SqlStore(config.store) as store:
            await asyncio.wait_for(store.is_empty(), 10)
    except Exception as exc:
        return _failed(
            name,
            f"无法使用：{type(exc).__name__}: {exc}",
            "检查 database_url、数据库服务是否运行、账号权限",
        )
    engine = "PostgreSQL" if config.store.database_url.startswith("postgresql") else "SQLite"
    return _ok(name, f"{engine} 可用")


async def check_cluster(config: AppConfig) -> Finding:
    """A node of a cluster: Redis answers, the keys and the archive are the shared ones, and no
    other live node has this node's name."""
    name = "集群"
    cluster = config.cluster
    if cluster is None:
        return _skipped(name, "单机运行（未设置 redis_url）")
    if config.keys_dir is None or config.archive_root is None:
        return _failed(
            name,
            "集群的节点须共用密钥与档案，但 keys_dir 或 archive_dir 未设置（默认在数据目录中）",
            "为每个节点设置相同的 keys_dir 与 archive_dir（共享存储）",
        )
    import redis.asyncio as aioredis  # only a cluster needs the client

    client = aioredis.from_url(cluster.redis_url)
    try:
        await asyncio.wait_for(client.ping(), 5)
    except Exception as exc:
        return _failed(name, f"Redis 无法使用：{type(exc).__name__}: {exc}", "检查 redis_url")
    finally:
        await client.aclose()
    try:
        async with SqlStore(config.store) as store:
            nodes = await store.cluster.nodes()
    except Exception as exc:
        return _failed(name, f"无法读取节点表：{type(exc).__name__}", "检查 database_url")
    now = time.time()
    same = [
        n
        for n in nodes
        if n.node_id == cluster.node_id
        and n.url != config.base_url
        and n.alive(now, cluster.dead_after_s)
    ]
    if same:
        return _failed(
            name,
            f"另一台节点（{same[0].url}）正以 {cluster.node_id} 为名运行",
            "为每个节点设置不同的 node_id",
        )
    alive = sum(1 for n in nodes if n.alive(now, cluster.dead_after_s))
    return _ok(name, f"节点 {cluster.node_id}：Redis 可用，集群中 {alive} 个节点在线")


def _ntp_offset(server: str) -> float:
    host, _, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
    answer = ntplib.NTPClient().request(host or server, version=4, port=int(port or 123), timeout=3)
    return float(answer.offset)


async def check_clock(config: AppConfig) -> Finding:
    """The clock against the configured time server."""
    name = "时钟"
    if not config.ntp_server:
        return _skipped(
            name,
            "未配置 ntp_server",
            "配置中心的时间服务器（ntp_server），档案中的时间是证据",
        )
    try:
        offset = await asyncio.to_thread(_ntp_offset, config.ntp_server)
    except (ntplib.NTPException, OSError, ValueError) as exc:
        return _failed(
            name,
            f"时间服务器 {config.ntp_server} 无应答：{exc}",
            "检查时间服务器地址与 UDP 123 端口",
        )
    detail = f"与 {config.ntp_server} 相差 {offset * 1000:+.0f} 毫秒"
    if abs(offset) > CLOCK_TOLERANCE_S:
        return _failed(name, detail, "启用 chrony 或 systemd-timesyncd 与该时间服务器同步后再开评")
    return _ok(name, detail)


def _names_of(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    names: list[str] = list(san.get_values_for_type(x509.DNSName))
    names += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return names


def _covers(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        return host.count(".") == pattern.count(".") and host.endswith(pattern[1:])
    return pattern.lower() == host.lower()


def check_tls(config: AppConfig, now: datetime) -> Finding:
    """The built-in TLS certificate: readable, matching its key, valid, naming the server."""
    name = "TLS 证书"
    host = urlsplit(config.public_url or "").hostname
    if config.tls_cert is None:
        if config.public_url and config.public_url.startswith("https:"):
            return _skipped(name, "由反向代理提供 HTTPS（未配置 tls_cert）")
        local = host is None or host == "localhost" or _is_loopback(host)
        if local:
            return _skipped(name, "仅本机访问，未配置 HTTPS")
        return _failed(
            name,
            f"{config.public_url} 不是 HTTPS",
            "浏览器只在 HTTPS 页面上允许使用摄像头和麦克风：配置 tls_cert/tls_key 或反向代理",
        )
    try:
        cert = x509.load_pem_x509_certificate(config.tls_cert.read_bytes())
        key = serialization.load_pem_private_key(
            (config.tls_key or config.tls_cert).read_bytes(), password=None
        )
    except (OSError, ValueError, TypeError) as exc:
        return _failed(
            name, f"无法读取证书或私钥：{exc}", "检查 tls_cert、tls_key 的路径与格式（PEM）"
        )
    public = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    mine = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if public != mine:
        return _failed(name, "私钥与证书不匹配", "tls_key 应为签发该证书时所用的私钥")
    names = _names_of(cert)
    ends = cert.not_valid_after_utc
    detail = f"{'、'.join(names) or '（无名称）'}，有效期至 {ends:%Y-%m-%d}"
    if now < cert.not_valid_before_utc or now > ends:
        return _failed(
            name, f"证书不在有效期内（{detail}）", "更换证书后向服务进程发送 SIGHUP 或重启"
        )
    if ends - now < CERT_MARGIN:
        return _failed(name, f"证书即将到期（{detail}）", "尽快续期；建议由反向代理自动续期")
    if host is not None and not any(_covers(n, host) for n in names):
        return _failed(
            name,
            f"证书不含 public_url 的主机名 {host}（{detail}）",
            "证书的 SAN 须包含浏览器访问用的域名或 IP",
        )
    return _ok(name, detail)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_media_ports(config: AppConfig, seats: int) -> Finding:
    """The media UDP range has a free port for every connection expected (a seat's, with the
    consoles', walls' and viewers' beside them)."""
    name = "媒体端口"
    if config.ice.port_range is None:
        return _skipped(
            name,
            "未配置 media_ports：媒体使用系统分配的随机端口",
            "防火墙只能开放固定端口：配置 media_ports（如 40000-40999）并开放该 UDP 区间",
        )
    low, high = config.ice.port_range
    free = 0
    for port in range(low, high + 1):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("0.0.0.0", port))
            except OSError:
                continue
        free += 1
    need = seats * MEDIA_PORTS_PER_SEAT + MEDIA_PORTS_SPARE
    detail = f"UDP {low}-{high}：{free} 个空闲，{seats} 个机位约需 {need} 个"
    if free < need:
        return _failed(name, detail, "扩大 media_ports 区间，或查明占用这些端口的进程")
    return _ok(name, detail)


def check_bundle() -> Finding:
    """The Socket.IO client script the pages load is installed."""
    name = "页面脚本"
    try:
        vendor = require_vendor_bundle(WEB_DIR)
    except VendorBundleMissing as exc:
        return _failed(name, str(exc), "在源码目录运行 make install")
    return _ok(name, f"Socket.IO 客户端脚本在 {vendor}")


def check_seal_signing(config: AppConfig) -> Finding:
    """The archive's keys sign a seal with Ed25519 and SM2, and both signatures check: the
    installation's current keys when it has them, else a throwaway SM2 key."""
    name = "档案签名"
    probe = b"roomserver doctor"
    try:
        if config.archive_keys_path.is_file():
            keys = Keyring(config.archive_keys_dir, config.archive_keys_path).current()
            sm2, which = keys.sm2, f"第 {keys.generation} 代密钥"
            if not ed25519_verify(keys.ed25519.public_pem(), probe, keys.ed25519.sign(probe)):
                return _failed(name, "Ed25519 签名无法核验", "检查 secrets/archive-keys/")
        else:
            with tempfile.TemporaryDirectory(prefix="doctor-sm2-") as tmp:
                folder = Path(tmp) / "keys"
                make_private_dir(folder)
                sm2, which = Sm2Key.load_or_create(folder / "probe.pem"), "临时 SM2 密钥"
                signature = sm2.sign(probe)
                if not sm2_verify(sm2.public_pem(), probe, signature):
                    raise RuntimeError("the SM2 signature does not verify")
                return _ok(name, f"OpenSSL 可签署并核验 SM2（SM3，默认标识）；{which}")
        if not sm2_verify(sm2.public_pem(), probe, sm2.sign(probe)):
            return _failed(name, "SM2 签名无法核验", "检查 OpenSSL 版本（需 3.x）")
    except OpenSslMissing as exc:
        return _failed(name, str(exc), "安装 OpenSSL 3（Debian：apt-get install openssl）")
    except (OSError, RuntimeError, ValueError) as exc:
        return _failed(name, f"{type(exc).__name__}: {exc}", "检查 OpenSSL 3 与 secrets/ 目录")
    return _ok(name, f"Ed25519 与 SM2（SM3，默认标识）签名均可核验；{which}")


def check_tsa(config: AppConfig) -> Finding:
    """The configured time-stamping authority gives a valid RFC 3161 token, near our clock."""
    name = "时间戳服务"
    try:
        tsa = Tsa.from_config(config.recorder)
    except (OSError, ValueError) as exc:
        return _failed(name, f"无法读取证书：{exc}", "检查 tsa_certificate")
    if tsa is None:
        return _skipped(
            name,
            "未配置：封存不带可信时间戳",
            "配置中心认可的时间戳服务（tsa_url 与 tsa_certificate）",
        )
    try:
        token = tsa.stamp(b"roomserver doctor")
        info = check_token(token, hashlib.sha256(b"roomserver doctor").digest(), tsa.certificates)
    except TimestampError as exc:
        return _failed(name, str(exc), "检查 tsa_url、网络与 tsa_certificate 是否为该服务的证书")
    offset = (info.gen_time - datetime.now(UTC)).total_seconds()
    return _ok(name, f"{tsa.url} 签发了有效时间戳（{info.tsa_subject}，时差 {offset:+.0f} 秒）")


async def check_worker_and_turn(config: AppConfig) -> list[Finding]:
    """A media worker starts; from it, each TURN server of the configuration allocates a relay
    with the configured credential and releases it."""
    settings = replace(worker_settings(config), log_level="WARNING")  # the verdict says it
    worker = WorkerProcess(0, settings, lambda *_: None)
    started = time.monotonic()
    try:
        await asyncio.wait_for(worker.start(), WORKER_START_TIMEOUT_S)
    except Exception as exc:
        with contextlib.suppress(Exception):
            worker.kill()
        return [
            _failed(
                "媒体进程",
                f"无法启动：{type(exc).__name__}: {exc}",
                "查看日志；检查 av、aiortc 是否安装完整",
            ),
            _skipped("TURN 中继", "媒体进程未启动，无法检查"),
        ]
    findings = [_ok("媒体进程", f"已启动（{time.monotonic() - started:.1f} 秒）")]
    try:
        findings += await _turn(config, worker)
    finally:
        await worker.stop()
    return findings


async def _turn(config: AppConfig, worker: WorkerProcess) -> list[Finding]:
    # The credentials a page would get now: with turn_secret, fresh ones of the TURN REST
    # scheme, which coturn checks against the same secret.
    granted = config.ice.grant("doctor", time.time()).servers
    urls = [
        (url, server)
        for server in granted
        for url in server.urls
        if url.startswith(("turn:", "turns:"))
    ]
    if not urls:
        return [
            _skipped(
                "TURN 中继",
                "未配置 TURN 服务器",
                "副场在其他城市、位于 NAT 或防火墙之后时需要 TURN（ice_server = turn:…）",
            )
        ]
    findings = []
    for url, server in urls:
        name = f"TURN 中继 {url}"
        if not server.username or not server.credential:
            findings.append(
                _failed(
                    name, "未配置凭证", "配置 turn_secret（与 coturn 的 static-auth-secret 相同）"
                )
            )
            continue
        answer: dict[str, Any] = await worker.request(
            "probe_turn",
            {"url": url, "username": server.username, "credential": server.credential},
            timeout_s=20,
        )
        if "error" in answer:
            findings.append(
                _failed(
                    name,
                    f"无法分配中继：{answer['error']}",
                    "检查 TURN 服务是否运行、端口是否开放、凭证是否与 coturn 的配置一致",
                )
            )
        else:
            relayed = answer["relayed"]
            findings.append(_ok(name, f"已分配并释放中继地址 {relayed[0]}:{relayed[1]}"))
    return findings


async def run_checks(config: AppConfig, *, seats: int, hours: float) -> list[Finding]:
    """Every check, in order."""
    findings = [check_data_dir(config), check_disk(config, seats, hours)]
    steps: list[Callable[[], Awaitable[Finding]]] = [
        lambda: check_database(config),
        lambda: check_clock(config),
        lambda: check_cluster(config),
    ]
    for step in steps:
        findings.append(await step())
    findings.append(check_tls(config, datetime.now(UTC)))
    findings.append(check_media_ports(config, seats))
    if findings[0].failed:
        # A worker keeps its archive and keys in the data directory: it cannot start.
        findings += [
            _skipped("媒体进程", "数据目录不可用，未启动"),
            _skipped("TURN 中继", "媒体进程未启动，无法检查"),
        ]
    else:
        findings += await check_worker_and_turn(config)
    findings.append(check_bundle())
    findings.append(await asyncio.to_thread(check_seal_signing, config))
    findings.append(await asyncio.to_thread(check_tsa, config))
    return findings


def add_command(sub: Any, common: argparse.ArgumentParser) -> None:
    """``roomserver doctor [--seats N] [--hours H]``."""
    doctor = sub.add_parser(
        "doctor", parents=[common], help="check the configuration before a session"
    )
    doctor.add_argument(
        "--seats", type=int, default=10, help="seats recorded at once (disk space estimate)"
    )
    doctor.add_argument(
        "--hours", type=float, default=4.0, help="hours recorded (disk space estimate)"
    )


async def cmd_doctor(config: AppConfig, args: argparse.Namespace) -> int:
    """Run the checks and print them; 1 when any failed."""
    if args.seats < 1 or args.hours <= 0:
        print("错误：--seats 至少为 1，--hours 须大于 0")
        return 2
    if config.log_level != "DEBUG":
        logging.getLogger().setLevel(logging.WARNING)  # the verdicts are the output
    findings = await run_checks(config, seats=args.seats, hours=args.hours)
    for f in findings:
        print(f"[{f.status}] {f.name}：{f.detail}")
        if f.hint and f.status != OK:
            print(f"    提示：{f.hint}")
    failed = [f for f in findings if f.failed]
    if failed:
        print(f"共 {len(findings)} 项检查，{len(failed)} 项异常")
    else:
        print(f"共 {len(findings)} 项检查，未发现异常")
    return 1 if failed else 0
