"""A bid opening set up through REST from an empty data directory, and a bidder's browser as
Python: what the opening's tests build on."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from PIL import Image

from roomserver import sealing, signatures
from tests.integration.platform_support import Admin, iso
from tests.polling import poll_until

BIDDER_NAMES = ("辽宁甲建设集团有限公司", "沈阳乙市政工程有限公司", "大连丙水务工程有限公司")


def face_jpeg(shade: int) -> str:
    """A small JPEG standing for the picture a representative's camera takes."""
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 160, shade)).save(out, "JPEG")
    return base64.b64encode(out.getvalue()).decode("ascii")


class Bidder:
    """A bidder's browser: its token, its key and its sealed bid."""

    def __init__(self, admin: Admin, token: str, bidder_id: str, name: str) -> None:
        self.api = Admin(admin.http, admin.base_url, token)
        self.id, self.name = bidder_id, name
        self.key = sealing.new_key()

    def seal(self, lot_id: str, price: str, days: int) -> sealing.Sealed:
        plaintext = sealing.envelope(
            lot_id,
            self.id,
            {"price": price, "duration_days": days},
            "投标文件.pdf",
            "application/pdf",
            b"%PDF-1.4 " + self.name.encode() + b" %%EOF",
        )
        return sealing.seal(self.key, plaintext)

    async def submit(self, session_id: str, sealed: sealing.Sealed, expect: int = 201) -> Any:
        query = {"plaintext_sha256": sealed.plaintext_sha256, "key_sha256": sealed.key_sha256}
        return await self.api.call(
            "POST",
            f"/api/sessions/{session_id}/bids",
            expect,
            params=query,
            data=sealed.blob,
            headers={"Content-Type": "application/octet-stream"},
        )


async def person(
    admin: Admin, session_id: str, role: str, name: str, **extra: Any
) -> tuple[str, str]:
    """A person of the opening: their id and their link's bearer token."""
    person = await admin.call(
        "POST",
        f"/api/sessions/{session_id}/people",
        201,
        json={"role": role, "name": name, **extra},
    )
    link = await admin.call("POST", "/api/tokens", 201, json={"participant_id": person["id"]})
    return str(person["id"]), str(link["token"])


@dataclass
class OpeningSetUp:
    """An opening with its people: the ids and the REST callers of each."""

    session_id: str
    lot_id: str
    venue_id: str
    deadline: datetime
    host_id: str
    host: Admin
    witness_id: str
    witness: Admin
    tenderer: Admin
    bidders: list[Bidder]


async def set_up(
    admin: Admin, lead_s: float, names: tuple[str, ...] = BIDDER_NAMES
) -> OpeningSetUp:
    """A centre, its opening room, a project of one lot and the lot's opening whose deadline is
    `lead_s` seconds from now, with host, witness, tenderer and the bidders `names`."""
    centre, room = await admin.venue("沈阳", "沈阳开标室", 5, region_code="210100")
    project = await admin.project(
        centre["id"], "LN-2026-0401", "沈阳市某污水处理厂扩建工程", [("01", "第一标段")]
    )
    lot = project["lots"][0]
    deadline = datetime.now(UTC) + timedelta(seconds=lead_s)
    opening = await admin.call(
        "POST",
        f"/api/lots/{lot['id']}/opening",
        201,
        json={"venue_id": room["id"], "deadline": iso(deadline), "min_bids": 3},
    )
    sid = opening["id"]
    host_id, host_token = await person(admin, sid, "host", "李主持", venue_id=room["id"])
    _, tenderer_token = await person(admin, sid, "tenderer", "沈阳市水务局")
    witness_id, witness_token = await person(admin, sid, "witness", "钱见证")
    bidders = []
    for name in names:
        added = await admin.call("POST", f"/api/sessions/{sid}/bidders", 201, json={"name": name})
        assert "/hall?code=" in added["url"]
        link = await admin.call("POST", "/api/tokens", 201, json={"participant_id": added["id"]})
        bidders.append(Bidder(admin, link["token"], added["id"], name))
    again = admin.http, admin.base_url
    return OpeningSetUp(
        session_id=sid,
        lot_id=lot["id"],
        venue_id=room["id"],
        deadline=deadline,
        host_id=host_id,
        host=Admin(*again, host_token),
        witness_id=witness_id,
        witness=Admin(*again, witness_token),
        tenderer=Admin(*again, tenderer_token),
        bidders=bidders,
    )


async def sign_in_and_submit(setup: OpeningSetUp, offers: list[tuple[str, int]]) -> None:
    """Each bidder's representative signs in and submits a sealed bid of (price, days)."""
    sid = setup.session_id
    for b, (price, days) in zip(setup.bidders, offers, strict=True):
        await b.api.call(
            "POST",
            f"/api/sessions/{sid}/opening/sign-in",
            200,
            json={
                "representative": f"{b.name[:2]}代表",
                "id_number": "21010219800101123X",
                "picture": face_jpeg(days % 200),
            },
        )
        await b.submit(sid, b.seal(setup.lot_id, price, days))


async def run_opening_to_end(
    setup: OpeningSetUp,
    offers: list[tuple[str, int]],
    *,
    objection: tuple[str, str] | None = None,
) -> None:
    """The whole opening, each step as short as the rules allow: sign-in and submission, the
    deadline (passed by the server's clock), every key released, the read-out (with the first
    bidder's `objection` and the tenderer's answer, when given) confirmed, the record sheet put
    up and signed by host and witness, the end."""
    sid = setup.session_id
    opening = f"/api/sessions/{sid}/opening"
    await setup.host.call("POST", opening, 200, json={"kind": "open_submission"})
    await sign_in_and_submit(setup, offers)

    async def published() -> bool:
        seen = await setup.host.call("GET", opening, 200)
        return bool(seen["phase"] != "submission")

    within = (setup.deadline - datetime.now(UTC)).total_seconds() + 10
    await poll_until(published, within, "the deadline passed")
    await setup.host.call("POST", opening, 200, json={"kind": "open_decryption"})
    for b in setup.bidders:
        released = base64.b64encode(b.key).decode()
        await b.api.call("POST", f"{opening}/key", 200, json={"key": released})
    await setup.host.call("POST", opening, 200, json={"kind": "close_decryption"})
    await setup.host.call("POST", opening, 200, json={"kind": "publish_readout"})
    if objection is not None:
        text, answer = objection
        raised = await setup.bidders[0].api.call(
            "POST", f"{opening}/objections", 201, json={"text": text}
        )
        number = raised["objections"][-1]["number"]
        await setup.tenderer.call(
            "POST",
            opening,
            200,
            json={"kind": "answer_objection", "fields": {"objection": number, "answer": answer}},
        )
    for b in setup.bidders:
        await b.api.call("POST", opening, 200, json={"kind": "confirm_row"})
    sheet = await setup.host.call("POST", f"{opening}/record", 201, json={})
    record = sheet["record"]
    for api, person in ((setup.host, setup.host_id), (setup.witness, setup.witness_id)):
        key = ec.generate_private_key(ec.SECP256R1())
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        public = base64.b64encode(spki).decode()
        await api.call(
            "POST", opening, 200, json={"kind": "register_key", "fields": {"public_key": public}}
        )
        await api.call(
            "POST",
            opening,
            200,
            json={
                "kind": "sign_record",
                "fields": {
                    "record_sha256": record["sha256"],
                    "signature": record_signature(key, setup.lot_id, person, record),
                },
            },
        )
    ended = await setup.host.call("POST", opening, 200, json={"kind": "end"})
    assert ended["phase"] == "ended"


def record_signature(
    key: ec.EllipticCurvePrivateKey, lot_id: str, signer: str, record: dict[str, Any]
) -> str:
    """What the opening console's WebCrypto gives: ECDSA P-256 over the statement, r‖s."""
    statement = signatures.record_statement(lot_id, signer, record["sha256"], record["sm3"])
    r, s = decode_dss_signature(key.sign(statement, ec.ECDSA(hashes.SHA256())))
    return base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()
