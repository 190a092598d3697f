"""Server configuration: CLI flags over ``ROOMSERVER_*`` environment over a TOML file."""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import time
from pathlib import Path
from typing import Any

from media.config import MediaConfig
from recorder.config import CopiesConfig, RecorderConfig
from roomserver.config import StoreConfig
from roomserver.errors import InvalidRequest
from roomserver.fees import FeeRule
from roomserver.usage import parse_clock
from roomserver.warnings import WarningThresholds
from roomserver.webhooks import WebhookConfig
from signaling.clusterconfig import CLUSTER_OPTIONS, ClusterConfig, cluster_config

ENV_PREFIX = "ROOMSERVER_"
DEFAULT_BIND = "127.0.0.1:8080"


class ConfigError(ValueError):
    """The configuration given cannot be used."""


@dataclass(frozen=True)
class IceServer:
    """A STUN or TURN server offered to the pages (the server's own ICE agent uses none)."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    @property
    def is_turn(self) -> bool:
        """A TURN server (``turn:`` or ``turns:``), which takes credentials."""
        return self.urls[0].split(":", 1)[0] in ("turn", "turns")

    def as_json(self) -> dict[str, Any]:
        """The RTCIceServer dictionary a browser takes."""
        out: dict[str, Any] = {"urls": list(self.urls)}
        if self.username is not None:
            out["username"] = self.username
        if self.credential is not None:
            out["credential"] = self.credential
        return out


# A TURN REST username names its holder after the expiry; coturn splits it at the first colon.
_SAFE_SUBJECT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# A page renews its credentials this long before they expire (at most a fifth of their life).
TURN_RENEW_MARGIN_S = 300


def turn_rest_username(expires_at: int, subject: str) -> str:
    """``expiry:participant`` of the TURN REST scheme (coturn's ``use-auth-secret``).

    A participant id that is not plain ASCII (a centre-wide supervisor's carries a Chinese name)
    is replaced by a digest of it: the username travels in STUN messages and coturn's logs.
    """
    if not _SAFE_SUBJECT.match(subject):
        subject = "h" + hashlib.sha256(subject.encode("utf-8")).hexdigest()[:20]
    return f"{expires_at}:{subject}"


def turn_rest_credential(secret: str, username: str) -> str:
    """base64(HMAC-SHA1(secret, username)): the password coturn derives from its shared secret."""
    digest = hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True)
class IceGrant:
    """The ICE servers handed to one page, and when their TURN credentials end."""

    servers: tuple[IceServer, ...]
    expires_at: int | None = None  # Unix seconds; None: nothing expires
    renew_in_s: int | None = None  # when the page should ask again

    def as_json(self) -> dict[str, Any]:
        """``ice_servers`` with ``ice_expires_at`` and ``ice_renew_in_s`` for the page."""
        return {
            "ice_servers": [s.as_json() for s in self.servers],
            "ice_expires_at": self.expires_at,
            "ice_renew_in_s": self.renew_in_s,
        }


@dataclass(frozen=True)
class IceConfig:
    """How media connections are established."""

    # Host addresses (IPs or interface names) offered as ICE candidates; empty = all but loopback.
    host_addresses: tuple[str, ...] = ()
    # STUN and TURN servers for the pages. The media workers' own ICE agents are given none:
    # they gather host candidates only (plus the announced addresses), never a relay.
    servers: tuple[IceServer, ...] = ()
    # Public addresses announced beside the host candidates (a server behind 1:1 NAT).
    announced_addresses: tuple[str, ...] = ()
    # The UDP ports the media sockets bind (inclusive); None: ephemeral ports.
    port_range: tuple[int, int] | None = None
    # coturn's static-auth-secret: every page gets TURN credentials of its own, valid this long.
    turn_secret: str | None = field(default=None, repr=False)
    turn_ttl_s: int = 3600

    def for_workers(self) -> IceConfig:
        """What a media worker is told: no servers and no secret (its command line is visible
        to every local user, and its ICE agent uses no STUN or TURN server)."""
        return replace(self, servers=(), turn_secret=None)

    def grant(self, subject: str, now: float) -> IceGrant:
        """The ICE servers for `subject`'s page: with a secret, TURN credentials of their own
        (the TURN REST scheme) expiring ``turn_ttl_s`` from `now`; else the configured ones."""
        if self.turn_secret is None or not any(s.is_turn for s in self.servers):
            return IceGrant(self.servers)
        expires_at = int(now) + self.turn_ttl_s
        username = turn_rest_username(expires_at, subject)
        credential = turn_rest_credential(self.turn_secret, username)
        servers = tuple(
            replace(s, username=username, credential=credential) if s.is_turn else s
            for s in self.servers
        )
        margin = min(TURN_RENEW_MARGIN_S, self.turn_ttl_s // 5)
        return IceGrant(servers, expires_at, self.turn_ttl_s - margin)


@dataclass(frozen=True)
class RoomCamera:
    """A venue's room monitoring camera (an IP camera or NVR channel), pulled over RTSP."""

    venue_id: str
    url: str


@dataclass(frozen=True)
class AppConfig:
    """Everything the server needs, parsed once at start-up and passed in."""

    data_dir: Path
    host: str
    port: int
    store: StoreConfig
    media: MediaConfig = field(default_factory=MediaConfig)
    recorder: RecorderConfig = field(default_factory=RecorderConfig)
    copies: CopiesConfig = field(default_factory=CopiesConfig)
    ice: IceConfig = field(default_factory=IceConfig)
    warnings: WarningThresholds = field(default_factory=WarningThresholds)
    fees: FeeRule = field(default_factory=FeeRule)
    usage_push_at: time | None = time(18, 0)
    usage_push_days: int = 3
    webhooks: WebhookConfig = field(default_factory=WebhookConfig)
    room_cameras: tuple[RoomCamera, ...] = ()
    tls_cert: Path | None = None
    tls_key: Path | None = None
    public_url: str | None = None
    token_ttl_s: int = 24 * 3600
    log_level: str = "INFO"
    log_format: str = "text"  # or json
    min_free_disk_gb: float = 5.0
    ntp_server: str | None = None
    # The reverse proxies whose X-Forwarded-* headers are believed (signaling.http.proxies).
    trusted_proxies: tuple[str, ...] = ()
    workers: int = 1
    pin_workers: bool = True
    # Workflow phases whose recording tenderers and bidders may play back (4.3).
    party_phases: tuple[str, ...] = ("check_in",)
    # Where the keys live (secrets/ and archive-keys.json): the data directory unless set; every
    # node of a cluster is given the same folder.
    keys_dir: Path | None = None
    # The session archives: data_dir/archive unless set; a cluster's nodes share one location.
    archive_root: Path | None = None
    cluster: ClusterConfig | None = None

    @property
    def base_url(self) -> str:
        """Where people reach the server; used in the links printed for participants."""
        if self.public_url:
            return self.public_url.rstrip("/")
        scheme = "https" if self.tls_cert else "http"
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"{scheme}://{host}:{self.port}"

    @property
    def secrets_dir(self) -> Path:
        """Keys created at first start (token signing key, archive signing key)."""
        return (self.keys_dir or self.data_dir) / "secrets"

    @property
    def archive_dir(self) -> Path:
        """Session archives (one folder per session)."""
        return self.archive_root or self.data_dir / "archive"

    @property
    def projects_dir(self) -> Path:
        """Projects' records (one folder per project): their documents (7.2.5-1)."""
        return self.data_dir / "projects"

    @property
    def archive_keys_dir(self) -> Path:
        """The private keys that sign archive seals, by generation (Ed25519 and SM2)."""
        return self.secrets_dir / "archive-keys"

    @property
    def archive_keys_path(self) -> Path:
        """The public keys of the archive seals with their validity (give it to auditors)."""
        return (self.keys_dir or self.data_dir) / "archive-keys.json"

    @property
    def legacy_archive_key_path(self) -> Path:
        """The one Ed25519 key of a data directory from before SM2 seals (taken as generation 1)."""
        return self.secrets_dir / "archive-ed25519.pem"


# name: (type, default, help). Every key can be set as --name, ROOMSERVER_NAME or `name` in TOML.
OPTIONS: dict[str, tuple[str, Any, str]] = {
    "data_dir": ("path", "./var", "data directory (database, archive, keys)"),
    "keys_dir": (
        "path",
        None,
        "folder of the keys (secrets/, archive-keys.json); default: the data directory",
    ),
    "archive_dir": ("path", None, "the session archives; default: archive/ in the data directory"),
    "bind": ("str", DEFAULT_BIND, "address:port to listen on"),
    "tls_cert": (
        "path",
        None,
        "TLS certificate (PEM); browsers need HTTPS for cameras off localhost",
    ),
    "tls_key": ("path", None, "TLS private key (PEM)"),
    "database_url": ("str", None, "SQLAlchemy URL; default SQLite in the data directory"),
    "ice_host": ("list", None, "host addresses or interfaces for ICE (repeatable, comma list)"),
    "ice_server": ("list", [], "STUN/TURN URL offered to browsers (repeatable)"),
    "room_camera": ("list", [], "a venue's room camera as VENUE_ID=rtsp://... (repeatable)"),
    "turn_secret": (
        "str",
        None,
        "coturn's static-auth-secret: each page gets TURN credentials of its own",
    ),
    "turn_ttl": ("int", 3600, "lifetime of a page's TURN credentials, seconds (renewed before)"),
    "turn_username": ("str", None, "one TURN username for every page (without turn_secret)"),
    "turn_credential": ("str", None, "its TURN password (without turn_secret)"),
    "announced_address": (
        "list",
        [],
        "public IP announced beside the host candidates (1:1 NAT; repeatable)",
    ),
    "media_ports": ("str", None, "UDP ports of the media sockets, e.g. 40000-40999"),
    "public_url": ("str", None, "base URL of the printed links, e.g. https://pb.example.cn"),
    "token_ttl": ("int", 24 * 3600, "lifetime of issued join tokens, seconds"),
    "segment_seconds": ("int", 10, "length of archive media segments, seconds"),
    "workers": ("int", None, "media worker processes (default: one per core; 0: in-process)"),
    "pin_workers": ("int", 1, "1: each media worker stays on a CPU of its own; 0: no pinning"),
    "retention_years": ("int", 15, "years an archive is kept before it may be deleted"),
    "tsa_url": (
        "str",
        None,
        "RFC 3161 time-stamping authority that time-stamps every archive seal (URL)",
    ),
    "tsa_certificate": ("path", None, "the time-stamping authority's certificate (PEM)"),
    "tsa_timeout": ("float", 10.0, "seconds the TSA has to answer before a seal goes without"),
    "archive_replica": (
        "str",
        None,
        "folder on another disk or site where every sealed part is copied (副本); empty: none",
    ),
    "replica_rate": ("float", 50.0, "MB/s the replica's copy and check read at most (0: no limit)"),
    "replica_retry": (
        "float",
        300.0,
        "seconds before a copy that could not be made is tried again",
    ),
    "reverify_days": ("float", 30.0, "days after which each copy of an archive is verified again"),
    "reverify_rate": ("float", 20.0, "MB/s the re-verification reads at most (0: no limit)"),
    "usage_push_at": (
        "str",
        "18:00",
        "Beijing time of the daily venue usage push (5.5.3); empty: none",
    ),
    "usage_push_days": ("int", 3, "days ahead the daily venue usage push covers"),
    "fee_base": ("float", 800.0, "an expert's fee for a session, yuan (5.5.6)"),
    "fee_included_hours": ("float", 4.0, "hours the base fee covers"),
    "fee_hourly": ("float", 100.0, "the fee of every hour begun after them, yuan"),
    "analysis_interval": ("float", 1.0, "seconds between camera samples of a seat (0: off)"),
    "seat_empty_seconds": ("float", 30.0, "no face at a seat this long raises 擅离职守"),
    "late_minutes": ("float", 15.0, "an expert not present this long after the start is late"),
    "warning_threshold": (
        "list",
        [],
        "any other warning threshold as NAME=VALUE, e.g. dark_s=8 (repeatable)",
    ),
    "party_phases": (
        "list",
        ["check_in"],
        "workflow phases tenderers and bidders may play back (repeatable; none: nothing)",
    ),
    "webhook_timeout": ("float", 10.0, "seconds a webhook receiver has to answer a push"),
    "webhook_retry_first": ("float", 1.0, "seconds before a failed push is sent again"),
    "webhook_retry_max": ("float", 600.0, "the longest pause between attempts at one push"),
    "webhook_log_days": ("int", 90, "days the webhook delivery log keeps (the events stay)"),
    "log_level": ("str", "INFO", "DEBUG, INFO, WARNING or ERROR"),
    "log_format": ("str", "text", "text (for a person) or json (for a log collector)"),
    "trusted_proxy": (
        "list",
        [],
        "reverse proxy address or network whose X-Forwarded-For is believed (repeatable)",
    ),
    "ntp_server": (
        "str",
        None,
        "the centre's time server (host or host:port) doctor compares with",
    ),
    "min_free_disk_gb": (
        "float",
        5.0,
        "free space the archive's disk keeps, GB: below it /readyz fails and doctor warns",
    ),
    **CLUSTER_OPTIONS,
}


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the configuration flags; an absent flag sets nothing, so lower layers can fill in.

    (SUPPRESS also lets the same flags stand before or after a subcommand.)
    """
    parser.add_argument(
        "--config", metavar="FILE", default=argparse.SUPPRESS, help="TOML configuration file"
    )
    for name, (kind, _default, help_text) in OPTIONS.items():
        flag = "--" + name.replace("_", "-")
        if kind == "list":
            parser.add_argument(flag, action="append", default=argparse.SUPPRESS, help=help_text)
        else:
            parser.add_argument(
                flag,
                default=argparse.SUPPRESS,
                help=help_text,
                type=int if kind == "int" else str,
            )


def _coerce(name: str, kind: str, value: Any) -> Any:
    if value is None:
        return None
    try:
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "path":
            return Path(str(value))
        if kind == "list":
            items = value if isinstance(value, list | tuple) else [value]
            return [part.strip() for item in items for part in str(item).split(",") if part.strip()]
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}: {exc}") from exc


def resolve_settings(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Merge defaults, the TOML file, the environment and the flags, in rising precedence."""
    env = os.environ if environ is None else environ
    settings = {name: default for name, (_kind, default, _help) in OPTIONS.items()}
    config_file = getattr(args, "config", None) or env.get(ENV_PREFIX + "CONFIG")
    if config_file:
        try:
            data = tomllib.loads(Path(config_file).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read configuration file {config_file}: {exc}") from exc
        unknown = sorted(set(data) - set(OPTIONS))
        if unknown:
            raise ConfigError(f"unknown settings in {config_file}: {', '.join(unknown)}")
        settings.update(data)
    for name in OPTIONS:
        value = env.get(ENV_PREFIX + name.upper())
        if value is not None:
            settings[name] = value
    for name in OPTIONS:
        value = getattr(args, name, None)
        if value is not None:
            settings[name] = value
    return {name: _coerce(name, OPTIONS[name][0], value) for name, value in settings.items()}


def parse_bind(bind: str) -> tuple[str, int]:
    """``host:port`` (IPv6 as ``[::1]:8080``) to a pair."""
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"bind must be HOST:PORT, not {bind!r}")
    host = host.strip("[]") or "0.0.0.0"
    if not 0 <= int(port) <= 65535:
        raise ConfigError(f"port out of range in {bind!r}")
    return host, int(port)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_config(settings: Mapping[str, Any]) -> AppConfig:
    """Validate merged settings into an AppConfig."""
    data_dir = Path(settings["data_dir"]).expanduser().resolve()
    host, port = parse_bind(settings["bind"])
    database_url = settings["database_url"] or f"sqlite+aiosqlite:///{data_dir / 'roomserver.db'}"
    tls_cert, tls_key = settings["tls_cert"], settings["tls_key"]
    if (tls_cert is None) != (tls_key is None):
        raise ConfigError("tls_cert and tls_key must be given together")
    hosts = settings["ice_host"]
    if not hosts and _is_loopback(host):
        # Bound to loopback, nobody else can reach us: offer loopback only.
        hosts = ["127.0.0.1"]
    ice = _ice_config(settings, hosts)
    cameras = []
    for entry in settings["room_camera"] or []:
        venue_id, sep, url = entry.partition("=")
        if not sep or not venue_id.strip() or not url.strip():
            raise ConfigError(f"room_camera must be VENUE_ID=rtsp://..., not {entry!r}")
        cameras.append(RoomCamera(venue_id=venue_id.strip(), url=url.strip()))
    level = str(settings["log_level"]).upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"log_level must be DEBUG, INFO, WARNING or ERROR, not {level}")
    log_format = str(settings["log_format"]).lower()
    if log_format not in ("text", "json"):
        raise ConfigError(f"log_format must be text or json, not {log_format}")
    if not 0 <= float(settings["min_free_disk_gb"]) <= 1e6:
        raise ConfigError("min_free_disk_gb must be between 0 and 1000000")
    proxies = tuple(settings["trusted_proxy"] or [])
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError as exc:
            raise ConfigError(
                f"trusted_proxy must be an address or a network, not {proxy!r}"
            ) from exc
    if settings["token_ttl"] <= 0:
        raise ConfigError("token_ttl must be positive")
    if not 2 <= settings["segment_seconds"] <= 600:
        raise ConfigError("segment_seconds must be between 2 and 600")
    if not 0 <= settings["analysis_interval"] <= 60:
        raise ConfigError("analysis_interval must be between 0 (off) and 60 seconds")
    if settings["seat_empty_seconds"] <= 0 or settings["late_minutes"] <= 0:
        raise ConfigError("seat_empty_seconds and late_minutes must be positive")
    known_phases = ("scheduled", "check_in", "election", "evaluation", "signing")
    party_phases = tuple(
        p.strip() for entry in settings["party_phases"] or [] for p in entry.split(",") if p.strip()
    )
    if any(p not in known_phases and p != "none" for p in party_phases):
        raise ConfigError(f"party_phases must be among {', '.join(known_phases)} or none")
    try:
        webhooks = WebhookConfig(
            timeout_s=float(settings["webhook_timeout"]),
            retry_first_s=float(settings["webhook_retry_first"]),
            retry_max_s=float(settings["webhook_retry_max"]),
            log_days=int(settings["webhook_log_days"]),
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if not 1 <= int(settings["usage_push_days"]) <= 92:
        raise ConfigError("usage_push_days must be between 1 and 92")
    if settings["retention_years"] < 15:
        # The standard (4.3, 7.2.5) asks for at least 15 years.
        raise ConfigError("retention_years must be at least 15")
    tsa_url, tsa_certificate = settings["tsa_url"] or None, settings["tsa_certificate"]
    if tsa_url and tsa_certificate is None:
        raise ConfigError("tsa_url needs tsa_certificate: the TSA's certificate (PEM)")
    if tsa_url and not tsa_url.startswith(("http://", "https://")):
        raise ConfigError("tsa_url must be an http:// or https:// URL")
    if tsa_certificate is not None:
        # Read when the server starts (`roomserver serve`, `doctor`): a configuration is
        # checked here without the files it names, as tls_cert is.
        tsa_certificate = Path(tsa_certificate).expanduser().resolve()
    if float(settings["tsa_timeout"]) <= 0:
        raise ConfigError("tsa_timeout must be more than 0 seconds")
    try:
        cluster = cluster_config(settings)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if cluster is not None and make_url_backend(database_url) == "sqlite":
        raise ConfigError("a cluster (redis_url) needs database_url on PostgreSQL")
    keys_dir = Path(settings["keys_dir"]).expanduser().resolve() if settings["keys_dir"] else None
    archive_root = (
        Path(settings["archive_dir"]).expanduser().resolve() if settings["archive_dir"] else None
    )
    copies = _copies_config(settings, archive_root or data_dir / "archive")
    return AppConfig(
        data_dir=data_dir,
        host=host,
        port=port,
        store=StoreConfig(database_url=database_url),
        ice=ice,
        tls_cert=tls_cert,
        tls_key=tls_key,
        public_url=settings["public_url"],
        token_ttl_s=settings["token_ttl"],
        workers=_workers(settings["workers"]),
        pin_workers=bool(settings["pin_workers"]),
        media=MediaConfig(analysis_interval_s=float(settings["analysis_interval"])),
        warnings=_thresholds(settings),
        fees=_fee_rule(settings),
        usage_push_at=_clock(settings["usage_push_at"]),
        usage_push_days=int(settings["usage_push_days"]),
        webhooks=webhooks,
        room_cameras=tuple(cameras),
        recorder=RecorderConfig(
            segment_seconds=float(settings["segment_seconds"]),
            retention_years=settings["retention_years"],
            tsa_url=tsa_url,
            tsa_certificate=str(tsa_certificate) if tsa_certificate else None,
            tsa_timeout_s=float(settings["tsa_timeout"]),
        ),
        copies=copies,
        log_level=level,
        log_format=log_format,
        min_free_disk_gb=float(settings["min_free_disk_gb"]),
        ntp_server=settings["ntp_server"] or None,
        trusted_proxies=proxies,
        party_phases=tuple(p for p in party_phases if p != "none"),
        keys_dir=keys_dir,
        archive_root=archive_root,
        cluster=cluster,
    )


def _copies_config(settings: Mapping[str, Any], archive: Path) -> CopiesConfig:
    """The replica and the re-verification; a replica overlapping the archive is refused."""
    replica = None
    if settings["archive_replica"]:
        replica = Path(settings["archive_replica"]).expanduser().resolve()
        if replica.is_relative_to(archive) or archive.is_relative_to(replica):
            raise ConfigError("archive_replica must be a folder apart from the archive")
    try:
        return CopiesConfig(
            replica=replica,
            replica_rate_mb_s=float(settings["replica_rate"]),
            replica_retry_s=float(settings["replica_retry"]),
            reverify_days=float(settings["reverify_days"]),
            reverify_rate_mb_s=float(settings["reverify_rate"]),
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def make_url_backend(database_url: str) -> str:
    """The engine a database URL names: ``sqlite``, ``postgresql``..."""
    return database_url.split(":", 1)[0].split("+", 1)[0]


def _ice_config(settings: Mapping[str, Any], hosts: Sequence[str] | None) -> IceConfig:
    """The ICE settings: pages' servers and their credentials, announced addresses, ports."""
    secret = settings["turn_secret"] or None
    static = settings["turn_username"] is not None or settings["turn_credential"] is not None
    if secret is not None and static:
        raise ConfigError("turn_secret and turn_username/turn_credential exclude each other")
    if secret is not None and len(secret) < 16:
        raise ConfigError("turn_secret must be at least 16 characters")
    if not 10 <= settings["turn_ttl"] <= 7 * 86400:
        raise ConfigError("turn_ttl must be between 10 seconds and 7 days")
    servers = []
    for url in settings["ice_server"] or []:
        scheme = url.split(":", 1)[0]
        if scheme not in ("stun", "stuns", "turn", "turns"):
            raise ConfigError(f"ICE server URL must start with stun: or turn:, not {url}")
        turn = scheme in ("turn", "turns")
        servers.append(
            IceServer(
                urls=(url,),
                username=settings["turn_username"] if turn and secret is None else None,
                credential=settings["turn_credential"] if turn and secret is None else None,
            )
        )
    announced = []
    for entry in settings["announced_address"] or []:
        try:
            announced.append(str(ipaddress.ip_address(entry)))
        except ValueError as exc:
            raise ConfigError(f"announced_address must be an IP address, not {entry!r}") from exc
    return IceConfig(
        host_addresses=tuple(hosts or ()),
        servers=tuple(servers),
        announced_addresses=tuple(dict.fromkeys(announced)),
        port_range=_port_range(settings["media_ports"]),
        turn_secret=secret,
        turn_ttl_s=int(settings["turn_ttl"]),
    )


def _port_range(text: str | None) -> tuple[int, int] | None:
    """``LOW-HIGH`` (inclusive) to a pair; None or empty: ephemeral ports."""
    if not text:
        return None
    low, sep, high = text.partition("-")
    if not sep or not low.strip().isdigit() or not high.strip().isdigit():
        raise ConfigError(f"media_ports must be LOW-HIGH, e.g. 40000-40999, not {text!r}")
    first, last = int(low), int(high)
    if not 1024 <= first <= last <= 65535:
        raise ConfigError("media_ports must lie within 1024-65535, the lower port first")
    return first, last


def _clock(text: str | None) -> time | None:
    try:
        return parse_clock(text or "")
    except InvalidRequest as exc:
        raise ConfigError(exc.message) from exc


def _fee_rule(settings: Mapping[str, Any]) -> FeeRule:
    """The expert fee rule, from yuan to fen."""
    try:
        return FeeRule(
            base_fen=round(float(settings["fee_base"]) * 100),
            hourly_fen=round(float(settings["fee_hourly"]) * 100),
            included_hours=float(settings["fee_included_hours"]),
        )
    except InvalidRequest as exc:
        raise ConfigError(exc.message) from exc


def _thresholds(settings: Mapping[str, Any]) -> WarningThresholds:
    """The warning thresholds: the two everyday ones by name, any other as NAME=VALUE."""
    values: dict[str, float] = {
        "seat_empty_s": float(settings["seat_empty_seconds"]),
        "late_after_s": float(settings["late_minutes"]) * 60,
    }
    known = {f.name for f in fields(WarningThresholds)}
    for entry in settings["warning_threshold"] or []:
        name, sep, value = entry.partition("=")
        name = name.strip()
        if not sep or name not in known:
            raise ConfigError(
                f"warning_threshold must be NAME=VALUE with NAME one of {', '.join(sorted(known))}"
            )
        try:
            values[name] = float(value)
        except ValueError as exc:
            raise ConfigError(f"warning_threshold {name}: {value!r} is not a number") from exc
    try:
        return WarningThresholds(**values)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def _workers(value: int | None) -> int:
    if value is None:
        return os.cpu_count() or 1
    if not 0 <= value <= 256:
        raise ConfigError("workers must be between 0 and 256")
    return value


def load_config(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> AppConfig:
    """Parse configuration flags alone (tests, embedding)."""
    parser = argparse.ArgumentParser(add_help=False)
    add_config_arguments(parser)
    return build_config(resolve_settings(parser.parse_args(list(argv)), environ))
