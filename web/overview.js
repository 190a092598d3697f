// @ts-check
// Session overview: who is seated where and online, refreshed every few seconds.
import { requestJson as api } from "/static/lib/api.js";
import { clearBanner, showBanner } from "/static/lib/chrome.js";
import { $, el } from "/static/lib/dom.js";
import { messageOf } from "/static/lib/errors.js";
import { KIND_LABELS, ROLE_LABELS, VENUE_KIND_LABELS } from "/static/lib/labels.js";
import { login } from "/static/lib/session.js";
import { formatDateTime, formatTime } from "/static/lib/time.js";

const REFRESH_MS = 3000;

/** @param {string} message */
function showError(message) {
  showBanner(message);
  document.body.dataset.state = "error";
}

/** @param {import("/static/lib/wire").Roster} roster */
function renderRoster(roster) {
  /** @type {Map<string, { seat: import("/static/lib/wire").RosterSeat, seats: import("/static/lib/wire").RosterSeat[] }>} */
  const venues = new Map();
  for (const seat of roster.seats) {
    if (!venues.has(seat.venue_id)) venues.set(seat.venue_id, { seat, seats: [] });
    venues.get(seat.venue_id)?.seats.push(seat);
  }
  const cards = [...venues.values()].map(({ seat: first, seats }) =>
    el("article", { class: "venue" },
      el("h2", {}, first.venue_name,
        el("span", { class: `tag ${first.venue_kind}` }, VENUE_KIND_LABELS[first.venue_kind] || "")),
      el("table", {},
        el("thead", {}, el("tr", {}, el("th", {}, "机位"), el("th", {}, "专家"), el("th", {}, "状态"), el("th", {}, "已接收"))),
        el("tbody", {}, seats.map((s) =>
          el("tr", { class: s.online ? "online" : "offline", dataset: { seat: s.key } },
            el("td", {}, `${s.seat_no}号机位`),
            el("td", {}, s.expert_name),
            el("td", {}, el("span", { class: "dot" }), s.online ? "在线" : "未上线"),
            el("td", { class: "kinds" }, s.tracks.map((k) => KIND_LABELS[k] || k).join("、") || "—")))))));
  $("#venues").replaceChildren(...cards);
  $("#online-count").textContent = String(roster.seats.filter((s) => s.online).length);
  $("#seat-count").textContent = String(roster.seats.length);
  $("#venue-count").textContent = String(venues.size);
  $("#updated").textContent = formatTime(new Date());
}

/** @param {string} sessionId */
async function refresh(sessionId) {
  try {
    renderRoster(await api(`/api/sessions/${encodeURIComponent(sessionId)}/roster`));
    clearBanner();
    document.body.dataset.state = "ready";
  } catch (err) {
    showError(`无法刷新席位状态：${messageOf(err)}`);
  }
}

async function main() {
  /** @type {import("/static/lib/wire").Me} */
  let me;
  try {
    await login();
    me = await api("/api/me");
  } catch (err) {
    showError(messageOf(err));
    return;
  }
  $("#who").textContent = `${ROLE_LABELS[me.role] || me.role}${me.name ? ` · ${me.name}` : ""}`;
  if (!me.session) {
    showError("该身份不属于任何评标场次。");
    return;
  }
  const session = me.session;
  const start = new Date(session.scheduled_start);
  $("#project-name").textContent = session.project_name;
  $("#project-meta").textContent =
    `项目编号 ${session.project_code} · 计划开始 ${formatDateTime(start)}`;
  document.title = `${session.project_name} · 评标场次概况`;
  await refresh(session.id);
  setInterval(() => refresh(session.id), REFRESH_MS);
}

main();
