// @ts-check
// A lot's bid opening (开标) set up from its card on the project's page, in a dialog: the
// opening room (a room of the project's centre, where the host sits), the bid deadline in
// Beijing time (when the opening starts), the fields read out (投标报价 in 元 and 工期 in 日历天
// to begin with, changed or added to as the tender documents say), the fewest valid bids, the
// decryption time limit, the benchmark-price parameters drawn at the opening with their
// candidate values, and whether the public may watch. The form says what it refuses before
// sending; the server still decides, and its refusal is shown in its words. Once set up, the
// console goes on to the opening's bidders and people (admin-opening.js).

import { chosen, lotAddress, lotLabel } from "/static/admin-lots.js";
import { goTo, places } from "/static/admin-shared.js";
import { requestJson } from "/static/lib/api.js";
import { addDays, momentText, startOfBeijingDay } from "/static/lib/calendar.js";
import { $, control, el } from "/static/lib/dom.js";
import { messageOf } from "/static/lib/errors.js";
import { quarterHours, readWhen, refuse, say, submitting, writeWhen } from "/static/lib/forms.js";
import {
  checkOpening, DEFAULT_FIELDS, FIELD_KINDS, freeName, OPENING_LIMITS, openingBody,
} from "/static/lib/openingforms.js";
import { beijingIso } from "/static/lib/time.js";

/** @typedef {import("/static/lib/wire").Project} Project */
/** @typedef {import("/static/lib/wire").Lot} Lot */
/** @typedef {import("/static/lib/openingforms.js").OpeningField} OpeningField */
/** A parameter as the form holds it: its candidates as typed. @typedef {{ name: string, label: string, candidates: string }} ParamRow */

const HOUR_MS = 3600 * 1000;
/** The deadline offered to begin with: tomorrow at 09:30, Beijing time. */
const DEADLINE_HOURS = 9.5;

/** The lot the dialog sets up the opening of, and its rows of fields and parameters. */
const setting = {
  project: /** @type {Project | null} */ (null),
  lot: /** @type {Lot | null} */ (null),
  fields: /** @type {OpeningField[]} */ ([]),
  params: /** @type {ParamRow[]} */ ([]),
};

const form = () => $("#opening-form", HTMLFormElement);

/**
 * Ask for a lot's opening: the dialog, filled with what the tender documents usually say.
 * @param {Project} project
 * @param {Lot} lot
 */
export function askOpening(project, lot) {
  Object.assign(setting, { project, lot, fields: DEFAULT_FIELDS.map((f) => ({ ...f })), params: [] });
  const node = form();
  node.reset();
  refuse(node, null);
  const centre = places.centres.find((c) => c.id === project.centre_id);
  const facts = [["标段", `${project.code} ${lotLabel(lot)}`], ["项目", project.name], ["招标人", project.tenderer], ["交易中心", centre?.name || "—"]];
  $("#opening-facts").replaceChildren(...facts.map(([dt, dd]) => el("div", {}, el("dt", {}, dt), el("dd", {}, dd))));
  // The opening room is the project's centre's: the host sits there.
  const rooms = places.venues.filter((v) => v.centre_id === project.centre_id);
  const venue = control(node, "venue_id");
  venue.replaceChildren(el("option", { value: "" }, rooms.length ? "请选择开标室" : "本中心还没有评标室"),
    ...rooms.map((v) => el("option", { value: v.id }, `${v.name}（${v.city}）`)));
  venue.value = rooms[0]?.id || "";
  writeWhen(node, "deadline", new Date(addDays(startOfBeijingDay(new Date()), 1).getTime() + DEADLINE_HOURS * HOUR_MS));
  control(node, "min_bids").value = String(OPENING_LIMITS.minBids.usual);
  control(node, "decryption_minutes").value = String(OPENING_LIMITS.minutes.usual);
  renderRows();
  showDeadline();
  $("#opening-dialog", HTMLDialogElement).showModal();
}

/** The deadline in words under its fields. */
function showDeadline() {
  const deadline = readWhen(form(), "deadline");
  /** @type {HTMLElement} */ (form().querySelector(".slot-line")).textContent = deadline
    ? `${momentText(deadline)} 投标截止，随即开标（北京时间）` : "";
}

/** What the rows hold now, read back from their controls. */
function readRows() {
  const node = form();
  setting.fields = setting.fields.map((f, i) => ({
    name: f.name, label: control(node, `field_label_${i}`).value, kind: control(node, `field_kind_${i}`).value,
    unit: control(node, `field_unit_${i}`).value,
  }));
  setting.params = setting.params.map((p, i) => ({
    name: p.name, label: control(node, `param_label_${i}`).value, candidates: control(node, `param_candidates_${i}`).value,
  }));
}

/** Show the rows of fields and parameters. */
function renderRows() {
  const kinds = Object.entries(FIELD_KINDS);
  $("#opening-fields").replaceChildren(...setting.fields.map((f, i) => el("div", { class: "opening-row field-row", dataset: { name: f.name } },
    el("input", { name: `field_label_${i}`, value: f.label, maxlength: OPENING_LIMITS.label, placeholder: "名称，如：质量标准", "aria-label": `第 ${i + 1} 个字段的名称`, autocomplete: "off" }),
    el("select", { name: `field_kind_${i}`, "aria-label": `第 ${i + 1} 个字段的类型` },
      kinds.map(([value, label]) => el("option", { value, selected: value === f.kind }, label))),
    el("input", { name: `field_unit_${i}`, value: f.unit, maxlength: OPENING_LIMITS.unit, placeholder: "单位", "aria-label": `第 ${i + 1} 个字段的单位`, autocomplete: "off" }),
    el("button", { class: "link", type: "button", dataset: { removeField: i }, hidden: setting.fields.length === 1, "aria-label": `删除第 ${i + 1} 个字段` }, "删除"))));
  $("#opening-params").replaceChildren(...setting.params.map((p, i) => el("div", { class: "opening-row param-row", dataset: { name: p.name } },
    el("input", { name: `param_label_${i}`, value: p.label, maxlength: OPENING_LIMITS.label, placeholder: "参数，如：下浮率K", "aria-label": `第 ${i + 1} 个参数的名称`, autocomplete: "off" }),
    el("input", { name: `param_candidates_${i}`, value: p.candidates, placeholder: "备选值，如：1%、2%、3%", "aria-label": `第 ${i + 1} 个参数的备选值`, autocomplete: "off" }),
    el("button", { class: "link", type: "button", dataset: { removeParam: i }, "aria-label": `删除第 ${i + 1} 个参数` }, "删除"))));
  const node = form();
  control(node, "add_field").toggleAttribute("disabled", setting.fields.length >= OPENING_LIMITS.fields);
  control(node, "add_param").toggleAttribute("disabled", setting.params.length >= OPENING_LIMITS.parameters);
  $("#opening-params-empty").hidden = setting.params.length > 0;
}

/** @param {MouseEvent} event */
function onRowClick(event) {
  const button = /** @type {HTMLElement} */ (event.target).closest("button");
  if (!button) return;
  readRows();
  const taken = (/** @type {Array<{ name: string }>} */ rows) => rows.map((r) => r.name);
  if (button.name === "add_field") setting.fields.push({ name: freeName("field", taken(setting.fields)), label: "", kind: "text", unit: "" });
  else if (button.name === "add_param") setting.params.push({ name: freeName("param", taken(setting.params)), label: "", candidates: "" });
  else if (button.dataset.removeField !== undefined) setting.fields.splice(Number(button.dataset.removeField), 1);
  else if (button.dataset.removeParam !== undefined) setting.params.splice(Number(button.dataset.removeParam), 1);
  else return;
  renderRows();
  if (button.name === "add_field") control(form(), `field_label_${setting.fields.length - 1}`).focus();
  if (button.name === "add_param") control(form(), `param_label_${setting.params.length - 1}`).focus();
}

/** @param {SubmitEvent} event */
async function setUp(event) {
  event.preventDefault();
  const { project, lot } = setting;
  const node = form();
  if (!project || !lot) return;
  readRows();
  const fields = {
    venue_id: control(node, "venue_id").value,
    deadline: readWhen(node, "deadline"),
    fields: setting.fields,
    min_bids: control(node, "min_bids").value,
    decryption_minutes: control(node, "decryption_minutes").value,
    benchmark: setting.params,
    public: /** @type {HTMLInputElement} */ (control(node, "public")).checked,
  };
  if (refuse(node, checkOpening(fields, new Date())) || !fields.deadline) return;
  const body = openingBody({ ...fields, deadline: fields.deadline }, beijingIso);
  await submitting(node, async () => {
    try {
      await requestJson(`/api/lots/${encodeURIComponent(lot.id)}/opening`, { method: "POST", json: body, what: "设立开标失败" });
    } catch (err) {
      say(node, messageOf(err));
      return;
    }
    $("#opening-dialog", HTMLDialogElement).close();
    // On to its bidders and people (the project is read afresh there).
    chosen.lotId = lot.id;
    goTo(lotAddress("opening", project.id, lot.id));
  });
}

/** Wire the dialog. */
export function initOpeningSetup() {
  const node = form();
  quarterHours(node);
  node.addEventListener("submit", setUp);
  node.addEventListener("click", onRowClick);
  node.addEventListener("input", (event) => {
    if (/** @type {HTMLElement} */ (node.querySelector(".form-message")).dataset.kind === "error") refuse(node, null);
    const name = /** @type {HTMLInputElement} */ (event.target).name || "";
    if (name.startsWith("deadline_")) showDeadline();
  });
}

