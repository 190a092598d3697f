// The pages show Beijing time (北京时间) whatever zone the computer is set to: here New York's.
process.env.TZ = "America/New_York";

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  formatDate, formatDateTime, formatDuration, formatNumericDateTime, formatShortDateTime, formatTime, toDate,
} from "../../web/lib/time.js";

// 00:30 on Monday 6 May 2024 in Beijing is 12:30 on Sunday 5 May in New York.
const MIDNIGHT_IN_BEIJING = new Date("2024-05-05T16:30:05Z");

test("this process runs in a zone whose wall clock is not Beijing's", () => {
  assert.equal(MIDNIGHT_IN_BEIJING.getHours(), 12);
  assert.equal(MIDNIGHT_IN_BEIJING.getDate(), 5);
});

test("the header clock reads Beijing's time and date, weekday included", () => {
  assert.equal(formatTime(MIDNIGHT_IN_BEIJING), "00:30:05");
  assert.equal(formatDate(MIDNIGHT_IN_BEIJING), "2024年05月06日 星期一");
});

test("a session's start and the wall's times are Beijing time", () => {
  assert.equal(formatDateTime(MIDNIGHT_IN_BEIJING), "2024年05月06日 00:30");
  assert.equal(formatShortDateTime(MIDNIGHT_IN_BEIJING), "05月06日 00:30");
});

test("the archive's dates read as zh-CN writes a short date in Asia/Shanghai", () => {
  assert.equal(formatNumericDateTime(new Date("2024-12-31T16:00:00Z")), "2025/1/1 00:00:00");
  const intl = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", hour12: false, dateStyle: "short", timeStyle: "medium",
  });
  for (const iso of ["2024-05-06T01:05:07Z", "2024-12-31T15:59:59Z", "2025-01-09T23:30:00Z", "2026-02-28T16:00:00Z"]) {
    const d = new Date(iso);
    assert.equal(formatNumericDateTime(d), intl.format(d), iso);
  }
});

test("a length of time reads hours:minutes:seconds", () => {
  assert.equal(formatDuration(0), "0:00:00");
  assert.equal(formatDuration(3723.9), "1:02:03");
  assert.equal(formatDuration(36000), "10:00:00");
});

test("times the server sends as epoch seconds, milliseconds or ISO text are the same instant", () => {
  const at = Date.UTC(2024, 4, 6, 1, 5, 7);
  assert.equal(toDate(at / 1000).getTime(), at);
  assert.equal(toDate(at).getTime(), at);
  assert.equal(toDate("2024-05-06T01:05:07Z").getTime(), at);
  const before = Date.now();
  assert.ok(toDate("not a time").getTime() >= before, "an unreadable time is now");
});
