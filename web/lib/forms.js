// @ts-check
// Forms on a page: the message under a form (a refusal, a success or a hint) with the refused
// field marked and focused, a submit button that waits for its request, and date and time
// fields read and written as Beijing wall clock, whatever the browser's zone and language.
// Each form has one `.form-message` element; a field is a named control or an element with
// that `data-name`.

import { slotSummary } from "./calendar.js";
import { control, el } from "./dom.js";
import { beijingDateValue, beijingTimeValue, fromBeijing } from "./time.js";

/** @param {number} n */
const pad = (n) => String(n).padStart(2, "0");

/**
 * Show `text` under the form (empty: hide it): "error" in red, "ok" in green, "info" in blue.
 * @param {HTMLFormElement} form
 * @param {string} text
 * @param {"error" | "ok" | "info"} [kind]
 */
export function say(form, text, kind = "error") {
  const box = /** @type {HTMLElement | null} */ (form.querySelector(".form-message"));
  if (!box) return;
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = !text;
  // A long form on a small screen: what it says must not stay below the window's edge.
  if (text) box.scrollIntoView({ block: "nearest" });
}

/**
 * Mark and focus the refused field and say why; with no problem, clear the marks and the
 * message. True when there was a problem (the form must not be sent).
 * @param {HTMLFormElement} form
 * @param {{ field: string, message: string } | null} problem
 */
export function refuse(form, problem) {
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  if (!problem) {
    say(form, "");
    return false;
  }
  const field = form.elements.namedItem(problem.field) || form.querySelector(`[data-name="${problem.field}"]`);
  if (field instanceof HTMLElement) {
    field.setAttribute("aria-invalid", "true");
    field.focus();
  }
  say(form, problem.message, "error");
  return true;
}

/**
 * Run `work` with the form's submit button disabled, so that a double click sends once.
 * @template T
 * @param {HTMLFormElement} form
 * @param {() => Promise<T>} work
 * @returns {Promise<T>}
 */
export async function submitting(form, work) {
  const button = /** @type {HTMLButtonElement | null} */ (form.querySelector("button[type=submit]"));
  if (button) button.disabled = true;
  try {
    return await work();
  } finally {
    if (button) button.disabled = false;
  }
}

/**
 * Put a copy of the page's `<template id="slot-fields">` (a slot's date and time fields) where
 * the form has its `.slot-fields`.
 * @param {HTMLFormElement} form
 */
export function addSlotFields(form) {
  const template = document.querySelector("template#slot-fields");
  const place = form.querySelector(".slot-fields");
  if (template instanceof HTMLTemplateElement && place) place.replaceWith(template.content.cloneNode(true));
}

/**
 * Fill the form's time selects (`select.time`) with the quarter hours of a day, 00:00 to
 * 23:45: a booking claims whole quarter hours, and a select reads the same in every browser
 * language (a time input shows "09:00 AM" in an English one).
 * @param {HTMLFormElement} form
 */
export function quarterHours(form) {
  const times = Array.from({ length: 96 }, (_, i) => `${pad(Math.floor(i / 4))}:${pad((i % 4) * 15)}`);
  for (const select of form.querySelectorAll("select.time")) {
    select.replaceChildren(...times.map((t) => el("option", { value: t }, t)));
  }
}

/**
 * The instant in the fields `<prefix>_date` and `<prefix>_time` (Beijing time); null when
 * either is empty or unreadable.
 * @param {HTMLFormElement} form
 * @param {string} prefix
 */
export function readWhen(form, prefix) {
  return fromBeijing(control(form, `${prefix}_date`).value, control(form, `${prefix}_time`).value);
}

/**
 * Put `d` into the fields `<prefix>_date` and `<prefix>_time` as Beijing's date and time.
 * @param {HTMLFormElement} form
 * @param {string} prefix
 * @param {Date} d
 */
export function writeWhen(form, prefix, d) {
  control(form, `${prefix}_date`).value = beijingDateValue(d);
  const time = control(form, `${prefix}_time`);
  const value = beijingTimeValue(d);
  // A booking made through the API may end at 23:59: its time is offered as well, in order.
  if (time instanceof HTMLSelectElement && ![...time.options].some((o) => o.value === value)) {
    const after = [...time.options].find((o) => o.value > value) || null;
    time.add(el("option", { value }, value), after);
  }
  time.value = value;
}

/**
 * Say the form's slot (fields `start_…` and `end_…`) in words in its `.slot-line`: weekday,
 * Beijing time and length, whatever the browser shows in its date field.
 * @param {HTMLFormElement} form
 */
export function showSlot(form) {
  const line = form.querySelector(".slot-line");
  if (!line) return;
  const startsAt = readWhen(form, "start");
  const endsAt = readWhen(form, "end");
  line.textContent = startsAt && endsAt && endsAt > startsAt ? slotSummary(startsAt, endsAt) : "";
}

/**
 * Call `then` (and show the slot in words) whenever a date or time field of the form changes.
 * @param {HTMLFormElement} form
 * @param {() => void} [then]
 */
export function watchSlot(form, then = () => {}) {
  for (const name of ["start_date", "start_time", "end_date", "end_time"]) {
    control(form, name).addEventListener("input", () => {
      showSlot(form);
      then();
    });
  }
}
