// @ts-check
// A draw (抽取) as the console shows it: what was published before it (the pool, the needs
// and exclusions, the seed's SHA-256) and what after (the seed, the result, the check), read
// from the draw's canonical facts (roomserver/draws.py). Pure: no DOM.

/**
 * The published facts of a draw.
 * @typedef {{ id: string, attributes: Record<string, string[]> }} Candidate
 * @typedef {{ count: number, conditions: Record<string, string>, label: string }} Need
 * @typedef {{ kind: string, subject: string, pool: Candidate[], needs: Need[], excluded_ids: string[], exclusions: Record<string, string[]> }} Facts
 */

/** @type {Readonly<Record<string, string>>} */
export const DRAW_KIND_LABELS = Object.freeze({ sub_venues: "抽取副场", experts: "抽取专家" });

/** The attributes conditions and exclusions name. @type {Readonly<Record<string, string>>} */
const ATTRIBUTE_LABELS = Object.freeze({ specialty: "专业", city: "城市", province: "省级区划", employer: "工作单位" });

/**
 * The facts of a draw, from its canonical JSON.
 * @param {string} text
 * @returns {Facts}
 */
export function drawFacts(text) {
  return JSON.parse(text);
}

/**
 * @param {Candidate} c
 * @param {Record<string, string>} conditions
 */
function meets(c, conditions) {
  return Object.entries(conditions).every(([key, value]) => (c.attributes[key] || []).includes(value));
}

/**
 * @param {Candidate} c
 * @param {Record<string, string[]>} exclusions
 */
function excludedBy(c, exclusions) {
  return Object.entries(exclusions).some(([key, values]) => (c.attributes[key] || []).some((v) => values.includes(v)));
}

/**
 * How many the pool holds, how many of them may be drawn (not excluded by id or by an
 * attribute, such as a bidder's employer), and for each need how many of those meet it.
 * @param {Facts} facts
 */
export function poolFigures(facts) {
  const excluded = new Set(facts.excluded_ids);
  const eligible = facts.pool.filter((c) => !excluded.has(c.id) && !excludedBy(c, facts.exclusions));
  return {
    pool: facts.pool.length,
    eligible: eligible.length,
    perNeed: facts.needs.map((need) => eligible.filter((c) => meets(c, need.conditions)).length),
  };
}

/**
 * A need's conditions in words: "专业：建筑，城市：大连" ("不限" without any).
 * @param {Record<string, string>} conditions
 */
export function conditionText(conditions) {
  const parts = Object.entries(conditions).map(([key, value]) => `${ATTRIBUTE_LABELS[key] || key}：${value}`);
  return parts.length ? parts.join("，") : "不限";
}

/**
 * What the draw excludes, in words: "排除工作单位：某建设集团；排除 3 名已抽中或回避的专家".
 * @param {Facts} facts
 */
export function exclusionText(facts) {
  const parts = Object.entries(facts.exclusions).map(([key, values]) => `排除${ATTRIBUTE_LABELS[key] || key}：${values.join("、")}`);
  if (facts.excluded_ids.length) parts.push(`排除 ${facts.excluded_ids.length} 名已抽中或须回避的专家`);
  return parts.join("；");
}

/**
 * The check of a revealed draw in words.
 * @param {boolean | null} verified
 */
export function verifiedText(verified) {
  if (verified === true) return "校验通过";
  if (verified === false) return "校验未通过";
  return "待揭示";
}

/**
 * Names from a text field: one a line (or separated by 、，,；;), trimmed, without repeats.
 * @param {string} text
 */
export function listOf(text) {
  return [...new Set(text.split(/[\n、，,；;]+/).map((s) => s.trim()).filter(Boolean))];
}

/**
 * The needs of an expert draw as the form has them, checked: each venue's count a whole number
 * from 1 to `free` of that venue (its free seats), at most 10 needs, the conditions optional.
 * @param {Array<{ venue_id: string, count: string, specialty: string, city: string }>} rows
 * @param {Record<string, number>} free free seats by venue
 * @returns {{ needs: Array<{ venue_id: string, count: number, specialty?: string, city?: string }>, problem: { field: string, message: string } | null }}
 */
export function expertNeeds(rows, free) {
  const needs = [];
  /** @type {Record<string, number>} */
  const wanted = {};
  for (const [i, row] of rows.entries()) {
    const count = row.count.trim();
    if (!row.venue_id) return { needs: [], problem: { field: `need_venue_${i}`, message: `第 ${i + 1} 项：请选择评标室` } };
    if (!/^\d+$/.test(count) || Number(count) < 1 || Number(count) > 10) {
      return { needs: [], problem: { field: `need_count_${i}`, message: `第 ${i + 1} 项：人数应为 1 至 10 之间的整数` } };
    }
    for (const [field, value] of /** @type {const} */ ([["specialty", row.specialty], ["city", row.city]])) {
      if (value.trim().length > 50) return { needs: [], problem: { field: `need_${field}_${i}`, message: `第 ${i + 1} 项：条件不能超过 50 个字` } };
    }
    wanted[row.venue_id] = (wanted[row.venue_id] || 0) + Number(count);
    if (wanted[row.venue_id] > (free[row.venue_id] ?? 0)) {
      return { needs: [], problem: { field: `need_count_${i}`, message: `第 ${i + 1} 项：该评标室只剩 ${free[row.venue_id] ?? 0} 个空机位` } };
    }
    needs.push({
      venue_id: row.venue_id, count: Number(count),
      ...(row.specialty.trim() ? { specialty: row.specialty.trim() } : {}),
      ...(row.city.trim() ? { city: row.city.trim() } : {}),
    });
  }
  if (needs.length === 0) return { needs, problem: { field: "add_need", message: "请至少填写一项抽取需求" } };
  if (needs.length > 10) return { needs: [], problem: { field: "add_need", message: "一次最多 10 项抽取需求" } };
  return { needs, problem: null };
}
