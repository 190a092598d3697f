// @ts-check
// The venues' seats in the venue console, and what host and staff do at a seat: the identity
// check (拍照核验, then 确认签到; in a later phase for a replacement only), excusing an absent
// expert (请离席), giving the seat of one who withdrew, was excused or asked for leave to a
// replacement (补抽替换 from the pool on the same conditions, or the one the expert management
// system names when there is no draw to repeat), and re-issuing a seat link.

import { setBanner as showBanner } from "/static/lib/chrome.js";
import { $, control, el } from "/static/lib/dom.js";
import { messageOf } from "/static/lib/errors.js";
import { KIND_LABELS, VENUE_KIND_LABELS } from "/static/lib/labels.js";
import { mayCheckIn, offersNamedReplacement, predecessor, replaceable } from "/static/lib/replacements.js";
import { api as request } from "/static/lib/session.js";
import { formatTime } from "/static/lib/time.js";
import { actsAt, api, app, canAct, hello, isMainHost, me, nameOf, seatLabel, seatOf, workflow } from "/static/console-state.js";

const ACTIVE = ["check_in", "election", "evaluation", "signing"];

/**
 * @typedef {import("/static/lib/wire").RosterSeat} RosterSeat
 * @typedef {import("/static/lib/wire").WorkflowState} WorkflowState
 * @typedef {(kind: string, fields?: Record<string, unknown>) => Promise<unknown>} Command
 * @typedef {{ name: string, venue_id: string, seat_no: number, url: string }} SeatLink
 */

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

/**
 * The expert's name, with their tags: the leader, and a replacement with whom they replaced.
 * @param {RosterSeat} seat
 * @param {WorkflowState} wf
 */
function nameCell(seat, wf) {
  const replaced = predecessor(wf, seat.expert_id);
  return el("td", { class: "name" }, seat.expert_name,
    wf.leader === seat.expert_id ? el("span", { class: "tag leader" }, "组长") : null,
    replaced ? el("span", { class: "tag replacement", title: `替换 ${nameOf(replaced)}` }, "替补") : null,
    replaced ? el("div", { class: "muted replaced-note" }, `替换 ${nameOf(replaced)}`) : null);
}

/**
 * The buttons of a seat's row, as far as this console may act there now.
 * @param {RosterSeat} s
 * @param {WorkflowState} wf
 */
function seatActions(s, wf) {
  const id = s.expert_id;
  const here = actsAt(s.venue_id);
  // The identity picture comes from the seat's camera: offered while the seat sends one.
  const canCheck = here && mayCheckIn(wf, id) && s.tracks.includes("camera");
  // Leave (请假) before check-in is offered for an expert who is not at the seat.
  const why = here ? replaceable(wf, id) : null;
  const replacing = why === "leave" && s.online ? null : why;
  const mayExcuse = isMainHost() || (me().role === "staff" && me().venue === s.venue_id);
  const canExcuse = mayExcuse && ACTIVE.includes(wf.phase) && !wf.paused && wf.seated.includes(id)
    && !wf.signed.includes(id) && wf.seated.length > 1;
  // The main venue's host gives a seated expert a new link (a lost or shared one is revoked).
  const canReissue = isMainHost() && wf.phase !== "ended" && !wf.withdrawn.includes(id)
    && !wf.excused.includes(id) && !wf.replaced_by[id];
  const button = (/** @type {string} */ label, /** @type {Record<string, string>} */ data, tone = "", title = "") =>
    el("button", { class: `btn btn-small ${tone}`, type: "button", dataset: data, title: title || undefined }, label);
  return el("td", { class: "seat-actions" },
    canCheck ? button("拍照核验", { identify: id }) : null,
    replacing ? button(replacing === "leave" ? "请假替换" : "补抽替换", { replace: id }, "btn-warn") : null,
    canExcuse ? button("请离席", { excuse: id }, "btn-warn") : null,
    canReissue ? button("重发链接", { reissue: id }, "", "原链接立即失效") : null);
}

/** The seats of every venue this console sees, one table a venue. */
export function renderVenues() {
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
  for (const venueSeats of byVenue.values()) {
    const first = venueSeats[0];
    const online = venueSeats.filter((s) => s.online).length;
    const rows = venueSeats.map((s) => {
      const arrived = app.arrivals.get(s.expert_id);
      const late = arrived && arrived - start > lateAfter;
      const [status, tone] = seatStatus(s, wf);
      const devices = ["camera", "microphone", "desktop"].map((k) =>
        el("span", { class: `device ${s.tracks.includes(k) ? "on" : "off"}`, title: KIND_LABELS[k] }, KIND_LABELS[k]));
      return el("tr", { class: s.online ? "online" : "offline", dataset: { expert: s.expert_id } },
        el("td", {}, `${s.seat_no}号`),
        nameCell(s, wf),
        el("td", {}, el("span", { class: `dot ${s.online ? "on" : "off"}` }), s.online ? "在线" : "离线"),
        el("td", { class: "devices" }, devices),
        el("td", {}, arrived ? formatTime(new Date(arrived)) : "—", late ? el("span", { class: "tag late" }, "迟到") : null),
        el("td", {}, el("span", { class: `status ${tone}` }, status)),
        seatActions(s, wf));
    });
    host.append(el("article", { class: "venue card" },
      el("h2", {}, first.venue_name,
        el("span", { class: `tag ${first.venue_kind}` }, VENUE_KIND_LABELS[first.venue_kind] || ""),
        el("span", { class: "muted" }, `在线 ${online}/${venueSeats.length}`)),
      el("table", {},
        el("thead", {}, el("tr", {}, ["机位", "专家", "连接", "设备", "到场", "状态", ""].map((h) => el("th", {}, h)))),
        el("tbody", {}, rows))));
  }
}

/**
 * A seat link to hand over at the venue: a replacement's, or a re-issued one.
 * @param {SeatLink} expert
 * @param {string} [title]
 * @param {string} [note]
 */
function showLink(expert, title = "替补专家的机位链接", note = "请将此链接交给替补专家，在该机位的电脑上打开。原专家的链接已失效。") {
  $("#link-title").textContent = title;
  $("#link-note").textContent = note;
  $("#link-name").textContent = `${expert.name}（${seatLabel(`${expert.venue_id}:${expert.seat_no}`)}）`;
  $("#link-url", HTMLInputElement).value = new URL(expert.url, window.location.href).href;
  $("#link-dialog", HTMLDialogElement).showModal();
}

/** What the seats' dialogs are acting on: a check-in, an excusal, a replacement. */
const acting = { checking: /** @type {string | null} */ (null), excusing: /** @type {string | null} */ (null), replacing: /** @type {string | null} */ (null) };

/** @param {string} expertId */
async function identify(expertId) {
  const seat = seatOf(expertId);
  try {
    const answer = await api("POST", `/identity/${expertId}`);
    const picture = await request(answer.url);
    $("#identity-picture", HTMLImageElement).src = URL.createObjectURL(await picture.blob());
  } catch (err) {
    showBanner(messageOf(err));
    return;
  }
  acting.checking = expertId;
  const replaced = predecessor(workflow(), expertId);
  const arrived = app.arrivals.get(expertId);
  $("#identity-facts").replaceChildren(
    ...[
      ["专家", replaced ? `${seat.expert_name}（替补，替换 ${nameOf(replaced)}）` : seat.expert_name],
      ["身份证号", seat.id_last4 ? `**************${seat.id_last4}` : "名单未提供"],
      ["机位", seat.label],
      ["到场", arrived ? formatTime(new Date(arrived)) : "—"],
    ].map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", {}, v))));
  $("#identity-dialog", HTMLDialogElement).showModal();
}

/** @param {string} expertId */
async function reissueLink(expertId) {
  const seat = seatOf(expertId);
  if (!window.confirm(`为${seat.label} ${seat.expert_name}重新发放机位链接？\n原链接立即失效，该机位如在线将断开，需用新链接重新进入。`)) return;
  try {
    const answer = await api("POST", `/links/${expertId}/reissue`, { reason: "主持人重新发放机位链接" });
    showLink({ name: seat.expert_name, venue_id: seat.venue_id, seat_no: seat.seat_no, url: answer.url },
      "重新发放的机位链接", "请将此链接交给该专家，在该机位的电脑上打开。原链接已失效。");
  } catch (err) {
    showBanner(messageOf(err));
  }
}

// ---- replacement --------------------------------------------------------------------------

/** @param {string} expertId */
function openReplacement(expertId) {
  const seat = seatOf(expertId);
  acting.replacing = expertId;
  const form = $("#replace-form", HTMLFormElement);
  form.reset();
  const leave = replaceable(workflow(), expertId) === "leave";
  control(form, "reason").value = leave ? "请假" : "";
  $("#replace-name").textContent = `${seat.label}：${seat.expert_name}（${leave ? "请假" : seatStatus(seat, workflow())[0]}）`;
  showNamedForm(false);
  $("#replace-dialog", HTMLDialogElement).showModal();
}

/**
 * The named replacement instead of the redraw (the redraw was refused), or back to the redraw.
 * @param {boolean} named
 * @param {string} [refusal]
 */
function showNamedForm(named, refusal = "") {
  $("#replace-title").textContent = named ? "替换专家" : "补抽替换专家";
  $("#replace-redraw-note").hidden = named;
  $("#replace-named").hidden = !named;
  $("#replace-redraw").hidden = named;
  $("#replace-named-confirm").hidden = !named;
  $("#replace-refusal").textContent = refusal;
  $("#replace-error").textContent = "";
  control($("#replace-form", HTMLFormElement), "name").required = named;
}

/**
 * Redraw from the pool, or give the seat to the named replacement; the answer's seat link is
 * handed over. A refusal stays in the dialog; one that leaves no draw to repeat opens the form
 * for the replacement the expert management system names.
 * @param {boolean} named
 * @param {(state: WorkflowState) => void} applyWorkflow
 */
async function replace(named, applyWorkflow) {
  const form = $("#replace-form", HTMLFormElement);
  if (!form.reportValidity() || !acting.replacing) return;
  const reason = control(form, "reason").value.trim();
  const expertId = acting.replacing;
  for (const b of form.querySelectorAll("button")) b.disabled = true;
  try {
    /** @type {{ replacement: SeatLink, state?: WorkflowState }} */
    let answer;
    if (named) {
      const idNumber = control(form, "id_number").value.trim();
      answer = await api("POST", `/experts/${expertId}/replacement`, { name: control(form, "name").value.trim(), id_number: idNumber || null, reason });
    } else {
      answer = await api("POST", `/experts/${expertId}/redraw`, { reason });
    }
    $("#replace-dialog", HTMLDialogElement).close();
    acting.replacing = null;
    if (answer.state) applyWorkflow(answer.state);
    showLink(answer.replacement, named ? "替补专家的机位链接" : "补抽的替补专家及其机位链接");
  } catch (err) {
    const code = /** @type {{ code?: string }} */ (err).code;
    if (!named && offersNamedReplacement(code)) showNamedForm(true, `${messageOf(err)}。`);
    else $("#replace-error").textContent = messageOf(err);
  } finally {
    for (const b of form.querySelectorAll("button")) b.disabled = false;
  }
}

// ---- wiring -------------------------------------------------------------------------------

/**
 * Wire the seats' buttons and dialogs to the console's commands.
 * @param {{ command: Command, applyWorkflow: (state: WorkflowState) => void }} console
 */
export function wireSeats({ command, applyWorkflow }) {
  $("#venues").addEventListener("click", (e) => {
    const clicked = /** @type {Element} */ (e.target);
    const target = /** @type {HTMLElement | null} */ (clicked.closest("button[data-identify], button[data-replace], button[data-excuse], button[data-reissue]"));
    if (!target || !canAct()) return;
    const { identify: checking, replace: replacing, excuse: excusing, reissue } = target.dataset;
    if (checking) identify(checking);
    if (replacing) openReplacement(replacing);
    if (reissue) reissueLink(reissue);
    if (excusing) {
      const seat = seatOf(excusing);
      acting.excusing = excusing;
      $("#excuse-name").textContent = `${seat.expert_name}（${seat.label}）`;
      $("#excuse-form", HTMLFormElement).reset();
      $("#excuse-dialog", HTMLDialogElement).showModal();
    }
  });
  $("#excuse-dialog").addEventListener("close", () => {
    const reason = control($("#excuse-form", HTMLFormElement), "reason").value.trim();
    if ($("#excuse-dialog", HTMLDialogElement).returnValue === "confirm" && acting.excusing && reason) {
      command("excuse_expert", { expert: acting.excusing, reason });
    }
    acting.excusing = null;
  });
  $("#identity-dialog").addEventListener("close", () => {
    if ($("#identity-dialog", HTMLDialogElement).returnValue === "confirm" && acting.checking) command("check_in", { expert: acting.checking });
    acting.checking = null;
  });
  $("#replace-form").addEventListener("submit", (e) => {
    e.preventDefault();
    replace(!$("#replace-named").hidden, applyWorkflow);
  });
  $("#replace-cancel").addEventListener("click", () => $("#replace-dialog", HTMLDialogElement).close());
  $("#replace-dialog").addEventListener("close", () => { acting.replacing = null; });
}
