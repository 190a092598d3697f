// @ts-check
// The tenderers' and bidders' archive links (招标人、投标人调阅链接) of the session shown in
// 人员与链接: each party with the state of its latest link; a link issued to another party
// (the dialog of admin-session-dialogs.js), and a party's links revoked with a reason or
// re-issued (the old ones end, the access window stays), the new address shown once.

import { chosen, chosenLot, lotLabel } from "/static/admin-lots.js";
import { askLink, hideIssued, showIssued } from "/static/admin-linkdialog.js";
import { askPartyLink } from "/static/admin-session-dialogs.js";
import { pageFailed } from "/static/admin-shared.js";
import { requestJson } from "/static/lib/api.js";
import { $, el } from "/static/lib/dom.js";
import { messageOf } from "/static/lib/errors.js";
import { LINK_STATE_LABELS } from "/static/lib/labels.js";
import { PARTY_LABELS, reviewLabel } from "/static/lib/sessionforms.js";
import { formatDateTime } from "/static/lib/time.js";

/** @typedef {import("/static/lib/wire").LotSession} LotSession */
/** @typedef {import("/static/lib/wire").PartyEntry} PartyEntry */
/** @typedef {import("/static/lib/wire").PartyLink} PartyLink */

/** The session whose parties show, and its parties as last read. */
const shown = {
  session: /** @type {LotSession | null} */ (null),
  parties: /** @type {PartyEntry[]} */ ([]),
};

/**
 * The party links' address of a session.
 * @param {LotSession} session
 */
function linksOf(session) {
  return `/api/archive/sessions/${encodeURIComponent(session.id)}/party-links`;
}

/**
 * "投标人 某建设集团有限公司".
 * @param {{ role: string, name: string }} party
 */
function whoIs(party) {
  return `${PARTY_LABELS[party.role] || party.role} ${party.name}`;
}

/**
 * Show the parties of `session` (none for no session), read afresh.
 * @param {LotSession | null} session
 */
export async function showParties(session) {
  shown.session = session;
  $("#party-card").hidden = !session;
  if (!session) return;
  /** @type {{ items: PartyEntry[] }} */
  const answer = await requestJson(linksOf(session), { what: "调阅链接读取失败" });
  if (shown.session?.id !== session.id) return;
  shown.parties = answer.items;
  render(session);
}

/** Read the parties again; a failure is said in the banner. */
async function reload() {
  try {
    await showParties(shown.session);
  } catch (err) {
    pageFailed(`无法读取调阅链接：${messageOf(err)}`);
  }
}

/**
 * A party's latest link: its state, until when, and how many are open.
 * @param {PartyEntry} party
 */
function linkCell({ link }) {
  const state = el("span", { class: `link-state ${link.state}` }, LINK_STATE_LABELS[link.state] || link.state);
  if (link.state === "active") {
    const more = link.open > 1 ? `，共 ${link.open} 个有效链接` : "";
    return [state, el("span", { class: "muted" }, ` 至 ${formatDateTime(new Date(link.expires_at))}${more}`)];
  }
  if (link.state === "revoked") {
    return [state, el("span", { class: "muted" }, `${link.reason ? `（${link.reason}）` : ""} 调阅期限至 ${formatDateTime(new Date(link.expires_at))}`)];
  }
  return [state, el("span", { class: "muted" }, ` 调阅期限已于 ${formatDateTime(new Date(link.expires_at))} 结束`)];
}

/**
 * What may be done with a party's links: re-issued while its window lasts, revoked while one
 * is open.
 * @param {PartyEntry} party
 */
function actions({ link }) {
  const within = new Date(link.expires_at).getTime() > Date.now();
  return [
    within ? el("button", { class: "btn btn-small", type: "button", dataset: { reissueParty: link.id } }, "重新发放") : null,
    link.state === "active" ? el("button", { class: "btn btn-small btn-quiet", type: "button", dataset: { revokeParty: link.id } }, "收回") : null,
  ];
}

/** @param {LotSession} session */
function render(session) {
  const ended = session.state === "ended";
  $("#party-issue").hidden = !ended;
  $("#party-lead").textContent = ended
    ? "招标人、投标人凭链接在调阅期限内回放本场评标向其开放的评标室录像。"
    : "评标结束后，可向招标人、投标人发放本场评标的档案调阅链接。";
  $("#party-rows").replaceChildren(...shown.parties.map((p) =>
    el("tr", { dataset: { party: p.link.id, role: p.role } },
      el("td", {}, PARTY_LABELS[p.role] || p.role),
      el("td", { class: "name" }, p.name),
      el("td", {}, linkCell(p)),
      el("td", { class: "actions" }, actions(p)))));
  $("#party-empty").hidden = shown.parties.length > 0;
  $("#party-empty").textContent = ended ? "还没有向招标人、投标人发放调阅链接。" : "本场评标尚未结束。";
}

/**
 * Ask why, then revoke or re-issue a party's links.
 * @param {PartyEntry} party
 * @param {"revoke" | "reissue"} how
 */
function askParty(party, how) {
  const session = shown.session;
  if (!session) return;
  const path = `${linksOf(session)}/${encodeURIComponent(party.link.id)}/${how}`;
  askLink({
    how,
    who: whoIs(party),
    text: how === "revoke"
      ? "收回后，该单位的调阅链接全部立即失效，已打开的回放页面随即断开；需要时可重新发放。"
      : `将发放一个新链接，调阅期限不变（至 ${formatDateTime(new Date(party.link.expires_at))}）；该单位现有的链接随即作废。`,
    act: async (reason) => {
      /** @type {PartyLink} */
      const answer = await requestJson(path, {
        method: "POST", json: reason ? { reason } : {}, what: how === "revoke" ? "收回链接失败" : "重新发放失败",
      });
      if (how === "reissue") showPartyIssued(answer);
      else hideIssued(whoIs(party));
    },
    after: reload,
  });
}

/**
 * A party's new link, shown once at the top of the section.
 * @param {PartyLink} link
 */
function showPartyIssued(link) {
  showIssued(`${whoIs(link)} 的调阅链接`, link.url,
    `有效至 ${formatDateTime(new Date(link.expires_at))}（北京时间）。链接只显示这一次：请复制后发给对方，勿转交他人。遗失时可重新发放，旧链接随即作废。`);
}

/** The dialog that issues a party's link, for the session shown. */
function issue() {
  const { project } = chosen;
  const lot = chosenLot();
  const session = shown.session;
  if (!project || !lot || !session) return;
  const review = lot.reviews.findIndex((r) => r.id === session.id);
  const label = `${project.code} ${lotLabel(lot)}${review >= 0 ? ` · ${reviewLabel(review)}` : ""}`;
  askPartyLink({ project, lot, session, label }, reload);
}

/** Wire the parties' buttons. */
export function initParties() {
  $("#party-issue").addEventListener("click", issue);
  $("#party-rows").addEventListener("click", (event) => {
    const data = /** @type {HTMLElement} */ (event.target).closest("button")?.dataset;
    const party = shown.parties.find((p) => p.link.id === (data?.reissueParty || data?.revokeParty));
    if (!data || !party) return;
    if (data.reissueParty) askParty(party, "reissue");
    if (data.revokeParty) askParty(party, "revoke");
  });
}
