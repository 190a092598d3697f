// @ts-check
// Times as the pages show them: Beijing time (北京时间), whatever zone the browser is set to,
// as on the room's picture and in the record. Pure: no DOM, no clock of its own.

/** @param {number} n */
const pad = (n) => String(n).padStart(2, "0");
const WEEKDAYS = ["日", "一", "二", "三", "四", "五", "六"];
// Beijing is UTC+8 all year (no daylight saving since 1991), so the UTC fields of a Date moved
// on by eight hours are Beijing's wall clock.
const BEIJING_OFFSET_MS = 8 * 3600 * 1000;

/**
 * Year, month (1-12), day, weekday (0 = Sunday), hours, minutes, seconds in Beijing time.
 * @param {Date} d
 */
export function beijingTime(d) {
  const b = new Date(d.getTime() + BEIJING_OFFSET_MS);
  return {
    year: b.getUTCFullYear(), month: b.getUTCMonth() + 1, day: b.getUTCDate(), weekday: b.getUTCDay(),
    hours: b.getUTCHours(), minutes: b.getUTCMinutes(), seconds: b.getUTCSeconds(),
  };
}

/**
 * "2024年05月06日 星期一" for the header clock (Beijing time).
 * @param {Date} d
 */
export function formatDate(d) {
  const b = beijingTime(d);
  return `${b.year}年${pad(b.month)}月${pad(b.day)}日 星期${WEEKDAYS[b.weekday]}`;
}

/**
 * "09:05:07" (Beijing time).
 * @param {Date} d
 */
export function formatTime(d) {
  const b = beijingTime(d);
  return `${pad(b.hours)}:${pad(b.minutes)}:${pad(b.seconds)}`;
}

/**
 * "05月06日 09:05" (Beijing time).
 * @param {Date} d
 */
export function formatShortDateTime(d) {
  const b = beijingTime(d);
  return `${pad(b.month)}月${pad(b.day)}日 ${pad(b.hours)}:${pad(b.minutes)}`;
}

/**
 * "2024年05月06日 09:05" (Beijing time), e.g. a session's scheduled start.
 * @param {Date} d
 */
export function formatDateTime(d) {
  const b = beijingTime(d);
  return `${b.year}年${pad(b.month)}月${pad(b.day)}日 ${pad(b.hours)}:${pad(b.minutes)}`;
}

/**
 * "2024/5/6 09:05:07" (Beijing time): the archive's list and facts, as zh-CN writes a short date.
 * @param {Date} d
 */
export function formatNumericDateTime(d) {
  const b = beijingTime(d);
  return `${b.year}/${b.month}/${b.day} ${pad(b.hours)}:${pad(b.minutes)}:${pad(b.seconds)}`;
}

/**
 * A length of time, "1:02:03" (hours unpadded).
 * @param {number} s seconds
 */
export function formatDuration(s) {
  return `${Math.floor(s / 3600)}:${pad(Math.floor((s % 3600) / 60))}:${pad(Math.floor(s % 60))}`;
}

/**
 * A Date from an ISO string or epoch seconds/milliseconds; now when missing or unreadable.
 * @param {string | number | null | undefined} value
 */
export function toDate(value) {
  const d = typeof value === "number" ? new Date(value < 1e12 ? value * 1000 : value) : new Date(/** @type {string} */ (value));
  return Number.isNaN(d.getTime()) ? new Date() : d;
}
