// @ts-check
// Ops page (运维监控) of ops engineers (运维技术人员, standard 6.4 and 7.2.6-6): the sessions
// running or due with the state of their devices and connections, one session in detail
// (ops-detail.js), and the media workers with their load, refreshed every few seconds. An ops
// engineer of the province, or of one trading centre (its sessions only), picks a session
// from the list; a session's own ops engineer sees that session directly. Nothing here shows
// what anybody says or shows: the server's health answers carry no names and no pictures.
//
// document.body.dataset.state: loading | ready | error; dataset.session: the session shown;
// dataset.refreshing while the answers of a refresh are awaited.

import { clearDetail, renderDetail, wireDetail } from "/static/ops-detail.js";
import { ApiError, requestJson } from "/static/lib/api.js";
import { clearBanner, setStatus, showBanner, startClock } from "/static/lib/chrome.js";
import { $, el } from "/static/lib/dom.js";
import { messageOf } from "/static/lib/errors.js";
import { loadShare, mayDrain, sessionStateText, sessionTone, workerTone } from "/static/lib/health.js";
import { ROLE_LABELS } from "/static/lib/labels.js";
import { login } from "/static/lib/session.js";
import { formatDateTime, formatTime, toDate } from "/static/lib/time.js";

const REFRESH_MS = 3000;

/**
 * @typedef {import("/static/lib/wire").Me} Me
 * @typedef {import("/static/lib/wire").HealthSummary} HealthSummary
 * @typedef {import("/static/lib/wire").MediaWorker} MediaWorker
 */

const page = {
  /** @type {Me | null} */
  me: null,
  /** A session's own ops engineer: that session only, no list. */
  fixed: false,
  /** @type {HealthSummary[]} */
  sessions: [],
  /** @type {MediaWorker[]} */
  workers: [],
  /** @type {string | null} */
  chosen: null,
  /** A refresh under way (the next tick is skipped), and one asked for meanwhile. */
  busy: false,
  again: false,
};

// ---- sessions ---------------------------------------------------------------------------------

/** @param {HealthSummary} item */
function sessionItem(item) {
  const said = sessionTone(item);
  const s = item.session;
  /** @type {Array<[string, string, string]>} */
  const figures = [
    ["机位", `${item.seats_online}/${item.seats_expected}`, item.live && item.seats_online < item.seats_expected ? "warn" : ""],
    ["摄像头异常", String(item.cameras_down), item.cameras_down > 0 ? "bad" : ""],
    ["预警", String(item.warnings), item.warnings > 0 ? "bad" : ""],
    ["故障", String(item.incidents_open), item.incidents_open > 0 ? "bad" : ""],
  ];
  return el("li", {},
    el("button", {
      type: "button", class: "session", "aria-current": s.id === page.chosen ? "true" : undefined,
      dataset: { session: s.id, tone: said.tone, live: item.live ? "1" : "0" },
    },
      el("div", { class: "session-head" },
        el("span", { class: "session-name" }, s.project_name),
        el("span", { class: "pill", dataset: { tone: item.live ? "live" : "idle" } }, sessionStateText(item))),
      el("div", { class: "muted" }, `${s.project_code} · 计划开始 ${formatDateTime(toDate(s.scheduled_start))}`
        + (typeof item.worker === "number" ? ` · 媒体进程 #${item.worker}` : "")),
      el("div", { class: "session-figures" }, figures.map(([label, value, tone]) =>
        el("span", { dataset: { tone } }, `${label} `, el("b", {}, value)))),
      el("div", { class: "session-said" }, said.text)));
}

function renderSessions() {
  $("#sessions").replaceChildren(...page.sessions.map(sessionItem));
  $("#sessions-empty").hidden = page.sessions.length > 0;
  const live = page.sessions.filter((s) => s.live).length;
  $("#sessions-count").textContent = `进行中 ${live} · 共 ${page.sessions.length}`;
}

/** @param {string | null} id */
function choose(id) {
  page.chosen = id;
  for (const button of document.querySelectorAll("#sessions button.session")) {
    if (button instanceof HTMLElement) button.toggleAttribute("aria-current", button.dataset.session === id);
  }
  if (!id) clearDetail();
}

// ---- workers ----------------------------------------------------------------------------------

/** @param {string} id */
function projectOf(id) {
  return page.sessions.find((s) => s.session.id === id)?.session.project_name || null;
}

/** @param {MediaWorker} worker */
function workerRow(worker) {
  const me = /** @type {Me} */ (page.me);
  const named = worker.rooms.map(projectOf).filter(Boolean);
  const others = worker.rooms.length - named.length;
  const rooms = [...named, others ? `其他 ${others} 个评标室` : ""].filter(Boolean).join("；");
  const share = loadShare(worker, page.workers);
  const drain = mayDrain(me, worker)
    ? el("button", { class: "btn btn-small btn-warn", type: "button", dataset: { drain: worker.index } }, "迁出")
    : null;
  return el("tr", { dataset: { worker: worker.index, tone: workerTone(worker).tone } },
    el("td", { class: "name" }, `#${worker.index}`,
      el("div", { class: "muted" }, worker.pid ? `PID ${worker.pid}` : "无进程",
        worker.generation > 1 ? ` · 已重启 ${worker.generation - 1} 次` : "")),
    el("td", {}, el("span", { class: "pill", dataset: { tone: workerTone(worker).tone } }, workerTone(worker).text)),
    el("td", { class: "load" },
      el("div", { class: "bar", title: `${Math.round(share * 100)}%` },
        el("span", { style: { width: `${Math.round(share * 100)}%` } })),
      el("div", {}, `${worker.rooms.length} 个评标室 · ${worker.seats} 个机位`),
      rooms ? el("div", { class: "muted rooms" }, rooms) : null),
    el("td", { class: "actions" }, drain));
}

function renderWorkers() {
  $("#workers").replaceChildren(...page.workers.map(workerRow));
  const alive = page.workers.filter((w) => w.alive).length;
  $("#workers-count").textContent = `运行 ${alive}/${page.workers.length}`;
  $("#drain-note").hidden = !page.me?.centre;
}

/** @param {number} index */
function askDrain(index) {
  const worker = page.workers.find((w) => w.index === index);
  if (!worker) return;
  const dialog = $("#drain-dialog", HTMLDialogElement);
  $("#drain-text").textContent = `将媒体进程 #${worker.index} 上的 ${worker.rooms.length} 个评标室（${worker.seats} 个机位）迁出？`;
  dialog.dataset.worker = String(index);
  dialog.returnValue = "";
  dialog.showModal();
}

async function drain() {
  const dialog = $("#drain-dialog", HTMLDialogElement);
  if (dialog.returnValue !== "drain") return;
  try {
    const answer = await requestJson(`/api/workers/${Number(dialog.dataset.worker)}/drain`, { method: "POST", what: "迁出失败" });
    showBanner(`媒体进程 #${answer.worker} 已迁出 ${answer.moved.length} 个评标室。`, "info");
  } catch (err) {
    showBanner(messageOf(err));
  }
  refreshSoon();
}

// ---- refresh ----------------------------------------------------------------------------------

/**
 * The media workers; null for a token that may not see them (the people of a venue, who may
 * open this page for their session's devices).
 * @returns {Promise<MediaWorker[] | null>}
 */
async function readWorkers() {
  try {
    return await requestJson("/api/workers", { what: "无法读取媒体进程" });
  } catch (err) {
    if (err instanceof ApiError && err.code === "role_not_allowed") return null;
    throw err;
  }
}

async function refresh() {
  if (page.busy) {
    page.again = true;
    return;
  }
  page.busy = true;
  document.body.dataset.refreshing = "1";
  try {
    const [list, workers] = await Promise.all([
      page.fixed ? null : requestJson("/api/health/sessions", { what: "无法读取评标场次" }),
      readWorkers(),
    ]);
    if (list) {
      page.sessions = list.items;
      if (!page.chosen || !page.sessions.some((s) => s.session.id === page.chosen)) {
        // The first session (live ones come first) until one is chosen.
        choose(page.sessions[0]?.session.id || null);
      }
      renderSessions();
    }
    $("#workers-card").hidden = workers === null;
    if (workers) {
      page.workers = workers;
      renderWorkers();
    }
    if (page.chosen) {
      renderDetail(await requestJson(`/api/sessions/${encodeURIComponent(page.chosen)}/health`, { what: "无法读取该场评标的设备状况" }));
    }
    clearBanner("error");
    setStatus(`已刷新 ${formatTime(new Date())}`, "ok");
    document.body.dataset.state = "ready";
  } catch (err) {
    showBanner(`无法刷新：${messageOf(err)}`);
    setStatus("刷新失败", "bad");
    document.body.dataset.state = "error";
  } finally {
    page.busy = false;
    delete document.body.dataset.refreshing;
  }
  if (page.again) {
    page.again = false;
    await refresh();
  }
}

/** Refresh now (after a command or a choice), without waiting for the next tick. */
function refreshSoon() {
  refresh();
}

// ---- start --------------------------------------------------------------------------------------

/** @param {Me} me */
function renderWho(me) {
  const role = ROLE_LABELS[me.role] || me.role;
  $("#who").textContent = `${role}${me.name ? ` · ${me.name}` : ""}`;
  let scope = "全省评标场次的设备、网络与媒体进程";
  if (me.centre) scope = `${me.centre.name}评标场次的设备、网络与媒体进程`;
  if (me.session) scope = `${me.session.project_name}（${me.session.project_code}）的设备与网络`;
  $("#scope").textContent = scope;
}

function wire() {
  $("#sessions").addEventListener("click", (event) => {
    const button = /** @type {HTMLElement} */ (event.target).closest("button.session");
    if (!(button instanceof HTMLElement) || !button.dataset.session) return;
    choose(button.dataset.session);
    refreshSoon();
  });
  $("#workers").addEventListener("click", (event) => {
    const button = /** @type {HTMLElement} */ (event.target).closest("button[data-drain]");
    if (button instanceof HTMLElement) askDrain(Number(button.dataset.drain));
  });
  $("#drain-dialog").addEventListener("close", drain);
}

async function main() {
  startClock();
  try {
    await login();
    page.me = /** @type {Me} */ (await requestJson("/api/me", { what: "无法验证身份" }));
  } catch (err) {
    showBanner(messageOf(err));
    setStatus("未登录", "bad");
    document.body.dataset.state = "error";
    return;
  }
  const me = page.me;
  renderWho(me);
  if (me.session) {
    page.fixed = true;
    page.chosen = me.session.id;
    $("#sessions-card").hidden = true;
  }
  wireDetail(refreshSoon, me.venue_id || null);
  wire();
  await refresh();
  setInterval(refresh, REFRESH_MS);
}

main();
