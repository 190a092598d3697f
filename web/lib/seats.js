// @ts-check
// Which seats (机位) of an evaluation room are free during a slot, and how the page says it.
// Counted as the server counts a booking: it claims every quarter hour from the one its start
// falls in to the one its end closes, so 09:00-12:00 and 12:00-13:00 share no seat time, while
// 09:05 already takes the quarter from 09:00. Pure: no DOM.

const QUARTER_MS = 15 * 60 * 1000;

/**
 * @typedef {{ id: string, starts_at: string, ends_at: string, seats: number[], purpose: string, state?: string }} SeatBooking
 */

/**
 * Every seat of a venue of `count` seats: 1 to count.
 * @param {number} count
 */
export function allSeats(count) {
  return Array.from({ length: count }, (_, i) => i + 1);
}

/**
 * The quarter hours a slot claims, [first, stop) counted from the epoch (Beijing's hours
 * are whole hours off UTC's, so the quarters are the same).
 * @param {Date} startsAt
 * @param {Date} endsAt
 * @returns {[number, number]}
 */
export function quarters(startsAt, endsAt) {
  return [Math.floor(startsAt.getTime() / QUARTER_MS), Math.ceil(endsAt.getTime() / QUARTER_MS)];
}

/**
 * Whether two slots claim a common quarter hour.
 * @param {{ starts_at: string, ends_at: string }} booking
 * @param {Date} startsAt
 * @param {Date} endsAt
 */
export function claimsDuring(booking, startsAt, endsAt) {
  const [a0, a1] = quarters(new Date(booking.starts_at), new Date(booking.ends_at));
  const [b0, b1] = quarters(startsAt, endsAt);
  return a0 < b1 && b0 < a1;
}

/**
 * The seats of a venue of `seatCount` seats that no active booking (but `exceptId`, the
 * booking being changed) holds during the slot, and who holds the others.
 * @template {SeatBooking} T
 * @param {number} seatCount
 * @param {T[]} bookings
 * @param {Date} startsAt
 * @param {Date} endsAt
 * @param {string | null} [exceptId]
 * @returns {{ free: number[], takenBy: Map<number, T> }}
 */
export function seatUse(seatCount, bookings, startsAt, endsAt, exceptId = null) {
  /** @type {Map<number, T>} */
  const takenBy = new Map();
  for (const b of bookings) {
    if (b.id === exceptId || (b.state && b.state !== "active") || !claimsDuring(b, startsAt, endsAt)) continue;
    for (const seat of b.seats) if (!takenBy.has(seat)) takenBy.set(seat, b);
  }
  return { free: allSeats(seatCount).filter((seat) => !takenBy.has(seat)), takenBy };
}

/**
 * Seat numbers in short: "1–3、5、7–8" (runs of three or more as a range).
 * @param {number[]} seats
 */
export function seatRanges(seats) {
  const sorted = [...new Set(seats)].sort((a, b) => a - b);
  /** @type {string[]} */
  const parts = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j += 1;
    if (j - i >= 2) parts.push(`${sorted[i]}–${sorted[j]}`);
    else for (let k = i; k <= j; k += 1) parts.push(String(sorted[k]));
    i = j + 1;
  }
  return parts.join("、");
}

/**
 * The free seats of a slot in a sentence: "8 个机位全部空闲", "空闲 5/8 个机位：4–8",
 * "8 个机位均已被预约".
 * @param {number} seatCount
 * @param {number[]} free
 */
export function freeSummary(seatCount, free) {
  if (free.length === 0) return `${seatCount} 个机位均已被预约`;
  if (free.length === seatCount) return `${seatCount} 个机位全部空闲`;
  return `空闲 ${free.length}/${seatCount} 个机位：${seatRanges(free)}`;
}

/**
 * The bookings that hold seats of the slot, each once with the seats it holds there:
 * "机位 1–3：LN-1 评标".
 * @template {SeatBooking} T
 * @param {Map<number, T>} takenBy
 * @returns {Array<{ booking: T, seats: number[], text: string }>}
 */
export function holders(takenBy) {
  /** @type {Map<string, { booking: T, seats: number[] }>} */
  const byBooking = new Map();
  for (const [seat, booking] of [...takenBy.entries()].sort((a, b) => a[0] - b[0])) {
    const entry = byBooking.get(booking.id) || { booking, seats: [] };
    entry.seats.push(seat);
    byBooking.set(booking.id, entry);
  }
  return [...byBooking.values()].map((e) => ({ ...e, text: `机位 ${seatRanges(e.seats)}：${e.booking.purpose}` }));
}
