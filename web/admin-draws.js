// @ts-check
// A lot's draws (专家抽取, 3.10 and 7.1.3): sub venues among the venues of the main venue's
// province, and experts from the pool for the venues of the lot's session. Each draw is
// committed first (the pool, the needs and the SHA-256 of a secret seed are published) and
// revealed after (揭示: the seed and the result, which anyone can recompute); the server says
// whether the record checks (校验通过). Drawn experts take free seats of their venue.

import { bookVenue } from "/static/admin-calendar.js";
import { chosen, lotFromAddress, lotLabel, renderLotBar } from "/static/admin-lots.js";
import {
  mainCapable, pageFailed, pageRecovered, personLabel, places, venueById, venueLabel, venueOptions,
} from "/static/admin-shared.js";
import { requestJson } from "/static/lib/api.js";
import { addDays, startOfBeijingDay } from "/static/lib/calendar.js";
import { $, control, el } from "/static/lib/dom.js";
import {
  conditionText, DRAW_KIND_LABELS, drawFacts, exclusionText, expertNeeds, listOf, poolFigures, verifiedText,
} from "/static/lib/draws.js";
import { messageOf } from "/static/lib/errors.js";
import { addSlotFields, quarterHours, readWhen, refuse, say, showSlot, submitting, watchSlot, writeWhen } from "/static/lib/forms.js";
import { checkSlot } from "/static/lib/placeforms.js";
import { beijingIso, formatDateTime } from "/static/lib/time.js";

/** @typedef {import("/static/lib/wire").Lot} Lot */
/** @typedef {import("/static/lib/wire").DrawRecord} DrawRecord */
/** @typedef {import("/static/lib/wire").SessionPerson} SessionPerson */

const HOUR_MS = 3600 * 1000;
const SLOT_HOURS = 4;

/** The lot shown, its draws, and its session's people (where the drawn experts sit). */
const shown = {
  lot: /** @type {Lot | null} */ (null),
  draws: /** @type {DrawRecord[]} */ ([]),
  people: /** @type {SessionPerson[]} */ ([]),
  asked: 0,
};

/**
 * Show the draws of the lot the address names (or the one chosen before).
 * @param {string[]} args
 */
export async function showDraws(args) {
  const mine = ++shown.asked;
  try {
    const lot = await lotFromAddress(args);
    if (mine !== shown.asked) return;
    renderLotBar("draws");
    // The forms are filled again for another lot, or when the lot's session opened meanwhile.
    const fresh = lot?.id !== shown.lot?.id || lot?.session?.id !== shown.lot?.session?.id;
    shown.lot = lot;
    $("#draws-body").hidden = !lot;
    if (!lot) return;
    if (fresh) prepareForms(lot);
    await loadDraws();
    pageRecovered();
  } catch (err) {
    if (mine === shown.asked) pageFailed(`无法读取抽取记录：${messageOf(err)}`);
  }
}

/** Read the lot's draws and its session's people again, and show them. */
async function loadDraws() {
  const lot = shown.lot;
  if (!lot) return;
  const [draws, people] = await Promise.all([
    requestJson(`/api/lots/${encodeURIComponent(lot.id)}/draws`, { what: "抽取记录读取失败" }),
    lot.session ? requestJson(`/api/sessions/${encodeURIComponent(lot.session.id)}/people`, { what: "人员读取失败" }) : { items: [] },
  ]);
  if (shown.lot?.id !== lot.id) return;
  shown.draws = draws.items;
  shown.people = people.items;
  renderDraws();
  renderNeedsNote();
}

// ---- the draws ------------------------------------------------------------------------------

/**
 * A need's label in words: a venue of the session, or what sub venues are for.
 * @param {string} label
 */
function needPlace(label) {
  if (!venueById(label)) return label;
  const kind = label === shown.lot?.session?.main_venue_id ? "主场" : "副场";
  return `${kind} ${venueLabel(label)}`;
}

/**
 * @param {string} term
 * @param {...(Node | string | null | Array<Node | string | null>)} value
 */
function fact(term, ...value) {
  return el("div", {}, el("dt", {}, term), el("dd", {}, ...value));
}

/** @param {DrawRecord} draw */
function drawCard(draw) {
  const facts = drawFacts(draw.facts);
  const figures = poolFigures(facts);
  const experts = draw.kind === "experts";
  const pool = experts
    ? `专家库 ${figures.pool} 人，排除后可抽 ${figures.eligible} 人`
    : `主场所在省其他交易中心空闲机位足够的评标室 ${figures.pool} 间`;
  const needs = facts.needs.map((need, i) =>
    el("span", { class: "need" }, `${needPlace(need.label)}：${need.count} ${experts ? "人" : "间"}`,
      el("span", { class: "muted" }, `（${conditionText(need.conditions)}；符合条件 ${figures.perNeed[i]}）`)));
  const excluded = exclusionText(facts);
  const verified = el("span", { class: `verified v-${String(draw.verified)}` }, verifiedText(draw.verified));
  return el("article", { class: `draw-card ${draw.revealed ? "revealed" : "committed"}`, dataset: { draw: draw.id, kind: draw.kind } },
    el("header", { class: "draw-head" },
      el("b", {}, DRAW_KIND_LABELS[draw.kind] || draw.kind),
      el("span", { class: `pill ${draw.revealed ? "state-live" : "state-scheduled"}` }, draw.revealed ? "已揭示" : "已承诺，待揭示"),
      el("span", { class: "muted" }, `${formatDateTime(new Date(draw.created_at))} · ${personLabel(draw.created_by)}`),
      draw.revealed ? null : el("button", { class: "btn btn-small btn-primary", type: "button", dataset: { reveal: draw.id } }, "揭示")),
    el("dl", { class: "draw-facts" },
      fact("候选范围", pool),
      fact("抽取需求", needs),
      excluded ? fact("排除", excluded) : null,
      fact("种子承诺", el("code", { class: "hex" }, draw.commitment)),
      draw.seed ? fact("种子", el("code", { class: "hex" }, draw.seed)) : null,
      draw.revealed ? fact("校验", verified, el("span", { class: "muted" }, "　以公布的候选、条件和种子重新计算，结果一致")) : null),
    draw.result ? resultTable(draw) : null);
}

/**
 * A revealed draw's result: the sub venues, each to book for the lot; or the experts, each
 * with the seat they took.
 * @param {DrawRecord} draw
 */
function resultTable(draw) {
  const result = draw.result || [];
  if (draw.kind === "sub_venues") {
    return el("table", { class: "list result" },
      el("thead", {}, el("tr", {}, el("th", {}, "抽中的副场"), el("th", {}, "交易中心"), el("th", {}))),
      el("tbody", {}, result.map((r) => el("tr", {},
        el("td", { class: "name" }, venueLabel(r.id)),
        el("td", {}, venueById(r.id)?.centre_name || ""),
        el("td", { class: "actions" }, shown.lot?.session ? null
          : el("button", { class: "btn btn-small", type: "button", dataset: { bookSub: r.id } }, "为本标段预约"))))));
  }
  return el("table", { class: "list result" },
    el("thead", {}, el("tr", {}, el("th", {}, "评标室"), el("th", {}, "机位"), el("th", {}, "专家"))),
    el("tbody", {}, result.map((r) => {
      const seated = shown.people.find((p) => p.role === "expert" && p.name === r.name && p.venue_id === r.label);
      return el("tr", { dataset: { expert: r.name } },
        el("td", {}, needPlace(r.label)),
        el("td", { class: "seat-cell" }, seated?.seat_no ? `${seated.seat_no}号机位` : "—"),
        el("td", { class: "name" }, r.name));
    })));
}

function renderDraws() {
  $("#draw-list").replaceChildren(...[...shown.draws].reverse().map(drawCard));
  $("#draw-empty").hidden = shown.draws.length > 0;
}

/**
 * Reveal a draw: its seed and result are published; experts take their seats.
 * @param {HTMLButtonElement} button
 * @param {string} drawId
 */
async function reveal(button, drawId) {
  button.disabled = true;
  try {
    await requestJson(`/api/draws/${encodeURIComponent(drawId)}/reveal`, { method: "POST", what: "揭示失败" });
    for (const form of ["#subvenue-form", "#expert-form"]) say($(form, HTMLFormElement), "");
    await loadDraws();
    pageRecovered();
  } catch (err) {
    button.disabled = false;
    pageFailed(`揭示失败：${messageOf(err)}`);
  }
}

// ---- the forms ------------------------------------------------------------------------------

/**
 * Fill the forms for a lot: the sub venue draw's main venue and slot from its session (or the
 * project's centre and tomorrow morning), the expert draw's needs from its session's venues.
 * @param {Lot} lot
 */
function prepareForms(lot) {
  const form = $("#subvenue-form", HTMLFormElement);
  const project = chosen.project;
  const main = lot.session?.main_venue_id || places.venues.find((v) => v.centre_id === project?.centre_id && v.main_capable)?.id || "";
  venueOptions($("#subvenue-main", HTMLSelectElement), main, mainCapable);
  const start = lot.session ? new Date(lot.session.scheduled_start)
    : new Date(addDays(startOfBeijingDay(new Date()), 1).getTime() + 9 * HOUR_MS);
  writeWhen(form, "start", start);
  writeWhen(form, "end", new Date(start.getTime() + SLOT_HOURS * HOUR_MS));
  showSlot(form);
  refuse(form, null);
  const experts = $("#expert-form", HTMLFormElement);
  refuse(experts, null);
  const venues = lot.session ? [lot.session.main_venue_id, ...lot.session.sub_venue_ids] : [];
  showNeeds(venues.map((venue_id) => ({ venue_id, count: "", specialty: "", city: "" })));
  experts.toggleAttribute("inert", !lot.session);
  experts.classList.toggle("waiting", !lot.session);
}

/** Free seats of each venue of the session: its seats less those the experts took. */
function freeSeats() {
  const session = shown.lot?.session;
  if (!session) return {};
  return Object.fromEntries([session.main_venue_id, ...session.sub_venue_ids].map((id) => {
    const taken = shown.people.filter((p) => p.venue_id === id && p.seat_no).length;
    return [id, Math.max(0, (venueById(id)?.seat_count || 0) - taken)];
  }));
}

function renderNeedsNote() {
  const session = shown.lot?.session;
  const free = freeSeats();
  $("#expert-form-note").textContent = session
    ? `空机位：${Object.entries(free).map(([id, n]) => `${needPlace(id)} ${n} 个`).join("；")}`
    : "请先在项目中开设本标段的评标场次，再抽取专家。";
}

/**
 * The need rows of the expert form.
 * @param {Array<{ venue_id: string, count: string, specialty: string, city: string }>} needs
 */
function showNeeds(needs) {
  const session = shown.lot?.session;
  const venues = session ? [session.main_venue_id, ...session.sub_venue_ids] : [];
  $("#need-rows").replaceChildren(...needs.map((need, i) => el("div", { class: "need-row" },
    el("select", { name: `need_venue_${i}`, "aria-label": `第 ${i + 1} 项的评标室` },
      venues.map((id) => el("option", { value: id, selected: id === need.venue_id }, needPlace(id)))),
    el("input", { name: `need_count_${i}`, type: "number", min: 1, max: 10, value: need.count, placeholder: "人数", "aria-label": `第 ${i + 1} 项的人数`, inputmode: "numeric" }),
    el("input", { name: `need_specialty_${i}`, value: need.specialty, maxlength: 50, placeholder: "专业（不限）", "aria-label": `第 ${i + 1} 项的专业`, autocomplete: "off" }),
    el("input", { name: `need_city_${i}`, value: need.city, maxlength: 50, placeholder: "城市（不限）", "aria-label": `第 ${i + 1} 项的城市`, autocomplete: "off" }),
    el("button", { class: "link", type: "button", dataset: { removeNeed: i }, hidden: needs.length === 1, "aria-label": `删除第 ${i + 1} 项` }, "×"))));
}

/** @param {HTMLFormElement} form */
function readNeeds(form) {
  return [...form.querySelectorAll(".need-row")].map((_, i) => ({
    venue_id: control(form, `need_venue_${i}`).value,
    count: control(form, `need_count_${i}`).value,
    specialty: control(form, `need_specialty_${i}`).value,
    city: control(form, `need_city_${i}`).value,
  }));
}

/**
 * Commit a draw and show it, waiting to be revealed.
 * @param {HTMLFormElement} form
 * @param {string} path
 * @param {unknown} body
 */
async function commit(form, path, body) {
  const lot = shown.lot;
  if (!lot) return;
  await submitting(form, async () => {
    try {
      await requestJson(`/api/lots/${encodeURIComponent(lot.id)}/draws/${path}`, { method: "POST", json: body, what: "抽取失败" });
      say(form, "已公布候选范围与种子承诺，请在左侧揭示结果。", "ok");
      await loadDraws();
    } catch (err) {
      say(form, messageOf(err));
    }
  });
}

/** @param {SubmitEvent} event */
function drawSubVenues(event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.currentTarget);
  const startsAt = readWhen(form, "start");
  const endsAt = readWhen(form, "end");
  const seats = control(form, "seats").value.trim();
  const count = control(form, "count").value.trim();
  const problem = (control(form, "main_venue_id").value ? null : { field: "main_venue_id", message: "请选择主场评标室" })
    || checkSlot(startsAt, endsAt)
    || (/^\d+$/.test(seats) && Number(seats) >= 1 && Number(seats) <= 10 ? null : { field: "seats", message: "机位数应为 1 至 10 之间的整数" })
    || (/^\d+$/.test(count) && Number(count) >= 1 && Number(count) <= 5 ? null : { field: "count", message: "副场数应为 1 至 5 之间的整数" });
  if (refuse(form, problem) || !startsAt || !endsAt) return;
  commit(form, "sub-venues", {
    main_venue_id: control(form, "main_venue_id").value, starts_at: beijingIso(startsAt), ends_at: beijingIso(endsAt),
    seats: Number(seats), count: Number(count),
  });
}

/** @param {SubmitEvent} event */
function drawExperts(event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.currentTarget);
  const { needs, problem } = expertNeeds(readNeeds(form), freeSeats());
  if (refuse(form, problem)) return;
  const ids = listOf(control(form, "exclude_external_ids").value);
  if (ids.some((id) => !/^[A-Za-z0-9_.-]{1,100}$/.test(id))) {
    refuse(form, { field: "exclude_external_ids", message: "专家编号只能由字母、数字和 . _ - 组成" });
    return;
  }
  commit(form, "experts", { needs, exclude_employers: listOf(control(form, "exclude_employers").value), exclude_external_ids: ids });
}

/**
 * Book a drawn sub venue for the lot through the calendar, for the slot it was drawn for.
 * @param {string} venueId
 */
function bookSub(venueId) {
  const venue = venueById(venueId);
  const lot = shown.lot;
  const project = chosen.project;
  const form = $("#subvenue-form", HTMLFormElement);
  const startsAt = readWhen(form, "start");
  const endsAt = readWhen(form, "end");
  if (!venue || !lot || !project || !startsAt || !endsAt) return;
  bookVenue(venue, startsAt, endsAt, {
    lot: {
      id: lot.id, label: `${project.code} ${lotLabel(lot)}`, purpose: `${project.code} ${lot.name}（标段 ${lot.code}）评标 副场`,
      back: `projects/${encodeURIComponent(project.id)}`,
    },
  });
}

/** Wire the draw list's buttons and the two forms. */
export function initDraws() {
  $("#draw-list").addEventListener("click", (event) => {
    const button = /** @type {HTMLElement} */ (event.target).closest("button");
    if (button instanceof HTMLButtonElement && button.dataset.reveal) reveal(button, button.dataset.reveal);
    if (button?.dataset.bookSub) bookSub(button.dataset.bookSub);
  });
  const subForm = $("#subvenue-form", HTMLFormElement);
  addSlotFields(subForm);
  quarterHours(subForm);
  watchSlot(subForm);
  subForm.addEventListener("submit", drawSubVenues);
  const form = $("#expert-form", HTMLFormElement);
  form.addEventListener("submit", drawExperts);
  control(form, "add_need").addEventListener("click", () => {
    const needs = readNeeds(form);
    showNeeds([...needs, { venue_id: needs.at(-1)?.venue_id || "", count: "", specialty: "", city: "" }]);
  });
  $("#need-rows").addEventListener("click", (event) => {
    const index = /** @type {HTMLElement} */ (event.target).closest("button")?.dataset.removeNeed;
    if (index !== undefined) showNeeds(readNeeds(form).filter((_, i) => i !== Number(index)));
  });
}
