// @ts-check
// The opening console (开标控制台) of a bid opening's host and witness: the opening's state
// with every bidder (before the deadline too: sign-ins and submissions), the countdown on the
// server's clock, and the controls each may use in each phase. The host opens sign-in and
// submission, opens, extends and closes decryption, handles reported failures, draws the
// benchmark parameters, publishes the read-out, puts up the record sheet and ends the opening;
// the witness urges the host; both mute and unmute speakers, pause (the host resumes), record
// incidents, and sign the record sheet (opening-record.js). Bidders and their actions are
// opening-bidders.js. Every action is a REST call the server checks and logs, a refusal is
// shown in the server's words; the `/hall` namespace pushes the opening after every change. The
// live broadcast plays in the side column, where the host turns its camera and microphone on
// (lib/livecard.js); the witness watches it.
//
// document.body.dataset.state: loading | ready | live (the broadcast's pictures come) | error;
// dataset.phase; dataset.role.

import { BiddersPart } from "/static/opening-bidders.js";
import { RecordPart } from "/static/opening-record.js";
import { ackRequester } from "/static/lib/acks.js";
import { requestJson } from "/static/lib/api.js";
import { clearBanner, setStatus, showBanner, startClock } from "/static/lib/chrome.js";
import { $, el } from "/static/lib/dom.js";
import { messageOf } from "/static/lib/errors.js";
import { ROLE_LABELS } from "/static/lib/labels.js";
import { LiveCard } from "/static/lib/livecard.js";
import { SIGNER_LABELS, openingCalls } from "/static/lib/opening.js";
import {
  Countdown, HappenedLog, Refusal, attachmentLink, followHall, bidderNames, renderBenchmark, renderIncidents, renderReadout, renderSteps, syncList,
} from "/static/lib/openingparts.js";
import { login } from "/static/lib/session.js";
import { connectSocket } from "/static/lib/socket.js";
import { formatDateTime } from "/static/lib/time.js";

/**
 * @typedef {import("/static/lib/wire").Me} Me
 * @typedef {import("/static/lib/wire").OpeningView} OpeningView
 * @typedef {import("/static/lib/wire").OpeningHappened} OpeningHappened
 * @typedef {import("/static/lib/wire").OpeningIncident} OpeningIncident
 */

const page = {
  /** @type {Me | null} */
  me: null,
  /** @type {ReturnType<typeof openingCalls> | null} */
  calls: null,
  /** @type {OpeningView | null} */
  view: null,
  /** @type {Map<string, string>} */
  names: new Map(),
  /** @type {BiddersPart | null} */
  bidders: null,
  /** @type {RecordPart | null} */
  record: null,
  /** @type {LiveCard | null} */
  live: null,
};

const me = () => /** @type {Me} */ (page.me);
const calls = () => /** @type {ReturnType<typeof openingCalls>} */ (page.calls);

/** @param {string} id */
function nameOf(id) {
  if (id === me().participant_id) return me().name;
  return page.names.get(id) || "参加人";
}

const countdown = new Countdown({ label: $("#countdown-label"), digits: $("#countdown"), at: $("#countdown-at") });
const log = new HappenedLog($("#log"), nameOf, () => countdown.now());
const refusal = new Refusal(() => clearBanner("error"));

/**
 * Run an action; its answer (the opening afterwards) is shown, a refusal goes to `errorBox` or
 * the banner, in the server's words. Resolves to whether it was accepted.
 * @param {() => Promise<OpeningView>} action
 * @param {HTMLElement | null} [errorBox]
 */
async function act(action, errorBox = null) {
  for (const box of document.querySelectorAll(".form-error")) if (box instanceof HTMLElement) box.textContent = "";
  try {
    take(await action(), Date.now());
    clearBanner("error");
    return true;
  } catch (err) {
    if (errorBox) errorBox.textContent = messageOf(err);
    else showBanner(messageOf(err));
    refusal.note(errorBox, page.view);
    return false;
  }
}

/**
 * A command of the console (``POST …/opening``).
 * @param {string} kind
 * @param {Record<string, unknown>} [fields]
 * @param {HTMLElement | null} [errorBox]
 */
function command(kind, fields = {}, errorBox = null) {
  return act(() => calls().command(kind, fields), errorBox);
}

// ---- rendering ----------------------------------------------------------------------------

/** @param {OpeningView} v */
function phaseWords(v) {
  if (v.phase === "ended") return v.forced_end ? `开标已由管理员强制结束：${v.forced_end}` : v.failed || "开标已结束，开标记录表已签署，档案已封存。";
  const pending = v.bidders.filter((b) => b.submitted && !["decrypted", "accepted", "rejected", "decryption_failed"].includes(b.status));
  return /** @type {Record<string, string>} */ ({
    scheduled: "到开标时间后，由主持人开始签到和递交投标文件。",
    submission: "投标人代表正在签到和递交投标文件；截止前投标人名单和数量不对外公布。",
    published: "投标已截止，名单已在开标大厅公布。主持人开启解密。",
    decryption: pending.length ? `解密中：尚有 ${pending.length} 家未完成解密。` : "解密中：各投标均已有解密结果，主持人可结束解密。",
    decrypted: v.benchmark && !v.benchmark.values ? "解密已结束。请抽取评标基准价参数，再公布唱标结果。" : "解密已结束。请公布唱标结果。",
    read_out: "唱标结果已公布；投标人确认或提出异议，招标人答复。",
    signing: "开标记录表已生成，待主持人和见证人签署。",
  })[v.phase] || "";
}

/** @param {OpeningView} v */
function renderFacts(v) {
  const listed = v.bidders.length;
  /** @type {Array<[string, string]>} */
  const facts = [
    ["投标截止", formatDateTime(new Date(v.deadline))],
    ["已签到", `${v.bidders.filter((b) => b.signed_in_at).length}/${listed}`],
    ["已递交", `${v.bidders.filter((b) => b.submitted_at).length}/${listed}`],
  ];
  if (v.decryption_until) facts.push(["解密截止", formatDateTime(new Date(v.decryption_until))]);
  if (["decrypted", "read_out", "signing", "ended"].includes(v.phase) && !v.failed) facts.push(["有效投标", `${v.valid.length} 家`]);
  facts.push(["最少有效投标", `${v.min_bids} 家`]);
  $("#facts").replaceChildren(...facts.map(([k, x]) => el("div", {}, el("dt", {}, k), el("dd", {}, x))));
}

/** Show each control block for the roles (data-for) and phases (data-phases) it is for. */
/** @param {OpeningView} v */
function renderControls(v) {
  for (const block of document.querySelectorAll("[data-for]")) {
    if (!(block instanceof HTMLElement) || block.closest("#record-card")) continue;
    const roles = (block.dataset.for || "").split(" ");
    const phases = block.dataset.phases ? block.dataset.phases.split(" ") : null;
    block.hidden = !roles.includes(me().role) || (phases !== null && !phases.includes(v.phase));
  }
  const ended = v.phase === "ended";
  $("#conduct-card").hidden = ended;
  $("#incident-form").hidden = ended;
  $("#pause-form").hidden = ended || v.paused;
  $("#resume-btn").hidden = ended || !v.paused || me().role !== "host";
  // The public broadcast (公开直播): the host opens it, or closes it with a reason.
  $("#public-state").textContent = v.public ? "公开直播已开放：持公众链接者可观看" : "公开直播未开放：仅本场参加人和监督人员可观看";
  $("#public-btn").textContent = v.public ? "停止向公众直播" : "向公众开放直播";
  $("#public-form input[name=reason]", HTMLInputElement).hidden = !v.public;
  $("#ended-words").textContent = phaseWords(v);
  const waiting = v.bidders.filter((b) => b.status === "failure_reported" || b.status === "key_released");
  $("#decryption-pending").textContent = waiting.length
    ? `待处理：${waiting.map((b) => `${b.name}（${b.status === "key_released" ? "正在解密" : "报告解密失败"}）`).join("，")}`
    : "解密时限到达后系统自动结束解密；各投标均有结果后，主持人可提前结束。";
  const drawn = !v.benchmark || Boolean(v.benchmark.values);
  $("#draw-benchmark").hidden = drawn;
  $("#publish-readout", HTMLButtonElement).disabled = !drawn;
  const open = v.objections.filter((o) => !o.answer).length;
  const unconfirmed = v.readout.filter((r) => !v.bidders.find((b) => b.bidder === r.bidder)?.confirmed).length;
  $("#readout-pending").textContent = open
    ? `尚有 ${open} 条异议待招标人答复，答复后方可生成开标记录表。`
    : `${unconfirmed ? `尚有 ${unconfirmed} 家未确认唱标结果（记入开标记录表）。` : "各投标人均已确认唱标结果。"}`;
  for (const button of document.querySelectorAll("#controls-card button, #controls-card input")) {
    if (button instanceof HTMLButtonElement || button instanceof HTMLInputElement) {
      if (button.id !== "publish-readout") button.disabled = v.paused;
    }
  }
}

/** @param {OpeningView} v */
function renderReadoutCard(v) {
  $("#readout-card").hidden = v.readout.length === 0;
  if (!v.readout.length) return;
  const confirmed = new Set(v.bidders.filter((b) => b.confirmed).map((b) => b.bidder));
  $("#readout-note").textContent = `已确认 ${v.readout.filter((r) => confirmed.has(r.bidder)).length}/${v.readout.length}`;
  renderReadout($("#readout", HTMLTableElement), v, {
    extra: (row) => el("span", { class: `pill ${confirmed.has(row.bidder) ? "ok" : "idle"}` }, confirmed.has(row.bidder) ? "已确认" : "待确认"),
  });
}

/** @param {OpeningView} v */
function renderObjections(v) {
  $("#objections-card").hidden = v.objections.length === 0;
  syncList($("#objections"), v.objections, (o) => String(o.number), () => el("li"), (item, o) => {
    item.className = o.answer ? "answered" : "open";
    item.replaceChildren(
      el("div", { class: "objection-head" }, `第 ${o.number} 号 · ${o.name}`, el("span", { class: `pill ${o.answer ? "ok" : "warn"}` }, o.answer ? "已答复" : "待答复")),
      el("div", { class: "objection-text" }, o.text),
      o.attachment ? attachmentLink({ number: o.number, attachment: o.attachment }, calls()) : "",
      o.answer ? el("div", { class: "answer" }, el("b", {}, "答复："), o.answer) : "");
  });
}

/** The handling and result of an open incident, recorded by host or witness. */
/** @param {OpeningIncident} incident */
function incidentActions(incident) {
  const input = el("input", { maxlength: 500, placeholder: "处理情况或处理结果", "aria-label": `第 ${incident.number} 号异常情况的处理` });
  const handle = el("button", { class: "btn btn-small", type: "button", dataset: { handleIncident: incident.number } }, "记录处理");
  const close = el("button", { class: "btn btn-small btn-primary", type: "button", dataset: { closeIncident: incident.number } }, "处理完毕");
  const error = $("#incident-error");
  handle.addEventListener("click", async () => {
    if (!input.value.trim()) { error.textContent = "请填写处理情况"; return; }
    if (await command("handle_incident", { incident: incident.number, handling: input.value.trim() }, error)) input.value = "";
  });
  close.addEventListener("click", async () => {
    if (!input.value.trim()) { error.textContent = "请填写处理结果"; return; }
    await command("close_incident", { incident: incident.number, result: input.value.trim() }, error);
  });
  return el("div", { class: "row incident-actions" }, input, handle, close);
}

/**
 * A new view of the opening, from a REST answer or a push.
 * @param {OpeningView} v
 * @param {number} receivedAt
 */
function take(v, receivedAt) {
  refusal.seen(v);
  page.view = v;
  for (const [id, name] of bidderNames(v)) page.names.set(id, name);
  page.live?.setMuted(Boolean(v.you_are_muted));
  document.body.dataset.phase = v.phase;
  $("#phase").textContent = v.paused ? `${v.phase_label}（暂停）` : v.phase_label;
  const paused = $("#paused");
  paused.hidden = !v.paused;
  paused.textContent = v.paused ? `开标已暂停：${v.pause_reason}${me().role === "host" ? "。处理完毕后请恢复开标。" : ""}` : "";
  countdown.take(v, receivedAt);
  renderSteps($("#steps"), v.phase);
  $("#phase-words").textContent = phaseWords(v);
  renderFacts(v);
  page.bidders?.render(v);
  renderBenchmark($("#benchmark-card"), v);
  renderReadoutCard(v);
  renderObjections(v);
  page.record?.render(v);
  renderControls(v);
  renderIncidents($("#incidents"), v, v.phase === "ended" ? undefined : incidentActions);
}

// ---- wiring -------------------------------------------------------------------------------

/**
 * A form's text field, trimmed.
 * @param {HTMLFormElement} form
 * @param {string} name
 */
const textOf = (form, name) => /** @type {HTMLInputElement} */ (form.elements.namedItem(name)).value.trim();

/**
 * Send a form as a command when its required texts are given; reset it when accepted.
 * @param {string} selector
 * @param {string} kind
 * @param {(form: HTMLFormElement) => Record<string, unknown> | string} fieldsOf the fields, or what is missing
 * @param {string} errorBox
 */
function formCommand(selector, kind, fieldsOf, errorBox) {
  $(selector).addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = /** @type {HTMLFormElement} */ (e.target);
    const fields = fieldsOf(form);
    if (typeof fields === "string") { $(errorBox).textContent = fields; return; }
    if (await command(kind, fields, $(errorBox))) form.reset();
  });
}

function wire() {
  $("#open-submission").addEventListener("click", () => command("open_submission", {}, $("#controls-error")));
  formCommand("#decryption-form", "open_decryption", (form) => {
    const minutes = textOf(form, "minutes");
    return minutes ? { minutes: Number(minutes) } : {};
  }, "#controls-error");
  formCommand("#extend-form", "extend_decryption", (form) => {
    const reason = textOf(form, "reason");
    return reason ? { minutes: Number(textOf(form, "minutes")), reason } : "请填写延长解密时限的原因";
  }, "#controls-error");
  $("#close-decryption").addEventListener("click", () => command("close_decryption", {}, $("#controls-error")));
  $("#draw-benchmark").addEventListener("click", () => command("draw_benchmark", {}, $("#controls-error")));
  $("#publish-readout").addEventListener("click", () => command("publish_readout", {}, $("#controls-error")));
  $("#put-up-record").addEventListener("click", () => act(() => calls().putUpRecord(false), $("#controls-error")));
  formCommand("#notice-form", "notice", (form) => textOf(form, "text") ? { text: textOf(form, "text") } : "请填写通知内容", "#conduct-error");
  formCommand("#urge-form", "urge", (form) => textOf(form, "text") ? { text: textOf(form, "text") } : "请填写提醒内容", "#conduct-error");
  formCommand("#pause-form", "pause", (form) => textOf(form, "reason") ? { reason: textOf(form, "reason") } : "请填写暂停原因", "#conduct-error");
  $("#resume-btn").addEventListener("click", () => command("resume", {}, $("#conduct-error")));
  formCommand("#public-form", "allow_public", (form) => {
    const closing = Boolean(page.view?.public);
    const reason = textOf(form, "reason");
    if (!closing) return { public: true };
    return reason ? { public: false, reason } : "请填写停止公开直播的原因";
  }, "#conduct-error");
  formCommand("#incident-form", "open_incident", (form) => {
    const description = textOf(form, "description");
    return description ? { kind: textOf(form, "kind"), description } : "请填写异常情况描述";
  }, "#incident-error");
}

/** @param {OpeningHappened} happened */
function told(happened) {
  log.add(happened);
}

/**
 * The page's state for outside checks: live while the broadcast's pictures come.
 * @param {boolean} live
 */
function setLive(live) {
  const state = document.body.dataset.state;
  if (state === "error" || state === "loading") return;
  document.body.dataset.state = live ? "live" : "ready";
}

function connect() {
  const socket = connectSocket("/hall");
  const request = ackRequester(() => socket, { disconnectedText: "与服务器的连接已中断" });
  const host = me().role === "host";
  page.live = new LiveCard({
    request,
    speaker: host ? { camera: true, label: "开启摄像头和麦克风" } : null,
    onLive: setLive,
  });
  socket.on("media", (media) => page.live?.take(media));
  socket.on("speaking_elsewhere", ({ message }) => page.live?.elsewhere(message));
  followHall(socket, { take: (view) => take(view, Date.now()), told, log });
}

async function start() {
  startClock(() => countdown.now());
  await login();
  page.me = /** @type {Me} */ (await requestJson("/api/me", { what: "读取身份失败" }));
  const session = me().session;
  if (!session) throw new Error("该链接不属于任何开标场次");
  if (!["host", "witness"].includes(me().role)) throw new Error("开标控制台供主持人和见证人使用");
  document.body.dataset.role = me().role;
  page.calls = openingCalls(session.id);
  $("#project-name").textContent = session.project_name;
  $("#project-meta").textContent = `项目编号 ${session.project_code} · 开标控制台`;
  $("#who").textContent = `${ROLE_LABELS[me().role]} ${me().name}`;
  $("#controls-title").textContent = `${SIGNER_LABELS[me().role]}操作`;
  page.bidders = new BiddersPart({ role: me().role, command });
  page.record = new RecordPart({ me: { id: me().participant_id, role: me().role }, sessionId: session.id, calls: calls(), command, act });
  wire();
  take(await calls().view(), Date.now());
  document.body.dataset.state = "ready";
  connect();
}

start().catch((err) => {
  document.body.dataset.state = "error";
  setStatus("无法进入", "bad");
  showBanner(messageOf(err));
});
