// @ts-check
// The hall's media in a page (开标直播, 发言), over the page's `/hall` connection.
//
// The server tells the page the hall's media with `media` ({streams, ice_servers}): at connect,
// and again whenever the hall's room starts, moves to another worker or stops. A
// BroadcastView then watches the broadcast one way: a receive-only offer with one transceiver
// per stream (`watch`), the host's camera and the speakers' sound in one <video> (kept in sync
// by the browser; the camera joins it when its first picture comes, so that the sound plays
// while the host is not there yet), the information screen in another. It watches again by
// itself when the screen stops moving or the connection fails, and when told `media` again.
// A HallSpeaker sends a speaker's microphone (and the host's camera) into the hall's mix
// (`speak`); while it speaks, the broadcast's own sound is silenced and the mix without the
// speaker's own voice, which the server sends back, is played instead (no echo of oneself).

import { Backoff } from "./acks.js";
import { preferVp8 } from "./rtc.js";

// The screen makes two pictures a second: none for this long means the broadcast is lost.
const STALL_MS = 6000;
const CHECK_MS = 1000;
const STREAMS = /** @type {const} */ ([["video", "camera"], ["video", "screen"], ["audio", "sound"]]);
const MICROPHONE = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
const CAMERA = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 15, max: 15 } };

/**
 * @typedef {(event: string, payload: unknown, timeoutMs?: number) => Promise<import("./wire").Ack>} Request
 * @typedef {{ streams: string[], ice_servers?: RTCIceServer[] }} HallMedia
 * @typedef {"waiting" | "connecting" | "live" | "ended"} BroadcastState
 * @typedef {"off" | "starting" | "on" | "error"} SpeakerState
 */

/**
 * Trickle a connection's ICE candidates with `event` once the server holds the connection
 * (candidates found before its answer wait).
 */
class Trickle {
  /** @param {Request} request @param {string} event */
  constructor(request, event) {
    this.request = request;
    this.event = event;
    /** @type {RTCIceCandidateInit[] | null} */
    this.pending = [];
  }

  /** @param {RTCIceCandidate} candidate */
  add(candidate) {
    const init = candidate.toJSON();
    if (this.pending) this.pending.push(init);
    else this.send(init);
  }

  /** The server answered: what waited goes now, the rest as it comes. */
  open() {
    const waiting = this.pending || [];
    this.pending = null;
    for (const init of waiting) this.send(init);
  }

  /** @param {RTCIceCandidateInit} init */
  send(init) {
    const payload = {
      candidate: init.candidate || "",
      sdpMid: init.sdpMid ?? null,
      sdpMLineIndex: init.sdpMLineIndex ?? null,
      usernameFragment: init.usernameFragment ?? null,
    };
    this.request(this.event, payload).catch(() => {
      // A candidate the server refuses (a connection replaced meanwhile) is of no use anyway.
    });
  }
}

/** The hall's broadcast, watched one way into two <video> elements. */
export class BroadcastView {
  /**
   * @param {{
   *   request: Request,
   *   broadcast: HTMLVideoElement,
   *   screen: HTMLVideoElement,
   *   onState: (state: BroadcastState, message: string) => void,
   * }} options
   */
  constructor({ request, broadcast, screen, onState }) {
    this.request = request;
    this.broadcast = broadcast;
    this.screen = screen;
    this.onState = onState;
    /** @type {string[]} */
    this.streams = [];
    /** @type {RTCIceServer[]} */
    this.iceServers = [];
    /** @type {RTCPeerConnection | null} */
    this.pc = null;
    this.gen = 0;
    this.backoff = new Backoff();
    /** @type {ReturnType<typeof setInterval> | null} */
    this.checker = null;
    this.lastFrames = 0;
    this.lastMoved = 0;
    /** @type {BroadcastState} */
    this.state = "waiting";
    this.soundWanted = false;
    this.held = false;
    broadcast.muted = true;
    screen.muted = true;
  }

  /**
   * The hall's media as the server told it: watch it (again), or stop when it has none.
   * @param {HallMedia} media
   */
  take(media) {
    this.streams = media.streams || [];
    this.iceServers = media.ice_servers || [];
    this.backoff.reset();
    if (this.streams.length) this.watch();
    else this.stop("ended", "开标直播未开始或已结束");
  }

  /**
   * Play the broadcast's sound (after a click: browsers start media muted) or not.
   * @param {boolean} on
   */
  setSound(on) {
    this.soundWanted = on;
    this.broadcast.muted = !on || this.held;
    if (on) this.broadcast.play().catch(() => {});
  }

  /**
   * While this page speaks, its own broadcast stays silent (the speaker hears the mix).
   * @param {boolean} held
   */
  hold(held) {
    this.held = held;
    this.broadcast.muted = !this.soundWanted || held;
  }

  /** Frames decoded of each stream so far, by stream name (what a test or a meter reads). */
  async frames() {
    /** @type {Record<string, number>} */
    const out = {};
    const pc = this.pc;
    if (!pc) return out;
    const names = new Map(pc.getTransceivers().map((t) => [t.mid, this.nameOf(t)]));
    for (const report of (await pc.getStats()).values()) {
      if (report.type !== "inbound-rtp") continue;
      const name = names.get(report.mid);
      if (name) out[name] = report.kind === "video" ? report.framesDecoded || 0 : report.packetsReceived || 0;
    }
    return out;
  }

  /** Stop watching for good (the page goes). */
  close() {
    this.stop("ended", "");
  }

  // -- internals --------------------------------------------------------------------------

  /** @param {RTCRtpTransceiver} transceiver */
  nameOf(transceiver) {
    return /** @type {any} */ (transceiver).hallStream || "";
  }

  /** @param {BroadcastState} state @param {string} message */
  setState(state, message) {
    if (state === this.state && state !== "connecting") return;
    this.state = state;
    this.onState(state, message);
  }

  /** @param {BroadcastState} state @param {string} message */
  stop(state, message) {
    this.gen += 1;
    this.teardown();
    this.setState(state, message);
  }

  teardown() {
    if (this.checker !== null) clearInterval(this.checker);
    this.checker = null;
    if (this.pc) this.pc.close();
    this.pc = null;
  }

  /**
   * Watch again after a wait that grows with each failure.
   * @param {string} message
   */
  retry(message) {
    const gen = this.gen;
    this.setState("connecting", message);
    setTimeout(() => {
      if (gen === this.gen && this.streams.length) this.watch();
    }, this.backoff.next());
  }

  async watch() {
    this.gen += 1;
    const gen = this.gen;
    this.teardown();
    this.setState("connecting", "正在连接开标直播…");
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: "max-bundle" });
    this.pc = pc;
    const main = new MediaStream();
    const shown = new MediaStream();
    this.broadcast.srcObject = main;
    this.screen.srcObject = shown;
    /** @type {Record<string, string>} */
    const roles = {};
    /** @type {RTCRtpTransceiver[]} */
    const transceivers = [];
    for (const [kind, name] of STREAMS) {
      if (!this.streams.includes(name)) continue;
      const transceiver = pc.addTransceiver(kind, { direction: "recvonly" });
      /** @type {any} */ (transceiver).hallStream = name;
      if (kind === "video") preferVp8(transceiver);
      transceivers.push(transceiver);
    }
    pc.ontrack = (e) => {
      const name = this.nameOf(e.transceiver);
      if (name === "screen") {
        shown.addTrack(e.track);
      } else if (name === "sound") {
        main.addTrack(e.track);
      } else {
        // The host's camera: in the broadcast while its pictures come, so that the sound plays
        // while there is no camera (the host not there yet, or gone).
        const track = e.track;
        const show = () => {
          if (gen !== this.gen || main.getTracks().includes(track)) return;
          main.addTrack(track);
          this.broadcast.play().catch(() => {});
        };
        track.addEventListener("unmute", show);
        track.addEventListener("mute", () => { if (gen === this.gen) main.removeTrack(track); });
        if (!track.muted) show();
      }
      this.broadcast.play().catch(() => {});
      this.screen.play().catch(() => {});
    };
    const trickle = new Trickle(this.request, "watch_candidate");
    pc.onicecandidate = (e) => { if (e.candidate && gen === this.gen) trickle.add(e.candidate); };
    pc.onconnectionstatechange = () => {
      if (gen === this.gen && pc.connectionState === "failed") this.retry("直播连接中断，正在重新连接…");
    };
    try {
      await pc.setLocalDescription(await pc.createOffer());
      for (const t of transceivers) if (t.mid !== null) roles[t.mid] = this.nameOf(t);
      const offer = /** @type {RTCSessionDescription} */ (pc.localDescription);
      const answer = await this.request("watch", { type: "offer", sdp: offer.sdp, roles }, 20000);
      if (gen !== this.gen) return;
      await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
      trickle.open();
    } catch (err) {
      if (gen !== this.gen) return;
      this.retry(`无法连接开标直播：${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    this.lastFrames = 0;
    this.lastMoved = Date.now();
    this.checker = setInterval(() => this.check(gen), CHECK_MS);
  }

  /**
   * Live while the screen's pictures keep coming; watch again when they stop.
   * @param {number} gen
   */
  async check(gen) {
    const frames = (await this.frames()).screen || 0;
    if (gen !== this.gen) return;
    const now = Date.now();
    if (frames > this.lastFrames) {
      this.lastFrames = frames;
      this.lastMoved = now;
      this.backoff.reset();
      this.setState("live", "");
    } else if (now - this.lastMoved > STALL_MS) {
      this.retry("开标直播画面中断，正在重新连接…");
    }
  }
}

/** A speaker's microphone (and the host's camera) in the hall's mix. */
export class HallSpeaker {
  /**
   * @param {{
   *   request: Request,
   *   camera: boolean,
   *   hear: HTMLAudioElement,
   *   preview?: HTMLVideoElement | null,
   *   onState: (state: SpeakerState, message: string) => void,
   * }} options
   */
  constructor({ request, camera, hear, preview = null, onState }) {
    this.request = request;
    this.camera = camera;
    this.hear = hear;
    this.preview = preview;
    this.onState = onState;
    /** @type {RTCPeerConnection | null} */
    this.pc = null;
    /** @type {MediaStream | null} */
    this.local = null;
    /** @type {SpeakerState} */
    this.state = "off";
    this.gen = 0;
  }

  get on() {
    return this.state === "starting" || this.state === "on";
  }

  /** @param {SpeakerState} state @param {string} [message] */
  setState(state, message = "") {
    this.state = state;
    this.onState(state, message);
  }

  /**
   * Open the microphone (and camera) and send them into the hall.
   * @param {RTCIceServer[]} iceServers
   */
  async start(iceServers) {
    this.gen += 1;
    const gen = this.gen;
    this.setState("starting", this.camera ? "正在开启摄像头和麦克风…" : "正在开启麦克风…");
    try {
      if (!this.local) {
        this.local = await navigator.mediaDevices.getUserMedia({
          audio: MICROPHONE,
          video: this.camera ? CAMERA : false,
        });
      }
      if (gen !== this.gen) return;
      if (this.preview) {
        this.preview.srcObject = this.local;
        this.preview.play().catch(() => {});
      }
      await this.negotiate(iceServers, gen);
    } catch (err) {
      if (gen !== this.gen) return;
      this.closePeer();
      this.setState("error", err instanceof Error ? err.message : String(err));
    }
  }

  /**
   * The hall's media moved: offer again with the same devices.
   * @param {RTCIceServer[]} iceServers
   */
  async restart(iceServers) {
    if (!this.on || !this.local) return;
    this.gen += 1;
    const gen = this.gen;
    this.setState("starting", "开标大厅的音视频已恢复，正在重新连接…");
    try {
      await this.negotiate(iceServers, gen);
    } catch (err) {
      if (gen === this.gen) this.setState("error", err instanceof Error ? err.message : String(err));
    }
  }

  /** Stop speaking: the server closes the media, the devices are released. */
  async stop() {
    this.gen += 1;
    this.closePeer();
    for (const track of this.local?.getTracks() || []) track.stop();
    this.local = null;
    if (this.preview) this.preview.srcObject = null;
    this.setState("off");
    await this.request("stop_speaking", {}).catch(() => {});
  }

  // -- internals --------------------------------------------------------------------------

  closePeer() {
    if (this.pc) this.pc.close();
    this.pc = null;
    this.hear.srcObject = null;
  }

  /** @param {RTCIceServer[]} iceServers @param {number} gen */
  async negotiate(iceServers, gen) {
    this.closePeer();
    const local = /** @type {MediaStream} */ (this.local);
    const pc = new RTCPeerConnection({ iceServers, bundlePolicy: "max-bundle" });
    this.pc = pc;
    /** @type {Record<string, string>} */
    const roles = {};
    /** @type {Array<[RTCRtpTransceiver, string]>} */
    const sent = [];
    const microphone = local.getAudioTracks()[0];
    if (!microphone) throw new Error("没有可用的麦克风");
    sent.push([pc.addTransceiver(microphone, { direction: "sendrecv", streams: [local] }), "microphone"]);
    const camera = local.getVideoTracks()[0];
    if (this.camera && camera) {
      const transceiver = pc.addTransceiver(camera, { direction: "sendonly", streams: [local] });
      preferVp8(transceiver);
      sent.push([transceiver, "camera"]);
    }
    pc.ontrack = (e) => {
      // The hall's sound without this speaker's own voice.
      if (e.track.kind === "audio") {
        this.hear.srcObject = new MediaStream([e.track]);
        this.hear.play().catch(() => {});
      }
    };
    const trickle = new Trickle(this.request, "speak_candidate");
    pc.onicecandidate = (e) => { if (e.candidate && gen === this.gen) trickle.add(e.candidate); };
    pc.onconnectionstatechange = () => {
      if (gen !== this.gen) return;
      if (pc.connectionState === "connected") this.setState("on");
      if (pc.connectionState === "failed") this.setState("error", "发言连接中断，请重新开启");
    };
    await pc.setLocalDescription(await pc.createOffer());
    for (const [transceiver, role] of sent) if (transceiver.mid !== null) roles[transceiver.mid] = role;
    const offer = /** @type {RTCSessionDescription} */ (pc.localDescription);
    const answer = await this.request("speak", { type: "offer", sdp: offer.sdp, roles }, 20000);
    if (gen !== this.gen) return;
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    trickle.open();
  }
}
