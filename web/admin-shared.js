// @ts-check
// What the sections of the administration console share: the centres and venues as last read
// from the server (every select and the calendar offer them), who is told when they change,
// the page's state (ready, or error with the banner saying why), its addresses, and a list
// searched a page at a time.

import { requestJson } from "/static/lib/api.js";
import { mergeBookings, queryPeriods } from "/static/lib/calendar.js";
import { clearBanner, showBanner } from "/static/lib/chrome.js";
import { $, control, el } from "/static/lib/dom.js";
import { ROLE_LABELS } from "/static/lib/labels.js";
import { pageCount, pageText } from "/static/lib/placeforms.js";
import { beijingIso } from "/static/lib/time.js";

/** @typedef {import("/static/lib/wire").Centre} Centre */
/** @typedef {import("/static/lib/wire").Venue} Venue */
/** @typedef {import("/static/lib/wire").VenuePage} VenuePage */
/** @typedef {import("/static/lib/wire").Booking} Booking */

/** The most venues one request of the list brings. */
const VENUES_PER_REQUEST = 100;

/** @type {{ centres: Centre[], venues: Venue[] }} */
export const places = { centres: [], venues: [] };

/**
 * Whose console it is: an administrator of one trading centre (`GET /api/me`'s `centre`) reaches
 * that centre's places, projects and sessions only; null for the province's administrator.
 * @type {{ centre: { id: string, name: string, city: string } | null }}
 */
export const scope = { centre: null };

/**
 * Whether a centre is another than the administrator's own (never, for the province's).
 * @param {string} centreId
 */
export function othersCentre(centreId) {
  return scope.centre !== null && centreId !== scope.centre.id;
}

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
 * its choice when that centre is still there. An administrator of one centre has it chosen to
 * begin with, and where the centre names what is made (`mine`), is offered it alone.
 * @param {HTMLSelectElement} select
 * @param {string} [first]
 * @param {{ mine?: boolean }} [options]
 */
export function centreOptions(select, first, { mine = false } = {}) {
  const chosen = select.value;
  const fresh = select.options.length === 0;
  const own = scope.centre?.id || "";
  const offered = mine && own ? places.centres.filter((c) => c.id === own) : places.centres;
  const all = first && !(mine && own);
  select.replaceChildren(
    ...(all ? [el("option", { value: "" }, first)] : []),
    ...offered.map((c) => el("option", { value: c.id }, `${c.name}（${c.city}）`)),
  );
  // "All centres" chosen by hand stays chosen; the own centre is chosen to begin with.
  if (offered.some((c) => c.id === chosen) || (all && chosen === "" && !fresh)) select.value = chosen;
  else if (offered.some((c) => c.id === own)) select.value = own;
}

/** A venue that may be a session's main venue (可作主场). @param {Venue} v */
export const mainCapable = (v) => v.main_capable;
/** A venue that may be a session's sub venue (可作副场). @param {Venue} v */
export const subCapable = (v) => v.sub_capable;

/**
 * Fill a select with the venues (those `offered`, when given), grouped by centre, and choose
 * `chosen` when it is among them.
 * @param {HTMLSelectElement} select
 * @param {string} chosen
 * @param {(venue: Venue) => boolean} [offered]
 */
export function venueOptions(select, chosen, offered = () => true) {
  const venues = places.venues.filter(offered);
  // An administrator of one centre finds its own rooms first.
  const centres = [...places.centres].sort((a, b) => Number(othersCentre(a.id)) - Number(othersCentre(b.id)));
  const groups = centres
    .map((centre) => ({ centre, venues: venues.filter((v) => v.centre_id === centre.id) }))
    .filter((group) => group.venues.length > 0);
  select.replaceChildren(...groups.map(({ centre, venues: mine }) =>
    el("optgroup", { label: centre.name },
      mine.map((v) => el("option", { value: v.id }, `${v.name} · ${v.city} · ${v.seat_count} 个机位`)))));
  if (venues.some((v) => v.id === chosen)) select.value = chosen;
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
 * Show a section of the console (its address is #name, or #name/arg/… for what it shows,
 * so that a reload stays there). True when the address changes, and the console shows it
 * afresh; false when it is shown already.
 * @param {string} address
 */
export function goTo(address) {
  if (window.location.hash === `#${address}`) return false;
  window.location.hash = address;
  return true;
}

/**
 * A read-only field holding an address, and the button that copies it (with the clipboard or,
 * where the page may not use it, by selection); the field selects itself when focused.
 * @param {HTMLInputElement} input
 * @param {HTMLElement} button
 */
export function copyField(input, button) {
  input.addEventListener("focus", () => input.select());
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(input.value);
    } catch {
      input.select();
      document.execCommand("copy");
    }
    button.textContent = "已复制";
  });
}

/**
 * A venue's name as the console says it, "沈阳第一评标室（沈阳）"; its id when unknown.
 * @param {string} id
 */
export function venueLabel(id) {
  const venue = venueById(id);
  return venue ? `${venue.name}（${venue.city}）` : id;
}

/**
 * A list searched a page at a time: its form `#<name>-search` (a `q` field, and a `centre_id`
 * select that searches when changed, where it has one) and its pager `<div class="pager"
 * data-pager="<name>">`, given its buttons here. `run` asks for the current page and shows it,
 * then calls `shown` with how many were found.
 */
export class PagedSearch {
  /**
   * @param {string} name
   * @param {number} perPage
   * @param {string} unit 间, 个, 名: what the pager counts
   * @param {() => Promise<void>} run
   */
  constructor(name, perPage, unit, run) {
    this.perPage = perPage;
    this.unit = unit;
    this.run = run;
    /** @type {{ q: string, centre_id: string, page: number }} */
    this.asked = { q: "", centre_id: "", page: 1 };
    this.form = $(`#${name}-search`, HTMLFormElement);
    const pager = $(`[data-pager="${name}"]`);
    this.prev = el("button", { class: "btn btn-small", type: "button" }, "上一页");
    this.text = el("span", { class: "muted" });
    this.next = el("button", { class: "btn btn-small", type: "button" }, "下一页");
    pager.replaceChildren(this.prev, this.text, this.next);
    this.prev.addEventListener("click", () => this.turn(-1));
    this.next.addEventListener("click", () => this.turn(1));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      const centre = this.form.elements.namedItem("centre_id");
      this.ask({
        q: control(this.form, "q").value.trim(), centre_id: centre instanceof HTMLSelectElement ? centre.value : "", page: 1,
      });
    });
    const centre = this.form.elements.namedItem("centre_id");
    if (centre instanceof HTMLSelectElement) centre.addEventListener("change", () => this.form.requestSubmit());
  }

  /**
   * What to search for next (its fields put into the form too).
   * @param {Partial<{ q: string, centre_id: string, page: number }>} what
   */
  set(what) {
    Object.assign(this.asked, what);
    control(this.form, "q").value = this.asked.q;
    const centre = this.form.elements.namedItem("centre_id");
    if (centre instanceof HTMLSelectElement) centre.value = this.asked.centre_id;
  }

  /**
   * Search again, for `what`.
   * @param {Partial<{ q: string, centre_id: string, page: number }>} what
   */
  ask(what) {
    this.set(what);
    return this.run();
  }

  /** @param {number} by */
  turn(by) {
    this.asked.page += by;
    return this.run();
  }

  /** The current page's query: q, centre_id, page, per_page. */
  query() {
    const { q, centre_id: centre, page } = this.asked;
    return new URLSearchParams({ q, centre_id: centre, page: String(page), per_page: String(this.perPage) });
  }

  /** Whether the search narrows the list (the empty list then says nothing matched); an
   * administrator of one centre's own centre is where its lists start, not a narrowing. */
  narrowed() {
    return Boolean(this.asked.q || (this.asked.centre_id && this.asked.centre_id !== scope.centre?.id));
  }

  /**
   * The page was shown and `total` were found: the pager says where it is.
   * @param {number} total
   */
  shown(total) {
    this.text.textContent = pageText(this.asked.page, this.perPage, total, this.unit);
    this.prev.disabled = this.asked.page <= 1;
    this.next.disabled = this.asked.page >= pageCount(total, this.perPage);
  }
}
