// @ts-check
// The administration console (管理后台) of the province's administrators, opened from the link
// `roomserver admin create 姓名` prints, and of a trading centre's (links given under 本中心人员):
// trading centres and their own people, evaluation rooms and their seat bookings; projects and
// their lots, a lot's bid opening with its bidders and people, a lot's session, its people and
// their links; the expert pool and the draws of sub venues and experts. All through the REST
// API, in Beijing time whatever the browser's zone. Each section has its address (#centres,
// #venues, #bookings, #vacancy, #projects, #opening, #people, #draws, #pool), a centre's,
// project's or lot's after it (#centres/<centre>, #projects/<project>,
// #opening/<project>/<lot>, #people/<project>/<lot>, #draws/<project>/<lot>).
//
// An administrator of one centre (`GET /api/me` names its centre) has the console say whose it
// is, finds its centre chosen wherever a centre is asked for, and is not offered what is the
// province's: adding a centre and the expert pool (the server refuses them too). Whatever the
// server refuses is said in its words, under the form or in the banner.
//
// document.body.dataset.state: loading | ready | error.

import { initCalendar, refreshCalendar } from "/static/admin-calendar.js";
import { initDraws, showDraws } from "/static/admin-draws.js";
import { initLotBars } from "/static/admin-lots.js";
import { initOpening, showOpening } from "/static/admin-opening.js";
import { initPeople, showPeople } from "/static/admin-people.js";
import { initPlaces, searchVenues, showCentres } from "/static/admin-places.js";
import { initPool, searchPool } from "/static/admin-pool.js";
import { initProjects, showProjects } from "/static/admin-projects.js";
import { pageFailed, pageRecovered, places, reloadPlaces, scope } from "/static/admin-shared.js";
import { initVacancy } from "/static/admin-vacancy.js";
import { requestJson } from "/static/lib/api.js";
import { startClock } from "/static/lib/chrome.js";
import { $ } from "/static/lib/dom.js";
import { messageOf, pageErrorText } from "/static/lib/errors.js";
import { ROLE_LABELS } from "/static/lib/labels.js";
import { login } from "/static/lib/session.js";

/** What showing each section does: read what it lists afresh (`args`: what its address names). */
const SECTIONS = /** @type {Record<string, (args: string[]) => Promise<void>>} */ ({
  centres: showCentres,
  venues: searchVenues,
  bookings: refreshCalendar,
  vacancy: async () => {},
  projects: showProjects,
  opening: showOpening,
  people: showPeople,
  draws: showDraws,
  // The pool is the province's: a centre's administrator is told so, and nothing is asked.
  pool: async () => {
    if (!scope.centre) await searchPool();
  },
});

/** The section the address names, and its arguments; without one, where a new administrator starts. */
function currentSection() {
  const [name, ...args] = window.location.hash.slice(1).split("/").map(decodeURIComponent);
  if (Object.hasOwn(SECTIONS, name)) return { name, args };
  if (places.centres.length === 0) return { name: "centres", args: [] };
  return { name: places.venues.length === 0 ? "venues" : "projects", args: [] };
}

async function show() {
  const { name, args } = currentSection();
  // What failed was the section left (a refusal of what it asked for): the next one starts clean.
  if (document.body.dataset.state === "error") pageRecovered();
  for (const section of document.querySelectorAll("main > .section")) {
    if (section instanceof HTMLElement) section.hidden = section.dataset.section !== name;
  }
  for (const link of document.querySelectorAll(".menu a")) {
    if (!(link instanceof HTMLElement)) continue;
    if (link.dataset.section === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.body.dataset.section = name;
  await SECTIONS[name](args);
}

/** Whose console it is: the province's, or one centre's (本中心：…), without the province's own. */
function showWhose() {
  const centre = scope.centre;
  document.body.dataset.scope = centre ? "centre" : "province";
  $("#scope").textContent = centre ? `本中心：${centre.name}` : "省级管理员";
  $("#scope").title = centre ? `只能管理${centre.name}的评标室、预约、项目和场次` : "管理全省各交易中心";
  for (const node of document.querySelectorAll("[data-province]")) {
    if (node instanceof HTMLElement) node.hidden = centre !== null;
  }
  $("#pool-province").hidden = centre === null;
}

async function main() {
  window.addEventListener("unhandledrejection", (event) => pageFailed(pageErrorText(event.reason)));
  startClock();
  /** @type {import("/static/lib/wire").Me} */
  let me;
  try {
    await login();
    me = await requestJson("/api/me", { what: "身份验证失败" });
  } catch (err) {
    $("#who").textContent = "未登录";
    pageFailed(messageOf(err));
    return;
  }
  $("#who").textContent = `${ROLE_LABELS[me.role] || me.role}${me.name ? ` · ${me.name}` : ""}`;
  if (me.role !== "admin") {
    pageFailed("管理后台仅供管理员使用，请打开管理员的个人链接。");
    return;
  }
  scope.centre = me.centre || null;
  showWhose();
  initPlaces();
  initCalendar();
  initVacancy();
  initLotBars();
  initProjects();
  initOpening();
  initPeople();
  initDraws();
  initPool();
  try {
    await reloadPlaces();
  } catch (err) {
    pageFailed(`无法读取交易中心和评标室：${messageOf(err)}`);
    return;
  }
  window.addEventListener("hashchange", show);
  await show();
  if (document.body.dataset.state === "loading") document.body.dataset.state = "ready";
}

main();
