// @ts-check
// Booking seats of the calendar's venue, and a booking opened from the calendar: its facts, a
// change of slot or seats, its cancellation with a reason. While a slot is being chosen the
// form shows which seats are free then, counted as the server counts; the server still
// decides (somebody else may book meanwhile), and its refusal, such as a clash (409
// booking_conflict), is shown in its own words.

import { goTo, othersCentre, personLabel, venueBookings } from "/static/admin-shared.js";
import { requestJson } from "/static/lib/api.js";
import { addDays, slotText, startOfBeijingDay } from "/static/lib/calendar.js";
import { $, control, el } from "/static/lib/dom.js";
import { messageOf } from "/static/lib/errors.js";
import { addSlotFields, quarterHours, readWhen, refuse, say, showSlot, submitting, watchSlot, writeWhen } from "/static/lib/forms.js";
import { checkBooking, checkReason, checkSlot } from "/static/lib/placeforms.js";
import { allSeats, freeSummary, holders, seatRanges, seatUse } from "/static/lib/seats.js";
import { beijingIso, formatDateTime } from "/static/lib/time.js";

/** @typedef {import("/static/lib/wire").Venue} Venue */
/** @typedef {import("/static/lib/wire").Booking} Booking */
/** A lot a booking is made for: its id, how it is named, the booking's purpose to begin with,
 * and the console's address to go back to.
 * @typedef {{ id: string, label: string, purpose: string, back: string }} ForLot */
/** What the calendar does after a booking was made, changed or cancelled: show `booking`
 * (the new one; null after a cancellation) and say `note`.
 * @typedef {(booking: Booking | null, note: string) => Promise<void>} Changed */

const CHECK_DELAY_MS = 250;
const HOUR_MS = 3600 * 1000;
// A quarter hour either side: a booking ending 11:05 still holds the quarter from 11:00.
const QUARTER_MS = 15 * 60 * 1000;

/** The seats of one venue as toggle buttons, each marked free or taken for the chosen slot. */
class SeatPicker {
  /**
   * @param {HTMLElement} root
   * @param {() => void} onChange
   */
  constructor(root, onChange) {
    this.root = root;
    this.count = 0;
    /** @type {Set<number>} */
    this.selected = new Set();
    /** @type {Map<number, Booking>} who holds each taken seat during the slot */
    this.takenBy = new Map();
    root.addEventListener("click", (event) => {
      const button = /** @type {HTMLElement} */ (event.target).closest("button");
      if (!button?.dataset.seat) return;
      const seat = Number(button.dataset.seat);
      if (!this.selected.delete(seat)) this.selected.add(seat);
      this.render();
      onChange();
    });
  }

  /**
   * A venue of `count` seats, `selected` chosen, none known to be taken yet.
   * @param {number} count
   * @param {number[]} selected
   */
  reset(count, selected) {
    this.count = count;
    this.selected = new Set(selected);
    this.takenBy = new Map();
    this.render();
  }

  /** @param {Map<number, Booking>} takenBy */
  mark(takenBy) {
    this.takenBy = takenBy;
    this.render();
  }

  /** @param {"all" | "free" | "none"} which */
  pick(which) {
    this.selected = new Set(which === "none" ? [] : allSeats(this.count).filter((s) => which === "all" || !this.takenBy.has(s)));
    this.render();
  }

  seats() {
    return [...this.selected].sort((a, b) => a - b);
  }

  free() {
    return allSeats(this.count).filter((s) => !this.takenBy.has(s));
  }

  render() {
    // The buttons stay (a keyboard's focus with them) while the venue's seat count does.
    if (this.root.children.length !== this.count) {
      this.root.replaceChildren(...allSeats(this.count).map((seat) => el("button", { type: "button", class: "seat", dataset: { seat } }, seat)));
    }
    for (const button of this.root.querySelectorAll("button")) {
      const seat = Number(button.dataset.seat);
      const holder = this.takenBy.get(seat);
      button.classList.toggle("taken", Boolean(holder));
      button.setAttribute("aria-pressed", String(this.selected.has(seat)));
      button.title = holder ? `${seat}号机位：该时段已被预约（${holder.purpose}）` : `${seat}号机位：该时段空闲`;
    }
  }
}

/**
 * What the picker's slot looks like, under the seats: how many are free (besides the booking
 * being changed, when `own`), who holds the others, and a warning when a chosen seat is taken.
 * @param {HTMLElement} node
 * @param {SeatPicker} picker
 * @param {boolean} [own]
 */
function showSeatUse(node, picker, own = false) {
  const free = picker.free();
  const level = free.length === picker.count ? "all" : free.length ? "some" : "none";
  const lines = [el("span", { class: `free ${level}` }, `${freeSummary(picker.count, free)}${own ? "（本预约除外）" : ""}`)];
  const held = holders(picker.takenBy);
  if (held.length) lines.push(el("span", { class: "held" }, `已被预约：${held.map((h) => h.text).join("；")}`));
  const clash = picker.seats().filter((s) => picker.takenBy.has(s));
  if (clash.length) lines.push(el("span", { class: "clash" }, `所选的机位 ${seatRanges(clash)} 在该时段已被预约`));
  node.replaceChildren(...lines);
  node.dataset.clash = clash.length ? "1" : "";
}

/**
 * Who holds each seat of the venue taken during the slot, the booking `except` apart. An
 * administrator of one centre is shown another centre's room's bookings for its own lots only:
 * the others' seats come from the search of free venues, held by "其他交易中心的预约".
 * @param {Venue} venue
 * @param {Date} startsAt
 * @param {Date} endsAt
 * @param {string | null} except
 * @returns {Promise<Map<number, Booking>>}
 */
async function seatTakers(venue, startsAt, endsAt, except) {
  const around = await venueBookings(venue.id, new Date(startsAt.getTime() - QUARTER_MS), new Date(endsAt.getTime() + QUARTER_MS));
  const { takenBy } = seatUse(venue.seat_count, around, startsAt, endsAt, except);
  if (!othersCentre(venue.centre_id)) return takenBy;
  const query = new URLSearchParams({ starts_at: beijingIso(startsAt), ends_at: beijingIso(endsAt), seats: "1", city: venue.city });
  /** @type {{ items: import("/static/lib/wire").Vacancy[] }} */
  const answer = await requestJson(`/api/vacancy?${query}`, { what: "查询空闲机位失败" });
  const free = new Set(answer.items.find((item) => item.venue.id === venue.id)?.free_seats || []);
  // A seat is claimed by one booking at a time: one of ours holding it is that booking.
  const ours = seatUse(venue.seat_count, around, startsAt, endsAt).takenBy;
  const hidden = /** @type {Booking} */ ({
    id: "", venue_id: venue.id, starts_at: beijingIso(startsAt), ends_at: beijingIso(endsAt), seats: [],
    purpose: "其他交易中心的预约", lot_id: null, session_id: null, state: "active", booked_by: "", booked_at: "", reason: null,
  });
  for (const seat of allSeats(venue.seat_count)) {
    if (!free.has(seat) && !ours.has(seat)) takenBy.set(seat, hidden);
  }
  return takenBy;
}

/**
 * Check the free seats of the form's slot a moment after its fields change (the last change
 * wins; an earlier answer arriving late is dropped).
 * @param {HTMLFormElement} form
 * @param {SeatPicker} picker
 * @param {HTMLElement} summary
 * @param {() => { venue: Venue | null, except: string | null }} subject
 */
function seatChecker(form, picker, summary, subject) {
  let asked = 0;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const check = async () => {
    const { venue, except } = subject();
    showSlot(form);
    const startsAt = readWhen(form, "start");
    const endsAt = readWhen(form, "end");
    const mine = ++asked;
    const problem = checkSlot(startsAt, endsAt);
    if (!venue || problem || !startsAt || !endsAt) {
      picker.mark(new Map());
      summary.replaceChildren(venue && problem ? problem.message : "");
      return;
    }
    try {
      const takenBy = await seatTakers(venue, startsAt, endsAt, except);
      if (mine !== asked) return;
      picker.mark(takenBy);
      showSeatUse(summary, picker, except !== null);
    } catch (err) {
      if (mine === asked) summary.replaceChildren(`无法查询空闲机位：${messageOf(err)}`);
    }
  };
  watchSlot(form, () => {
    clearTimeout(timer);
    timer = setTimeout(check, CHECK_DELAY_MS);
  });
  return check;
}

// ---- the booking form ---------------------------------------------------------------------

/** @type {{ venue: Venue | null, lot: ForLot | null, changed: Changed, check: () => Promise<void>, picker: SeatPicker | null }} */
const form = { venue: null, lot: null, changed: async () => {}, check: async () => {}, picker: null };
const picker = () => /** @type {SeatPicker} */ (form.picker);

/**
 * The venue the form books: its seats, all chosen.
 * @param {Venue | null} venue
 */
export function setBookingVenue(venue) {
  if (venue?.id === form.venue?.id) return;
  form.venue = venue;
  $("#booking-venue").textContent = venue ? `${venue.name} · ${venue.centre_name} · ${venue.seat_count} 个机位` : "请先选择评标室";
  $("#booking-form button[type=submit]", HTMLButtonElement).disabled = !venue;
  picker().reset(venue?.seat_count || 0, allSeats(venue?.seat_count || 0));
  form.check();
}

/**
 * The lot the form books for (its purpose filled in), or none.
 * @param {ForLot | null} lot
 */
function setBookingLot(lot) {
  form.lot = lot;
  const chip = $("#booking-lot");
  chip.hidden = !lot;
  /** @type {HTMLElement} */ (chip.querySelector("b")).textContent = lot?.label || "";
  if (lot) control($("#booking-form", HTMLFormElement), "purpose").value = lot.purpose;
}

/**
 * Put a slot (and the seats, or the lot, when given) into the form, with a hint under it.
 * @param {Date} startsAt
 * @param {Date} endsAt
 * @param {{ seats?: number[], note?: string, lot?: ForLot }} [options]
 */
export function prefillBooking(startsAt, endsAt, { seats, note = "", lot } = {}) {
  const booking = $("#booking-form", HTMLFormElement);
  writeWhen(booking, "start", startsAt);
  writeWhen(booking, "end", endsAt);
  if (seats) picker().reset(picker().count, seats);
  if (lot) setBookingLot(lot);
  refuse(booking, null);
  if (note) say(booking, note, "info");
  form.check();
  control(booking, "purpose").focus();
}

/** @param {SubmitEvent} event */
async function book(event) {
  event.preventDefault();
  const node = /** @type {HTMLFormElement} */ (event.currentTarget);
  const venue = form.venue;
  if (!venue) return;
  const startsAt = readWhen(node, "start");
  const endsAt = readWhen(node, "end");
  const seats = picker().seats();
  const purpose = control(node, "purpose").value;
  if (refuse(node, checkBooking({ startsAt, endsAt, seats, purpose })) || !startsAt || !endsAt) return;
  await submitting(node, async () => {
    try {
      /** @type {Booking} */
      const booking = await requestJson("/api/bookings", {
        method: "POST",
        json: {
          venue_id: venue.id, starts_at: beijingIso(startsAt), ends_at: beijingIso(endsAt), seats, purpose: purpose.trim(),
          ...(form.lot ? { lot_id: form.lot.id } : {}),
        },
        what: "预约失败",
      });
      control(node, "purpose").value = "";
      const forLot = form.lot ? `，为标段 ${form.lot.label}` : "";
      say(node, `已预约：${slotText(startsAt, endsAt)}，机位 ${seatRanges(booking.seats)}${forLot}`, "ok");
      await form.changed(booking, "");
      // Ready for the next booking: every seat chosen again, their use shown once its slot is.
      picker().reset(venue.seat_count, allSeats(venue.seat_count));
      $("#booking-free").replaceChildren();
      $("#booking-free").dataset.clash = "";
    } catch (err) {
      say(node, messageOf(err));
      await form.check();
    }
  });
}

// ---- a booking opened from the calendar -----------------------------------------------------

/** @type {{ booking: Booking | null, venue: Venue | null, check: () => Promise<void>, picker: SeatPicker | null }} */
const opened = { booking: null, venue: null, check: async () => {}, picker: null };

/**
 * Show a booking with its facts, and the forms that change and cancel it.
 * @param {Booking} booking
 * @param {Venue} venue
 */
export function openBooking(booking, venue) {
  Object.assign(opened, { booking, venue });
  const startsAt = new Date(booking.starts_at);
  const endsAt = new Date(booking.ends_at);
  /** @type {Array<[string, string]>} */
  const facts = [
    ["用途", booking.purpose],
    ["评标室", `${venue.name}（${venue.centre_name}）`],
    ["时段", slotText(startsAt, endsAt)],
    ["机位", booking.seats.length === venue.seat_count ? `全部 ${venue.seat_count} 个机位` : `${seatRanges(booking.seats)}（${booking.seats.length} 个）`],
    ["预约人", personLabel(booking.booked_by)],
    ["预约时间", formatDateTime(new Date(booking.booked_at))],
  ];
  $("#booking-facts").replaceChildren(...facts.map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", {}, v))));
  const change = $("#change-form", HTMLFormElement);
  writeWhen(change, "start", startsAt);
  writeWhen(change, "end", endsAt);
  /** @type {SeatPicker} */ (opened.picker).reset(venue.seat_count, booking.seats);
  refuse(change, null);
  const cancel = $("#cancel-form", HTMLFormElement);
  cancel.reset();
  refuse(cancel, null);
  $("#booking-dialog", HTMLDialogElement).showModal();
  opened.check();
}

/**
 * A booking opened from the calendar was changed or cancelled: the calendar shows it, and the
 * booking form's seats are checked again if it shows their use (its slot was being chosen).
 * @type {Changed}
 */
async function otherChanged(booking, note) {
  const booked = $("#booking-form", HTMLFormElement);
  if (booked.querySelector(".form-message")?.getAttribute("data-kind") === "ok") say(booked, "");
  await form.changed(booking, note);
  if ($("#booking-free").childElementCount) await form.check();
}

/** @param {SubmitEvent} event */
async function change(event) {
  event.preventDefault();
  const node = /** @type {HTMLFormElement} */ (event.currentTarget);
  const { booking, venue } = opened;
  if (!booking || !venue) return;
  const startsAt = readWhen(node, "start");
  const endsAt = readWhen(node, "end");
  const seats = /** @type {SeatPicker} */ (opened.picker).seats();
  if (refuse(node, checkBooking({ startsAt, endsAt, seats, purpose: booking.purpose })) || !startsAt || !endsAt) return;
  await submitting(node, async () => {
    try {
      /** @type {Booking} */
      const changed = await requestJson(`/api/bookings/${encodeURIComponent(booking.id)}/change`, {
        method: "POST", json: { starts_at: beijingIso(startsAt), ends_at: beijingIso(endsAt), seats }, what: "变更失败",
      });
      $("#booking-dialog", HTMLDialogElement).close();
      await otherChanged(changed, `已变更预约“${booking.purpose}”：${slotText(startsAt, endsAt)}，机位 ${seatRanges(changed.seats)}`);
    } catch (err) {
      say(node, messageOf(err));
      await opened.check();
    }
  });
}

/** @param {SubmitEvent} event */
async function cancel(event) {
  event.preventDefault();
  const node = /** @type {HTMLFormElement} */ (event.currentTarget);
  const { booking } = opened;
  if (!booking) return;
  const reason = control(node, "reason").value;
  if (refuse(node, checkReason(reason))) return;
  await submitting(node, async () => {
    try {
      await requestJson(`/api/bookings/${encodeURIComponent(booking.id)}/cancel`, {
        method: "POST", json: { reason: reason.trim() }, what: "取消失败",
      });
      $("#booking-dialog", HTMLDialogElement).close();
      const slot = slotText(new Date(booking.starts_at), new Date(booking.ends_at));
      await otherChanged(null, `已取消预约“${booking.purpose}”（${slot}），机位已释放`);
    } catch (err) {
      say(node, messageOf(err));
    }
  });
}

/**
 * Wire the booking form and the booking dialog; `changed` is the calendar's.
 * @param {Changed} changed
 */
export function initBooking(changed) {
  form.changed = changed;
  const booking = $("#booking-form", HTMLFormElement);
  addSlotFields(booking);
  quarterHours(booking);
  const summary = $("#booking-free");
  form.picker = new SeatPicker($("#booking-seats"), () => showSeatUse(summary, picker()));
  form.check = seatChecker(booking, picker(), summary, () => ({ venue: form.venue, except: null }));
  const tomorrow = addDays(startOfBeijingDay(new Date()), 1);
  writeWhen(booking, "start", new Date(tomorrow.getTime() + 9 * HOUR_MS));
  writeWhen(booking, "end", new Date(tomorrow.getTime() + 12 * HOUR_MS));
  booking.addEventListener("submit", book);
  $("#booking-lot").addEventListener("click", (event) => {
    const which = /** @type {HTMLElement} */ (event.target).closest("button")?.dataset.lot;
    const back = form.lot?.back;
    if (which === "clear" || which === "back") setBookingLot(null);
    if (which === "back" && back) goTo(back);
  });
  booking.querySelector(".seat-tools")?.addEventListener("click", (event) => {
    const which = /** @type {HTMLElement} */ (event.target).closest("button")?.dataset.pick;
    if (which !== "all" && which !== "free" && which !== "none") return;
    picker().pick(which);
    showSeatUse(summary, picker());
  });

  const changeForm = $("#change-form", HTMLFormElement);
  addSlotFields(changeForm);
  quarterHours(changeForm);
  const changeSummary = $("#change-free");
  const changePicker = new SeatPicker($("#change-seats"), () => showSeatUse(changeSummary, changePicker, true));
  opened.picker = changePicker;
  opened.check = seatChecker(changeForm, changePicker, changeSummary, () => ({ venue: opened.venue, except: opened.booking?.id || null }));
  changeForm.addEventListener("submit", change);
  $("#cancel-form", HTMLFormElement).addEventListener("submit", cancel);
  $("#booking-dialog-close").addEventListener("click", () => $("#booking-dialog", HTMLDialogElement).close());
}
