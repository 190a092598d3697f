// @ts-check
// Supervision wall (监督墙) for supervisors (监督人员): every room's live grid, seats online and
// sound level at a glance; a focus view on one room and one seat's camera and screen, with
// supervision notes (监督记录) and warnings (提醒) sent to the seats' screens.
//
// Machine-readable hooks (kept stable for the end-to-end tests):
//   body[data-state] connecting | ready | error, body[data-error] = the refusal's code;
//   article.room-tile[data-session][data-live="1|0"][data-frames];
//   section#focus[data-session][data-seat], video#focus-camera / #focus-desktop [data-frames].

import { Backoff, TRANSIENT_CODES, ackRequester, refusalCode } from "/static/lib/acks.js";
import { ApiError, requestJson } from "/static/lib/api.js";
import { clearBanner, setStatus, showBanner, startClock } from "/static/lib/chrome.js";
import { $, el } from "/static/lib/dom.js";
import { messageOf, pageErrorText } from "/static/lib/errors.js";
import { KIND_LABELS, VENUE_KIND_LABELS } from "/static/lib/labels.js";
import { login } from "/static/lib/session.js";
import { connectSocket as openSocket } from "/static/lib/socket.js";
import { formatShortDateTime, formatTime, toDate } from "/static/lib/time.js";
import { RoomCameras, TileCamera, cameraSummary } from "/static/wall-cameras.js";
import { AudioDesk, FrameWatch, Viewer } from "/static/wall-rtc.js";

const TICK_MS = 500;
const FRESH_WARNING_MS = 15000; // a new warning's badge pulses this long
/** @type {Array<["audio" | "video", string]>} */
const WATCH_ROLES = [["video", "grid"], ["audio", "mix"]];
/** @type {Array<["audio" | "video", string]>} */
const FOCUS_ROLES = [["video", "camera"], ["video", "desktop"], ["audio", "mix"]];

/**
 * What the server says of each room it lets this supervisor see (`rooms` push).
 * @typedef {{ id: string, kind: string, label?: string, message?: string, started_at: string, seat?: string | null }} WallWarning
 * @typedef {{
 *   key: string, label: string, venue_name?: string, venue_kind?: string, seat_no?: number,
 *   expert_name?: string, online: boolean, tracks?: string[],
 * }} WallSeat
 * @typedef {{
 *   session_id: string, project_name?: string, project_code?: string, live: boolean,
 *   seats_online?: number, seats_expected?: number, scheduled_start?: string | null,
 *   warnings?: WallWarning[], cameras?: import("/static/wall-cameras.js").RoomCamera[], seats?: WallSeat[],
 * }} RoomInfo
 * @typedef {{ level(): number, close(): void }} Meter
 * @typedef {import("/static/wall-rtc.js").ViewerStatus | "idle"} MediaStatus
 */

/**
 * A room's tile on the wall: its elements, its viewer of the room's grid and mix, its camera.
 * @typedef {{
 *   sid: string, viewer: Viewer | null, stream: MediaStream | null, mixStream: MediaStream | null,
 *   meter: Meter | null, status: MediaStatus, message: string,
 *   video: HTMLVideoElement, node: HTMLElement, name: HTMLElement, code: HTMLElement, online: HTMLElement,
 *   phMain: HTMLElement, phSub: HTMLElement, badges: HTMLElement, cameraBox: HTMLElement,
 *   statusText: HTMLElement, cams: HTMLElement, level: HTMLElement,
 *   soundBtn: HTMLButtonElement, focusBtn: HTMLButtonElement, watch: FrameWatch, camera: TileCamera,
 * }} Tile
 */

/**
 * The focus view of one room: the chosen seat, its viewer and sound, the room's cameras.
 * @typedef {{
 *   sid: string, seat: string | null, viewer: Viewer | null, mixStream: MediaStream | null,
 *   meter: Meter | null, sound: boolean, status: MediaStatus, message: string, cameras: RoomCameras,
 * }} Focus
 */

const audio = new AudioDesk();
/**
 * @type {{
 *   state: WallState, ended: boolean, iceServers: RTCIceServer[],
 *   rooms: Map<string, RoomInfo>, tiles: Map<string, Tile>,
 *   seenWarnings: Set<string> | null, freshWarnings: Map<string, number>, audible: string | null,
 *   focus: Focus | null,
 *   notes: Map<string, Array<{ seq: number, at: string, text: string, where: string }>>,
 *   sent: Map<string, Array<{ id: string, at: Date, text: string, where: string, delivered: number }>>,
 *   retry: Backoff,
 * }}
 */
const app = {
  state: "connecting",
  ended: false,
  iceServers: [],
  rooms: new Map(), // session_id -> RoomInfo, as last sent (display order)
  tiles: new Map(), // session_id -> tile (see makeTile)
  seenWarnings: null, // warning ids seen so far; null until the first list
  freshWarnings: new Map(), // warning id -> when it appeared
  audible: null, // session_id whose sound plays on the wall
  focus: null, // {sid, seat, viewer, mixStream, meter, sound, status, message}
  notes: new Map(), // session_id -> saved notes, newest first
  sent: new Map(), // session_id -> warnings sent from this page, newest first
  retry: new Backoff(), // connecting again after a transient refusal
};
/** @type {import("/vendor/socket.io-client/socket.io.esm.min.js").Socket | null} */
let socket = null;
/** @type {FrameWatch[]} FrameWatch of #focus-camera, #focus-desktop, #focus-grid */
const focusWatches = [];

// ---- page state, banner, header ------------------------------------------------------------

/** @typedef {"connecting" | "reconnecting" | "ready" | "error"} WallState */
/** @type {Record<WallState, [string, "ok" | "busy" | "bad"]>} */
const STATUS = {
  connecting: ["连接中", "busy"],
  reconnecting: ["正在重新连接", "busy"],
  ready: ["监督中", "ok"],
  error: ["连接失败", "bad"],
};

/**
 * @param {WallState} state
 * @param {string | null} [errorCode]
 */
function setState(state, errorCode = null) {
  app.state = state;
  document.body.dataset.state = state === "reconnecting" ? "connecting" : state;
  if (errorCode) document.body.dataset.error = errorCode;
  const [text, tone] = STATUS[state];
  setStatus(text, tone);
}

/** @param {string | number | null | undefined} value */
function shortDateTime(value) {
  return formatShortDateTime(toDate(value));
}

// ---- socket ----------------------------------------------------------------------------------

const request = ackRequester(() => socket, { disconnectedText: "与服务器的连接已中断，请稍候重试。" });

function connectSocket() {
  socket = openSocket("/wall");
  socket.on("connect_error", (err) => {
    const code = refusalCode(err);
    if (!code) {
      // Transport failure (server down or restarting): socket.io retries by itself.
      showBanner("无法连接监督服务，正在自动重试…", "info");
      return;
    }
    if (TRANSIENT_CODES.has(code)) {
      showBanner(err.message || "监督服务暂时不可用，正在自动重试…", "info");
      scheduleReconnect();
      return;
    }
    fail(err.message || "无法进入监督墙。", code);
  });
  socket.on("disconnect", (reason) => {
    if (app.ended || reason === "io client disconnect") return;
    // The server dropped this socket's viewers with it: new ones follow the next "rooms".
    for (const tile of app.tiles.values()) stopWatch(tile, false);
    if (app.focus) stopFocusViewer(false);
    setState("reconnecting");
    showBanner("与监督服务的连接已中断，正在自动重新连接…", "info");
    if (reason === "io server disconnect") scheduleReconnect(); // socket.io will not by itself
  });
  socket.on("revoked", (msg) => fail(msg?.message || "该链接已被收回。", msg?.code || "link_revoked"));
  socket.on("hello", (msg) => {
    app.iceServers = msg?.ice_servers || [];
    const who = msg?.supervisor || {};
    const scope = who.scope === "all" ? "监督全部场次" : "监督指定场次";
    $("#supervisor").textContent = `监督人员 · ${who.name || "未具名"} · ${scope}`;
  });
  socket.on("rooms", (msg) => onRooms(msg?.rooms || []));
  socket.on("media_restart", (msg) => {
    const sid = msg?.session_id;
    const tile = app.tiles.get(sid);
    if (tile?.viewer) tile.viewer.restart();
    if (app.focus && app.focus.sid === sid && app.focus.viewer) app.focus.viewer.restart();
  });
  socket.on("room_closed", (msg) => {
    const sid = msg?.session_id;
    const room = app.rooms.get(sid);
    if (!room) return;
    app.rooms.set(sid, { ...room, live: false });
    const tile = app.tiles.get(sid);
    if (tile) stopWatch(tile, false);
    if (app.focus && app.focus.sid === sid) stopFocusViewer(false);
    render();
  });
}

function scheduleReconnect() {
  if (app.ended) return;
  app.retry.schedule(() => {
    if (app.ended || !socket || socket.connected) return;
    socket.connect();
  });
}

/** End the page for good (refused): say why, in the banner and in place of the wall. */
/**
 * @param {string} message
 * @param {string | null | undefined} code
 */
function fail(message, code) {
  if (app.ended) return;
  app.ended = true;
  app.retry.cancel();
  for (const tile of app.tiles.values()) stopWatch(tile, false);
  if (app.focus) closeFocus();
  if (socket) socket.disconnect();
  setState("error", code);
  showBanner(message, "error");
  $("#supervisor").textContent = "未能进入监督墙";
  $("#wall-empty-text").textContent = message;
  $("#wall-empty").hidden = false;
}

/** @param {RoomInfo[]} rooms */
function onRooms(rooms) {
  if (app.ended) return;
  app.rooms = new Map(rooms.map((room) => [room.session_id, room]));
  noticeWarnings(rooms);
  if (app.state !== "ready") {
    setState("ready");
    clearBanner();
    app.retry.reset();
  }
  if (app.focus && !app.rooms.has(app.focus.sid)) {
    closeFocus();
    showBanner("所聚焦的评标场次已不在监督范围内，已返回监督墙。", "info");
  }
  render();
}

/** Beep when a warning id appears that was not there before (not for those present at load). */
/** @param {RoomInfo[]} rooms */
function noticeWarnings(rooms) {
  const ids = rooms.flatMap((room) => (room.warnings || []).map((w) => w.id));
  if (app.seenWarnings === null) {
    app.seenWarnings = new Set(ids);
    return;
  }
  let fresh = false;
  for (const id of ids) {
    if (app.seenWarnings.has(id)) continue;
    app.seenWarnings.add(id);
    app.freshWarnings.set(id, Date.now());
    fresh = true;
  }
  if (fresh) audio.beep();
}

// ---- the wall --------------------------------------------------------------------------------

/** Columns and rows for `n` tiles: 12 fit 1920x1080 as 4x3; fewer get bigger tiles. */
/**
 * @param {number} n
 * @returns {[number, number]}
 */
function wallShape(n) {
  if (n <= 1) return [1, 1];
  if (n === 2) return [2, 1];
  if (n <= 4) return [2, 2];
  if (n <= 6) return [3, 2];
  if (n <= 9) return [3, 3];
  const cols = n <= 16 ? 4 : 5;
  return [cols, Math.ceil(n / cols)];
}

function render() {
  const rooms = [...app.rooms.values()];
  for (const [sid, tile] of app.tiles) {
    if (app.rooms.has(sid)) continue;
    stopWatch(tile, true);
    tile.camera.stop();
    tile.node.remove();
    app.tiles.delete(sid);
    if (app.audible === sid) app.audible = null;
  }
  rooms.forEach((room, index) => {
    let tile = app.tiles.get(room.session_id);
    if (!tile) {
      tile = makeTile(room.session_id);
      app.tiles.set(room.session_id, tile);
      $("#wall").append(tile.node);
    }
    const shown = tile;
    shown.node.style.order = String(index); // display order without moving playing videos
    updateTile(shown, room);
  });
  const [cols, rows] = wallShape(rooms.length);
  $("#wall").style.setProperty("--cols", String(cols));
  $("#wall").style.setProperty("--rows", String(rows));
  $("#wall-empty").hidden = rooms.length > 0;
  if (rooms.length === 0) $("#wall-empty-text").textContent = "当前没有可监督的评标场次";
  renderFigures(rooms);
  if (app.focus) renderFocus();
  sync();
}

/** @param {RoomInfo[]} rooms */
function renderFigures(rooms) {
  /** @param {(room: RoomInfo) => number | undefined} f */
  const sum = (f) => rooms.reduce((n, r) => n + (f(r) || 0), 0);
  const warnings = sum((r) => (r.warnings || []).length);
  $("#fig-rooms").textContent = String(rooms.length);
  $("#fig-live").textContent = String(rooms.filter((r) => r.live).length);
  $("#fig-seats").textContent = `${sum((r) => r.seats_online)}/${sum((r) => r.seats_expected)}`;
  $("#fig-warnings").textContent = String(warnings);
  $("#fig-warnings-box").dataset.alert = warnings > 0 ? "1" : "0";
}

/**
 * @param {string} sid
 * @returns {Tile}
 */
function makeTile(sid) {
  const video = el("video", { autoplay: true, playsinline: true, muted: true });
  video.muted = true;
  const name = el("span", { class: "tile-name" });
  const code = el("span", { class: "code" });
  const online = el("span", { class: "online-pill" });
  const phMain = el("div", { class: "ph-main" });
  const phSub = el("div", { class: "ph-sub" });
  const badges = el("div", { class: "badges" });
  const cameraBox = el("div", { class: "tile-camera-box" });
  const statusText = el("span", { class: "media-status" });
  const cams = el("span", { class: "camera-summary" });
  const level = el("span", { class: "level-fill" });
  const soundBtn = el("button", { class: "btn btn-sound", type: "button" }, "开启声音");
  const focusBtn = el("button", { class: "btn btn-focus", type: "button" }, "聚焦");
  const node = el("article", { class: "room-tile", dataset: { session: sid, live: "0", frames: "0", picture: "none", media: "idle" } },
    el("header", { class: "tile-head" },
      el("div", { class: "tile-title" }, name, code),
      online),
    el("div", { class: "tile-video" },
      video,
      el("div", { class: "tile-placeholder" }, phMain, phSub),
      badges,
      el("span", { class: "stall-tag", text: "画面停滞" }),
      cameraBox),
    el("footer", { class: "tile-foot" },
      statusText,
      cams,
      el("span", { class: "level", title: "全场音量" }, level),
      soundBtn,
      focusBtn));
  /** @type {Tile} */
  const t = {
    sid, viewer: null, stream: null, mixStream: null, meter: null, status: "idle", message: "",
    video, node, name, code, online, phMain, phSub, badges, cameraBox, statusText, cams, level, soundBtn, focusBtn,
    watch: new FrameWatch(video, 3000),
    camera: new TileCamera(cameraBox, { sid, request, iceServers: () => app.iceServers }),
  };
  soundBtn.addEventListener("click", () => {
    audio.resume();
    app.audible = app.audible === sid ? null : sid;
    applyAudio();
  });
  focusBtn.addEventListener("click", () => openFocus(sid));
  return t;
}

/** @param {Tile} t @param {RoomInfo} room */
function updateTile(t, room) {
  t.name.textContent = room.project_name || "（未命名项目）";
  t.name.title = room.project_name || "";
  t.code.textContent = room.project_code || "";
  t.online.textContent = `在线 ${room.seats_online ?? 0}/${room.seats_expected ?? 0}`;
  t.online.dataset.tone = onlineTone(room);
  t.node.dataset.live = room.live ? "1" : "0";
  t.node.dataset.warnings = String((room.warnings || []).length);
  t.cams.textContent = cameraSummary(room.cameras);
  t.cams.dataset.tone = (room.cameras || []).every((c) => c.state === "up") ? "ok" : "bad";
  t.soundBtn.disabled = !room.live;
  renderBadges(t.badges, room.warnings || []);
  showTileStatus(t);
}

/** @param {RoomInfo} room */
function onlineTone(room) {
  if (!room.seats_online) return "off";
  return room.seats_online >= /** @type {number} */ (room.seats_expected) ? "ok" : "partial";
}

/** The warnings of a room (or seat) as red badges; the newest pulse for a while. */
/**
 * @param {HTMLElement} container
 * @param {WallWarning[]} warnings
 * @param {number} [max]
 */
function renderBadges(container, warnings, max = 3) {
  /** @param {WallWarning} w */
  const badge = (w) => el("span", {
    class: "badge",
    "data-warning-id": w.id,
    "data-kind": w.kind,
    "data-fresh": app.freshWarnings.has(w.id),
    title: `${w.label ? `${w.label}：` : ""}${w.message || ""}（${shortDateTime(w.started_at)} 起）`,
  }, w.label ? `${w.label}：${w.message || ""}` : w.message || "异常");
  const extra = warnings.length - max;
  const more = extra > 0 ? [el("span", { class: "badge badge-more" }, `另有 ${extra} 条`)] : [];
  container.replaceChildren(...warnings.slice(0, max).map(badge), ...more);
}

/** Footer status and placeholder text from the room, its viewer and its picture. */
/** @param {Tile} t */
function showTileStatus(t) {
  const room = app.rooms.get(t.sid);
  const picture = t.node.dataset.picture;
  let text;
  let tone;
  if (!room?.live) {
    [text, tone] = ["未开始", "off"];
    t.phMain.textContent = "暂无机位上线";
    t.phSub.textContent = room?.scheduled_start ? `计划开始 ${shortDateTime(room.scheduled_start)}` : "";
  } else {
    if (t.status === "retrying") [text, tone] = ["重连中", "busy"];
    else if (picture === "ok") [text, tone] = ["实时", "live"];
    else if (picture === "stalled") [text, tone] = ["画面停滞", "busy"];
    else [text, tone] = ["连接中", "busy"];
    t.phMain.textContent = t.status === "retrying" ? "连接中断，正在重试…" : "正在接收画面…";
    t.phSub.textContent = t.status === "retrying" ? t.message : "";
  }
  t.statusText.textContent = text;
  t.statusText.dataset.tone = tone;
}

// ---- viewers ---------------------------------------------------------------------------------

/** Open or close every viewer so that exactly the wanted ones run. */
function sync() {
  const online = !app.ended && !!socket && socket.connected;
  for (const tile of app.tiles.values()) {
    const room = app.rooms.get(tile.sid);
    const want = online && !!room && !!room.live;
    if (want && !tile.viewer) startWatch(tile);
    else if (!want && tile.viewer) stopWatch(tile, online);
    if (want) tile.camera.show(room.cameras, true);
    else tile.camera.stop(online);
  }
  const f = app.focus;
  if (f) {
    const room = app.rooms.get(f.sid);
    const want = online && !!room && !!room.live && !!f.seat;
    if (want && !f.viewer) startFocusViewer();
    else if (!want && f.viewer) stopFocusViewer(online);
  }
  applyAudio();
}

/** @param {Tile} t */
function startWatch(t) {
  t.viewer = new Viewer({
    kind: "watch",
    fields: { session_id: t.sid },
    roles: WATCH_ROLES,
    request,
    iceServers: () => app.iceServers,
    onMedia: ({ grid, mix }) => {
      t.stream = new MediaStream([grid, mix].filter(Boolean));
      t.mixStream = mix ? new MediaStream([mix]) : null; // the room's sound in the focus view
      t.video.srcObject = t.stream; // the muted element also lets WebAudio read the mix
      t.video.play().catch(() => {});
      if (t.meter) t.meter.close();
      t.meter = audio.meter(mix);
      if (app.focus && app.focus.sid === t.sid) showFocusGrid();
      applyAudio();
    },
    onStatus: (status, message) => {
      t.status = status;
      t.message = message;
      t.node.dataset.media = status;
      showTileStatus(t);
    },
  });
  t.viewer.start();
}

/** @param {Tile} t @param {boolean} notify */
function stopWatch(t, notify) {
  if (t.viewer) t.viewer.close({ notify });
  if (t.meter) t.meter.close();
  t.viewer = null;
  t.meter = null;
  t.stream = null;
  t.mixStream = null;
  t.video.srcObject = null;
  t.status = "idle";
  t.node.dataset.media = "idle";
  t.node.dataset.picture = "none";
  if (app.focus && app.focus.sid === t.sid) showFocusGrid();
  showTileStatus(t);
}

/**
 * Who is heard: on the wall, one tile at most (its video element plays the mix); in the focus
 * view only the focused room, through #focus-audio: the focus viewer's mix once a seat is
 * chosen, the room tile's mix before that.
 */
function applyAudio() {
  const f = app.focus;
  for (const t of app.tiles.values()) {
    setMuted(t.video, !(!f && app.audible === t.sid && t.stream));
    const selected = app.audible === t.sid;
    t.soundBtn.textContent = selected ? "关闭声音" : "开启声音";
    t.soundBtn.dataset.on = selected ? "1" : "0";
    t.node.dataset.audible = selected ? "1" : "0";
  }
  const tile = f && app.tiles.get(f.sid);
  const source = f ? (f.viewer ? f.mixStream : tile?.mixStream) || null : null;
  const element = $("#focus-audio", HTMLAudioElement);
  if (element.srcObject !== source) {
    element.srcObject = source;
    if (source) element.play().catch(() => {});
  }
  setMuted(element, !(f?.sound && source));
  $("#focus-sound").textContent = f?.sound ? "关闭声音" : "开启声音";
  $("#focus-sound").dataset.on = f?.sound ? "1" : "0";
}

/** @param {HTMLMediaElement} media @param {boolean} muted */
function setMuted(media, muted) {
  if (media.muted === muted) return;
  media.muted = muted;
  if (muted || !media.srcObject) return;
  media.play().catch(() => {
    media.muted = true;
    showBanner("浏览器未允许播放声音，请再次点击“开启声音”。", "info");
  });
}

// ---- focus view ------------------------------------------------------------------------------

/** @param {string} sid */
function openFocus(sid) {
  audio.resume();
  const cameras = new RoomCameras($("#focus-cameras"), { sid, request, iceServers: () => app.iceServers });
  app.focus = { sid, seat: null, viewer: null, mixStream: null, meter: null, sound: true, status: "idle", message: "", cameras };
  const section = $("#focus");
  section.dataset.session = sid;
  section.dataset.seat = "";
  section.hidden = false;
  $("#wall").hidden = true;
  document.body.dataset.view = "focus";
  $("#note-text", HTMLTextAreaElement).value = "";
  $("#warn-text", HTMLTextAreaElement).value = "";
  formMessage("#note-result", "");
  formMessage("#warn-result", "");
  showFocusGrid();
  renderLogs();
  render();
}

function closeFocus() {
  if (!app.focus) return;
  stopFocusViewer(true);
  app.focus.cameras.close();
  app.focus = null;
  const section = $("#focus");
  section.hidden = true;
  section.dataset.session = "";
  section.dataset.seat = "";
  $("#focus-grid", HTMLVideoElement).srcObject = null;
  $("#wall").hidden = false;
  document.body.dataset.view = "wall";
  for (const t of app.tiles.values()) t.video.play().catch(() => {}); // resume after being hidden
  sync();
}

/** @param {string} key */
function selectSeat(key) {
  const f = app.focus;
  if (!f || f.seat === key) return;
  audio.resume();
  stopFocusViewer(true);
  f.seat = key;
  $("#focus").dataset.seat = key;
  $("#note-scope-seat", HTMLInputElement).checked = true;
  formMessage("#warn-result", "");
  formMessage("#note-result", "");
  render();
}

function startFocusViewer() {
  const f = /** @type {Focus} */ (app.focus);
  const viewer = new Viewer({
    kind: "focus",
    fields: { session_id: f.sid, seat: f.seat },
    roles: FOCUS_ROLES,
    request,
    iceServers: () => app.iceServers,
    onMedia: ({ camera, desktop, mix }) => {
      if (app.focus !== f || f.viewer !== viewer) return;
      $("#focus-camera", HTMLVideoElement).srcObject = new MediaStream([camera]);
      $("#focus-desktop", HTMLVideoElement).srcObject = new MediaStream([desktop]);
      for (const id of ["#focus-camera", "#focus-desktop"]) $(id, HTMLVideoElement).play().catch(() => {});
      f.mixStream = new MediaStream([mix]);
      if (f.meter) f.meter.close();
      f.meter = audio.meter(mix);
      applyAudio();
    },
    onStatus: (status, message) => {
      if (app.focus !== f || f.viewer !== viewer) return;
      f.status = status;
      f.message = message;
      renderFeeds();
    },
  });
  f.viewer = viewer;
  f.status = "connecting";
  viewer.start();
  renderFeeds();
}

/** @param {boolean} notify */
function stopFocusViewer(notify) {
  const f = app.focus;
  if (!f) return;
  if (f.viewer) f.viewer.close({ notify });
  if (f.meter) f.meter.close();
  f.viewer = null;
  f.meter = null;
  f.mixStream = null;
  f.status = "idle";
  for (const id of ["#focus-camera", "#focus-desktop"]) $(id, HTMLVideoElement).srcObject = null;
  renderFeeds();
  applyAudio();
}

function showFocusGrid() {
  const tile = app.focus && app.tiles.get(app.focus.sid);
  const video = $("#focus-grid", HTMLVideoElement);
  const stream = tile ? tile.stream : null;
  if (video.srcObject !== stream) video.srcObject = stream;
  if (stream) video.play().catch(() => {});
}

function focusSeat() {
  const f = app.focus;
  const room = f && app.rooms.get(f.sid);
  return (room && f.seat && (room.seats || []).find((s) => s.key === f.seat)) || null;
}

function renderFocus() {
  const f = /** @type {Focus} */ (app.focus);
  const room = app.rooms.get(f.sid);
  if (!room) return;
  $("#focus-name").textContent = room.project_name || "（未命名项目）";
  $("#focus-code").textContent = room.project_code || "";
  $("#focus-online").textContent = `在线 ${room.seats_online ?? 0}/${room.seats_expected ?? 0}`;
  $("#focus-online").dataset.tone = onlineTone(room);
  renderBadges($("#focus-warnings"), room.warnings || [], 4);
  f.cameras.render(room.live ? room.cameras || [] : []);
  const seats = room.seats || [];
  $("#focus-seat-count").textContent = seats.length ? `共 ${seats.length} 个` : "";
  $("#focus-seats").replaceChildren(...(seats.length ? seats.map((s) => seatItem(s, room)) :
    [el("li", { class: "seat-empty", text: "暂无机位信息" })]));
  const seat = focusSeat();
  $("#warn-seat", HTMLButtonElement).disabled = !seat;
  $("#note-scope-seat", HTMLInputElement).disabled = !seat;
  if (!seat) $("#note-scope-room", HTMLInputElement).checked = true;
  $("#note-scope-seat-label").textContent = seat ? `当前机位（${seat.label}）` : "当前机位";
  renderFeeds();
}

/** @param {WallSeat} s @param {RoomInfo} room */
function seatItem(s, room) {
  const f = /** @type {Focus} */ (app.focus);
  const tracks = new Set(s.tracks || []);
  const warnings = (room.warnings || []).filter((w) => w.seat === s.key).length;
  const kind = VENUE_KIND_LABELS[s.venue_kind || ""];
  const button = el("button", { class: "seat-btn", type: "button", "aria-pressed": String(f.seat === s.key) },
    el("span", { class: "dot", "data-online": s.online ? "1" : "0", title: s.online ? "在线" : "离线" }),
    el("span", { class: "seat-who" },
      el("span", { class: "seat-label" }, s.label || `${s.venue_name || ""} ${s.seat_no ?? ""}号机位`,
        kind ? el("span", { class: "tag", dataset: { kind: String(s.venue_kind) } }, kind) : null),
      el("span", { class: "seat-expert", text: `${s.expert_name || "（未指定专家）"}${s.online ? "" : " · 未上线"}` })),
    el("span", { class: "tracks" },
      ...["camera", "microphone", "desktop"].map((k) =>
        el("span", { class: "track", dataset: { on: tracks.has(k) ? "1" : "0" }, text: KIND_LABELS[k] }))),
    warnings ? el("span", { class: "seat-warn", title: "该机位的提醒", text: warnings }) : null);
  button.addEventListener("click", () => selectSeat(s.key));
  return el("li", { class: "seat-item", dataset: { seat: s.key, online: s.online ? "1" : "0", selected: f.seat === s.key ? "1" : "0" } }, button);
}

/** Captions and "等待画面" placeholders of the two seat feeds. */
function renderFeeds() {
  const f = app.focus;
  if (!f) return;
  const room = app.rooms.get(f.sid);
  const seat = focusSeat();
  const who = seat ? `· ${seat.label}${seat.expert_name ? ` · ${seat.expert_name}` : ""}` : "";
  $("#focus-camera-who").textContent = who;
  $("#focus-desktop-who").textContent = who;
  for (const kind of ["camera", "desktop"]) {
    let text = "等待画面";
    if (!f.seat) text = "请在左侧选择机位";
    else if (!room?.live) text = "本场暂无机位上线";
    else if (f.status === "retrying") text = f.message || "连接中断，正在重试…";
    else if (f.status === "connecting") text = "正在连接…";
    else if (seat && !seat.online) text = "等待画面（该机位未上线）";
    else if (seat && !(seat.tracks || []).includes(kind)) text = kind === "desktop" ? "等待画面（该机位尚未共享屏幕）" : "等待画面（该机位摄像头未开启）";
    $(`#focus-${kind}-placeholder`).textContent = text;
    // A picture that was shown stays visible unless the seat stopped sending it.
    const stopped = !seat?.online || !(seat.tracks || []).includes(kind) || f.status !== "live";
    /** @type {HTMLElement} */ ($(`#focus-${kind}`).parentElement).dataset.stopped = stopped ? "1" : "0";
  }
}

// ---- notes and warnings ------------------------------------------------------------------------

/**
 * @param {string} selector
 * @param {string} text
 * @param {string} [tone]
 */
function formMessage(selector, text, tone = "") {
  const node = $(selector);
  node.textContent = text;
  node.dataset.tone = tone;
}

async function saveNote() {
  const f = app.focus;
  const text = $("#note-text", HTMLTextAreaElement).value.trim();
  if (!f) return;
  if (!text) return formMessage("#note-result", "请先填写记录内容。", "bad");
  const seat = $("#note-scope-seat", HTMLInputElement).checked ? focusSeat() : null;
  const button = $("#note-save", HTMLButtonElement);
  button.disabled = true;
  formMessage("#note-result", "正在保存…");
  try {
    const answer = await request("note", { session_id: f.sid, text, seat: seat ? seat.key : null });
    const list = app.notes.get(f.sid) || [];
    list.unshift({ seq: answer.seq, at: answer.at, text, where: seat ? seat.label : "全场" });
    app.notes.set(f.sid, list);
    if (app.focus === f) {
      $("#note-text", HTMLTextAreaElement).value = "";
      formMessage("#note-result", "已保存", "ok");
      renderLogs();
    }
  } catch (err) {
    formMessage("#note-result", `保存失败：${messageOf(err)}`, "bad");
  } finally {
    button.disabled = false;
  }
}

/** Stop the evaluation at once (9-4), with the text above as the reason; seats are told. */
async function pauseEvaluation() {
  const f = app.focus;
  const reason = $("#warn-text", HTMLTextAreaElement).value.trim();
  if (!f) return;
  if (!reason) return formMessage("#warn-result", "请先在上方填写暂停原因。", "bad");
  if (!window.confirm(`确认立即暂停本场评审？\n原因：${reason}`)) return;
  try {
    await requestJson(`/api/sessions/${f.sid}/workflow`, { method: "POST", json: { kind: "pause", fields: { reason } } });
    formMessage("#warn-result", "评审已暂停，各机位已收到通知", "ok");
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    formMessage("#warn-result", `暂停失败：${err.detail || err.status}`, "bad");
  }
}

/** The notes saved and the warnings sent from this page for the focused room, newest first. */
function renderLogs() {
  const notes = (app.focus && app.notes.get(app.focus.sid)) || [];
  $("#notes").replaceChildren(...notes.map((n) =>
    el("li", { class: "note", "data-seq": n.seq },
      el("div", { class: "note-meta" },
        el("time", { datetime: toDate(n.at).toISOString(), text: formatTime(toDate(n.at)) }),
        el("span", { class: "note-where", text: n.where })),
      el("div", { class: "note-text", text: n.text }))));
  if (!notes.length) $("#notes").append(el("li", { class: "notes-empty", text: "本场尚未保存监督记录" }));
  const sent = (app.focus && app.sent.get(app.focus.sid)) || [];
  $("#warn-log").replaceChildren(...sent.map((w) =>
    el("li", { class: "sent-warning", "data-warning-id": w.id },
      el("div", { class: "note-meta" },
        el("time", { datetime: w.at.toISOString(), text: formatTime(w.at) }),
        el("span", { class: "note-where", text: `提醒${w.where}` }),
        el("span", { text: `已送达 ${w.delivered} 个机位` })),
      el("div", { class: "note-text", text: w.text }))));
}

/** @param {boolean} toSeat */
async function sendWarning(toSeat) {
  const f = app.focus;
  const text = $("#warn-text", HTMLTextAreaElement).value.trim();
  if (!f) return;
  if (!text) return formMessage("#warn-result", "请先填写提醒内容。", "bad");
  const seat = toSeat ? focusSeat() : null;
  if (toSeat && !seat) return formMessage("#warn-result", "请先在左侧选择机位。", "bad");
  const buttons = [$("#warn-seat", HTMLButtonElement), $("#warn-room", HTMLButtonElement)];
  for (const b of buttons) b.disabled = true;
  formMessage("#warn-result", "正在发送…");
  try {
    const answer = await request("warn", { session_id: f.sid, text, seat: seat ? seat.key : null });
    if (app.focus !== f) return;
    $("#warn-text", HTMLTextAreaElement).value = "";
    const n = answer.delivered ?? 0;
    formMessage("#warn-result", `已送达 ${n} 个机位`, n > 0 ? "ok" : "warn");
    const list = app.sent.get(f.sid) || [];
    list.unshift({ id: answer.id, at: new Date(), text, where: seat ? seat.label : "全场", delivered: n });
    app.sent.set(f.sid, list);
    renderLogs();
  } catch (err) {
    formMessage("#warn-result", `发送失败：${messageOf(err)}`, "bad");
  } finally {
    $("#warn-room", HTMLButtonElement).disabled = false;
    $("#warn-seat", HTMLButtonElement).disabled = !focusSeat();
  }
}

// ---- periodic: frames, levels ------------------------------------------------------------------

function tick() {
  for (const t of app.tiles.values()) {
    t.camera.tick();
    const { frames, playing, shown } = t.watch.tick();
    t.node.dataset.frames = String(frames);
    const picture = !t.stream || !shown ? "none" : playing ? "ok" : "stalled";
    if (t.node.dataset.picture !== picture) {
      t.node.dataset.picture = picture;
      showTileStatus(t);
    }
  }
  if (app.focus) app.focus.cameras.tick();
  for (const watch of focusWatches) {
    const { frames, shown } = watch.tick();
    watch.video.dataset.frames = String(frames);
    /** @type {HTMLElement} */ (watch.video.parentElement).dataset.picture = shown ? "ok" : "none";
  }
  const now = Date.now();
  for (const [id, at] of app.freshWarnings) {
    if (now - at < FRESH_WARNING_MS) continue;
    app.freshWarnings.delete(id);
    for (const b of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll(`.badge[data-fresh]`))) {
      if (b.dataset.warningId === String(id)) delete b.dataset.fresh;
    }
  }
  $("#audio-enable").hidden = audio.running || !audio.context;
}

function levels() {
  for (const t of app.tiles.values()) {
    t.level.style.transform = `scaleX(${t.meter ? t.meter.level() : 0})`;
  }
  const f = app.focus;
  const tile = f && app.tiles.get(f.sid);
  const meter = f && (f.viewer ? f.meter : tile?.meter);
  $("#focus-level").style.transform = `scaleX(${meter ? meter.level() : 0})`;
  requestAnimationFrame(levels);
}

// ---- start -----------------------------------------------------------------------------------

function bindControls() {
  $("#focus-back").addEventListener("click", closeFocus);
  $("#focus-sound").addEventListener("click", () => {
    audio.resume();
    const f = /** @type {Focus} */ (app.focus);
    f.sound = !f.sound;
    applyAudio();
  });
  $("#note-save", HTMLButtonElement).addEventListener("click", saveNote);
  $("#pause-room").addEventListener("click", pauseEvaluation);
  $("#warn-seat", HTMLButtonElement).addEventListener("click", () => sendWarning(true));
  $("#warn-room", HTMLButtonElement).addEventListener("click", () => sendWarning(false));
  $("#note-text", HTMLTextAreaElement).addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) saveNote();
  });
  $("#audio-enable").addEventListener("click", () => audio.resume());
  for (const type of ["pointerdown", "keydown"]) document.addEventListener(type, () => audio.resume());
  for (const id of ["#focus-camera", "#focus-desktop", "#focus-grid"]) focusWatches.push(new FrameWatch($(id, HTMLVideoElement)));
}

async function main() {
  startClock();
  setState("connecting");
  window.addEventListener("unhandledrejection", (event) => {
    showBanner(pageErrorText(event.reason));
  });
  bindControls();
  setInterval(tick, TICK_MS);
  requestAnimationFrame(levels);
  audio.ctx(); // suspended until a click where the browser requires one
  try {
    await login();
  } catch (err) {
    fail(messageOf(err), /** @type {{ code?: string }} */ (err).code);
    return;
  }
  connectSocket();
}

main();
