// @ts-check
// The committee's workflow in the expert's seat page: commitment letter and conflict of
// interest (承诺书, 回避), the signing key, the secret ballot for the leader, open votes on
// motions, reading and signing the evaluation report (WebCrypto key + handwriting), notices
// from the host and the pause banner.
//
// The signing key is an ECDSA P-256 pair made here at sign-in; the private key is not
// extractable and stays in this browser (IndexedDB). The server gets the public key and, to
// sign, an ECDSA/SHA-256 signature of the statement below (roomserver/signatures.py).

import { answerOf, requestJson } from "/static/lib/api.js";
import { $, el } from "/static/lib/dom.js";
import { messageOf, problemText } from "/static/lib/errors.js";
import { signingPair } from "/static/lib/keystore.js";
import { motionResult, tieRuleText } from "/static/lib/labels.js";
import { joiningStep, joinsLate, lateLead } from "/static/lib/replacements.js";
import { api } from "/static/lib/session.js";

const STATEMENT_TITLE = "远程异地评标 评标报告签署";
const DB_NAME = "roomserver-signing-keys";

/** @typedef {import("/static/lib/wire").WorkflowState} WorkflowState */
/** @typedef {NonNullable<WorkflowState["report"]>} Report */
/** @typedef {{ participant_id: string, session: { id: string } }} SeatMe */

/**
 * The exact text an expert signs (must match roomserver.signatures.statement).
 * @param {string} sessionId
 * @param {string} expertId
 * @param {string} sha256
 * @param {string} sm3
 */
export function statement(sessionId, expertId, sha256, sm3) {
  return [STATEMENT_TITLE, `session: ${sessionId}`, `expert: ${expertId}`, `report-sha256: ${sha256}`, `report-sm3: ${sm3}`].join("\n");
}

/** @param {ArrayBuffer} buffer */
const toBase64 = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer)));
/** @param {ArrayBuffer} buffer */
const toHex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");

// ---- the flow card ------------------------------------------------------------------------

export class SeatFlow {
  constructor() {
    /** @type {SeatMe | null} */
    this.me = null;
    /** @type {WorkflowState | null} */
    this.state = null;
    /** @type {Map<string, string>} expert id → name, from the roster */
    this.names = new Map();
    /** @type {Map<string, string>} expert id → seat label */
    this.labels = new Map();
    this.keyRegistered = false;
    this.registering = false;
    this.busy = false;
    this.error = ""; // the last refusal, shown under the card
    /** @type {{ sha256: string, url: string } | null} once read and checked here */
    this.report = null;
    /** @type {SignaturePad | null} */
    this.pad = null;
  }

  async start() {
    const response = await api("/api/me");
    if (response.ok) this.me = await response.json();
    this.wireDialogs();
    this.render();
  }

  /** @param {import("/static/lib/wire").Roster} roster */
  setRoster(roster) {
    // In roster order (main venue first): candidates are listed as the seats are.
    this.names = new Map(roster.seats.map((seat) => [seat.expert_id, seat.expert_name]));
    this.labels = new Map(roster.seats.map((seat) => [seat.expert_id, seat.label]));
    this.render();
  }

  /**
   * A ``workflow`` push: the new state and what just happened.
   * @param {{ state: WorkflowState, happened?: import("/static/lib/wire").Happened | null }} push
   */
  update({ state, happened }) {
    this.state = state;
    if (happened && happened.kind === "notice") this.notice(happened.data.text);
    // A round is closed by its last ballot, or by excusing the last expert it waited for.
    const round = happened && happened.kind === "expert_excused" ? happened.data.election
      : happened && { happened: happened.kind, ...happened.data };
    if (round && round.happened === "election_tied") {
      this.notice(`组长推选票数相同，进入第 ${round.next_round} 轮投票。`, "推选组长");
    }
    if (round && round.happened === "leader_drawn") {
      const drawn = this.names.get(round.leader) || "专家";
      this.notice(`组长推选票数相同，按投票前确定的规则抽签：${drawn} 当选组长。抽签种子已公布，可核验。`, "推选组长");
    }
    if (happened && happened.kind === "evaluation_paused") this.notice(`评审已暂停：${happened.data.reason}。请在席等候。`, "评审暂停");
    if (happened && happened.kind === "evaluation_resumed") this.notice("评审已恢复。", "评审恢复");
    if (happened && happened.kind === "report_replaced") this.report = null;
    this.render();
    this.ensureKey();
  }

  get id() { return this.me?.participant_id; }

  /** The session this expert sits in (after `start`). */
  get sessionId() { return /** @type {SeatMe} */ (this.me).session.id; }

  /** The handwriting pad (after `start`). */
  get signPad() { return /** @type {SignaturePad} */ (this.pad); }

  /**
   * @param {string} kind
   * @param {Record<string, unknown>} [fields]
   */
  async command(kind, fields = {}) {
    this.busy = true;
    this.render();
    try {
      const answer = await requestJson(`/api/sessions/${this.sessionId}/workflow`, {
        method: "POST",
        json: { kind, fields },
        what: "操作失败",
      });
      this.state = answer.state;
      this.error = "";
      return answer;
    } catch (err) {
      this.error = messageOf(err);
      return null;
    } finally {
      this.busy = false;
      this.render();
    }
  }

  /** Register this browser's public key once the expert has signed the commitment letter. */
  async ensureKey() {
    const s = this.state;
    if (!s || !this.id || this.keyRegistered || this.registering) return;
    if (!s.committed.includes(this.id) || s.signed.includes(this.id)) return;
    this.registering = true;
    try {
      const pair = await signingPair(DB_NAME, `${this.sessionId}:${this.id}`);
      const spki = toBase64(await crypto.subtle.exportKey("spki", pair.publicKey));
      // Registered once per page load: a key registered from another browser (or one whose
      // storage was cleared) is replaced by the key this browser will sign with.
      if (await this.command("register_key", { public_key: spki })) this.keyRegistered = true;
    } finally {
      this.registering = false;
    }
  }

  /** @param {string} text @param {string} [title] */
  notice(text, title = "主持人通知") {
    const layer = $("#notice-layer");
    $("#notice-title").textContent = title;
    $("#notice-text").textContent = text;
    layer.hidden = false;
  }

  // ---- rendering --------------------------------------------------------------------------

  render() {
    const card = $("#flow");
    const s = this.state;
    if (!s || !this.id) return;
    card.hidden = false;
    document.body.dataset.phase = s.phase;
    $("#flow-phase").textContent = s.paused ? `${s.phase_label}（已暂停）` : s.phase_label;
    const paused = $("#flow-paused");
    paused.hidden = !s.paused;
    paused.textContent = s.paused ? `评审已暂停：${s.pause_reason}。请在席等候。` : "";
    const body = $("#flow-body");
    const content = this.task(s);
    body.replaceChildren(...content, this.error ? el("p", { class: "flow-error" }, this.error) : "");
  }

  /**
   * @param {string} label
   * @param {() => void} onClick
   * @param {{ primary?: boolean, id?: string }} [options]
   */
  button(label, onClick, { primary = true, id } = {}) {
    const b = el("button", { class: `btn ${primary ? "btn-primary" : "btn-secondary"} btn-block`, type: "button", id, disabled: this.busy || (this.state?.paused) });
    b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }

  /**
   * @param {WorkflowState} s
   * @returns {Array<HTMLElement>}
   */
  task(s) {
    const me = /** @type {string} */ (this.id);
    /** @param {string} id */
    const name = (id) => this.names.get(id) || "专家";
    if (s.withdrawn.includes(me)) return [el("p", {}, "您已申请回避或离席，不再参加本场评标。")];
    if (s.excused.includes(me)) return [el("p", {}, "主持人或工作人员已登记您离席，您不再参加本场评标。")];
    if (s.phase === "scheduled") return [el("p", {}, "评标尚未开始，请等待主持人开始签到。")];
    // Check-in, for everybody in its phase and later for a replacement drawn since.
    const step = joiningStep(s, me);
    if (s.phase === "check_in" || step) return this.joining(s, step);
    if (s.phase === "election") {
      const voted = s.election.voted.includes(me);
      const head = el("p", {}, `无记名投票推选评标委员会组长 · 第 ${s.election.round} 轮 · 已投 ${s.election.voted.length}/${s.experts}`);
      if (voted) return [head, el("p", { class: "flow-done" }, "您已投票，投票内容保密。")];
      const order = [...this.names.keys()];
      const candidates = [...s.election.candidates].sort((a, b) => order.indexOf(a) - order.indexOf(b));
      // A candidate excused since the round opened can no longer be chosen.
      const options = candidates.filter((id) => s.seated.includes(id)).map((id) =>
        el("label", { class: "choice" }, el("input", { type: "radio", name: "candidate", value: id }),
          el("span", {}, name(id)), el("span", { class: "muted" }, this.labels.get(id) || "")));
      options.push(el("label", { class: "choice" }, el("input", { type: "radio", name: "candidate", value: "", id: "ballot-abstain" }),
        el("span", {}, "弃权"), el("span", { class: "muted" }, "不选任何候选人")));
      return [head, el("p", { class: "muted" }, tieRuleText(s.election)), el("div", { class: "choices", id: "ballot" }, options),
        this.button("投票", () => {
          const chosen = /** @type {HTMLInputElement | null} */ (document.querySelector("#ballot input:checked"));
          if (!chosen) return;
          this.command("cast_ballot", chosen.value ? { candidate: chosen.value } : { abstain: true });
        }, { id: "cast-ballot" })];
    }
    if (s.phase === "evaluation") {
      const out = [el("p", {}, `组长：${s.leader ? name(s.leader) : "—"}`)];
      const motion = s.motions.find((m) => !m.closed);
      if (motion) {
        out.push(el("p", { class: "flow-strong" }, `表决：${motion.title}（${motion.voted.length}/${s.experts}）`));
        if (motion.voted.includes(me)) out.push(el("p", { class: "flow-done" }, "您已表决。"));
        else {
          out.push(el("div", { class: "row", id: "vote-options" }, [
            ...motion.options.map((o) =>
              this.button(o, () => this.command("vote", { motion: motion.number, option: o }), { primary: false })),
            this.button("弃权", () => this.command("vote", { motion: motion.number, abstain: true }), { primary: false, id: "vote-abstain" }),
          ]));
        }
        if (me === s.leader) out.push(this.motionControls(motion));
      } else if (me === s.leader) {
        out.push(this.motionForm(), this.reportForm());
      } else {
        out.push(el("p", {}, "评审进行中。"));
      }
      const closed = s.motions.filter((m) => m.closed);
      for (const m of closed) out.push(el("p", { class: "muted" }, motionResult(m)));
      return out;
    }
    if (s.phase === "signing") {
      const head = el("p", {}, `签署评标报告 · 已签 ${s.signed.length}/${s.experts}`);
      if (s.signed.includes(me)) return [head, el("p", { class: "flow-done" }, "您已签署评标报告。等待主持人发出评审结束指令。")];
      return [head, this.button("阅读并签署评标报告", () => this.openSigning(), { id: "open-signing" })];
    }
    return [el("p", {}, "评审已结束。")];
  }

  /**
   * Joining the committee: the identity check by staff, the commitment letter, the signing
   * key; a replacement who arrives after check-in is told the phase they join.
   * @param {WorkflowState} s
   * @param {ReturnType<typeof joiningStep>} step
   * @returns {Array<HTMLElement>}
   */
  joining(s, step) {
    const late = joinsLate(s, /** @type {string} */ (this.id));
    const lead = late ? [el("p", { class: "flow-strong", id: "late-lead" }, lateLead(s))] : [];
    if (step === "check_in") return [...lead, el("p", {}, "请面向摄像头，等待工作人员核验身份。")];
    if (step === "commit") {
      return [...lead, el("p", {}, "身份核验已通过。请阅读并签署《评标专家承诺书》。"),
        this.button("阅读并签署承诺书", () => this.openCommitment(), { id: "open-commitment" })];
    }
    const key = step === "key" ? "正在登记本机的签名密钥…" : "本机的签名密钥已登记。";
    const done = [el("p", { class: "flow-done" }, "已签署承诺书。"), el("p", { class: "muted", id: "key-state" }, key)];
    if (late) return [...lead, ...done];
    return [...done, el("p", {}, `等待其他专家（${s.committed.length}/${s.experts}）。`)];
  }

  /** The leader closes the open motion with the votes cast so far, or withdraws it. */
  /** @param {import("/static/lib/wire").Motion} motion */
  motionControls(motion) {
    const reason = el("input", { placeholder: "撤销原因", maxlength: 500, id: "motion-cancel-reason" });
    return el("div", { class: "stack" },
      this.button("结束表决（按已投票计票）", () => this.command("close_motion", { motion: motion.number }), { primary: false, id: "close-motion" }),
      el("div", { class: "row" }, reason,
        this.button("撤销表决", () => reason.value.trim() && this.command("cancel_motion", { motion: motion.number, reason: reason.value.trim() }), { primary: false, id: "cancel-motion" })));
  }

  motionForm() {
    const title = el("input", { placeholder: "表决事项", maxlength: 500, id: "motion-title" });
    return el("div", { class: "stack" }, title,
      this.button("发起表决（同意 / 不同意）", () => title.value.trim() && this.command("open_motion", { title: title.value.trim(), options: ["同意", "不同意"] }), { primary: false }));
  }

  reportForm() {
    const file = el("input", { type: "file", accept: "application/pdf", id: "report-file" });
    return el("div", { class: "stack" }, file, this.button("上传评标报告并提交签署", async () => {
      const chosen = file.files?.[0];
      if (!chosen) return;
      const response = await api(`/api/sessions/${this.sessionId}/report`, {
        method: "POST", headers: { "Content-Type": "application/pdf" }, body: chosen,
      });
      const answer = await answerOf(response);
      this.error = response.ok ? "" : problemText(answer, null, "上传失败");
      if (response.ok) this.state = answer.state;
      this.render();
    }, { primary: false }));
  }

  // ---- commitment letter ------------------------------------------------------------------

  /** The letter's wording comes from the server, which records its digest with the commit. */
  async openCommitment() {
    // Withdrawing (回避) belongs to the check-in phase; a replacement who joins later and has
    // a conflict tells staff, who excuse them.
    const checkIn = this.state?.phase === "check_in";
    $("#withdraw-box").hidden = !checkIn;
    $("#commitment-late").hidden = checkIn;
    $("#commitment", HTMLDialogElement).showModal();
    const response = await api("/api/commitment-letter");
    if (!response.ok) {
      $("#commitment-letter").textContent = "承诺书读取失败，请刷新页面重试。";
      return;
    }
    /** @type {{ title: string, lead: string, clauses: string[] }} */
    const letter = await response.json();
    $("#commitment-title").textContent = letter.title;
    $("#commitment-letter").replaceChildren(
      el("p", {}, letter.lead),
      el("ol", {}, letter.clauses.map((clause) => el("li", {}, clause))));
  }

  wireDialogs() {
    $("#commitment-accept").addEventListener("click", async (e) => {
      e.preventDefault();
      if (!$("#no-conflict", HTMLInputElement).checked) {
        $("#commitment-error").textContent = "请勾选“本人与投标人无利害关系”，如有利害关系请申请回避。";
        return;
      }
      if (await this.command("commit", { no_conflict: true })) {
        $("#commitment", HTMLDialogElement).close();
        this.ensureKey();
      } else {
        $("#commitment-error").textContent = this.error;
      }
    });
    $("#commitment-withdraw").addEventListener("click", async (e) => {
      e.preventDefault();
      const reason = $("#withdraw-reason", HTMLTextAreaElement).value.trim();
      if (!reason) {
        $("#commitment-error").textContent = "申请回避请填写原因。";
        return;
      }
      if (await this.command("withdraw", { reason })) $("#commitment", HTMLDialogElement).close();
      else $("#commitment-error").textContent = this.error;
    });
    $("#notice-ok").addEventListener("click", () => { $("#notice-layer").hidden = true; });
    $("#sign-clear").addEventListener("click", () => this.pad?.clear());
    $("#sign-submit").addEventListener("click", (e) => { e.preventDefault(); this.sign(); });
    $("#sign-cancel").addEventListener("click", () => $("#signing", HTMLDialogElement).close());
    this.pad = new SignaturePad($("#sign-canvas", HTMLCanvasElement));
  }

  // ---- signing ------------------------------------------------------------------------------

  async openSigning() {
    const report = /** @type {Report} */ (/** @type {WorkflowState} */ (this.state).report);
    $("#signing-error").textContent = "";
    $("#signing", HTMLDialogElement).showModal();
    this.signPad.clear();
    const facts = $("#report-facts");
    facts.textContent = "正在下载评标报告并核对摘要…";
    try {
      const response = await api(`/api/sessions/${this.sessionId}/report`);
      if (!response.ok) throw new Error("评标报告下载失败");
      const bytes = await response.arrayBuffer();
      const sha256 = toHex(await crypto.subtle.digest("SHA-256", bytes));
      if (sha256 !== report.sha256) throw new Error("下载的评标报告与提交签署的报告摘要不一致，请联系工作人员");
      const url = URL.createObjectURL(new Blob([bytes], { type: "application/pdf" }));
      this.report = { sha256, url };
      $("#report-frame", HTMLIFrameElement).src = url;
      $("#report-link", HTMLAnchorElement).href = url;
      facts.replaceChildren(
        el("div", {}, el("b", {}, "SHA-256："), el("code", { id: "report-sha256" }, report.sha256)),
        el("div", {}, el("b", {}, "SM3："), el("code", {}, report.sm3)),
        el("div", { class: "flow-done" }, "本机核对 SHA-256 一致。"));
    } catch (err) {
      facts.textContent = messageOf(err);
      this.report = null;
    }
  }

  async sign() {
    const report = /** @type {Report} */ (/** @type {WorkflowState} */ (this.state).report);
    const error = $("#signing-error");
    if (!this.report || this.report.sha256 !== report.sha256) { error.textContent = "请先完成评标报告的下载与核对。"; return; }
    if (this.signPad.empty) { error.textContent = "请在签名框内手写签名。"; return; }
    await this.ensureKey();
    const pair = await signingPair(DB_NAME, `${this.sessionId}:${this.id}`);
    const text = statement(this.sessionId, String(this.id), report.sha256, report.sm3);
    const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey, new TextEncoder().encode(text));
    const answer = await this.command("sign", {
      report_sha256: report.sha256,
      signature: toBase64(signature),
      handwriting_png: this.signPad.png(),
    });
    if (answer) $("#signing", HTMLDialogElement).close();
    else error.textContent = this.error;
  }
}

/** A canvas to sign on with a mouse, pen or finger. */
class SignaturePad {
  /** @param {HTMLCanvasElement} canvas */
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
    this.empty = true;
    /** @type {[number, number] | null} */
    this.last = null;
    canvas.addEventListener("pointerdown", (e) => { canvas.setPointerCapture(e.pointerId); this.last = this.point(e); });
    canvas.addEventListener("pointermove", (e) => this.move(e));
    canvas.addEventListener("pointerup", () => { this.last = null; });
    canvas.addEventListener("pointercancel", () => { this.last = null; });
  }

  /**
   * @param {PointerEvent} e
   * @returns {[number, number]}
   */
  point(e) {
    const r = this.canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * (this.canvas.width / r.width), (e.clientY - r.top) * (this.canvas.height / r.height)];
  }

  /** @param {PointerEvent} e */
  move(e) {
    if (!this.last) return;
    const p = this.point(e);
    const ctx = this.ctx;
    ctx.strokeStyle = "#0b1f3a";
    ctx.lineWidth = 3 + (e.pressure || 0.5) * 2;
    ctx.lineCap = "round";
    ctx.beginPath();
    ctx.moveTo(...this.last);
    ctx.lineTo(...p);
    ctx.stroke();
    this.last = p;
    this.empty = false;
  }

  clear() {
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.empty = true;
  }

  png() {
    return this.canvas.toDataURL("image/png");
  }
}
