"""A whole session through the real app, as short as the standard allows: seats with cameras,
identity pictures and check-in, commitment letters, signing keys, the leader's election, the
report put up and signed by every expert, the end instruction, and an archive that verifies.
Tests use it to show that a server (after a fuzz, say) still runs a session to its end."""

from __future__ import annotations

import base64
import io
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from PIL import Image, ImageDraw

from media.testing.synthetic import CounterVideoTrack
from recorder.verify import verify_archive
from roomserver import signatures
from roomserver.model import Participant, SessionState
from signaling.testing.seat import SyntheticSeat
from tests import polling
from tests.integration.conftest import RunningServer

REPORT_PDF = b"%PDF-1.4\n% evaluation report\n1 0 obj <<>> endobj\n%%EOF\n"


def handwriting_png() -> str:
    """A handwritten signature as the seat page's canvas gives it: a PNG data URL."""
    out = io.BytesIO()
    Image.new("RGBA", (200, 80), (0, 0, 0, 255)).save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


class Actor:
    """One participant's REST calls with their own token (and, for an expert, a signing key)."""

    def __init__(
        self, http: aiohttp.ClientSession, server: RunningServer, who: Participant
    ) -> None:
        self.http, self.who = http, who
        self.token = server.token(who)
        self.headers = {"Authorization": f"Bearer {self.token}"}
        self.base = f"{server.base_url}/api/sessions/{who.session_id}"
        self.key = ec.generate_private_key(ec.SECP256R1())

    async def do(self, kind: str, /, **fields: Any) -> tuple[int, dict[str, Any]]:
        """A workflow command; its status and answer, whatever they are."""
        body = {"kind": kind, "fields": fields}
        async with self.http.post(f"{self.base}/workflow", json=body, headers=self.headers) as r:
            return r.status, await r.json()

    async def ok(self, kind: str, /, **fields: Any) -> dict[str, Any]:
        """A workflow command that must be accepted."""
        status, answer = await self.do(kind, **fields)
        assert status == 200, (self.who.name, kind, answer)
        return answer

    async def post(self, path: str, data: bytes | None = None) -> dict[str, Any]:
        headers = {**self.headers, "Content-Type": "application/pdf"} if data else self.headers
        async with self.http.post(self.base + path, headers=headers, data=data) as r:
            answer = await r.json()
            assert r.status in (200, 201), (self.who.name, path, answer)
            return answer

    def public_key(self) -> str:
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()

    def signature(self, sha256: str, sm3: str) -> str:
        message = signatures.statement(self.who.session_id, self.who.id, sha256, sm3)
        r, s = decode_dss_signature(self.key.sign(message, ec.ECDSA(hashes.SHA256())))
        return base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()


async def run_whole_session(
    server: RunningServer,
    session_id: str,
    experts: list[Participant],
    host: Participant,
    staff: Participant,
    during_evaluation: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Run the session from check-in to the end instruction; its archive must verify.

    `staff` checks the experts in (the host could too); every expert sits in a seat of the
    main venue with a camera. `during_evaluation` runs once the leader is elected, before the
    report is put up.
    """
    async with AsyncExitStack() as stack:
        for i, expert in enumerate(experts):
            await stack.enter_async_context(
                SyntheticSeat(
                    server.base_url,
                    server.token(expert),
                    camera=CounterVideoTrack(((60 + 40 * i) % 256, 90, 160)),
                    decode=False,
                    name=f"flow-seat-{i}",
                )
            )
        http = await stack.enter_async_context(aiohttp.ClientSession())
        chair, checker = Actor(http, server, host), Actor(http, server, staff)
        members = [Actor(http, server, e) for e in experts]
        await chair.ok("open_check_in")
        media = server.media(session_id)
        assert media is not None and media.analysis is not None
        analysis = media.analysis
        await polling.wait_until(
            lambda: all(analysis.has_picture(f"{e.venue_id}:{e.seat_no}") for e in experts),
            15,
            "every seat's camera picture",
        )
        for member in members:
            await checker.post(f"/identity/{member.who.id}")
            await checker.ok("check_in", expert=member.who.id)
            await member.ok("commit", no_conflict=True)
            await member.ok("register_key", public_key=member.public_key())
        await chair.ok("start_election", tie_rule="lot")
        leader = members[0]
        for member in members:
            body = await member.ok("cast_ballot", candidate=leader.who.id)
        assert body["state"]["leader"] == leader.who.id
        if during_evaluation is not None:
            await during_evaluation()
        body = await leader.post("/report", REPORT_PDF)
        report = body["state"]["report"]
        for member in members:
            # Each expert reads the report before signing it, as the seat page does.
            async with http.get(f"{member.base}/report", headers=member.headers) as r:
                assert r.status == 200 and await r.read() == REPORT_PDF
            await member.ok(
                "sign",
                report_sha256=report["sha256"],
                signature=member.signature(report["sha256"], report["sm3"]),
                handwriting_png=handwriting_png(),
            )
        body = await chair.ok("end")
        assert body["state"]["phase"] == "ended"
    store = server.services.store
    assert (await store.get_session(session_id)).state == SessionState.ENDED
    readers = {e.actor for e in await store.list_events(session_id) if e.kind == "report_read"}
    assert readers == {e.id for e in experts}
    verdict = verify_archive(server.config.archive_dir / session_id)
    assert verdict.ok, verdict.differences


def handwriting(name: str) -> str:
    """A handwritten signature as the seat page's canvas gives it: a PNG data URL."""
    image = Image.new("RGBA", (400, 150), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    draw.line([(20, 100), (120, 40), (200, 110), (380, 30)], fill=(0, 0, 0, 255), width=4)
    draw.text((20, 120), name.encode("unicode_escape").decode(), fill=(0, 0, 0, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def secret_files(server: RunningServer, session_id: str) -> list[str]:
    """The session's ballot keys and seed still kept in ``secrets/ballots/``."""
    directory = server.config.secrets_dir / "ballots"
    return sorted(p.name for p in directory.glob(f"{session_id}-*")) if directory.is_dir() else []
