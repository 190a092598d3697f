// @ts-check
// WebRTC and WebAudio helpers of the seat and the wall: VP8 first in a video transceiver's
// codecs, the level a meter shows for a block of audio samples, and the page's ICE servers
// with their TURN credentials renewed before they expire. Browser objects are only touched
// when called.

/**
 * Put VP8 first in a video transceiver's codec list, keeping the rest (RTX, RED, FEC...).
 * @param {RTCRtpTransceiver} transceiver
 */
export function preferVp8(transceiver) {
  if (typeof transceiver.setCodecPreferences !== "function") return;
  const caps = RTCRtpReceiver.getCapabilities?.("video");
  if (!caps?.codecs) return;
  /** @param {RTCRtpCodec} c */
  const isVp8 = (c) => c.mimeType.toLowerCase() === "video/vp8";
  const vp8 = caps.codecs.filter(isVp8);
  if (vp8.length === 0) return;
  try {
    transceiver.setCodecPreferences([...vp8, ...caps.codecs.filter((c) => !isVp8(c))]);
  } catch {
    // The browser refused the list (e.g. for a send-only transceiver): keep its default order.
  }
}

/**
 * A meter's level 0..1 for time-domain samples (-1..1): their RMS in dB, -60 dB and below
 * empty, 0 dB full, so that normal speech fills about half the bar.
 * @param {ArrayLike<number> & Iterable<number>} samples
 */
export function levelOf(samples) {
  let sum = 0;
  for (const v of samples) sum += v * v;
  const rms = Math.sqrt(sum / samples.length);
  const db = 20 * Math.log10(rms + 1e-9); // -inf..0
  return Math.min(1, Math.max(0, (db + 60) / 60));
}

const RENEW_RETRY_MS = 30000; // a renewal that failed is tried again this much later

/**
 * What the server hands a page with its ICE servers: when their TURN credentials expire
 * (Unix seconds) and in how many seconds to ask again (both null when nothing expires).
 * @typedef {{ ice_servers?: RTCIceServer[], ice_expires_at?: number | null, ice_renew_in_s?: number | null }} IceGrant
 */
/**
 * The timers the renewal uses (the page's own; a test's fake ones).
 * @typedef {{ setTimeout: (fn: () => void, ms: number) => unknown, clearTimeout: (id: any) => void }} Timers
 */

/**
 * A page's STUN and TURN servers, kept fresh. The server gives TURN credentials of this page's
 * own that expire; `renew()` asks for new ones `ice_renew_in_s` after each grant, and each
 * peer connection made here (or `track`ed) is handed them with `setConfiguration`, so that an
 * ICE restart or a new candidate gathering finds the relay open.
 */
export class IceServers {
  /**
   * @param {() => Promise<IceGrant | null>} renew asks the server again (null: not now)
   * @param {Timers} [timers]
   */
  constructor(renew, timers = globalThis) {
    this.renew = renew;
    this.timers = timers;
    /** @type {RTCIceServer[]} */
    this.servers = [];
    /** @type {Set<RTCPeerConnection>} */
    this.connections = new Set();
    /** @type {unknown} */
    this.timer = null;
    this.stopped = false;
  }

  /**
   * Take a grant's servers (a seat's join answer, the wall's hello, a renewal) and schedule
   * the next renewal.
   * @param {IceGrant} grant
   */
  adopt(grant) {
    if (this.stopped) return;
    this.servers = grant.ice_servers || [];
    for (const pc of [...this.connections]) {
      if (pc.connectionState === "closed" || pc.signalingState === "closed") {
        this.connections.delete(pc);
        continue;
      }
      try {
        pc.setConfiguration({ ...pc.getConfiguration(), iceServers: this.servers });
      } catch {
        // A connection that refuses the change keeps its servers; the next one gets these.
      }
    }
    const renewIn = grant.ice_renew_in_s;
    this.schedule(typeof renewIn === "number" ? Math.max(1, renewIn) * 1000 : null);
  }

  /**
   * A new peer connection with the current servers, kept up to date with them.
   * @param {RTCConfiguration} config
   */
  connection(config) {
    const pc = new RTCPeerConnection({ ...config, iceServers: this.servers });
    this.track(pc);
    return pc;
  }

  /** @param {RTCPeerConnection} pc a connection to hand renewed servers to */
  track(pc) {
    this.connections.add(pc);
  }

  stop() {
    this.stopped = true;
    this.schedule(null);
    this.connections.clear();
  }

  /** @param {number | null} ms */
  schedule(ms) {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    if (ms === null || this.stopped) return;
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      this.renewNow();
    }, ms);
  }

  async renewNow() {
    let grant = null;
    try {
      grant = await this.renew();
    } catch {
      grant = null;
    }
    if (this.stopped) return;
    if (grant) this.adopt(grant);
    else this.schedule(RENEW_RETRY_MS);
  }
}
