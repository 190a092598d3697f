// @ts-check
// The console's centres (交易中心) and venues (评标室): the list of centres with their own
// people (admin-centre-people.js, #centres/<centre>), a venue search a page at a time (with what
// each may be and its cameras, their passwords masked), and the forms that add them. An
// administrator of one centre sees its own centre, finds its own rooms to begin with, adds rooms
// to it only and changes none of another centre's. A refusal is said under its form, in the
// server's words when the server refused.

import { showVenue } from "/static/admin-calendar.js";
import { initCentrePeople, showCentrePeople } from "/static/admin-centre-people.js";
import { addVenueDetails, askDoorToken, editVenue, initVenueDialogs, readVenueDetails } from "/static/admin-venue.js";
import {
  centreOptions, goTo, onPlacesChanged, othersCentre, PagedSearch, pageFailed, pageRecovered, places, reloadPlaces, scope,
} from "/static/admin-shared.js";
import { requestJson } from "/static/lib/api.js";
import { $, control, el } from "/static/lib/dom.js";
import { messageOf } from "/static/lib/errors.js";
import { refuse, say, submitting } from "/static/lib/forms.js";
import { checkCentre, checkVenue } from "/static/lib/placeforms.js";
import { camerasText, cameraLines, checkCameras, rolesText } from "/static/lib/venueforms.js";

/** @typedef {import("/static/lib/wire").Venue} Venue */
/** @typedef {import("/static/lib/wire").VenuePage} VenuePage */

const PER_PAGE = 15;

/** The venue search (made when the page is wired). @type {PagedSearch | null} */
let search = null;

/** The venues the list shows, by id, as the server answered them. @type {Map<string, Venue>} */
const shown = new Map();

// ---- centres ------------------------------------------------------------------------------

/** The centres the list shows: every one, or an administrator of one centre's own. */
function listedCentres() {
  return places.centres.filter((c) => !othersCentre(c.id));
}

/**
 * Show the centres, and a centre's people when the address names one (an administrator of one
 * centre: its own, always).
 * @param {string[]} args
 */
export async function showCentres([centreId]) {
  renderCentres();
  const own = scope.centre?.id || "";
  await showCentrePeople(own || centreId || "");
}

function renderCentres() {
  const rows = listedCentres().map((c) => {
    const count = places.venues.filter((v) => v.centre_id === c.id).length;
    return el("tr", { dataset: { centre: c.id } },
      el("td", { class: "name" }, c.name),
      el("td", {}, c.city),
      el("td", {}, c.region_code || el("span", { class: "muted", title: "没有行政区划代码的交易中心，其评标室不能作为主场抽取副场" }, "未填写")),
      el("td", {}, count
        ? el("button", { class: "link", type: "button", dataset: { venuesOf: c.id } }, `${count} 间`)
        : el("span", { class: "muted" }, "暂无")),
      el("td", { class: "actions" },
        el("button", { class: "btn btn-small", type: "button", dataset: { centrePeople: c.id } }, "本中心人员"),
        el("button", { class: "btn btn-small", type: "button", dataset: { addVenue: c.id } }, "新增评标室")));
  });
  $("#centre-rows").replaceChildren(...rows);
  $("#centre-empty").hidden = rows.length > 0;
}

/** @param {SubmitEvent} event */
async function addCentre(event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.currentTarget);
  const fields = {
    name: control(form, "name").value, city: control(form, "city").value, region_code: control(form, "region_code").value,
  };
  if (refuse(form, checkCentre(fields, places.centres))) return;
  await submitting(form, async () => {
    try {
      const centre = await requestJson("/api/centres", {
        method: "POST",
        json: { name: fields.name.trim(), city: fields.city.trim(), region_code: fields.region_code.trim() },
        what: "新增交易中心失败",
      });
      form.reset();
      say(form, `已新增交易中心：${centre.name}`, "ok");
      await reloadPlaces();
    } catch (err) {
      say(form, messageOf(err));
    }
  });
}

// ---- venues -------------------------------------------------------------------------------

/** Ask for the venue search's current page and show it. */
export async function searchVenues() {
  if (!search) return;
  try {
    /** @type {VenuePage} */
    const answer = await requestJson(`/api/venues?${search.query()}`, { what: "评标室查询失败" });
    renderVenues(answer.items, search.narrowed());
    search.shown(answer.total);
    pageRecovered();
  } catch (err) {
    pageFailed(`无法查询评标室：${messageOf(err)}`);
  }
}

/**
 * @param {Venue[]} venues
 * @param {boolean} narrowed
 */
function renderVenues(venues, narrowed) {
  shown.clear();
  for (const v of venues) shown.set(v.id, v);
  $("#venue-rows").replaceChildren(...venues.map((v) =>
    el("tr", { dataset: { venue: v.id } },
      el("td", { class: "name" }, v.name),
      el("td", {}, v.centre_name),
      el("td", {}, v.city),
      el("td", { class: "count" }, `${v.seat_count} 个`),
      el("td", { class: "roles-cell", title: rolesText(v) },
        v.main_capable && el("span", { class: "badge" }, "主场"),
        v.sub_capable && el("span", { class: "badge" }, "副场"),
        !v.main_capable && !v.sub_capable && el("span", { class: "muted" }, rolesText(v))),
      el("td", { class: "cameras-cell" }, cameraCell(v.cameras)),
      el("td", { class: "actions" },
        el("button", { class: "btn btn-small", type: "button", dataset: { showVenue: v.id } }, "查看预约"),
        // Another centre's room is its own to change: it is booked here for a lot only.
        othersCentre(v.centre_id) ? el("span", { class: "muted others" }, "其他交易中心") : [
          el("button", { class: "btn btn-small", type: "button", dataset: { editVenue: v.id } }, "编辑"),
          el("button", { class: "btn btn-small", type: "button", dataset: { doorToken: v.id } }, "门禁令牌"),
        ]))));
  const empty = $("#venue-empty");
  empty.hidden = venues.length > 0;
  empty.textContent = narrowed ? "没有符合条件的评标室。" : "还没有评标室，请在右侧新增。";
}

/**
 * A venue's cameras in its row: how many, their addresses (passwords as ***) when opened.
 * @param {string[]} cameras
 */
function cameraCell(cameras) {
  if (!cameras.length) return el("span", { class: "muted" }, camerasText(cameras));
  return el("details", { class: "cameras" },
    el("summary", { title: cameras.join("\n") }, camerasText(cameras)),
    el("ul", {}, cameras.map((url) => el("li", {}, el("code", {}, url)))));
}

/** @param {SubmitEvent} event */
async function addVenue(event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.currentTarget);
  const fields = {
    centre_id: control(form, "centre_id").value,
    name: control(form, "name").value,
    city: control(form, "city").value,
    seat_count: control(form, "seat_count").value,
    ...readVenueDetails(form),
  };
  if (refuse(form, checkVenue(fields, places.venues) || checkCameras(fields.camera_urls))) return;
  await submitting(form, async () => {
    try {
      /** @type {Venue} */
      const venue = await requestJson("/api/venues", {
        method: "POST",
        json: {
          centre_id: fields.centre_id, name: fields.name.trim(), city: fields.city.trim(),
          seat_count: Number(fields.seat_count),
          main_capable: fields.main_capable, sub_capable: fields.sub_capable, camera_urls: cameraLines(fields.camera_urls),
        },
        what: "新增评标室失败",
      });
      control(form, "name").value = "";
      control(form, "camera_urls").value = "";
      const cameras = venue.cameras.length ? `，${venue.cameras.length} 路摄像机` : "";
      const roles = venue.main_capable && venue.sub_capable ? "" : `，${rolesText(venue)}`;
      say(form, `已新增评标室：${venue.name}（${venue.centre_name}，${venue.seat_count} 个机位${roles}${cameras}）`, "ok");
      await reloadPlaces();
      await searchVenues();
    } catch (err) {
      say(form, messageOf(err));
    }
  });
}

/** The city the venue form took from its centre (replaced when the centre changes). */
let autoCity = "";

/**
 * The venue form's city follows its centre's, unless somebody typed another.
 * @param {HTMLFormElement} form
 */
function followCentreCity(form) {
  const city = control(form, "city");
  const centre = places.centres.find((c) => c.id === control(form, "centre_id").value);
  if (centre && (!city.value.trim() || city.value === autoCity)) {
    city.value = centre.city;
    autoCity = centre.city;
  }
}

/**
 * Open the venues with a centre chosen: its venues in the list, or the form to add one.
 * @param {string} centreId
 * @param {"list" | "add"} what
 */
function venuesOfCentre(centreId, what) {
  const form = $("#venue-form", HTMLFormElement);
  if (what === "list") {
    search?.set({ q: "", centre_id: centreId, page: 1 });
  } else {
    control(form, "centre_id").value = centreId;
    followCentreCity(form);
  }
  if (!goTo("venues")) searchVenues();
  if (what === "add") control(form, "name").focus();
}

/** Wire the centres' and venues' lists and forms. */
export function initPlaces() {
  $("#centre-form", HTMLFormElement).addEventListener("submit", addCentre);
  $("#centre-rows").addEventListener("click", (event) => {
    const target = /** @type {HTMLElement} */ (event.target).closest("button");
    if (target?.dataset.venuesOf) venuesOfCentre(target.dataset.venuesOf, "list");
    if (target?.dataset.addVenue) venuesOfCentre(target.dataset.addVenue, "add");
    if (target?.dataset.centrePeople && !goTo(`centres/${encodeURIComponent(target.dataset.centrePeople)}`)) {
      showCentrePeople(target.dataset.centrePeople);
    }
  });
  $("#centre-people-close").addEventListener("click", () => {
    if (!goTo("centres")) showCentrePeople("");
  });
  initCentrePeople();
  // Adding a centre is the province's: an administrator of one centre is not offered it.
  $("#centre-form").hidden = scope.centre !== null;
  $("#centre-people-close").hidden = scope.centre !== null;
  $("#centre-columns").classList.toggle("single", scope.centre !== null);
  search = new PagedSearch("venue", PER_PAGE, "间", searchVenues);
  // An administrator of one centre finds its own rooms to begin with.
  if (scope.centre) search.set({ centre_id: scope.centre.id });
  $("#venue-rows").addEventListener("click", (event) => {
    const target = /** @type {HTMLElement} */ (event.target).closest("button");
    const venue = shown.get(target?.dataset.editVenue || target?.dataset.doorToken || "");
    if (target?.dataset.showVenue) showVenue(target.dataset.showVenue);
    else if (venue && target?.dataset.editVenue) editVenue(venue);
    else if (venue) askDoorToken(venue);
  });
  initVenueDialogs(async () => {
    await reloadPlaces();
    await searchVenues();
  });
  const form = $("#venue-form", HTMLFormElement);
  addVenueDetails(form);
  form.addEventListener("submit", addVenue);
  control(form, "centre_id").addEventListener("change", () => followCentreCity(form));
  onPlacesChanged(() => {
    renderCentres();
    centreOptions($("#venue-filter-centre", HTMLSelectElement), "全部交易中心");
    const centre = $("#venue-form-centre", HTMLSelectElement);
    const hadChoice = centre.value;
    centreOptions(centre, "请选择交易中心", { mine: true });
    if (!hadChoice && places.centres.length === 1) centre.value = places.centres[0].id;
    if (!hadChoice && centre.value) followCentreCity(form);
  });
}
