// What the administration's forms refuse before sending, and Beijing dates and times read from
// the form's fields whatever zone the computer is set to (here New York's).
process.env.TZ = "America/New_York";

import assert from "node:assert/strict";
import { test } from "node:test";

import { checkBooking, checkCentre, checkReason, checkVenue, pageCount, pageText } from "../../web/lib/placeforms.js";
import { beijingDateValue, beijingIso, beijingTimeValue, fromBeijing } from "../../web/lib/time.js";

const CJK = /[\u4e00-\u9fff]/;
const venue = { centre_id: "c1", name: "第一评标室", city: "沈阳", seat_count: "8" };

test("a centre needs a name and a city, and a name no other centre has", () => {
  assert.equal(checkCentre({ name: "沈阳市公共资源交易中心", city: "沈阳" }, []), null);
  assert.equal(checkCentre({ name: "  ", city: "沈阳" }, [])?.field, "name");
  assert.equal(checkCentre({ name: "中心", city: "" }, [])?.field, "city");
  assert.equal(checkCentre({ name: "中心", city: "城".repeat(101) }, [])?.message, "所在城市不能超过 100 个字");
  const twice = checkCentre({ name: " 中心 ", city: "沈阳" }, [{ name: "中心" }]);
  assert.deepEqual(twice, { field: "name", message: "已有名为“中心”的交易中心" });
});

test("a venue has 5 to 10 seats, whole numbers only", () => {
  assert.equal(checkVenue(venue, []), null);
  for (const seats of ["4", "11", "7.5", "", "八", "-6"]) {
    const problem = checkVenue({ ...venue, seat_count: seats }, []);
    assert.deepEqual(problem, { field: "seat_count", message: "机位数应为 5 至 10 之间的整数" }, seats);
  }
  assert.equal(checkVenue({ ...venue, seat_count: "5" }, []), null);
  assert.equal(checkVenue({ ...venue, seat_count: "10" }, []), null);
});

test("a venue needs its centre, and a name its centre has not used", () => {
  assert.equal(checkVenue({ ...venue, centre_id: "" }, [])?.field, "centre_id");
  assert.equal(checkVenue({ ...venue, name: "" }, [])?.field, "name");
  assert.equal(checkVenue(venue, [{ centre_id: "c1", name: "第一评标室" }])?.field, "name");
  assert.equal(checkVenue(venue, [{ centre_id: "c2", name: "第一评标室" }]), null, "another centre's room");
});

test("Beijing dates and times from the form's fields, in any zone", () => {
  const d = fromBeijing("2026-12-08", "09:30");
  assert.equal(d?.toISOString(), "2026-12-08T01:30:00.000Z");
  assert.equal(beijingIso(/** @type {Date} */ (d)), "2026-12-08T09:30:00+08:00");
  const late = /** @type {Date} */ (fromBeijing("2026-12-08", "23:45"));
  assert.equal(late.getDate(), 8, "New York's day is still the 8th…");
  assert.equal(beijingDateValue(late), "2026-12-08");
  assert.equal(beijingTimeValue(late), "23:45");
  const early = /** @type {Date} */ (fromBeijing("2026-12-09", "00:15"));
  assert.equal(early.getDate(), 8, "…and at 00:15 in Beijing it is the 8th in New York");
  assert.equal(beijingDateValue(early), "2026-12-09");
  for (const [date, time] of [["", "09:00"], ["2026-12-08", ""], ["2026-02-30", "09:00"], ["2026-12-08", "24:00"]]) {
    assert.equal(fromBeijing(date, time), null, `${date} ${time}`);
  }
});

test("a booking's slot, seats and purpose are checked in that order", () => {
  const start = fromBeijing("2026-12-08", "09:00");
  const end = fromBeijing("2026-12-08", "12:00");
  const ok = { startsAt: start, endsAt: end, seats: [1, 2], purpose: "LN-2026-0002 第一标段" };
  assert.equal(checkBooking(ok), null);
  assert.equal(checkBooking({ ...ok, startsAt: null })?.field, "start_date");
  assert.equal(checkBooking({ ...ok, endsAt: start })?.message, "结束时间应晚于开始时间");
  assert.equal(checkBooking({ ...ok, endsAt: fromBeijing("2026-12-11", "09:15") })?.message, "一次预约不能超过 3 天");
  assert.equal(checkBooking({ ...ok, endsAt: fromBeijing("2026-12-11", "09:00") }), null, "exactly 3 days");
  assert.equal(checkBooking({ ...ok, seats: [] })?.message, "请至少选择一个机位");
  assert.equal(checkBooking({ ...ok, purpose: " " })?.field, "purpose");
});

test("a cancellation needs its reason", () => {
  assert.equal(checkReason("项目延期"), null);
  assert.equal(checkReason("")?.field, "reason");
  assert.match(/** @type {{ message: string }} */ (checkReason("因".repeat(501))).message, CJK);
});

test("paging counts whole pages and says where one is", () => {
  assert.equal(pageCount(0, 20), 1);
  assert.equal(pageCount(41, 20), 3);
  assert.equal(pageText(2, 20, 41), "第 2/3 页 · 共 41 间");
  assert.equal(pageText(1, 20, 0), "共 0 间");
});
