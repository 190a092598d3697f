// @ts-check
// What the console checks and says about a lot's session once it is open: an administrator's
// forced end (its reason is kept in the record), the experts' fees of an ended session (5.5.6),
// a re-review (复议, 7.2.4-2) and a tenderer's or bidder's archive link. The server still
// decides, and its refusal is shown as it says it. Pure: no DOM.

import { text } from "./placeforms.js";

/** A refused field: its form control's name and why. @typedef {import("./placeforms.js").Problem} Problem */

const REASON_MAX = 500;
const TITLE_MAX = 200;
const NAME_MAX = 64;
/** How long a party's link lasts after the session ended (days): the server's default and bounds. */
export const PARTY_DAYS = Object.freeze({ min: 1, max: 365, usual: 30 });
/** The parties an archive link is given to. @type {Readonly<Record<string, string>>} */
export const PARTY_LABELS = Object.freeze({ tenderer: "招标人", bidder: "投标人" });

/**
 * Why an administrator ends a session before its host does.
 * @param {string} reason
 * @returns {Problem}
 */
export function checkEndReason(reason) {
  return text("reason", reason, "结束原因", REASON_MAX);
}

/**
 * A re-review: a start not yet past, a reason, and where: the same venues (remote), or one
 * venue chosen for all the committee.
 * @param {{ start: Date | null, reason: string, together: boolean, venue_id: string }} fields
 * @param {Date} now
 * @returns {Problem}
 */
export function checkReview({ start, reason, together, venue_id: venue }, now) {
  if (!start) return { field: "start_date", message: "请填写复议的开始日期和时间" };
  if (start.getTime() < now.getTime()) return { field: "start_date", message: "复议的开始时间已过，请选择今后的时间" };
  if (together && !venue) return { field: "venue_id", message: "请选择集中复议的评标室" };
  return text("reason", reason, "复议原因", TITLE_MAX);
}

/**
 * A party's archive link: tenderer or bidder, their name, and the days after the session's
 * end it lasts (a whole number, 1 to 365).
 * @param {{ role: string, name: string, ttl_days: string }} fields
 * @returns {Problem}
 */
export function checkPartyLink({ role, name, ttl_days: days }) {
  if (!Object.hasOwn(PARTY_LABELS, role)) return { field: "role", message: "请选择招标人或投标人" };
  const problem = text("name", name, `${PARTY_LABELS[role]}名称`, NAME_MAX);
  if (problem) return problem;
  const n = Number(days.trim());
  if (!days.trim() || !Number.isInteger(n) || n < PARTY_DAYS.min || n > PARTY_DAYS.max) {
    return { field: "ttl_days", message: `调阅期限应为 ${PARTY_DAYS.min} 到 ${PARTY_DAYS.max} 天的整数` };
  }
  return null;
}

/**
 * An amount of fen in yuan with two decimals and thousands separated: "1,200.00".
 * @param {number} fen
 */
export function yuan(fen) {
  const sign = fen < 0 ? "-" : "";
  const abs = Math.abs(Math.round(fen));
  const whole = String(Math.floor(abs / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${sign}${whole}.${String(abs % 100).padStart(2, "0")}`;
}

/**
 * An amount of fen in yuan as a rule says it: "800", "85.50".
 * @param {number} fen
 */
function plainYuan(fen) {
  return fen % 100 === 0 ? String(fen / 100) : (fen / 100).toFixed(2);
}

/**
 * A centre's fee rule in words: "800 元含 4 小时，超出后每小时 100 元（不足 1 小时按 1 小时计）".
 * @param {Record<string, number>} rule base_fen, hourly_fen, included_hours
 */
export function ruleText(rule) {
  const base = `${plainYuan(rule.base_fen)} 元含 ${rule.included_hours} 小时`;
  if (!rule.hourly_fen) return `${base}，超出不另计`;
  return `${base}，超出后每小时 ${plainYuan(rule.hourly_fen)} 元（不足 1 小时按 1 小时计）`;
}

/**
 * A fee rule in brief, for a table's cell: "800 元含 4 小时，超出 100 元/小时".
 * @param {Record<string, number>} rule base_fen, hourly_fen, included_hours
 */
export function ruleBrief(rule) {
  const base = `${plainYuan(rule.base_fen)} 元含 ${rule.included_hours} 小时`;
  return rule.hourly_fen ? `${base}，超出 ${plainYuan(rule.hourly_fen)} 元/小时` : base;
}

/**
 * The fee records' total and the rules they were made by (usually one), in words.
 * @param {Array<{ amount_fen: number, rule: Record<string, number> }>} records
 */
export function feeSummary(records) {
  const total = records.reduce((sum, r) => sum + r.amount_fen, 0);
  const rules = [...new Set(records.map((r) => ruleText(r.rule)))];
  return { count: records.length, total_fen: total, total: `${yuan(total)} 元`, rules };
}

/**
 * What a lot's re-review is called on its card: "复议", then "第 2 次复议"….
 * @param {number} index its place among the lot's re-reviews, from 0
 */
export function reviewLabel(index) {
  return index === 0 ? "复议" : `第 ${index + 1} 次复议`;
}
