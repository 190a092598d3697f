// @ts-check
// The public broadcast of a bid opening (开标直播, 4.4), for anybody who has the opening's
// public link where the opening allows it, and for the opening's supervisors: one way, the hall's information screen large, the
// host's camera with the speakers' sound, and the phase with its countdown on the server's
// clock. Nothing here can speak or act: the `/hall` namespace pushes the opening as the public
// may see it (before the deadline the countdown only) and the hall's media (lib/livecard.js).
//
// document.body.dataset.state: loading | ready | live (the broadcast's pictures come) | error;
// dataset.phase: the opening's phase.

import { ackRequester, refusalCode } from "/static/lib/acks.js";
import { requestJson } from "/static/lib/api.js";
import { clearBanner, setStatus, showBanner, startClock } from "/static/lib/chrome.js";
import { $ } from "/static/lib/dom.js";
import { messageOf } from "/static/lib/errors.js";
import { LiveCard } from "/static/lib/livecard.js";
import { Countdown, renderSteps } from "/static/lib/openingparts.js";
import { login } from "/static/lib/session.js";
import { connectSocket } from "/static/lib/socket.js";

/**
 * @typedef {import("/static/lib/wire").Me} Me
 * @typedef {import("/static/lib/wire").OpeningView} OpeningView
 */

const countdown = new Countdown({ label: $("#countdown-label"), digits: $("#countdown"), at: $("#countdown-at") });

/**
 * The opening as the public may see it, pushed after every change.
 * @param {OpeningView} view
 */
function take(view) {
  countdown.take(view, Date.now());
  document.body.dataset.phase = view.phase;
  $("#phase").textContent = view.paused ? `${view.phase_label}（暂停）` : view.phase_label;
  const paused = $("#paused");
  paused.hidden = !view.paused;
  paused.textContent = view.paused ? `开标已暂停：${view.pause_reason}` : "";
  renderSteps($("#steps"), view.phase);
}

/** @param {boolean} live */
function setLive(live) {
  const state = document.body.dataset.state;
  if (state === "error" || state === "loading") return;
  document.body.dataset.state = live ? "live" : "ready";
}

/** @param {string} text */
function fail(text) {
  document.body.dataset.state = "error";
  setStatus("无法观看", "bad");
  showBanner(text);
}

function connect() {
  const socket = connectSocket("/hall");
  const request = ackRequester(() => socket, { disconnectedText: "与服务器的连接已中断" });
  const live = new LiveCard({ request, onLive: setLive });
  socket.on("connect", () => { setStatus("已连接", "ok"); clearBanner("info"); });
  socket.on("connect_error", (err) => {
    if (refusalCode(err)) {
      fail(messageOf(err));
      socket.disconnect();
    } else {
      setStatus("正在重连", "busy");
    }
  });
  socket.on("disconnect", () => {
    if (document.body.dataset.state !== "error") {
      setStatus("正在重连", "busy");
      showBanner("与服务器的连接已中断，正在重新连接…", "info");
    }
  });
  socket.on("opening", (/** @type {OpeningView} */ view) => take(view));
  socket.on("media", (media) => live.take(media));
  socket.on("revoked", ({ message }) => {
    fail(message);
    socket.disconnect();
  });
}

async function start() {
  startClock(() => countdown.now());
  await login();
  const me = /** @type {Me} */ (await requestJson("/api/me", { what: "读取身份失败" }));
  const session = me.session;
  if (!session) throw new Error("该链接不属于任何开标场次");
  $("#project-name").textContent = session.project_name;
  $("#project-meta").textContent = `项目编号 ${session.project_code} · 开标直播（单向观看）`;
  document.body.dataset.state = "ready";
  connect();
}

start().catch((err) => fail(messageOf(err)));
