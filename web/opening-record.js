// @ts-check
// The opening record sheet (开标记录表) in the opening console (opening.js): the PDF the server
// made, shown once this browser has checked its SHA-256 against the one the opening names;
// host and witness register a signing key and sign; the host puts up a new sheet after a
// change, and ends the opening once both have signed.
//
// The signing key is an ECDSA P-256 pair made in this browser (WebCrypto, not extractable) and
// kept in its IndexedDB, as the experts' key at their seat; the server gets the public key and
// the signature (r‖s, base64) of the statement roomserver.signatures.record_statement names.

import { $ } from "/static/lib/dom.js";
import { messageOf } from "/static/lib/errors.js";
import { signingPair } from "/static/lib/keystore.js";
import { recordStatement } from "/static/lib/opening.js";
import { showRecord, signedByText } from "/static/lib/openingparts.js";
import { toBase64 } from "/static/lib/seal.js";

const KEYS_DB = "roomserver-signing-keys";

/**
 * @typedef {import("/static/lib/wire").OpeningView} OpeningView
 * @typedef {ReturnType<typeof import("/static/lib/opening.js").openingCalls>} Calls
 * @typedef {(kind: string, fields?: Record<string, unknown>, errorBox?: HTMLElement | null) => Promise<boolean>} Command
 */

export class RecordPart {
  /**
   * @param {{ me: { id: string, role: string }, sessionId: string, calls: Calls, command: Command, act: (action: () => Promise<OpeningView>, errorBox?: HTMLElement | null) => Promise<boolean> }} console
   */
  constructor({ me, sessionId, calls, command, act }) {
    this.me = me;
    this.sessionId = sessionId;
    this.calls = calls;
    this.command = command;
    this.act = act;
    /** @type {OpeningView | null} */
    this.view = null;
    /** The SHA-256 of the sheet this browser loaded and checked, and of the one being loaded. */
    this.checked = "";
    this.loading = "";
    /** Whether this page registered this browser's key (a key registered elsewhere is replaced). */
    this.registered = false;
    this.signing = false;
    this.wire();
  }

  /** @param {OpeningView} view */
  render(view) {
    this.view = view;
    const sha = view.record.sha256;
    $("#record-card").hidden = !sha;
    if (!sha) return;
    $("#record-sha256").textContent = sha;
    $("#record-sm3").textContent = view.record.sm3 || "";
    $("#record-signed").textContent = signedByText(view);
    if (sha !== this.checked && sha !== this.loading) this.load(view);
    const signing = view.phase === "signing";
    const mine = view.record.signed_by.some((s) => s.signer === this.me.id);
    const known = view.keys.includes(this.me.id);
    $("#key-state").textContent = this.registered ? "已登记（本浏览器生成，私钥不出本机）" : known ? "已登记" : "未登记";
    $("#register-key").hidden = !signing || mine || this.registered;
    const sign = $("#sign-record", HTMLButtonElement);
    sign.hidden = !signing && !mine;
    sign.disabled = !signing || mine || this.checked !== sha || view.paused || this.signing;
    sign.textContent = mine ? "已签署" : "签署开标记录表";
    const host = this.me.role === "host";
    $("#put-up-again").hidden = !host || !signing;
    const roles = new Set(view.record.signed_by.map((s) => s.role));
    const end = $("#end-opening", HTMLButtonElement);
    end.hidden = !host || !signing;
    end.disabled = !(roles.has("host") && roles.has("witness")) || view.paused;
  }

  /** @param {OpeningView} view */
  async load(view) {
    const sha = /** @type {string} */ (view.record.sha256);
    this.loading = sha;
    $("#record-check").textContent = "正在下载开标记录表并核对摘要…";
    try {
      await showRecord($("#record-frame", HTMLIFrameElement), this.calls, view);
      this.checked = sha;
      $("#record-check").textContent = "已在本机核对：下载的开标记录表与公布的 SHA-256 一致。";
      $("#record-frame").hidden = false;
    } catch (err) {
      $("#record-check").textContent = messageOf(err);
    } finally {
      this.loading = "";
      if (this.view) this.render(this.view);
    }
  }

  /** This browser's signing key for the opening, registered with the server. */
  async register() {
    const pair = await signingPair(KEYS_DB, `opening:${this.sessionId}:${this.me.id}`);
    const spki = toBase64(new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey)));
    if (await this.command("register_key", { public_key: spki }, $("#record-error"))) this.registered = true;
    return pair;
  }

  async sign() {
    const view = /** @type {OpeningView} */ (this.view);
    const { sha256, sm3 } = view.record;
    if (!sha256 || !sm3 || this.checked !== sha256) { $("#record-error").textContent = "请先完成开标记录表的下载与核对"; return; }
    this.signing = true;
    try {
      // Registered once per page load: a key registered from another browser is replaced by
      // the key this browser signs with.
      const pair = this.registered ? await signingPair(KEYS_DB, `opening:${this.sessionId}:${this.me.id}`) : await this.register();
      if (!this.registered) return;
      const text = recordStatement(view.lot_id, this.me.id, sha256, sm3);
      const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey, new TextEncoder().encode(text));
      await this.command("sign_record", { record_sha256: sha256, signature: toBase64(new Uint8Array(signature)) }, $("#record-error"));
    } catch (err) {
      $("#record-error").textContent = messageOf(err);
    } finally {
      this.signing = false;
      if (this.view) this.render(this.view);
    }
  }

  wire() {
    $("#register-key").addEventListener("click", () => this.register().catch((err) => { $("#record-error").textContent = messageOf(err); }));
    $("#sign-record").addEventListener("click", () => this.sign());
    $("#put-up-again").addEventListener("click", () => this.act(() => this.calls.putUpRecord(true), $("#record-error")));
    $("#end-opening").addEventListener("click", () => this.command("end", {}, $("#record-error")));
  }
}
