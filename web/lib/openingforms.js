// @ts-check
// What the console's forms of a lot's bid opening (开标) and of a trading centre's own people
// check before they send, and how they say an opening's terms: the server's limits
// (signaling/gate/openings.py, roomserver/openings.py, signaling/gate/places.py) said in
// Chinese next to the field. The server still decides, and its refusal is shown as it says it.
// Pure: no DOM.

import { text } from "./placeforms.js";

/** A refused field: its form control's name and why. @typedef {import("./placeforms.js").Problem} Problem */
/** A field the bids give and the opening reads out. @typedef {{ name: string, label: string, kind: string, unit: string }} OpeningField */
/** A benchmark-price parameter and the values it is drawn from. @typedef {{ name: string, label: string, candidates: string[] }} OpeningParameter */

/** The kinds of a read-out field (roomserver/sealing.py FIELD_KINDS). */
export const FIELD_KINDS = Object.freeze({ money: "金额", decimal: "数值", integer: "整数", text: "文字" });

/** The fields the tender documents read out unless they say otherwise (roomserver/sealing.py). */
export const DEFAULT_FIELDS = Object.freeze([
  Object.freeze({ name: "price", label: "投标报价", kind: "money", unit: "元" }),
  Object.freeze({ name: "duration_days", label: "工期", kind: "integer", unit: "日历天" }),
]);

/** The server's bounds of an opening's terms, and what it takes when the form says nothing. */
export const OPENING_LIMITS = Object.freeze({
  fields: 12, label: 40, unit: 20, minBids: { min: 1, max: 50, usual: 3 },
  minutes: { min: 1, max: 240, usual: 30 }, parameters: 10, candidates: 100, candidate: 40,
});

/** The opening's phases (roomserver/openingstate.py) in which bidders may still be added. */
const ADDING_PHASES = new Set(["scheduled", "submission"]);

/** Who of an opening other than its bidders, in the order the form offers them. */
export const OPENING_ROLES = Object.freeze(["host", "witness", "supervisor", "tenderer", "agency", "ops"]);

/** Who of a trading centre's own people (signaling/gate/places.py CentrePersonRequest). */
export const CENTRE_ROLES = Object.freeze(["admin", "supervisor", "ops"]);
export const CENTRE_DAYS = Object.freeze({ min: 1, max: 366, usual: 30 });

/**
 * A whole number in [min, max] as typed in a field, or null.
 * @param {string} value
 * @param {number} min
 * @param {number} max
 */
function whole(value, min, max) {
  const v = value.trim();
  if (!/^\d{1,4}$/.test(v)) return null;
  const n = Number(v);
  return n >= min && n <= max ? n : null;
}

/**
 * The candidate values typed in one line, separated by 、，, ; or spaces.
 * @param {string} line
 */
export function candidateList(line) {
  return line.split(/[、，,;；\s]+/).map((v) => v.trim()).filter(Boolean);
}

/**
 * A machine name for a field or parameter the form adds (the tender documents name it in
 * words; the server wants `[a-z][a-z0-9_]*`): `<prefix>_<n>`, the first n not taken.
 * @param {string} prefix
 * @param {string[]} taken
 */
export function freeName(prefix, taken) {
  for (let n = 1; ; n += 1) {
    const name = `${prefix}_${n}`;
    if (!taken.includes(name)) return name;
  }
}

/**
 * What the opening form holds, as typed. Each field's controls are `field_label_<i>`,
 * `field_kind_<i>` and `field_unit_<i>`, each parameter's `param_label_<i>` and
 * `param_candidates_<i>`.
 * @typedef {{ venue_id: string, deadline: Date | null, fields: OpeningField[], min_bids: string, decryption_minutes: string, benchmark: Array<{ name: string, label: string, candidates: string }>, public: boolean }} OpeningForm
 */

/**
 * A lot's opening: its room, a deadline not yet past, 1 to 12 read-out fields of distinct
 * names, the fewest valid bids, the decryption time limit, and each benchmark parameter with
 * distinct candidate values.
 * @param {OpeningForm} form
 * @param {Date} now
 * @returns {Problem}
 */
export function checkOpening(form, now) {
  if (!form.venue_id) return { field: "venue_id", message: "请选择开标室" };
  if (!form.deadline) return { field: "deadline_date", message: "请填写投标截止日期和时间" };
  if (form.deadline <= now) return { field: "deadline_date", message: "投标截止时间应晚于现在" };
  if (form.fields.length === 0) return { field: "add_field", message: "请至少保留一个开标字段" };
  if (form.fields.length > OPENING_LIMITS.fields) return { field: "add_field", message: `开标字段最多 ${OPENING_LIMITS.fields} 个` };
  /** @type {Map<string, number>} */
  const labels = new Map();
  for (const [i, f] of form.fields.entries()) {
    const problem = text(`field_label_${i}`, f.label, `第 ${i + 1} 个开标字段的名称`, OPENING_LIMITS.label);
    if (problem) return problem;
    if (!Object.hasOwn(FIELD_KINDS, f.kind)) return { field: `field_kind_${i}`, message: `请选择第 ${i + 1} 个开标字段的类型` };
    if (f.unit.trim().length > OPENING_LIMITS.unit) {
      return { field: `field_unit_${i}`, message: `第 ${i + 1} 个开标字段的单位不能超过 ${OPENING_LIMITS.unit} 个字` };
    }
    const first = labels.get(f.label.trim());
    if (first !== undefined) {
      return { field: `field_label_${i}`, message: `第 ${i + 1} 个开标字段与第 ${first + 1} 个同名（${f.label.trim()}）` };
    }
    labels.set(f.label.trim(), i);
  }
  const { minBids, minutes } = OPENING_LIMITS;
  if (whole(form.min_bids, minBids.min, minBids.max) === null) {
    return { field: "min_bids", message: `最少有效投标数应为 ${minBids.min} 至 ${minBids.max} 之间的整数` };
  }
  if (whole(form.decryption_minutes, minutes.min, minutes.max) === null) {
    return { field: "decryption_minutes", message: `解密时限应为 ${minutes.min} 至 ${minutes.max} 分钟之间的整数` };
  }
  if (form.benchmark.length > OPENING_LIMITS.parameters) {
    return { field: "add_param", message: `抽取参数最多 ${OPENING_LIMITS.parameters} 个` };
  }
  /** @type {Map<string, number>} */
  const names = new Map();
  for (const [i, p] of form.benchmark.entries()) {
    const problem = text(`param_label_${i}`, p.label, `第 ${i + 1} 个抽取参数的名称`, OPENING_LIMITS.label);
    if (problem) return problem;
    const label = p.label.trim();
    const first = names.get(label);
    if (first !== undefined) return { field: `param_label_${i}`, message: `第 ${i + 1} 个抽取参数与第 ${first + 1} 个同名（${label}）` };
    names.set(label, i);
    const values = candidateList(p.candidates);
    const field = `param_candidates_${i}`;
    if (values.length === 0) return { field, message: `请填写参数“${label}”的备选值，以顿号或逗号分隔` };
    if (values.length > OPENING_LIMITS.candidates) return { field, message: `参数“${label}”的备选值最多 ${OPENING_LIMITS.candidates} 个` };
    const long = values.find((v) => v.length > OPENING_LIMITS.candidate);
    if (long) return { field, message: `参数“${label}”的备选值“${long.slice(0, 12)}…”超过 ${OPENING_LIMITS.candidate} 个字` };
    const twice = values.find((v, j) => values.indexOf(v) !== j);
    if (twice) return { field, message: `参数“${label}”的备选值“${twice}”重复` };
  }
  return null;
}

/**
 * The body of `POST /api/lots/{id}/opening` for a form `checkOpening` passed.
 * @param {OpeningForm & { deadline: Date }} form
 * @param {(d: Date) => string} iso the deadline as the API takes it (Beijing ISO 8601)
 */
export function openingBody(form, iso) {
  return {
    venue_id: form.venue_id,
    deadline: iso(form.deadline),
    fields: form.fields.map((f) => ({ name: f.name, label: f.label.trim(), kind: f.kind, unit: f.unit.trim() })),
    min_bids: Number(form.min_bids.trim()),
    decryption_minutes: Number(form.decryption_minutes.trim()),
    benchmark: form.benchmark.map((p) => ({ name: p.name, label: p.label.trim(), candidates: candidateList(p.candidates) })),
    public: form.public,
  };
}

/**
 * The read-out fields in words: "投标报价（元）、工期（日历天）、质量标准".
 * @param {OpeningField[]} fields
 */
export function fieldsText(fields) {
  return fields.map((f) => (f.unit ? `${f.label}（${f.unit}）` : f.label)).join("、");
}

/**
 * The benchmark parameters in words: "下浮率K（1%、2%、3%）"; "不抽取" when there are none.
 * @param {OpeningParameter[]} parameters
 */
export function benchmarkText(parameters) {
  return parameters.length ? parameters.map((p) => `${p.label}（${p.candidates.join("、")}）`).join("；") : "不抽取";
}

/**
 * Whether bidders may still be added: before the deadline, while nothing else has happened.
 * @param {{ phase: string, deadline: string }} opening
 * @param {Date} now
 */
export function addingBidders(opening, now) {
  return ADDING_PHASES.has(opening.phase) && Date.parse(opening.deadline) > now.getTime();
}

const DAY_S = 24 * 3600;
/** The longest a personal link the server issues on request lasts (signaling/gate/schemas.py). */
const MAX_LINK_S = 30 * DAY_S;

/**
 * How long an opening's person's link is asked to last (`ttl_s`): from now until a day after
 * the bid deadline, for the opening to run its course whenever the link is issued; a day at
 * least, 30 days at most.
 * @param {{ deadline: string }} opening
 * @param {Date} now
 */
export function openingLinkSeconds(opening, now) {
  const until = Math.ceil((Date.parse(opening.deadline) - now.getTime()) / 1000);
  return Math.min(Math.max(until + DAY_S, DAY_S), MAX_LINK_S);
}

/**
 * A bidder (投标人): its name, and its unified social credit code (统一社会信用代码) when given,
 * 18 digits or capital letters.
 * @param {{ name: string, credit_code: string }} fields
 * @param {string[]} names the bidders already listed
 * @returns {Problem}
 */
export function checkBidder({ name, credit_code: code }, names) {
  const problem = text("name", name, "投标人名称", 64);
  if (problem) return problem;
  if (names.includes(name.trim())) return { field: "name", message: `投标人“${name.trim()}”已在名单中` };
  const c = code.trim().toUpperCase();
  if (c && !/^[0-9A-Z]{18}$/.test(c)) return { field: "credit_code", message: "统一社会信用代码应为 18 位数字或大写字母，不知道可不填" };
  return null;
}

/**
 * Somebody of the opening other than a bidder: a role it has, and a name.
 * @param {{ role: string, name: string }} fields
 * @returns {Problem}
 */
export function checkOpeningPerson({ role, name }) {
  if (!OPENING_ROLES.includes(role)) return { field: "role", message: "请选择身份" };
  return text("name", name, role === "tenderer" || role === "agency" ? "单位名称" : "姓名", 64);
}

/**
 * One of a trading centre's own people: an administrator, supervisor or ops engineer, a name,
 * and the days their link holds.
 * @param {{ role: string, name: string, days: string }} fields
 * @returns {Problem}
 */
export function checkCentrePerson({ role, name, days }) {
  if (!CENTRE_ROLES.includes(role)) return { field: "role", message: "请选择身份" };
  return text("name", name, "姓名", 64) || checkDays(days);
}

/**
 * The days a centre person's link holds.
 * @param {string} days
 * @returns {Problem}
 */
export function checkDays(days) {
  if (whole(days, CENTRE_DAYS.min, CENTRE_DAYS.max) === null) {
    return { field: "days", message: `有效期应为 ${CENTRE_DAYS.min} 至 ${CENTRE_DAYS.max} 天之间的整数` };
  }
  return null;
}

/**
 * How many days a link was issued for (what a re-issue gives again), within the bounds.
 * @param {{ issued_at: string, expires_at: string }} link
 */
export function linkDays({ issued_at: issued, expires_at: expires }) {
  const days = Math.round((Date.parse(expires) - Date.parse(issued)) / (24 * 3600 * 1000));
  return Math.min(Math.max(Number.isFinite(days) ? days : CENTRE_DAYS.usual, CENTRE_DAYS.min), CENTRE_DAYS.max);
}
