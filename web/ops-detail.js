// @ts-check
// One session on the ops page (运维监控): its seats with their connection and the tracks that
// arrive, its room cameras, the open device warnings and the incidents, with the forms an ops
// engineer opens a platform fault and records its handling with (7.2.6-6). The server decides
// every command (roomserver.workflow); its Chinese refusal is shown under the form.

import { requestJson } from "/static/lib/api.js";
import { $, control, el } from "/static/lib/dom.js";
import { messageOf } from "/static/lib/errors.js";
import { refuse, say, submitting } from "/static/lib/forms.js";
import {
  INCIDENT_KIND_LABELS, cameraTone, checkFault, checkHandling, lastedText, seatTone, sessionStateText,
  sessionTone, trackChips, venueText,
} from "/static/lib/health.js";
import { VENUE_KIND_LABELS } from "/static/lib/labels.js";
import { formatDateTime, formatTime, toDate } from "/static/lib/time.js";

/**
 * @typedef {import("/static/lib/wire").SessionHealth} SessionHealth
 * @typedef {import("/static/lib/wire").SeatHealth} SeatHealth
 * @typedef {import("/static/lib/wire").IncidentHealth} IncidentHealth
 */

/** What the detail shows now, and the venue an ops engineer of one venue is limited to. */
const shown = {
  /** @type {SessionHealth | null} */
  health: null,
  /** @type {string | null} */
  ownVenue: null,
  /** The incidents as last drawn: they are drawn again only when they change, so that a
   * handling being typed is not wiped by the refresh. */
  incidentsKey: "",
  /** @type {() => void} */
  changed: () => {},
};

/**
 * A coloured pill.
 * @param {{ tone: string, text: string }} said
 */
function pill(said) {
  return el("span", { class: "pill", dataset: { tone: said.tone } }, said.text);
}

// ---- seats ----------------------------------------------------------------------------------

/** @param {SeatHealth} seat */
function seatTile(seat) {
  const said = seatTone(seat);
  const number = seat.key.split(":").pop();
  const since = seat.connected_at ? `自 ${formatTime(toDate(seat.connected_at))} 起在线` : "未连接";
  return el("article", { class: "seat", dataset: { seat: seat.key, online: seat.online ? "1" : "0", tone: said.tone } },
    el("div", { class: "seat-head" },
      el("span", { class: "seat-no" }, el("span", { class: "dot" }), `${number}号机位`),
      pill(said)),
    el("div", { class: "seat-line muted" }, since),
    el("div", { class: "tracks" }, trackChips(seat.tracks).map((t) =>
      el("span", { class: `track ${seat.online && t.on ? "on" : "off"}`, dataset: { kind: t.kind } }, t.label))));
}

/** @param {SessionHealth} health */
function renderSeats(health) {
  const blocks = health.venues.map((venue) => {
    const seats = health.seats.filter((s) => s.venue_id === venue.id);
    const online = seats.filter((s) => s.online).length;
    return el("div", { class: "venue", dataset: { venue: venue.id } },
      el("h3", {}, venue.name,
        el("span", { class: `tag ${venue.kind}` }, VENUE_KIND_LABELS[venue.kind] || venue.kind),
        el("span", { class: "muted" }, `${venue.city} · 在线 ${online}/${seats.length}`)),
      seats.length
        ? el("div", { class: "seat-grid" }, seats.map(seatTile))
        : el("p", { class: "empty" }, "该评标室没有专家机位"));
  });
  $("#seats").replaceChildren(...blocks);
}

// ---- cameras and warnings ---------------------------------------------------------------------

/** @param {SessionHealth} health */
function renderCameras(health) {
  $("#cameras").replaceChildren(...health.cameras.map((c) =>
    el("tr", { dataset: { camera: c.id, state: c.state } },
      el("td", { class: "name" }, c.label),
      el("td", {}, pill(cameraTone(c))),
      el("td", { class: "reason" }, c.state === "up" ? (c.codec ? `编码 ${c.codec.toUpperCase()}` : "—") : c.detail || "—"),
      el("td", {}, c.recorded ? "录制中" : "—"))));
  const empty = $("#cameras-empty");
  empty.hidden = health.cameras.length > 0;
  empty.textContent = health.live ? "本场评标室没有配置监控摄像头。" : "评标室开启后连接监控摄像头。";
  $("#cameras").closest("table")?.toggleAttribute("hidden", health.cameras.length === 0);
}

/** @param {SessionHealth} health */
function renderWarnings(health) {
  const now = new Date();
  $("#warnings").replaceChildren(...health.warnings.map((w) => {
    const since = toDate(w.started_at);
    return el("li", { dataset: { kind: w.kind } },
      el("div", { class: "warning-head" }, el("strong", {}, w.message), w.label ? el("span", { class: "muted" }, w.label) : null),
      el("div", { class: "muted" }, `自 ${formatTime(since)} 起，已持续 ${lastedText(since, now)}`));
  }));
  $("#warnings-empty").hidden = health.warnings.length > 0;
}

// ---- incidents and faults -------------------------------------------------------------------------

/**
 * An incident with its handling; an open platform fault has the form to add what was done.
 * @param {IncidentHealth} incident
 * @param {SessionHealth} health
 */
function incidentItem(incident, health) {
  const open = incident.result === null || incident.result === undefined;
  const handling = incident.handling.length
    ? el("ol", { class: "handling" }, incident.handling.map((h) => el("li", {}, h)))
    : el("p", { class: "muted" }, "尚无处理记录");
  const form = open && incident.kind === "platform"
    ? el("form", { class: "handling-form", dataset: { incident: incident.number }, novalidate: true },
      el("div", { class: "row" },
        el("input", { name: "handling", maxlength: 500, placeholder: "处理情况，如：已更换网线，机位重新连接", "aria-label": "处理情况" }),
        el("button", { class: "btn", type: "submit" }, "记录处理情况")),
      el("p", { class: "form-message", role: "alert", hidden: true }))
    : null;
  return el("li", { class: open ? "open" : "closed", dataset: { incident: incident.number, kind: incident.kind } },
    el("div", { class: "incident-head" },
      el("span", {}, `第 ${incident.number} 项 · ${INCIDENT_KIND_LABELS[incident.kind] || incident.kind}`),
      el("span", { class: "muted" }, venueText(health.venues, incident.venue)),
      pill(open ? { tone: "bad", text: "处理中" } : { tone: "ok", text: "已处理完毕" })),
    el("p", { class: "description" }, incident.description),
    handling,
    open ? null : el("p", { class: "result" }, `处理结果：${incident.result}`),
    form);
}

/** @param {SessionHealth} health */
function renderIncidents(health) {
  const key = JSON.stringify([health.session.id, health.incidents, health.venues]);
  if (key === shown.incidentsKey) return;
  shown.incidentsKey = key;
  const items = health.incidents.map((i) => incidentItem(i, health));
  $("#incidents").replaceChildren(...(items.length ? items : [el("li", { class: "empty" }, "本场评标尚无异常情况记录。")]));
}

/** @param {SessionHealth} health */
function renderFaultVenues(health) {
  const select = $("#fault-venue", HTMLSelectElement);
  const venues = health.venues.filter((v) => !shown.ownVenue || v.id === shown.ownVenue);
  const key = venues.map((v) => v.id).join(",");
  if (select.dataset.venues === key) return;
  const chosen = select.value;
  select.replaceChildren(...venues.map((v) => el("option", { value: v.id }, venueText(venues, v.id))));
  select.dataset.venues = key;
  if (venues.some((v) => v.id === chosen)) select.value = chosen;
}

/**
 * A workflow command of this session as this page's bearer; the server's answer.
 * @param {string} kind
 * @param {Record<string, unknown>} fields
 */
function command(kind, fields) {
  const id = shown.health?.session.id || "";
  return requestJson(`/api/sessions/${encodeURIComponent(id)}/workflow`, { method: "POST", json: { kind, fields }, what: "操作失败" });
}

/** @param {SubmitEvent} event */
async function openFault(event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.currentTarget);
  const fields = { venue: control(form, "venue").value, description: control(form, "description").value };
  if (refuse(form, checkFault(fields))) return;
  await submitting(form, async () => {
    try {
      const answer = await command("open_incident", { kind: "platform", venue: fields.venue, description: fields.description.trim() });
      const number = answer.state?.incidents?.length;
      control(form, "description").value = "";
      say(form, number ? `已登记为第 ${number} 项异常情况。` : "已登记。", "ok");
      shown.changed();
    } catch (err) {
      say(form, messageOf(err));
    }
  });
}

/** @param {SubmitEvent} event */
async function handleFault(event) {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.incident) return;
  event.preventDefault();
  const handling = control(form, "handling").value;
  if (refuse(form, checkHandling(handling))) return;
  await submitting(form, async () => {
    try {
      await command("handle_incident", { incident: Number(form.dataset.incident), handling: handling.trim() });
      shown.changed();
    } catch (err) {
      say(form, messageOf(err));
    }
  });
}

// ---- the whole detail ---------------------------------------------------------------------------

/**
 * Show one session's health.
 * @param {SessionHealth} health
 */
export function renderDetail(health) {
  const fresh = shown.health?.session.id !== health.session.id;
  shown.health = health;
  if (fresh) {
    // Another session: nothing typed or said for the last one stays.
    shown.incidentsKey = "";
    const form = $("#fault-form", HTMLFormElement);
    control(form, "description").value = "";
    refuse(form, null);
  }
  $("#detail-empty").hidden = true;
  $("#detail-body").hidden = false;
  document.body.dataset.session = health.session.id;
  const s = health.session;
  $("#detail-name").textContent = s.project_name;
  const online = health.seats.filter((seat) => seat.online).length;
  const down = health.cameras.filter((c) => c.state !== "up").length;
  const open = health.incidents.filter((i) => i.result === null || i.result === undefined).length;
  const said = sessionTone({
    live: health.live, paused: health.paused, seats_online: online, seats_expected: health.seats.length,
    cameras_down: down, warnings: health.warnings.length, incidents_open: open,
  });
  const state = $("#detail-state");
  state.textContent = `${sessionStateText(health)} · ${said.text}`;
  state.dataset.tone = said.tone;
  $("#detail-meta").textContent = `项目编号 ${s.project_code} · 计划开始 ${formatDateTime(toDate(s.scheduled_start))}（北京时间）`;
  // Seats missing from a live session are amber (they may be on their way), the rest red.
  /** @type {Array<[string, string, string]>} */
  const figures = [
    ["seats", `${online}/${health.seats.length}`, health.live && online < health.seats.length ? "warn" : ""],
    ["cameras", String(down), down > 0 ? "bad" : ""],
    ["warnings", String(health.warnings.length), health.warnings.length > 0 ? "bad" : ""],
    ["incidents", String(open), open > 0 ? "bad" : ""],
  ];
  for (const [name, value, tone] of figures) {
    $(`#fig-${name}`).textContent = value;
    $(`#fig-${name}-box`).dataset.tone = tone;
  }
  const worker = health.worker;
  $("#fig-worker").textContent = worker
    ? `#${worker.index}${typeof worker.grid_fps === "number" ? ` · ${worker.grid_fps.toFixed(0)} 帧/秒` : ""}`
    : "—";
  renderSeats(health);
  renderCameras(health);
  renderWarnings(health);
  renderIncidents(health);
  renderFaultVenues(health);
}

/** Show that no session is chosen. */
export function clearDetail() {
  shown.health = null;
  shown.incidentsKey = "";
  delete document.body.dataset.session;
  $("#detail-empty").hidden = false;
  $("#detail-body").hidden = true;
}

/**
 * Wire the forms: `changed` is called after a command the server accepted (to refresh);
 * `ownVenue` limits the fault form to an ops engineer's venue.
 * @param {() => void} changed
 * @param {string | null} ownVenue
 */
export function wireDetail(changed, ownVenue) {
  shown.changed = changed;
  shown.ownVenue = ownVenue;
  $("#fault-form", HTMLFormElement).addEventListener("submit", openFault);
  $("#incidents").addEventListener("submit", handleFault);
}
