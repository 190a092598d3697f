// @ts-check
// The arithmetic of the booking calendar (场地预约日历): weeks from Monday in Beijing time,
// the periods to ask the server for, and where each booking stands in its day's column.
// Pure: no DOM, no clock of its own.

import { beijingDateValue, beijingTime } from "./time.js";

const MINUTE_MS = 60 * 1000;
const DAY_MS = 24 * 60 * MINUTE_MS;
// Beijing is UTC+8 all year: every Beijing day is 24 hours long and starts at 16:00 UTC.
const BEIJING_OFFSET_MS = 8 * 60 * MINUTE_MS;
/** The longest period `GET /api/bookings` answers at once (92 days): a week is one request. */
export const QUERY_SPAN_MS = 92 * DAY_MS;
const WEEKDAY_NAMES = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];
/** The hours a day column shows at least; a booking earlier or later widens them. */
export const DEFAULT_HOURS = Object.freeze({ from: 8, to: 20 });

/** @param {number} n */
const pad = (n) => String(n).padStart(2, "0");

/**
 * Midnight in Beijing of the day `d` falls in.
 * @param {Date} d
 */
export function startOfBeijingDay(d) {
  const wall = d.getTime() + BEIJING_OFFSET_MS;
  return new Date(wall - (((wall % DAY_MS) + DAY_MS) % DAY_MS) - BEIJING_OFFSET_MS);
}

/**
 * Monday 00:00 in Beijing of the week `d` falls in.
 * @param {Date} d
 */
export function weekStart(d) {
  const day = startOfBeijingDay(d);
  const fromMonday = (beijingTime(day).weekday + 6) % 7;
  return addDays(day, -fromMonday);
}

/**
 * `n` days (of 24 hours) after `d`.
 * @param {Date} d
 * @param {number} n
 */
export function addDays(d, n) {
  return new Date(d.getTime() + n * DAY_MS);
}

/**
 * The days of the week from `start` (a Monday midnight): weekday, "12月07日", the date input's
 * value, and whether it is `today`'s Beijing date.
 * @param {Date} start
 * @param {Date} today
 * @param {number} [days]
 */
export function weekDays(start, today, days = 7) {
  const todayValue = beijingDateValue(today);
  return Array.from({ length: days }, (_, i) => {
    const day = addDays(start, i);
    const b = beijingTime(day);
    const value = beijingDateValue(day);
    return {
      start: day,
      name: WEEKDAY_NAMES[(b.weekday + 6) % 7],
      date: `${pad(b.month)}月${pad(b.day)}日`,
      value,
      today: value === todayValue,
    };
  });
}

/**
 * "2026年12月07日至12月13日" (the year again only when the week crosses into the next).
 * @param {Date} start
 * @param {number} [days]
 */
export function weekLabel(start, days = 7) {
  const a = beijingTime(start);
  const b = beijingTime(addDays(start, days - 1));
  const last = a.year === b.year ? `${pad(b.month)}月${pad(b.day)}日` : `${b.year}年${pad(b.month)}月${pad(b.day)}日`;
  return `${a.year}年${pad(a.month)}月${pad(a.day)}日至${last}`;
}

/**
 * "09:30" for minute 570 of a day; the day's end, minute 1440, is "24:00".
 * @param {number} minute
 */
export function minuteLabel(minute) {
  return `${pad(Math.floor(minute / 60))}:${pad(Math.floor(minute % 60))}`;
}

/**
 * A slot in words, Beijing time: "12月08日 09:00–12:00" within a day (an end at midnight
 * reads 24:00), "12月09日 20:00 至 12月10日 10:00" over midnight.
 * @param {Date} startsAt
 * @param {Date} endsAt
 */
export function slotText(startsAt, endsAt) {
  const a = beijingTime(startsAt);
  const b = beijingTime(endsAt);
  const day = `${pad(a.month)}月${pad(a.day)}日`;
  const from = `${pad(a.hours)}:${pad(a.minutes)}`;
  // The minute before the end decides the day: a slot ending at midnight ends on its own day.
  if (endsAt > startsAt && beijingDateValue(startsAt) === beijingDateValue(new Date(endsAt.getTime() - MINUTE_MS))) {
    const to = b.hours === 0 && b.minutes === 0 ? "24:00" : `${pad(b.hours)}:${pad(b.minutes)}`;
    return `${day} ${from}–${to}`;
  }
  return `${day} ${from} 至 ${pad(b.month)}月${pad(b.day)}日 ${pad(b.hours)}:${pad(b.minutes)}`;
}

/**
 * A length of time in Chinese: "3 小时", "2 小时 30 分钟", "45 分钟", "1 天 2 小时".
 * @param {number} ms
 */
export function durationText(ms) {
  const minutes = Math.round(ms / MINUTE_MS);
  const parts = [];
  if (minutes >= 24 * 60) parts.push(`${Math.floor(minutes / (24 * 60))} 天`);
  if (Math.floor(minutes / 60) % 24) parts.push(`${Math.floor(minutes / 60) % 24} 小时`);
  if (minutes % 60) parts.push(`${minutes % 60} 分钟`);
  return parts.join(" ") || "0 分钟";
}

/**
 * An instant in words, Beijing time: "周二 12月15日 09:00".
 * @param {Date} d
 */
export function momentText(d) {
  const b = beijingTime(d);
  return `${WEEKDAY_NAMES[(b.weekday + 6) % 7]} ${pad(b.month)}月${pad(b.day)}日 ${pad(b.hours)}:${pad(b.minutes)}`;
}

/**
 * The slot a form holds, in words, to confirm what the date and time fields say in any
 * browser language: "周二 12月08日 09:00–12:00，共 3 小时".
 * @param {Date} startsAt
 * @param {Date} endsAt
 */
export function slotSummary(startsAt, endsAt) {
  const weekday = WEEKDAY_NAMES[(beijingTime(startsAt).weekday + 6) % 7];
  return `${weekday} ${slotText(startsAt, endsAt)}，共 ${durationText(endsAt.getTime() - startsAt.getTime())}`;
}

/**
 * [from, to) cut into consecutive periods of at most `span` milliseconds, the longest the
 * server answers at once.
 * @param {Date} from
 * @param {Date} to
 * @param {number} [span]
 * @returns {Array<[Date, Date]>}
 */
export function queryPeriods(from, to, span = QUERY_SPAN_MS) {
  /** @type {Array<[Date, Date]>} */
  const periods = [];
  for (let t = from.getTime(); t < to.getTime(); t += span) {
    periods.push([new Date(t), new Date(Math.min(t + span, to.getTime()))]);
  }
  return periods;
}

/**
 * @template {{ id: string, starts_at: string }} T
 * The bookings of several answers, each once (a booking overlapping two periods comes twice),
 * by start time.
 * @param {T[][]} answers
 * @returns {T[]}
 */
export function mergeBookings(answers) {
  /** @type {Map<string, T>} */
  const byId = new Map();
  for (const items of answers) for (const b of items) byId.set(b.id, b);
  return [...byId.values()].sort((a, b) => Date.parse(a.starts_at) - Date.parse(b.starts_at) || a.id.localeCompare(b.id));
}

/**
 * A booking's part within one day column: minutes from that day's midnight, its lane among
 * the bookings it overlaps and how many lanes they need, and whether it began the day before
 * or goes on into the next.
 * @template T
 * @typedef {{ booking: T, day: number, start: number, end: number, lane: number, lanes: number, fromBefore: boolean, goesOn: boolean }} Piece
 */

/**
 * @template {{ starts_at: string, ends_at: string }} T
 * Where each booking stands in the week from `start`: its pieces per day (a booking over
 * midnight has one a day), side by side where they overlap, and the hours the columns must
 * show (at least DEFAULT_HOURS, widened to whole hours around every piece).
 * @param {T[]} bookings
 * @param {Date} start
 * @param {number} [days]
 * @returns {{ fromHour: number, toHour: number, days: Piece<T>[][] }}
 */
export function layoutWeek(bookings, start, days = 7) {
  /** @type {Piece<T>[][]} */
  const columns = Array.from({ length: days }, () => []);
  let fromMin = DEFAULT_HOURS.from * 60;
  let toMin = DEFAULT_HOURS.to * 60;
  for (const booking of bookings) {
    const begins = Date.parse(booking.starts_at);
    const ends = Date.parse(booking.ends_at);
    for (let day = 0; day < days; day += 1) {
      const dayStart = start.getTime() + day * DAY_MS;
      const from = Math.max(begins, dayStart);
      const to = Math.min(ends, dayStart + DAY_MS);
      if (from >= to) continue;
      const piece = {
        booking, day, start: (from - dayStart) / MINUTE_MS, end: (to - dayStart) / MINUTE_MS,
        lane: 0, lanes: 1, fromBefore: begins < dayStart, goesOn: ends > dayStart + DAY_MS,
      };
      columns[day].push(piece);
      fromMin = Math.min(fromMin, piece.start);
      toMin = Math.max(toMin, piece.end);
    }
  }
  for (const column of columns) assignLanes(column);
  return { fromHour: Math.floor(fromMin / 60), toHour: Math.ceil(toMin / 60), days: columns };
}

/**
 * Put each piece of a day in the first lane free at its start; pieces that overlap, directly
 * or through others, share their number of lanes (the column's width is split among them).
 * @param {Piece<unknown>[]} pieces
 */
function assignLanes(pieces) {
  pieces.sort((a, b) => a.start - b.start || b.end - a.end);
  /** @type {Piece<unknown>[]} */
  let group = [];
  /** @type {number[]} when each lane of the group is free again */
  let laneEnds = [];
  let groupEnd = -1;
  const close = () => {
    for (const p of group) p.lanes = laneEnds.length;
    group = [];
    laneEnds = [];
  };
  for (const piece of pieces) {
    if (piece.start >= groupEnd) close();
    let lane = laneEnds.findIndex((end) => end <= piece.start);
    if (lane < 0) lane = laneEnds.push(0) - 1;
    laneEnds[lane] = piece.end;
    piece.lane = lane;
    group.push(piece);
    groupEnd = Math.max(groupEnd, piece.end);
  }
  close();
}

/**
 * Which day of the week from `start` `d` falls on, and its minute of that day; null outside.
 * @param {Date} start
 * @param {Date} d
 * @param {number} [days]
 */
export function dayMinute(start, d, days = 7) {
  const offset = d.getTime() - start.getTime();
  if (offset < 0 || offset >= days * DAY_MS) return null;
  return { day: Math.floor(offset / DAY_MS), minute: (offset % DAY_MS) / MINUTE_MS };
}
