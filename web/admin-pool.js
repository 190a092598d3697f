// @ts-check
// The expert pool (专家库): a search of it a page at a time, and its import from the expert
// management system's list, uploaded (CSV or JSON) or pasted. The list is read in the page
// first (web/lib/pool.js): what it holds is counted, and a bad row is named by its line,
// before anything is sent; experts are added or updated by their number.

import { PagedSearch, pageFailed, pageRecovered } from "/static/admin-shared.js";
import { requestJson } from "/static/lib/api.js";
import { $, control, el } from "/static/lib/dom.js";
import { messageOf } from "/static/lib/errors.js";
import { say, submitting } from "/static/lib/forms.js";
import { parsePool } from "/static/lib/pool.js";

/** @typedef {import("/static/lib/wire").PoolPage} PoolPage */
/** @typedef {import("/static/lib/wire").PoolExpert} PoolExpert */

const PER_PAGE = 20;
/** The most a list file may weigh (5000 experts take well under this). */
const MAX_FILE_BYTES = 5 * 1024 * 1024;

/** The pool search (made when the page is wired). @type {PagedSearch | null} */
let search = null;

/** Ask for the search's current page and show it. */
export async function searchPool() {
  if (!search) return;
  try {
    /** @type {PoolPage} */
    const answer = await requestJson(`/api/experts/pool?${search.query()}`, { what: "专家库查询失败" });
    render(answer.items, search.narrowed());
    search.shown(answer.total);
    pageRecovered();
  } catch (err) {
    pageFailed(`无法查询专家库：${messageOf(err)}`);
  }
}

/**
 * @param {PoolExpert[]} experts
 * @param {boolean} narrowed
 */
function render(experts, narrowed) {
  $("#pool-rows").replaceChildren(...experts.map((e) =>
    el("tr", { dataset: { expert: e.external_id }, class: e.active ? "" : "inactive" },
      el("td", { class: "code" }, e.external_id),
      el("td", { class: "name" }, e.name),
      el("td", {}, e.specialties.join("、")),
      el("td", {}, e.city),
      el("td", {}, e.employer || el("span", { class: "muted" }, "—")),
      el("td", {}, e.id_last4 ? `尾号 ${e.id_last4}` : el("span", { class: "muted" }, "—")),
      el("td", {}, e.active ? "可抽取" : el("span", { class: "muted" }, "暂停抽取")))));
  const empty = $("#pool-empty");
  empty.hidden = experts.length > 0;
  empty.textContent = narrowed ? "没有符合条件的专家。" : "专家库还是空的：请在右侧导入专家管理系统提供的名单。";
}

/**
 * Say under the list's field what the page read from it: how many experts, or the problems.
 * @param {HTMLFormElement} form
 */
function preview(form) {
  const text = control(form, "text").value;
  const node = $("#pool-preview");
  if (!text.trim()) {
    node.replaceChildren();
    return null;
  }
  const { experts, problems } = parsePool(text);
  node.dataset.kind = problems.length ? "error" : "ok";
  node.replaceChildren(...(problems.length
    ? problems.map((p) => el("span", {}, p))
    : [el("span", {}, `读取到 ${experts.length} 名专家：${experts.slice(0, 3).map((e) => e.name).join("、")}${experts.length > 3 ? " 等" : ""}`)]));
  return { experts, problems };
}

/** @param {SubmitEvent} event */
async function importPool(event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.currentTarget);
  const read = preview(form);
  if (!read) {
    say(form, "请选择名单文件，或把名单粘贴到上面");
    control(form, "text").focus();
    return;
  }
  if (read.problems.length) {
    say(form, "名单有误，请改正上面所列的行后再导入");
    return;
  }
  await submitting(form, async () => {
    try {
      /** @type {{ added: number, updated: number }} */
      const answer = await requestJson("/api/experts/pool", { method: "POST", json: { experts: read.experts }, what: "导入失败" });
      form.reset();
      $("#pool-preview").replaceChildren();
      say(form, `已导入：新增 ${answer.added} 名，更新 ${answer.updated} 名`, "ok");
      await search?.ask({ q: "", page: 1 });
    } catch (err) {
      say(form, messageOf(err));
    }
  });
}

/** Wire the search, the pager and the import form (a file chosen is read into the text). */
export function initPool() {
  search = new PagedSearch("pool", PER_PAGE, "名", searchPool);
  const form = $("#pool-form", HTMLFormElement);
  form.addEventListener("submit", importPool);
  control(form, "text").addEventListener("input", () => {
    say(form, "");
    preview(form);
  });
  control(form, "file").addEventListener("change", async () => {
    const file = /** @type {HTMLInputElement} */ (control(form, "file")).files?.[0];
    if (!file) return;
    if (file.size > MAX_FILE_BYTES) {
      say(form, "名单文件不能超过 5 MB");
      return;
    }
    control(form, "text").value = await file.text();
    say(form, "");
    preview(form);
  });
}
