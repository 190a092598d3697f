// @ts-check
// Room monitoring cameras (监控摄像头) in the focus view of the supervision wall: one silent
// viewer per camera, its picture as the camera sends it, and its state as the server reports it.
//
// DOM hooks: each camera is `figure.room-camera[data-camera=<id>][data-state=<state>]` in
// `#focus-cameras`, its video `video` with `data-frames` updated by `tick()`.

import { el } from "/static/lib/dom.js";
import { FrameWatch, Viewer } from "/static/wall-rtc.js";

/**
 * A room camera as the server reports it (RoomInfo.cameras).
 * @typedef {{ id: string, label: string, state: string, detail?: string, codec?: string, viewable?: boolean, recorded?: boolean }} RoomCamera
 * @typedef {{ sid: string, request: import("/static/wall-rtc.js").Request, ice: import("/static/lib/rtc.js").IceServers }} Wire
 * @typedef {import("/static/wall-rtc.js").ViewerStatus} ViewerStatus
 */

/** @type {Record<string, string>} */
const STATE_TEXT = {
  up: "在线",
  connecting: "正在连接…",
  down: "离线",
  invalid: "地址无效",
};

/**
 * A silent viewer (not yet started) of one room camera, playing in `video` ({sid, request, ice}).
 * @param {Wire} wire
 * @param {string} cameraId
 * @param {HTMLVideoElement} video
 * @param {(status: ViewerStatus) => void} onStatus
 */
function cameraViewer({ sid, request, ice }, cameraId, video, onStatus) {
  const viewer = new Viewer({
    kind: "camera",
    fields: { session_id: sid, camera: cameraId },
    roles: [["video", "roomcam"]],
    request,
    ice,
    onMedia: ({ roomcam }) => {
      video.srcObject = new MediaStream([roomcam]);
      video.play().catch(() => {});
    },
    onStatus,
  });
  return viewer;
}

/**
 * The short line a room tile shows: "监控 1/2 在线", or "" without cameras.
 * @param {RoomCamera[] | undefined} cameras
 */
export function cameraSummary(cameras) {
  if (!cameras?.length) return "";
  const up = cameras.filter((c) => c.state === "up").length;
  return `监控 ${up}/${cameras.length} 在线`;
}

/**
 * One camera of the focus view: its elements, viewer and frame watch.
 * @typedef {{
 *   camera: RoomCamera, status: ViewerStatus | "connecting", video: HTMLVideoElement,
 *   caption: HTMLElement, state: HTMLElement, placeholder: HTMLElement, node: HTMLElement,
 *   watch: FrameWatch, viewer: import("/static/wall-rtc.js").Viewer,
 * }} CameraItem
 */

export class RoomCameras {
  /** @param {HTMLElement} container @param {Wire} wire */
  constructor(container, { sid, request, ice }) {
    this.container = container;
    this.sid = sid;
    this.request = request;
    this.ice = ice;
    /** @type {Map<string, CameraItem>} */
    this.items = new Map();
  }

  /**
   * Show `cameras` (RoomInfo.cameras): a viewer per camera, opened once.
   * @param {RoomCamera[]} cameras
   */
  render(cameras) {
    const list = cameras || [];
    const ids = new Set(list.map((c) => c.id));
    for (const [id, item] of this.items) {
      if (!ids.has(id)) {
        item.viewer.close();
        this.items.delete(id);
      }
    }
    for (const camera of list) {
      const item = this.items.get(camera.id) || this.create(camera);
      this.update(item, camera);
    }
    const nodes = list.map((c) => /** @type {CameraItem} */ (this.items.get(c.id)).node);
    this.container.replaceChildren(
      ...(nodes.length ? nodes : [el("p", { class: "cameras-empty", text: "本场未配置监控摄像头" })]),
    );
  }

  /** @param {RoomCamera} camera */
  create(camera) {
    const video = el("video", { autoplay: true, playsinline: true, muted: true, dataset: { frames: "0" } });
    video.muted = true;
    const caption = el("span", { class: "camera-label" });
    const state = el("span", { class: "camera-state" });
    const placeholder = el("div", { class: "feed-placeholder" });
    const node = el("figure", { class: "room-camera", dataset: { camera: camera.id, state: camera.state } },
      el("figcaption", { class: "feed-caption" }, caption, state),
      el("div", { class: "feed-video small" }, video, placeholder));
    /** @type {CameraItem} */
    const item = {
      camera, status: "connecting", video, caption, state, placeholder, node,
      watch: new FrameWatch(video, 3000),
      viewer: cameraViewer(this, camera.id, video, (status) => {
        item.status = status;
        this.update(item, item.camera);
      }),
    };
    item.viewer.start();
    this.items.set(camera.id, item);
    return item;
  }

  /** @param {CameraItem} item @param {RoomCamera} camera */
  update(item, camera) {
    item.camera = camera;
    item.node.dataset.state = camera.state;
    item.caption.textContent = camera.label;
    item.state.textContent = STATE_TEXT[camera.state] || camera.state;
    item.node.title = camera.state === "up" ? "" : camera.detail || "";
    item.state.dataset.tone = camera.state === "up" ? "ok" : camera.state === "connecting" ? "busy" : "bad";
    let text = "等待画面";
    if (camera.state === "up" && camera.viewable === false) {
      text = `${camera.codec || "该"} 编码暂不支持预览${camera.recorded ? "（正在录制）" : ""}`;
    }
    else if (camera.state !== "up") text = camera.detail || STATE_TEXT[camera.state] || "无画面";
    else if (item.status !== "live") text = "正在连接…";
    item.placeholder.textContent = text;
  }

  /** Every ~500 ms: frame counters, and whether a picture is shown. */
  tick() {
    for (const item of this.items.values()) {
      const { frames, playing } = item.watch.tick();
      item.video.dataset.frames = String(frames);
      /** @type {HTMLElement} */ (item.video.parentElement).dataset.picture = playing && item.camera.state === "up" ? "ok" : "none";
    }
  }

  close() {
    for (const item of this.items.values()) item.viewer.close();
    this.items.clear();
    this.container.replaceChildren();
  }
}

/**
 * A room tile's inset of its first room camera that is up and shown as sent (VP8), so that the
 * wall has each room's camera beside its grid. Hooks: `.tile-camera[data-camera]`, its
 * `video[data-frames]`.
 */
export class TileCamera {
  /** @param {HTMLElement} container @param {Wire} wire */
  constructor(container, { sid, request, ice }) {
    this.sid = sid;
    this.request = request;
    this.ice = ice;
    /** @type {RoomCamera | null} */
    this.camera = null;
    /** @type {import("/static/wall-rtc.js").Viewer | null} */
    this.viewer = null;
    this.video = el("video", { autoplay: true, playsinline: true, muted: true, dataset: { frames: "0" } });
    this.video.muted = true;
    this.label = el("span", { class: "tile-camera-label" });
    this.node = el("div", { class: "tile-camera", hidden: true }, this.video, this.label);
    this.watch = new FrameWatch(this.video, 3000);
    container.append(this.node);
  }

  /**
   * Follow the room: watch its first camera that is up, while the room is live.
   * @param {RoomCamera[] | undefined} cameras
   * @param {boolean} live
   */
  show(cameras, live) {
    const camera = live ? (cameras || []).find((c) => c.state === "up" && c.viewable !== false) : null;
    if (camera && this.camera && camera.id === this.camera.id) {
      this.label.textContent = camera.label;
      return;
    }
    this.stop();
    if (!camera) return;
    this.camera = camera;
    this.label.textContent = camera.label;
    this.node.dataset.camera = camera.id;
    this.node.hidden = false;
    this.viewer = cameraViewer(this, camera.id, this.video, () => {});
    this.viewer.start();
  }

  tick() {
    const { frames } = this.watch.tick();
    this.video.dataset.frames = String(frames);
  }

  stop(notify = true) {
    if (this.viewer) this.viewer.close({ notify });
    this.viewer = null;
    this.camera = null;
    this.video.srcObject = null;
    this.node.hidden = true;
    delete this.node.dataset.camera;
  }
}
