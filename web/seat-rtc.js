// @ts-check
// The seat's one RTCPeerConnection to the server, and its negotiation.
//
// Transceivers are created in a fixed order the server relies on:
//   1. microphone, sendrecv: receives the room's audio mix (everyone but this seat);
//   2. camera, sendrecv: receives the room grid video;
//   3. desktop (screen share), sendonly: may start without a track and get one later
//      through replaceTrack, which needs no renegotiation;
//   4. preview, sendonly: the camera again, scaled down to about 320 pixels wide. The server
//      shows it in the room grid and analyses it, and records the camera itself; decoding
//      the small picture costs it about a third of the camera's.
// The server answers with all its candidates; this side trickles its own.

import { preferVp8 } from "/static/lib/rtc.js";

const PREVIEW_WIDTH = 320;
const PREVIEW_MAX_BITRATE = 150_000; // bit/s
const PREVIEW_MAX_FRAMERATE = 15;
// Ceilings of the recorded streams (bit/s); within them the browser sends what the server's
// bandwidth estimate allows. The capacity benchmarks' seats send at about these rates.
const CAMERA_MAX_BITRATE = 500_000;
const DESKTOP_MAX_BITRATE = 800_000;

/**
 * One negotiated connection to the server for this seat.
 *
 * `signal` carries the wire: `offer(payload) -> {sdp, type}` and `candidate(payload)`, both
 * returning promises; `events` receives `remote(kind, track)` with kind "audio" or "grid",
 * and `connectionState(state)`.
 */
/**
 * The seat's own media: the stream of camera and microphone, and the tracks to send.
 * @typedef {{ stream: MediaStream, camera: MediaStreamTrack | null, microphone: MediaStreamTrack | null, desktop: MediaStreamTrack | null }} LocalMedia
 */
/** @typedef {{ candidate: string, sdpMid: string | null, sdpMLineIndex: number | null }} CandidatePayload */

export class SeatPeer {
  /**
   * @param {{
   *   iceServers: RTCIceServer[],
   *   local: LocalMedia,
   *   signal: { offer(payload: unknown): Promise<import("/static/lib/wire").Ack>, candidate(payload: CandidatePayload): Promise<unknown> },
   *   events: { remote(kind: "audio" | "grid", track: MediaStreamTrack): void, connectionState(state: RTCPeerConnectionState): void },
   * }} options
   */
  constructor({ iceServers, local, signal, events }) {
    this.pc = new RTCPeerConnection({ iceServers: iceServers || [], bundlePolicy: "max-bundle" });
    this.local = local; // {stream, microphone, camera, desktop}
    this.signal = signal;
    this.events = events;
    this.closed = false;
    this.answered = false;
    /** @type {CandidatePayload[]} */
    this.pendingCandidates = [];
    /** @type {{ now: number, sent: number, received: number } | null} */
    this.lastStats = null;

    const { stream, microphone, camera, desktop } = local;
    this.mic = this.pc.addTransceiver(microphone || "audio", {
      direction: "sendrecv",
      streams: stream ? [stream] : [],
    });
    this.camera = this.pc.addTransceiver(camera || "video", {
      direction: "sendrecv",
      sendEncodings: [{ maxBitrate: CAMERA_MAX_BITRATE }],
    });
    this.desktop = this.pc.addTransceiver(desktop || "video", {
      direction: "sendonly",
      sendEncodings: [{ maxBitrate: DESKTOP_MAX_BITRATE }],
    });
    // A copy of the camera track, this connection's own: closing the connection stops it.
    this.previewTrack = camera ? camera.clone() : null;
    const width = camera?.getSettings().width || 640;
    this.preview = this.pc.addTransceiver(this.previewTrack || "video", {
      direction: "sendonly",
      sendEncodings: [
        {
          scaleResolutionDownBy: Math.max(1, width / PREVIEW_WIDTH),
          maxBitrate: PREVIEW_MAX_BITRATE,
          maxFramerate: PREVIEW_MAX_FRAMERATE,
        },
      ],
    });
    preferVp8(this.camera);
    preferVp8(this.desktop);
    preferVp8(this.preview);

    this.pc.addEventListener("icecandidate", (event) => this.onIceCandidate(event));
    this.pc.addEventListener("track", (event) => this.onTrack(event));
    this.pc.addEventListener("connectionstatechange", () => {
      if (!this.closed) this.events.connectionState(this.pc.connectionState);
    });
  }

  /** Create the offer, send it with the role of every mid, and apply the server's answer. */
  async negotiate() {
    // The camera is recorded as evidence, and the preview fills a grid tile of its size:
    // when bandwidth or CPU is short, the browser sends fewer of their pictures, never
    // smaller ones (its default scales a camera down).
    for (const transceiver of [this.camera, this.preview]) {
      const parameters = transceiver.sender.getParameters();
      parameters.degradationPreference = "maintain-resolution";
      try {
        await transceiver.sender.setParameters(parameters);
      } catch (err) {
        // A browser that cannot set it still sends the video, scaled as it sees fit.
        console.warn("degradationPreference not set:", err);
      }
    }
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    /** @type {Record<string, string>} */
    const roles = {};
    for (const [transceiver, role] of /** @type {Array<[RTCRtpTransceiver, string]>} */ ([
      [this.mic, "microphone"],
      [this.camera, "camera"],
      [this.desktop, "desktop"],
      [this.preview, "preview"],
    ])) {
      if (transceiver.mid !== null) roles[transceiver.mid] = role;
    }
    // offer.sdp carries no candidates yet: every local candidate goes out once, trickled.
    const answer = await this.signal.offer({ type: "offer", sdp: offer.sdp, roles });
    if (this.closed) return;
    await this.pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    this.answered = true;
    // Candidates wait for the answer so that the server has a transport to add them to.
    for (const payload of this.pendingCandidates.splice(0)) this.sendCandidate(payload);
  }

  /** @param {RTCPeerConnectionIceEvent} event */
  onIceCandidate(event) {
    const c = event.candidate;
    if (!c?.candidate) return; // end of candidates: the contract does not send it
    const payload = { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex };
    if (this.answered) this.sendCandidate(payload);
    else this.pendingCandidates.push(payload);
  }

  /** @param {CandidatePayload} payload */
  sendCandidate(payload) {
    if (this.closed) return;
    // A refused candidate is not fatal: the others, or the server's own, may still connect.
    this.signal.candidate(payload).catch(() => {});
  }

  /** @param {RTCTrackEvent} event */
  onTrack(event) {
    if (this.closed) return;
    if (event.transceiver === this.mic) this.events.remote("audio", event.track);
    else if (event.transceiver === this.camera) this.events.remote("grid", event.track);
  }

  /** Send a new screen track (or null to stop) on the desktop transceiver, no renegotiation. */
  /** @param {MediaStreamTrack | null} track */
  async setDesktopTrack(track) {
    this.local = { ...this.local, desktop: track };
    if (!this.closed) await this.desktop.sender.replaceTrack(track);
  }

  /** Round-trip time (ms) and bit rates (kbit/s) since the previous call. */
  async stats() {
    if (this.closed) return null;
    const report = await this.pc.getStats();
    /** @type {string | null} */
    let pairId = null;
    report.forEach((s) => {
      if (s.type === "transport" && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
    });
    let rtt = null;
    let sent = 0;
    let received = 0;
    report.forEach((s) => {
      if (s.type === "outbound-rtp") sent += s.bytesSent || 0;
      else if (s.type === "inbound-rtp") received += s.bytesReceived || 0;
      else if (s.type === "candidate-pair" && s.id === pairId && s.currentRoundTripTime != null) {
        rtt = s.currentRoundTripTime * 1000;
      }
    });
    const now = performance.now();
    const prev = this.lastStats;
    this.lastStats = { now, sent, received };
    if (!prev || now <= prev.now) return { rtt, upKbps: null, downKbps: null };
    const seconds = (now - prev.now) / 1000;
    return {
      rtt,
      upKbps: ((sent - prev.sent) * 8) / 1000 / seconds,
      downKbps: ((received - prev.received) * 8) / 1000 / seconds,
    };
  }

  /** Close the connection; the local tracks stay open for the next peer (the preview copy is
   * stopped). Safe to call twice. */
  close() {
    if (this.closed) return;
    this.closed = true;
    this.pendingCandidates = [];
    this.pc.close();
    if (this.previewTrack) this.previewTrack.stop();
  }
}
