// @ts-check
// The search of free venues (查找空闲评标室): the venues with at least N seats free during a
// slot, in every city or one, the most free first; one is booked through the calendar's form,
// with the slot and the first N free seats filled in.

import { bookVenue } from "/static/admin-calendar.js";
import { onPlacesChanged, places } from "/static/admin-shared.js";
import { requestJson } from "/static/lib/api.js";
import { addDays, slotText, startOfBeijingDay } from "/static/lib/calendar.js";
import { $, control, el } from "/static/lib/dom.js";
import { messageOf } from "/static/lib/errors.js";
import { quarterHours, readWhen, refuse, say, showSlot, submitting, watchSlot, writeWhen } from "/static/lib/forms.js";
import { checkSlot } from "/static/lib/placeforms.js";
import { seatRanges } from "/static/lib/seats.js";
import { beijingIso } from "/static/lib/time.js";

/** @typedef {import("/static/lib/wire").Vacancy} Vacancy */

const HOUR_MS = 3600 * 1000;
const MAX_SEATS = 10;

/** @param {SubmitEvent} event */
async function findVacancy(event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.currentTarget);
  const startsAt = readWhen(form, "start");
  const endsAt = readWhen(form, "end");
  const seats = control(form, "seats").value.trim();
  const problem = checkSlot(startsAt, endsAt)
    || (/^\d+$/.test(seats) && Number(seats) >= 1 && Number(seats) <= MAX_SEATS
      ? null : { field: "seats", message: `所需机位数应为 1 至 ${MAX_SEATS} 之间的整数` });
  if (refuse(form, problem) || !startsAt || !endsAt) return;
  const city = control(form, "city").value.trim();
  const query = new URLSearchParams({ starts_at: beijingIso(startsAt), ends_at: beijingIso(endsAt), seats, city });
  await submitting(form, async () => {
    try {
      /** @type {{ items: Vacancy[] }} */
      const answer = await requestJson(`/api/vacancy?${query}`, { what: "查询空闲评标室失败" });
      Object.assign(found, { items: answer.items, startsAt, endsAt, seats: Number(seats) });
      render(city);
    } catch (err) {
      say(form, messageOf(err));
    }
  });
}

/** The last search's answer, and what it asked for. */
const found = { items: /** @type {Vacancy[]} */ ([]), startsAt: new Date(), endsAt: new Date(), seats: 0 };

/** @param {string} city */
function render(city) {
  const { items, startsAt, endsAt, seats } = found;
  $("#vacancy-rows").replaceChildren(...items.map(({ venue, free_seats: free }) =>
    el("tr", { dataset: { venue: venue.id } },
      el("td", { class: "name" }, venue.name),
      el("td", {}, venue.centre_name),
      el("td", {}, venue.city),
      el("td", {}, el("b", {}, `${free.length}/${venue.seat_count}`), el("span", { class: "muted" }, `　机位 ${seatRanges(free)}`)),
      el("td", { class: "actions" },
        el("button", { class: "btn btn-small btn-primary", type: "button", dataset: { book: venue.id } }, "预约此评标室")))));
  const empty = $("#vacancy-empty");
  empty.hidden = items.length > 0;
  empty.textContent = `${slotText(startsAt, endsAt)}${city ? `，${city}` : ""}没有空闲 ${seats} 个机位以上的评标室。`;
}

/** Wire the search form, with tomorrow morning and the known cities offered. */
export function initVacancy() {
  const form = $("#vacancy-form", HTMLFormElement);
  quarterHours(form);
  watchSlot(form);
  const tomorrow = addDays(startOfBeijingDay(new Date()), 1);
  writeWhen(form, "start", new Date(tomorrow.getTime() + 9 * HOUR_MS));
  writeWhen(form, "end", new Date(tomorrow.getTime() + 12 * HOUR_MS));
  showSlot(form);
  form.addEventListener("submit", findVacancy);
  $("#vacancy-rows").addEventListener("click", (event) => {
    const id = /** @type {HTMLElement} */ (event.target).closest("button")?.dataset.book;
    const item = found.items.find((i) => i.venue.id === id);
    if (item) bookVenue(item.venue, found.startsAt, found.endsAt, { seats: item.free_seats.slice(0, found.seats) });
  });
  onPlacesChanged(() => {
    const cities = [...new Set([...places.centres, ...places.venues].map((p) => p.city))].sort();
    $("#cities").replaceChildren(...cities.map((city) => el("option", { value: city })));
  });
}
