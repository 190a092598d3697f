"""A lot's bid opening through REST, from an empty data directory: the centre sets it up with
three bidders, who sign in and submit sealed bids before the deadline; the server's clock
publishes the list at the deadline; at decryption two bidders' keys open their bids and the
third reports that it cannot decrypt, which the host accepts with the backup copy's fields;
the read-out is published, one bidder objects and the tenderer answers; the record sheet the
server makes is signed by host and witness, and the opening ends with its archive sealed and
verified. What each role sees follows the disclosure rules, and bad input is refused with its
reason and logged."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from recorder.verify import verify_archive
from roomserver import signatures
from signaling.gate.tokens import TokenIssuer
from signaling.http.api import SERVICES
from tests.integration.opening_support import face_jpeg, set_up, sign_in_and_submit
from tests.integration.platform_support import Admin, iso
from tests.polling import poll_until

# The deadline is this far after the set-up; everything before it runs in well under a second.
LEAD_S = 5.0
# A bidder's objection may come with a PDF (kept as it came, whatever is inside).
OBJECTION_PDF = b"%PDF-1.4\n% objection evidence\n%%EOF\n"


async def test_three_bidders_from_submission_to_the_answered_objection(
    empty_server: tuple[TestServer, Any, TokenIssuer],
) -> None:
    server, _, tokens = empty_server
    base_url = str(server.make_url("")).rstrip("/")
    store = server.app[SERVICES].store
    async with aiohttp.ClientSession() as http:
        admin = Admin(http, base_url, tokens.issue_admin())
        setup = await set_up(admin, LEAD_S)
        sid, lot_id, deadline = setup.session_id, setup.lot_id, setup.deadline
        # A lot has one opening.
        await admin.call(
            "POST",
            f"/api/lots/{lot_id}/opening",
            400,
            json={"venue_id": setup.venue_id, "deadline": iso(deadline)},
        )
        host, witness, tenderer = setup.host, setup.witness, setup.tenderer
        host_id, witness_id = setup.host_id, setup.witness_id
        bidders = setup.bidders
        first, second, third = bidders
        await host.call(
            "POST", f"/api/sessions/{sid}/opening", 200, json={"kind": "open_submission"}
        )
        await sign_in_and_submit(
            setup, [("12345678.90", 365), ("11800000", 300), ("13000000.5", 400)]
        )

        # Before the deadline a bidder sees itself only; the tenderer sees nobody; the host all.
        seen = await first.api.call("GET", f"/api/sessions/{sid}/opening", 200)
        assert [row["bidder"] for row in seen["bidders"]] == [first.id]
        assert seen["submitted_count"] is None
        assert (await tenderer.call("GET", f"/api/sessions/{sid}/opening", 200))["bidders"] == []
        hosted = await host.call("GET", f"/api/sessions/{sid}/opening", 200)
        assert {row["status"] for row in hosted["bidders"]} == {"submitted"}
        # A bidder cannot act for another.
        refused = await first.api.call(
            "POST",
            f"/api/sessions/{sid}/opening",
            403,
            json={"kind": "confirm_row", "fields": {"bidder": second.id}},
        )
        assert refused["code"] == "role_not_allowed"

        # The server's clock publishes the list at the deadline.
        async def published() -> bool:
            seen = await host.call("GET", f"/api/sessions/{sid}/opening", 200)
            return bool(seen["phase"] == "published")

        within = (deadline - datetime.now(UTC)).total_seconds() + 10
        await poll_until(published, within, "the deadline published the bidders")
        late = await third.submit(sid, third.seal(lot_id, "1", 1), expect=409)
        assert late["code"] == "deadline_passed"
        late_sign_in = await third.api.call(
            "POST",
            f"/api/sessions/{sid}/opening/sign-in",
            409,
            json={
                "representative": "迟到代表",
                "id_number": "21010219800101123X",
                "picture": face_jpeg(7),
            },
        )
        assert late_sign_in["code"] == "deadline_passed"
        public = await tenderer.call("GET", f"/api/sessions/{sid}/opening", 200)
        assert [row["name"] for row in public["bidders"]] == [b.name for b in bidders]
        assert public["submitted_count"] == 3

        # Decryption: two keys open their bids, a wrong key is refused, the third reports.
        await host.call(
            "POST", f"/api/sessions/{sid}/opening", 200, json={"kind": "open_decryption"}
        )
        wrong = await first.api.call(
            "POST",
            f"/api/sessions/{sid}/opening/key",
            400,
            json={"key": base64.b64encode(second.key).decode()},
        )
        assert wrong["code"] == "key_mismatch"
        for b in (first, second):
            after = await b.api.call(
                "POST",
                f"/api/sessions/{sid}/opening/key",
                200,
                json={"key": base64.b64encode(b.key).decode()},
            )
            mine = next(row for row in after["bidders"] if row["bidder"] == b.id)
            assert mine["status"] == "decrypted"
        again = await first.api.call(
            "POST",
            f"/api/sessions/{sid}/opening/key",
            409,
            json={"key": base64.b64encode(first.key).decode()},
        )
        assert "重复" in again["detail"]
        await third.api.call(
            "POST",
            f"/api/sessions/{sid}/opening",
            200,
            json={"kind": "report_failure", "fields": {"reason": "CA锁损坏，无法读取密钥文件"}},
        )
        await host.call(
            "POST",
            f"/api/sessions/{sid}/opening",
            200,
            json={
                "kind": "handle_failure",
                "fields": {
                    "bidder": third.id,
                    "decision": "accepted",
                    "handling": "经核实系设备故障，使用备份投标文件开标",
                    "fields": {"price": "13000000.5", "duration_days": 400},
                },
            },
        )
        closed = await host.call(
            "POST", f"/api/sessions/{sid}/opening", 200, json={"kind": "close_decryption"}
        )
        assert closed["valid"] == [b.id for b in bidders]
        read = await host.call(
            "POST", f"/api/sessions/{sid}/opening", 200, json={"kind": "publish_readout"}
        )
        prices = [row["fields"][0] for row in read["readout"]]
        assert prices[0]["figures"] == "¥12,345,678.90"
        assert prices[0]["capitals"] == "壹仟贰佰叁拾肆万伍仟陆佰柒拾捌元玖角"

        # One objection, answered by the tenderer; the objecting bidder sees the answer, another
        # bidder does not see it.
        await second.api.call(
            "POST",
            f"/api/sessions/{sid}/opening/objections",
            201,
            json={
                "text": "第三家投标人解密失败的处理依据是什么？",
                "attachment": base64.b64encode(OBJECTION_PDF).decode(),
                "attachment_type": "application/pdf",
            },
        )
        # Its PDF: for the bidder who raised it and for those who answer; no other bidder's.
        attachment = f"{base_url}/api/sessions/{sid}/opening/objections/1/attachment"
        for api, status in ((second.api, 200), (tenderer, 200), (first.api, 404)):
            async with http.get(attachment, headers=api.headers) as r:
                assert r.status == status
                if status == 200:
                    assert r.content_type == "application/pdf"
                    assert await r.read() == OBJECTION_PDF
        await tenderer.call(
            "POST",
            f"/api/sessions/{sid}/opening",
            200,
            json={
                "kind": "answer_objection",
                "fields": {"objection": 1, "answer": "依据招标文件第三章第十条，备份文件有效。"},
            },
        )
        mine = await second.api.call("GET", f"/api/sessions/{sid}/opening", 200)
        assert mine["objections"][0]["answer"].startswith("依据招标文件")
        others = await first.api.call("GET", f"/api/sessions/{sid}/opening", 200)
        assert others["objections"] == []
        for b in bidders:
            await b.api.call(
                "POST", f"/api/sessions/{sid}/opening", 200, json={"kind": "confirm_row"}
            )

        # The record sheet, made by the server, signed by host and witness; then the end.
        sheet = await host.call("POST", f"/api/sessions/{sid}/opening/record", 201, json={})
        record = sheet["record"]
        async with http.get(
            f"{base_url}/api/sessions/{sid}/opening/record", headers=tenderer.headers
        ) as r:
            pdf = await r.read()
            assert r.status == 200 and pdf.startswith(b"%PDF")
        assert hashlib.sha256(pdf).hexdigest() == record["sha256"]
        for api, person in ((host, host_id), (witness, witness_id)):
            key = ec.generate_private_key(ec.SECP256R1())
            spki = key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            await api.call(
                "POST",
                f"/api/sessions/{sid}/opening",
                200,
                json={
                    "kind": "register_key",
                    "fields": {"public_key": base64.b64encode(spki).decode()},
                },
            )
            statement = signatures.record_statement(lot_id, person, record["sha256"], record["sm3"])
            r_s = decode_dss_signature(key.sign(statement, ec.ECDSA(hashes.SHA256())))
            raw = r_s[0].to_bytes(32, "big") + r_s[1].to_bytes(32, "big")
            await api.call(
                "POST",
                f"/api/sessions/{sid}/opening",
                200,
                json={
                    "kind": "sign_record",
                    "fields": {
                        "record_sha256": record["sha256"],
                        "signature": base64.b64encode(raw).decode(),
                    },
                },
            )
        ended = await host.call("POST", f"/api/sessions/{sid}/opening", 200, json={"kind": "end"})
        assert ended["phase"] == "ended" and ended["session"]["state"] == "ended"
        # The hall stays readable once ended; nothing more is taken.
        await first.api.call(
            "POST", f"/api/sessions/{sid}/opening", 409, json={"kind": "confirm_row"}
        )

    events = [e.kind for e in await store.list_events(sid)]
    assert events.count("request_refused") >= 4  # acting for another, late, wrong key, again
    # The end seals the archive; a request refused afterwards is in the server's log only.
    ended_at = events.index("session_ended")
    assert events[ended_at + 1 :] == ["recording_sealed", "request_refused"]
    # The archive holds every document the opening cites (the face pictures, the sealed bids,
    # the keys and the bids' files, the record sheet), and it verifies.
    folder = server.app[SERVICES].config.archive_dir / sid
    verdict = verify_archive(folder)
    assert verdict.ok, verdict.differences
    # What a refused command brought (a late bid, a late sign-in's picture) is not kept.
    suffixes = sorted(p.suffix for p in (folder / "documents").iterdir())
    assert suffixes.count(".sealed") == 3 and suffixes.count(".key") == 2
    assert suffixes.count(".jpg") == 3 and ".pdf" in suffixes
    assert not [note for note in verdict.notes if "no event cites" in note]
