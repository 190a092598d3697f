// @ts-check
// The parts the bid opening's two pages show alike (the hall, hall.js; the opening console,
// opening.js): the steps bar, the countdown on the server's clock, the read-out table, the
// benchmark draw, incidents, the log of what happened, and the record sheet in a frame.

import { refusalCode } from "./acks.js";
import { clearBanner, setStatus, showBanner } from "./chrome.js";
import { el } from "./dom.js";
import { messageOf } from "./errors.js";
import {
  PHASE_STEPS, SIGNER_LABELS, STATUS_LABELS, clockOffset, countdownTarget, describeHappened, formatCountdown, happenedTone,
} from "./opening.js";
import { sha256Hex } from "./seal.js";
import { formatDateTime, formatTime } from "./time.js";

/**
 * @typedef {import("./wire").OpeningView} OpeningView
 * @typedef {import("./wire").OpeningHappened} OpeningHappened
 * @typedef {import("./wire").ReadoutRow} ReadoutRow
 * @typedef {import("./wire").OpeningIncident} OpeningIncident
 */

/**
 * The phases as a bar of steps: those done, the current one, those to come.
 * @param {HTMLElement} list
 * @param {string} phase
 */
export function renderSteps(list, phase) {
  const at = PHASE_STEPS.findIndex(([p]) => p === phase);
  list.replaceChildren(...PHASE_STEPS.map(([p, label], i) =>
    el("li", { class: i < at ? "done" : i === at ? "current" : "", dataset: { phase: p } }, label)));
}

/**
 * Bidders' names by id, as the view gives them (a bidder sees only itself before the deadline).
 * @param {OpeningView} view
 */
export function bidderNames(view) {
  return new Map(view.bidders.map((b) => [b.bidder, b.name]));
}

/** The big countdown: to the bid deadline, then to the decryption time limit, on the server's clock. */
export class Countdown {
  /**
   * @param {{ label: HTMLElement, digits: HTMLElement, at: HTMLElement }} parts
   */
  constructor(parts) {
    this.parts = parts;
    this.offset = 0;
    /** @type {{ label: string, until: string } | null} */
    this.target = null;
    /** @type {OpeningView | null} */
    this.view = null;
    setInterval(() => this.tick(), 250);
  }

  /** The server's clock now (ms). */
  now() {
    return Date.now() + this.offset;
  }

  /**
   * A new view: its server time sets the clock, its phase the target.
   * @param {OpeningView} view
   * @param {number} receivedAt
   */
  take(view, receivedAt) {
    this.offset = clockOffset(view.server_time, receivedAt);
    this.view = view;
    this.target = countdownTarget(view);
    this.tick();
  }

  tick() {
    const view = this.view;
    if (!view) return;
    const { label, digits, at } = this.parts;
    const box = /** @type {HTMLElement} */ (digits.parentElement);
    if (!this.target) {
      label.textContent = "当前阶段";
      digits.textContent = view.phase_label;
      box.dataset.mode = "phase";
      at.textContent = `投标截止时间 ${formatDateTime(new Date(view.deadline))}（北京时间）`;
      return;
    }
    const left = Date.parse(this.target.until) - this.now();
    label.textContent = this.target.label;
    digits.textContent = formatCountdown(left);
    box.dataset.mode = left <= 0 ? "over" : left < 5 * 60_000 ? "soon" : "running";
    const what = this.target.label === "距投标截止" ? "投标截止时间" : "解密截止时间";
    at.textContent = `${what} ${formatDateTime(new Date(this.target.until))}（北京时间）`;
  }
}

/**
 * The read-out (唱标) as a table: each valid bid's fields, money in figures and capitals. `extra`
 * adds a last cell to a row (a bidder's own confirmation, or its state for the console).
 * @param {HTMLTableElement} table
 * @param {OpeningView} view
 * @param {{ mine?: string | null, extra?: (row: ReadoutRow, index: number) => Node | string | null, extraHead?: string }} [options]
 */
export function renderReadout(table, view, { mine = null, extra, extraHead = "确认" } = {}) {
  const fields = view.fields;
  table.replaceChildren(
    el("thead", {}, el("tr", {},
      el("th", { class: "num" }, "序号"), el("th", {}, "投标人"),
      fields.map((f) => el("th", {}, f.unit && f.kind !== "money" ? `${f.label}（${f.unit}）` : f.label)),
      el("th", {}, "解密情况"), extra ? el("th", {}, extraHead) : null)),
    el("tbody", {}, view.readout.map((row, i) => el("tr", { class: row.bidder === mine ? "mine" : "", dataset: { bidder: row.bidder } },
      el("td", { class: "num" }, String(i + 1)),
      el("td", { class: "name" }, row.name, row.bidder === mine ? el("span", { class: "tag" }, "本单位") : null),
      row.fields.map((cell) => el("td", { class: `cell-${cell.kind}`, dataset: { field: cell.name } },
        el("div", { class: "figures" }, cell.figures),
        cell.capitals ? el("div", { class: "capitals" }, `大写：${cell.capitals}`) : null)),
      el("td", {}, STATUS_LABELS[row.decryption] || row.decryption),
      extra ? el("td", { class: "extra" }, extra(row, i)) : null))));
}

/**
 * The benchmark-price parameters (评标基准价参数): the commitment published when decryption
 * opened, then the seed and the values drawn.
 * @param {HTMLElement} box
 * @param {OpeningView} view
 */
export function renderBenchmark(box, view) {
  const b = view.benchmark;
  box.hidden = !b;
  if (!b) return;
  const values = b.values;
  box.replaceChildren(
    el("h2", {}, "评标基准价参数", el("span", { class: "muted" }, values ? "已抽取" : "解密结束后由主持人抽取")),
    el("table", { class: "benchmark" },
      el("thead", {}, el("tr", {}, el("th", {}, "参数"), el("th", {}, "招标文件规定的备选值"), el("th", {}, "抽取结果"))),
      el("tbody", {}, b.parameters.map((p) => el("tr", { dataset: { parameter: p.name } },
        el("td", { class: "name" }, p.label),
        el("td", {}, p.candidates.join("、")),
        el("td", { class: "drawn" }, values ? values[p.name] : "—"))))),
    b.commitment ? el("p", { class: "digest" }, "随机种子承诺值（SHA-256）", el("code", {}, b.commitment)) : "",
    b.seed ? el("p", { class: "digest" }, "公布的随机种子", el("code", {}, b.seed)) : "");
}

/**
 * Incidents (异常情况) with their handling and result; `actions` adds the console's controls.
 * @param {HTMLElement} list
 * @param {OpeningView} view
 * @param {(incident: OpeningIncident) => Node | null} [actions]
 */
export function renderIncidents(list, view, actions) {
  syncList(list, view.incidents, (i) => String(i.number), (i) => el("li", { dataset: { incident: i.number } }), (item, i) => {
    item.className = i.result ? "closed" : "open";
    const body = [
      el("div", { class: "incident-head" }, `第 ${i.number} 号 · ${i.kind_label}`,
        el("span", { class: `pill ${i.result ? "ok" : "bad"}` }, i.result ? "处理完毕" : "处理中")),
      el("div", {}, i.description),
      ...i.handling.map((h) => el("div", { class: "muted" }, `处理：${h}`)),
      i.result ? el("div", { class: "result" }, `结果：${i.result}`) : null,
    ];
    // The controls stay as they are while the incident is open (a text being typed survives).
    const controls = item.querySelector(".incident-actions");
    const kept = !i.result && controls ? controls : !i.result && actions ? actions(i) : null;
    item.replaceChildren(...body.filter((n) => n !== null), ...(kept ? [kept] : []));
  });
  if (!view.incidents.length) list.replaceChildren(el("li", { class: "empty muted" }, "暂无异常情况"));
}

/**
 * Make `container`'s children follow `items` by key: an item's element is made once and kept,
 * so that what is typed in it survives a new view; elements of items gone are removed.
 * @template T
 * @param {HTMLElement} container
 * @param {T[]} items
 * @param {(item: T) => string} keyOf
 * @param {(item: T) => HTMLElement} make
 * @param {(element: HTMLElement, item: T) => void} update
 */
export function syncList(container, items, keyOf, make, update) {
  /** @type {Map<string, HTMLElement>} */
  const existing = new Map();
  for (const child of container.children) {
    if (child instanceof HTMLElement && child.dataset.key) existing.set(child.dataset.key, child);
  }
  const wanted = items.map((item) => {
    const key = keyOf(item);
    const node = existing.get(key) || make(item);
    node.dataset.key = key;
    update(node, item);
    return node;
  });
  container.replaceChildren(...wanted);
}

/**
 * A refusal shown in the server's words (under a form, or in the banner) stays until the opening
 * changes: a view that differs from the one the refusal was given against may have removed its
 * reason (the objection it named answered), and the words would then mislead.
 */
export class Refusal {
  /** @param {() => void} clearBanner how a refusal in the banner is taken away */
  constructor(clearBanner) {
    this.clearBanner = clearBanner;
    /** @type {{ box: HTMLElement | null, key: string } | null} */
    this.shown = null;
  }

  /**
   * A refusal now shows in `box` (null: the banner), given against `view`.
   * @param {HTMLElement | null} box
   * @param {OpeningView | null} view
   */
  note(box, view) {
    this.shown = { box, key: viewKey(view) };
  }

  /** @param {OpeningView} view a new view of the opening */
  seen(view) {
    if (this.shown && viewKey(view) !== this.shown.key) {
      if (this.shown.box) this.shown.box.textContent = "";
      else this.clearBanner();
      this.shown = null;
    }
  }
}

/** @param {OpeningView | null} view what the opening is, its clock apart */
function viewKey(view) {
  return view ? JSON.stringify({ ...view, server_time: "" }) : "";
}

/** The log of what happened (开标动态), newest first, each line with its Beijing time. */
export class HappenedLog {
  /**
   * @param {HTMLElement} list
   * @param {(id: string) => string} nameOf
   * @param {() => number} now the server's clock
   */
  constructor(list, nameOf, now) {
    this.list = list;
    this.nameOf = nameOf;
    this.now = now;
  }

  /**
   * @param {OpeningHappened} happened
   * @returns {string} the sentence it reads as
   */
  add(happened) {
    const when = happened.at || happened.data?.at;
    const at = typeof when === "string" ? new Date(when) : new Date(this.now());
    const text = describeHappened(happened, this.nameOf);
    this.list.querySelector(".empty")?.remove();
    this.list.prepend(el("li", { class: `tone-${happenedTone(happened.kind)}`, dataset: { kind: happened.kind } },
      el("time", {}, formatTime(at)), el("span", {}, text)));
    return text;
  }

  /** Empty the log (before the history a connection is sent fills it again). */
  clear() {
    this.list.replaceChildren(el("li", { class: "empty muted" }, "暂无动态"));
  }
}

/**
 * Who signed the current record sheet, in words.
 * @param {OpeningView} view
 */
export function signedByText(view) {
  const roles = view.record.signed_by.map((s) => SIGNER_LABELS[s.role] || s.role);
  return roles.length ? `已签署：${roles.join("、")}` : "尚无人签署";
}

/**
 * Show the record sheet put up last in `frame` (a blob: URL, which the pages' policy lets a frame
 * show), after checking here that it is the sheet whose SHA-256 the opening names. Resolves to
 * the bytes' SHA-256, or throws with the reason.
 * @param {HTMLIFrameElement} frame
 * @param {{ recordPdf: () => Promise<Uint8Array<ArrayBuffer>> }} calls
 * @param {OpeningView} view
 */
export async function showRecord(frame, calls, view) {
  const expected = view.record.sha256;
  if (!expected) throw new Error("开标记录表尚未生成");
  /** @type {Uint8Array<ArrayBuffer>} */
  let bytes;
  try {
    bytes = await calls.recordPdf();
  } catch (err) {
    throw new Error(messageOf(err));
  }
  const digest = await sha256Hex(bytes);
  if (digest !== expected) throw new Error("下载的开标记录表与公布的摘要不一致，请刷新后重试");
  const old = frame.src;
  delete frame.dataset.loaded;
  frame.addEventListener("load", () => { frame.dataset.loaded = digest; }, { once: true });
  frame.src = URL.createObjectURL(new Blob([bytes], { type: "application/pdf" }));
  frame.dataset.sha256 = digest;
  if (old.startsWith("blob:")) URL.revokeObjectURL(old);
  return digest;
}

/**
 * An objection's attachment: a button that fetches it, checks it against the SHA-256 the
 * opening names, and opens it in a new tab; the digest shown beside it.
 * @param {{ number: number, attachment: { sha256: string, type: string } }} objection
 * @param {{ objectionAttachment: (number: number) => Promise<Uint8Array<ArrayBuffer>> }} calls
 */
export function attachmentLink({ number, attachment }, calls) {
  const kind = attachment.type === "application/pdf" ? "PDF" : "图片";
  const status = el("span", { class: "muted" }, `（SHA-256 ${attachment.sha256.slice(0, 16)}…）`);
  const button = el("button", { type: "button", class: "btn btn-small", dataset: { attachment: String(number) } }, `查看附件（${kind}）`);
  button.addEventListener("click", async () => {
    // Opened at once, filled when the bytes came and matched: a popup blocker lets it through.
    const tab = window.open("", "_blank");
    try {
      const bytes = await calls.objectionAttachment(number);
      if ((await sha256Hex(bytes)) !== attachment.sha256) throw new Error("下载的附件与记录的摘要不一致");
      const url = URL.createObjectURL(new Blob([bytes], { type: attachment.type }));
      if (tab) tab.location.href = url;
      else window.location.href = url;
    } catch (err) {
      tab?.close();
      status.textContent = `（${messageOf(err)}）`;
    }
  });
  return el("div", { class: "attachment" }, button, status);
}

/**
 * The hall's and the console's `/hall` connection: its state in the header and the banner (a
 * refusal ends the page, a lost connection is said while it comes back), the opening's view
 * (`take`), what happened (`told`), the history at connect (the log filled again), and a link
 * taken back.
 * @param {import("socket.io-client").Socket} socket
 * @param {{ take: (view: OpeningView) => void, told: (happened: OpeningHappened) => void, log: HappenedLog }} page
 */
export function followHall(socket, { take, told, log }) {
  socket.on("connect", () => { setStatus("已连接", "ok"); clearBanner("info"); });
  socket.on("connect_error", (err) => {
    if (refusalCode(err)) {
      document.body.dataset.state = "error";
      setStatus("无法进入", "bad");
      showBanner(messageOf(err));
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
  socket.on("happened", (/** @type {OpeningHappened} */ happened) => told(happened));
  socket.on("history", (/** @type {{ items: OpeningHappened[] }} */ { items }) => {
    log.clear();
    for (const happened of items) told(happened);
  });
  socket.on("revoked", ({ message }) => {
    document.body.dataset.state = "error";
    setStatus("链接已收回", "bad");
    showBanner(message);
    socket.disconnect();
  });
}
