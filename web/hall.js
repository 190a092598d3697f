// @ts-check
// The bid opening hall (不见面开标大厅) of a bidder's representative, the tenderer and its
// agency: the countdown to the bid deadline on the server's clock, the phase, the bidders once
// published, the read-out with confirmations and objections, the tenderer's answers, notices,
// pauses and incidents as they happen. A bidder's own part (sign-in, the sealed bid and its key,
// decryption) is hall-bidder.js. Every action is a REST call the server checks and logs; the
// `/hall` namespace pushes the opening as this person may see it after every change. The live
// broadcast (the host's camera with the speakers' sound, and the information screen) plays in
// the side column; a speaker turns its microphone on and off there (发言, lib/livecard.js).
//
// document.body.dataset.state: loading | ready | live (the broadcast's pictures come) | error;
// dataset.phase: the opening's phase; dataset.role: bidder | tenderer | agency.

import { BidderPart } from "/static/hall-bidder.js";
import { ackRequester } from "/static/lib/acks.js";
import { requestJson } from "/static/lib/api.js";
import { clearBanner, setStatus, showBanner, startClock } from "/static/lib/chrome.js";
import { $, el } from "/static/lib/dom.js";
import { messageOf } from "/static/lib/errors.js";
import { ROLE_LABELS } from "/static/lib/labels.js";
import { LiveCard } from "/static/lib/livecard.js";
import { STATUS_LABELS, STATUS_TONES, openingCalls, sizeText } from "/static/lib/opening.js";
import {
  Countdown, HappenedLog, Refusal, attachmentLink, followHall, bidderNames, renderBenchmark, renderIncidents, renderReadout, renderSteps, showRecord, signedByText,
  syncList,
} from "/static/lib/openingparts.js";
import { toBase64 } from "/static/lib/seal.js";
import { login } from "/static/lib/session.js";
import { connectSocket } from "/static/lib/socket.js";
import { formatDateTime, formatTime } from "/static/lib/time.js";

/**
 * @typedef {import("/static/lib/wire").Me} Me
 * @typedef {import("/static/lib/wire").OpeningView} OpeningView
 * @typedef {import("/static/lib/wire").OpeningHappened} OpeningHappened
 * @typedef {import("/static/lib/wire").OpeningObjection} OpeningObjection
 */

const ANSWERING = new Set(["tenderer", "agency"]);
const MAX_ATTACHMENT = 512 * 1024;
const ATTACHMENT_TYPES = new Set(["image/jpeg", "image/png", "application/pdf"]);

const page = {
  /** @type {Me | null} */
  me: null,
  /** @type {ReturnType<typeof openingCalls> | null} */
  calls: null,
  /** @type {OpeningView | null} */
  view: null,
  /** @type {Map<string, string>} */
  names: new Map(),
  /** @type {BidderPart | null} */
  bidder: null,
  /** Why this bidder was muted, when the page was told. */
  muteReason: "",
  /** @type {LiveCard | null} */
  live: null,
};

const me = () => /** @type {Me} */ (page.me);
const calls = () => /** @type {ReturnType<typeof openingCalls>} */ (page.calls);
const isBidder = () => me().role === "bidder";
const answers = () => ANSWERING.has(me().role);

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
  if (errorBox) errorBox.textContent = "";
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

// ---- rendering ----------------------------------------------------------------------------

/** @param {OpeningView} view */
function phaseWords(view) {
  if (view.phase === "ended") {
    if (view.forced_end) return `开标已由管理员强制结束：${view.forced_end}`;
    if (view.failed) return view.failed;
    return "开标已结束。开标记录表已由主持人和见证人签署。";
  }
  const drawing = view.benchmark && !view.benchmark.values ? "抽取评标基准价参数并" : "";
  return /** @type {Record<string, string>} */ ({
    scheduled: "开标尚未开始。主持人开始签到后，投标人代表可签到并递交投标文件。",
    submission: "正在签到和递交投标文件。投标截止时间一到，系统自动截止并公布递交了投标文件的投标人。",
    published: "投标已截止，已公布递交投标文件的投标人。请等待主持人开启解密。",
    decryption: "正在解密：请各投标人在解密时限内提交解密密钥；不能解密的，请报告解密失败。",
    decrypted: `解密已结束。请等待主持人${drawing}公布唱标结果。`,
    read_out: answers()
      ? "唱标：投标人核对本单位的唱标结果；对提出的异议，请招标人或招标代理机构逐条答复。"
      : "唱标：请各投标人核对本单位的唱标结果，确认无误或提出异议。",
    signing: "开标记录表已生成，主持人和见证人正在签署。",
  })[view.phase] || "";
}

/** @param {OpeningView} view */
function renderFacts(view) {
  /** @type {Array<[string, string]>} */
  const facts = [["投标截止", formatDateTime(new Date(view.deadline))]];
  if (view.submitted_count !== null) facts.push(["递交投标文件", `${view.submitted_count} 家`]);
  if (["decrypted", "read_out", "signing", "ended"].includes(view.phase) && !view.failed) facts.push(["有效投标", `${view.valid.length} 家`]);
  facts.push(["最少有效投标", `${view.min_bids} 家`]);
  $("#facts").replaceChildren(...facts.map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", {}, v))));
}

/** @param {string | null | undefined} iso */
const at = (iso) => (iso ? formatTime(new Date(iso)) : "—");

/** @param {import("/static/lib/wire").OpeningBidder} b */
function bidNote(b) {
  if (b.invalid) return `投标无效：${b.invalid}`;
  if (b.decision) return b.handling ? `主持人处理：${b.handling}` : "";
  if (b.failure) return `报告：${b.failure}`;
  if (b.refused) return b.refused;
  return "";
}

/** @param {OpeningView} view */
function renderBidders(view) {
  const published = view.submitted_count !== null;
  const table = $("#bidders", HTMLTableElement);
  $("#bidders-hidden").hidden = published;
  table.hidden = !published;
  $("#bidders-count").textContent = published ? `递交 ${view.submitted_count} 家` : "";
  if (!published) return;
  table.replaceChildren(
    el("thead", {}, el("tr", {}, el("th", { class: "num" }, "序号"), el("th", {}, "投标人"), el("th", {}, "递交时间"),
      el("th", {}, "状态"), el("th", {}, "提交密钥"), el("th", {}, "说明"))),
    el("tbody", {}, view.bidders.map((b, i) => el("tr", { class: b.bidder === me().participant_id ? "mine" : "", dataset: { bidder: b.bidder, status: b.status } },
      el("td", { class: "num" }, String(i + 1)),
      el("td", { class: "name" }, b.name, b.bidder === me().participant_id ? el("span", { class: "tag" }, "本单位") : null),
      el("td", {}, at(b.submitted_at)),
      el("td", {}, el("span", { class: `pill ${STATUS_TONES[b.status] || "idle"}` }, STATUS_LABELS[b.status] || b.status_label)),
      el("td", {}, at(b.released_at)),
      el("td", { class: "note" }, bidNote(b))))));
}

/** @param {OpeningView} view */
function renderReadoutCard(view) {
  const shown = view.readout.length > 0;
  $("#readout-card").hidden = !shown;
  if (!shown) return;
  const confirmed = new Set(view.bidders.filter((b) => b.confirmed).map((b) => b.bidder));
  const mine = isBidder() ? me().participant_id : null;
  renderReadout($("#readout", HTMLTableElement), view, {
    mine,
    extra: (row) => {
      if (confirmed.has(row.bidder)) return el("span", { class: "pill ok" }, "已确认");
      if (row.bidder !== mine || view.phase !== "read_out") return el("span", { class: "pill idle" }, "待确认");
      const button = el("button", { class: "btn btn-primary btn-small", type: "button", id: "confirm-row" }, "确认无误");
      button.addEventListener("click", () => act(() => calls().command("confirm_row")));
      return button;
    },
  });
  const own = view.bidders.find((b) => b.bidder === mine);
  $("#objection-box").hidden = !(own?.submitted && view.phase === "read_out");
}

/**
 * An objection; the tenderer and agency answer an unanswered one here.
 * @param {HTMLElement} item
 * @param {OpeningObjection} o
 */
function updateObjection(item, o) {
  const view = /** @type {OpeningView} */ (page.view);
  item.className = o.answer ? "answered" : "open";
  const form = item.querySelector("form");
  const body = [
    el("div", { class: "objection-head" }, `第 ${o.number} 号 · ${o.name || nameOf(o.bidder)}`,
      el("span", { class: `pill ${o.answer ? "ok" : "warn"}` }, o.answer ? "已答复" : "待答复")),
    el("div", { class: "objection-text" }, o.text),
    o.attachment ? attachmentLink({ number: o.number, attachment: o.attachment }, calls()) : null,
    o.answer ? el("div", { class: "answer" }, el("b", {}, "答复："), o.answer) : null,
  ].filter((n) => n !== null);
  const answering = !o.answer && answers() && view.phase === "read_out";
  item.replaceChildren(...body, ...(answering ? [form || answerForm(o)] : []));
}

/** @param {OpeningObjection} o */
function answerForm(o) {
  const text = el("textarea", { name: "answer", rows: 2, maxlength: 500, placeholder: "答复内容", required: true, "aria-label": `答复第 ${o.number} 号异议` });
  const error = el("p", { class: "form-error", role: "alert" });
  const form = el("form", { class: "stack answer-form", novalidate: true }, text, el("div", { class: "row" }, el("button", { class: "btn btn-primary", type: "submit" }, "答复异议")), error);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const answer = text.value.trim();
    if (!answer) { error.textContent = "请填写答复内容"; return; }
    await act(() => calls().command("answer_objection", { objection: o.number, answer }), error);
  });
  return form;
}

/** @param {OpeningView} view */
function renderObjections(view) {
  const shown = view.objections.length > 0;
  $("#objections-card").hidden = !shown;
  $("#objections-note").textContent = answers() ? "招标人或招标代理机构逐条答复" : "本单位提出的异议";
  syncList($("#objections"), view.objections, (o) => String(o.number), () => el("li"), updateObjection);
}

/** @param {OpeningView} view */
function renderRecord(view) {
  const sha = view.record.sha256;
  $("#record-card").hidden = !sha;
  if (!sha) return;
  $("#record-sha256").textContent = sha;
  $("#record-signed").textContent = signedByText(view);
  const frame = $("#record-frame", HTMLIFrameElement);
  if (!frame.hidden && frame.dataset.sha256 !== sha) frame.hidden = true;
}

/**
 * A new view of the opening, from a REST answer or a push.
 * @param {OpeningView} view
 * @param {number} receivedAt
 */
function take(view, receivedAt) {
  refusal.seen(view);
  page.view = view;
  for (const [id, name] of bidderNames(view)) page.names.set(id, name);
  document.body.dataset.phase = view.phase;
  $("#phase").textContent = view.paused ? `${view.phase_label}（暂停）` : view.phase_label;
  const paused = $("#paused");
  paused.hidden = !view.paused;
  paused.textContent = view.paused ? `开标已暂停：${view.pause_reason}` : "";
  const muted = $("#muted");
  muted.hidden = !view.you_are_muted;
  muted.textContent = view.you_are_muted ? `您已被禁言${page.muteReason ? `（${page.muteReason}）` : ""}，禁言期间请勿发言。` : "";
  page.live?.setMuted(Boolean(view.you_are_muted));
  countdown.take(view, receivedAt);
  renderSteps($("#steps"), view.phase);
  $("#phase-words").textContent = phaseWords(view);
  renderFacts(view);
  renderBidders(view);
  renderBenchmark($("#benchmark-card"), view);
  renderReadoutCard(view);
  renderObjections(view);
  renderRecord(view);
  renderIncidents($("#incidents"), view);
  page.bidder?.render(view);
}

/** @param {OpeningHappened} happened */
function told(happened) {
  const text = log.add(happened);
  if (happened.kind === "notice") {
    $("#notice-text").textContent = text;
    $("#notice-bar").hidden = false;
  }
  if (happened.kind === "speaker_muted" && happened.data.participant === me().participant_id) page.muteReason = String(happened.data.reason || "");
  if (happened.kind === "speaker_unmuted" && happened.data.participant === me().participant_id) page.muteReason = "";
}

// ---- wiring -------------------------------------------------------------------------------

function wire() {
  for (const input of document.querySelectorAll("input[type=file][data-shows]")) {
    if (!(input instanceof HTMLInputElement)) continue;
    input.addEventListener("change", () => {
      const file = input.files?.[0];
      $(`#${input.dataset.shows}`).textContent = file ? `${file.name}（${sizeText(file.size)}）` : "未选择文件";
    });
  }
  $("#notice-close").addEventListener("click", () => { $("#notice-bar").hidden = true; });
  $("#record-show").addEventListener("click", async () => {
    const frame = $("#record-frame", HTMLIFrameElement);
    $("#record-error").textContent = "";
    try {
      await showRecord(frame, calls(), /** @type {OpeningView} */ (page.view));
      frame.hidden = false;
    } catch (err) {
      $("#record-error").textContent = messageOf(err);
    }
  });
  $("#objection-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = /** @type {HTMLFormElement} */ (e.target);
    const error = $("#objection-error");
    const text = /** @type {HTMLTextAreaElement} */ (form.elements.namedItem("text")).value.trim();
    const file = $("#objection-file", HTMLInputElement).files?.[0];
    if (!text) { error.textContent = "请填写异议内容"; return; }
    /** @type {{ text: string, attachment?: string, attachment_type?: string }} */
    const body = { text };
    if (file) {
      if (!ATTACHMENT_TYPES.has(file.type)) { error.textContent = "附件应为图片（JPEG、PNG）或 PDF"; return; }
      if (file.size > MAX_ATTACHMENT) { error.textContent = "附件不能超过 512 KB"; return; }
      body.attachment = toBase64(new Uint8Array(await file.arrayBuffer()));
      body.attachment_type = file.type;
    }
    if (await act(() => calls().object(body), error)) {
      form.reset();
      $("#objection-file-name").textContent = "未选择文件";
    }
  });
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
  page.live = new LiveCard({
    request,
    speaker: { camera: false, label: "开启麦克风发言" },
    onLive: setLive,
  });
  socket.on("media", (media) => page.live?.take(media));
  socket.on("speaking_elsewhere", ({ message }) => page.live?.elsewhere(message));
  followHall(socket, { take: (view) => take(view, Date.now()), told, log });
}

async function start() {
  startClock(() => countdown.now());
  wire();
  await login();
  page.me = /** @type {Me} */ (await requestJson("/api/me", { what: "读取身份失败" }));
  const session = me().session;
  if (!session) throw new Error("该链接不属于任何开标场次");
  document.body.dataset.role = me().role;
  page.calls = openingCalls(session.id);
  $("#project-name").textContent = session.project_name;
  $("#project-meta").textContent = `项目编号 ${session.project_code} · 不见面开标大厅`;
  $("#who").textContent = `${ROLE_LABELS[me().role] || me().role} ${me().name}`;
  if (isBidder()) page.bidder = new BidderPart({ me: me(), calls: calls(), act, showBanner });
  take(await calls().view(), Date.now());
  document.body.dataset.state = "ready";
  connect();
}

start().catch((err) => {
  document.body.dataset.state = "error";
  setStatus("无法进入", "bad");
  showBanner(messageOf(err));
});
