// @ts-check
// A room on the supervision wall (监督墙): what the server says of it (`rooms` push), its tile
// in the grid (elements, the viewer of the room's grid and mix, its camera inset, the status
// line), and the warning badges and online pill, which the focus panel shows the same way.
//
// Hooks: article.room-tile[data-session][data-live="1|0"][data-frames][data-picture][data-media]
// (data-frames and data-picture are kept by the page's tick).

import { el } from "/static/lib/dom.js";
import { formatShortDateTime, toDate } from "/static/lib/time.js";
import { TileCamera, cameraSummary } from "/static/wall-cameras.js";
import { FrameWatch, Viewer } from "/static/wall-rtc.js";

/** @type {Array<["audio" | "video", string]>} */
const WATCH_ROLES = [["video", "grid"], ["audio", "mix"]];

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
 * What a tile uses of the page (wall.js): the rooms as last sent, the requests over its socket,
 * the page's audio, and what the page does when the tile's buttons are pressed or its stream
 * changes.
 * @typedef {{
 *   room: (sid: string) => RoomInfo | undefined,
 *   fresh: Map<string, number>,
 *   request: import("/static/wall-rtc.js").Request,
 *   ice: import("/static/lib/rtc.js").IceServers,
 *   audio: import("/static/wall-rtc.js").AudioDesk,
 *   applyAudio: () => void,
 *   toggleSound: (sid: string) => void,
 *   openFocus: (sid: string) => void,
 *   gridChanged: (sid: string) => void,
 * }} TileHost
 */

/** @param {string | number | null | undefined} value */
function shortDateTime(value) {
  return formatShortDateTime(toDate(value));
}

/** @param {RoomInfo} room */
export function onlineTone(room) {
  if (!room.seats_online) return "off";
  return room.seats_online >= /** @type {number} */ (room.seats_expected) ? "ok" : "partial";
}

/** The warnings of a room (or seat) as red badges; the newest (in `fresh`) pulse for a while. */
/**
 * @param {HTMLElement} container
 * @param {WallWarning[]} warnings
 * @param {Map<string, number>} fresh
 * @param {number} [max]
 */
export function renderBadges(container, warnings, fresh, max = 3) {
  /** @param {WallWarning} w */
  const badge = (w) => el("span", {
    class: "badge",
    "data-warning-id": w.id,
    "data-kind": w.kind,
    "data-fresh": fresh.has(w.id),
    title: `${w.label ? `${w.label}：` : ""}${w.message || ""}（${shortDateTime(w.started_at)} 起）`,
  }, w.label ? `${w.label}：${w.message || ""}` : w.message || "异常");
  const extra = warnings.length - max;
  const more = extra > 0 ? [el("span", { class: "badge badge-more" }, `另有 ${extra} 条`)] : [];
  container.replaceChildren(...warnings.slice(0, max).map(badge), ...more);
}

/** A room's tile on the wall: its elements, its viewer of the room's grid and mix, its camera. */
export class RoomTile {
  /** @param {string} sid @param {TileHost} host */
  constructor(sid, host) {
    this.sid = sid;
    this.host = host;
    /** @type {Viewer | null} */
    this.viewer = null;
    /** @type {MediaStream | null} */
    this.stream = null;
    /** @type {MediaStream | null} the room's sound in the focus view */
    this.mixStream = null;
    /** @type {Meter | null} */
    this.meter = null;
    /** @type {MediaStatus} */
    this.status = "idle";
    this.message = "";
    const video = el("video", { autoplay: true, playsinline: true, muted: true });
    video.muted = true;
    this.video = video;
    this.name = el("span", { class: "tile-name" });
    this.code = el("span", { class: "code" });
    this.online = el("span", { class: "online-pill" });
    this.phMain = el("div", { class: "ph-main" });
    this.phSub = el("div", { class: "ph-sub" });
    this.badges = el("div", { class: "badges" });
    this.cameraBox = el("div", { class: "tile-camera-box" });
    this.statusText = el("span", { class: "media-status" });
    this.cams = el("span", { class: "camera-summary" });
    this.level = el("span", { class: "level-fill" });
    this.soundBtn = el("button", { class: "btn btn-sound", type: "button" }, "开启声音");
    this.focusBtn = el("button", { class: "btn btn-focus", type: "button" }, "聚焦");
    this.node = el("article", { class: "room-tile", dataset: { session: sid, live: "0", frames: "0", picture: "none", media: "idle" } },
      el("header", { class: "tile-head" },
        el("div", { class: "tile-title" }, this.name, this.code),
        this.online),
      el("div", { class: "tile-video" },
        video,
        el("div", { class: "tile-placeholder" }, this.phMain, this.phSub),
        this.badges,
        el("span", { class: "stall-tag", text: "画面停滞" }),
        this.cameraBox),
      el("footer", { class: "tile-foot" },
        this.statusText,
        this.cams,
        el("span", { class: "level", title: "全场音量" }, this.level),
        this.soundBtn,
        this.focusBtn));
    this.watch = new FrameWatch(video, 3000);
    this.camera = new TileCamera(this.cameraBox, { sid, request: host.request, ice: host.ice });
    this.soundBtn.addEventListener("click", () => {
      host.audio.resume();
      host.toggleSound(sid);
    });
    this.focusBtn.addEventListener("click", () => host.openFocus(sid));
  }

  /** @param {RoomInfo} room */
  update(room) {
    this.name.textContent = room.project_name || "（未命名项目）";
    this.name.title = room.project_name || "";
    this.code.textContent = room.project_code || "";
    this.online.textContent = `在线 ${room.seats_online ?? 0}/${room.seats_expected ?? 0}`;
    this.online.dataset.tone = onlineTone(room);
    this.node.dataset.live = room.live ? "1" : "0";
    this.node.dataset.warnings = String((room.warnings || []).length);
    this.cams.textContent = cameraSummary(room.cameras);
    this.cams.dataset.tone = (room.cameras || []).every((c) => c.state === "up") ? "ok" : "bad";
    this.soundBtn.disabled = !room.live;
    renderBadges(this.badges, room.warnings || [], this.host.fresh);
    this.showStatus();
  }

  /** Footer status and placeholder text from the room, its viewer and its picture. */
  showStatus() {
    const room = this.host.room(this.sid);
    const picture = this.node.dataset.picture;
    let text;
    let tone;
    if (!room?.live) {
      [text, tone] = ["未开始", "off"];
      this.phMain.textContent = "暂无机位上线";
      this.phSub.textContent = room?.scheduled_start ? `计划开始 ${shortDateTime(room.scheduled_start)}` : "";
    } else {
      if (this.status === "retrying") [text, tone] = ["重连中", "busy"];
      else if (picture === "ok") [text, tone] = ["实时", "live"];
      else if (picture === "stalled") [text, tone] = ["画面停滞", "busy"];
      else [text, tone] = ["连接中", "busy"];
      this.phMain.textContent = this.status === "retrying" ? "连接中断，正在重试…" : "正在接收画面…";
      this.phSub.textContent = this.status === "retrying" ? this.message : "";
    }
    this.statusText.textContent = text;
    this.statusText.dataset.tone = tone;
  }

  /** Watch the room's grid and mix. */
  startWatch() {
    const { host } = this;
    this.viewer = new Viewer({
      kind: "watch",
      fields: { session_id: this.sid },
      roles: WATCH_ROLES,
      request: host.request,
      ice: host.ice,
      onMedia: ({ grid, mix }) => {
        this.stream = new MediaStream([grid, mix].filter(Boolean));
        this.mixStream = mix ? new MediaStream([mix]) : null;
        this.video.srcObject = this.stream; // the muted element also lets WebAudio read the mix
        this.video.play().catch(() => {});
        if (this.meter) this.meter.close();
        this.meter = host.audio.meter(mix);
        host.gridChanged(this.sid);
        host.applyAudio();
      },
      onStatus: (status, message) => {
        this.status = status;
        this.message = message;
        this.node.dataset.media = status;
        this.showStatus();
      },
    });
    this.viewer.start();
  }

  /** @param {boolean} notify */
  stopWatch(notify) {
    if (this.viewer) this.viewer.close({ notify });
    if (this.meter) this.meter.close();
    this.viewer = null;
    this.meter = null;
    this.stream = null;
    this.mixStream = null;
    this.video.srcObject = null;
    this.status = "idle";
    this.node.dataset.media = "idle";
    this.node.dataset.picture = "none";
    this.host.gridChanged(this.sid);
    this.showStatus();
  }
}
