// @ts-check
// Local devices of a seat: camera and microphone, screen share, and a microphone level meter.

import { mediaErrorText } from "./errors.js";
import { levelOf } from "./rtc.js";

const CAMERA = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 15, max: 15 } };
const MICROPHONE = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

/**
 * Open camera and microphone. Tries both, then each alone, so a seat with one broken device
 * still joins. Returns {stream, camera, microphone, errors: [Chinese text]}.
 */
export async function openCameraAndMicrophone() {
  /** @type {string[]} */
  const errors = [];
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: CAMERA, audio: MICROPHONE });
    return {
      stream,
      camera: stream.getVideoTracks()[0] || null,
      microphone: stream.getAudioTracks()[0] || null,
      errors,
    };
  } catch {
    // Fall through: find out which device is the problem.
  }
  const stream = new MediaStream();
  let camera = null;
  let microphone = null;
  try {
    camera = (await navigator.mediaDevices.getUserMedia({ video: CAMERA })).getVideoTracks()[0];
    stream.addTrack(camera);
  } catch (err) {
    errors.push(mediaErrorText(err, "摄像头"));
  }
  try {
    microphone = (await navigator.mediaDevices.getUserMedia({ audio: MICROPHONE })).getAudioTracks()[0];
    stream.addTrack(microphone);
  } catch (err) {
    errors.push(mediaErrorText(err, "麦克风"));
  }
  return { stream, camera, microphone, errors };
}

/**
 * Ask for a screen to share (5 frames a second is plenty for documents).
 * Resolves to the video track; rejects with the browser's error (NotAllowedError when the
 * user cancels or when no user gesture allowed the request).
 */
export async function openScreen() {
  const stream = await navigator.mediaDevices.getDisplayMedia({
    video: { frameRate: { ideal: 5, max: 5 } },
    audio: false,
  });
  const track = stream.getVideoTracks()[0];
  if ("contentHint" in track) track.contentHint = "detail";
  return track;
}

/** Microphone level 0..1 from a WebAudio AnalyserNode, read on demand. */
export class MicMeter {
  /** @param {MediaStreamTrack | null} track */
  constructor(track) {
    /** @type {AudioContext | null} */
    this.context = null;
    /** @type {AnalyserNode | null} */
    this.analyser = null;
    this.samples = new Float32Array(0);
    if (!track || typeof AudioContext === "undefined") return;
    this.context = new AudioContext();
    const source = this.context.createMediaStreamSource(new MediaStream([track]));
    this.analyser = this.context.createAnalyser();
    this.analyser.fftSize = 1024;
    this.samples = new Float32Array(this.analyser.fftSize);
    source.connect(this.analyser); // analysis only: nothing goes to the speakers
  }

  /** Resume after a user gesture when the autoplay policy kept the context suspended. */
  resume() {
    if (this.context && this.context.state === "suspended") this.context.resume().catch(() => {});
  }

  /** Current level: RMS mapped so that normal speech fills about half the bar. */
  level() {
    if (!this.analyser) return 0;
    this.analyser.getFloatTimeDomainData(this.samples);
    return levelOf(this.samples);
  }

  close() {
    if (this.context) this.context.close().catch(() => {});
    this.context = null;
    this.analyser = null;
  }
}
