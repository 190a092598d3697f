"""Configuration: flags over environment over TOML, validated once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from signaling.config import ConfigError, load_config, turn_rest_credential


def test_defaults_are_the_embedded_server_on_loopback() -> None:
    config = load_config([], environ={})
    assert (config.host, config.port) == ("127.0.0.1", 8080)
    assert config.data_dir == Path("./var").resolve()
    assert config.store.database_url.startswith("sqlite+aiosqlite:///")
    assert config.ice.host_addresses == ("127.0.0.1",)  # loopback bind offers loopback only
    assert config.base_url == "http://127.0.0.1:8080"


def test_flags_beat_environment_beat_toml(tmp_path: Path) -> None:
    toml = tmp_path / "rs.toml"
    toml.write_text(
        'bind = "0.0.0.0:9000"\nlog_level = "DEBUG"\ntoken_ttl = 60\n'
        'ice_server = ["stun:stun.example.cn:3478"]\n',
        encoding="utf-8",
    )
    env = {"ROOMSERVER_BIND": "0.0.0.0:9100", "ROOMSERVER_TOKEN_TTL": "120"}
    config = load_config(["--config", str(toml), "--token-ttl", "300"], environ=env)
    assert config.port == 9100  # env over TOML
    assert config.token_ttl_s == 300  # flag over env
    assert config.log_level == "DEBUG"  # TOML over default
    assert config.ice.servers[0].urls == ("stun:stun.example.cn:3478",)
    assert config.ice.host_addresses == ()  # not loopback: aioice's own choice


def test_turn_credentials_and_announced_address() -> None:
    config = load_config(
        [
            "--bind",
            "0.0.0.0:443",
            "--ice-server",
            "turn:turn.example.cn:3478?transport=udp",
            "--turn-username",
            "u",
            "--turn-credential",
            "p",
            "--announced-address",
            "203.0.113.7",
            "--ice-host",
            "eth0,10.0.0.5",
            "--public-url",
            "https://pb.example.cn/",
        ],
        environ={},
    )
    assert config.ice.servers[0].as_json() == {
        "urls": ["turn:turn.example.cn:3478?transport=udp"],
        "username": "u",
        "credential": "p",
    }
    assert config.ice.announced_addresses == ("203.0.113.7",)
    assert config.ice.host_addresses == ("eth0", "10.0.0.5")
    assert config.base_url == "https://pb.example.cn"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--bind", "nowhere"], "HOST:PORT"),
        (["--bind", "1.2.3.4:99999"], "port"),
        (["--tls-cert", "a.pem"], "together"),
        (["--log-level", "LOUD"], "log_level"),
        (["--ice-server", "http://x"], "stun:"),
        (["--token-ttl", "0"], "positive"),
        (["--warning-threshold", "nonsense=3"], "NAME=VALUE"),
        (["--warning-threshold", "dark_s=soon"], "not a number"),
        (["--warning-threshold", "dark_s=-1"], "dark_s"),
        (["--room-camera", "rtsp://no-venue"], "VENUE_ID="),
        (["--analysis-interval", "90"], "analysis_interval"),
        (["--webhook-retry-first", "0"], "retry"),
        (["--webhook-retry-first", "60", "--webhook-retry-max", "5"], "retry"),
        (["--trusted-proxy", "the-proxy"], "trusted_proxy"),
        (["--log-format", "xml"], "log_format"),
        (["--min-free-disk-gb", "-1"], "min_free_disk_gb"),
        (["--data-dir", "/srv/rs", "--archive-replica", "/srv/rs/archive/copy"], "apart"),
        (["--data-dir", "/srv/rs", "--archive-replica", "/srv"], "apart"),
        (["--reverify-days", "0"], "reverify_days"),
        (["--reverify-rate", "-5"], "reverify_rate"),
        (["--replica-retry", "1"], "replica_retry"),
    ],
)
def test_bad_settings_are_refused_with_the_reason(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(argv, environ={})


def test_unknown_or_broken_toml_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("colour = 'red'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown settings"):
        load_config(["--config", str(bad)], environ={})
    bad.write_text("bind = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config([], environ={"ROOMSERVER_CONFIG": str(bad)})


def test_warning_thresholds_and_room_cameras_are_configuration() -> None:
    config = load_config(
        [
            "--seat-empty-seconds",
            "45",
            "--late-minutes",
            "10",
            "--warning-threshold",
            "dark_s=8",
            "--warning-threshold",
            "camera_down_s=20",
            "--room-camera",
            "v1=rtsp://admin:pw@10.1.2.3/stream1",
        ],
        environ={"ROOMSERVER_ANALYSIS_INTERVAL": "2"},
    )
    t = config.warnings
    assert (t.seat_empty_s, t.late_after_s, t.dark_s, t.camera_down_s) == (45, 600, 8, 20)
    assert config.media.analysis_interval_s == 2.0
    assert [(c.venue_id, c.url) for c in config.room_cameras] == [
        ("v1", "rtsp://admin:pw@10.1.2.3/stream1")
    ]


SECRET = "a-shared-secret-of-the-centre"


def test_turn_rest_credential_is_coturns_hmac() -> None:
    # The value `openssl dgst -sha1 -hmac SECRET -binary | base64` gives for the username.
    assert turn_rest_credential(SECRET, "1700000000:p-1234") == "icKlhT+t/CulSVXkKkM97s8825o="


def test_with_a_secret_each_page_gets_turn_credentials_of_its_own() -> None:
    config = load_config(
        [
            "--ice-server",
            "stun:stun.example.cn:3478",
            "--ice-server",
            "turns:turn.example.cn:443?transport=tcp",
            "--turn-secret",
            SECRET,
            "--turn-ttl",
            "600",
        ],
        environ={},
    )
    assert SECRET not in repr(config)
    grant = config.ice.grant("p-1234", now=1_700_000_000.7)
    stun, turn = grant.servers
    assert stun.username is None and stun.credential is None
    assert turn.username == "1700000600:p-1234"
    assert turn.credential == turn_rest_credential(SECRET, "1700000600:p-1234")
    assert grant.expires_at == 1_700_000_600
    assert grant.renew_in_s == 600 - 120  # a fifth of the life before it ends
    other = config.ice.grant("p-5678", now=1_700_000_000)
    assert other.servers[1].credential != turn.credential
    # A subject that is not plain ASCII is named by a digest of it.
    supervisor = config.ice.grant("supervisor:省监督", now=1_700_000_000).servers[1]
    assert supervisor.username is not None
    assert re.fullmatch(r"1700000600:h[0-9a-f]{20}", supervisor.username)
    # The workers know neither the servers nor the secret.
    assert config.ice.for_workers().servers == () and config.ice.for_workers().turn_secret is None


def test_without_a_secret_the_static_turn_credentials_are_everybodys() -> None:
    config = load_config(
        [
            "--ice-server",
            "turn:turn.example.cn:3478",
            "--turn-username",
            "u",
            "--turn-credential",
            "p",
        ],
        environ={},
    )
    grant = config.ice.grant("p-1234", now=1_700_000_000)
    assert grant.as_json() == {
        "ice_servers": [
            {"urls": ["turn:turn.example.cn:3478"], "username": "u", "credential": "p"}
        ],
        "ice_expires_at": None,
        "ice_renew_in_s": None,
    }


def test_announced_addresses_and_the_media_port_range() -> None:
    config = load_config(
        [
            "--announced-address",
            "203.0.113.7,2001:db8::7",
            "--announced-address",
            "203.0.113.7",
            "--media-ports",
            "40000-40999",
        ],
        environ={},
    )
    assert config.ice.announced_addresses == ("203.0.113.7", "2001:db8::7")
    assert config.ice.port_range == (40000, 40999)
    toml = load_config([], environ={"ROOMSERVER_ANNOUNCED_ADDRESS": "198.51.100.2"})
    assert toml.ice.announced_addresses == ("198.51.100.2",)
    assert toml.ice.port_range is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--turn-secret", SECRET, "--turn-username", "u"], "exclude"),
        (["--turn-secret", "short"], "16 characters"),
        (["--turn-secret", SECRET, "--turn-ttl", "5"], "turn_ttl"),
        (["--announced-address", "pb.example.cn"], "IP address"),
        (["--media-ports", "40000"], "LOW-HIGH"),
        (["--media-ports", "41000-40000"], "lower port first"),
        (["--media-ports", "80-90"], "1024-65535"),
    ],
)
def test_bad_ice_settings_are_refused(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(argv, environ={})


def test_the_replica_and_the_re_verification_are_configuration(tmp_path: Path) -> None:
    config = load_config(["--data-dir", str(tmp_path / "data")], environ={})
    assert config.copies.replica is None
    assert (config.copies.reverify_days, config.copies.reverify_rate_mb_s) == (30.0, 20.0)
    toml = tmp_path / "roomserver.toml"
    toml.write_text('archive_replica = ""\n', encoding="utf-8")
    assert load_config(["--config", str(toml)], environ={}).copies.replica is None
    config = load_config(
        ["--data-dir", str(tmp_path / "data"), "--reverify-days", "7.5"],
        environ={
            "ROOMSERVER_ARCHIVE_REPLICA": str(tmp_path / "mnt" / "replica"),
            "ROOMSERVER_REPLICA_RATE": "0",
            "ROOMSERVER_REPLICA_RETRY": "60",
        },
    )
    assert config.copies.replica == tmp_path / "mnt" / "replica"
    assert config.copies.replica_rate_mb_s == 0.0 and config.copies.replica_retry_s == 60.0
    assert config.copies.reverify_days == 7.5
