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

/**
 * "2024-05-06": the Beijing date of `d`, as an <input type="date"> holds it.
 * @param {Date} d
 */
export function beijingDateValue(d) {
  const b = beijingTime(d);
  return `${b.year}-${pad(b.month)}-${pad(b.day)}`;
}

/**
 * "09:05": the Beijing time of `d`, as an <input type="time"> holds it.
 * @param {Date} d
 */
export function beijingTimeValue(d) {
  const b = beijingTime(d);
  return `${pad(b.hours)}:${pad(b.minutes)}`;
}

/**
 * The instant a Beijing wall clock shows as `date` ("2024-05-06") and `time` ("09:05"), read
 * without the browser's own zone; null when either is missing or not a real date and time.
 * @param {string} date
 * @param {string} time
 * @returns {Date | null}
 */
export function fromBeijing(date, time) {
  const d = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  const t = /^(\d{2}):(\d{2})(?::\d{2})?$/.exec(time);
  if (!d || !t) return null;
  const [year, month, day, hours, minutes] = [d[1], d[2], d[3], t[1], t[2]].map(Number);
  if (hours > 23 || minutes > 59) return null;
  const utc = Date.UTC(year, month - 1, day, hours, minutes);
  const b = beijingTime(new Date(utc - BEIJING_OFFSET_MS));
  // Date.UTC rolls 2 月 30 日 over to March: such a date is refused, not moved.
  if (b.year !== year || b.month !== month || b.day !== day) return null;
  return new Date(utc - BEIJING_OFFSET_MS);
}

/**
 * "2024-05-06T09:05:00+08:00": ISO 8601 in Beijing time, as the API takes a time.
 * @param {Date} d
 */
export function beijingIso(d) {
  const b = beijingTime(d);
  return `${beijingDateValue(d)}T${pad(b.hours)}:${pad(b.minutes)}:${pad(b.seconds)}+08:00`;
}
