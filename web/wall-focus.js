// @ts-check
// The focus panel of the supervision wall (监督墙): one room at a time, its seats (机位), the
// chosen seat's camera and screen with the room's sound, the room's grid and monitoring
// cameras, supervision notes (监督记录), warnings (提醒) sent to the seats' screens, and
// pausing the evaluation.
//
// Hooks: section#focus[data-session][data-seat], #focus-seats li.seat-item[data-seat],
// video#focus-camera / #focus-desktop / #focus-grid [data-frames], ul#notes li.note,
// ul#warn-log li.sent-warning.

import { ApiError, requestJson } from "/static/lib/api.js";
import { $, el } from "/static/lib/dom.js";
import { messageOf } from "/static/lib/errors.js";
import { KIND_LABELS, VENUE_KIND_LABELS } from "/static/lib/labels.js";
import { formatTime, toDate } from "/static/lib/time.js";
import { RoomCameras } from "/static/wall-cameras.js";
import { FrameWatch, Viewer } from "/static/wall-rtc.js";
import { onlineTone, renderBadges } from "/static/wall-tile.js";

/** @type {Array<["audio" | "video", string]>} */
const FOCUS_ROLES = [["video", "camera"], ["video", "desktop"], ["audio", "mix"]];

/**
 * @typedef {import("/static/wall-tile.js").RoomInfo} RoomInfo
 * @typedef {import("/static/wall-tile.js").WallSeat} WallSeat
 * @typedef {import("/static/wall-tile.js").RoomTile} RoomTile
 */

/**
 * The focus view of one room: the chosen seat, its viewer and sound, the room's cameras.
 * @typedef {{
 *   sid: string, seat: string | null, viewer: Viewer | null, mixStream: MediaStream | null,
 *   meter: import("/static/wall-tile.js").Meter | null, sound: boolean,
 *   status: import("/static/wall-tile.js").MediaStatus, message: string, cameras: RoomCameras,
 * }} Focus
 */

/**
 * What the panel uses of the page (wall.js): the rooms and tiles, the requests over its socket,
 * the page's audio, and the page-wide redraws.
 * @typedef {{
 *   room: (sid: string) => RoomInfo | undefined,
 *   tile: (sid: string) => RoomTile | undefined,
 *   tiles: () => Iterable<RoomTile>,
 *   fresh: Map<string, number>,
 *   request: import("/static/wall-rtc.js").Request,
 *   ice: import("/static/lib/rtc.js").IceServers,
 *   audio: import("/static/wall-rtc.js").AudioDesk,
 *   render: () => void,
 *   sync: () => void,
 *   applyAudio: () => void,
 * }} FocusHost
 */

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

/** The focus panel; `focus` is the room in focus, null while the wall shows. */
export class FocusPanel {
  /** @param {FocusHost} host */
  constructor(host) {
    this.host = host;
    /** @type {Focus | null} */
    this.focus = null;
    /** @type {Map<string, Array<{ seq: number, at: string, text: string, where: string }>>} session_id -> saved notes, newest first */
    this.notes = new Map();
    /** @type {Map<string, Array<{ id: string, at: Date, text: string, where: string, delivered: number }>>} session_id -> warnings sent from this page, newest first */
    this.sent = new Map();
    /** @type {FrameWatch[]} FrameWatch of #focus-camera, #focus-desktop, #focus-grid */
    this.watches = [];
  }

  bindControls() {
    $("#focus-back").addEventListener("click", () => this.close());
    $("#focus-sound").addEventListener("click", () => {
      this.host.audio.resume();
      const f = /** @type {Focus} */ (this.focus);
      f.sound = !f.sound;
      this.host.applyAudio();
    });
    $("#note-save", HTMLButtonElement).addEventListener("click", () => this.saveNote());
    $("#pause-room").addEventListener("click", () => this.pauseEvaluation());
    $("#warn-seat", HTMLButtonElement).addEventListener("click", () => this.sendWarning(true));
    $("#warn-room", HTMLButtonElement).addEventListener("click", () => this.sendWarning(false));
    $("#note-text", HTMLTextAreaElement).addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) this.saveNote();
    });
    for (const id of ["#focus-camera", "#focus-desktop", "#focus-grid"]) this.watches.push(new FrameWatch($(id, HTMLVideoElement)));
  }

  // ---- opening, closing, choosing a seat -----------------------------------------------------

  /** @param {string} sid */
  open(sid) {
    const { host } = this;
    host.audio.resume();
    const cameras = new RoomCameras($("#focus-cameras"), { sid, request: host.request, ice: host.ice });
    this.focus = { sid, seat: null, viewer: null, mixStream: null, meter: null, sound: true, status: "idle", message: "", cameras };
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
    this.showGrid();
    this.renderLogs();
    host.render();
  }

  close() {
    if (!this.focus) return;
    this.stopViewer(true);
    this.focus.cameras.close();
    this.focus = null;
    const section = $("#focus");
    section.hidden = true;
    section.dataset.session = "";
    section.dataset.seat = "";
    $("#focus-grid", HTMLVideoElement).srcObject = null;
    $("#wall").hidden = false;
    document.body.dataset.view = "wall";
    for (const t of this.host.tiles()) t.video.play().catch(() => {}); // resume after being hidden
    this.host.sync();
  }

  /** @param {string} key */
  selectSeat(key) {
    const f = this.focus;
    if (!f || f.seat === key) return;
    this.host.audio.resume();
    this.stopViewer(true);
    f.seat = key;
    $("#focus").dataset.seat = key;
    $("#note-scope-seat", HTMLInputElement).checked = true;
    formMessage("#warn-result", "");
    formMessage("#note-result", "");
    this.host.render();
  }

  // ---- the seat's viewer, the room's grid ----------------------------------------------------

  startViewer() {
    const { host } = this;
    const f = /** @type {Focus} */ (this.focus);
    const viewer = new Viewer({
      kind: "focus",
      fields: { session_id: f.sid, seat: f.seat },
      roles: FOCUS_ROLES,
      request: host.request,
      ice: host.ice,
      onMedia: ({ camera, desktop, mix }) => {
        if (this.focus !== f || f.viewer !== viewer) return;
        $("#focus-camera", HTMLVideoElement).srcObject = new MediaStream([camera]);
        $("#focus-desktop", HTMLVideoElement).srcObject = new MediaStream([desktop]);
        for (const id of ["#focus-camera", "#focus-desktop"]) $(id, HTMLVideoElement).play().catch(() => {});
        f.mixStream = new MediaStream([mix]);
        if (f.meter) f.meter.close();
        f.meter = host.audio.meter(mix);
        host.applyAudio();
      },
      onStatus: (status, message) => {
        if (this.focus !== f || f.viewer !== viewer) return;
        f.status = status;
        f.message = message;
        this.renderFeeds();
      },
    });
    f.viewer = viewer;
    f.status = "connecting";
    viewer.start();
    this.renderFeeds();
  }

  /** @param {boolean} notify */
  stopViewer(notify) {
    const f = this.focus;
    if (!f) return;
    if (f.viewer) f.viewer.close({ notify });
    if (f.meter) f.meter.close();
    f.viewer = null;
    f.meter = null;
    f.mixStream = null;
    f.status = "idle";
    for (const id of ["#focus-camera", "#focus-desktop"]) $(id, HTMLVideoElement).srcObject = null;
    this.renderFeeds();
    this.host.applyAudio();
  }

  /** The room tile's grid in #focus-grid (none while the tile has no stream). */
  showGrid() {
    const tile = this.focus && this.host.tile(this.focus.sid);
    const video = $("#focus-grid", HTMLVideoElement);
    const stream = tile ? tile.stream : null;
    if (video.srcObject !== stream) video.srcObject = stream;
    if (stream) video.play().catch(() => {});
  }

  seat() {
    const f = this.focus;
    const room = f && this.host.room(f.sid);
    return (room && f.seat && (room.seats || []).find((s) => s.key === f.seat)) || null;
  }

  // ---- drawing -------------------------------------------------------------------------------

  render() {
    const f = /** @type {Focus} */ (this.focus);
    const room = this.host.room(f.sid);
    if (!room) return;
    $("#focus-name").textContent = room.project_name || "（未命名项目）";
    $("#focus-code").textContent = room.project_code || "";
    $("#focus-online").textContent = `在线 ${room.seats_online ?? 0}/${room.seats_expected ?? 0}`;
    $("#focus-online").dataset.tone = onlineTone(room);
    renderBadges($("#focus-warnings"), room.warnings || [], this.host.fresh, 4);
    f.cameras.render(room.live ? room.cameras || [] : []);
    const seats = room.seats || [];
    $("#focus-seat-count").textContent = seats.length ? `共 ${seats.length} 个` : "";
    $("#focus-seats").replaceChildren(...(seats.length ? seats.map((s) => this.seatItem(s, room)) :
      [el("li", { class: "seat-empty", text: "暂无机位信息" })]));
    const seat = this.seat();
    $("#warn-seat", HTMLButtonElement).disabled = !seat;
    $("#note-scope-seat", HTMLInputElement).disabled = !seat;
    if (!seat) $("#note-scope-room", HTMLInputElement).checked = true;
    $("#note-scope-seat-label").textContent = seat ? `当前机位（${seat.label}）` : "当前机位";
    this.renderFeeds();
  }

  /** @param {WallSeat} s @param {RoomInfo} room */
  seatItem(s, room) {
    const f = /** @type {Focus} */ (this.focus);
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
    button.addEventListener("click", () => this.selectSeat(s.key));
    return el("li", { class: "seat-item", dataset: { seat: s.key, online: s.online ? "1" : "0", selected: f.seat === s.key ? "1" : "0" } }, button);
  }

  /** Captions and "等待画面" placeholders of the two seat feeds. */
  renderFeeds() {
    const f = this.focus;
    if (!f) return;
    const room = this.host.room(f.sid);
    const seat = this.seat();
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

  /** The notes saved and the warnings sent from this page for the focused room, newest first. */
  renderLogs() {
    const notes = (this.focus && this.notes.get(this.focus.sid)) || [];
    $("#notes").replaceChildren(...notes.map((n) =>
      el("li", { class: "note", "data-seq": n.seq },
        el("div", { class: "note-meta" },
          el("time", { datetime: toDate(n.at).toISOString(), text: formatTime(toDate(n.at)) }),
          el("span", { class: "note-where", text: n.where })),
        el("div", { class: "note-text", text: n.text }))));
    if (!notes.length) $("#notes").append(el("li", { class: "notes-empty", text: "本场尚未保存监督记录" }));
    const sent = (this.focus && this.sent.get(this.focus.sid)) || [];
    $("#warn-log").replaceChildren(...sent.map((w) =>
      el("li", { class: "sent-warning", "data-warning-id": w.id },
        el("div", { class: "note-meta" },
          el("time", { datetime: w.at.toISOString(), text: formatTime(w.at) }),
          el("span", { class: "note-where", text: `提醒${w.where}` }),
          el("span", { text: `已送达 ${w.delivered} 个机位` })),
        el("div", { class: "note-text", text: w.text }))));
  }

  // ---- notes, warnings, pause ----------------------------------------------------------------

  async saveNote() {
    const f = this.focus;
    const text = $("#note-text", HTMLTextAreaElement).value.trim();
    if (!f) return;
    if (!text) return formMessage("#note-result", "请先填写记录内容。", "bad");
    const seat = $("#note-scope-seat", HTMLInputElement).checked ? this.seat() : null;
    const button = $("#note-save", HTMLButtonElement);
    button.disabled = true;
    formMessage("#note-result", "正在保存…");
    try {
      const answer = await this.host.request("note", { session_id: f.sid, text, seat: seat ? seat.key : null });
      const list = this.notes.get(f.sid) || [];
      list.unshift({ seq: answer.seq, at: answer.at, text, where: seat ? seat.label : "全场" });
      this.notes.set(f.sid, list);
      if (this.focus === f) {
        $("#note-text", HTMLTextAreaElement).value = "";
        formMessage("#note-result", "已保存", "ok");
        this.renderLogs();
      }
    } catch (err) {
      formMessage("#note-result", `保存失败：${messageOf(err)}`, "bad");
    } finally {
      button.disabled = false;
    }
  }

  /** Stop the evaluation at once (9-4), with the text above as the reason; seats are told. */
  async pauseEvaluation() {
    const f = this.focus;
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

  /** @param {boolean} toSeat */
  async sendWarning(toSeat) {
    const f = this.focus;
    const text = $("#warn-text", HTMLTextAreaElement).value.trim();
    if (!f) return;
    if (!text) return formMessage("#warn-result", "请先填写提醒内容。", "bad");
    const seat = toSeat ? this.seat() : null;
    if (toSeat && !seat) return formMessage("#warn-result", "请先在左侧选择机位。", "bad");
    const buttons = [$("#warn-seat", HTMLButtonElement), $("#warn-room", HTMLButtonElement)];
    for (const b of buttons) b.disabled = true;
    formMessage("#warn-result", "正在发送…");
    try {
      const answer = await this.host.request("warn", { session_id: f.sid, text, seat: seat ? seat.key : null });
      if (this.focus !== f) return;
      $("#warn-text", HTMLTextAreaElement).value = "";
      const n = answer.delivered ?? 0;
      formMessage("#warn-result", `已送达 ${n} 个机位`, n > 0 ? "ok" : "warn");
      const list = this.sent.get(f.sid) || [];
      list.unshift({ id: answer.id, at: new Date(), text, where: seat ? seat.label : "全场", delivered: n });
      this.sent.set(f.sid, list);
      this.renderLogs();
    } catch (err) {
      formMessage("#warn-result", `发送失败：${messageOf(err)}`, "bad");
    } finally {
      $("#warn-room", HTMLButtonElement).disabled = false;
      $("#warn-seat", HTMLButtonElement).disabled = !this.seat();
    }
  }

  // ---- periodic ------------------------------------------------------------------------------

  /** Every ~500 ms: the room cameras' and the three videos' frame counters. */
  tick() {
    if (this.focus) this.focus.cameras.tick();
    for (const watch of this.watches) {
      const { frames, shown } = watch.tick();
      watch.video.dataset.frames = String(frames);
      /** @type {HTMLElement} */ (watch.video.parentElement).dataset.picture = shown ? "ok" : "none";
    }
  }

  /** Every animation frame: the sound level heard, the seat's mix or, before a seat, the room's. */
  showLevel() {
    const f = this.focus;
    const tile = f && this.host.tile(f.sid);
    const meter = f && (f.viewer ? f.meter : tile?.meter);
    $("#focus-level").style.transform = `scaleX(${meter ? meter.level() : 0})`;
  }
}
