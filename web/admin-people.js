// @ts-check
// A lot's session's people (人员与链接), or one of its re-reviews': the experts the draw
// seated and the host, staff, witness and supervisors added here, each with the state of their
// personal link; a person added, a link issued (its address shown once, to copy and send),
// re-issued (the old ones end) or revoked with a reason. The tenderers' and bidders' archive
// links of the session follow (admin-parties.js).

import { chosenSession, lotFromAddress, renderLotBar } from "/static/admin-lots.js";
import { askLink, hideAnyIssued, hideIssued, initLinkDialog, showIssued } from "/static/admin-linkdialog.js";
import { initParties, showParties } from "/static/admin-parties.js";
import { pageFailed, pageRecovered, venueLabel } from "/static/admin-shared.js";
import { requestJson } from "/static/lib/api.js";
import { $, control, el } from "/static/lib/dom.js";
import { messageOf } from "/static/lib/errors.js";
import { refuse, say, submitting } from "/static/lib/forms.js";
import { LINK_STATE_LABELS, ROLE_LABELS } from "/static/lib/labels.js";
import { checkPerson } from "/static/lib/projectforms.js";
import { formatShortDateTime } from "/static/lib/time.js";

/** @typedef {import("/static/lib/wire").SessionPerson} SessionPerson */
/** @typedef {import("/static/lib/wire").LotSession} LotSession */

/** What a personal link's address shown once says. */
const ISSUED_NOTE = "链接只显示这一次：请复制后发给本人，勿转交他人。遗失时可重新发放，旧链接随即作废。";

/** The session shown and its people. */
const shown = {
  session: /** @type {LotSession | null} */ (null),
  people: /** @type {SessionPerson[]} */ ([]),
  asked: 0,
};

/**
 * Show the people of the lot the address names (or the one chosen before).
 * @param {string[]} args
 */
export async function showPeople(args) {
  const mine = ++shown.asked;
  try {
    await lotFromAddress(args);
    if (mine !== shown.asked) return;
    renderLotBar("people");
    const session = chosenSession();
    if (session?.id !== shown.session?.id) hideAnyIssued();
    shown.session = session;
    $("#people-body").hidden = !session;
    if (session) {
      venueChoices(session);
      await Promise.all([loadPeople(), showParties(session)]);
    } else {
      await showParties(null);
    }
    pageRecovered();
  } catch (err) {
    if (mine === shown.asked) pageFailed(`无法读取评标场次的人员：${messageOf(err)}`);
  }
}

/** Read the session's people again and show them. */
async function loadPeople() {
  const session = shown.session;
  if (!session) return;
  /** @type {{ items: SessionPerson[] }} */
  const answer = await requestJson(`/api/sessions/${encodeURIComponent(session.id)}/people`, { what: "人员读取失败" });
  if (shown.session?.id !== session.id) return;
  shown.people = answer.items;
  render(session);
}

/**
 * The person form's venues: the session's, the main first.
 * @param {LotSession} session
 */
function venueChoices(session) {
  const select = $("#person-venue", HTMLSelectElement);
  const chosenVenue = select.value;
  select.replaceChildren(
    el("option", { value: "" }, "不指定（见证人、监督人员、运维技术人员）"),
    el("option", { value: session.main_venue_id }, `主场 ${venueLabel(session.main_venue_id)}`),
    ...session.sub_venue_ids.map((id) => el("option", { value: id }, `副场 ${venueLabel(id)}`)));
  select.value = [session.main_venue_id, ...session.sub_venue_ids].includes(chosenVenue) ? chosenVenue : session.main_venue_id;
}

/**
 * Where a person sits: "主场 沈阳第一评标室（沈阳） · 2号机位".
 * @param {SessionPerson} p
 * @param {LotSession} session
 */
function placeOf(p, session) {
  if (!p.venue_id) return el("span", { class: "muted" }, "—");
  const kind = p.venue_id === session.main_venue_id ? "主场" : "副场";
  return [`${kind} ${venueLabel(p.venue_id)}`, p.seat_no ? el("b", { class: "seat-no" }, ` · ${p.seat_no}号机位`) : null];
}

/** @param {SessionPerson} p */
function linkCell(p) {
  const link = p.link;
  if (!link) return el("span", { class: "link-state none" }, "未发放");
  const state = el("span", { class: `link-state ${link.state}` }, LINK_STATE_LABELS[link.state] || link.state);
  if (link.state === "active") {
    const more = link.open > 1 ? `，共 ${link.open} 个有效链接` : "";
    return [state, el("span", { class: "muted" }, ` 至 ${formatShortDateTime(new Date(link.expires_at))}${more}`)];
  }
  if (link.state === "revoked") return [state, el("span", { class: "muted" }, link.reason ? `（${link.reason}）` : "")];
  return state;
}

/** @param {SessionPerson} p */
function actions(p) {
  if (p.replaced_by) return el("span", { class: "muted" }, "已替换");
  if (p.link?.state === "active") {
    return [
      el("button", { class: "btn btn-small", type: "button", dataset: { reissue: p.id } }, "重新发放"),
      el("button", { class: "btn btn-small btn-quiet", type: "button", dataset: { revoke: p.id } }, "收回"),
    ];
  }
  return el("button", { class: "btn btn-small btn-primary", type: "button", dataset: { issue: p.id } }, "发放链接");
}

/** @param {LotSession} session */
function render(session) {
  $("#people-rows").replaceChildren(...shown.people.map((p) =>
    el("tr", { dataset: { person: p.id, role: p.role }, class: p.replaced_by ? "replaced" : "" },
      el("td", {}, ROLE_LABELS[p.role] || p.role),
      el("td", { class: "name" }, p.name, p.id_last4 ? el("span", { class: "muted" }, `　身份证尾号 ${p.id_last4}`) : null),
      el("td", {}, placeOf(p, session)),
      el("td", {}, linkCell(p)),
      el("td", { class: "actions" }, actions(p)))));
  $("#people-empty").hidden = shown.people.length > 0;
}

/**
 * "主持人 张主持".
 * @param {SessionPerson} person
 */
function whoIs(person) {
  return `${ROLE_LABELS[person.role] || person.role} ${person.name}`;
}

/** @param {SessionPerson} person */
async function issue(person) {
  try {
    /** @type {{ url: string }} */
    const answer = await requestJson("/api/tokens", { method: "POST", json: { participant_id: person.id }, what: "发放链接失败" });
    showIssued(`${whoIs(person)} 的个人链接`, answer.url, ISSUED_NOTE);
    await loadPeople();
  } catch (err) {
    pageFailed(`无法发放 ${person.name} 的链接：${messageOf(err)}`);
  }
}

/**
 * Ask why, then revoke or re-issue a person's links.
 * @param {SessionPerson} person
 * @param {"revoke" | "reissue"} how
 */
function askPersonLink(person, how) {
  const session = shown.session;
  if (!session) return;
  const path = `/api/sessions/${encodeURIComponent(session.id)}/links/${encodeURIComponent(person.id)}/${how}`;
  askLink({
    how,
    who: whoIs(person),
    text: how === "revoke"
      ? "收回后，该链接立即失效，已打开的页面随即断开；需要时可再发放新的链接。"
      : "将发放一个新链接，此人现有的链接随即作废，已打开的页面随即断开。",
    act: async (reason) => {
      /** @type {{ url?: string }} */
      const answer = await requestJson(path, {
        method: "POST", json: reason ? { reason } : {}, what: how === "revoke" ? "收回链接失败" : "重新发放失败",
      });
      if (answer.url) showIssued(`${whoIs(person)} 的个人链接`, answer.url, ISSUED_NOTE);
      else hideIssued(whoIs(person));
    },
    after: loadPeople,
  });
}

/** @param {SubmitEvent} event */
async function addPerson(event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.currentTarget);
  const session = shown.session;
  if (!session) return;
  const fields = { role: control(form, "role").value, name: control(form, "name").value, venue_id: control(form, "venue_id").value };
  if (refuse(form, checkPerson(fields))) return;
  await submitting(form, async () => {
    try {
      /** @type {SessionPerson} */
      const person = await requestJson(`/api/sessions/${encodeURIComponent(session.id)}/people`, {
        method: "POST",
        json: { role: fields.role, name: fields.name.trim(), ...(fields.venue_id ? { venue_id: fields.venue_id } : {}) },
        what: "添加人员失败",
      });
      control(form, "name").value = "";
      say(form, `已添加${ROLE_LABELS[person.role] || person.role}：${person.name}。请在左侧为其发放个人链接。`, "ok");
      await loadPeople();
    } catch (err) {
      say(form, messageOf(err));
    }
  });
}

/** Wire the list's buttons, the forms, the link dialog and the parties' list. */
export function initPeople() {
  $("#people-rows").addEventListener("click", (event) => {
    const data = /** @type {HTMLElement} */ (event.target).closest("button")?.dataset;
    const person = shown.people.find((p) => p.id === (data?.issue || data?.reissue || data?.revoke));
    if (!data || !person) return;
    if (data.issue) issue(person);
    if (data.reissue) askPersonLink(person, "reissue");
    if (data.revoke) askPersonLink(person, "revoke");
  });
  $("#person-form", HTMLFormElement).addEventListener("submit", addPerson);
  const role = control($("#person-form", HTMLFormElement), "role");
  role.addEventListener("change", () => {
    // A witness or supervisor is of the whole session, an ops engineer of the whole session
    // unless given a venue; a host or staff member of a venue.
    const venue = $("#person-venue", HTMLSelectElement);
    const whole = ["witness", "supervisor", "ops"].includes(role.value);
    if (whole && venue.value === shown.session?.main_venue_id) venue.value = "";
    if ((role.value === "host" || role.value === "staff") && !venue.value && shown.session) venue.value = shown.session.main_venue_id;
  });
  initLinkDialog();
  initParties();
}
