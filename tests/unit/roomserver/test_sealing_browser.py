"""The browser's sealing (web/lib/seal.js, run by Node's WebCrypto) and the server's opening
(roomserver.sealing) agree, both ways."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from roomserver import sealing
from roomserver.errors import DigestMismatch, KeyMismatch

SEAL_JS = (Path(__file__).parents[3] / "web" / "lib" / "seal.js").as_uri()
LOT, BIDDER = "LN-2026-0042-1", "b1"
FIELDS = {"price": "98765432.10", "duration_days": 540}
DOCUMENT = bytes(range(256)) * 300 + "附件：资格证明".encode()

# Reads its input as JSON on stdin, answers JSON on stdout.
SEAL = f"""
import {{ envelope, exportRawKey, makeKey, sealBid, toBase64, fromBase64 }} from "{SEAL_JS}";
const input = JSON.parse(await new Response(process.stdin).text());
const key = await makeKey();
const plaintext = envelope({{
  lot: input.lot, bidder: input.bidder, fields: input.fields,
  file: {{ name: input.name, type: input.type, bytes: fromBase64(input.data) }},
}});
const sealed = await sealBid(key, plaintext);
process.stdout.write(JSON.stringify({{
  blob: toBase64(sealed.sealed), key: toBase64(await exportRawKey(key)),
  plaintext_sha256: sealed.plaintext_sha256, key_sha256: sealed.key_sha256,
}}));
"""
OPEN = f"""
import {{ importRawKey, openBid, toBase64, fromBase64 }} from "{SEAL_JS}";
const input = JSON.parse(await new Response(process.stdin).text());
const opened = await openBid(await importRawKey(fromBase64(input.key)), fromBase64(input.blob));
process.stdout.write(JSON.stringify({{
  header: opened.header, file: toBase64(opened.file), plaintext_sha256: opened.plaintext_sha256,
}}));
"""


def node(script: str, given: dict[str, Any]) -> dict[str, Any]:
    executable = shutil.which("node")
    assert executable is not None, "Node.js is part of the set-up (make install needs it)"
    done = subprocess.run(
        [executable, "--input-type=module", "-e", script],
        input=json.dumps(given),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def sealed_in_the_browser() -> dict[str, Any]:
    given = {
        "lot": LOT,
        "bidder": BIDDER,
        "fields": FIELDS,
        "name": "投标文件（商务标）.pdf",
        "type": "application/pdf",
        "data": base64.b64encode(DOCUMENT).decode(),
    }
    return node(SEAL, given)


def test_a_bid_sealed_in_the_browser_opens_on_the_server() -> None:
    browser = sealed_in_the_browser()
    blob, key = base64.b64decode(browser["blob"]), base64.b64decode(browser["key"])
    record = sealing.record_submission(blob, browser["plaintext_sha256"], browser["key_sha256"])
    assert record.key_sha256 == hashlib.sha256(key).hexdigest()
    bid = sealing.open_seal(blob, key, record, lot=LOT, bidder=BIDDER)
    assert bid.fields == FIELDS
    assert (bid.file_name, bid.media_type) == ("投标文件（商务标）.pdf", "application/pdf")
    assert bid.data == DOCUMENT
    assert bid.plaintext_sha256 == browser["plaintext_sha256"]
    # Its commitments bind it: another key or another digest is refused.
    with pytest.raises(KeyMismatch):
        sealing.open_seal(blob, bytes(32), record, lot=LOT, bidder=BIDDER)
    other = sealing.record_submission(blob, "0" * 64, browser["key_sha256"])
    with pytest.raises(DigestMismatch):
        sealing.open_seal(blob, key, other, lot=LOT, bidder=BIDDER)


def test_a_bid_sealed_on_the_server_opens_in_the_browser() -> None:
    key = sealing.new_key()
    plaintext = sealing.envelope(LOT, BIDDER, FIELDS, "技术标.pdf", "application/pdf", DOCUMENT)
    sealed = sealing.seal(key, plaintext)
    given = {"blob": base64.b64encode(sealed.blob).decode(), "key": base64.b64encode(key).decode()}
    browser = node(OPEN, given)
    assert browser["header"] == {
        "format": "roomserver-bid/1",
        "lot": LOT,
        "bidder": BIDDER,
        "fields": FIELDS,
        "file": {"name": "技术标.pdf", "type": "application/pdf", "size": len(DOCUMENT)},
    }
    assert base64.b64decode(browser["file"]) == DOCUMENT
    assert browser["plaintext_sha256"] == sealed.plaintext_sha256
