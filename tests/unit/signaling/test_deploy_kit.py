"""The deployment kit's files say what the server reads: the annotated configuration names
every option, loads as it is, and every example it leaves commented out loads too; the seat
computers' Chromium policy grants the server's own origin and nothing else."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

from signaling.config import OPTIONS, load_config

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
ANNOTATED = DEPLOY / "roomserver.toml"
# `# name = value` lines: the options the file shows with their example value.
CLUSTER = (
    "redis_url",
    "node_id",
    "node_centres",
    "node_capacity",
    "node_rooms",
    "heartbeat",
    "node_dead_after",
)
PG = "postgresql+asyncpg://roomserver@10.0.0.5/roomserver"
EXAMPLE = re.compile(r"^# ?([a-z_]+) = (.+)$", re.MULTILINE)


def test_the_annotated_configuration_names_every_option() -> None:
    text = ANNOTATED.read_text()
    named = {m.group(1) for m in re.finditer(r"^#? ?([a-z_]+) = ", text, re.MULTILINE)}
    assert set(OPTIONS) - named == set(), "options the annotated file does not show"
    assert named - set(OPTIONS) == set(), "settings the server does not know"


def test_the_annotated_configuration_and_each_commented_example_load(tmp_path: Path) -> None:
    config = load_config(["--config", str(ANNOTATED)], environ={})
    assert config.public_url == "https://pb.example.cn"
    assert config.trusted_proxies == ("127.0.0.1",)
    examples = dict(m.groups() for m in EXAMPLE.finditer(ANNOTATED.read_text()))
    assert examples, "no commented examples found"
    for name, value in examples.items():
        path = tmp_path / f"{name}.toml"
        path.write_text(f"{name} = {value}\n")
        tomllib.loads(path.read_text())  # each example is TOML on its own
        settings = ["--config", str(path)]
        if name in ("tls_cert", "tls_key"):  # these two only go together
            settings = ["--tls-cert", "/etc/a.pem", "--tls-key", "/etc/b.pem"]
        if name in ("tsa_url", "tsa_certificate"):  # and so do these
            settings = ["--tsa-url", "http://tsa.example.cn/", "--tsa-certificate", "/etc/t.pem"]
        if name in CLUSTER:  # a node of a cluster: on PostgreSQL, with Redis
            settings += ["--database-url", PG, "--redis-url", "redis://10.0.0.5:6379/0"]
        load_config(settings, environ={})


def test_the_seat_policy_grants_the_servers_origin_only() -> None:
    policy = json.loads((DEPLOY / "chromium" / "roomserver-seat.json").read_text())
    config = load_config(["--config", str(ANNOTATED)], environ={})
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(config.public_url or ""))
    for grant in (
        "VideoCaptureAllowedUrls",
        "AudioCaptureAllowedUrls",
        "ScreenCaptureAllowedByOrigins",
        "AutoplayAllowlist",
    ):
        assert policy[grant] == [origin], grant
    assert policy["URLBlocklist"] == ["*"] and policy["URLAllowlist"] == [origin]
