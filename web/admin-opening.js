// @ts-check
// A lot's bid opening (开标, #opening/<project>/<lot>): its terms, its bidders (投标人) and its
// people (the host in the opening room, the witness, supervisors, the tenderer, its agency, ops
// engineers), each with the state of their personal link. A bidder added gets its link to the
// opening hall at once, shown once to copy and send; a person's link is issued from the list;
// any link is re-issued (the old ones end) or revoked with a reason. Bidders are added until
// the deadline; the server decides, and its refusal is said in its words.

import { askLink, hideAnyIssued, hideIssued, initIssuedBox, showIssued } from "/static/admin-linkdialog.js";
import { chosenLot, lotFromAddress, renderLotBar } from "/static/admin-lots.js";
import { pageFailed, pageRecovered, venueLabel } from "/static/admin-shared.js";
import { requestJson } from "/static/lib/api.js";
import { $, control, el } from "/static/lib/dom.js";
import { messageOf } from "/static/lib/errors.js";
import { refuse, say, submitting } from "/static/lib/forms.js";
import { LINK_STATE_LABELS, ROLE_LABELS } from "/static/lib/labels.js";
import {
  addingBidders, benchmarkText, checkBidder, checkOpeningPerson, FIELD_KINDS, openingLinkSeconds,
} from "/static/lib/openingforms.js";
import { formatDateTime, formatShortDateTime } from "/static/lib/time.js";

/** @typedef {import("/static/lib/wire").LotOpening} LotOpening */
/** @typedef {import("/static/lib/wire").SessionPerson} SessionPerson */
/** @typedef {import("/static/lib/wire").BidderAdded} BidderAdded */

/** The box that shows a link's address once. */
const BOX = "opening-issued";
/** The page each link opens, by its path. @type {Record<string, string>} */
const PAGES = { "/hall": "开标大厅", "/opening": "开标控制台", "/wall": "监督墙", "/ops": "运维页面", "/live": "开标直播" };
const ONCE = "链接只显示这一次：请复制后发给本人，勿转交他人。遗失时可重新发放，旧链接随即作废。";

/** The opening shown, and its bidders and people as last read. */
const shown = {
  opening: /** @type {LotOpening | null} */ (null),
  people: /** @type {SessionPerson[]} */ ([]),
  asked: 0,
};

/**
 * Show the opening of the lot the address names (or the one chosen before).
 * @param {string[]} args
 */
export async function showOpening(args) {
  const mine = ++shown.asked;
  try {
    await lotFromAddress(args.slice(0, 2));
    if (mine !== shown.asked) return;
    renderLotBar("opening");
    const opening = chosenLot()?.opening || null;
    if (opening?.id !== shown.opening?.id) hideAnyIssued(BOX);
    shown.opening = opening;
    $("#opening-body").hidden = !opening;
    if (opening) {
      renderTerms(opening);
      await loadPeople();
    }
    pageRecovered();
  } catch (err) {
    if (mine === shown.asked) pageFailed(`无法读取开标：${messageOf(err)}`);
  }
}

/** Read the opening's people again and show them. */
async function loadPeople() {
  const opening = shown.opening;
  if (!opening) return;
  /** @type {{ items: SessionPerson[] }} */
  const answer = await requestJson(`/api/sessions/${encodeURIComponent(opening.id)}/people`, { what: "开标人员读取失败" });
  if (shown.opening?.id !== opening.id) return;
  shown.people = answer.items;
  render(opening);
}

/** Read them again after a change; a failure is said in the banner. */
async function reload() {
  try {
    await loadPeople();
  } catch (err) {
    pageFailed(`无法读取开标人员：${messageOf(err)}`);
  }
}

/**
 * The opening's terms, as the tender documents gave them.
 * @param {LotOpening} opening
 */
function renderTerms(opening) {
  const fields = opening.fields.map((f) => el("span", { class: "badge" },
    f.label, el("small", {}, ` ${FIELD_KINDS[/** @type {keyof typeof FIELD_KINDS} */ (f.kind)] || f.kind}${f.unit ? ` · ${f.unit}` : ""}`)));
  /** @type {Array<[string, Array<Node | string> | string]>} */
  const terms = [
    ["开标室", venueLabel(opening.venue_id)],
    ["投标截止", `${formatDateTime(new Date(opening.deadline))}（北京时间），随即开标`],
    ["唱标字段", fields],
    ["有效投标", `不少于 ${opening.min_bids} 家`],
    ["解密时限", `${opening.decryption_minutes} 分钟`],
    ["基准价参数", benchmarkText(opening.benchmark)],
    ["公开直播", opening.public ? "公众可凭公开链接观看" : "不公开"],
  ];
  $("#opening-terms").replaceChildren(...terms.map(([dt, dd]) => el("div", {}, el("dt", {}, dt), el("dd", {}, dd))));
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
  if (p.link?.state === "active") {
    return [
      el("button", { class: "btn btn-small", type: "button", dataset: { reissue: p.id } }, "重新发放"),
      el("button", { class: "btn btn-small btn-quiet", type: "button", dataset: { revoke: p.id } }, "收回"),
    ];
  }
  return el("button", { class: "btn btn-small btn-primary", type: "button", dataset: { issue: p.id } }, "发放链接");
}

/**
 * A person's row.
 * @param {SessionPerson} p
 * @param {boolean} bidder
 */
function row(p, bidder) {
  return el("tr", { dataset: { person: p.id, role: p.role } },
    bidder ? null : el("td", {}, ROLE_LABELS[p.role] || p.role),
    el("td", { class: "name" }, p.name, p.venue_id ? el("span", { class: "muted" }, `　${venueLabel(p.venue_id)}`) : null),
    el("td", {}, linkCell(p)),
    el("td", { class: "actions" }, actions(p)));
}

/** @param {LotOpening} opening */
function render(opening) {
  const bidders = shown.people.filter((p) => p.role === "bidder");
  const others = shown.people.filter((p) => p.role !== "bidder");
  if (opening.bidders !== bidders.length) {
    // The bar above counts them too (the lot's opening as the project's answer gave it).
    opening.bidders = bidders.length;
    renderLotBar("opening");
  }
  $("#bidder-rows").replaceChildren(...bidders.map((p) => row(p, true)));
  $("#bidder-empty").hidden = bidders.length > 0;
  $("#bidder-count").textContent = bidders.length ? `共 ${bidders.length} 家；不少于 ${opening.min_bids} 家有效投标方可开标` : "";
  $("#opening-people-rows").replaceChildren(...others.map((p) => row(p, false)));
  $("#opening-people-empty").hidden = others.length > 0;
  const open = addingBidders(opening, new Date());
  const form = $("#bidder-form", HTMLFormElement);
  for (const node of form.querySelectorAll("input, button[type=submit]")) node.toggleAttribute("disabled", !open);
  $("#bidder-closed").hidden = open;
}

/**
 * "投标人 某公司", "主持人 李主持".
 * @param {{ role: string, name: string }} person
 */
function whoIs(person) {
  return `${ROLE_LABELS[person.role] || person.role} ${person.name}`;
}

/**
 * A link's address, shown once with the page it opens (and until when, when known).
 * @param {{ role: string, name: string }} person
 * @param {string} url
 * @param {string} [expires]
 */
function showLink(person, url, expires) {
  const page = PAGES[new URL(url, window.location.href).pathname] || "页面";
  const until = expires ? `，有效至 ${formatDateTime(new Date(expires))}（北京时间）` : "";
  showIssued(`${whoIs(person)} 的个人链接`, url, `凭此链接进入${page}${until}。${ONCE}`, BOX);
}

/** How long a link issued now lasts: until a day after the deadline (see openingLinkSeconds). */
function linkSeconds() {
  return shown.opening ? openingLinkSeconds(shown.opening, new Date()) : 24 * 3600;
}

/** @param {SessionPerson} person */
async function issue(person) {
  try {
    /** @type {{ url: string }} */
    const answer = await requestJson("/api/tokens", {
      method: "POST", json: { participant_id: person.id, ttl_s: linkSeconds() }, what: "发放链接失败",
    });
    showLink(person, answer.url);
    await reload();
  } catch (err) {
    pageFailed(`无法发放${whoIs(person)}的链接：${messageOf(err)}`);
  }
}

/**
 * Ask why, then revoke or re-issue a person's links.
 * @param {SessionPerson} person
 * @param {"revoke" | "reissue"} how
 */
function ask(person, how) {
  const opening = shown.opening;
  if (!opening) return;
  const path = `/api/sessions/${encodeURIComponent(opening.id)}/links/${encodeURIComponent(person.id)}/${how}`;
  askLink({
    how,
    who: whoIs(person),
    text: how === "revoke"
      ? "收回后，该链接立即失效，已打开的页面随即断开；需要时可再发放新的链接。"
      : "将发放一个新链接，现有的链接随即作废，已打开的页面随即断开。",
    act: async (reason) => {
      const json = how === "revoke" ? { reason } : { ...(reason ? { reason } : {}), ttl_s: linkSeconds() };
      /** @type {{ url?: string }} */
      const answer = await requestJson(path, { method: "POST", json, what: how === "revoke" ? "收回链接失败" : "重新发放失败" });
      if (answer.url) showLink(person, answer.url);
      else hideIssued(whoIs(person), BOX);
    },
    after: reload,
  });
}

/** @param {SubmitEvent} event */
async function addBidder(event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.currentTarget);
  const opening = shown.opening;
  if (!opening) return;
  const fields = { name: control(form, "name").value, credit_code: control(form, "credit_code").value };
  const names = shown.people.filter((p) => p.role === "bidder").map((p) => p.name);
  if (refuse(form, checkBidder(fields, names))) return;
  const code = fields.credit_code.trim().toUpperCase();
  await submitting(form, async () => {
    try {
      /** @type {BidderAdded} */
      const added = await requestJson(`/api/sessions/${encodeURIComponent(opening.id)}/bidders`, {
        method: "POST", json: { name: fields.name.trim(), ...(code ? { credit_code: code } : {}) }, what: "添加投标人失败",
      });
      form.reset();
      say(form, `已添加投标人：${added.name}，其进入开标大厅的链接显示在上方。`, "ok");
      showLink({ role: "bidder", name: added.name }, added.url, added.expires_at);
      await reload();
    } catch (err) {
      say(form, messageOf(err));
    }
  });
}

/** @param {SubmitEvent} event */
async function addPerson(event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.currentTarget);
  const opening = shown.opening;
  if (!opening) return;
  const fields = { role: control(form, "role").value, name: control(form, "name").value };
  if (refuse(form, checkOpeningPerson(fields))) return;
  // The host sits in the opening room.
  const venue = fields.role === "host" ? { venue_id: opening.venue_id } : {};
  await submitting(form, async () => {
    try {
      /** @type {SessionPerson} */
      const person = await requestJson(`/api/sessions/${encodeURIComponent(opening.id)}/people`, {
        method: "POST", json: { role: fields.role, name: fields.name.trim(), ...venue }, what: "添加开标人员失败",
      });
      control(form, "name").value = "";
      say(form, `已添加${whoIs(person)}。请在左侧为其发放个人链接。`, "ok");
      await reload();
    } catch (err) {
      say(form, messageOf(err));
    }
  });
}

/** Wire the lists' buttons, the forms and the link's box. */
export function initOpening() {
  for (const list of ["#bidder-rows", "#opening-people-rows"]) {
    $(list).addEventListener("click", (event) => {
      const data = /** @type {HTMLElement} */ (event.target).closest("button")?.dataset;
      const person = shown.people.find((p) => p.id === (data?.issue || data?.reissue || data?.revoke));
      if (!data || !person) return;
      if (data.issue) issue(person);
      if (data.reissue) ask(person, "reissue");
      if (data.revoke) ask(person, "revoke");
    });
  }
  for (const [selector, submit] of /** @type {const} */ ([["#bidder-form", addBidder], ["#opening-person-form", addPerson]])) {
    const form = $(selector, HTMLFormElement);
    form.addEventListener("submit", submit);
    form.addEventListener("input", () => {
      if (/** @type {HTMLElement} */ (form.querySelector(".form-message")).dataset.kind === "error") refuse(form, null);
    });
  }
  initIssuedBox(BOX);
}
