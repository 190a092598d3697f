// @ts-check
// A project's page (#projects/<project>): its lots, each with its bid opening (set up in the
// dialog of admin-opening-setup.js) and its session and re-reviews (admin-sessions.js) or the
// form that opens one, the form that adds a lot, and the project's documents
// (admin-documents.js). A session opens only on venues booked for the lot at its
// start (7.1.2): the form says, venue by venue, whether such a booking holds the start, and
// books one through the calendar's form ("为本标段预约") when none does. The server still
// decides, and its refusal is shown.

import { bookVenue } from "/static/admin-calendar.js";
import { initDocuments, showDocuments } from "/static/admin-documents.js";
import { chosen, loadProject, lotAddress, lotLabel, openingLine } from "/static/admin-lots.js";
import { askOpening, initOpeningSetup } from "/static/admin-opening-setup.js";
import { initSessionDialogs } from "/static/admin-session-dialogs.js";
import { initSessions, loadFees, sessionBlocks } from "/static/admin-sessions.js";
import {
  goTo, mainCapable, pageFailed, pageRecovered, places, subCapable, venueById, venueLabel, venueOptions,
} from "/static/admin-shared.js";
import { requestJson } from "/static/lib/api.js";
import { addDays, momentText, slotText, startOfBeijingDay } from "/static/lib/calendar.js";
import { $, control, el } from "/static/lib/dom.js";
import { messageOf } from "/static/lib/errors.js";
import { quarterHours, readWhen, refuse, say, submitting, writeWhen } from "/static/lib/forms.js";
import { benchmarkText, fieldsText } from "/static/lib/openingforms.js";
import { bookingFor, checkLot, checkSession, nextLotCode } from "/static/lib/projectforms.js";
import { seatRanges } from "/static/lib/seats.js";
import { beijingIso, formatDateTime } from "/static/lib/time.js";

/** @typedef {import("/static/lib/wire").Project} Project */
/** @typedef {import("/static/lib/wire").Lot} Lot */
/** @typedef {import("/static/lib/wire").Booking} Booking */
/** @typedef {import("/static/lib/wire").DrawRecord} DrawRecord */
/** @typedef {import("/static/lib/wire").Venue} Venue */

const HOUR_MS = 3600 * 1000;
const DAY_MS = 24 * HOUR_MS;
/** How far back and ahead the page looks for the lots' bookings (the server answers 92 days). */
const BOOKINGS_BEHIND_DAYS = 2;
const BOOKINGS_AHEAD_DAYS = 90;
/** How long a booking made from a lot lasts, to begin with. */
const LOT_BOOKING_HOURS = 4;

/** The project shown, its lots' bookings, and the sub venues drawn for each lot. */
const page = {
  project: /** @type {Project | null} */ (null),
  bookings: /** @type {Booking[]} */ ([]),
  drawn: /** @type {Record<string, string[]>} */ ({}),
  asked: 0,
};

/**
 * Show a project's page, read afresh; false when it cannot be read (the banner says why).
 * @param {string} projectId
 * @returns {Promise<boolean>}
 */
export async function showProject(projectId) {
  const mine = ++page.asked;
  try {
    const project = await loadProject(projectId);
    const now = Date.now();
    const query = new URLSearchParams({
      starts_at: beijingIso(new Date(now - BOOKINGS_BEHIND_DAYS * DAY_MS)),
      ends_at: beijingIso(new Date(now + BOOKINGS_AHEAD_DAYS * DAY_MS)),
    });
    const lotIds = new Set(project.lots.map((lot) => lot.id));
    const open = project.lots.filter((lot) => !lot.session);
    const [bookings, draws] = await Promise.all([
      requestJson(`/api/bookings?${query}`, { what: "预约读取失败" }),
      Promise.all(open.map((lot) => requestJson(`/api/lots/${encodeURIComponent(lot.id)}/draws`, { what: "抽取记录读取失败" }))),
      loadFees(project),
    ]);
    if (mine !== page.asked) return true;
    page.project = project;
    page.bookings = /** @type {Booking[]} */ (bookings.items).filter((b) => b.lot_id && lotIds.has(b.lot_id));
    page.drawn = Object.fromEntries(open.map((lot, i) => [lot.id, drawnSubVenues(draws[i].items)]));
    render(project);
    await showDocuments(project);
    pageRecovered();
    return true;
  } catch (err) {
    if (mine !== page.asked) return true;
    $("#project-view").hidden = true;
    pageFailed(`无法读取项目：${messageOf(err)}`);
    return false;
  }
}

/** Leave the project's page (the list shows). */
export function hideProject() {
  page.asked += 1;
  $("#project-view").hidden = true;
}

/**
 * The venues revealed by a lot's sub venue draws.
 * @param {DrawRecord[]} draws
 */
function drawnSubVenues(draws) {
  return draws.filter((d) => d.kind === "sub_venues" && d.result).flatMap((d) => (d.result || []).map((r) => r.id));
}

/** @param {Project} project */
function render(project) {
  $("#project-view").hidden = false;
  $("#project-title").textContent = `${project.code} ${project.name}`;
  const centre = places.centres.find((c) => c.id === project.centre_id);
  $("#project-meta").textContent = [
    `招标人：${project.tenderer}`, `交易中心：${centre?.name || "—"}`, `录入：${formatDateTime(new Date(project.created_at))}`,
    `${project.lots.length} 个标段`,
  ].join("　");
  $("#project-lots").replaceChildren(...project.lots.map((lot) => lotCard(project, lot)));
  const lotForm = $("#lot-form", HTMLFormElement);
  if (lotForm.dataset.project !== project.id) {
    lotForm.reset();
    refuse(lotForm, null);
    lotForm.dataset.project = project.id;
  }
  const code = control(lotForm, "code");
  if (!code.value.trim()) code.value = nextLotCode(project.lots.map((lot) => lot.code));
}

/**
 * The lot's bookings, each a line.
 * @param {Lot} lot
 */
function lotBookings(lot) {
  const mine = page.bookings.filter((b) => b.lot_id === lot.id);
  if (!mine.length) return el("p", { class: "muted" }, "本标段还没有场地预约。");
  return el("ul", { class: "lot-bookings" }, mine.map((b) => el("li", {},
    el("b", {}, venueLabel(b.venue_id)), " ", slotText(new Date(b.starts_at), new Date(b.ends_at)),
    el("span", { class: "muted" }, `　机位 ${seatRanges(b.seats)}`))));
}

/**
 * A lot with its session, or the form that opens it.
 * @param {Project} project
 * @param {Lot} lot
 */
function lotCard(project, lot) {
  const actions = el("div", { class: "lot-actions" },
    lot.opening ? null : el("button", { class: "btn btn-small", type: "button", dataset: { setUpOpening: lot.id } }, "设立开标…"),
    lot.session ? el("button", { class: "btn btn-small btn-primary", type: "button", dataset: { go: lotAddress("people", project.id, lot.id) } }, "人员与链接") : null,
    el("button", { class: "btn btn-small", type: "button", dataset: { go: lotAddress("draws", project.id, lot.id) } }, lot.session ? "专家抽取" : "抽取副场"));
  const card = el("article", { class: "card lot-card", dataset: { lot: lot.id } },
    el("header", { class: "lot-head" }, el("h3", {}, lotLabel(lot)), actions),
    openingBlock(project, lot),
    ...sessionBlocks(project, lot),
    el("h4", {}, "场地预约"),
    lotBookings(lot));
  if (!lot.session) card.append(sessionForm(project, lot));
  return card;
}

/**
 * The lot's bid opening (开标): its phase, deadline, room and bidders, and its terms in brief,
 * with the way to its bidders and people; null when none was set up.
 * @param {Project} project
 * @param {Lot} lot
 */
function openingBlock(project, lot) {
  const opening = lot.opening;
  if (!opening) return null;
  const terms = [
    `唱标字段：${fieldsText(opening.fields)}`,
    `有效投标不少于 ${opening.min_bids} 家`,
    `解密时限 ${opening.decryption_minutes} 分钟`,
    `基准价参数：${benchmarkText(opening.benchmark)}`,
    opening.public ? "公众可观看直播" : "不公开直播",
  ];
  return el("section", { class: "session-block opening-block", dataset: { opening: opening.id } },
    el("div", { class: "session-head" },
      el("p", { class: "lot-about" }, el("b", { class: "opening-label" }, "开标"), openingLine(opening)),
      el("div", { class: "session-actions" },
        el("button", { class: "btn btn-small btn-primary", type: "button", dataset: { go: lotAddress("opening", project.id, lot.id) } }, "投标人与开标人员"))),
    el("p", { class: "muted opening-terms-line" }, terms.join("；")));
}

// ---- opening a lot's session ----------------------------------------------------------------

/**
 * The form that opens a lot's session, filled with what the lot's bookings and draws suggest:
 * the main venue and start of its first booking in the project's centre, the drawn sub venues.
 * @param {Project} project
 * @param {Lot} lot
 */
function sessionForm(project, lot) {
  const template = /** @type {HTMLTemplateElement} */ ($("template#session-form", HTMLTemplateElement));
  const form = /** @type {HTMLFormElement} */ (/** @type {Element} */ (template.content.firstElementChild).cloneNode(true));
  quarterHours(form);
  const own = page.bookings.filter((b) => b.lot_id === lot.id);
  // Only a venue that may be a main venue is offered as one, and a sub venue likewise.
  const may = (/** @type {string} */ id, /** @type {(v: Venue) => boolean} */ capable) => {
    const venue = venueById(id);
    return Boolean(venue && capable(venue));
  };
  const home = own.find((b) => venueById(b.venue_id)?.centre_id === project.centre_id && may(b.venue_id, mainCapable));
  const main = home?.venue_id || places.venues.find((v) => v.centre_id === project.centre_id && v.main_capable)?.id || "";
  const drawn = page.drawn[lot.id] || [];
  /** @type {{ subs: string[] }} */
  const state = {
    subs: [...new Set([...drawn, ...own.map((b) => b.venue_id)])].filter((v) => v !== main && may(v, subCapable)),
  };
  venueOptions(/** @type {HTMLSelectElement} */ (control(form, "main_venue_id")), main, mainCapable);
  const tomorrow = addDays(startOfBeijingDay(new Date()), 1);
  writeWhen(form, "start", home ? new Date(home.starts_at) : new Date(tomorrow.getTime() + 9 * HOUR_MS));

  const update = () => {
    const mainId = control(form, "main_venue_id").value;
    state.subs = state.subs.filter((v) => v !== mainId);
    renderSubs(form, state.subs, drawn, mainId);
    renderReadiness(form, lot, [mainId, ...state.subs]);
  };
  form.addEventListener("change", (event) => {
    const target = /** @type {HTMLElement} */ (event.target);
    if (target instanceof HTMLSelectElement && target.name === "add_sub" && target.value) state.subs.push(target.value);
    update();
  });
  form.addEventListener("click", (event) => {
    const button = /** @type {HTMLElement} */ (event.target).closest("button");
    if (button?.dataset.removeSub) {
      state.subs = state.subs.filter((v) => v !== button.dataset.removeSub);
      update();
    }
    if (button?.dataset.book) bookForLot(form, project, lot, button.dataset.book);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    openSession(form, lot, control(form, "main_venue_id").value, state.subs);
  });
  update();
  return form;
}

/**
 * The chosen sub venues as chips, and the venues that may still be added.
 * @param {HTMLFormElement} form
 * @param {string[]} subs
 * @param {string[]} drawn
 * @param {string} mainId
 */
function renderSubs(form, subs, drawn, mainId) {
  /** @type {HTMLElement} */ (form.querySelector(".chips")).replaceChildren(...subs.map((id) =>
    el("span", { class: "chip" }, venueLabel(id), drawn.includes(id) ? el("small", {}, "抽取结果") : null,
      el("button", { class: "link", type: "button", dataset: { removeSub: id }, "aria-label": `移除副场 ${venueLabel(id)}` }, "×"))));
  const others = places.venues.filter((v) => v.sub_capable && v.id !== mainId && !subs.includes(v.id));
  control(form, "add_sub").replaceChildren(
    el("option", { value: "" }, others.length ? "＋ 添加副场…" : "没有其他评标室"),
    ...others.map((v) => el("option", { value: v.id }, `${v.name}（${v.city}，${v.centre_name}）`)));
}

/**
 * Whether each venue is booked for the lot at the start, with a way to book the ones that are not.
 * @param {HTMLFormElement} form
 * @param {Lot} lot
 * @param {string[]} venueIds main first
 */
function renderReadiness(form, lot, venueIds) {
  const start = readWhen(form, "start");
  /** @type {HTMLElement} */ (form.querySelector(".slot-line")).textContent = start ? `${momentText(start)} 开始` : "";
  const list = /** @type {HTMLElement} */ (form.querySelector(".readiness"));
  if (!start || !venueIds[0]) {
    list.replaceChildren();
    return;
  }
  list.replaceChildren(...venueIds.map((id, i) => {
    const booking = bookingFor(page.bookings, lot.id, id, start);
    const role = i === 0 ? "主场" : "副场";
    return booking
      ? el("li", { class: "ready" }, `${role} ${venueLabel(id)}：已为本标段预约 ${slotText(new Date(booking.starts_at), new Date(booking.ends_at))}，机位 ${seatRanges(booking.seats)}`)
      : el("li", { class: "missing" }, `${role} ${venueLabel(id)}：开始时没有为本标段的预约`,
        el("button", { class: "btn btn-small", type: "button", dataset: { book: id } }, "为本标段预约"));
  }));
  form.dataset.ready = venueIds.every((id) => bookingFor(page.bookings, lot.id, id, start)) ? "1" : "";
}

/**
 * Book a venue for the lot through the calendar's form, from the chosen start.
 * @param {HTMLFormElement} form
 * @param {Project} project
 * @param {Lot} lot
 * @param {string} venueId
 */
function bookForLot(form, project, lot, venueId) {
  const venue = venueById(venueId);
  if (!venue) return;
  const start = readWhen(form, "start") || new Date(addDays(startOfBeijingDay(new Date()), 1).getTime() + 9 * HOUR_MS);
  bookVenue(venue, start, new Date(start.getTime() + LOT_BOOKING_HOURS * HOUR_MS), {
    lot: {
      id: lot.id, label: `${project.code} ${lotLabel(lot)}`, purpose: `${project.code} ${lot.name}（标段 ${lot.code}）评标`,
      back: `projects/${encodeURIComponent(project.id)}`,
    },
  });
}

/**
 * @param {HTMLFormElement} form
 * @param {Lot} lot
 * @param {string} main
 * @param {string[]} subs
 */
async function openSession(form, lot, main, subs) {
  const start = readWhen(form, "start");
  if (refuse(form, checkSession({ main_venue_id: main, sub_venue_ids: subs, start })) || !start) return;
  await submitting(form, async () => {
    try {
      await requestJson(`/api/lots/${encodeURIComponent(lot.id)}/session`, {
        method: "POST",
        json: { main_venue_id: main, sub_venue_ids: subs, scheduled_start: beijingIso(start) },
        what: "开设评标场次失败",
      });
      if (chosen.project) await showProject(chosen.project.id);
    } catch (err) {
      say(form, messageOf(err));
    }
  });
}

/** @param {SubmitEvent} event */
async function addLot(event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.currentTarget);
  const project = page.project;
  if (!project) return;
  const fields = { code: control(form, "code").value, name: control(form, "name").value };
  if (refuse(form, checkLot(fields, project.lots.map((lot) => lot.code)))) return;
  await submitting(form, async () => {
    try {
      /** @type {Lot} */
      const lot = await requestJson(`/api/projects/${encodeURIComponent(project.id)}/lots`, {
        method: "POST", json: { code: fields.code.trim(), name: fields.name.trim() }, what: "增加标段失败",
      });
      form.reset();
      await showProject(project.id);
      say(form, `已增加${lotLabel(lot)}：可为其预约评标室、抽取副场并开设评标场次。`, "ok");
    } catch (err) {
      say(form, messageOf(err));
    }
  });
}

/** Wire the page's buttons, its forms, the sessions' dialogs and its documents. */
export function initProject() {
  initDocuments();
  initSessions();
  initSessionDialogs(async () => {
    if (page.project) await showProject(page.project.id);
  });
  $("#lot-form", HTMLFormElement).addEventListener("submit", addLot);
  $("#project-back").addEventListener("click", () => goTo("projects"));
  initOpeningSetup();
  $("#project-lots").addEventListener("click", (event) => {
    const data = /** @type {HTMLElement} */ (event.target).closest("button")?.dataset;
    if (data?.go) goTo(data.go);
    const lot = page.project?.lots.find((l) => l.id === data?.setUpOpening);
    if (page.project && lot) askOpening(page.project, lot);
  });
}
