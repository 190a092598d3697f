// @ts-check
// A bidder's own part of the hall (hall.js): the representative's sign-in with a picture taken
// from the camera, the bid sealed in this browser and its key, and decryption.
//
// The bid's key is an AES-256-GCM key made here (web/lib/seal.js). The server is sent the sealed
// blob and the SHA-256 of the envelope and of the key: nothing it can read. The key is kept in
// this browser's IndexedDB and downloaded at once as a key file, the bidder's to keep; at
// decryption the bidder releases it, from this browser or from the key file, and the server
// opens the seal then. A bid submitted again uses the key this browser keeps, so that the key
// file already saved stays the one.

import { $, el } from "/static/lib/dom.js";
import { mediaErrorText, messageOf } from "/static/lib/errors.js";
import { keepKey, storedKey } from "/static/lib/keystore.js";
import { DECISION_LABELS, STATUS_LABELS, STATUS_TONES, fieldValues, moneyPreview, unitOf } from "/static/lib/opening.js";
import {
  envelope, exportRawKey, keyFileName, keyFileText, makeKey, openBid, readKeyFile, sealBid, sha256Hex, toBase64,
} from "/static/lib/seal.js";
import { formatTime } from "/static/lib/time.js";

const KEYS_DB = "roomserver-bid-keys";
const ID_NUMBER = /^[0-9]{17}[0-9Xx]$/;
const BEFORE_DEADLINE = new Set(["scheduled", "submission"]);

/**
 * @typedef {import("/static/lib/wire").Me} Me
 * @typedef {import("/static/lib/wire").OpeningView} OpeningView
 * @typedef {import("/static/lib/wire").OpeningBidder} OpeningBidder
 * @typedef {ReturnType<typeof import("/static/lib/opening.js").openingCalls>} Calls
 * @typedef {(action: () => Promise<OpeningView>, errorBox?: HTMLElement | null) => Promise<boolean>} Act
 */

/** @param {string | null | undefined} iso */
const at = (iso) => (iso ? formatTime(new Date(iso)) : "");

/**
 * @param {HTMLElement} pill
 * @param {string} text
 * @param {string} tone
 */
function setPill(pill, text, tone) {
  pill.textContent = text;
  pill.className = `pill ${tone}`;
  pill.hidden = !text;
}

export class BidderPart {
  /**
   * @param {{ me: Me, calls: Calls, act: Act, showBanner: (text: string) => void }} hall
   */
  constructor({ me, calls, act, showBanner }) {
    this.me = me;
    this.calls = calls;
    this.act = act;
    this.showBanner = showBanner;
    /** @type {OpeningView | null} */
    this.view = null;
    /** @type {MediaStream | null} */
    this.camera = null;
    /** @type {Blob | null} the face picture taken, before it is sent */
    this.picture = null;
    this.signingAgain = false;
    this.submittingAgain = false;
    /** @type {CryptoKey | null} the bid key this browser keeps for the lot */
    this.key = null;
    this.fieldsBuilt = false;
    this.busy = false;
    $("#mine").hidden = false;
    $("#mine-name").textContent = me.name;
    this.wire();
  }

  /** The bidder's row of the view (its own, with everything it may see of itself). */
  own() {
    const view = /** @type {OpeningView} */ (this.view);
    return view.bidders.find((b) => b.bidder === this.me.participant_id) || null;
  }

  /** Where the bid key is kept in this browser: one per lot and bidder. */
  keyName() {
    return `${/** @type {OpeningView} */ (this.view).lot_id}:${this.me.participant_id}`;
  }

  /** @param {OpeningView} view */
  render(view) {
    const first = this.view === null;
    this.view = view;
    if (first) this.loadKey();
    if (!this.fieldsBuilt) this.buildFields(view);
    const own = this.own();
    const open = view.phase === "submission" && !view.paused;
    $("#mine-waiting").hidden = view.phase !== "scheduled";
    this.renderSignIn(own, open);
    this.renderBid(own, open);
    this.renderDecrypt(own);
  }

  // ---- sign-in ------------------------------------------------------------------------------

  /**
   * @param {OpeningBidder | null} own
   * @param {boolean} open
   */
  renderSignIn(own, open) {
    const signed = Boolean(own?.signed_in_at);
    setPill($("#sign-in-state"), signed ? "已签到" : BEFORE_DEADLINE.has(/** @type {OpeningView} */ (this.view).phase) ? "未签到" : "未签到，已截止", signed ? "ok" : "idle");
    const done = $("#sign-in-done");
    done.hidden = !signed;
    done.textContent = signed ? `代表 ${own?.representative} 已于 ${at(own?.signed_in_at)} 签到，签到照片已存档。` : "";
    const showForm = open && (!signed || this.signingAgain);
    $("#sign-in-form").hidden = !showForm;
    $("#sign-in-cancel").hidden = !signed;
    $("#sign-in-again").hidden = !(open && signed && !this.signingAgain);
    if (!showForm) this.stopCamera();
  }

  async startCamera() {
    const video = $("video[data-role=self]", HTMLVideoElement);
    $("#sign-in-error").textContent = "";
    try {
      this.camera = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    } catch (err) {
      $("#sign-in-error").textContent = mediaErrorText(err, "摄像头");
      return;
    }
    video.srcObject = this.camera;
    video.hidden = false;
    $("#face-picture").hidden = true;
    $("#camera-placeholder").hidden = true;
    $("#camera-start").hidden = true;
    $("#camera-shoot").hidden = false;
    $("#camera-again").hidden = true;
  }

  stopCamera() {
    for (const track of this.camera?.getTracks() || []) track.stop();
    this.camera = null;
  }

  /** Take the picture from the camera as a JPEG and show it before it is sent. */
  async shoot() {
    const video = $("video[data-role=self]", HTMLVideoElement);
    if (!video.videoWidth) { $("#sign-in-error").textContent = "摄像头画面尚未就绪，请稍候再拍"; return; }
    const canvas = el("canvas", { width: video.videoWidth, height: video.videoHeight });
    /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d")).drawImage(video, 0, 0);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
    if (!blob) { $("#sign-in-error").textContent = "拍照失败，请重拍"; return; }
    this.picture = /** @type {Blob} */ (blob);
    this.stopCamera();
    const img = $("#face-picture", HTMLImageElement);
    if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
    img.src = URL.createObjectURL(this.picture);
    img.hidden = false;
    video.hidden = true;
    $("#camera-shoot").hidden = true;
    $("#camera-again").hidden = false;
    $("#sign-in-submit", HTMLButtonElement).disabled = false;
  }

  /** @param {HTMLFormElement} form */
  async signIn(form) {
    const error = $("#sign-in-error");
    const representative = /** @type {HTMLInputElement} */ (form.elements.namedItem("representative")).value.trim();
    const idNumber = /** @type {HTMLInputElement} */ (form.elements.namedItem("id_number")).value.trim().toUpperCase();
    if (!representative) { error.textContent = "请填写投标人代表姓名"; return; }
    if (!ID_NUMBER.test(idNumber)) { error.textContent = "身份证号应为 18 位（最后一位可为 X）"; return; }
    if (!this.picture) { error.textContent = "请先拍摄签到照片"; return; }
    const picture = toBase64(new Uint8Array(await this.picture.arrayBuffer()));
    const ok = await this.act(() => this.calls.signIn({ representative, id_number: idNumber, picture }), error);
    if (ok) {
      this.signingAgain = false;
      this.picture = null;
      $("#sign-in-submit", HTMLButtonElement).disabled = true;
      $("#face-picture").hidden = true;
      $("#camera-placeholder").hidden = false;
      $("#camera-start").hidden = false;
      $("#camera-again").hidden = true;
      this.render(/** @type {OpeningView} */ (this.view));
    }
  }

  // ---- the sealed bid -----------------------------------------------------------------------

  /** The lot's opening fields as inputs; a price shows its capitals as it is typed. */
  /** @param {OpeningView} view */
  buildFields(view) {
    const box = $("#bid-fields");
    box.replaceChildren(...view.fields.map((spec) => {
      const input = el("input", {
        name: `field-${spec.name}`, dataset: { field: spec.name }, autocomplete: "off", required: true,
        inputmode: spec.kind === "money" || spec.kind === "decimal" ? "decimal" : spec.kind === "integer" ? "numeric" : undefined,
        placeholder: spec.kind === "money" ? "如 12345678.90" : "",
      });
      const hint = el("div", { class: "field-hint", dataset: { hint: spec.name } });
      const error = el("div", { class: "form-error", dataset: { error: spec.name } });
      if (spec.kind === "money") {
        input.addEventListener("input", () => {
          const shown = moneyPreview(input.value);
          hint.textContent = shown ? `${shown.figures}　大写：${shown.capitals}` : "";
        });
      }
      const unit = unitOf(spec) || (spec.kind === "money" ? "元" : "");
      return el("div", { class: "bid-field" },
        el("label", { class: "field" }, el("span", {}, spec.label), input, unit ? el("span", { class: "unit" }, unit) : null),
        hint, error);
    }));
    this.fieldsBuilt = true;
  }

  /**
   * @param {OpeningBidder | null} own
   * @param {boolean} open
   */
  renderBid(own, open) {
    const submitted = Boolean(own?.submitted_at);
    const phase = /** @type {OpeningView} */ (this.view).phase;
    const late = !BEFORE_DEADLINE.has(phase);
    setPill($("#bid-state"), submitted ? "已递交" : late ? "未递交" : "", submitted ? "ok" : late ? "bad" : "idle");
    const done = $("#bid-done");
    done.hidden = !submitted && !late;
    done.replaceChildren();
    if (submitted) {
      done.append(`已于 ${at(own?.submitted_at)} 递交加密的投标文件`, el("span", { class: "muted" }, `（密文 SHA-256 ${own?.blob_sha256?.slice(0, 16)}…）`));
      if (open && !this.submittingAgain) {
        const again = el("button", { class: "btn btn-small", type: "button", id: "bid-again" }, "重新递交（替换）");
        again.addEventListener("click", () => { this.submittingAgain = true; this.render(/** @type {OpeningView} */ (this.view)); });
        done.append(" ", again);
      }
    } else if (late) {
      done.textContent = "投标截止前未递交投标文件。";
    }
    $("#bid-form").hidden = !open || (submitted && !this.submittingAgain);
    $("#bid-submit").textContent = submitted ? "加密并重新递交" : "加密并递交";
    // The key box stays while the key is still needed: until it is released at decryption.
    const needed = submitted && this.key && !own?.released_at && !["decrypted", "read_out", "signing", "ended"].includes(phase);
    $("#key-box").hidden = !needed;
  }

  async loadKey() {
    try {
      this.key = (await storedKey(KEYS_DB, this.keyName())) || null;
    } catch {
      this.key = null; // no IndexedDB here (a private window): the key file is the only copy
    }
    if (this.key) await this.showFingerprint(this.key);
    if (this.view) this.render(this.view);
  }

  /** @param {CryptoKey} key */
  async showFingerprint(key) {
    const digest = await sha256Hex(await exportRawKey(key));
    $("#key-fingerprint").textContent = `密钥指纹 ${digest.slice(0, 16)}…`;
  }

  /** @param {HTMLFormElement} form */
  async submitBid(form) {
    if (this.busy) return;
    const view = /** @type {OpeningView} */ (this.view);
    const error = $("#bid-error");
    const progress = $("#bid-progress");
    error.textContent = "";
    /** @type {Record<string, string>} */
    const typed = {};
    for (const spec of view.fields) typed[spec.name] = /** @type {HTMLInputElement} */ (form.elements.namedItem(`field-${spec.name}`)).value;
    const { values, errors } = fieldValues(view.fields, typed);
    for (const spec of view.fields) $(`[data-error="${spec.name}"]`).textContent = errors[spec.name] || "";
    if (Object.keys(errors).length) { error.textContent = "请先改正上面标出的开标内容"; return; }
    const file = $("#bid-file", HTMLInputElement).files?.[0];
    if (!file) { error.textContent = "请选择投标文件"; return; }
    this.busy = true;
    $("#bid-submit", HTMLButtonElement).disabled = true;
    try {
      progress.textContent = "正在本机加密…";
      const key = this.key || (await makeKey());
      const bytes = new Uint8Array(await file.arrayBuffer());
      const plaintext = envelope({
        lot: view.lot_id, bidder: this.me.participant_id, fields: values,
        file: { name: file.name, type: file.type || "application/octet-stream", bytes },
      });
      const sealed = await sealBid(key, plaintext);
      // Check here that the sealed bid opens, with this key, to what is meant to be submitted.
      const opened = await openBid(key, sealed.sealed);
      if (opened.plaintext_sha256 !== sealed.plaintext_sha256) throw new Error("加密自检未通过，请重试");
      try {
        await keepKey(KEYS_DB, this.keyName(), key);
      } catch {
        // No IndexedDB (a private window): the key file downloaded below is the only copy.
      }
      this.key = key;
      progress.textContent = "正在递交密文…";
      const ok = await this.act(() => this.calls.submitBid(sealed.sealed, sealed.plaintext_sha256, sealed.key_sha256), error);
      if (ok) {
        this.submittingAgain = false;
        await this.showFingerprint(key);
        this.render(/** @type {OpeningView} */ (this.view));
        await this.downloadKey();
      }
    } catch (err) {
      error.textContent = messageOf(err);
    } finally {
      progress.textContent = "";
      this.busy = false;
      $("#bid-submit", HTMLButtonElement).disabled = false;
    }
  }

  /** Offer the key file for download: the bidder keeps it until the opening. */
  async downloadKey() {
    if (!this.key) return;
    const view = /** @type {OpeningView} */ (this.view);
    const text = await keyFileText({ lot: view.lot_id, bidder: this.me.participant_id, raw: await exportRawKey(this.key) });
    const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
    const link = el("a", { href: url, download: keyFileName(view.lot_id, this.me.name), hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }

  // ---- decryption ---------------------------------------------------------------------------

  /** @param {OpeningBidder | null} own */
  renderDecrypt(own) {
    const view = /** @type {OpeningView} */ (this.view);
    const status = own?.status || "absent";
    const decrypting = view.phase === "decryption";
    const submitted = Boolean(own?.submitted_at);
    const after = ["key_released", "decrypted", "decryption_failed", "failure_reported", "accepted", "rejected"].includes(status);
    setPill($("#decrypt-state"), after ? STATUS_LABELS[status] : "", STATUS_TONES[status] || "idle");
    $("#decrypt-waiting").hidden = !["scheduled", "submission", "published"].includes(view.phase) || (!submitted && view.phase === "published");
    const done = $("#decrypt-done");
    done.hidden = !after;
    done.textContent = this.decryptText(own);
    // A key not yet released, or a seal the server could not open: the bidder may still report.
    $("#decrypt-actions").hidden = !(decrypting && !view.paused && (status === "submitted" || status === "decryption_failed"));
    $("#release-stored").hidden = !this.key || status !== "submitted";
    $("#key-file-button").hidden = status !== "submitted";
  }

  /** @param {OpeningBidder | null} own */
  decryptText(own) {
    if (!own) return "";
    switch (own.status) {
      case "key_released": return `已于 ${at(own.released_at)} 提交密钥，正在解密…`;
      case "decrypted": return `解密成功：密钥于 ${at(own.released_at)} 提交，投标文件已打开，开标内容在唱标时公布。`;
      case "decryption_failed": return `解密失败：${own.refused}`;
      case "failure_reported": return `已报告解密失败：${own.failure}。请等待主持人处理。`;
      case "accepted":
      case "rejected":
        return `主持人处理结果：${DECISION_LABELS[own.status]}${own.handling ? `（${own.handling}）` : ""}`;
      default: return "";
    }
  }

  /**
   * Release the key's raw bytes; the server opens the seal at once.
   * @param {Uint8Array<ArrayBuffer>} raw
   */
  async release(raw) {
    const ok = await this.act(() => this.calls.releaseKey(toBase64(raw)), $("#decrypt-error"));
    if (ok) this.render(/** @type {OpeningView} */ (this.view));
  }

  async releaseStored() {
    if (!this.key) return;
    await this.release(await exportRawKey(this.key));
  }

  /** @param {File} file */
  async releaseFile(file) {
    const view = /** @type {OpeningView} */ (this.view);
    try {
      const { raw } = await readKeyFile(await file.text(), { lot: view.lot_id, bidder: this.me.participant_id });
      await this.release(raw);
    } catch (err) {
      $("#decrypt-error").textContent = messageOf(err);
    }
  }

  // ---- wiring -------------------------------------------------------------------------------

  wire() {
    $("#camera-start").addEventListener("click", () => this.startCamera());
    $("#camera-again").addEventListener("click", () => this.startCamera());
    $("#camera-shoot").addEventListener("click", () => this.shoot());
    $("#sign-in-form").addEventListener("submit", (e) => { e.preventDefault(); this.signIn(/** @type {HTMLFormElement} */ (e.target)); });
    $("#sign-in-again").addEventListener("click", () => { this.signingAgain = true; this.render(/** @type {OpeningView} */ (this.view)); });
    $("#sign-in-cancel").addEventListener("click", () => { this.signingAgain = false; this.render(/** @type {OpeningView} */ (this.view)); });
    $("#bid-form").addEventListener("submit", (e) => { e.preventDefault(); this.submitBid(/** @type {HTMLFormElement} */ (e.target)); });
    $("#key-download").addEventListener("click", () => this.downloadKey().catch((err) => this.showBanner(messageOf(err))));
    $("#release-stored").addEventListener("click", () => this.releaseStored());
    $("#key-file").addEventListener("change", (e) => {
      const input = /** @type {HTMLInputElement} */ (e.target);
      const file = input.files?.[0];
      input.value = "";
      if (file) this.releaseFile(file);
    });
    $("#failure-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const form = /** @type {HTMLFormElement} */ (e.target);
      const reason = /** @type {HTMLTextAreaElement} */ (form.elements.namedItem("reason")).value.trim();
      if (!reason) { $("#decrypt-error").textContent = "请填写不能解密的原因"; return; }
      if (await this.act(() => this.calls.command("report_failure", { reason }), $("#decrypt-error"))) form.reset();
    });
  }
}
