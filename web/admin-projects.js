// @ts-check
// The console's projects (项目与标段): a search of the projects a page at a time, the form that
// enters a project with its lots, and a project's own page (admin-project.js) at
// #projects/<project>.

import { hideProject, initProject, showProject } from "/static/admin-project.js";
import {
  centreOptions, goTo, onPlacesChanged, PagedSearch, pageFailed, pageRecovered, places, scope,
} from "/static/admin-shared.js";
import { requestJson } from "/static/lib/api.js";
import { $, control, el } from "/static/lib/dom.js";
import { messageOf } from "/static/lib/errors.js";
import { refuse, say, submitting } from "/static/lib/forms.js";
import { checkProject, MAX_LOTS } from "/static/lib/projectforms.js";
import { formatDateTime } from "/static/lib/time.js";

/** @typedef {import("/static/lib/wire").Project} Project */
/** @typedef {import("/static/lib/wire").ProjectPage} ProjectPage */

const PER_PAGE = 15;

/** The project search (made when the page is wired). @type {PagedSearch | null} */
let search = null;

/**
 * Show the section: a project's page when the address names one, else the list.
 * @param {string[]} args
 */
export async function showProjects([projectId]) {
  $("#project-list").hidden = Boolean(projectId);
  if (projectId) {
    if (await showProject(projectId)) return;
    // Not to be read (another centre's, say): the list instead, under the banner saying why.
    $("#project-list").hidden = false;
    await searchProjects({ recover: false });
    return;
  }
  hideProject();
  await searchProjects();
}

/**
 * Ask for the search's current page and show it (and the page works again, unless told to
 * leave the banner).
 * @param {{ recover?: boolean }} [options]
 */
async function searchProjects({ recover = true } = {}) {
  if (!search) return;
  try {
    /** @type {ProjectPage} */
    const answer = await requestJson(`/api/projects?${search.query()}`, { what: "项目查询失败" });
    renderProjects(answer.items, search.narrowed());
    search.shown(answer.total);
    if (recover) pageRecovered();
  } catch (err) {
    pageFailed(`无法查询项目：${messageOf(err)}`);
  }
}

/**
 * @param {Project[]} projects
 * @param {boolean} narrowed
 */
function renderProjects(projects, narrowed) {
  $("#project-rows").replaceChildren(...projects.map((p) =>
    el("tr", { dataset: { project: p.id } },
      el("td", { class: "code" }, p.code),
      el("td", { class: "name" }, p.name),
      el("td", {}, p.tenderer),
      el("td", {}, places.centres.find((c) => c.id === p.centre_id)?.name || ""),
      el("td", { class: "added" }, formatDateTime(new Date(p.created_at))),
      el("td", { class: "actions" },
        el("button", { class: "btn btn-small", type: "button", dataset: { openProject: p.id } }, "打开")))));
  const empty = $("#project-empty");
  empty.hidden = projects.length > 0;
  empty.textContent = narrowed ? "没有符合条件的项目。" : "还没有项目，请在右侧录入。";
}

// ---- entering a project -------------------------------------------------------------------

/**
 * One lot's fields in the project form.
 * @param {number} i
 * @param {{ code: string, name: string }} lot
 */
function lotRow(i, lot) {
  return el("div", { class: "lot-row" },
    el("input", { name: `lot_code_${i}`, value: lot.code, maxlength: 100, placeholder: "编号", "aria-label": `第 ${i + 1} 个标段的编号`, autocomplete: "off" }),
    el("input", { name: `lot_name_${i}`, value: lot.name, maxlength: 200, placeholder: "如：施工、监理", "aria-label": `第 ${i + 1} 个标段的名称`, autocomplete: "off" }),
    el("button", { class: "link", type: "button", dataset: { removeLot: i }, "aria-label": `删除第 ${i + 1} 个标段` }, "删除"));
}

/** @param {HTMLFormElement} form */
function readLots(form) {
  return [...form.querySelectorAll(".lot-row")].map((_, i) => ({
    code: control(form, `lot_code_${i}`).value, name: control(form, `lot_name_${i}`).value,
  }));
}

/**
 * Show these lots in the form (names numbered in order), one empty lot when none.
 * @param {HTMLFormElement} form
 * @param {Array<{ code: string, name: string }>} lots
 */
function showLots(form, lots) {
  const shown = lots.length ? lots : [{ code: "01", name: "" }];
  $("#project-lot-rows").replaceChildren(...shown.map((lot, i) => lotRow(i, lot)));
  for (const button of form.querySelectorAll("[data-remove-lot]")) {
    if (button instanceof HTMLButtonElement) button.hidden = shown.length === 1;
  }
  control(form, "add_lot").toggleAttribute("disabled", shown.length >= MAX_LOTS);
}

/** @param {SubmitEvent} event */
async function addProject(event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.currentTarget);
  const fields = {
    centre_id: control(form, "centre_id").value,
    code: control(form, "code").value,
    name: control(form, "name").value,
    tenderer: control(form, "tenderer").value,
    lots: readLots(form),
  };
  if (refuse(form, checkProject(fields))) return;
  await submitting(form, async () => {
    try {
      /** @type {Project} */
      const project = await requestJson("/api/projects", {
        method: "POST",
        json: {
          centre_id: fields.centre_id, code: fields.code.trim(), name: fields.name.trim(), tenderer: fields.tenderer.trim(),
          lots: fields.lots.map((lot) => ({ code: lot.code.trim(), name: lot.name.trim() })),
        },
        what: "录入项目失败",
      });
      for (const name of ["code", "name", "tenderer"]) control(form, name).value = "";
      showLots(form, []);
      say(form, "");
      goTo(`projects/${encodeURIComponent(project.id)}`);
    } catch (err) {
      say(form, messageOf(err));
    }
  });
}

/** Wire the search, the list and the form, and the project's page. */
export function initProjects() {
  initProject();
  search = new PagedSearch("project", PER_PAGE, "个", searchProjects);
  $("#project-rows").addEventListener("click", (event) => {
    const id = /** @type {HTMLElement} */ (event.target).closest("button")?.dataset.openProject;
    if (id) goTo(`projects/${encodeURIComponent(id)}`);
  });
  const form = $("#project-form", HTMLFormElement);
  form.addEventListener("submit", addProject);
  showLots(form, []);
  control(form, "add_lot").addEventListener("click", () => {
    const lots = readLots(form);
    showLots(form, [...lots, { code: String(lots.length + 1).padStart(2, "0"), name: "" }]);
    control(form, `lot_name_${lots.length}`).focus();
  });
  $("#project-lot-rows").addEventListener("click", (event) => {
    const index = /** @type {HTMLElement} */ (event.target).closest("button")?.dataset.removeLot;
    if (index !== undefined) showLots(form, readLots(form).filter((_, i) => i !== Number(index)));
  });
  // An administrator of one centre has that centre's projects only, and enters them for it.
  if (scope.centre) search.set({ centre_id: scope.centre.id });
  onPlacesChanged(() => {
    centreOptions($("#project-filter-centre", HTMLSelectElement), "全部交易中心", { mine: true });
    const centre = $("#project-form-centre", HTMLSelectElement);
    const hadChoice = centre.value;
    centreOptions(centre, "请选择交易中心", { mine: true });
    if (!hadChoice && !centre.value && places.centres.length >= 1) centre.value = places.centres[0].id;
  });
}
