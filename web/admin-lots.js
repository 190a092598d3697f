// @ts-check
// The project and lot (标段) the console works on: chosen on a project's page or in the bar at
// the top of 开标, 人员与链接 and 专家抽取, named in those sections' addresses
// (#people/<project>/<lot>), and read afresh from the server each time a section shows it.
// 人员与链接 may also name one of the lot's re-reviews (复议): #people/<project>/<lot>/<session>.
// 开标 works on the lot's bid opening, the others on its evaluation session.

import { goTo, venueLabel } from "/static/admin-shared.js";
import { requestJson } from "/static/lib/api.js";
import { $, el } from "/static/lib/dom.js";
import { SESSION_STATE_LABELS } from "/static/lib/labels.js";
import { reviewLabel } from "/static/lib/sessionforms.js";
import { formatDateTime, formatShortDateTime } from "/static/lib/time.js";

/** @typedef {import("/static/lib/wire").Project} Project */
/** @typedef {import("/static/lib/wire").Lot} Lot */
/** @typedef {import("/static/lib/wire").LotSession} LotSession */
/** @typedef {import("/static/lib/wire").LotOpening} LotOpening */

/** The projects a bar offers: the newest ones. */
const RECENT = 100;

/** What a section without a session says to do first. @type {Record<string, string>} */
const NO_SESSION = {
  people: "人员在评标场次中安排：请先在项目中为标段预约评标室并开设评标场次。",
  draws: "可先抽取副场；专家在项目中开设评标场次后抽取。",
};
const NO_OPENING = "投标人和开标人员在开标中安排：请先在“项目与标段”中，在标段上设立开标。";

/** The chosen project (with its lots), lot and session ("": the lot's own), and the newest projects. */
export const chosen = {
  project: /** @type {Project | null} */ (null),
  lotId: "",
  sessionId: "",
  recent: /** @type {Project[]} */ ([]),
};

/** The chosen lot, or null. */
export function chosenLot() {
  return chosen.project?.lots.find((lot) => lot.id === chosen.lotId) || null;
}

/** The chosen lot's chosen session: one of its re-reviews, or its own session (or null). */
export function chosenSession() {
  const lot = chosenLot();
  return lot?.reviews.find((r) => r.id === chosen.sessionId) || lot?.session || null;
}

/**
 * Read a project with its lots; it becomes the chosen one (and its first lot, unless the lot
 * chosen is one of its own).
 * @param {string} projectId
 * @returns {Promise<Project>}
 */
export async function loadProject(projectId) {
  /** @type {Project} */
  const project = await requestJson(`/api/projects/${encodeURIComponent(projectId)}`, { what: "项目读取失败" });
  chosen.project = project;
  if (!project.lots.some((lot) => lot.id === chosen.lotId)) chosen.lotId = project.lots[0]?.id || "";
  return project;
}

/**
 * The lot a section's address names (`[project, lot]`), or the one chosen before; the newest
 * projects are read for the bar meanwhile.
 * @param {string[]} args
 */
export async function lotFromAddress([projectId, lotId, sessionId]) {
  if (projectId) chosen.lotId = lotId || "";
  chosen.sessionId = sessionId || "";
  const which = projectId || chosen.project?.id;
  const [recent] = await Promise.all([
    requestJson(`/api/projects?per_page=${RECENT}`, { what: "项目读取失败" }),
    which ? loadProject(which) : null,
  ]);
  chosen.recent = recent.items;
  return chosenLot();
}

/**
 * The address of a section for a lot: "people/<project>/<lot>", and "/<session>" after it for
 * one of the lot's re-reviews.
 * @param {string} section
 * @param {string} projectId
 * @param {string} lotId
 * @param {string} [sessionId]
 */
export function lotAddress(section, projectId, lotId, sessionId = "") {
  return [section, projectId, lotId, ...(sessionId ? [sessionId] : [])].map(encodeURIComponent).join("/");
}

/**
 * "标段 01 · 施工".
 * @param {Lot} lot
 */
export function lotLabel(lot) {
  return `标段 ${lot.code} · ${lot.name}`;
}

/**
 * A session's venues in words: "主场 沈阳第一评标室（沈阳）；副场 大连第一评标室（大连）".
 * @param {LotSession} session
 */
export function sessionVenues(session) {
  const subs = session.sub_venue_ids.map(venueLabel).join("、");
  return `主场 ${venueLabel(session.main_venue_id)}${subs ? `；副场 ${subs}` : "；无副场"}`;
}

/**
 * A session's state, start and venues, as a line of elements.
 * @param {LotSession} session
 */
export function sessionLine(session) {
  return [
    el("span", { class: `pill state-${session.state}` }, SESSION_STATE_LABELS[session.state] || session.state),
    el("span", {}, `计划开始 ${formatDateTime(new Date(session.scheduled_start))}`),
    el("span", {}, sessionVenues(session)),
  ];
}

/**
 * A lot's opening's phase, deadline and room, as a line of elements.
 * @param {LotOpening} opening
 */
export function openingLine(opening) {
  return [
    el("span", { class: `pill state-${opening.state}` }, opening.phase_label),
    el("span", {}, `投标截止 ${formatDateTime(new Date(opening.deadline))}`),
    el("span", {}, `开标室 ${venueLabel(opening.venue_id)}`),
    el("span", {}, `投标人 ${opening.bidders} 家`),
  ];
}

/**
 * Fill a section's bar: the project and lot to choose, and the lot's session (or what to do
 * first when it has none); in 开标, the lot's opening.
 * @param {string} section
 */
export function renderLotBar(section) {
  const bar = $(`[data-lot-bar="${section}"]`);
  const { project } = chosen;
  const projects = [...chosen.recent];
  if (project && !projects.some((p) => p.id === project.id)) projects.unshift(project);
  const projectSelect = el("select", { name: "project", "aria-label": "项目" },
    el("option", { value: "" }, projects.length ? "请选择项目" : "还没有项目"),
    projects.map((p) => el("option", { value: p.id, selected: p.id === project?.id }, `${p.code} ${p.name}`)));
  const lot = chosenLot();
  const opening = section === "opening";
  const missing = (/** @type {Lot} */ l) => {
    if (opening) return l.opening ? "" : "（未设立开标）";
    return l.session ? "" : "（未开设评标场次）";
  };
  const lotSelect = el("select", { name: "lot", "aria-label": "标段", disabled: !project },
    (project?.lots || []).map((l) => el("option", { value: l.id, selected: l.id === lot?.id }, `${lotLabel(l)}${missing(l)}`)));
  // 人员与链接 also serves the lot's re-reviews, which have people of their own.
  const reviews = section === "people" ? lot?.reviews || [] : [];
  const session = reviews.length ? chosenSession() : lot?.session || null;
  const sessionSelect = reviews.length && lot?.session
    ? el("select", { name: "session", "aria-label": "评标场次" },
      el("option", { value: "", selected: session?.id === lot.session.id }, `评标 ${formatShortDateTime(new Date(lot.session.scheduled_start))}`),
      reviews.map((r, i) => el("option", { value: r.id, selected: r.id === session?.id },
        `${reviewLabel(i)} ${formatShortDateTime(new Date(r.scheduled_start))}`)))
    : null;
  let about;
  if (!project) about = el("p", { class: "muted" }, "请先选择项目和标段；项目在“项目与标段”中录入。");
  else if (opening) {
    about = lot?.opening
      ? el("p", { class: "lot-about" }, openingLine(lot.opening))
      : el("p", { class: "lot-about" }, el("span", { class: "pill state-none" }, "未设立开标"), el("span", {}, NO_OPENING));
  } else if (!session) {
    about = el("p", { class: "lot-about" }, el("span", { class: "pill state-none" }, "未开设评标场次"),
      el("span", {}, NO_SESSION[section] || ""));
  } else about = el("p", { class: "lot-about" }, sessionLine(session));
  bar.replaceChildren(
    el("div", { class: "lot-pick" },
      el("label", { class: "inline" }, "项目 ", projectSelect),
      el("label", { class: "inline" }, "标段 ", lotSelect),
      sessionSelect ? el("label", { class: "inline" }, "场次 ", sessionSelect) : null,
      project ? el("button", { class: "link", type: "button", dataset: { openProject: project.id } }, "打开项目") : null),
    about);
}

/** Wire the bars: a project or lot chosen opens the section for it. */
export function initLotBars() {
  for (const bar of document.querySelectorAll("[data-lot-bar]")) {
    if (!(bar instanceof HTMLElement)) continue;
    const section = bar.dataset.lotBar || "";
    bar.addEventListener("change", (event) => {
      const target = /** @type {HTMLSelectElement} */ (event.target);
      const project = /** @type {HTMLSelectElement | null} */ (bar.querySelector("select[name=project]"))?.value || "";
      if (target.name === "project") goTo(project ? lotAddress(section, project, "") : section);
      const lot = /** @type {HTMLSelectElement | null} */ (bar.querySelector("select[name=lot]"))?.value || "";
      if (target.name === "lot") goTo(lotAddress(section, project, target.value));
      if (target.name === "session") goTo(lotAddress(section, project, lot, target.value));
    });
    bar.addEventListener("click", (event) => {
      const id = /** @type {HTMLElement} */ (event.target).closest("button")?.dataset.openProject;
      if (id) goTo(`projects/${encodeURIComponent(id)}`);
    });
  }
}
