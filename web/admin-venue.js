// @ts-check
// One venue's details in the console (评标室): whether it may be a main or a sub venue and its
// room cameras' RTSP addresses, read by the forms that add and edit a venue; the dialog that
// edits a venue (name, city, seats and those details; the server refuses fewer seats while a
// booking holds them, and says so); the dialog that issues its door system's token, shown once.

import { copyField, places } from "/static/admin-shared.js";
import { requestJson } from "/static/lib/api.js";
import { $, control, el } from "/static/lib/dom.js";
import { messageOf } from "/static/lib/errors.js";
import { refuse, say, submitting } from "/static/lib/forms.js";
import { checkVenue } from "/static/lib/placeforms.js";
import { formatDateTime } from "/static/lib/time.js";
import { checkCameras, checkDoorDays, DOOR_DAYS, hidesPassword, venueChange } from "/static/lib/venueforms.js";

/** @typedef {import("/static/lib/wire").Venue} Venue */
/** @typedef {import("/static/lib/wire").DoorToken} DoorToken */

/** The venue the open dialog acts on, and what to do once it changed. */
const acting = {
  venue: /** @type {Venue | null} */ (null),
  changed: /** @type {() => Promise<void>} */ (async () => {}),
};

/**
 * Put the page's `<template id="venue-details">` (what a venue may be, its cameras) where the
 * form has its `.venue-details`.
 * @param {HTMLFormElement} form
 */
export function addVenueDetails(form) {
  const place = form.querySelector(".venue-details");
  if (place) place.replaceWith($("template#venue-details", HTMLTemplateElement).content.cloneNode(true));
}

/**
 * The details as the form has them: the two boxes and the cameras' text.
 * @param {HTMLFormElement} form
 */
export function readVenueDetails(form) {
  const box = (/** @type {string} */ name) => /** @type {HTMLInputElement} */ (control(form, name)).checked;
  return { main_capable: box("main_capable"), sub_capable: box("sub_capable"), camera_urls: control(form, "camera_urls").value };
}

/**
 * The venue's centre and where it is, at the top of a dialog.
 * @param {string} selector
 * @param {Venue} venue
 */
function showFacts(selector, venue) {
  const facts = [["评标室", `${venue.name}（${venue.city}）`], ["交易中心", venue.centre_name]];
  $(selector).replaceChildren(...facts.map(([dt, dd]) => el("div", {}, el("dt", {}, dt), el("dd", {}, dd))));
}

// ---- editing a venue -------------------------------------------------------------------

/**
 * Open the edit dialog, filled with the venue as the server answered it.
 * @param {Venue} venue
 */
export function editVenue(venue) {
  acting.venue = venue;
  const form = $("#venue-edit-form", HTMLFormElement);
  form.reset();
  refuse(form, null);
  showFacts("#venue-facts", venue);
  control(form, "name").value = venue.name;
  control(form, "city").value = venue.city;
  control(form, "seat_count").value = String(venue.seat_count);
  /** @type {HTMLInputElement} */ (control(form, "main_capable")).checked = venue.main_capable;
  /** @type {HTMLInputElement} */ (control(form, "sub_capable")).checked = venue.sub_capable;
  control(form, "camera_urls").value = venue.cameras.join("\n");
  $("#venue-masked-hint").hidden = !venue.cameras.some(hidesPassword);
  $("#venue-dialog", HTMLDialogElement).showModal();
  control(form, "name").focus();
}

/** @param {SubmitEvent} event */
async function saveVenue(event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.currentTarget);
  const venue = acting.venue;
  if (!venue) return;
  const fields = {
    name: control(form, "name").value, city: control(form, "city").value, seat_count: control(form, "seat_count").value,
    ...readVenueDetails(form),
  };
  const others = places.venues.filter((v) => v.id !== venue.id);
  if (refuse(form, checkVenue({ ...fields, centre_id: venue.centre_id }, others))) return;
  const change = venueChange(venue, fields);
  if (change.camera_urls && refuse(form, checkCameras(fields.camera_urls))) return;
  if (Object.keys(change).length === 0) {
    say(form, "没有修改", "info");
    return;
  }
  await submitting(form, async () => {
    try {
      await requestJson(`/api/venues/${encodeURIComponent(venue.id)}`, { method: "POST", json: change, what: "保存评标室失败" });
      $("#venue-dialog", HTMLDialogElement).close();
      await acting.changed();
    } catch (err) {
      say(form, messageOf(err));
    }
  });
}

// ---- the door system's token -----------------------------------------------------------

/**
 * Ask how long, then issue a token for the venue's door system.
 * @param {Venue} venue
 */
export function askDoorToken(venue) {
  acting.venue = venue;
  const form = $("#door-form", HTMLFormElement);
  form.reset();
  refuse(form, null);
  showFacts("#door-facts", venue);
  control(form, "days").value = String(DOOR_DAYS.initial);
  form.hidden = false;
  $("#door-issued").hidden = true;
  $("#door-dialog", HTMLDialogElement).showModal();
  control(form, "days").focus();
}

/** @param {SubmitEvent} event */
async function issueDoorToken(event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.currentTarget);
  const venue = acting.venue;
  const days = control(form, "days").value;
  if (!venue || refuse(form, checkDoorDays(days))) return;
  await submitting(form, async () => {
    try {
      /** @type {DoorToken} */
      const door = await requestJson(`/api/venues/${encodeURIComponent(venue.id)}/door-token`, {
        method: "POST", json: { days: Number(days) }, what: "发放门禁令牌失败",
      });
      form.hidden = true;
      $("#door-who").textContent = `${venue.name}的门禁系统令牌`;
      $("#door-token", HTMLInputElement).value = door.token;
      $("#door-copy").textContent = "复制令牌";
      $("#door-note").textContent = `有效至 ${formatDateTime(new Date(door.expires_at))}（北京时间）。`;
      $("#door-issued").hidden = false;
    } catch (err) {
      say(form, messageOf(err));
    }
  });
}

/**
 * Wire the forms' details and the dialogs; `changed` shows the venues again once one changed.
 * @param {() => Promise<void>} changed
 */
export function initVenueDialogs(changed) {
  acting.changed = changed;
  const edit = $("#venue-edit-form", HTMLFormElement);
  addVenueDetails(edit);
  edit.addEventListener("submit", saveVenue);
  $("#door-form", HTMLFormElement).addEventListener("submit", issueDoorToken);
  copyField($("#door-token", HTMLInputElement), $("#door-copy"));
  // Their [data-close] buttons close them as every dialog's do (initSessionDialogs).
  // Shown once: once closed, the token is gone from the page.
  $("#door-dialog").addEventListener("close", () => { $("#door-token", HTMLInputElement).value = ""; });
}
