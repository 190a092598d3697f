// @ts-check
// The console's booking calendar (场地预约): one venue's week, Monday to Sunday in Beijing
// time, each booking where it stands in its day; the previous and next week. A click on free
// time starts a booking there, a click on a booking opens it to change or cancel.

import { initBooking, openBooking, prefillBooking, setBookingVenue } from "/static/admin-booking.js";
import {
  goTo, onPlacesChanged, othersCentre, pageFailed, pageRecovered, places, venueBookings, venueById, venueOptions,
} from "/static/admin-shared.js";
import {
  addDays, dayMinute, layoutWeek, minuteLabel, slotText, weekDays, weekLabel, weekStart,
} from "/static/lib/calendar.js";
import { $, el } from "/static/lib/dom.js";
import { messageOf } from "/static/lib/errors.js";
import { seatRanges } from "/static/lib/seats.js";

/** @typedef {import("/static/lib/wire").Venue} Venue */
/** @typedef {import("/static/lib/wire").Booking} Booking */
/** @typedef {import("/static/lib/calendar.js").Piece<Booking>} Piece */

/** The height of an hour in the day columns, in pixels. */
const HOUR_PX = 44;
const MINUTE_MS = 60 * 1000;
/** How long a booking started by a click on the calendar lasts, to begin with. */
const CLICKED_BOOKING_MINUTES = 120;

/**
 * @type {{ venueId: string, week: Date, bookings: Booking[], fromHour: number, fresh: string, asked: number }}
 */
const calendar = { venueId: "", week: weekStart(new Date()), bookings: [], fromHour: 8, fresh: "", asked: 0 };

/** Read the week's bookings of the venue again and draw them. */
export async function refreshCalendar() {
  const venue = venueById(calendar.venueId);
  const mine = ++calendar.asked;
  let bookings = /** @type {Booking[]} */ ([]);
  if (venue) {
    try {
      bookings = await venueBookings(venue.id, calendar.week, addDays(calendar.week, 7));
      if (mine !== calendar.asked) return;
      pageRecovered();
    } catch (err) {
      if (mine !== calendar.asked) return;
      pageFailed(`无法读取场地预约：${messageOf(err)}`);
    }
  }
  calendar.bookings = bookings;
  render(venue);
}

/** @param {Venue | null} venue */
function render(venue) {
  $("#week-label").textContent = weekLabel(calendar.week);
  const root = $("#calendar");
  root.dataset.venue = venue?.id || "";
  if (!venue) {
    $("#calendar-scope").hidden = true;
    root.replaceChildren(el("p", { class: "empty" },
      places.venues.length ? "请选择评标室。" : "还没有评标室，请先在“评标室”中新增。"));
    return;
  }
  const now = new Date();
  const days = weekDays(calendar.week, now);
  const layout = layoutWeek(calendar.bookings, calendar.week);
  calendar.fromHour = layout.fromHour;
  const hours = layout.toHour - layout.fromHour;
  const height = `${hours * HOUR_PX}px`;
  const nowAt = dayMinute(calendar.week, now);
  root.replaceChildren(
    el("div", { class: "cal-head" },
      el("div", { class: "gutter" }),
      days.map((d) => el("div", { class: d.today ? "day-head today" : "day-head" }, el("b", {}, d.name), d.date))),
    el("div", { class: "cal-body" },
      el("div", { class: "gutter", style: { height } },
        Array.from({ length: hours }, (_, i) =>
          el("span", { class: "hour", style: { top: `${i * HOUR_PX}px` } }, minuteLabel((layout.fromHour + i) * 60)))),
      days.map((d, i) =>
        el("div", { class: d.today ? "day today" : "day", dataset: { day: d.value, index: i }, style: { height } },
          layout.days[i].map((piece) => bookingBlock(piece, venue)),
          nowAt?.day === i && nowAt.minute >= layout.fromHour * 60 && nowAt.minute <= layout.toHour * 60
            ? el("div", { class: "now", style: { top: `${((nowAt.minute - layout.fromHour * 60) / 60) * HOUR_PX}px` } })
            : null))),
  );
  const others = othersCentre(venue.centre_id);
  const scopeNote = $("#calendar-scope");
  scopeNote.hidden = !others;
  scopeNote.textContent = others
    ? `${venue.name}属于${venue.centre_name}：日历只显示本中心为标段所作的预约，该中心的其他预约不显示；`
      + "预约时按该时段的实际空闲标示机位，且须关联本中心的标段（可从项目的标段或“查找空闲评标室”进入）。"
    : "";
  if (calendar.bookings.length === 0) {
    root.append(el("p", { class: "cal-empty" },
      `本周没有${others ? "本中心的" : ""}预约。点击日历中的空白处，从该时间开始预约。`));
  }
}

/**
 * A booking's piece of a day, as a button that opens the booking.
 * @param {Piece} piece
 * @param {Venue} venue
 */
function bookingBlock(piece, venue) {
  const b = piece.booking;
  const whole = b.seats.length === venue.seat_count;
  const seats = whole ? `全部 ${venue.seat_count} 个机位` : `机位 ${seatRanges(b.seats)}`;
  const top = ((piece.start - calendar.fromHour * 60) / 60) * HOUR_PX;
  const tall = ((piece.end - piece.start) / 60) * HOUR_PX;
  const classes = [
    "booking", whole ? "whole" : "part", piece.lanes > 1 ? "narrow" : "", tall < HOUR_PX ? "short" : "",
    b.id === calendar.fresh ? "fresh" : "",
  ];
  return el("button", {
    type: "button",
    class: classes.filter(Boolean).join(" "),
    dataset: { booking: b.id },
    title: `${slotText(new Date(b.starts_at), new Date(b.ends_at))}\n${b.purpose}\n${seats}`,
    style: {
      top: `${top + 1}px`, height: `${Math.max(tall - 2, 16)}px`,
      left: `calc(${(piece.lane / piece.lanes) * 100}% + 3px)`, width: `calc(${100 / piece.lanes}% - 6px)`,
    },
  },
  el("span", { class: "b-time" }, `${piece.fromBefore ? "续 " : ""}${minuteLabel(piece.start)}–${minuteLabel(piece.end)}${piece.goesOn ? " 起" : ""}`),
  el("span", { class: "b-purpose" }, b.purpose),
  el("span", { class: "b-seats" }, seats));
}

/** @param {MouseEvent} event */
function onCalendarClick(event) {
  const target = /** @type {HTMLElement} */ (event.target);
  const venue = venueById(calendar.venueId);
  if (!venue) return;
  const block = target.closest(".booking");
  if (block instanceof HTMLElement) {
    const booking = calendar.bookings.find((b) => b.id === block.dataset.booking);
    if (booking) openBooking(booking, venue);
    return;
  }
  const day = target.closest(".day");
  if (!(day instanceof HTMLElement)) return;
  // The half hour clicked on, in that day's Beijing time.
  const y = event.clientY - day.getBoundingClientRect().top;
  const minute = calendar.fromHour * 60 + Math.floor((y / HOUR_PX) * 2) * 30;
  const startsAt = new Date(addDays(calendar.week, Number(day.dataset.index)).getTime() + minute * MINUTE_MS);
  prefillBooking(startsAt, new Date(startsAt.getTime() + CLICKED_BOOKING_MINUTES * MINUTE_MS));
}

/**
 * Say what was just done, above the calendar.
 * @param {string} text
 */
function note(text) {
  if (!text) calendar.fresh = "";  // moving on: the last booking made is no longer news
  const node = $("#calendar-note");
  node.textContent = text;
  node.hidden = !text;
}

/**
 * Choose the calendar's venue (and the booking form's).
 * @param {string} venueId
 */
function chooseVenue(venueId) {
  calendar.venueId = venueId;
  $("#calendar-venue", HTMLSelectElement).value = venueId;
  setBookingVenue(venueById(venueId));
}

/**
 * Open the calendar of a venue, this week.
 * @param {string} venueId
 */
export function showVenue(venueId) {
  chooseVenue(venueId);
  calendar.week = weekStart(new Date());
  note("");
  if (!goTo("bookings")) refreshCalendar();
}

/**
 * Open the calendar of a venue at the week of a slot, with the slot in the form, ready to be
 * booked: some seats (from the search of free venues), or every seat for a lot (from the lot
 * on its project's page).
 * @param {Venue} venue
 * @param {Date} startsAt
 * @param {Date} endsAt
 * @param {{ seats?: number[], lot?: import("/static/admin-booking.js").ForLot }} what
 */
export function bookVenue(venue, startsAt, endsAt, { seats, lot }) {
  chooseVenue(venue.id);
  calendar.week = weekStart(startsAt);
  note("");
  if (!goTo("bookings")) refreshCalendar();
  const text = lot
    ? `为标段 ${lot.label} 预约 ${venue.name}：请确认时段和机位后预约。`
    : `已选择 ${venue.name} 的机位 ${seatRanges(seats || [])}，请填写用途后预约。`;
  prefillBooking(startsAt, endsAt, { seats, lot, note: text });
}

/** Wire the calendar's venue choice, week buttons and clicks, and the booking form. */
export function initCalendar() {
  initBooking(async (booking, text) => {
    note(text);
    if (booking) {
      calendar.week = weekStart(new Date(booking.starts_at));
      calendar.fresh = booking.id;
    }
    await refreshCalendar();
  });
  const select = $("#calendar-venue", HTMLSelectElement);
  select.addEventListener("change", () => {
    chooseVenue(select.value);
    note("");
    refreshCalendar();
  });
  /** @param {number} days */
  const move = (days) => () => {
    calendar.week = days ? addDays(calendar.week, days) : weekStart(new Date());
    note("");
    refreshCalendar();
  };
  $("#week-prev").addEventListener("click", move(-7));
  $("#week-next").addEventListener("click", move(7));
  $("#week-this").addEventListener("click", move(0));
  $("#calendar").addEventListener("click", onCalendarClick);
  onPlacesChanged(() => {
    venueOptions(select, calendar.venueId);
    chooseVenue(select.value);  // the venue it had, or the first offered
  });
}
