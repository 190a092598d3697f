// @ts-check
// Media side of the supervision wall (监督墙): receive-only peer connections to the server
// ("watch" a room's grid and mix, "focus" on one seat), the room audio level meters, the
// warning sound cue and the frame counters the page exposes.
//
// The page never sends media. Every connection is made by a Viewer, which negotiates under a
// fresh viewer id each time, trickles its ICE candidates once the server answered, and starts
// over by itself (with back-off) when the server refuses, the connection fails, or it is told
// to (the room's media moved: "media_restart").

import { ACK_TIMEOUT_MS, Backoff } from "/static/lib/acks.js";
import { levelOf, preferVp8 } from "/static/lib/rtc.js";

const OFFER_TIMEOUT_MS = 20000;
const PC_DROP_GRACE_MS = 3000; // "disconnected" this long: negotiate again
const PC_CONNECT_DEADLINE_MS = 20000; // after the answer, ICE must connect within this

/** @typedef {ReturnType<typeof setTimeout>} Timer */

let viewerSeq = 0;

/**
 * A viewer id matching /^[A-Za-z0-9_-]{1,64}$/, never reused by this page.
 * @param {string} kind
 */
function newViewerId(kind) {
  viewerSeq += 1;
  return `${kind}-${Date.now().toString(36)}-${viewerSeq}`;
}

/**
 * One receive-only connection to the server, kept up for as long as it is wanted.
 *
 * - `kind`: "watch" or "focus" (the Socket.IO event that opens it);
 * - `fields`: what the event carries besides the offer ({session_id} or {session_id, seat});
 * - `roles`: [[kind, role], ...] in transceiver order, e.g. [["video", "grid"], ["audio", "mix"]];
 * - `request(event, payload, timeoutMs)`: emits with an ack, resolves to the ok answer, throws
 *   an Error with `code` and a Chinese `message` otherwise;
 * - `ice`: the page's ICE servers (lib/rtc.js), which also makes the peer connections;
 * - `onMedia(tracks)`: {role: MediaStreamTrack} of each new negotiation;
 * - `onStatus(status, message)`: "connecting" | "live" | "retrying" (message says why).
 *
 * @typedef {"connecting" | "live" | "retrying"} ViewerStatus
 * @typedef {(event: string, payload: unknown, timeoutMs?: number) => Promise<import("/static/lib/wire").Ack>} Request
 * @typedef {{ viewer: string | null, candidate: string, sdpMid: string | null, sdpMLineIndex: number | null, usernameFragment: string | null }} ViewerCandidate
 */
export class Viewer {
  /**
   * @param {{
   *   kind: string,
   *   fields: Record<string, unknown>,
   *   roles: Array<["audio" | "video", string]>,
   *   request: Request,
   *   ice: import("/static/lib/rtc.js").IceServers,
   *   onMedia: (tracks: Record<string, MediaStreamTrack>) => void,
   *   onStatus: (status: ViewerStatus, message: string) => void,
   * }} options
   */
  constructor({ kind, fields, roles, request, ice, onMedia, onStatus }) {
    this.kind = kind;
    this.fields = fields;
    this.roles = roles;
    this.request = request;
    this.ice = ice;
    this.onMedia = onMedia;
    this.onStatus = onStatus;
    this.closed = false;
    this.gen = 0;
    /** @type {RTCPeerConnection | null} */
    this.pc = null;
    /** @type {string | null} */
    this.id = null;
    this.acked = false; // the server holds this.id: unwatch it when replaced
    /** @type {ViewerCandidate[]} */
    this.pending = [];
    /** @type {ViewerStatus | null} */
    this.status = null;
    this.backoff = new Backoff();
    /** @type {{ retry: Timer | null, drop: Timer | null, deadline: Timer | null }} */
    this.timers = { retry: null, drop: null, deadline: null };
  }

  start() {
    this.attempt();
  }

  /** Negotiate again now, under a new viewer id ("media_restart"). */
  restart() {
    if (this.closed) return;
    this.backoff.reset();
    this.attempt();
  }

  /** Stop for good; `notify` false when the socket is gone (the server dropped it already). */
  close({ notify = true } = {}) {
    if (this.closed) return;
    this.gen += 1;
    this.teardown(notify);
    this.closed = true;
  }

  /** @param {ViewerStatus} status @param {string} [message] */
  setStatus(status, message = "") {
    this.status = status;
    this.onStatus(status, message);
  }

  clearTimers() {
    for (const key of /** @type {Array<keyof Viewer["timers"]>} */ (Object.keys(this.timers))) {
      const timer = this.timers[key];
      if (timer !== null) clearTimeout(timer);
      this.timers[key] = null;
    }
  }

  /** Close the current connection; tell the server when it holds it. */
  teardown(notify = true) {
    this.clearTimers();
    if (this.pc) this.pc.close();
    this.pc = null;
    if (notify && this.acked) this.unwatch(this.id);
    this.acked = false;
    this.pending = [];
  }

  /** @param {string | null} id */
  unwatch(id) {
    // Best effort: after a media restart the server may not know the old id any more.
    this.request("unwatch", { viewer: id }, ACK_TIMEOUT_MS).catch(() => {});
  }

  async attempt() {
    if (this.closed) return;
    const gen = ++this.gen;
    this.teardown();
    const id = newViewerId(this.kind);
    const pc = this.ice.connection({ bundlePolicy: "max-bundle" });
    const transceivers = this.roles.map(([kind, role]) => {
      const transceiver = pc.addTransceiver(kind, { direction: "recvonly" });
      if (kind === "video") preferVp8(transceiver);
      return /** @type {[RTCRtpTransceiver, string]} */ ([transceiver, role]);
    });
    this.pc = pc;
    this.id = id;
    pc.addEventListener("icecandidate", (event) => this.onCandidate(gen, event.candidate));
    pc.addEventListener("connectionstatechange", () => this.onConnectionState(gen));
    this.setStatus("connecting");
    try {
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      /** @type {Record<string, string>} */
      const roles = {};
      for (const [transceiver, role] of transceivers) roles[String(transceiver.mid)] = role;
      const payload = { ...this.fields, viewer: id, type: "offer", sdp: offer.sdp, roles };
      const answer = await this.request(this.kind, payload, OFFER_TIMEOUT_MS);
      if (gen !== this.gen) {
        // Replaced or closed while the server was answering: it holds a viewer nobody wants.
        this.unwatch(id);
        return;
      }
      this.acked = true;
      await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
      if (gen !== this.gen) return;
      for (const candidate of this.pending.splice(0)) this.sendCandidate(candidate);
      /** @type {Record<string, MediaStreamTrack>} */
      const tracks = {};
      for (const [transceiver, role] of transceivers) tracks[role] = transceiver.receiver.track;
      this.onMedia(tracks);
      this.timers.deadline = setTimeout(() => {
        if (gen === this.gen && pc.connectionState !== "connected") this.retry("音视频连接未能建立，正在重试…");
      }, PC_CONNECT_DEADLINE_MS);
    } catch (err) {
      if (gen !== this.gen) return;
      this.retry((err instanceof Error && err.message) || "连接失败，正在重试…");
    }
  }

  /** @param {number} gen @param {RTCIceCandidate | null} c */
  onCandidate(gen, c) {
    if (gen !== this.gen || !c || !c.candidate) return; // end of candidates is not sent
    const payload = {
      viewer: this.id,
      candidate: c.candidate,
      sdpMid: c.sdpMid,
      sdpMLineIndex: c.sdpMLineIndex,
      usernameFragment: c.usernameFragment,
    };
    if (this.acked) this.sendCandidate(payload);
    else this.pending.push(payload);
  }

  /** @param {ViewerCandidate} payload */
  sendCandidate(payload) {
    // A refused candidate is not fatal: the others, or the server's own, may still connect.
    this.request("ice_candidate", payload, ACK_TIMEOUT_MS).catch(() => {});
  }

  /** @param {number} gen */
  onConnectionState(gen) {
    if (gen !== this.gen || !this.pc) return;
    const state = this.pc.connectionState;
    if (state === "connected") {
      if (this.timers.drop !== null) clearTimeout(this.timers.drop);
      if (this.timers.deadline !== null) clearTimeout(this.timers.deadline);
      this.timers.drop = null;
      this.backoff.reset();
      this.setStatus("live");
    } else if (state === "failed") {
      this.retry("音视频连接中断，正在重新连接…");
    } else if (state === "disconnected" && !this.timers.drop) {
      this.timers.drop = setTimeout(() => {
        this.timers.drop = null;
        if (gen === this.gen && this.pc && this.pc.connectionState !== "connected") {
          this.retry("音视频连接中断，正在重新连接…");
        }
      }, PC_DROP_GRACE_MS);
    }
  }

  /**
   * Drop the connection and negotiate again after the back-off.
   * @param {string} message
   */
  retry(message) {
    if (this.closed) return;
    const gen = ++this.gen;
    this.teardown();
    const wait = this.backoff.next();
    this.setStatus("retrying", message);
    this.timers.retry = setTimeout(() => {
      if (gen === this.gen) this.attempt();
    }, wait);
  }
}

/**
 * Frames a video element has shown so far (0 without a stream).
 * @param {HTMLVideoElement & { webkitDecodedFrameCount?: number }} video
 */
export function frameCount(video) {
  if (!video.srcObject) return 0;
  if (typeof video.getVideoPlaybackQuality === "function") {
    return video.getVideoPlaybackQuality().totalVideoFrames;
  }
  return video.webkitDecodedFrameCount || 0;
}

/**
 * Watches a video element's frame counter: `tick()` (every ~500 ms) returns {frames, shown,
 * playing}: shown = a frame of the current stream was shown, playing = within `stallMs`.
 */
export class FrameWatch {
  /** @param {HTMLVideoElement} video @param {number} [stallMs] */
  constructor(video, stallMs = 2000) {
    this.video = video;
    this.stallMs = stallMs;
    /** @type {MediaProvider | null} */
    this.stream = null;
    this.frames = 0;
    this.movedAt = 0;
  }

  tick() {
    const now = performance.now();
    if (this.video.srcObject !== this.stream) {
      this.stream = this.video.srcObject;
      this.frames = 0;
      this.movedAt = 0;
    }
    const frames = frameCount(this.video);
    if (frames !== this.frames) {
      if (frames > this.frames) this.movedAt = now;
      this.frames = frames;
    }
    const shown = this.movedAt > 0;
    return { frames, shown, playing: shown && now - this.movedAt < this.stallMs };
  }
}

/**
 * The page's one AudioContext: level meters on received audio tracks, and the beep that
 * announces a new warning. Browsers keep it suspended until a click; `resume()` on gestures.
 */
export class AudioDesk {
  constructor() {
    /** @type {AudioContext | null} */
    this.context = null;
  }

  ctx() {
    if (!this.context && typeof AudioContext !== "undefined") this.context = new AudioContext();
    return this.context;
  }

  get running() {
    return !!this.context && this.context.state === "running";
  }

  resume() {
    const ctx = this.ctx();
    if (ctx && ctx.state === "suspended") return ctx.resume().catch(() => {});
    return Promise.resolve();
  }

  /**
   * A level meter on a received track. Chrome only feeds a remote track to WebAudio while a
   * media element plays it: the caller keeps the track attached to a (muted) element.
   */
  /**
   * @param {MediaStreamTrack | null} track
   * @returns {{ level(): number, close(): void }}
   */
  meter(track) {
    const ctx = this.ctx();
    if (!ctx || !track) return { level: () => 0, close() {} };
    const source = ctx.createMediaStreamSource(new MediaStream([track]));
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 1024;
    const samples = new Float32Array(analyser.fftSize);
    source.connect(analyser); // analysis only: nothing goes to the speakers from here
    return {
      level() {
        if (ctx.state !== "running") return 0;
        analyser.getFloatTimeDomainData(samples);
        return levelOf(samples); // as the seat's microphone meter
      },
      close() {
        source.disconnect();
      },
    };
  }

  /** Two short tones (about 0.4 s), loud enough to notice, soft enough not to startle. */
  beep() {
    const ctx = this.ctx();
    if (ctx?.state !== "running") return;
    const start = ctx.currentTime + 0.02;
    for (const [offset, hz] of [[0, 880], [0.22, 660]]) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "sine";
      osc.frequency.value = hz;
      gain.gain.setValueAtTime(0.0001, start + offset);
      gain.gain.exponentialRampToValueAtTime(0.25, start + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.18);
      osc.connect(gain).connect(ctx.destination);
      osc.start(start + offset);
      osc.stop(start + offset + 0.2);
    }
  }
}
