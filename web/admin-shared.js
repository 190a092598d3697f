// @ts-check
// What the sections of the administration console share: the centres and venues as last read
// from the server (every select and the calendar offer them), who is told when they change,
// and the page's state (ready, or error with the banner saying why).

import { requestJson } from "/static/lib/api.js";
import { mergeBookings, queryPeriods } from "/static/lib/calendar.js";
import { clearBanner, showBanner } from "/static/lib/chrome.js";
import { el } from "/static/lib/dom.js";
import { ROLE_LABELS } from "/static/lib/labels.js";
import { beijingIso } from "/static/lib/time.js";

/** @typedef {import("/static/lib/wire").Centre} Centre */
/** @typedef {import("/static/lib/wire").Venue} Venue */
/** @typedef {import("/static/lib/wire").VenuePage} VenuePage */
/** @typedef {import("/static/lib/wire").Booking} Booking */

/** The most venues one request of the list brings. */
const VENUES_PER_REQUEST = 100;

/** @type {{ centres: Centre[], venues: Venue[] }} */
export const places = { centres: [], venues: [] };

/** @type {Array<() => void>} */
const listeners = [];

/**
 * Call `listener` whenever the centres and venues were read again.
 * @param {() => void} listener
 */
export function onPlacesChanged(listener) {
  listeners.push(listener);
}

/** Read every centre and every venue again (the venues a page at a time), then tell the sections. */
export async function reloadPlaces() {
  const [centres, venues] = await Promise.all([
    requestJson("/api/centres", { what: "交易中心读取失败" }),
    allVenues(),
  ]);
  places.centres = centres.items;
  places.venues = venues;
  for (const listener of listeners) listener();
}

async function allVenues() {
  /** @type {Venue[]} */
  const venues = [];
  for (let page = 1; ; page += 1) {
    /** @type {VenuePage} */
    const answer = await requestJson(`/api/venues?page=${page}&per_page=${VENUES_PER_REQUEST}`, { what: "评标室读取失败" });
    venues.push(...answer.items);
    if (answer.items.length < VENUES_PER_REQUEST || venues.length >= answer.total) return venues;
  }
}

/**
 * The venue of that id, as last read.
 * @param {string} id
 */
export function venueById(id) {
  return places.venues.find((v) => v.id === id) || null;
}

/**
 * The active bookings of a venue that overlap [from, to), by start, asked for in periods the
 * server answers (at most 3 days each).
 * @param {string} venueId
 * @param {Date} from
 * @param {Date} to
 * @returns {Promise<Booking[]>}
 */
export async function venueBookings(venueId, from, to) {
  const answers = await Promise.all(queryPeriods(from, to).map(([a, b]) => {
    const query = new URLSearchParams({ venue_id: venueId, starts_at: beijingIso(a), ends_at: beijingIso(b) });
    return requestJson(`/api/bookings?${query}`, { what: "预约读取失败" });
  }));
  return mergeBookings(answers.map((answer) => answer.items));
}

/**
 * Fill a select with the centres (after `first`, an option of value "" when given), keeping
 * its choice when that centre is still there.
 * @param {HTMLSelectElement} select
 * @param {string} [first]
 */
export function centreOptions(select, first) {
  const chosen = select.value;
  select.replaceChildren(
    ...(first ? [el("option", { value: "" }, first)] : []),
    ...places.centres.map((c) => el("option", { value: c.id }, `${c.name}（${c.city}）`)),
  );
  if (places.centres.some((c) => c.id === chosen)) select.value = chosen;
}

/**
 * Fill a select with the venues, grouped by centre, and choose `chosen` when it is there.
 * @param {HTMLSelectElement} select
 * @param {string} chosen
 */
export function venueOptions(select, chosen) {
  const groups = places.centres
    .map((centre) => ({ centre, venues: places.venues.filter((v) => v.centre_id === centre.id) }))
    .filter((group) => group.venues.length > 0);
  select.replaceChildren(...groups.map(({ centre, venues }) =>
    el("optgroup", { label: centre.name },
      venues.map((v) => el("option", { value: v.id }, `${v.name} · ${v.city} · ${v.seat_count} 个机位`)))));
  if (places.venues.some((v) => v.id === chosen)) select.value = chosen;
}

/**
 * Who did something, from their subject: "管理员 王敏" for "admin:王敏".
 * @param {string} subject
 */
export function personLabel(subject) {
  const [role, name] = subject.includes(":") ? subject.split(":", 2) : ["", subject];
  return [ROLE_LABELS[role] || role, name].filter(Boolean).join(" ");
}

/**
 * Something the page needs failed: say so in the banner, and the page's state is error.
 * @param {string} message
 */
export function pageFailed(message) {
  showBanner(message);
  document.body.dataset.state = "error";
}

/** What failed works again: the banner goes, and the page is ready. */
export function pageRecovered() {
  clearBanner();
  document.body.dataset.state = "ready";
}

/**
 * Show a section of the console (its address is #name, so that a reload stays there). True
 * when the section changes, and the console shows it afresh; false when it is shown already.
 * @param {string} name
 */
export function goTo(name) {
  if (window.location.hash === `#${name}`) return false;
  window.location.hash = name;
  return true;
}
