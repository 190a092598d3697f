// @ts-check
// Expert seat page (专家席位): device check, joining the room over Socket.IO, the peer
// connection to the server, and reconnecting by itself.
//
// document.body.dataset.state is machine-readable: connecting | live | reconnecting | ended,
// and document.body.dataset.error names the error code when an error ended the page.

import { AckError, Backoff, TRANSIENT_CODES, ackRequester, refusalCode } from "/static/lib/acks.js";
import { bannerVisible, clearBanner, showBanner, startClock } from "/static/lib/chrome.js";
import { requestJson } from "/static/lib/api.js";
import { MicMeter, openCameraAndMicrophone, openScreen } from "/static/lib/devices.js";
import { $, flag, queryParams } from "/static/lib/dom.js";
import { messageOf, pageErrorText } from "/static/lib/errors.js";
import { IceServers } from "/static/lib/rtc.js";
import { login } from "/static/lib/session.js";
import { connectSocket as openSocket } from "/static/lib/socket.js";
import { SeatFlow } from "/static/seat-flow.js";
import { SeatPeer } from "/static/seat-rtc.js";
import * as ui from "/static/seat-ui.js";

const OFFER_TIMEOUT_MS = 20000;
// A peer connection "disconnected" this long is rebuilt. ICE keeps trying meanwhile and comes
// back by itself, within a second of the network's return, after an outage shorter than this;
// the server keeps the connection for 30 s without an answer (aioice's consent freshness).
// "failed" (ICE gave up: the network changed, say) is rebuilt at once.
const PC_DROP_GRACE_MS = 20000;
const PC_CONNECT_DEADLINE_MS = 20000; // after the answer, ICE must connect within this

const params = queryParams();
const auto = flag(params, "auto");

const flow = new SeatFlow();

/**
 * @typedef {import("/static/seat-ui.js").PageState} PageState
 * @typedef {import("/static/seat-rtc.js").LocalMedia} LocalMedia
 * @typedef {import("/static/lib/wire").SeatWarning} SeatWarning
 * @typedef {ReturnType<typeof setTimeout>} Timer
 */

/**
 * @type {{
 *   state: PageState, ended: boolean, wantJoin: boolean, local: LocalMedia | null,
 *   meter: MicMeter | null, peer: SeatPeer | null, joinGen: number,
 *   seat: import("/static/lib/wire").JoinSeat | null, roster: import("/static/lib/wire").Roster | null,
 *   media: { connected: boolean, grid: boolean, audio: boolean },
 *   dropTimer: Timer | undefined, connectTimer: Timer | undefined, retry: Backoff,
 *   warnings: SeatWarning[], ackingWarning: boolean, ice: IceServers,
 * }}
 */
const app = {
  state: "connecting",
  ended: false,
  wantJoin: false, // the expert entered the room: join on every (re)connect
  local: null,
  meter: null,
  peer: null,
  joinGen: 0,
  seat: null, // the join answer's seat
  roster: null,
  media: { connected: false, grid: false, audio: false },
  dropTimer: undefined,
  connectTimer: undefined,
  retry: new Backoff(), // starting over after a refusal or a lost connection
  warnings: [], // supervisor warnings not yet acknowledged, oldest first
  ackingWarning: false,
  // STUN/TURN servers: each join brings fresh TURN credentials; a long session renews them.
  ice: new IceServers(() =>
    app.seat?.session_id
      ? requestJson(`/api/sessions/${encodeURIComponent(app.seat.session_id)}/ice-servers`)
      : Promise.resolve(null),
  ),
};

/**
 * @param {PageState} state
 * @param {string | null} [errorCode]
 */
function setState(state, errorCode = null) {
  app.state = state;
  ui.setState(state, errorCode);
}

// ---- socket ----------------------------------------------------------------------------

/** @type {import("/vendor/socket.io-client/socket.io.esm.min.js").Socket | null} */
let socket = null;

/** Emit with an ack and a deadline; resolves to the answer or throws AckError. */
const request = ackRequester(() => socket, {
  timeoutText: "服务器响应超时，正在重试。",
  errorText: "服务器返回错误",
});

function connectSocket() {
  socket = openSocket("/seat");
  socket.on("connect", () => {
    if (app.wantJoin) join();
  });
  socket.on("connect_error", (err) => {
    const code = refusalCode(err);
    if (!code) {
      // Transport failure (server down or restarting): socket.io retries by itself.
      if (app.wantJoin || app.state !== "connecting") setState("reconnecting");
      return;
    }
    if (TRANSIENT_CODES.has(code)) {
      showBanner(err.message, "info");
      scheduleRestart();
      return;
    }
    end(err.message || "无法进入评标室。", code);
  });
  socket.on("disconnect", (reason) => {
    if (app.ended || reason === "io client disconnect") return;
    dropPeer();
    setState("reconnecting");
    noteReconnecting("与服务器的连接已中断，正在自动重新连接…");
    // After a server-side disconnect socket.io does not reconnect on its own.
    if (reason === "io server disconnect") scheduleRestart();
  });
  socket.on("roster", (roster) => {
    app.roster = roster;
    ui.showRoster(roster, app.seat);
    flow.setRoster(roster);
  });
  socket.on("workflow", (update) => flow.update(update));
  socket.on("revoked", (msg) => {
    end(msg?.message || "该链接已被收回。", msg?.code || "link_revoked");
  });
  socket.on("replaced", (msg) => {
    end(msg?.message || "本席位已在其他设备上进入评标室。", msg?.code || "seat_replaced");
  });
  socket.on("media_restart", (msg) => {
    // The room's media process was replaced: negotiate again on the same connection.
    if (app.ended) return;
    noteReconnecting(msg?.message || "媒体服务已恢复，正在重新连接音视频…");
    join();
  });
  socket.on("session_ended", (msg) => {
    if (app.roster) {
      // Everyone leaves with the end instruction: no seat is shown online any more.
      const seats = app.roster.seats.map((s) => ({ ...s, online: false, tracks: [] }));
      ui.showRoster({ ...app.roster, seats }, app.seat);
    }
    end(msg?.message || "本场评标已结束。", null, "info");
  });
  socket.on("warning", (warning) => {
    if (app.ended || !warning || !warning.id) return;
    if (app.warnings.some((w) => w.id === warning.id)) return; // sent again after a reconnect
    app.warnings.push(warning);
    showNextWarning(); // the first one, or the same card with the queue count updated
    if (app.ackingWarning) ui.warningPending(true);
  });
  socket.on("server_shutdown", (msg) => {
    if (app.ended) return;
    showBanner(msg?.message || "服务器正在重启，稍后将自动重新连接。", "info");
    dropPeer();
    setState("reconnecting");
  });
}

/** Tear everything down and start over after a back-off: new socket connection, join, offer. */
function scheduleRestart() {
  if (app.ended || app.retry.pending) return;
  dropPeer();
  setState("reconnecting");
  app.retry.schedule(() => {
    if (app.ended) return;
    if (!socket) return;
    if (socket.connected) socket.disconnect();
    socket.connect();
  });
}

// ---- supervisor warnings ------------------------------------------------------------------

function showNextWarning() {
  const warning = app.warnings[0];
  if (!warning) {
    ui.hideWarning();
    return;
  }
  ui.showWarning(warning, app.warnings.length - 1, () => ackWarning(warning));
}

/** 已知悉: tell the server, then show the next queued warning. */
/** @param {SeatWarning} warning */
async function ackWarning(warning) {
  if (app.ackingWarning) return;
  if (!socket?.connected) {
    ui.warningPending(false, "网络连接已中断，恢复后请再次点击“已知悉”。");
    return;
  }
  app.ackingWarning = true;
  ui.warningPending(true);
  try {
    await request("ack_warning", { id: warning.id });
  } catch (err) {
    if (err instanceof AckError && err.code === "timeout") {
      ui.warningPending(false, "确认未能送达，请再次点击“已知悉”。");
      return;
    }
    // Any other answer: the server no longer holds this warning; nothing left to confirm.
  } finally {
    app.ackingWarning = false;
  }
  app.warnings = app.warnings.filter((w) => w.id !== warning.id);
  showNextWarning();
}

// ---- joining and the peer connection ------------------------------------------------------

async function join() {
  const gen = ++app.joinGen;
  dropPeer();
  if (app.state !== "connecting") setState("reconnecting");
  try {
    const answer = await request("join", {});
    if (gen !== app.joinGen || app.ended) return;
    const seat = answer.seat || {};
    ui.showSeat(seat);
    app.seat = seat;
    if (answer.roster) app.roster = answer.roster;
    if (app.roster) ui.showRoster(app.roster, app.seat);
    app.ice.adopt({
      ice_servers: answer.ice_servers,
      ice_expires_at: answer.ice_expires_at,
      ice_renew_in_s: answer.ice_renew_in_s,
    });
    await startPeer(gen);
  } catch (err) {
    if (gen !== app.joinGen || app.ended) return;
    failed(err);
  }
}

/** @param {number} gen */
async function startPeer(gen) {
  app.media = { connected: false, grid: false, audio: false };
  ui.showStagePlaceholder("正在接收评标室画面…");
  const peer = new SeatPeer({
    iceServers: app.ice.servers,
    local: /** @type {LocalMedia} */ (app.local),
    signal: {
      offer: (payload) => request("offer", payload, OFFER_TIMEOUT_MS),
      candidate: (payload) => request("ice_candidate", payload),
    },
    events: {
      remote: (kind, track) => onRemoteTrack(peer, kind, track),
      connectionState: (state) => onConnectionState(peer, state),
    },
  });
  app.peer = peer;
  app.ice.track(peer.pc);
  await peer.negotiate();
  if (gen !== app.joinGen || peer !== app.peer) return;
  clearTimeout(app.connectTimer);
  app.connectTimer = setTimeout(() => {
    if (peer === app.peer && !app.media.connected) {
      showBanner("音视频连接未能建立，正在重试。", "info");
      scheduleRestart();
    }
  }, PC_CONNECT_DEADLINE_MS);
}

/**
 * @param {SeatPeer} peer
 * @param {"audio" | "grid"} kind
 * @param {MediaStreamTrack} track
 */
function onRemoteTrack(peer, kind, track) {
  if (peer !== app.peer) return;
  if (kind === "audio") {
    ui.attachAudio(track);
    app.media.audio = true;
  } else {
    ui.attachGrid(track, () => {
      if (peer !== app.peer) return;
      app.media.grid = true;
      updateLive();
    });
  }
  updateLive();
}

/**
 * @param {SeatPeer} peer
 * @param {RTCPeerConnectionState} state
 */
function onConnectionState(peer, state) {
  if (peer !== app.peer || app.ended) return;
  app.media.connected = state === "connected";
  if (state === "connected") {
    clearTimeout(app.dropTimer);
    app.dropTimer = undefined;
    updateLive();
  } else if (state === "disconnected" || state === "failed") {
    setState("reconnecting");
    noteReconnecting("音视频连接不稳定，正在恢复…");
    if (state === "failed") {
      scheduleRestart();
    } else if (!app.dropTimer) {
      app.dropTimer = setTimeout(() => {
        app.dropTimer = undefined;
        if (peer === app.peer && !app.media.connected) scheduleRestart();
      }, PC_DROP_GRACE_MS);
    }
  }
}

/** Say why the page is reconnecting, unless the banner already says something. */
/** @param {string} text */
function noteReconnecting(text) {
  if (!bannerVisible()) showBanner(text, "info");
}

/** `live` once the peer is connected, the grid shows frames and the room audio arrived. */
function updateLive() {
  const m = app.media;
  if (app.ended || !app.peer || !(m.connected && m.grid && m.audio)) return;
  if (app.state !== "live") {
    setState("live");
    clearBanner("info");
    app.retry.reset();
    clearTimeout(app.connectTimer);
  }
}

function dropPeer() {
  clearTimeout(app.dropTimer);
  clearTimeout(app.connectTimer);
  app.dropTimer = undefined;
  if (app.peer) {
    app.peer.close();
    app.peer = null;
    ui.detachRemote();
    ui.showStagePlaceholder("正在重新连接评标室…");
  }
  app.media = { connected: false, grid: false, audio: false };
}

/** @param {unknown} err */
function failed(err) {
  const code = err instanceof AckError ? err.code : "internal";
  const message = err instanceof AckError ? err.message : `连接出错：${err && /** @type {Error} */ (err).message}`;
  if (TRANSIENT_CODES.has(code)) {
    showBanner(message, "info");
    scheduleRestart();
  } else {
    end(message, code);
  }
}

/** End the page for good: refused, replaced, or left. */
/**
 * @param {string} message
 * @param {string | null} [code]
 * @param {"error" | "info"} [kind]
 */
function end(message, code = null, kind = "error") {
  if (app.ended) return;
  app.ended = true;
  app.wantJoin = false;
  app.joinGen += 1;
  app.retry.cancel();
  app.ice.stop();
  app.warnings = [];
  ui.hideWarning();
  dropPeer();
  if (socket) socket.disconnect();
  if (app.local) for (const track of app.local.stream.getTracks()) track.stop();
  if (app.local?.desktop) app.local.desktop.stop();
  if (app.meter) app.meter.close();
  devicesClosed();
  ui.hideDeviceCheck();
  setState("ended", code);
  if (message) showBanner(message, kind);
  ui.showStagePlaceholder(message || "连接已结束。");
}

function devicesClosed() {
  ui.detachSelf();
  ui.setDevice("camera", "已关闭");
  ui.setDevice("microphone", "已关闭");
  ui.setDevice("desktop", "未共享");
  ui.setDevice("network", "—");
  if (!app.seat) ui.setSeatLabel("未进入评标室");
}

async function leave() {
  if (app.ended) return;
  if (socket?.connected && app.wantJoin) {
    try {
      await request("leave", {}, 3000);
    } catch {
      // Leaving anyway: the server also frees the seat when the socket closes.
    }
  }
  end("您已离开评标室。如需重新进入，请刷新页面或联系现场工作人员。", null, "info");
}

// ---- local devices ----------------------------------------------------------------------

async function startLocal() {
  const got = await openCameraAndMicrophone();
  app.local = { stream: got.stream, camera: got.camera, microphone: got.microphone, desktop: null };
  ui.showSelf(got.stream);
  if (got.camera) {
    const s = got.camera.getSettings();
    ui.setDevice("camera", s.width ? `正常 · ${s.width}×${s.height}` : "正常", "ok");
  } else {
    ui.setDevice("camera", "不可用", "bad");
  }
  ui.setDevice("microphone", got.microphone ? "正常" : "不可用", got.microphone ? "ok" : "bad");
  if (got.errors.length) showBanner(got.errors.join(" "));
  app.meter = new MicMeter(got.microphone);
  ui.startMeters(() => (app.meter ? app.meter.level() : 0));
  document.addEventListener("pointerdown", () => app.meter?.resume());
}

/** @param {{ fromGesture: boolean }} how */
async function shareScreen({ fromGesture }) {
  try {
    const track = await openScreen();
    if (app.ended) {
      track.stop();
      return;
    }
    setDesktop(track);
  } catch (err) {
    ui.showShareButtons(true);
    if (fromGesture && err instanceof Error && err.name !== "NotAllowedError") {
      showBanner(`屏幕共享失败：${err.message}`);
    }
    ui.setDevice("desktop", "未共享", "warn");
  }
}

/** @param {MediaStreamTrack | null} track */
function setDesktop(track) {
  const local = /** @type {LocalMedia} */ (app.local);
  if (local.desktop && local.desktop !== track) local.desktop.stop();
  app.local = { ...local, desktop: track };
  if (app.peer) app.peer.setDesktopTrack(track).catch(() => {});
  if (track) {
    ui.showShareButtons(false);
    ui.setDevice("desktop", "正在共享", "ok");
    track.addEventListener("ended", () => {
      if (app.local && app.local.desktop === track) setDesktop(null);
    });
  } else {
    ui.showShareButtons(true);
    ui.setDevice("desktop", "未共享", "warn");
  }
}

// ---- start ------------------------------------------------------------------------------

function enterRoom() {
  app.wantJoin = true;
  setState("connecting");
  if (socket?.connected) join();
}

async function main() {
  startClock();
  setState("connecting");
  window.addEventListener("unhandledrejection", (event) => {
    showBanner(pageErrorText(event.reason));
  });
  try {
    await login();
  } catch (err) {
    end(messageOf(err), /** @type {{ code?: string }} */ (err).code);
    return;
  }
  ui.bindLeave(leave);
  for (const id of ["#share-btn", "#check-share-btn"]) {
    $(id).addEventListener("click", () => shareScreen({ fromGesture: true }));
  }
  setInterval(async () => {
    if (app.peer && app.media.connected) ui.showNetwork(await app.peer.stats().catch(() => null));
  }, 2000);

  flow.start(); // the workflow card: who this expert is (the socket's pushes may come first)
  // The socket opens at once, so that a refused token shows before the device check ends.
  connectSocket();
  const entered = auto ? Promise.resolve() : ui.deviceCheck(false);
  await startLocal();
  if (app.ended) {
    // Refused while the devices were opening: close them again.
    if (app.local) for (const track of app.local.stream.getTracks()) track.stop();
    devicesClosed();
    return;
  }
  if (auto) {
    shareScreen({ fromGesture: false }); // may be refused without a click: then a button shows
  } else {
    ui.enableEnter();
  }
  await entered;
  if (!app.ended) enterRoom();
}

main();
