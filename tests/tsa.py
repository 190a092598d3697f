"""A time-stamping authority on loopback for the tests: OpenSSL's ``openssl ts -reply`` behind a
small aiohttp handler, in a thread of its own so that synchronous code can ask it too.

    with LocalTsa(tmp_path / "tsa") as tsa:
        seal_part(..., tsa=Tsa.from_files(tsa.url, tsa.certificate, 5.0))

Its certificate is self-signed (EC P-256) with the critical extended key usage timeStamping
that RFC 3161 asks for. ``stop_answering()`` makes it close connections without an answer;
``closed_url()`` is a URL where nothing listens.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import socket
import subprocess
import threading
from pathlib import Path
from types import TracebackType

from aiohttp import web

CONFIG = """\
[ tsa ]
default_tsa = tsa_config1

[ tsa_config1 ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.156.1.1
other_policies = 1.2.156.1.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def openssl() -> str:
    """The openssl command; the tests that need a TSA fail, not skip, without it."""
    path = shutil.which("openssl")
    assert path is not None, "the tests need OpenSSL 3's openssl command (.ci/run installs it)"
    return path


KEYS = {"ec": ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"], "rsa": ["rsa:2048"]}


def make_tsa_certificate(
    folder: Path, name: str = "Test TSA", key_type: str = "ec"
) -> tuple[Path, Path]:
    """A self-signed time-stamping certificate and its key in `folder`: (tsa.pem, tsa.key)."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "tsa.pem", folder / "tsa.key"
    subprocess.run(
        [
            openssl(),
            "req",
            "-x509",
            "-newkey",
            *KEYS[key_type],
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "3650",
            "-subj",
            f"/CN={name}",
            "-addext",
            "extendedKeyUsage=critical,timeStamping",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def closed_url() -> str:
    """An http URL on loopback where nothing listens (the connection is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/tsa"


class LocalTsa:
    """An RFC 3161 TSA on 127.0.0.1 answering with ``openssl ts -reply``."""

    def __init__(self, folder: Path, *, name: str = "Test TSA", key_type: str = "ec") -> None:
        self.folder = folder
        self.certificate, _key = make_tsa_certificate(folder, name, key_type)
        (folder / "serial").write_text("01\n")
        self._config = folder / "tsa.cnf"
        self._config.write_text(CONFIG.format(dir=folder))
        self.url = ""
        self.answered = 0
        self._answering = True
        self._names = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    async def _reply(self, request: web.Request) -> web.StreamResponse:
        if not self._answering:
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        n = next(self._names)
        query, reply = self.folder / f"q{n}.tsq", self.folder / f"r{n}.tsr"
        query.write_bytes(await request.read())
        proc = await asyncio.create_subprocess_exec(
            openssl(),
            "ts",
            "-reply",
            "-config",
            str(self._config),
            "-queryfile",
            str(query),
            "-out",
            str(reply),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _out, err = await proc.communicate()
        if proc.returncode != 0:
            return web.Response(status=500, text=err.decode(errors="replace"))
        self.answered += 1
        return web.Response(body=reply.read_bytes(), content_type="application/timestamp-reply")

    def stop_answering(self) -> None:
        """From now on, close every connection without an answer (a TSA that is down)."""
        self._answering = False

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        app = web.Application()
        app.router.add_post("/tsa", self._reply)
        self._runner = web.AppRunner(app)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/tsa"
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    def start(self) -> LocalTsa:
        """Serve until stop(); returns when the URL answers."""
        self._thread = threading.Thread(target=self._serve, name="local-tsa", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the local TSA did not start")
        return self

    def stop(self) -> None:
        """Stop serving; safe to call twice."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> LocalTsa:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
