"""The deployment kit's nginx configuration (``deploy/nginx/roomserver.conf``) in front of the
real server, with Debian's nginx: TLS ends at nginx, pages and the API pass, Socket.IO upgrades
to a WebSocket and stays, a body larger than nginx's default reaches the server (which answers
for itself), and ``/metrics`` never passes. Only the names, ports and certificate paths of the
file are replaced; every directive is the kit's."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import socketio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from roomserver.model import Role
from tests.integration.conftest import start_server

REPO = Path(__file__).resolve().parents[2]
KIT = REPO / "deploy" / "nginx" / "roomserver.conf"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "proxy.crt", folder / "proxy.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def nginx_binary() -> str:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        pytest.fail("nginx is not installed (.ci/run installs Debian's nginx)")
    return binary


def kit_config(folder: Path, upstream: int, https: int, http: int) -> Path:
    """The kit's site configuration with this test's ports and certificate, inside a minimal
    nginx.conf whose files all stay in `folder`."""
    cert, key = self_signed(folder)
    site = KIT.read_text()
    for old, new in (
        ("127.0.0.1:8080", f"127.0.0.1:{upstream}"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;"),
        ("listen [::]:443 ssl http2;", ""),
        ("listen 80;", f"listen 127.0.0.1:{http};"),
        ("listen [::]:80;", ""),
        ("/etc/letsencrypt/live/pb.example.cn/fullchain.pem", str(cert)),
        ("/etc/letsencrypt/live/pb.example.cn/privkey.pem", str(key)),
    ):
        assert old in site, f"the kit no longer has {old!r}"
        site = site.replace(old, new)
    (folder / "site.conf").write_text(site)
    main = folder / "nginx.conf"
    main.write_text(
        f"""
        worker_processes 1;
        pid {folder}/nginx.pid;
        error_log {folder}/error.log warn;
        events {{ worker_connections 256; }}
        http {{
            access_log {folder}/access.log;
            client_body_temp_path {folder}/body;
            proxy_temp_path {folder}/proxy;
            include {folder}/site.conf;
        }}
        """
    )
    return main


@pytest.fixture
def nginx(tmp_path: Path, nginx_binary: str) -> Iterator[tuple[Path, int, int]]:
    """A started nginx with the kit's site in front of port `upstream` (chosen here)."""
    upstream, https, http = free_port(), free_port(), free_port()
    conf = kit_config(tmp_path, upstream, https, http)
    checked = subprocess.run(
        [nginx_binary, "-t", "-c", str(conf)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen([nginx_binary, "-c", str(conf), "-g", "daemon off;"])
    try:
        yield conf, upstream, https
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_the_kits_nginx_passes_pages_api_and_websockets_but_not_metrics(
    tmp_path: Path, nginx: tuple[Path, int, int]
) -> None:
    _, upstream, https = nginx
    public = f"https://127.0.0.1:{https}"
    test_server, server = await start_server(
        tmp_path / "data", "--public-url", public, "--trusted-proxy", "127.0.0.1", port=upstream
    )
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE  # the test's own self-signed certificate
    try:
        connector = aiohttp.TCPConnector(ssl=insecure)
        async with aiohttp.ClientSession(connector=connector) as http:
            async with http.get(f"{public}/seat") as r:
                assert r.status == 200 and "text/html" in r.content_type
            async with http.get(f"{public}/readyz") as r:
                assert r.status == 200
            async with http.get(f"{public}/metrics") as r:
                assert r.status == 404  # the proxy answers; the server is never asked
            # 2 MB: past nginx's default limit of 1 MB, so the server's own refusal comes back.
            async with http.post(f"{public}/api/login", data=b"x" * 2_000_000) as r:
                assert r.status == 413
                assert r.content_type == "application/problem+json"

        host = server.participant(Role.HOST)
        client = socketio.AsyncClient(reconnection=False, ssl_verify=False)
        hello: asyncio.Future[dict[str, object]] = asyncio.get_running_loop().create_future()
        client.on(
            "hello", lambda data: hello.done() or hello.set_result(data), namespace="/console"
        )
        await client.connect(
            public,
            namespaces=["/console"],
            auth={"token": server.token(host)},
            headers={"Origin": public},
            transports=["websocket"],
            wait_timeout=10,
        )
        try:
            assert client.transport() == "websocket"
            greeting = await asyncio.wait_for(hello, 10)
            assert greeting
        finally:
            await client.disconnect()
    finally:
        await test_server.close()
