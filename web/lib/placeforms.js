// @ts-check
// What the administration's forms check before they send (交易中心, 评标室, 场地预约): the
// server's own limits, said in Chinese next to the field, so that a slip is fixed before a
// request; the server still decides, and its refusal is shown as it says it. Pure: no DOM.

export const SEATS = Object.freeze({ min: 5, max: 10 });
const NAME_MAX = 200;
const CITY_MAX = 100;
const REASON_MAX = 500;
const MAX_SLOT_MS = 3 * 24 * 3600 * 1000;

/** A refused field: its form control's name and why. @typedef {{ field: string, message: string } | null} Problem */

/**
 * A text field that must be filled, at most `max` characters once trimmed.
 * @param {string} field
 * @param {string} value
 * @param {string} what 名称, 城市…
 * @param {number} max
 * @returns {Problem}
 */
export function text(field, value, what, max) {
  const v = value.trim();
  if (!v) return { field, message: `请填写${what}` };
  if (v.length > max) return { field, message: `${what}不能超过 ${max} 个字` };
  return null;
}

/**
 * A new trading centre: a name and a city, no other centre of that name, and its 行政区划代码
 * (six digits, the first 1 to 8) when given: sub venues are drawn within its province.
 * @param {{ name: string, city: string, region_code?: string }} fields
 * @param {Array<{ name: string }>} centres
 * @returns {Problem}
 */
export function checkCentre(fields, centres) {
  const problem = text("name", fields.name, "交易中心名称", NAME_MAX) || text("city", fields.city, "所在城市", CITY_MAX);
  if (problem) return problem;
  const region = (fields.region_code || "").trim();
  if (region && !/^[1-8]\d{5}$/.test(region)) {
    return { field: "region_code", message: "行政区划代码应为 6 位数字，如沈阳市 210100" };
  }
  if (centres.some((c) => c.name === fields.name.trim())) {
    return { field: "name", message: `已有名为“${fields.name.trim()}”的交易中心` };
  }
  return null;
}

/**
 * A new evaluation room: its centre, a name no other room of that centre has, a city and
 * 5 to 10 seats (whole numbers).
 * @param {{ centre_id: string, name: string, city: string, seat_count: string }} fields
 * @param {Array<{ centre_id: string, name: string }>} sameName rooms found under that name
 * @returns {Problem}
 */
export function checkVenue(fields, sameName) {
  if (!fields.centre_id) return { field: "centre_id", message: "请选择所属交易中心" };
  const problem = text("name", fields.name, "评标室名称", NAME_MAX) || text("city", fields.city, "所在城市", CITY_MAX);
  if (problem) return problem;
  const seats = fields.seat_count.trim();
  if (!/^\d+$/.test(seats) || Number(seats) < SEATS.min || Number(seats) > SEATS.max) {
    return { field: "seat_count", message: `机位数应为 ${SEATS.min} 至 ${SEATS.max} 之间的整数` };
  }
  if (sameName.some((v) => v.centre_id === fields.centre_id && v.name === fields.name.trim())) {
    return { field: "name", message: `该交易中心已有名为“${fields.name.trim()}”的评标室` };
  }
  return null;
}

/**
 * A booking's slot: both ends readable, the end after the start, at most 3 days.
 * @param {Date | null} startsAt
 * @param {Date | null} endsAt
 * @returns {Problem}
 */
export function checkSlot(startsAt, endsAt) {
  if (!startsAt) return { field: "start_date", message: "请填写开始日期和时间" };
  if (!endsAt) return { field: "end_date", message: "请填写结束日期和时间" };
  if (endsAt <= startsAt) return { field: "end_time", message: "结束时间应晚于开始时间" };
  if (endsAt.getTime() - startsAt.getTime() > MAX_SLOT_MS) return { field: "end_date", message: "一次预约不能超过 3 天" };
  return null;
}

/**
 * A booking: its slot, at least one seat, and what it is for.
 * @param {{ startsAt: Date | null, endsAt: Date | null, seats: number[], purpose: string }} booking
 * @returns {Problem}
 */
export function checkBooking({ startsAt, endsAt, seats, purpose }) {
  return checkSlot(startsAt, endsAt)
    || (seats.length === 0 ? { field: "seats", message: "请至少选择一个机位" } : null)
    || text("purpose", purpose, "预约用途（如项目编号与标段）", NAME_MAX);
}

/**
 * Why a booking is cancelled (kept in the record).
 * @param {string} reason
 * @returns {Problem}
 */
export function checkReason(reason) {
  return text("reason", reason, "取消原因", REASON_MAX);
}

/**
 * How many pages `total` rows make, at least one.
 * @param {number} total
 * @param {number} perPage
 */
export function pageCount(total, perPage) {
  return Math.max(1, Math.ceil(total / perPage));
}

/**
 * "第 2/3 页 · 共 45 间" (or "共 0 间" alone).
 * @param {number} page
 * @param {number} perPage
 * @param {number} total
 * @param {string} [unit]
 */
export function pageText(page, perPage, total, unit = "间") {
  if (total === 0) return `共 0 ${unit}`;
  return `第 ${page}/${pageCount(total, perPage)} 页 · 共 ${total} ${unit}`;
}
