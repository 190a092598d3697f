// @ts-check
// The live broadcast's card of the hall's pages (the hall, the opening console, the public
// broadcast page): the host's camera with the speakers' sound (<video data-role="broadcast">),
// the information screen (<video data-role="screen">), whether it is live, the sound switch and,
// for a speaker, the microphone switch (发言; the host's switches its camera too).
//
// Elements, by id: #live-state, #sound-toggle, #live-camera-placeholder, #live-screen-placeholder and, for
// a speaker, #speak-toggle, #speak-state and <audio data-role="mix">. The page hands over its
// `/hall` requests and the `media` pushes; `onLive(true)` while pictures come (the page's
// `document.body.dataset.state` is then `live`).

import { $ } from "./dom.js";
import { BroadcastView, HallSpeaker } from "./hallmedia.js";

const STATE_WORDS = {
  waiting: ["未开始", "idle"],
  connecting: ["连接中", "warn"],
  live: ["直播中", "ok"],
  ended: ["未在直播", "idle"],
};

/**
 * @typedef {import("./hallmedia.js").Request} Request
 * @typedef {import("./hallmedia.js").HallMedia} HallMedia
 */

export class LiveCard {
  /**
   * @param {{
   *   request: Request,
   *   speaker?: { camera: boolean, label: string } | null,
   *   onLive: (live: boolean) => void,
   * }} options
   */
  constructor({ request, speaker = null, onLive }) {
    this.onLive = onLive;
    /** @type {RTCIceServer[]} */
    this.iceServers = [];
    this.youAreMuted = false;
    this.cameraVideo = $("video[data-role=broadcast]", HTMLVideoElement);
    this.screenVideo = $("video[data-role=screen]", HTMLVideoElement);
    this.view = new BroadcastView({
      request,
      broadcast: this.cameraVideo,
      screen: this.screenVideo,
      onState: (state, message) => this.showState(state, message),
    });
    /** @type {Array<[HTMLVideoElement, string]>} */
    const placeholders = [[this.cameraVideo, "#live-camera-placeholder"], [this.screenVideo, "#live-screen-placeholder"]];
    // A placeholder covers a video until it shows a picture (looked at again every second: a
    // track added to a playing stream brings no event every browser sends).
    const cover = () => {
      for (const [video, placeholder] of placeholders) $(placeholder).hidden = video.videoWidth > 0;
    };
    for (const [video] of placeholders) {
      for (const event of ["resize", "loadedmetadata", "emptied"]) video.addEventListener(event, cover);
    }
    setInterval(cover, 1000);
    const sound = $("#sound-toggle", HTMLButtonElement);
    sound.addEventListener("click", () => {
      const on = sound.dataset.on !== "1";
      sound.dataset.on = on ? "1" : "0";
      sound.textContent = on ? "关闭声音" : "开启声音";
      this.view.setSound(on);
    });
    /** @type {HallSpeaker | null} */
    this.speaker = null;
    if (speaker) this.wireSpeaker(request, speaker);
  }

  /**
   * The hall's media (`media` push): watch it; a speaker who speaks offers again.
   * @param {HallMedia} media
   */
  take(media) {
    this.iceServers = media.ice_servers || [];
    this.view.take(media);
    if (this.speaker?.on) {
      if (media.streams.length) this.speaker.restart(this.iceServers);
      else this.speaker.stop();
    }
  }

  /**
   * Whether this speaker is muted by the host or the witness (its view says so).
   * @param {boolean} muted
   */
  setMuted(muted) {
    this.youAreMuted = muted;
    if (this.speaker) this.showSpeaker(this.speaker.state, "");
  }

  /**
   * The speaker spoke from another window: this one stops.
   * @param {string} message
   */
  elsewhere(message) {
    this.speaker?.stop().then(() => this.showSpeaker("off", message));
  }

  /** Frames decoded of each stream so far (what a test reads). */
  frames() {
    return this.view.frames();
  }

  // -- internals --------------------------------------------------------------------------

  /**
   * @param {Request} request
   * @param {{ camera: boolean, label: string }} options
   */
  wireSpeaker(request, { camera, label }) {
    $("#speak-box").hidden = false;
    const toggle = $("#speak-toggle", HTMLButtonElement);
    toggle.textContent = label;
    toggle.dataset.label = label;
    const speaker = new HallSpeaker({
      request,
      camera,
      hear: $("audio[data-role=mix]", HTMLAudioElement),
      onState: (state, message) => this.showSpeaker(state, message),
    });
    this.speaker = speaker;
    toggle.addEventListener("click", () => {
      if (speaker.on) speaker.stop();
      else speaker.start(this.iceServers);
    });
  }

  /**
   * @param {import("./hallmedia.js").SpeakerState} state
   * @param {string} message
   */
  showSpeaker(state, message) {
    const toggle = $("#speak-toggle", HTMLButtonElement);
    const words = $("#speak-state");
    const on = state === "starting" || state === "on";
    toggle.textContent = on ? (this.speaker?.camera ? "关闭摄像头和麦克风" : "关闭麦克风") : toggle.dataset.label || "";
    toggle.classList.toggle("btn-primary", !on);
    toggle.classList.toggle("btn-warn", on);
    toggle.disabled = state === "starting";
    document.body.dataset.speaking = state === "on" ? "1" : "0";
    this.view.hold(on);
    let text = message || {
      off: "麦克风已关闭",
      starting: "正在连接…",
      on: this.speaker?.camera ? "正在直播您的画面和声音" : "正在发言，全场可以听到您的声音",
      error: "发言未能开启",
    }[state];
    if (state === "on" && this.youAreMuted) text = "您已被禁言，您的声音不会被他人听到";
    if (state === "error") text = `发言未能开启：${message}`;
    words.textContent = text;
    words.dataset.tone = state === "error" ? "bad" : state === "on" ? "ok" : "";
  }

  /**
   * @param {import("./hallmedia.js").BroadcastState} state
   * @param {string} message
   */
  showState(state, message) {
    const [text, tone] = STATE_WORDS[state];
    const pill = $("#live-state");
    pill.textContent = text;
    pill.className = `pill ${tone}`;
    pill.title = message;
    if (state !== "live") {
      $("#live-screen-placeholder").textContent = message || "开标直播未开始";
    }
    this.onLive(state === "live");
  }
}
