// @ts-check
// What the forms of projects (项目与标段), a lot's session, its people (人员) and a project's
// documents check before they send: the server's own limits and rules, said in Chinese next to
// the field. The server still decides, and its refusal is shown as it says it. Pure: no DOM.

import { text } from "./placeforms.js";

/** A refused field: its form control's name and why. @typedef {import("./placeforms.js").Problem} Problem */

// The server's shape of a project's and a lot's code (signaling/gate/projects.py).
const CODE = /^[A-Za-z0-9_.-]{1,100}$/;
const TITLE_MAX = 200;
const NAME_MAX = 64;
export const MAX_LOTS = 50;
/** The most one document may weigh (the server refuses more). */
export const MAX_DOCUMENT_BYTES = 200 * 1024 * 1024;

/**
 * A code (编号): filled, letters, digits and . _ - only.
 * @param {string} field
 * @param {string} value
 * @param {string} what
 * @returns {Problem}
 */
function code(field, value, what) {
  const v = value.trim();
  if (!v) return { field, message: `请填写${what}` };
  if (!CODE.test(v)) return { field, message: `${what}只能由字母、数字和 . _ - 组成，最多 100 个字符` };
  return null;
}

/**
 * A new project with its lots: its centre, code, name and tenderer, and at least one lot, each
 * with a code no other lot of the project has and a name. The lots' fields are `lot_code_<i>`
 * and `lot_name_<i>`.
 * @param {{ centre_id: string, code: string, name: string, tenderer: string, lots: Array<{ code: string, name: string }> }} fields
 * @returns {Problem}
 */
export function checkProject(fields) {
  if (!fields.centre_id) return { field: "centre_id", message: "请选择组织评标的交易中心" };
  const problem = code("code", fields.code, "项目编号")
    || text("name", fields.name, "项目名称", TITLE_MAX)
    || text("tenderer", fields.tenderer, "招标人", TITLE_MAX);
  if (problem) return problem;
  if (fields.lots.length === 0) return { field: "add_lot", message: "请至少填写一个标段" };
  if (fields.lots.length > MAX_LOTS) return { field: "add_lot", message: `一个项目最多 ${MAX_LOTS} 个标段` };
  /** @type {Map<string, number>} */
  const seen = new Map();
  for (const [i, lot] of fields.lots.entries()) {
    const wrong = code(`lot_code_${i}`, lot.code, `第 ${i + 1} 个标段的编号`)
      || text(`lot_name_${i}`, lot.name, `第 ${i + 1} 个标段的名称`, TITLE_MAX);
    if (wrong) return wrong;
    const first = seen.get(lot.code.trim());
    if (first !== undefined) {
      return { field: `lot_code_${i}`, message: `第 ${i + 1} 个标段的编号与第 ${first + 1} 个相同，同一项目的标段编号不能重复` };
    }
    seen.set(lot.code.trim(), i);
  }
  return null;
}

/**
 * One more lot of a project: a code none of its lots has, and a name.
 * @param {{ code: string, name: string }} fields
 * @param {string[]} codes the project's lots' codes
 * @returns {Problem}
 */
export function checkLot(fields, codes) {
  const problem = code("code", fields.code, "标段编号") || text("name", fields.name, "标段名称", TITLE_MAX);
  if (problem) return problem;
  if (codes.includes(fields.code.trim())) return { field: "code", message: `本项目已有标段 ${fields.code.trim()}，标段编号不能重复` };
  return null;
}

/**
 * The code a new lot gets to begin with: the number after the highest numeric code, as wide
 * as that code ("02" after "01"; "3" after "1" and "2"); "01" for a project of no numeric code.
 * @param {string[]} codes
 */
export function nextLotCode(codes) {
  const numeric = codes.filter((c) => /^\d{1,6}$/.test(c));
  if (!numeric.length) return "01";
  const highest = numeric.reduce((a, b) => (Number(b) > Number(a) ? b : a));
  return String(Number(highest) + 1).padStart(highest.length, "0");
}

/**
 * A lot's session: a main venue, sub venues other than it, and a start.
 * @param {{ main_venue_id: string, sub_venue_ids: string[], start: Date | null }} fields
 * @returns {Problem}
 */
export function checkSession({ main_venue_id: main, sub_venue_ids: subs, start }) {
  if (!main) return { field: "main_venue_id", message: "请选择主场评标室" };
  if (subs.includes(main)) return { field: "sub_venues", message: "主场评标室不能同时作为副场" };
  if (subs.length > 10) return { field: "sub_venues", message: "副场最多 10 个" };
  if (!start) return { field: "start_date", message: "请填写开始日期和时间" };
  return null;
}

/** The people of a session other than experts, who come from the draw. */
export const PERSON_ROLES = Object.freeze(["host", "staff", "witness", "supervisor", "ops"]);

/**
 * A person added to a session: a role, a name, and for a host or staff member their venue.
 * @param {{ role: string, name: string, venue_id: string }} fields
 * @returns {Problem}
 */
export function checkPerson({ role, name, venue_id: venue }) {
  if (!PERSON_ROLES.includes(role)) return { field: "role", message: "请选择身份" };
  const problem = text("name", name, "姓名", NAME_MAX);
  if (problem) return problem;
  if ((role === "host" || role === "staff") && !venue) {
    return { field: "venue_id", message: "主持人和工作人员须指定所在评标室" };
  }
  return null;
}

/**
 * Why a link is taken back (kept in the record).
 * @param {string} reason
 * @returns {Problem}
 */
export function checkRevokeReason(reason) {
  return text("reason", reason, "收回原因", TITLE_MAX);
}

/**
 * The types of file a project's record takes, by file name ending (recorder/documents.py).
 * @type {Readonly<Record<string, string>>}
 */
export const DOCUMENT_TYPES = Object.freeze({
  pdf: "application/pdf",
  ofd: "application/ofd",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  zip: "application/zip",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
});

/**
 * The Content-Type to send a file with: the one of its name's ending that the record takes
 * (a browser may say nothing of an OFD, or something else of a ZIP); "" when it takes none.
 * @param {string} fileName
 */
export function documentType(fileName) {
  const suffix = fileName.includes(".") ? fileName.split(".").pop()?.toLowerCase() || "" : "";
  return Object.hasOwn(DOCUMENT_TYPES, suffix) ? DOCUMENT_TYPES[suffix] : "";
}

/**
 * A file's name without its ending, as the document's name to begin with.
 * @param {string} fileName
 */
export function documentName(fileName) {
  const dot = fileName.lastIndexOf(".");
  return (dot > 0 ? fileName.slice(0, dot) : fileName).trim().slice(0, TITLE_MAX);
}

/**
 * A document to add: a kind, a name, and a file of a type the record takes, not empty and not
 * over 200 MB.
 * @param {{ kind: string, name: string, file: { name: string, size: number } | null }} fields
 * @returns {Problem}
 */
export function checkDocument({ kind, name, file }) {
  if (!kind) return { field: "kind", message: "请选择资料类别" };
  if (!file) return { field: "file", message: "请选择要上传的文件" };
  if (!documentType(file.name)) return { field: "file", message: "文件类型应为 PDF、OFD、图片（PNG、JPG）、Word、Excel 或 ZIP" };
  if (file.size === 0) return { field: "file", message: "文件为空" };
  if (file.size > MAX_DOCUMENT_BYTES) return { field: "file", message: "文件不能超过 200 MB" };
  return text("name", name, "资料名称", TITLE_MAX);
}

/**
 * A size in words: "512 字节", "38 KB", "1.5 MB".
 * @param {number} bytes
 */
export function sizeText(bytes) {
  if (bytes < 1024) return `${bytes} 字节`;
  if (bytes < 1 << 20) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / (1 << 20)).toFixed(1)} MB`;
}

/**
 * The active booking of `venueId` for the lot that holds the instant `at` (what opening the
 * lot's session there needs, 7.1.2), or null.
 * @template {{ venue_id: string, lot_id: string | null, state: string, starts_at: string, ends_at: string }} B
 * @param {B[]} bookings
 * @param {string} lotId
 * @param {string} venueId
 * @param {Date} at
 * @returns {B | null}
 */
export function bookingFor(bookings, lotId, venueId, at) {
  const t = at.getTime();
  return bookings.find((b) => b.venue_id === venueId && b.lot_id === lotId && b.state === "active"
    && Date.parse(b.starts_at) <= t && t < Date.parse(b.ends_at)) || null;
}
