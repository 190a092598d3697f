// @ts-check
// A trading centre's own people (本中心人员, #centres/<centre>): its administrators, the
// supervisors of its sessions and its ops engineers (运维技术人员), each by their latest personal
// link and its state; one added for so many days, the link shown once to copy and send; a link
// re-issued (the old ones end) or revoked, each with a reason the record keeps. Their links
// reach that centre only (roomserver/policy.py).

import { askLink, hideAnyIssued, hideIssued, initIssuedBox, showIssued } from "/static/admin-linkdialog.js";
import { pageFailed, pageRecovered, places } from "/static/admin-shared.js";
import { requestJson } from "/static/lib/api.js";
import { $, control, el } from "/static/lib/dom.js";
import { messageOf } from "/static/lib/errors.js";
import { refuse, say, submitting } from "/static/lib/forms.js";
import { LINK_STATE_LABELS, ROLE_LABELS } from "/static/lib/labels.js";
import { CENTRE_DAYS, checkCentrePerson, linkDays } from "/static/lib/openingforms.js";
import { formatDateTime, formatShortDateTime } from "/static/lib/time.js";

/** @typedef {import("/static/lib/wire").Centre} Centre */
/** @typedef {import("/static/lib/wire").CentrePerson} CentrePerson */

/** The pages each of a centre's people opens, as the link's note says. @type {Record<string, string>} */
const PAGES = { admin: "管理后台", supervisor: "监督墙", ops: "运维页面" };

/** The centre whose people show, and its people as last read. */
const shown = {
  centre: /** @type {Centre | null} */ (null),
  people: /** @type {CentrePerson[]} */ ([]),
  asked: 0,
};

/**
 * The people's address of a centre.
 * @param {string} centreId
 */
function peopleOf(centreId) {
  return `/api/centres/${encodeURIComponent(centreId)}/people`;
}

/**
 * "运维技术人员 李工".
 * @param {{ role: string, name: string }} person
 */
function whoIs(person) {
  return `${ROLE_LABELS[person.role] || person.role} ${person.name}`;
}

/**
 * Show the people of a centre (none: the card is hidden), read afresh.
 * @param {string} centreId
 */
export async function showCentrePeople(centreId) {
  const mine = ++shown.asked;
  const centre = places.centres.find((c) => c.id === centreId) || null;
  if (centre?.id !== shown.centre?.id) hideAnyIssued("centre-issued");
  shown.centre = centre;
  $("#centre-people").hidden = !centre;
  for (const row of document.querySelectorAll("#centre-rows tr")) {
    if (row instanceof HTMLElement) row.classList.toggle("chosen", row.dataset.centre === centreId);
  }
  if (!centre) return;
  $("#centre-people-title").textContent = `${centre.name} · 本中心人员`;
  try {
    /** @type {{ items: CentrePerson[] }} */
    const answer = await requestJson(peopleOf(centre.id), { what: "交易中心人员读取失败" });
    if (mine !== shown.asked) return;
    shown.people = answer.items;
    render();
    pageRecovered();
  } catch (err) {
    if (mine === shown.asked) pageFailed(`无法读取${centre.name}的人员：${messageOf(err)}`);
  }
}

/** Read the people again (after a change). */
async function reload() {
  if (shown.centre) await showCentrePeople(shown.centre.id);
}

/** @param {CentrePerson} p */
function linkCell(p) {
  const state = el("span", { class: `link-state ${p.state}` }, LINK_STATE_LABELS[p.state] || p.state);
  if (p.state === "active") return [state, el("span", { class: "muted" }, ` 至 ${formatShortDateTime(new Date(p.expires_at))}`)];
  if (p.state === "revoked") return [state, el("span", { class: "muted" }, p.reason ? `（${p.reason}）` : "")];
  return [state, el("span", { class: "muted" }, ` 于 ${formatShortDateTime(new Date(p.expires_at))}`)];
}

/** @param {CentrePerson} p */
function actions(p) {
  return [
    el("button", { class: "btn btn-small", type: "button", dataset: { reissue: p.link_id } }, "重新发放"),
    p.state === "active" ? el("button", { class: "btn btn-small btn-quiet", type: "button", dataset: { revoke: p.link_id } }, "收回") : null,
  ];
}

function render() {
  $("#centre-people-rows").replaceChildren(...shown.people.map((p) =>
    el("tr", { dataset: { link: p.link_id, role: p.role } },
      el("td", {}, ROLE_LABELS[p.role] || p.role),
      el("td", { class: "name" }, p.name),
      el("td", {}, linkCell(p)),
      el("td", { class: "added" }, formatShortDateTime(new Date(p.issued_at))),
      el("td", { class: "actions" }, actions(p)))));
  $("#centre-people-empty").hidden = shown.people.length > 0;
}

/**
 * A centre person's new link, shown once.
 * @param {CentrePerson} person
 */
function showLink(person) {
  if (!person.url) return;
  const page = PAGES[person.role] || "页面";
  showIssued(`${whoIs(person)} 的个人链接`, person.url,
    `凭此链接进入${page}，只能处理${shown.centre?.name || "本中心"}的事务；有效至 ${formatDateTime(new Date(person.expires_at))}（北京时间）。`
    + "链接只显示这一次：请复制后发给本人，勿转交他人。遗失时可重新发放，旧链接随即作废。", "centre-issued");
}

/**
 * Ask why, then revoke or re-issue a centre person's links.
 * @param {CentrePerson} person
 * @param {"revoke" | "reissue"} how
 */
function ask(person, how) {
  const centre = shown.centre;
  if (!centre) return;
  const days = linkDays(person);
  askLink({
    how,
    who: whoIs(person),
    reasonRequired: true,
    text: how === "revoke"
      ? "收回后，此人的链接立即失效，已打开的页面随即断开；需要时可重新发放。"
      : `将发放一个有效期 ${days} 天的新链接，此人现有的链接随即作废，已打开的页面随即断开。`,
    act: async (reason) => {
      const path = `${peopleOf(centre.id)}/${encodeURIComponent(person.link_id)}/${how}`;
      const json = how === "revoke" ? { reason } : { reason, days };
      /** @type {CentrePerson} */
      const answer = await requestJson(path, { method: "POST", json, what: how === "revoke" ? "收回链接失败" : "重新发放失败" });
      if (how === "reissue") showLink(answer);
      else hideIssued(whoIs(person), "centre-issued");
    },
    after: reload,
  });
}

/** @param {SubmitEvent} event */
async function addPerson(event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.currentTarget);
  const centre = shown.centre;
  if (!centre) return;
  const fields = { role: control(form, "role").value, name: control(form, "name").value, days: control(form, "days").value };
  if (refuse(form, checkCentrePerson(fields))) return;
  await submitting(form, async () => {
    try {
      /** @type {CentrePerson} */
      const person = await requestJson(peopleOf(centre.id), {
        method: "POST",
        json: { role: fields.role, name: fields.name.trim(), days: Number(fields.days.trim()) },
        what: "新增人员失败",
      });
      control(form, "name").value = "";
      say(form, `已新增${whoIs(person)}，其个人链接显示在上方。`, "ok");
      showLink(person);
      await reload();
    } catch (err) {
      say(form, messageOf(err));
    }
  });
}

/** Wire the people's list, the form and the link's box. */
export function initCentrePeople() {
  const form = $("#centre-person-form", HTMLFormElement);
  control(form, "days").value = String(CENTRE_DAYS.usual);
  form.addEventListener("submit", addPerson);
  form.addEventListener("input", () => {
    if (/** @type {HTMLElement} */ (form.querySelector(".form-message")).dataset.kind === "error") refuse(form, null);
  });
  $("#centre-people-rows").addEventListener("click", (event) => {
    const data = /** @type {HTMLElement} */ (event.target).closest("button")?.dataset;
    const person = shown.people.find((p) => p.link_id === (data?.reissue || data?.revoke));
    if (!data || !person) return;
    ask(person, data.reissue ? "reissue" : "revoke");
  });
  initIssuedBox("centre-issued");
}
