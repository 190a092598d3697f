// @ts-check
// The opening console's bidders (opening.js): every bidder with its sign-in, submission and
// decryption as host and witness see them, and the actions on a bidder: the host handles a
// reported decryption failure (accepted, with the fields read from the backup copy, or
// rejected, with the handling); host and witness mute a speaker with a reason and unmute them.

import { $, el } from "/static/lib/dom.js";
import { STATUS_LABELS, STATUS_TONES, fieldValues, moneyPreview, unitOf } from "/static/lib/opening.js";
import { formatTime } from "/static/lib/time.js";

/**
 * @typedef {import("/static/lib/wire").OpeningView} OpeningView
 * @typedef {import("/static/lib/wire").OpeningBidder} OpeningBidder
 * @typedef {(kind: string, fields?: Record<string, unknown>, errorBox?: HTMLElement | null) => Promise<boolean>} Command
 */

/** @param {string | null | undefined} iso */
const at = (iso) => (iso ? formatTime(new Date(iso)) : "—");

/** @param {OpeningBidder} b */
function decryptionText(b) {
  const parts = [];
  if (b.released_at) parts.push(`密钥 ${at(b.released_at)}`);
  if (b.refused) parts.push(`未能打开：${b.refused}`);
  if (b.failure) parts.push(`报告：${b.failure}`);
  if (b.handling) parts.push(`处理：${b.handling}`);
  if (b.invalid) parts.push(`无效：${b.invalid}`);
  return parts.join("；");
}

export class BiddersPart {
  /**
   * @param {{ role: string, command: Command }} console
   */
  constructor({ role, command }) {
    this.role = role;
    this.command = command;
    /** @type {OpeningView | null} */
    this.view = null;
    /** @type {string | null} the bidder whose failure or mute the open dialog is about */
    this.chosen = null;
    this.backupBuilt = false;
    this.wire();
  }

  /** @param {OpeningView} view */
  render(view) {
    this.view = view;
    const insiderBefore = ["scheduled", "submission"].includes(view.phase);
    const signed = view.bidders.filter((b) => b.signed_in_at).length;
    const submitted = view.bidders.filter((b) => b.submitted_at).length;
    $("#bidders-count").textContent = `名单 ${view.bidders.length} 家 · 已签到 ${signed} · 已递交 ${submitted}`
      + (insiderBefore ? " · 截止前仅主持人、见证人和监督人员可见" : "");
    const actions = view.phase !== "ended";
    $("#bidders", HTMLTableElement).replaceChildren(
      el("thead", {}, el("tr", {},
        el("th", { class: "num" }, "序号"), el("th", {}, "投标人"), el("th", {}, "代表"), el("th", {}, "签到"),
        el("th", {}, "递交"), el("th", {}, "状态"), el("th", {}, "解密与说明"), actions ? el("th", {}, "操作") : null)),
      el("tbody", {}, view.bidders.map((b, i) => this.row(view, b, i, actions))));
    if (!this.backupBuilt) this.buildBackup(view);
  }

  /**
   * @param {OpeningView} view
   * @param {OpeningBidder} b
   * @param {number} i
   * @param {boolean} actions
   */
  row(view, b, i, actions) {
    const muted = view.muted.includes(b.bidder);
    const buttons = [];
    if (this.role === "host" && view.phase === "decryption" && b.status === "failure_reported") {
      const handle = el("button", { class: "btn btn-small btn-warn", type: "button", dataset: { handle: b.bidder } }, "处理解密失败");
      handle.addEventListener("click", () => this.openFailure(b));
      buttons.push(handle);
    }
    const mute = el("button", { class: "btn btn-small", type: "button", dataset: { mute: b.bidder } }, muted ? "解除禁言" : "禁言");
    mute.addEventListener("click", () => (muted ? this.command("unmute", { participant: b.bidder }) : this.openMute(b)));
    buttons.push(mute);
    return el("tr", { dataset: { bidder: b.bidder, status: b.status } },
      el("td", { class: "num" }, String(i + 1)),
      el("td", { class: "name" }, b.name, muted ? el("span", { class: "tag muted-tag", title: view.mute_reasons[b.bidder] || "" }, "已禁言") : null),
      el("td", { class: "rep" }, b.representative ? `${b.representative}（证件尾号 ${b.id_last4}）` : "—"),
      el("td", {}, at(b.signed_in_at)),
      el("td", {}, at(b.submitted_at)),
      el("td", {}, el("span", { class: `pill ${STATUS_TONES[b.status] || "idle"}` }, STATUS_LABELS[b.status] || b.status_label)),
      el("td", { class: "note" }, decryptionText(b), b.confirmed ? el("span", { class: "tag" }, "已确认唱标") : null),
      actions ? el("td", { class: "actions" }, buttons) : null);
  }

  // ---- handling a reported decryption failure ---------------------------------------------

  /** The inputs of the backup copy's opening fields, built once from the lot's fields. */
  /** @param {OpeningView} view */
  buildBackup(view) {
    $("#backup-inputs").replaceChildren(...view.fields.map((spec) => {
      const input = el("input", { name: `backup-${spec.name}`, dataset: { field: spec.name }, autocomplete: "off", "aria-label": spec.label });
      const hint = el("div", { class: "field-hint" });
      if (spec.kind === "money") {
        input.addEventListener("input", () => {
          const shown = moneyPreview(input.value);
          hint.textContent = shown ? `${shown.figures}　大写：${shown.capitals}` : "";
        });
      }
      const unit = unitOf(spec) || (spec.kind === "money" ? "元" : "");
      return el("div", {}, el("label", { class: "field" }, el("span", {}, spec.label), input, unit ? el("span", { class: "unit" }, unit) : null), hint);
    }));
    this.backupBuilt = true;
  }

  /** @param {OpeningBidder} b */
  openFailure(b) {
    this.chosen = b.bidder;
    const form = $("#failure-form", HTMLFormElement);
    form.reset();
    for (const hint of form.querySelectorAll(".field-hint")) hint.textContent = "";
    $("#failure-error").textContent = "";
    $("#failure-bidder").textContent = b.name;
    $("#failure-reason").textContent = `投标人报告：${b.failure || ""}`;
    this.showBackup();
    $("#failure-dialog", HTMLDialogElement).showModal();
  }

  showBackup() {
    const form = $("#failure-form", HTMLFormElement);
    const decision = /** @type {RadioNodeList} */ (form.elements.namedItem("decision")).value;
    $("#backup-fields").hidden = decision !== "accepted";
  }

  async handleFailure() {
    const view = /** @type {OpeningView} */ (this.view);
    const form = $("#failure-form", HTMLFormElement);
    const error = $("#failure-error");
    const decision = /** @type {RadioNodeList} */ (form.elements.namedItem("decision")).value;
    const handling = /** @type {HTMLTextAreaElement} */ (form.elements.namedItem("handling")).value.trim();
    if (!handling) { error.textContent = "请填写处理情况"; return; }
    /** @type {Record<string, unknown>} */
    const fields = { bidder: this.chosen, decision, handling };
    if (decision === "accepted") {
      /** @type {Record<string, string>} */
      const typed = {};
      for (const spec of view.fields) typed[spec.name] = /** @type {HTMLInputElement} */ (form.elements.namedItem(`backup-${spec.name}`)).value;
      const { values, errors } = fieldValues(view.fields, typed);
      const wrong = Object.values(errors);
      if (wrong.length) { error.textContent = wrong.join("；"); return; }
      fields.fields = values;
    }
    if (await this.command("handle_failure", fields, error)) $("#failure-dialog", HTMLDialogElement).close();
  }

  // ---- muting ---------------------------------------------------------------------------

  /** @param {OpeningBidder} b */
  openMute(b) {
    this.chosen = b.bidder;
    $("#mute-form", HTMLFormElement).reset();
    $("#mute-error").textContent = "";
    $("#mute-name").textContent = `禁言 ${b.name} 的代表，禁言及原因记入开标记录。`;
    $("#mute-dialog", HTMLDialogElement).showModal();
  }

  async mute() {
    const reason = /** @type {HTMLInputElement} */ ($("#mute-form", HTMLFormElement).elements.namedItem("reason")).value.trim();
    if (!reason) { $("#mute-error").textContent = "请填写禁言原因"; return; }
    if (await this.command("mute", { participant: this.chosen, reason }, $("#mute-error"))) $("#mute-dialog", HTMLDialogElement).close();
  }

  wire() {
    $("#failure-form").addEventListener("change", () => this.showBackup());
    $("#failure-form").addEventListener("submit", (e) => { e.preventDefault(); this.handleFailure(); });
    $("#failure-cancel").addEventListener("click", () => $("#failure-dialog", HTMLDialogElement).close());
    $("#mute-form").addEventListener("submit", (e) => { e.preventDefault(); this.mute(); });
    $("#mute-cancel").addEventListener("click", () => $("#mute-dialog", HTMLDialogElement).close());
  }
}
