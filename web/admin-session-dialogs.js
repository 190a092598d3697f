// @ts-check
// What an administrator does with a lot's session from its project's page, each in a dialog:
// end it by force with a reason (it cannot be undone, and the record keeps who and why);
// re-review an ended one (复议, 7.2.4-2: the same committee, remote in the same venues or
// together in one, as a new session with its own record); give a tenderer or bidder an
// archive link to an ended one, shown once with a copy button.

import { sessionVenues } from "/static/admin-lots.js";
import { copyField, places } from "/static/admin-shared.js";
import { requestJson } from "/static/lib/api.js";
import { addDays, momentText, startOfBeijingDay } from "/static/lib/calendar.js";
import { $, control, el } from "/static/lib/dom.js";
import { messageOf } from "/static/lib/errors.js";
import { quarterHours, readWhen, refuse, say, submitting, writeWhen } from "/static/lib/forms.js";
import { SESSION_STATE_LABELS } from "/static/lib/labels.js";
import { checkEndReason, checkPartyLink, checkReview, PARTY_DAYS, PARTY_LABELS } from "/static/lib/sessionforms.js";
import { beijingIso, formatDateTime } from "/static/lib/time.js";

/** @typedef {import("/static/lib/wire").Project} Project */
/** @typedef {import("/static/lib/wire").Lot} Lot */
/** @typedef {import("/static/lib/wire").LotSession} LotSession */
/** @typedef {import("/static/lib/wire").PartyLink} PartyLink */
/** What a dialog acts on. @typedef {{ project: Project, lot: Lot, session: LotSession, label: string }} SessionTarget */

const HOUR_MS = 3600 * 1000;

/** The session the open dialog acts on, what to do once it changed something, and once a
 * party's link was issued. */
const acting = {
  target: /** @type {SessionTarget | null} */ (null),
  changed: /** @type {() => Promise<void>} */ (async () => {}),
  issued: /** @type {() => Promise<void>} */ (async () => {}),
};

/**
 * The session's facts at the top of a dialog: which, its state, start and venues.
 * @param {string} selector
 * @param {SessionTarget} target
 */
function showFacts(selector, { session, label }) {
  const facts = [
    ["场次", label],
    ["状态", SESSION_STATE_LABELS[session.state] || session.state],
    ["计划开始", formatDateTime(new Date(session.scheduled_start))],
    ["评标室", sessionVenues(session)],
  ];
  $(selector).replaceChildren(...facts.map(([dt, dd]) => el("div", {}, el("dt", {}, dt), el("dd", {}, dd))));
}

/**
 * Open a dialog on a target, its form reset.
 * @param {string} name end, review or party
 * @param {SessionTarget} target
 */
function open(name, target) {
  acting.target = target;
  const form = $(`#${name}-form`, HTMLFormElement);
  form.reset();
  refuse(form, null);
  showFacts(`#${name}-facts`, target);
  return form;
}

/**
 * Close the dialog and show what changed.
 * @param {string} name
 */
async function done(name) {
  $(`#${name}-dialog`, HTMLDialogElement).close();
  await acting.changed();
}

// ---- the forced end ------------------------------------------------------------------------

/**
 * Ask why, then end the session by force.
 * @param {SessionTarget} target
 */
export function askEnd(target) {
  open("end", target);
  $("#end-dialog", HTMLDialogElement).showModal();
  control($("#end-form", HTMLFormElement), "reason").focus();
}

/** @param {SubmitEvent} event */
async function endSession(event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.currentTarget);
  const target = acting.target;
  const reason = control(form, "reason").value.trim();
  if (!target || refuse(form, checkEndReason(reason))) return;
  await submitting(form, async () => {
    try {
      await requestJson(`/api/sessions/${encodeURIComponent(target.session.id)}/end`, {
        method: "POST", json: { reason }, what: "强制结束失败",
      });
      await done("end");
    } catch (err) {
      say(form, messageOf(err));
    }
  });
}

// ---- a re-review ---------------------------------------------------------------------------

/**
 * Ask when, where and why, then re-convene the session's committee.
 * @param {SessionTarget} target
 */
export function askReview(target) {
  const form = open("review", target);
  const { session } = target;
  $("#review-remote").textContent = sessionVenues(session);
  const venue = $("#review-venue", HTMLSelectElement);
  // The one venue is the re-review's main venue: only those that may be one are offered.
  const offered = places.venues.filter((v) => v.main_capable);
  venue.replaceChildren(el("option", { value: "" }, "请选择评标室"),
    ...offered.map((v) => el("option", { value: v.id }, `${v.name}（${v.city}，${v.seat_count} 个机位）`)));
  venue.value = offered.some((v) => v.id === session.main_venue_id) ? session.main_venue_id : "";
  writeWhen(form, "start", new Date(addDays(startOfBeijingDay(new Date()), 1).getTime() + 9 * HOUR_MS));
  showWhere(form);
  $("#review-dialog", HTMLDialogElement).showModal();
}

/**
 * The chosen start in words, and the venue select only when the review is held together.
 * @param {HTMLFormElement} form
 */
function showWhere(form) {
  const start = readWhen(form, "start");
  /** @type {HTMLElement} */ (form.querySelector(".slot-line")).textContent = start ? `${momentText(start)} 开始` : "";
  $("#review-venue").hidden = control(form, "where").value !== "together";
}

/** @param {SubmitEvent} event */
async function openReview(event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.currentTarget);
  const target = acting.target;
  const fields = {
    start: readWhen(form, "start"),
    reason: control(form, "reason").value,
    together: control(form, "where").value === "together",
    venue_id: control(form, "venue_id").value,
  };
  if (!target || refuse(form, checkReview(fields, new Date())) || !fields.start) return;
  const json = {
    scheduled_start: beijingIso(fields.start),
    reason: fields.reason.trim(),
    ...(fields.together ? { venue_id: fields.venue_id } : {}),
  };
  await submitting(form, async () => {
    try {
      await requestJson(`/api/sessions/${encodeURIComponent(target.session.id)}/re-review`, {
        method: "POST", json, what: "组织复议失败",
      });
      await done("review");
    } catch (err) {
      say(form, messageOf(err));
    }
  });
}

// ---- a party's archive link ----------------------------------------------------------------

/**
 * Ask for whom and how long, then issue a tenderer's or bidder's archive link; `issued` runs
 * after each link issued (a list of the links read again).
 * @param {SessionTarget} target
 * @param {() => Promise<void>} [issued]
 */
export function askPartyLink(target, issued = async () => {}) {
  acting.issued = issued;
  const form = open("party", target);
  control(form, "ttl_days").value = String(PARTY_DAYS.usual);
  $("#party-issued").hidden = true;
  form.hidden = false;
  $("#party-dialog", HTMLDialogElement).showModal();
  control(form, "name").focus();
}

/** @param {SubmitEvent} event */
async function issuePartyLink(event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.currentTarget);
  const target = acting.target;
  const fields = { role: control(form, "role").value, name: control(form, "name").value, ttl_days: control(form, "ttl_days").value };
  if (!target || refuse(form, checkPartyLink(fields))) return;
  await submitting(form, async () => {
    try {
      /** @type {PartyLink} */
      const link = await requestJson(`/api/archive/sessions/${encodeURIComponent(target.session.id)}/party-links`, {
        method: "POST",
        json: { role: fields.role, name: fields.name.trim(), ttl_days: Number(fields.ttl_days) },
        what: "发放调阅链接失败",
      });
      showPartyLink(link);
      await acting.issued();
    } catch (err) {
      say(form, messageOf(err));
    }
  });
}

/**
 * The link issued, once, to copy and send.
 * @param {PartyLink} link
 */
function showPartyLink(link) {
  $("#party-form").hidden = true;
  $("#party-who").textContent = `${PARTY_LABELS[link.role] || link.role} ${link.name} 的调阅链接`;
  $("#party-url", HTMLInputElement).value = link.url;
  $("#party-copy").textContent = "复制链接";
  $("#party-note").textContent = `有效至 ${formatDateTime(new Date(link.expires_at))}（北京时间）。链接只显示这一次：请复制后发给对方，勿转交他人。`;
  $("#party-issued").hidden = false;
}

/**
 * A tenderer's link is usually for the project's tenderer: its name is filled in.
 * @param {HTMLFormElement} form
 */
function suggestParty(form) {
  const name = control(form, "name");
  const tenderer = acting.target?.project.tenderer || "";
  if (control(form, "role").value === "tenderer" && !name.value.trim()) name.value = tenderer;
  else if (control(form, "role").value === "bidder" && name.value === tenderer) name.value = "";
}

/** The party's link was copied: the form again, for another tenderer or bidder. */
function anotherParty() {
  const form = $("#party-form", HTMLFormElement);
  control(form, "name").value = "";
  $("#party-issued").hidden = true;
  form.hidden = false;
  control(form, "name").focus();
}

/**
 * Wire the dialogs; `changed` shows the project again once a session was ended or re-reviewed.
 * @param {() => Promise<void>} changed
 */
export function initSessionDialogs(changed) {
  acting.changed = changed;
  for (const name of ["end", "review", "party"]) {
    // A refusal said under the form goes once the field it was about is changed.
    const form = $(`#${name}-form`, HTMLFormElement);
    form.addEventListener("input", () => {
      if (/** @type {HTMLElement} */ (form.querySelector(".form-message")).dataset.kind === "error") refuse(form, null);
    });
  }
  $("#end-form", HTMLFormElement).addEventListener("submit", endSession);
  const review = $("#review-form", HTMLFormElement);
  quarterHours(review);
  review.addEventListener("submit", openReview);
  review.addEventListener("input", () => showWhere(review));
  const party = $("#party-form", HTMLFormElement);
  party.addEventListener("submit", issuePartyLink);
  control(party, "role").addEventListener("change", () => suggestParty(party));
  copyField($("#party-url", HTMLInputElement), $("#party-copy"));
  $("#party-another").addEventListener("click", anotherParty);
  for (const button of document.querySelectorAll("dialog [data-close]")) {
    button.addEventListener("click", () => /** @type {HTMLDialogElement} */ (button.closest("dialog")).close());
  }
  // Nothing more to read once the party's link shows: closing it shows nothing new.
  $("#party-dialog").addEventListener("close", () => { $("#party-url", HTMLInputElement).value = ""; });
}
