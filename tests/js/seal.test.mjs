// Sealed bids in the browser: sealed under the bidder's key, opened only with it, the key kept
// in a key file and read back.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";

import {
  BID_FORMAT,
  envelope,
  exportRawKey,
  fromBase64,
  importRawKey,
  keyFileName,
  keyFileText,
  makeKey,
  openBid,
  readKeyFile,
  sealBid,
  sha256Hex,
  toBase64,
  toHex,
} from "../../web/lib/seal.js";

const sha256 = (/** @type {Uint8Array} */ bytes) => createHash("sha256").update(bytes).digest("hex");
const document = new Uint8Array(70000).map((_, i) => (i * 7) % 256);
const bid = {
  lot: "LN-2026-0042-1",
  bidder: "b1",
  fields: { price: "12345678.90", duration_days: 365 },
  file: { name: "投标文件.pdf", type: "application/pdf", bytes: document },
};

test("the envelope: its JSON header, a newline, the file's bytes", () => {
  const bytes = envelope(bid);
  const end = bytes.indexOf(0x0a);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(bytes.subarray(0, end))), {
    format: BID_FORMAT,
    lot: bid.lot,
    bidder: "b1",
    fields: bid.fields,
    file: { name: "投标文件.pdf", type: "application/pdf", size: 70000 },
  });
  assert.deepEqual(bytes.subarray(end + 1), document);
});

test("a sealed bid opens with its key to what was committed, and says nothing without it", async () => {
  const key = await makeKey();
  const plaintext = envelope(bid);
  const sealed = await sealBid(key, plaintext);
  assert.equal(sealed.sealed.length, 12 + plaintext.length + 16);
  assert.equal(sealed.plaintext_sha256, sha256(plaintext));
  assert.equal(sealed.key_sha256, sha256(await exportRawKey(key)));
  const text = new TextDecoder("latin1").decode(sealed.sealed);
  assert.ok(!text.includes("roomserver-bid") && !text.includes("12345678.90"));
  const opened = await openBid(key, sealed.sealed);
  assert.deepEqual(opened.header.fields, bid.fields);
  assert.deepEqual(opened.file, document);
  assert.equal(opened.plaintext_sha256, sealed.plaintext_sha256);
  // A fresh IV each time.
  assert.notDeepEqual((await sealBid(key, plaintext)).sealed, sealed.sealed);
});

test("another key or a changed ciphertext does not open", async () => {
  const key = await makeKey();
  const { sealed } = await sealBid(key, envelope(bid));
  await assert.rejects(openBid(await makeKey(), sealed), /密钥不对，或密文已被改动/);
  const changed = sealed.slice();
  changed[40] ^= 1;
  await assert.rejects(openBid(key, changed), /密文已被改动/);
});

test("the key file keeps the key and gives it back, for this lot and bidder only", async () => {
  const key = await makeKey();
  const raw = await exportRawKey(key);
  const { sealed, key_sha256 } = await sealBid(key, envelope(bid));
  const text = await keyFileText({ lot: bid.lot, bidder: "b1", raw });
  const back = await readKeyFile(text, { lot: bid.lot, bidder: "b1", keySha256: key_sha256 });
  assert.deepEqual(back.raw, raw);
  assert.equal(back.key_sha256, key_sha256);
  assert.deepEqual((await openBid(back.key, sealed)).file, document);
  await assert.rejects(readKeyFile(text, { lot: bid.lot, bidder: "b2" }), /不属于本标段或本投标人/);
  await assert.rejects(readKeyFile(text, { lot: bid.lot, bidder: "b1", keySha256: "0".repeat(64) }), /不是递交投标文件时登记的密钥/);
  await assert.rejects(readKeyFile("{}", { lot: bid.lot, bidder: "b1" }), /不是投标密钥文件/);
  const broken = text.replace(/"key": "(.)/, (_, c) => `"key": "${c === "A" ? "B" : "A"}`);
  await assert.rejects(readKeyFile(broken, { lot: bid.lot, bidder: "b1" }), /密钥文件已损坏/);
  assert.equal(keyFileName("LN/2026 1", "b1"), "投标密钥-LN_2026_1-b1.json");
});

test("bytes, hex and base64", async () => {
  const bytes = new Uint8Array([0, 1, 254, 255]);
  assert.equal(toHex(bytes), "0001feff");
  assert.deepEqual(fromBase64(toBase64(bytes)), bytes);
  const big = new Uint8Array(100000).map((_, i) => i % 256);
  assert.deepEqual(fromBase64(toBase64(big)), big);
  assert.equal(await sha256Hex(new Uint8Array()), sha256(new Uint8Array()));
  await assert.rejects(importRawKey(new Uint8Array(16)), /32 字节/);
});
