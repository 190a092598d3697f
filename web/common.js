// Small helpers shared by the browser pages (seat, console, wall). No dependencies.

/** Chinese names of the media kinds a seat sends. */
export const KIND_LABELS = Object.freeze({
  camera: "摄像头",
  microphone: "麦克风",
  desktop: "屏幕",
});

/** Chinese names of the venue kinds. */
export const VENUE_KIND_LABELS = Object.freeze({
  main: "主场",
  sub: "副场",
});

/** First element matching `selector` (throws when the page lacks it: a page bug). */
export function $(selector, root = document) {
  const found = root.querySelector(selector);
  if (!found) throw new Error(`missing element ${selector}`);
  return found;
}

/** Create an element: el("li", {class: "x", dataset: {k: "v"}, style: {left: "5%"}}, child, "text"). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    // Properties, never a style attribute: the Content-Security-Policy refuses inline styles.
    else if (key === "style") Object.assign(node.style, value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** The page's query string as a URLSearchParams. */
export function queryParams() {
  return new URLSearchParams(window.location.search);
}

/** True when the query flag `name` is set to 1/true/yes. */
export function flag(params, name) {
  return ["1", "true", "yes"].includes((params.get(name) || "").toLowerCase());
}

const pad = (n) => String(n).padStart(2, "0");
const WEEKDAYS = ["日", "一", "二", "三", "四", "五", "六"];
// Every time the pages show is Beijing time, as on the room's picture, whatever zone the browser
// is set to. Beijing is UTC+8 all year (no daylight saving since 1991), so the UTC fields of a
// Date moved on by eight hours are Beijing's wall clock.
const BEIJING_OFFSET_MS = 8 * 3600 * 1000;

/** Year, month (1-12), day, weekday (0 = Sunday), hours, minutes, seconds in Beijing time. */
export function beijingTime(d) {
  const b = new Date(d.getTime() + BEIJING_OFFSET_MS);
  return {
    year: b.getUTCFullYear(), month: b.getUTCMonth() + 1, day: b.getUTCDate(), weekday: b.getUTCDay(),
    hours: b.getUTCHours(), minutes: b.getUTCMinutes(), seconds: b.getUTCSeconds(),
  };
}

/** "2024年05月06日 星期一" for the header clock (Beijing time). */
export function formatDate(d) {
  const b = beijingTime(d);
  return `${b.year}年${pad(b.month)}月${pad(b.day)}日 星期${WEEKDAYS[b.weekday]}`;
}

/** "09:05:07" (Beijing time). */
export function formatTime(d) {
  const b = beijingTime(d);
  return `${pad(b.hours)}:${pad(b.minutes)}:${pad(b.seconds)}`;
}

/** "05月06日 09:05" (Beijing time). */
export function formatShortDateTime(d) {
  const b = beijingTime(d);
  return `${pad(b.month)}月${pad(b.day)}日 ${pad(b.hours)}:${pad(b.minutes)}`;
}

/** "2024年05月06日 09:05" (Beijing time), e.g. a session's scheduled start. */
export function formatDateTime(d) {
  const b = beijingTime(d);
  return `${b.year}年${pad(b.month)}月${pad(b.day)}日 ${pad(b.hours)}:${pad(b.minutes)}`;
}

/** Tick the header clock (#clock-time, #clock-date) every second, in Beijing time. */
export function startClock() {
  const tick = () => {
    const now = new Date();
    $("#clock-time").textContent = formatTime(now);
    $("#clock-date").textContent = formatDate(now);
  };
  tick();
  setInterval(tick, 1000);
}

/** A promise that resolves after `ms` milliseconds (only for back-off, never to synchronise). */
export function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Turn a getUserMedia/getDisplayMedia failure into a Chinese sentence. */
export function mediaErrorText(err, what) {
  const name = err && err.name;
  if (name === "NotAllowedError" || name === "SecurityError") return `${what}未获授权，请允许浏览器使用${what}。`;
  if (name === "NotFoundError" || name === "OverconstrainedError") return `未找到可用的${what}。`;
  if (name === "NotReadableError" || name === "AbortError") return `${what}被其他程序占用或无法打开。`;
  return `${what}无法使用：${(err && err.message) || "未知错误"}`;
}
