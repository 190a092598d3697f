// @ts-check
// A lot's sessions on its project's page: the lot's own session, then its re-reviews (复议,
// 7.2.4-2), each with its state, start and venues, why a re-review was convened and why a
// session was ended by force (when, by whom, in which phase). One not yet ended can be ended
// by force; an ended one shows its experts' fees (5.5.6), and can be re-reviewed or opened to a
// tenderer or bidder with an archive link (the dialogs are admin-session-dialogs.js).

import { lotAddress, lotLabel, sessionLine } from "/static/admin-lots.js";
import { askEnd, askPartyLink, askReview } from "/static/admin-session-dialogs.js";
import { personLabel, venueLabel } from "/static/admin-shared.js";
import { requestJson } from "/static/lib/api.js";
import { durationText } from "/static/lib/calendar.js";
import { $, el } from "/static/lib/dom.js";
import { feeSummary, reviewLabel, ruleBrief, yuan } from "/static/lib/sessionforms.js";
import { formatDateTime, formatShortDateTime } from "/static/lib/time.js";

/** @typedef {import("/static/lib/wire").Project} Project */
/** @typedef {import("/static/lib/wire").Lot} Lot */
/** @typedef {import("/static/lib/wire").LotSession} LotSession */
/** @typedef {import("/static/lib/wire").FeeRecord} FeeRecord */
/** @typedef {import("/static/admin-session-dialogs.js").SessionTarget} SessionTarget */

/** The project shown, and the fee records of its ended sessions by session id. */
const shown = {
  project: /** @type {Project | null} */ (null),
  fees: /** @type {Map<string, FeeRecord[]>} */ (new Map()),
};

/**
 * A lot's sessions: its own, then its re-reviews by start.
 * @param {Lot} lot
 */
function lotSessions(lot) {
  return lot.session ? [lot.session, ...lot.reviews] : [];
}

/**
 * Read the fee records of the project's ended sessions, for the lots' cards to show.
 * @param {Project} project
 */
export async function loadFees(project) {
  const ended = project.lots.flatMap(lotSessions).filter((s) => s.state === "ended");
  /** @type {Array<{ items: FeeRecord[] }>} */
  const answers = await Promise.all(ended.map((s) =>
    requestJson(`/api/sessions/${encodeURIComponent(s.id)}/fees`, { what: "劳务费读取失败" })));
  shown.project = project;
  shown.fees = new Map(ended.map((s, i) => [s.id, answers[i].items]));
}

/**
 * What the buttons of a session act on: the project, the lot, the session and its name.
 * @param {string} sessionId
 * @returns {SessionTarget | null}
 */
function targetOf(sessionId) {
  const project = shown.project;
  for (const lot of project?.lots || []) {
    const sessions = lotSessions(lot);
    const i = sessions.findIndex((s) => s.id === sessionId);
    if (project && i >= 0) {
      const what = i === 0 ? "" : ` · ${reviewLabel(i - 1)}`;
      return { project, lot, session: sessions[i], label: `${project.code} ${lotLabel(lot)}${what}` };
    }
  }
  return null;
}

/**
 * The lot's session and its re-reviews, each with what may be done with it.
 * @param {Project} project
 * @param {Lot} lot
 */
export function sessionBlocks(project, lot) {
  if (!lot.session) return [];
  return [
    sessionBlock(project, lot, lot.session, ""),
    ...lot.reviews.map((review, i) => sessionBlock(project, lot, review, reviewLabel(i))),
  ];
}

/**
 * @param {Project} project
 * @param {Lot} lot
 * @param {LotSession} session
 * @param {string} label "" for the lot's own session, its name for a re-review
 */
function sessionBlock(project, lot, session, label) {
  const ended = session.state === "ended";
  const actions = el("div", { class: "session-actions" },
    label ? el("button", { class: "btn btn-small", type: "button", dataset: { go: lotAddress("people", project.id, lot.id, session.id) } }, "人员与链接") : null,
    ended ? null : el("button", { class: "btn btn-small btn-quiet", type: "button", dataset: { end: session.id } }, "强制结束…"),
    ended ? el("button", { class: "btn btn-small", type: "button", dataset: { review: session.id } }, "组织复议…") : null,
    ended ? el("button", { class: "btn btn-small", type: "button", dataset: { party: session.id } }, "发放调阅链接…") : null);
  return el("section", { class: `session-block${label ? " review" : ""}`, dataset: { session: session.id } },
    el("div", { class: "session-head" },
      el("p", { class: "lot-about" }, label ? el("b", { class: "review-label" }, label) : null, sessionLine(session)),
      actions),
    sessionNotes(session),
    ended ? feeTable(shown.fees.get(session.id) || []) : null);
}

/**
 * Why a re-review was convened, and why a session was ended by force: the reason, then when,
 * by whom and in which phase (Beijing time). Null when there is neither.
 * @param {LotSession} session
 */
function sessionNotes(session) {
  const forced = session.forced_end;
  if (!session.review_reason && !forced) return null;
  const note = (/** @type {string} */ kind, /** @type {string} */ term, /** @type {Array<Node | string>} */ ...what) =>
    el("div", { class: `session-note ${kind}` }, el("dt", {}, term), el("dd", {}, ...what));
  return el("dl", { class: "session-notes" },
    session.review_reason ? note("review-reason", "复议原因", session.review_reason) : null,
    forced ? note("forced-end", "强制结束", el("span", { class: "reason" }, forced.reason),
      el("span", { class: "muted" }, [
        formatDateTime(new Date(forced.at)),
        forced.by ? personLabel(forced.by) : "",
        `结束时处于“${forced.phase_label}”阶段`,
      ].filter(Boolean).join(" · "))) : null);
}

/**
 * An ended session's fee records: each checked-in expert's venue, times, duration, amount and
 * rule, with the total.
 * @param {FeeRecord[]} records
 */
function feeTable(records) {
  if (!records.length) {
    return el("p", { class: "muted fees-none" }, "专家劳务费：没有签到的专家，本场没有劳务费记录。");
  }
  const sum = feeSummary(records);
  return el("div", { class: "fees" },
    el("table", { class: "fee-table" },
      el("caption", {}, "专家劳务费（北京时间）"),
      el("thead", {}, el("tr", {},
        ["专家", "评标室", "签到", "离开", "时长", "金额（元）", "计费规则"].map((h) => el("th", { class: h.startsWith("金额") ? "amount" : "" }, h)))),
      el("tbody", {}, records.map((r) => el("tr", { dataset: { expert: r.expert_id } },
        el("td", { class: "name" }, r.name, r.id_last4 ? el("span", { class: "muted" }, ` 尾号 ${r.id_last4}`) : null),
        el("td", {}, r.venue_id ? venueLabel(r.venue_id) : "—"),
        el("td", { class: "at" }, formatShortDateTime(new Date(r.checked_in_at))),
        el("td", { class: "at" }, formatShortDateTime(new Date(r.left_at))),
        el("td", { class: "at" }, durationText(r.seconds * 1000)),
        el("td", { class: "amount" }, yuan(r.amount_fen)),
        el("td", { class: "rule" }, ruleBrief(r.rule))))),
      el("tfoot", {}, el("tr", {},
        el("td", { colspan: 5 }, `合计 ${sum.count} 名专家`),
        el("td", { class: "amount" }, yuan(sum.total_fen)),
        el("td", {})))),
    el("p", { class: "muted" }, `计费规则：${sum.rules.join("；")}。此处仅记录金额，不在本系统支付。`));
}

/** Wire the sessions' buttons on the lots' cards. */
export function initSessions() {
  $("#project-lots").addEventListener("click", (event) => {
    const data = /** @type {HTMLElement} */ (event.target).closest("button")?.dataset;
    const target = targetOf(data?.end || data?.review || data?.party || "");
    if (!data || !target) return;
    if (data.end) askEnd(target);
    if (data.review) askReview(target);
    if (data.party) askPartyLink(target);
  });
}
