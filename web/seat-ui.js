// @ts-check
// DOM of the seat page: state, header, devices, roster and the two remote media elements.

import { setStatus } from "/static/lib/chrome.js";
import { $, el } from "/static/lib/dom.js";
import { KIND_LABELS, VENUE_KIND_LABELS } from "/static/lib/labels.js";
import { formatTime } from "/static/lib/time.js";

/** @type {Record<PageState, [string, "ok" | "busy" | "bad"]>} */
const STATUS = {
  connecting: ["连接中", "busy"],
  live: ["评标中", "ok"],
  reconnecting: ["正在重新连接", "busy"],
  ended: ["已结束", "bad"],
};

/** @typedef {"connecting" | "live" | "reconnecting" | "ended"} PageState */
/** @typedef {import("/static/lib/wire").JoinSeat} JoinSeat */

/**
 * Set the machine-readable page state and the header status pill.
 * @param {PageState} state
 * @param {string | null} [errorCode]
 */
export function setState(state, errorCode = null) {
  document.body.dataset.state = state;
  if (errorCode) document.body.dataset.error = errorCode;
  const [text, tone] = STATUS[state];
  setStatus(text, tone);
}

/**
 * "沈阳主场 1号席 · 主场": the seat's label, with the venue and its kind where it lacks them.
 * @param {JoinSeat} seat
 */
function placeText(seat) {
  const kind = VENUE_KIND_LABELS[seat.venue_kind || ""] || "";
  let text = seat.label || `${seat.venue_name || ""} 席位 ${seat.seat_no ?? ""}`.trim();
  if (seat.venue_name && !text.includes(seat.venue_name)) text = `${seat.venue_name} · ${text}`;
  if (kind && !text.includes(kind)) text += ` · ${kind}`;
  return text;
}

/**
 * Fill the header and the seat facts from the `join` answer.
 * @param {JoinSeat} seat
 */
export function showSeat(seat) {
  $("#project-name").textContent = seat.project_name || "远程异地评标";
  $("#seat-label").textContent = [placeText(seat), seat.expert_name].filter(Boolean).join(" · ");
  $("#fact-venue").textContent = seat.venue_name || "—";
  $("#fact-seat").textContent = seat.seat_no != null ? `${seat.seat_no} 号` : "—";
  $("#fact-expert").textContent = seat.expert_name || "—";
  document.title = `${seat.label || "专家席位"} · ${seat.project_name || "远程异地评标"}`;
}

/**
 * The line under the project name, before (or instead of) the seat's own label.
 * @param {string} text
 */
export function setSeatLabel(text) {
  $("#seat-label").textContent = text;
}

/**
 * Device line in the side panel and in the device check: kind camera|microphone|desktop|network.
 * @param {string} kind
 * @param {string} text
 * @param {"ok" | "warn" | "bad" | null} [tone]
 */
export function setDevice(kind, text, tone = null) {
  for (const id of [`#dev-${kind}`, `#check-${kind}`]) {
    const node = /** @type {HTMLElement | null} */ (document.querySelector(id));
    if (!node) continue;
    node.textContent = text;
    if (tone) node.dataset.tone = tone;
    else delete node.dataset.tone;
  }
}

/**
 * Show or hide both "share screen" buttons.
 * @param {boolean} visible
 */
export function showShareButtons(visible) {
  $("#share-btn").hidden = !visible;
  $("#check-share-btn").hidden = !visible;
}

/**
 * Drive every microphone level bar from `levelFn()` (0..1) on animation frames.
 * @param {() => number} levelFn
 */
export function startMeters(levelFn) {
  const fills = /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("[data-meter]"));
  const frame = () => {
    const width = `${Math.round(levelFn() * 100)}%`;
    for (const fill of fills) fill.style.width = width;
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}

/**
 * Show the own camera in the side panel and the device check.
 * @param {MediaStream} stream
 */
export function showSelf(stream) {
  for (const video of selfVideos()) {
    video.srcObject = stream;
    video.play().catch(() => {});
  }
}

/** The videos that show the own camera (side panel, device check). */
function selfVideos() {
  return /** @type {NodeListOf<HTMLVideoElement>} */ (document.querySelectorAll('video[data-role="self"], video[data-role="preview"]'));
}

/**
 * The device check overlay; resolves when the expert presses 进入评标室.
 * @param {boolean} enabled
 * @returns {Promise<void>}
 */
export function deviceCheck(enabled) {
  const overlay = $("#check");
  overlay.hidden = false;
  $(".room").inert = true; // the room behind the overlay takes no focus or clicks
  $("#status-text").textContent = "设备检测";
  const enter = $("#enter-btn", HTMLButtonElement);
  enter.disabled = !enabled;
  return new Promise((resolve) => {
    enter.addEventListener("click", () => {
      hideDeviceCheck();
      resolve();
    }, { once: true });
  });
}

export function hideDeviceCheck() {
  $("#check").hidden = true;
  $(".room").inert = false;
}

export function enableEnter() {
  $("#enter-btn", HTMLButtonElement).disabled = false;
}

/**
 * Text over the grid area until it shows frames.
 * @param {string} text
 */
export function showStagePlaceholder(text) {
  $("#stage-placeholder-text").textContent = text;
  $("#stage-placeholder").hidden = false;
}

function gridVideo() {
  return $('video[data-role="grid"]', HTMLVideoElement);
}

/**
 * Attach the room grid track and call `onFrame()` once a frame has been decoded and shown
 * (requestVideoFrameCallback, or a size plus an advancing currentTime where that is missing).
 * @param {MediaStreamTrack} track
 * @param {() => void} onFrame
 */
export function attachGrid(track, onFrame) {
  const video = gridVideo();
  const stream = new MediaStream([track]);
  video.srcObject = stream;
  let done = false;
  const seen = () => {
    if (done || video.srcObject !== stream) return;
    done = true;
    $("#stage-placeholder").hidden = true;
    onFrame();
  };
  if (typeof video.requestVideoFrameCallback === "function") video.requestVideoFrameCallback(seen);
  let lastTime = -1;
  const onTime = () => {
    if (video.videoWidth > 0 && lastTime >= 0 && video.currentTime > lastTime) seen();
    lastTime = video.currentTime;
    if (done) video.removeEventListener("timeupdate", onTime);
  };
  video.addEventListener("timeupdate", onTime);
  video.play().catch(() => {});
}

/**
 * Play the room's audio mix; if autoplay is refused, offer a button that starts it.
 * @param {MediaStreamTrack} track
 */
export function attachAudio(track) {
  const audio = $('audio[data-role="room-audio"]', HTMLAudioElement);
  audio.srcObject = new MediaStream([track]);
  const unlock = $("#sound-unlock");
  audio.play().then(
    () => { unlock.hidden = true; },
    () => {
      unlock.hidden = false;
      unlock.onclick = () => audio.play().then(() => { unlock.hidden = true; }, () => {});
    },
  );
}

/** Drop the remote media of a closed peer connection. */
export function detachRemote() {
  gridVideo().srcObject = null;
  $('audio[data-role="room-audio"]', HTMLAudioElement).srcObject = null;
  $("#sound-unlock").hidden = true;
}

/** Stop showing the own camera (after leaving). */
export function detachSelf() {
  for (const video of selfVideos()) {
    video.srcObject = null;
  }
}

/**
 * Whether a roster entry is this page's own seat (from the `join` answer).
 * @param {import("/static/lib/wire").RosterSeat} entry
 * @param {JoinSeat | null} self
 */
function isSelf(entry, self) {
  if (!self) return false;
  if (entry.key && self.key) return entry.key === self.key;
  return entry.venue_name === self.venue_name && entry.seat_no === self.seat_no;
}

/**
 * Render the roster (already in grid tile order).
 * @param {import("/static/lib/wire").Roster | null} roster
 * @param {JoinSeat | null} selfSeat
 */
export function showRoster(roster, selfSeat) {
  const list = $("#roster-list");
  const seats = roster?.seats || [];
  const online = seats.filter((s) => s.online).length;
  $("#roster-count").textContent = seats.length ? `在线 ${online} / ${seats.length}` : "";
  if (seats.length === 0) {
    list.replaceChildren(el("li", { class: "roster-empty", text: "暂无席位信息" }));
    return;
  }
  list.replaceChildren(...seats.map((s, i) => {
    const tracks = new Set(s.tracks || []);
    const self = isSelf(s, selfSeat);
    return el("li", { dataset: { key: s.key || `${s.venue_id}:${s.seat_no}`, venue: s.venue_id, seat: s.seat_no }, "data-self": self },
      el("span", { class: "roster-index", text: i + 1 }),
      el("span", { class: "dot", "data-online": !!s.online, title: s.online ? "在线" : "离线" }),
      el("div", { class: "roster-who" },
        el("div", { class: "roster-name", text: `${s.expert_name || "（未指定专家）"}${self ? "（本席）" : ""}` }),
        el("div", { class: "roster-where", text: s.label || placeText(s), title: placeText(s) })),
      el("div", { class: "tracks" },
        ...["camera", "microphone", "desktop"].map((k) =>
          el("span", { class: "track", "data-on": tracks.has(k), text: KIND_LABELS[k] }))));
  }));
}

/**
 * The 离开 button asks for a second click within 4 s before it calls `onLeave`.
 * @param {() => void} onLeave
 */
export function bindLeave(onLeave) {
  const button = $("#leave-btn");
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  button.addEventListener("click", () => {
    if (button.dataset.confirm !== undefined) {
      clearTimeout(timer);
      onLeave();
      return;
    }
    button.dataset.confirm = "";
    button.textContent = "再次点击确认离开";
    timer = setTimeout(() => {
      delete button.dataset.confirm;
      button.textContent = "离开评标室";
    }, 4000);
  });
}

/**
 * The supervisor's warning card (监督人员提醒) for `warning` {id, text, scope, at}, with
 * `waiting` more queued behind it; `onAck` runs when the expert clicks 已知悉.
 * @param {import("/static/lib/wire").SeatWarning} warning
 * @param {number} waiting
 * @param {() => void} onAck
 */
export function showWarning(warning, waiting, onAck) {
  const layer = $("#warning-layer");
  const at = new Date(warning.at);
  const button = el("button", { class: "btn warning-ack", id: "warning-ack", type: "button" }, "已知悉");
  button.addEventListener("click", onAck);
  layer.replaceChildren(
    el("div", {
      class: "warning-card",
      role: "alertdialog",
      "aria-modal": "true",
      "aria-labelledby": "warning-title",
      "aria-describedby": "warning-text",
      "data-warning-id": warning.id,
    },
      el("div", { class: "warning-head" },
        el("span", { class: "warning-icon", "aria-hidden": "true" }, "!"),
        el("h2", { id: "warning-title" }, "监督人员提醒"),
        el("span", { class: "warning-scope" }, warning.scope === "room" ? "全场提醒" : "针对本席"),
        waiting > 0 ? el("span", { class: "warning-queue" }, `另有 ${waiting} 条提醒待确认`) : null),
      el("p", { class: "warning-text", id: "warning-text" }, warning.text || ""),
      el("div", { class: "warning-foot" },
        el("span", { class: "warning-time" }, Number.isNaN(at.getTime()) ? "" : `发送时间 ${formatTime(at)}`),
        el("span", { class: "warning-error", id: "warning-error", role: "status" }),
        button)));
  layer.hidden = false;
  button.focus();
}

/**
 * While the acknowledgement is on its way: the button waits; `error` says why it failed.
 * @param {boolean} pending
 * @param {string} [error]
 */
export function warningPending(pending, error = "") {
  const button = /** @type {HTMLButtonElement | null} */ (document.querySelector("#warning-ack"));
  if (!button) return;
  button.disabled = pending;
  button.textContent = pending ? "正在确认…" : "已知悉";
  $("#warning-error").textContent = error;
}

export function hideWarning() {
  const layer = $("#warning-layer");
  layer.replaceChildren();
  layer.hidden = true;
}

/**
 * Show a network line from peer statistics.
 * @param {{ rtt: number | null, upKbps: number | null, downKbps: number | null } | null} stats
 */
export function showNetwork(stats) {
  if (!stats) return setDevice("network", "—");
  const parts = [];
  if (stats.rtt != null) parts.push(`时延 ${Math.round(stats.rtt)} ms`);
  if (stats.upKbps != null) parts.push(`上行 ${Math.round(stats.upKbps)}`);
  if (stats.downKbps != null) parts.push(`下行 ${Math.round(stats.downKbps)} kb/s`);
  setDevice("network", parts.join(" · ") || "—", stats.rtt != null && stats.rtt > 400 ? "warn" : "ok");
}
