// @ts-check
// What the ops page (运维监控) says about devices and connections, and in which colour: a
// session in brief, a seat's connection and the tracks that arrive, a room camera, a media
// worker, how long a warning has lasted, and the checks of the platform fault forms. The
// answers are those of GET /api/health/sessions, GET /api/sessions/{id}/health and
// GET /api/workers. Pure: no DOM.

import { VENUE_KIND_LABELS } from "./labels.js";

/**
 * A colour state: ok (green), warn (amber), bad (red), idle (grey: nothing running yet).
 * @typedef {"ok" | "warn" | "bad" | "idle"} Tone
 * @typedef {{ tone: Tone, text: string }} Said
 * @typedef {{ field: string, message: string } | null} Problem
 */

/** The longest text a workflow command's field takes (the server's MAX_TEXT). */
export const MAX_TEXT = 500;

/**
 * The tracks a seat must send, in the order the page shows them; the camera's preview (its
 * small copy for the grid) is not one of them.
 * @type {ReadonlyArray<readonly [string, string]>}
 */
export const SEAT_TRACKS = Object.freeze([
  ["camera", "摄像头"], ["microphone", "麦克风"], ["desktop", "桌面"],
]);

/**
 * A seat's peer connection (RTCPeerConnection.connectionState at the server).
 * @type {Readonly<Record<string, string>>}
 */
export const MEDIA_STATE_LABELS = Object.freeze({
  new: "等待接通", connecting: "正在接通", connected: "已接通", disconnected: "连接中断",
  failed: "接通失败", closed: "已关闭",
});

/**
 * A room monitoring camera's state.
 * @type {Readonly<Record<string, string>>}
 */
export const CAMERA_STATE_LABELS = Object.freeze({
  up: "在线", connecting: "正在连接", down: "离线", invalid: "地址无效",
});

/**
 * The kinds of an incident (异常情况).
 * @type {Readonly<Record<string, string>>}
 */
export const INCIDENT_KIND_LABELS = Object.freeze({ platform: "平台故障", other: "其他" });

/**
 * A session in brief, as the list shows it: red when anything is wrong (a device warning, a
 * room camera down, a fault being handled), amber while seats of a live session are missing
 * or it is paused, green when it runs as it should, grey before its room opens.
 * @param {{ live: boolean, paused: boolean, seats_online: number, seats_expected: number, cameras_down: number, warnings: number, incidents_open: number }} s
 * @returns {Said}
 */
export function sessionTone(s) {
  const problems = [];
  if (s.warnings) problems.push(`设备预警 ${s.warnings} 项`);
  if (s.cameras_down) problems.push(`监控摄像头 ${s.cameras_down} 个异常`);
  if (s.incidents_open) problems.push(`故障处理中 ${s.incidents_open} 项`);
  if (problems.length) return { tone: "bad", text: problems.join("，") };
  if (!s.live) return { tone: "idle", text: "评标室尚未开启" };
  if (s.paused) return { tone: "warn", text: "评审已暂停" };
  const missing = s.seats_expected - s.seats_online;
  if (missing > 0) return { tone: "warn", text: `${missing} 个机位未连接` };
  return { tone: "ok", text: "运行正常" };
}

/**
 * Where a session stands: live (paused or not) or not yet.
 * @param {{ live: boolean, paused: boolean }} s
 */
export function sessionStateText(s) {
  if (!s.live) return "待开始";
  return s.paused ? "评标中 · 已暂停" : "评标中";
}

/**
 * Each track a seat must send, and whether it arrives.
 * @param {string[]} tracks
 */
export function trackChips(tracks) {
  return SEAT_TRACKS.map(([kind, label]) => ({ kind, label, on: tracks.includes(kind) }));
}

/**
 * A seat's connection: offline (grey), connected with every track (green), connected with a
 * track missing or not yet through (amber), a connection that failed (red).
 * @param {{ online: boolean, media_state?: string | null, tracks: string[] }} seat
 * @returns {Said}
 */
export function seatTone(seat) {
  if (!seat.online) return { tone: "idle", text: "离线" };
  const state = seat.media_state || "new";
  if (state === "failed" || state === "disconnected" || state === "closed") {
    return { tone: "bad", text: MEDIA_STATE_LABELS[state] };
  }
  if (state !== "connected") return { tone: "warn", text: MEDIA_STATE_LABELS[state] || state };
  const missing = trackChips(seat.tracks).filter((t) => !t.on).map((t) => t.label);
  if (missing.length) return { tone: "warn", text: `缺少${missing.join("、")}` };
  return { tone: "ok", text: "音视频正常" };
}

/**
 * A room camera: up (green), connecting (amber), down or a bad address (red).
 * @param {{ state: string }} camera
 * @returns {Said}
 */
export function cameraTone(camera) {
  const text = CAMERA_STATE_LABELS[camera.state] || camera.state;
  if (camera.state === "up") return { tone: "ok", text };
  if (camera.state === "connecting") return { tone: "warn", text };
  return { tone: "bad", text };
}

/**
 * A media worker: running (green), drained for maintenance (amber: it takes no new room),
 * stopped (red).
 * @param {{ alive: boolean, draining: boolean }} worker
 * @returns {Said}
 */
export function workerTone(worker) {
  if (!worker.alive) return { tone: "bad", text: "已停止" };
  if (worker.draining) return { tone: "warn", text: "已迁出" };
  return { tone: "ok", text: "运行中" };
}

/**
 * A worker's share of the busiest worker's seats, 0 to 1, for its load bar.
 * @param {{ seats: number }} worker
 * @param {Array<{ seats: number }>} workers
 */
export function loadShare(worker, workers) {
  const most = Math.max(1, ...workers.map((w) => w.seats));
  return Math.min(1, worker.seats / most);
}

/**
 * Whether this token may move a worker's rooms off it: an administrator or ops engineer of
 * the province (a token of one centre, or of one session, is refused the machine's workers), and
 * a worker that runs and is not draining already.
 * @param {{ role: string, centre?: unknown, session?: unknown }} me
 * @param {{ alive: boolean, draining: boolean }} worker
 */
export function mayDrain(me, worker) {
  // The province's own: neither a centre's people nor a session's (the server says the same).
  const province = !me.centre && !me.session;
  return (me.role === "ops" || me.role === "admin") && province && worker.alive && !worker.draining;
}

/**
 * How long something has lasted: "刚刚", "12 分钟", "2 小时 5 分钟".
 * @param {Date} since
 * @param {Date} now
 */
export function lastedText(since, now) {
  const minutes = Math.floor(Math.max(0, now.getTime() - since.getTime()) / 60000);
  if (minutes < 1) return "刚刚";
  if (minutes < 60) return `${minutes} 分钟`;
  const rest = minutes % 60;
  return `${Math.floor(minutes / 60)} 小时${rest ? ` ${rest} 分钟` : ""}`;
}

/**
 * A venue of the session in words: "主场 沈阳第一评标室".
 * @param {Array<{ id: string, name: string, kind: string }>} venues
 * @param {string} id
 */
export function venueText(venues, id) {
  const venue = venues.find((v) => v.id === id);
  if (!venue) return "（未知评标室）";
  return `${VENUE_KIND_LABELS[venue.kind] || ""} ${venue.name}`.trim();
}

/**
 * A text field of a fault form: required, at most MAX_TEXT characters.
 * @param {string} field
 * @param {string} value
 * @param {string} what
 * @returns {Problem}
 */
function text(field, value, what) {
  if (!value.trim()) return { field, message: `请填写${what}` };
  if (value.trim().length > MAX_TEXT) return { field, message: `${what}不能超过 ${MAX_TEXT} 字` };
  return null;
}

/**
 * A platform fault to open: its venue and what happened.
 * @param {{ venue: string, description: string }} fields
 * @returns {Problem}
 */
export function checkFault({ venue, description }) {
  if (!venue) return { field: "venue", message: "请选择发生故障的评标室" };
  return text("description", description, "故障现象");
}

/**
 * What was done about a fault.
 * @param {string} handling
 * @returns {Problem}
 */
export function checkHandling(handling) {
  return text("handling", handling, "处理情况");
}
