// @ts-check
// Venue console (评标室控制台) for the host, venue staff and witnesses: the seats of the venue
// with who is there and their devices, identity check, the committee's workflow, incidents,
// notices and the live activity record. Every action is a REST call that the server checks and
// logs; the page is told of every change over Socket.IO.
//
// document.body.dataset.state: connecting | live | error; dataset.phase: the workflow phase.

import { refusalCode } from "/static/lib/acks.js";
import { answerOf, requestJson } from "/static/lib/api.js";
import { setBanner as showBanner } from "/static/lib/chrome.js";
import { $, control, el } from "/static/lib/dom.js";
import { messageOf, problemText } from "/static/lib/errors.js";
import { describeEvent } from "/static/lib/events.js";
import { EVENT_LABELS, KIND_LABELS, ROLE_LABELS, VENUE_KIND_LABELS, motionResult, tieRuleText } from "/static/lib/labels.js";
import { api as request, login } from "/static/lib/session.js";
import { connectSocket } from "/static/lib/socket.js";
import { formatDateTime, formatTime } from "/static/lib/time.js";

const PHASES = [
  ["scheduled", "未开始"], ["check_in", "签到"], ["election", "推选组长"],
  ["evaluation", "评审"], ["signing", "签署报告"], ["ended", "已结束"],
];

const ACTIVE = ["check_in", "election", "evaluation", "signing"];

/**
 * @typedef {import("/static/lib/wire").Roster} Roster
 * @typedef {import("/static/lib/wire").RosterSeat} RosterSeat
 * @typedef {import("/static/lib/wire").WorkflowState} WorkflowState
 * @typedef {import("/static/lib/wire").RecordEvent} RecordEvent
 * @typedef {import("/static/lib/wire").Person} Person
 * @typedef {(label: string, onClick: () => void, options?: { enabled?: boolean, tone?: string, id?: string }) => HTMLButtonElement} MakeButton
 */

/**
 * The console's `hello`: the session, who this is, the venues, the people, and the state.
 * @typedef {{
 *   session: { id: string, project_name: string, project_code: string, scheduled_start: string, late_after_s: number },
 *   me: { role: string, name: string, venue?: string | null, main_host: boolean },
 *   venues: Array<{ id: string, name: string }>,
 *   people: Array<Person & { id: string }>,
 *   roster: Roster, workflow: WorkflowState, activity: RecordEvent[],
 * }} Hello
 */

/**
 * @type {{
 *   hello: Hello | null, roster: Roster | null, workflow: WorkflowState | null,
 *   people: Map<string, Person>, activity: RecordEvent[], arrivals: Map<string, number>,
 *   pendingExpert: string | null, excusing: string | null,
 * }}
 */
const app = { hello: null, roster: null, workflow: null, people: new Map(), activity: [], arrivals: new Map(), pendingExpert: null, excusing: null };

/** The hello (the page acts only after it came). */
const hello = () => /** @type {Hello} */ (app.hello);
/** The roster's seats (the page acts only after the hello brought them). */
const seats = () => /** @type {Roster} */ (app.roster).seats;

// ---- server -------------------------------------------------------------------------------

/** A call about this session: its JSON answer, or an ApiError saying why in Chinese. */
/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 */
function api(method, path, body) {
  return requestJson(`/api/sessions/${hello().session.id}${path}`, { method, json: body });
}

/**
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

const me = () => hello().me;
const isHost = () => me().role === "host";
const isMainHost = () => me().main_host;
const canAct = () => ["host", "staff"].includes(me().role);
/** @param {string | null | undefined} id */
const nameOf = (id) => {
  if (!id) return "系统";
  if (id.startsWith("door:")) return "门禁系统";
  return (app.people.get(id) || { name: "" }).name || id.slice(0, 8);
};
/** @param {string} id */
const venueName = (id) => {
  const venue = hello().venues.find((v) => v.id === id);
  return venue ? venue.name : "其他评标室";
};
/** @param {string} iso */
const clock = (iso) => formatTime(new Date(iso));

/** @param {RecordEvent} event */
function describe(event) {
  return describeEvent(event, { name: nameOf, seat: seatLabel });
}

/** @param {string} key */
function seatLabel(key) {
  const seat = (app.roster ? app.roster.seats : []).find((s) => s.key === key);
  return seat ? seat.label : key;
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

/**
 * @param {RosterSeat} seat
 * @param {WorkflowState} wf
 * @returns {[string, string]}
 */
function seatStatus(seat, wf) {
  const id = seat.expert_id;
  if (wf.withdrawn.includes(id)) return ["回避/离席", "bad"];
  if (wf.excused.includes(id)) return ["已请离席", "bad"];
  if (wf.signed.includes(id)) return ["已签署报告", "ok"];
  if (wf.committed.includes(id)) return ["已签承诺书", "ok"];
  if (wf.checked_in.includes(id)) return ["已核验", "ok"];
  return ["未签到", "idle"];
}

function renderVenues() {
  const wf = app.workflow;
  const host = $("#venues");
  host.replaceChildren();
  if (!app.roster || !wf) return;
  const start = new Date(hello().session.scheduled_start).getTime();
  const lateAfter = hello().session.late_after_s * 1000;
  /** @type {Map<string, RosterSeat[]>} */
  const byVenue = new Map();
  for (const seat of app.roster.seats) {
    if (!byVenue.has(seat.venue_id)) byVenue.set(seat.venue_id, []);
    /** @type {RosterSeat[]} */ (byVenue.get(seat.venue_id)).push(seat);
  }
  for (const [venueId, seats] of byVenue) {
    const first = seats[0];
    const online = seats.filter((s) => s.online).length;
    const rows = seats.map((s) => {
      const arrived = app.arrivals.get(s.expert_id);
      const late = arrived && arrived - start > lateAfter;
      const [status, tone] = seatStatus(s, wf);
      const devices = ["camera", "microphone", "desktop"].map((k) =>
        el("span", { class: `device ${s.tracks.includes(k) ? "on" : "off"}`, title: KIND_LABELS[k] }, KIND_LABELS[k]));
      // The identity picture comes from the seat's camera: offered while the seat sends one.
      const canCheck = canAct() && wf.phase === "check_in" && !wf.paused && !wf.checked_in.includes(s.expert_id)
        && !wf.withdrawn.includes(s.expert_id) && (isHost() || me().venue === venueId) && s.tracks.includes("camera");
      return el("tr", { class: s.online ? "online" : "offline", dataset: { expert: s.expert_id } },
        el("td", {}, `${s.seat_no}号`),
        el("td", { class: "name" }, s.expert_name, wf.leader === s.expert_id ? el("span", { class: "tag leader" }, "组长") : null),
        el("td", {}, el("span", { class: `dot ${s.online ? "on" : "off"}` }), s.online ? "在线" : "离线"),
        el("td", { class: "devices" }, devices),
        el("td", {}, arrived ? formatTime(new Date(arrived)) : "—", late ? el("span", { class: "tag late" }, "迟到") : null),
        el("td", {}, el("span", { class: `status ${tone}` }, status)),
        el("td", {}, canCheck ? el("button", { class: "btn btn-small", type: "button", dataset: { identify: s.expert_id } }, "拍照核验") : null,
          canReplace(s, wf, venueId) ? el("button", { class: "btn btn-small btn-warn", type: "button", dataset: { replace: s.expert_id } }, "替换专家") : null,
          canExcuse(s, wf, venueId) ? el("button", { class: "btn btn-small btn-warn", type: "button", dataset: { excuse: s.expert_id } }, "请离席") : null,
          canReissue(s, wf) ? el("button", { class: "btn btn-small", type: "button", dataset: { reissue: s.expert_id }, title: "原链接立即失效" }, "重发链接") : null));
    });
    host.append(el("article", { class: "venue card" },
      el("h2", {}, first.venue_name,
        el("span", { class: `tag ${first.venue_kind}` }, VENUE_KIND_LABELS[first.venue_kind] || ""),
        el("span", { class: "muted" }, `在线 ${online}/${seats.length}`)),
      el("table", {},
        el("thead", {}, el("tr", {}, ["机位", "专家", "连接", "设备", "到场", "状态", ""].map((h) => el("th", {}, h)))),
        el("tbody", {}, rows))));
  }
}

/** A withdrawn expert's seat can be given to a newly drawn expert before the election. */
/**
 * @param {RosterSeat} seat
 * @param {WorkflowState} wf
 * @param {string} venueId
 */
function canReplace(seat, wf, venueId) {
  return canAct() && ["scheduled", "check_in"].includes(wf.phase) && wf.withdrawn.includes(seat.expert_id)
    && !wf.replaced_by[seat.expert_id] && (isHost() || me().venue === venueId);
}

/** An absent expert is excused by the main venue's host, or by the staff of their venue. */
/**
 * @param {RosterSeat} seat
 * @param {WorkflowState} wf
 * @param {string} venueId
 */
function canExcuse(seat, wf, venueId) {
  const mayAct = isMainHost() || (me().role === "staff" && me().venue === venueId);
  return mayAct && ACTIVE.includes(wf.phase) && !wf.paused && wf.seated.includes(seat.expert_id)
    && !wf.signed.includes(seat.expert_id) && wf.seated.length > 1;
}

/** The main venue's host gives a seated expert a new link (a lost or shared one is revoked). */
/**
 * @param {RosterSeat} seat
 * @param {WorkflowState} wf
 */
function canReissue(seat, wf) {
  return isMainHost() && wf.phase !== "ended" && !wf.withdrawn.includes(seat.expert_id)
    && !wf.excused.includes(seat.expert_id) && !wf.replaced_by[seat.expert_id];
}

/** @param {string} expertId */
async function reissueLink(expertId) {
  const seat = /** @type {RosterSeat} */ (seats().find((s) => s.expert_id === expertId));
  if (!window.confirm(`为${seat.label} ${seat.expert_name}重新发放机位链接？\n原链接立即失效，该机位如在线将断开，需用新链接重新进入。`)) return;
  try {
    const answer = await api("POST", `/links/${expertId}/reissue`, { reason: "主持人重新发放机位链接" });
    showLink({ name: seat.expert_name, venue_id: seat.venue_id, seat_no: seat.seat_no, url: answer.url },
      "重新发放的机位链接", "请将此链接交给该专家，在该机位的电脑上打开。原链接已失效。");
  } catch (err) {
    showBanner(messageOf(err));
  }
}

/** @param {string} expertId */
function excuseExpert(expertId) {
  const seat = /** @type {RosterSeat} */ (seats().find((s) => s.expert_id === expertId));
  app.excusing = expertId;
  $("#excuse-name").textContent = `${seat.expert_name}（${seat.label}）`;
  $("#excuse-form", HTMLFormElement).reset();
  $("#excuse-dialog", HTMLDialogElement).showModal();
}

/** @param {string} expertId */
async function replaceExpert(expertId) {
  const seat = /** @type {RosterSeat} */ (seats().find((s) => s.expert_id === expertId));
  const name = window.prompt(`${seat.label}：请输入新抽取的替补专家姓名`);
  if (!name?.trim()) return;
  const idNumber = window.prompt("替补专家身份证号（18 位，仅保存后四位；可留空）") || null;
  try {
    const answer = await api("POST", `/experts/${expertId}/replacement`, { name: name.trim(), id_number: idNumber ? idNumber.trim() : null });
    applyWorkflow(answer.state);
    showLink(answer.replacement);
  } catch (err) {
    showBanner(messageOf(err));
  }
}

/** A seat link to hand over at the venue: a replacement's, or a re-issued one. */
/**
 * @param {{ name: string, venue_id: string, seat_no: number, url: string }} expert
 * @param {string} [title]
 * @param {string} [note]
 */
function showLink(expert, title = "替补专家的机位链接", note = "请将此链接交给替补专家，在该机位的电脑上打开。原专家的链接已失效。") {
  const dialog = $("#link-dialog", HTMLDialogElement);
  $("#link-title").textContent = title;
  $("#link-note").textContent = note;
  $("#link-name").textContent = `${expert.name}（${seatLabel(`${expert.venue_id}:${expert.seat_no}`)}）`;
  $("#link-url", HTMLInputElement).value = new URL(expert.url, window.location.href).href;
  dialog.showModal();
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
  const facts = [
    ["在席专家", `${seated} 人`],
    ["已核验", `${wf.checked_in.length}/${seated}`],
    ["已签承诺书", `${wf.committed.length}/${seated}`],
  ];
  if (wf.excused.length) facts.push(["已请离席", wf.excused.map(nameOf).join("，")]);
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

// ---- identity check -----------------------------------------------------------------------

/** @param {string} expertId */
async function identify(expertId) {
  const seat = /** @type {RosterSeat} */ (seats().find((s) => s.expert_id === expertId));
  try {
    const answer = await api("POST", `/identity/${expertId}`);
    const picture = await request(answer.url);
    $("#identity-picture", HTMLImageElement).src = URL.createObjectURL(await picture.blob());
  } catch (err) {
    showBanner(messageOf(err));
    return;
  }
  app.pendingExpert = expertId;
  $("#identity-facts").replaceChildren(
    ...[
      ["专家", seat.expert_name],
      ["身份证号", seat.id_last4 ? `**************${seat.id_last4}` : "名单未提供"],
      ["机位", seat.label],
      ["到场", app.arrivals.has(expertId) ? formatTime(new Date(/** @type {number} */ (app.arrivals.get(expertId)))) : "—"],
    ]
      .map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", {}, v))));
  $("#identity-dialog", HTMLDialogElement).showModal();
}

// ---- wiring -------------------------------------------------------------------------------

function wire() {
  $("#venues").addEventListener("click", (e) => {
    const clicked = /** @type {Element} */ (e.target);
    const target = /** @type {HTMLElement | null} */ (clicked.closest("[data-identify]"));
    if (target) identify(String(target.dataset.identify));
    const replacing = /** @type {HTMLElement | null} */ (clicked.closest("[data-replace]"));
    if (replacing) replaceExpert(String(replacing.dataset.replace));
    const excusing = /** @type {HTMLElement | null} */ (clicked.closest("[data-excuse]"));
    if (excusing) excuseExpert(String(excusing.dataset.excuse));
    const reissuing = /** @type {HTMLElement | null} */ (clicked.closest("[data-reissue]"));
    if (reissuing) reissueLink(String(reissuing.dataset.reissue));
  });
  $("#excuse-dialog").addEventListener("close", () => {
    const reason = control($("#excuse-form", HTMLFormElement), "reason").value.trim();
    if ($("#excuse-dialog", HTMLDialogElement).returnValue === "confirm" && app.excusing && reason) {
      command("excuse_expert", { expert: app.excusing, reason });
    }
    app.excusing = null;
  });
  $("#identity-dialog").addEventListener("close", () => {
    if ($("#identity-dialog", HTMLDialogElement).returnValue === "confirm" && app.pendingExpert) command("check_in", { expert: app.pendingExpert });
    app.pendingExpert = null;
  });
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
    app.roster = hello.roster;
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
  socket.on("roster", (/** @type {Roster} */ roster) => { app.roster = roster; renderVenues(); });
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
