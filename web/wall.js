// @ts-check
// Supervision wall (监督墙) for supervisors (监督人员): every room's live grid, seats online and
// sound level at a glance; a focus view on one room and one seat's camera and screen, with
// supervision notes (监督记录) and warnings (提醒) sent to the seats' screens.
//
// This module holds the page: its state, the socket, the grid of rooms, which viewers run,
// who is heard, and the tick. A room's tile is in wall-tile.js, the focus panel in
// wall-focus.js; both get the page as an explicit host object (`wall` below).
//
// Machine-readable hooks (kept stable for the end-to-end tests):
//   body[data-state] connecting | ready | error, body[data-error] = the refusal's code;
//   article.room-tile[data-session][data-live="1|0"][data-frames];
//   section#focus[data-session][data-seat], video#focus-camera / #focus-desktop [data-frames].

import { Backoff, TRANSIENT_CODES, ackRequester, refusalCode } from "/static/lib/acks.js";
import { requestJson } from "/static/lib/api.js";
import { clearBanner, setStatus, showBanner, startClock } from "/static/lib/chrome.js";
import { $ } from "/static/lib/dom.js";
import { messageOf, pageErrorText } from "/static/lib/errors.js";
import { IceServers } from "/static/lib/rtc.js";
import { login } from "/static/lib/session.js";
import { connectSocket as openSocket } from "/static/lib/socket.js";
import { FocusPanel } from "/static/wall-focus.js";
import { AudioDesk } from "/static/wall-rtc.js";
import { RoomTile } from "/static/wall-tile.js";

const TICK_MS = 500;
const FRESH_WARNING_MS = 15000; // a new warning's badge pulses this long

/** @typedef {import("/static/wall-tile.js").RoomInfo} RoomInfo */

const audio = new AudioDesk();
/**
 * @type {{
 *   state: WallState, ended: boolean, ice: IceServers,
 *   rooms: Map<string, RoomInfo>, tiles: Map<string, RoomTile>,
 *   seenWarnings: Set<string> | null, freshWarnings: Map<string, number>, audible: string | null,
 *   retry: Backoff,
 * }}
 */
const app = {
  state: "connecting",
  ended: false,
  // STUN/TURN servers from "hello"; their TURN credentials are renewed through a watched room.
  ice: new IceServers(() => {
    const sid = app.rooms.keys().next().value;
    return sid ? requestJson(`/api/sessions/${encodeURIComponent(sid)}/ice-servers`) : Promise.resolve(null);
  }),
  rooms: new Map(), // session_id -> RoomInfo, as last sent (display order)
  tiles: new Map(), // session_id -> its tile
  seenWarnings: null, // warning ids seen so far; null until the first list
  freshWarnings: new Map(), // warning id -> when it appeared
  audible: null, // session_id whose sound plays on the wall
  retry: new Backoff(), // connecting again after a transient refusal
};
/** @type {import("/vendor/socket.io-client/socket.io.esm.min.js").Socket | null} */
let socket = null;

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

// ---- what the tiles and the focus panel use of the page --------------------------------------

const request = ackRequester(() => socket, { disconnectedText: "与服务器的连接已中断，请稍候重试。" });

/**
 * The page as the tiles and the focus panel see it: lookups into the current state, the
 * socket's requests, the audio desk, and the page-wide redraws.
 * @type {import("/static/wall-tile.js").TileHost & import("/static/wall-focus.js").FocusHost}
 */
const wall = {
  room: (sid) => app.rooms.get(sid),
  tile: (sid) => app.tiles.get(sid),
  tiles: () => app.tiles.values(),
  fresh: app.freshWarnings,
  request,
  ice: app.ice,
  audio,
  render,
  sync,
  applyAudio,
  toggleSound: (sid) => {
    app.audible = app.audible === sid ? null : sid;
    applyAudio();
  },
  openFocus: (sid) => panel.open(sid),
  gridChanged: (sid) => {
    if (panel.focus && panel.focus.sid === sid) panel.showGrid();
  },
};
const panel = new FocusPanel(wall);

// ---- socket ----------------------------------------------------------------------------------

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
    for (const tile of app.tiles.values()) tile.stopWatch(false);
    if (panel.focus) panel.stopViewer(false);
    setState("reconnecting");
    showBanner("与监督服务的连接已中断，正在自动重新连接…", "info");
    if (reason === "io server disconnect") scheduleReconnect(); // socket.io will not by itself
  });
  socket.on("revoked", (msg) => fail(msg?.message || "该链接已被收回。", msg?.code || "link_revoked"));
  socket.on("hello", (msg) => {
    app.ice.adopt(msg || {});
    const who = msg?.supervisor || {};
    const scope = who.scope === "all" ? "监督全部场次" : "监督指定场次";
    $("#supervisor").textContent = `监督人员 · ${who.name || "未具名"} · ${scope}`;
  });
  socket.on("rooms", (msg) => onRooms(msg?.rooms || []));
  socket.on("media_restart", (msg) => {
    const sid = msg?.session_id;
    const tile = app.tiles.get(sid);
    if (tile?.viewer) tile.viewer.restart();
    if (panel.focus && panel.focus.sid === sid && panel.focus.viewer) panel.focus.viewer.restart();
  });
  socket.on("room_closed", (msg) => {
    const sid = msg?.session_id;
    const room = app.rooms.get(sid);
    if (!room) return;
    app.rooms.set(sid, { ...room, live: false });
    const tile = app.tiles.get(sid);
    if (tile) tile.stopWatch(false);
    if (panel.focus && panel.focus.sid === sid) panel.stopViewer(false);
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
  app.ice.stop();
  for (const tile of app.tiles.values()) tile.stopWatch(false);
  if (panel.focus) panel.close();
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
  if (panel.focus && !app.rooms.has(panel.focus.sid)) {
    panel.close();
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
    tile.stopWatch(true);
    tile.camera.stop();
    tile.node.remove();
    app.tiles.delete(sid);
    if (app.audible === sid) app.audible = null;
  }
  rooms.forEach((room, index) => {
    let tile = app.tiles.get(room.session_id);
    if (!tile) {
      tile = new RoomTile(room.session_id, wall);
      app.tiles.set(room.session_id, tile);
      $("#wall").append(tile.node);
    }
    const shown = tile;
    shown.node.style.order = String(index); // display order without moving playing videos
    shown.update(room);
  });
  const [cols, rows] = wallShape(rooms.length);
  $("#wall").style.setProperty("--cols", String(cols));
  $("#wall").style.setProperty("--rows", String(rows));
  $("#wall-empty").hidden = rooms.length > 0;
  if (rooms.length === 0) $("#wall-empty-text").textContent = "当前没有可监督的评标场次";
  renderFigures(rooms);
  if (panel.focus) panel.render();
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

// ---- viewers ---------------------------------------------------------------------------------

/** Open or close every viewer so that exactly the wanted ones run. */
function sync() {
  const online = !app.ended && !!socket && socket.connected;
  for (const tile of app.tiles.values()) {
    const room = app.rooms.get(tile.sid);
    const want = online && !!room && !!room.live;
    if (want && !tile.viewer) tile.startWatch();
    else if (!want && tile.viewer) tile.stopWatch(online);
    if (want) tile.camera.show(room.cameras, true);
    else tile.camera.stop(online);
  }
  const f = panel.focus;
  if (f) {
    const room = app.rooms.get(f.sid);
    const want = online && !!room && !!room.live && !!f.seat;
    if (want && !f.viewer) panel.startViewer();
    else if (!want && f.viewer) panel.stopViewer(online);
  }
  applyAudio();
}

/**
 * Who is heard: on the wall, one tile at most (its video element plays the mix); in the focus
 * view only the focused room, through #focus-audio: the focus viewer's mix once a seat is
 * chosen, the room tile's mix before that.
 */
function applyAudio() {
  const f = panel.focus;
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

// ---- periodic: frames, levels ------------------------------------------------------------------

function tick() {
  for (const t of app.tiles.values()) {
    t.camera.tick();
    const { frames, playing, shown } = t.watch.tick();
    t.node.dataset.frames = String(frames);
    const picture = !t.stream || !shown ? "none" : playing ? "ok" : "stalled";
    if (t.node.dataset.picture !== picture) {
      t.node.dataset.picture = picture;
      t.showStatus();
    }
  }
  panel.tick();
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
  panel.showLevel();
  requestAnimationFrame(levels);
}

// ---- start -----------------------------------------------------------------------------------

function bindControls() {
  panel.bindControls();
  $("#audio-enable").addEventListener("click", () => audio.resume());
  for (const type of ["pointerdown", "keydown"]) document.addEventListener(type, () => audio.resume());
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
