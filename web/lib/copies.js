// @ts-check
// The copies of a session's archive (存档副本) as the archive page shows them: the primary on the
// server's disk and the replica at the second location, each with its latest check, in Beijing
// time. Pure: no DOM.

import { beijingTime } from "./time.js";

/**
 * @typedef {{
 *   location: string, state: string, verified_at: string | null, checked_at: string | null,
 *   copied_at: string | null, parts: number, detail: string,
 * }} ArchiveCopy
 * @typedef {{ text: string, tone: "ok" | "bad" | "wait" | "", title: string }} CopyLine
 */

/** @type {Readonly<Record<string, string>>} */
export const COPY_LOCATION_LABELS = Object.freeze({ primary: "主档", replica: "副本" });

/**
 * What the server says of a copy (roomserver.copies), in words.
 * @type {Readonly<Record<string, string>>}
 */
export const COPY_STATE_LABELS = Object.freeze({
  verified: "已校验",
  failed: "校验失败",
  copy_failed: "复制失败",
  unchecked: "未校验",
  missing: "未复制",
  behind: "新分段待复制",
});

/** @type {Readonly<Record<string, CopyLine["tone"]>>} */
const TONES = Object.freeze({
  verified: "ok", failed: "bad", copy_failed: "bad", missing: "bad", behind: "wait",
});

/** @param {number} n */
const pad = (n) => String(n).padStart(2, "0");

/**
 * "2026-12-07 21:03" (Beijing time): when a copy was checked.
 * @param {Date} d
 */
export function formatCheckTime(d) {
  const b = beijingTime(d);
  return `${b.year}-${pad(b.month)}-${pad(b.day)} ${pad(b.hours)}:${pad(b.minutes)}`;
}

/**
 * A copy's line on the page, e.g. "副本 已校验 2026-12-07 21:03", its tone, and what a pointer
 * resting on it shows (the times and what the check found).
 * @param {ArchiveCopy} copy
 * @returns {CopyLine}
 */
export function copyLine(copy) {
  const where = COPY_LOCATION_LABELS[copy.location] ?? copy.location;
  const state = COPY_STATE_LABELS[copy.state] ?? copy.state;
  // A verification's result is dated by the verification; a failed copy by the attempt.
  const at = { verified: copy.verified_at, failed: copy.verified_at, copy_failed: copy.checked_at }[copy.state] ?? null;
  const time = (/** @type {string | null} */ iso) => (iso ? formatCheckTime(new Date(iso)) : "—");
  const title = [
    copy.copied_at ? `复制于 ${time(copy.copied_at)}` : "",
    copy.verified_at ? `校验于 ${time(copy.verified_at)}` : "",
    copy.checked_at && copy.checked_at !== copy.verified_at ? `最近检查 ${time(copy.checked_at)}` : "",
    copy.parts ? `${copy.parts} 段` : "",
    copy.detail,
  ].filter(Boolean).join("\n");
  return { text: `${where} ${state}${at ? ` ${time(at)}` : ""}`, tone: TONES[copy.state] ?? "", title };
}
