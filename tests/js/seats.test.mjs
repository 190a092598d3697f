// Free seats of a slot as the server counts them (quarter hours), and the words for them.
import assert from "node:assert/strict";
import { test } from "node:test";

import { claimsDuring, freeSummary, holders, quarters, seatRanges, seatUse } from "../../web/lib/seats.js";

/** @param {string} hhmm */
const at = (hhmm) => new Date(`2026-12-08T${hhmm}:00+08:00`);
/** @param {string} id @param {string} from @param {string} to @param {number[]} seats @param {string} [state] */
const booking = (id, from, to, seats, state = "active") =>
  ({ id, starts_at: at(from).toISOString(), ends_at: at(to).toISOString(), seats, purpose: `${id} 评标`, state });

test("a slot claims from the quarter its start falls in to the one its end closes", () => {
  const [first, stop] = quarters(at("09:05"), at("10:01"));
  assert.equal(stop - first, 5, "09:00, 09:15, 09:30, 09:45, 10:00");
  const [a, b] = quarters(at("09:00"), at("10:00"));
  assert.equal(b - a, 4);
});

test("touching slots share no seat time; a start inside a claimed quarter does", () => {
  const morning = booking("m", "09:00", "12:00", [1]);
  assert.equal(claimsDuring(morning, at("12:00"), at("13:00")), false);
  assert.equal(claimsDuring(morning, at("11:50"), at("13:00")), true);
  assert.equal(claimsDuring(booking("x", "09:00", "11:05", [1]), at("11:10"), at("12:00")), true);
});

test("the free seats of a slot leave out those active bookings hold then", () => {
  const bookings = [
    booking("a", "09:00", "12:00", [1, 2, 3]),
    booking("b", "13:00", "15:00", [4]),
    booking("c", "10:00", "11:00", [5], "cancelled"),
    booking("d", "11:00", "12:30", [3, 8]),
  ];
  const { free, takenBy } = seatUse(8, bookings, at("11:30"), at("13:00"));
  assert.deepEqual(free, [4, 5, 6, 7]);
  assert.deepEqual([...takenBy.keys()].sort(), [1, 2, 3, 8]);
  assert.equal(takenBy.get(3)?.id, "a");
  assert.deepEqual(holders(takenBy).map((h) => h.text), ["机位 1–3：a 评标", "机位 8：d 评标"]);
});

test("a booking being changed does not stand in its own way", () => {
  const own = booking("own", "09:00", "12:00", [1, 2, 3, 4, 5]);
  assert.deepEqual(seatUse(5, [own], at("10:00"), at("13:00"), "own").free, [1, 2, 3, 4, 5]);
  assert.deepEqual(seatUse(5, [own], at("10:00"), at("13:00")).free, []);
});

test("seat numbers read in runs", () => {
  assert.equal(seatRanges([1, 2, 3, 5, 7, 8]), "1–3、5、7、8");
  assert.equal(seatRanges([8, 7, 6, 5, 4]), "4–8");
  assert.equal(seatRanges([]), "");
});

test("the summary says how many seats are free and which", () => {
  assert.equal(freeSummary(8, [1, 2, 3, 4, 5, 6, 7, 8]), "8 个机位全部空闲");
  assert.equal(freeSummary(8, [4, 5, 6, 7, 8]), "空闲 5/8 个机位：4–8");
  assert.equal(freeSummary(8, []), "8 个机位均已被预约");
});
