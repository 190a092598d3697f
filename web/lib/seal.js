// @ts-check
// Sealed bids in the bidder's browser (密封投标文件; the server's side is roomserver/sealing.py).
//
// The bidder's page makes an AES-256-GCM key here and keeps it: the bidder downloads it as a key
// file (keyFileText, keyFileName) and the page may keep the CryptoKey in IndexedDB; the server
// never sees it before the opening. The bid is an envelope, format roomserver-bid/1: a UTF-8
// JSON header (lot, bidder, the opening fields the lot defines, the file's name, media type and
// byte length), a newline, then the file's bytes. sealBid encrypts it with a random 96-bit IV
// and gives what is submitted: the sealed blob (IV ‖ ciphertext ‖ tag), the SHA-256 of the
// envelope and the SHA-256 of the raw key. At decryption the page reads the key back (from
// IndexedDB or readKeyFile) and releases exportRawKey's bytes. openBid lets the page check,
// before submitting, that its sealed bid opens to what it means to submit. Pure: no DOM.

export const BID_FORMAT = "roomserver-bid/1";
export const KEY_FILE_FORMAT = "roomserver-bid-key/1";
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const NEWLINE = 0x0a;

/**
 * A bid's opening fields (money and decimals as strings of figures, integers as numbers), its
 * file, the header as the envelope carries it, and what is submitted.
 * @typedef {Record<string, string | number>} BidFields
 * @typedef {{ name: string, type: string, bytes: Uint8Array<ArrayBuffer> }} BidFile
 * @typedef {{ format: string, lot: string, bidder: string, fields: BidFields, file: { name: string, type: string, size: number } }} BidHeader
 * @typedef {{ sealed: Uint8Array<ArrayBuffer>, plaintext_sha256: string, key_sha256: string }} SealedBid
 */

/**
 * Bytes as lower-case hex.
 * @param {ArrayBuffer | Uint8Array} bytes
 */
export function toHex(bytes) {
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Bytes as base64.
 * @param {Uint8Array} bytes
 */
export function toBase64(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

/**
 * The bytes of a base64 text.
 * @param {string} text
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function fromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) {
    bytes[i] = binary.charCodeAt(i);
  }
  return bytes;
}

/**
 * SHA-256 of bytes, lower-case hex.
 * @param {Uint8Array<ArrayBuffer>} bytes
 */
export async function sha256Hex(bytes) {
  return toHex(await crypto.subtle.digest("SHA-256", bytes));
}

/** A fresh AES-256-GCM key; extractable, since its raw bytes are released at the opening. */
export async function makeKey() {
  return crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, true, ["encrypt", "decrypt"]);
}

/**
 * The raw 32 bytes of a key: what the key file keeps and what is released at decryption.
 * @param {CryptoKey} key
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
export async function exportRawKey(key) {
  return new Uint8Array(await crypto.subtle.exportKey("raw", key));
}

/**
 * The key of raw bytes.
 * @param {Uint8Array<ArrayBuffer>} raw
 */
export async function importRawKey(raw) {
  if (raw.length !== KEY_BYTES) {
    throw new Error(`密钥应为 ${KEY_BYTES} 字节`);
  }
  return crypto.subtle.importKey("raw", raw, { name: "AES-GCM" }, true, ["encrypt", "decrypt"]);
}

/**
 * The envelope of a bid: its JSON header, a newline, the file's bytes.
 * @param {{ lot: string, bidder: string, fields: BidFields, file: BidFile }} bid
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function envelope({ lot, bidder, fields, file }) {
  /** @type {BidHeader} */
  const header = { format: BID_FORMAT, lot, bidder, fields, file: { name: file.name, type: file.type, size: file.bytes.length } };
  const head = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(head.length + 1 + file.bytes.length);
  out.set(head, 0);
  out[head.length] = NEWLINE;
  out.set(file.bytes, head.length + 1);
  return out;
}

/**
 * Seal an envelope under the bidder's key; the IV is random unless given (tests).
 * @param {CryptoKey} key
 * @param {Uint8Array<ArrayBuffer>} plaintext
 * @param {Uint8Array<ArrayBuffer>} [iv]
 * @returns {Promise<SealedBid>}
 */
export async function sealBid(key, plaintext, iv = crypto.getRandomValues(new Uint8Array(IV_BYTES))) {
  if (iv.length !== IV_BYTES) {
    throw new Error(`IV 应为 ${IV_BYTES} 字节`);
  }
  const ciphertext = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, plaintext));
  const sealed = new Uint8Array(IV_BYTES + ciphertext.length);
  sealed.set(iv, 0);
  sealed.set(ciphertext, IV_BYTES);
  return {
    sealed,
    plaintext_sha256: await sha256Hex(plaintext),
    key_sha256: await sha256Hex(await exportRawKey(key)),
  };
}

/**
 * Open a sealed bid with its key: the header and the file's bytes. Throws with the reason if
 * the key is not the one, the blob was changed, or the envelope is malformed.
 * @param {CryptoKey} key
 * @param {Uint8Array<ArrayBuffer>} sealed
 * @returns {Promise<{ header: BidHeader, file: Uint8Array<ArrayBuffer>, plaintext_sha256: string }>}
 */
export async function openBid(key, sealed) {
  if (sealed.length < IV_BYTES + TAG_BYTES) {
    throw new Error("密文过短");
  }
  /** @type {Uint8Array<ArrayBuffer>} */
  let plaintext;
  try {
    const iv = sealed.slice(0, IV_BYTES);
    plaintext = new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv }, key, sealed.slice(IV_BYTES)));
  } catch {
    throw new Error("密钥不对，或密文已被改动");
  }
  const end = plaintext.indexOf(NEWLINE);
  if (end < 0) {
    throw new Error("投标文件封装不完整：缺少封装头后的换行");
  }
  /** @type {BidHeader} */
  const header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(plaintext.subarray(0, end)));
  if (header?.format !== BID_FORMAT) {
    throw new Error(`投标文件封装格式应为 ${BID_FORMAT}`);
  }
  const file = plaintext.slice(end + 1);
  if (header.file?.size !== file.length) {
    throw new Error("投标文件长度与封装头不符");
  }
  return { header, file, plaintext_sha256: await sha256Hex(plaintext) };
}

/**
 * The name of a bid's key file: lot and bidder, with anything unsafe in a file name replaced.
 * @param {string} lot
 * @param {string} bidder
 */
export function keyFileName(lot, bidder) {
  const safe = (/** @type {string} */ s) => s.replace(/[^\p{L}\p{N}._-]+/gu, "_");
  return `投标密钥-${safe(lot)}-${safe(bidder)}.json`;
}

/**
 * The key file the bidder downloads and keeps until the opening.
 * @param {{ lot: string, bidder: string, raw: Uint8Array<ArrayBuffer> }} what
 */
export async function keyFileText({ lot, bidder, raw }) {
  const file = { format: KEY_FILE_FORMAT, lot, bidder, key: toBase64(raw), key_sha256: await sha256Hex(raw) };
  return `${JSON.stringify(file, null, 2)}\n`;
}

/**
 * The key of a key file, checked: its format, that it is this lot's and this bidder's, and, if
 * given, that it is the key committed to at submission.
 * @param {string} text
 * @param {{ lot: string, bidder: string, keySha256?: string }} expected
 * @returns {Promise<{ raw: Uint8Array<ArrayBuffer>, key: CryptoKey, key_sha256: string }>}
 */
export async function readKeyFile(text, { lot, bidder, keySha256 }) {
  /** @type {any} */
  let file;
  try {
    file = JSON.parse(text);
  } catch {
    throw new Error("不是投标密钥文件");
  }
  if (file?.format !== KEY_FILE_FORMAT || typeof file.key !== "string") {
    throw new Error("不是投标密钥文件");
  }
  if (file.lot !== lot || file.bidder !== bidder) {
    throw new Error("该密钥文件不属于本标段或本投标人");
  }
  /** @type {Uint8Array<ArrayBuffer>} */
  let raw;
  try {
    raw = fromBase64(file.key);
  } catch {
    throw new Error("密钥文件已损坏");
  }
  const digest = await sha256Hex(raw);
  if (raw.length !== KEY_BYTES || digest !== file.key_sha256) {
    throw new Error("密钥文件已损坏");
  }
  if (keySha256 !== undefined && digest !== keySha256) {
    throw new Error("该密钥不是递交投标文件时登记的密钥");
  }
  return { raw, key: await importRawKey(raw), key_sha256: digest };
}
