// The booking calendar lays bookings out in Beijing days and hours whatever zone the computer
// is set to: here New York's.
process.env.TZ = "America/New_York";

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  DEFAULT_HOURS, addDays, dayMinute, layoutWeek, mergeBookings, minuteLabel, queryPeriods, startOfBeijingDay,
  durationText, momentText, slotSummary, slotText, weekDays, weekLabel, weekStart,
} from "../../web/lib/calendar.js";
import { beijingIso } from "../../web/lib/time.js";

// Monday 7 December 2026, 00:00 in Beijing: 11:00 on Sunday 6 December in New York.
const MONDAY = new Date("2026-12-06T16:00:00Z");

/** @param {string} id @param {string} from @param {string} to */
const booking = (id, from, to) => ({ id, starts_at: `${from}+08:00`, ends_at: `${to}+08:00` });

test("a Beijing week starts on Monday at Beijing midnight, from any moment of it", () => {
  assert.equal(MONDAY.getDay(), 0, "Sunday in New York");
  for (const iso of ["2026-12-07T00:00:00+08:00", "2026-12-09T13:45:00+08:00", "2026-12-13T23:59:59+08:00"]) {
    assert.equal(weekStart(new Date(iso)).toISOString(), MONDAY.toISOString(), iso);
  }
  assert.equal(weekStart(new Date("2026-12-06T23:59:00+08:00")).toISOString(), addDays(MONDAY, -7).toISOString());
  assert.equal(startOfBeijingDay(new Date("2026-12-08T00:30:00+08:00")).toISOString(), "2026-12-07T16:00:00.000Z");
  assert.equal(beijingIso(MONDAY), "2026-12-07T00:00:00+08:00");
});

test("the week's columns are named by Beijing weekday and date, today marked", () => {
  const days = weekDays(MONDAY, new Date("2026-12-09T08:00:00+08:00"));
  assert.deepEqual(days.map((d) => d.name), ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]);
  assert.deepEqual(days.map((d) => d.date), ["12月07日", "12月08日", "12月09日", "12月10日", "12月11日", "12月12日", "12月13日"]);
  assert.equal(days[0].value, "2026-12-07");
  assert.deepEqual(days.map((d) => d.today), [false, false, true, false, false, false, false]);
});

test("the week's title names the year again only when the week crosses into the next", () => {
  assert.equal(weekLabel(MONDAY), "2026年12月07日至12月13日");
  assert.equal(weekLabel(weekStart(new Date("2026-12-31T12:00:00+08:00"))), "2026年12月28日至2027年01月03日");
});

test("a week is one request; a longer period is asked for in spans, end to end", () => {
  assert.deepEqual(queryPeriods(MONDAY, addDays(MONDAY, 7)), [[MONDAY, addDays(MONDAY, 7)]]);
  const span = 3 * 24 * 3600 * 1000;
  const periods = queryPeriods(MONDAY, addDays(MONDAY, 7), span);
  assert.equal(periods.length, 3);
  assert.equal(periods[0][0].toISOString(), MONDAY.toISOString());
  assert.equal(periods[2][1].toISOString(), addDays(MONDAY, 7).toISOString());
  for (let i = 0; i < periods.length; i += 1) {
    assert.ok(periods[i][1].getTime() - periods[i][0].getTime() <= span);
    if (i > 0) assert.equal(periods[i][0].getTime(), periods[i - 1][1].getTime());
  }
});

test("a booking in two answers is listed once, bookings by start", () => {
  const a = booking("a", "2026-12-08T09:00:00", "2026-12-08T12:00:00");
  const b = booking("b", "2026-12-07T09:00:00", "2026-12-10T09:00:00");
  assert.deepEqual(mergeBookings([[b], [a, b], [b]]).map((x) => x.id), ["b", "a"]);
});

test("a booking stands in its Beijing day at its Beijing hours", () => {
  const layout = layoutWeek([booking("a", "2026-12-08T09:00:00", "2026-12-08T12:30:00")], MONDAY);
  assert.equal(layout.days[1].length, 1);
  const piece = layout.days[1][0];
  assert.deepEqual([piece.day, piece.start, piece.end, piece.lane, piece.lanes], [1, 540, 750, 0, 1]);
  assert.deepEqual([layout.fromHour, layout.toHour], [DEFAULT_HOURS.from, DEFAULT_HOURS.to]);
  assert.ok(layout.days.every((d, i) => i === 1 || d.length === 0));
});

test("a booking over midnight has a piece in each day, marked as going on", () => {
  const layout = layoutWeek([booking("n", "2026-12-09T20:00:00", "2026-12-10T10:00:00")], MONDAY);
  const [first] = layout.days[2];
  const [second] = layout.days[3];
  assert.deepEqual([first.start, first.end, first.fromBefore, first.goesOn], [1200, 1440, false, true]);
  assert.deepEqual([second.start, second.end, second.fromBefore, second.goesOn], [0, 600, true, false]);
  assert.deepEqual([layout.fromHour, layout.toHour], [0, 24], "the columns widen to show both pieces");
});

test("early and late bookings widen the hours shown to whole hours", () => {
  const layout = layoutWeek([
    booking("e", "2026-12-07T06:30:00", "2026-12-07T07:45:00"),
    booking("l", "2026-12-11T19:00:00", "2026-12-11T21:15:00"),
  ], MONDAY);
  assert.deepEqual([layout.fromHour, layout.toHour], [6, 22]);
});

test("bookings outside the week are left out", () => {
  const layout = layoutWeek([
    booking("before", "2026-12-06T09:00:00", "2026-12-06T12:00:00"),
    booking("after", "2026-12-14T09:00:00", "2026-12-14T12:00:00"),
  ], MONDAY);
  assert.ok(layout.days.every((d) => d.length === 0));
});

test("overlapping bookings share their column side by side; touching ones do not", () => {
  const layout = layoutWeek([
    booking("a", "2026-12-08T09:00:00", "2026-12-08T12:00:00"),
    booking("b", "2026-12-08T10:00:00", "2026-12-08T11:00:00"),
    booking("c", "2026-12-08T11:00:00", "2026-12-08T13:00:00"),
    booking("d", "2026-12-08T13:00:00", "2026-12-08T14:00:00"),
  ], MONDAY);
  const lanes = Object.fromEntries(layout.days[1].map((p) => [p.booking.id, [p.lane, p.lanes]]));
  assert.deepEqual(lanes, { a: [0, 2], b: [1, 2], c: [1, 2], d: [0, 1] });
});

test("a day's minutes read as a clock, its end as 24:00", () => {
  assert.deepEqual([0, 570, 1439, 1440].map(minuteLabel), ["00:00", "09:30", "23:59", "24:00"]);
});

test("now is placed on its Beijing day and minute, and nowhere outside the week", () => {
  assert.deepEqual(dayMinute(MONDAY, new Date("2026-12-09T08:15:00+08:00")), { day: 2, minute: 495 });
  assert.equal(dayMinute(MONDAY, new Date("2026-12-14T00:00:00+08:00")), null);
  assert.equal(dayMinute(MONDAY, new Date("2026-12-06T23:00:00+08:00")), null);
});

test("a slot reads in Beijing time, within a day or over midnight", () => {
  const at = (/** @type {string} */ iso) => new Date(`${iso}+08:00`);
  assert.equal(slotText(at("2026-12-08T09:00:00"), at("2026-12-08T12:30:00")), "12月08日 09:00–12:30");
  assert.equal(slotText(at("2026-12-08T20:00:00"), at("2026-12-09T00:00:00")), "12月08日 20:00–24:00");
  assert.equal(slotText(at("2026-12-08T20:00:00"), at("2026-12-09T10:00:00")), "12月08日 20:00 至 12月09日 10:00");
  assert.equal(slotText(at("2026-12-08T00:00:00"), at("2026-12-08T00:15:00")), "12月08日 00:00–00:15");
});

test("a form's slot is confirmed in words with its weekday and length", () => {
  const at = (/** @type {string} */ iso) => new Date(`${iso}+08:00`);
  assert.equal(momentText(at("2026-12-13T23:45:00")), "周日 12月13日 23:45");
  assert.equal(slotSummary(at("2026-12-08T09:00:00"), at("2026-12-08T12:00:00")), "周二 12月08日 09:00–12:00，共 3 小时");
  assert.equal(slotSummary(at("2026-12-13T23:00:00"), at("2026-12-14T01:30:00")), "周日 12月13日 23:00 至 12月14日 01:30，共 2 小时 30 分钟");
  const HOUR = 3600 * 1000;
  assert.deepEqual([45 * 60 * 1000, 26 * HOUR, 72 * HOUR, 0].map(durationText), ["45 分钟", "1 天 2 小时", "3 天", "0 分钟"]);
});
