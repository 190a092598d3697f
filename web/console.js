// @ts-check
// Venue console (评标室控制台) for the host, venue staff and witnesses: the seats of the venue
// with who is there and their devices, identity check, the committee's workflow, incidents,
// notices and the live activity record. Every action is a REST call that the server checks and
// logs; the page is told of every change over Socket.IO.
//
// document.body.dataset.state: connecting | live | error; dataset.phase: the workflow phase.

import { renderVenues, wireSeats } from "/static/console-seats.js";
import { api, app, canAct, hello, isHost, isMainHost, me, nameOf, seatLabel, takeRoster, venueName } from "/static/console-state.js";
import { refusalCode } from "/static/lib/acks.js";
import { answerOf } from "/static/lib/api.js";
import { setBanner as showBanner } from "/static/lib/chrome.js";
import { $, control, el } from "/static/lib/dom.js";
import { messageOf, problemText } from "/static/lib/errors.js";
import { describeEvent } from "/static/lib/events.js";
import { EVENT_LABELS, ROLE_LABELS, motionResult, tieRuleText } from "/static/lib/labels.js";
import { joiningReplacements } from "/static/lib/replacements.js";
import { api as request, login } from "/static/lib/session.js";
import { connectSocket } from "/static/lib/socket.js";
import { formatDateTime, formatTime } from "/static/lib/time.js";

const PHASES = [
  ["scheduled", "未开始"], ["check_in", "签到"], ["election", "推选组长"],
  ["evaluation", "评审"], ["signing", "签署报告"], ["ended", "已结束"],
];

/**
 * @typedef {import("/static/lib/wire").Roster} Roster
 * @typedef {import("/static/lib/wire").WorkflowState} WorkflowState
 * @typedef {import("/static/lib/wire").RecordEvent} RecordEvent
 * @typedef {import("/static/console-state.js").Hello} Hello
 * @typedef {(label: string, onClick: () => void, options?: { enabled?: boolean, tone?: string, id?: string }) => HTMLButtonElement} MakeButton
 */

// ---- server -------------------------------------------------------------------------------

/**
 * A workflow command; its answer, or null when refused (the reason is in the banner).
 * @param {string} kind
 * @param {Record<string, unknown>} [fields]
 */
async function command(kind, fields = {}) {
  try {
    const answer = await api("POST", "/workflow", { kind, fields });
    showBanner("");
    applyWorkflow(answer.state);
    return answer;
  } catch (err) {
    showBanner(messageOf(err));
    return null;
  }
}

// ---- helpers ------------------------------------------------------------------------------

/** @param {string} iso */
const clock = (iso) => formatTime(new Date(iso));

/** @param {RecordEvent} event */
function describe(event) {
  return describeEvent(event, { name: nameOf, seat: seatLabel });
}

// ---- rendering ----------------------------------------------------------------------------

function renderHeader() {
  const { session } = hello();
  $("#project-name").textContent = session.project_name;
  const start = new Date(session.scheduled_start);
  $("#project-meta").textContent = `项目编号 ${session.project_code} · 计划开始 ${formatDateTime(start)}`;
  const venue = me().venue;
  const where = venue ? venueName(venue) : "全部评标室";
  $("#who").textContent = `${ROLE_LABELS[me().role] || me().role} ${me().name} · ${where}`;
}

function renderFlow() {
  const wf = app.workflow;
  if (!wf) return;
  document.body.dataset.phase = wf.phase;
  $("#phase").textContent = wf.paused ? `${wf.phase_label}（已暂停）` : wf.phase_label;
  $("#phase").dataset.phase = wf.phase;
  const paused = $("#paused");
  paused.hidden = !wf.paused;
  paused.textContent = wf.paused ? `评审已暂停：${wf.pause_reason}` : "";
  const at = PHASES.findIndex(([p]) => p === wf.phase);
  $("#steps").replaceChildren(...PHASES.map(([, label], i) =>
    el("li", { class: i < at ? "done" : i === at ? "current" : "" }, label)));

  const seated = wf.seated.length;
  /** @param {string[]} ids How many of the seated experts are among `ids`. */
  const ofSeated = (ids) => ids.filter((id) => wf.seated.includes(id)).length;
  const facts = [
    ["在席专家", `${seated} 人`],
    ["已核验", `${ofSeated(wf.checked_in)}/${seated}`],
    ["已签承诺书", `${ofSeated(wf.committed)}/${seated}`],
  ];
  if (wf.excused.length) facts.push(["已请离席", wf.excused.map(nameOf).join("，")]);
  // A replacement drawn after check-in joins once checked in and committed (拍照核验 at the seat).
  for (const [id, step] of joiningReplacements(wf)) facts.push(["替补专家", `${nameOf(id)}：${step}`]);
  if (wf.election.round) {
    facts.push(["推选组长", wf.leader ? nameOf(wf.leader) : `第 ${wf.election.round} 轮，已投 ${wf.election.voted.length}/${seated}`]);
    facts.push(["平票规则", tieRuleText(wf.election)]);
    if (wf.election.lot_commitment) facts.push(["抽签承诺值", `SHA-256 ${wf.election.lot_commitment.slice(0, 16)}…`]);
  }
  for (const m of wf.motions) {
    facts.push([`表决 ${m.number}`, m.closed ? motionResult(m) : `${m.title}：已表决 ${m.voted.length}/${seated}`]);
  }
  if (wf.report) {
    facts.push(["评标报告", `SHA-256 ${wf.report.sha256.slice(0, 16)}…`]);
    facts.push(["已签署", `${wf.signed.length}/${seated}`]);
  }
  $("#flow-facts").replaceChildren(el("dl", {}, facts.map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", {}, v)))));

  /** @type {HTMLElement[]} */
  const actions = [];
  /** @type {MakeButton} */
  const button = (label, onClick, { enabled = true, tone = "btn-primary", id } = {}) => {
    const b = el("button", { class: `btn ${tone}`, type: "button", id, disabled: !enabled || wf.paused });
    b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  };
  if (isMainHost()) {
    if (wf.phase === "scheduled") actions.push(button("开始签到", () => command("open_check_in"), { id: "open-check-in" }));
    if (wf.phase === "check_in") {
      const ready = seated > 0 && wf.seated.every((id) => wf.committed.includes(id));
      actions.push(electionForm(ready, button));
    }
    if (wf.phase === "signing") {
      const all = wf.seated.every((id) => wf.signed.includes(id));
      actions.push(button("发出评审结束指令", () => {
        if (window.confirm("全体专家已签署评标报告。确认发出评审结束指令？评标将结束，档案将封存。")) command("end");
      }, { enabled: all, tone: "btn-danger", id: "end-btn" }));
      if (!all) actions.push(el("p", { class: "muted" }, "全体在席专家签署评标报告后方可结束。"));
    }
  }
  const open = wf.motions.find((m) => !m.closed);
  if (isHost() && wf.phase === "evaluation" && open) actions.push(motionControls(open, button));
  if (isHost() && wf.phase === "evaluation") actions.push(reportUpload());
  if (!actions.length) actions.push(el("p", { class: "muted" }, waitingText(wf)));
  $("#flow-actions").replaceChildren(...actions);

  $("#notice-card").hidden = !isMainHost() || wf.phase === "ended";
  $("#pause-form").hidden = !canAct() || wf.phase === "ended";
  $("#incident-form").hidden = !canAct() || wf.phase === "ended";
  $("#pause-btn").hidden = wf.paused;
  $("#resume-btn").hidden = !wf.paused || !canAct();
  renderIncidents();
}

/** @param {WorkflowState} wf */
function waitingText(wf) {
  return /** @type {Record<string, string>} */ ({
    scheduled: "等待主场主持人开始签到。",
    check_in: "工作人员核验专家身份，专家签署承诺书。",
    election: "专家正在无记名投票推选组长。",
    evaluation: "评审进行中；组长可发起表决并提交评标报告。",
    signing: "专家正在签署评标报告。",
    ended: "评审已结束，档案已封存。",
  })[wf.phase] || "";
}

/** The tie rule is chosen before the ballot: another round (at most N, then a draw by lot), or
 * a draw by lot at once. */
/**
 * @param {boolean} ready
 * @param {MakeButton} button
 */
function electionForm(ready, button) {
  const rule = el("select", { id: "tie-rule", "aria-label": "平票处理规则" },
    el("option", { value: "revote" }, "平票重新投票，达到轮数后抽签"),
    el("option", { value: "lot" }, "平票直接抽签"));
  const rounds = el("input", { type: "number", id: "max-rounds", min: 1, max: 5, value: 3, "aria-label": "最多投票轮数" });
  const roundsField = el("label", { class: "field" }, el("span", {}, "最多轮数"), rounds);
  rule.addEventListener("change", () => { roundsField.hidden = rule.value === "lot"; });
  const start = button("开始推选组长", () => {
    /** @type {{ tie_rule: string, max_rounds?: number }} */
    const fields = { tie_rule: rule.value };
    if (rule.value === "revote") fields.max_rounds = Number(rounds.value);
    command("start_election", fields);
  }, { enabled: ready, id: "start-election" });
  return el("div", { class: "stack tie-form" },
    el("label", { class: "field" }, el("span", {}, "平票时"), rule),
    roundsField,
    el("p", { class: "muted" }, "抽签由服务器按投票前公布的承诺值进行，结果可由任何人核验。"),
    start);
}

/** The host closes the open motion with the votes cast so far, or withdraws it. */
/**
 * @param {import("/static/lib/wire").Motion} motion
 * @param {MakeButton} button
 */
function motionControls(motion, button) {
  const reason = el("input", { id: "motion-cancel-reason", maxlength: 500, placeholder: "撤销原因" });
  const missing = /** @type {WorkflowState} */ (app.workflow).seated.filter((id) => !motion.voted.includes(id)).map(nameOf);
  return el("div", { class: "stack motion-box" },
    el("p", { class: "muted" }, `表决 ${motion.number} 尚未表决：${missing.join("，") || "无"}`),
    button("结束表决（按已投票计票）", () => command("close_motion", { motion: motion.number }), { id: "close-motion", tone: "" }),
    el("div", { class: "row" }, reason,
      button("撤销表决", () => reason.value.trim() && command("cancel_motion", { motion: motion.number, reason: reason.value.trim() }), { id: "cancel-motion", tone: "btn-warn" })));
}

function reportUpload() {
  const input = el("input", { type: "file", accept: "application/pdf", id: "report-file" });
  const b = el("button", { class: "btn", type: "button" }, "上传评标报告并提交签署");
  b.addEventListener("click", async () => {
    const file = input.files?.[0];
    if (!file) return showBanner("请先选择评标报告 PDF 文件");
    const response = await request(`/api/sessions/${hello().session.id}/report`, {
      method: "POST", headers: { "Content-Type": "application/pdf" }, body: file,
    });
    const answer = await answerOf(response);
    if (!response.ok) return showBanner(problemText(answer, null, "上传失败"));
    applyWorkflow(answer.state);
  });
  return el("div", { class: "stack" }, input, b);
}

function renderIncidents() {
  const wf = /** @type {WorkflowState} */ (app.workflow);
  const list = $("#incidents");
  list.replaceChildren(...wf.incidents.map((i) => {
    const mine = isHost() || me().venue === i.venue;
    const item = el("li", { class: i.result ? "closed" : "open" },
      el("div", { class: "incident-head" }, `#${i.number} ${venueName(i.venue)} · ${i.kind_label}`, i.result ? el("span", { class: "tag ok" }, "已处理") : el("span", { class: "tag late" }, "处理中")),
      el("div", {}, i.description),
      i.handling.map((h) => el("div", { class: "muted" }, `处理：${h}`)),
      i.result ? el("div", {}, `结果：${i.result}`) : null);
    if (!i.result && mine && canAct()) {
      const input = el("input", { maxlength: 500, placeholder: "处理情况或结果" });
      const handle = el("button", { class: "btn btn-small", type: "button" }, "记录处理");
      const close = el("button", { class: "btn btn-small", type: "button" }, "处理完毕");
      handle.addEventListener("click", () => input.value.trim() && command("handle_incident", { incident: i.number, handling: input.value.trim() }));
      close.addEventListener("click", () => input.value.trim() && command("close_incident", { incident: i.number, result: input.value.trim() }));
      item.append(el("div", { class: "row" }, input, handle, close));
    }
    return item;
  }));
  if (!wf.incidents.length) list.append(el("li", { class: "muted empty" }, "暂无异常情况"));
}

function renderActivity() {
  const rows = app.activity.slice(-300).reverse().map((e) =>
    el("tr", { class: `k-${e.kind}` },
      el("td", {}, clock(e.at)),
      el("td", {}, e.kind === "workflow" ? "评标流程" : EVENT_LABELS[e.kind] || e.kind),
      el("td", {}, nameOf(e.actor)),
      el("td", {}, describe(e))));
  $("#activity").replaceChildren(...rows);
  $("#activity-count").textContent = `共 ${app.activity.length} 条`;
}

function renderAll() {
  renderHeader();
  renderVenues();
  renderFlow();
  renderActivity();
}

// ---- state --------------------------------------------------------------------------------

/** @param {WorkflowState} state */
function applyWorkflow(state) {
  app.workflow = state;
  renderVenues();
  renderFlow();
}

/** @param {RecordEvent} event */
function noteArrival(event) {
  // Arrival (到场时间) is a seat's first connection in the session.
  if (event.kind === "seat_connected" && event.actor && !app.arrivals.has(event.actor)) {
    app.arrivals.set(event.actor, new Date(event.at).getTime());
  }
}

// ---- wiring -------------------------------------------------------------------------------

function wire() {
  wireSeats({ command, applyWorkflow });
  $("#notice-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = /** @type {HTMLFormElement} */ (e.target);
    const text = control(form, "text").value.trim();
    if (text && (await command("notice", { text }))) form.reset();
  });
  $("#pause-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = /** @type {HTMLFormElement} */ (e.target);
    const reason = control(form, "reason").value.trim();
    if (reason && (await command("pause", { reason }))) form.reset();
  });
  $("#resume-btn").addEventListener("click", () => command("resume"));
  $("#incident-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = /** @type {HTMLFormElement} */ (e.target);
    const description = control(form, "description");
    const fields = { venue: control(form, "venue").value, kind: control(form, "kind").value, description: description.value.trim() };
    if (fields.description && (await command("open_incident", fields))) description.value = "";
  });
}

function connect() {
  const socket = connectSocket("/console");
  socket.on("connect_error", (err) => {
    if (refusalCode(err)) {
      document.body.dataset.state = "error";
      showBanner(messageOf(err));
      socket.disconnect();
    }
  });
  socket.on("hello", (/** @type {Hello} */ hello) => {
    app.hello = hello;
    app.people = new Map(hello.people.map((p) => [p.id, p]));
    takeRoster(hello.roster);
    app.workflow = hello.workflow;
    app.activity = hello.activity;
    hello.activity.forEach(noteArrival);
    const venues = $("#incident-venue");
    venues.replaceChildren(...hello.venues.map((v) => el("option", { value: v.id }, v.name)));
    document.body.dataset.state = "live";
    renderAll();
  });
  socket.on("revoked", ({ message }) => {
    document.body.dataset.state = "error";
    showBanner(message);
  });
  socket.on("roster", (/** @type {Roster} */ roster) => { takeRoster(roster); renderVenues(); });
  socket.on("workflow", ({ state }) => applyWorkflow(state));
  socket.on("activity", (/** @type {RecordEvent} */ event) => {
    if (!app.hello || app.activity.some((e) => e.seq === event.seq)) return;
    app.activity.push(event);
    noteArrival(event);
    renderActivity();
    if (event.kind === "seat_connected") renderVenues();
  });
  socket.on("disconnect", () => { if (document.body.dataset.state === "live") showBanner("与服务器的连接已中断，正在重连…"); });
  socket.on("connect", () => showBanner(""));
}

wire();
login().then(connect, (err) => {
  document.body.dataset.state = "error";
  showBanner(err.message);
});
