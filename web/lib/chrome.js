// @ts-check
// What sits around every page's own content: the header clock (Beijing time), the header's
// status pill and the banner under the header. The elements are the page's (#clock-time,
// #clock-date, #status, #status-text, #banner with an optional .banner-text inside).

import { $ } from "./dom.js";
import { formatDate, formatTime } from "./time.js";

/**
 * Tick the header clock (#clock-time, #clock-date) every second, in Beijing time: this
 * browser's clock, or `now` (a page that knows the server's clock shows that).
 * @param {() => number} [now]
 */
export function startClock(now = Date.now) {
  const tick = () => {
    const at = new Date(now());
    $("#clock-time").textContent = formatTime(at);
    $("#clock-date").textContent = formatDate(at);
  };
  tick();
  setInterval(tick, 1000);
}

/**
 * The header status pill: its words and tone (ok | busy | bad, the dot's colour).
 * @param {string} text
 * @param {"ok" | "busy" | "bad"} tone
 */
export function setStatus(text, tone) {
  $("#status-text").textContent = text;
  $("#status").dataset.tone = tone;
}

/**
 * Show a message under the header: kind "error" (red) or "info" (amber).
 * @param {string} text
 * @param {"error" | "info"} [kind]
 */
export function showBanner(text, kind = "error") {
  const banner = $("#banner");
  (banner.querySelector(".banner-text") || banner).textContent = text;
  banner.dataset.kind = kind;
  banner.hidden = false;
}

/**
 * Hide the banner; with `onlyKind`, only when it currently shows that kind.
 * @param {"error" | "info" | null} [onlyKind]
 */
export function clearBanner(onlyKind = null) {
  const banner = $("#banner");
  if (onlyKind && banner.dataset.kind !== onlyKind) return;
  banner.hidden = true;
}

/** Whether the banner shows a message now. */
export function bannerVisible() {
  return !$("#banner").hidden;
}

/**
 * Show `message` as an error, or hide the banner when it is empty.
 * @param {string} message
 */
export function setBanner(message) {
  if (message) showBanner(message);
  else clearBanner();
}
