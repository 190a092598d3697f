// @ts-check
// A project's documents (项目资料, 7.2.5-1) on its page: each with its kind, name, when it was
// added, its size and digests (SHA-256 and SM3), to download; and the form that uploads one,
// sent as it is with the Content-Type of its name's ending.

import { personLabel } from "/static/admin-shared.js";
import { requestJson } from "/static/lib/api.js";
import { $, control, el } from "/static/lib/dom.js";
import { messageOf } from "/static/lib/errors.js";
import { refuse, say, submitting } from "/static/lib/forms.js";
import { DOCUMENT_KIND_LABELS } from "/static/lib/labels.js";
import { checkDocument, documentName, documentType, sizeText } from "/static/lib/projectforms.js";
import { formatDateTime } from "/static/lib/time.js";

/** @typedef {import("/static/lib/wire").Project} Project */
/** @typedef {import("/static/lib/wire").ProjectDocument} ProjectDocument */

/** The project whose documents show, and the name the form took from the file chosen. */
const shown = { project: /** @type {Project | null} */ (null), autoName: "" };

/**
 * Read the project's documents and show them.
 * @param {Project} project
 */
export async function showDocuments(project) {
  if (shown.project?.id !== project.id) {
    const form = $("#document-form", HTMLFormElement);
    form.reset();
    refuse(form, null);
  }
  shown.project = project;
  /** @type {{ items: ProjectDocument[] }} */
  const answer = await requestJson(`/api/projects/${encodeURIComponent(project.id)}/documents`, { what: "项目资料读取失败" });
  render(answer.items);
}

/**
 * A digest, its start shown and the whole in its title.
 * @param {string} name
 * @param {string} hex
 */
function digest(name, hex) {
  return el("span", { class: "digest" }, `${name} `, el("code", { title: hex }, `${hex.slice(0, 16)}…`));
}

/** @param {ProjectDocument[]} documents */
function render(documents) {
  $("#documents-empty").hidden = documents.length > 0;
  $("#documents").replaceChildren(...[...documents].reverse().map((d) =>
    el("li", { dataset: { sha256: d.sha256 } },
      el("div", { class: "doc-line" },
        el("span", { class: "pill" }, DOCUMENT_KIND_LABELS[d.kind] || d.kind),
        el("b", { class: "doc-name" }, d.name),
        el("a", { class: "btn btn-small", href: d.url, download: "" }, "下载")),
      el("div", { class: "doc-facts muted" },
        `${formatDateTime(new Date(d.added_at))} · ${sizeText(d.size)} · ${personLabel(d.added_by)}`),
      el("div", { class: "doc-digests" }, digest("SHA-256", d.sha256), digest("SM3", d.sm3)))));
}

/** @param {SubmitEvent} event */
async function upload(event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.currentTarget);
  const project = shown.project;
  if (!project) return;
  const file = /** @type {HTMLInputElement} */ (control(form, "file")).files?.[0] || null;
  const fields = { kind: control(form, "kind").value, name: control(form, "name").value, file };
  if (refuse(form, checkDocument(fields)) || !file) return;
  const query = new URLSearchParams({ kind: fields.kind, name: fields.name.trim() });
  await submitting(form, async () => {
    try {
      /** @type {ProjectDocument} */
      const added = await requestJson(`/api/projects/${encodeURIComponent(project.id)}/documents?${query}`, {
        method: "POST", body: file, headers: { "Content-Type": documentType(file.name) }, what: "上传失败",
      });
      form.reset();
      shown.autoName = "";
      say(form, `已存档：${added.name}（${sizeText(added.size)}，SHA-256 ${added.sha256.slice(0, 12)}…）`, "ok");
      await showDocuments(project);
    } catch (err) {
      say(form, messageOf(err));
    }
  });
}

/** Wire the upload form: its kinds, and the name taken from the file until one is typed. */
export function initDocuments() {
  const form = $("#document-form", HTMLFormElement);
  $("#document-kind", HTMLSelectElement).replaceChildren(
    ...Object.entries(DOCUMENT_KIND_LABELS).map(([value, label]) => el("option", { value }, label)));
  form.addEventListener("submit", upload);
  control(form, "file").addEventListener("change", () => {
    const file = /** @type {HTMLInputElement} */ (control(form, "file")).files?.[0];
    const name = control(form, "name");
    if (file && (!name.value.trim() || name.value === shown.autoName)) {
      shown.autoName = documentName(file.name);
      name.value = shown.autoName;
    }
  });
}
