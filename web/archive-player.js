// @ts-check
// Synchronized playback of archived tracks (同步回放).
//
// Every track is placed on one time axis: seconds since the start of the recording, taken from
// the wall-clock span the recorder wrote for each segment (segments start at media time 0, so a
// segment is appended to its track's Media Source at timestampOffset = wall_start - t0). A gap
// between segments stays unbuffered and is shown as such. One clock drives all tracks: each
// element follows it (re-seeking when it drifts more than SYNC_TOLERANCE_S), and pauses where
// its track has no recording, so a gap in one track never stops the others.
//
// WebM segments (VP8 video, Opus audio) go through Media Source Extensions; H.264 room-camera
// segments (fragmented MP4) are played one file at a time.

const SYNC_TOLERANCE_S = 0.08;
const AHEAD_S = 25; // segments fetched ahead of the playhead
const BEHIND_S = 30; // buffered media kept behind it
/**
 * An archived track and its segments, as the archive's session answer lists them.
 * @typedef {{ path: string, wall_start: number, wall_end: number, repaired?: boolean }} ArchivedSegment
 * @typedef {{ id: string, kind: string, label: string, codec: string, segments: ArchivedSegment[] }} ArchivedTrack
 * @typedef {ArchivedSegment & { from: number, to: number, damaged?: boolean }} Segment
 */

/** @type {Record<string, string>} */
const MIME = {
  vp8: 'video/webm; codecs="vp8"',
  opus: 'audio/webm; codecs="opus"',
};

/** One clock for every track: time in seconds since t0, at a speed of 1, 2 or 4. */
export class Clock {
  /** @param {number} duration */
  constructor(duration) {
    this.duration = duration;
    this.base = 0;
    /** @type {number | null} performance.now() when it started running */
    this.since = null;
    this.speed = 1;
  }

  get running() { return this.since !== null; }

  now() {
    if (this.since === null) return this.base;
    return Math.min(this.duration, this.base + ((performance.now() - this.since) / 1000) * this.speed);
  }

  play() { if (this.since === null) this.since = performance.now(); }

  pause() { this.base = this.now(); this.since = null; }

  /** @param {number} t */
  seek(t) {
    this.base = Math.max(0, Math.min(this.duration, t));
    if (this.since !== null) this.since = performance.now();
  }

  /** @param {number} speed */
  setSpeed(speed) {
    this.base = this.now();
    if (this.since !== null) this.since = performance.now();
    this.speed = speed;
  }
}

/** One archived track in one media element, kept on the clock's time. */
export class TrackPlayer {
  /**
   * @param {HTMLMediaElement} element
   * @param {ArchivedTrack} track
   * @param {number} t0
   * @param {(path: string) => string} fileUrl
   * @param {HTMLElement | null} [gapCover]
   * @param {((track: ArchivedTrack, segment: Segment) => void) | null} [onDamage]
   */
  constructor(element, track, t0, fileUrl, gapCover = null, onDamage = null) {
    this.element = element;
    this.onDamage = onDamage || (() => {});
    this.track = track;
    this.t0 = t0;
    this.fileUrl = fileUrl;
    this.gapCover = gapCover;
    /** @type {Segment[]} */
    this.segments = track.segments.map((s) => ({ ...s, from: s.wall_start - t0, to: s.wall_end - t0 }));
    /** @type {Set<string>} */
    this.loaded = new Set();
    /** @type {Promise<void> | null} */
    this.loading = null;
    this.mime = MIME[track.codec];
    this.mse = Boolean(this.mime) && window.MediaSource && MediaSource.isTypeSupported(this.mime);
    /** @type {Segment | null} the segment shown, for files played one at a time */
    this.current = null;
    /** @type {MediaSource | null} */
    this.source = null;
    /** @type {SourceBuffer | null} */
    this.buffer = null;
    this.ready = this.mse ? this.openSource() : Promise.resolve();
  }

  /** @returns {Promise<void>} */
  openSource() {
    return new Promise((resolve) => {
      const source = new MediaSource();
      this.source = source;
      this.element.src = URL.createObjectURL(source);
      source.addEventListener("sourceopen", () => {
        this.buffer = source.addSourceBuffer(this.mime);
        this.buffer.mode = "segments";
        resolve();
      }, { once: true });
    });
  }

  /**
   * The segment that holds time t (seconds on the clock), if any.
   * @param {number} t
   */
  segmentAt(t) {
    return this.segments.find((s) => s.from <= t && t < s.to) || null;
  }

  /**
   * Fetch and append the segments around t (one append at a time: MSE wants that).
   * @param {number} t
   * @returns {Promise<void>}
   */
  async fill(t) {
    if (!this.mse) return;
    await this.ready;
    if (this.loading) return this.loading;
    const wanted = this.segments.filter((s) => s.to > t - 1 && s.from < t + AHEAD_S && !this.loaded.has(s.path));
    if (!wanted.length) return;
    this.loading = (async () => {
      try {
        for (const segment of wanted.sort((a, b) => Math.abs(a.from - t) - Math.abs(b.from - t))) {
          const response = await fetch(this.fileUrl(segment.path));
          if (!response.ok) { this.damaged(segment); this.loaded.add(segment.path); continue; }
          const data = await response.arrayBuffer();
          await this.append(segment, data);
          this.loaded.add(segment.path);
        }
        await this.trim(t);
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }

  /**
   * @param {Segment} segment
   * @param {ArrayBuffer} data
   * @returns {Promise<void>}
   */
  append(segment, data) {
    const buffer = /** @type {SourceBuffer} */ (this.buffer);
    return new Promise((resolve) => {
      const done = () => { buffer.removeEventListener("error", failed); resolve(); };
      const failed = () => { this.damaged(segment); buffer.removeEventListener("updateend", done); resolve(); };
      buffer.addEventListener("updateend", done, { once: true });
      buffer.addEventListener("error", failed, { once: true });
      try {
        buffer.timestampOffset = segment.from;
        buffer.appendBuffer(data);
      } catch {
        // A segment the browser cannot take (damaged): the rest of the track still plays.
        this.damaged(segment);
        buffer.removeEventListener("updateend", done);
        buffer.removeEventListener("error", failed);
        resolve();
      }
    });
  }

  /** A segment that cannot be fetched or decoded: shown as damage, the rest plays on. */
  /** @param {Segment} segment */
  damaged(segment) {
    if (segment.damaged) return;
    segment.damaged = true;
    this.onDamage(this.track, segment);
  }

  /** @param {number} t */
  async trim(t) {
    const buffer = /** @type {SourceBuffer} */ (this.buffer);
    const old = this.segments.filter((s) => s.to < t - BEHIND_S && this.loaded.has(s.path));
    if (!old.length || buffer.updating) return;
    const end = Math.max(...old.map((s) => s.to));
    await new Promise((resolve) => {
      buffer.addEventListener("updateend", resolve, { once: true });
      buffer.remove(0, end);
    });
    for (const s of old) this.loaded.delete(s.path);
  }

  /**
   * Whether the element has media for time t buffered now.
   * @param {number} t
   */
  buffered(t) {
    const ranges = this.element.buffered;
    for (let i = 0; i < ranges.length; i += 1) {
      if (ranges.start(i) - 0.05 <= t && t <= ranges.end(i)) return true;
    }
    return false;
  }

  /**
   * Follow the clock: show time t, playing at `speed` if `playing`.
   * @param {number} t
   * @param {boolean} playing
   * @param {number} speed
   */
  follow(t, playing, speed) {
    const segment = this.segmentAt(t);
    if (this.gapCover) this.gapCover.hidden = Boolean(segment);
    this.element.dataset.gap = segment ? "0" : "1";
    if (!segment) {
      if (!this.element.paused) this.element.pause();
      this.fill(t);
      return;
    }
    if (!this.mse) return this.followFile(segment, t, playing, speed);
    this.fill(t);
    if (!this.buffered(t)) {
      if (!this.element.paused) this.element.pause();
      return;
    }
    if (Math.abs(this.element.currentTime - t) > SYNC_TOLERANCE_S * Math.max(1, speed)) {
      this.element.currentTime = t;
    }
    this.element.playbackRate = speed;
    if (playing && this.element.paused) this.element.play().catch(() => {});
    if (!playing && !this.element.paused) this.element.pause();
  }

  /**
   * @param {Segment} segment
   * @param {number} t
   * @param {boolean} playing
   * @param {number} speed
   */
  followFile(segment, t, playing, speed) {
    if (this.current !== segment) {
      this.current = segment;
      this.element.src = this.fileUrl(segment.path);
    }
    const local = t - segment.from;
    if (Math.abs(this.element.currentTime - local) > SYNC_TOLERANCE_S * Math.max(1, speed)) {
      this.element.currentTime = local;
    }
    this.element.playbackRate = speed;
    if (playing && this.element.paused) this.element.play().catch(() => {});
    if (!playing && !this.element.paused) this.element.pause();
  }

  /**
   * Seek exactly to t and resolve once the element shows it (or has nothing there).
   * @param {number} t
   */
  async settle(t) {
    this.element.pause();
    if (!this.segmentAt(t)) {
      if (this.gapCover) this.gapCover.hidden = false;
      this.element.dataset.gap = "1";
      return;
    }
    if (this.gapCover) this.gapCover.hidden = true;
    this.element.dataset.gap = "0";
    if (this.mse) {
      await this.fill(t);
      while (this.loading) await this.loading;
    } else {
      this.followFile(/** @type {Segment} */ (this.segmentAt(t)), t, false, 1);
    }
    const target = this.mse ? t : t - /** @type {Segment} */ (this.current).from;
    await /** @type {Promise<void>} */ (new Promise((resolve) => {
      const ok = () => resolve();
      this.element.addEventListener("seeked", ok, { once: true });
      this.element.currentTime = target;
      setTimeout(ok, 3000); // a damaged segment never seeks: do not hang the page
    }));
  }

  detach() {
    this.element.pause();
    this.element.removeAttribute("src");
    this.element.load();
  }
}

/** Tracks on one clock, driven by requestAnimationFrame. */
export class SyncPlayer {
  /** @param {number} duration @param {(t: number) => void} onTick */
  constructor(duration, onTick) {
    this.clock = new Clock(duration);
    /** @type {Map<string, TrackPlayer>} slot → TrackPlayer */
    this.tracks = new Map();
    this.onTick = onTick;
    /** @type {number | null} */
    this.frame = null;
  }

  /** @param {string} slot @param {TrackPlayer | null} player */
  set(slot, player) {
    const old = this.tracks.get(slot);
    if (old) old.detach();
    if (player) this.tracks.set(slot, player); else this.tracks.delete(slot);
    if (player) player.follow(this.clock.now(), this.clock.running, this.clock.speed);
  }

  play() {
    if (this.clock.now() >= this.clock.duration) this.clock.seek(0);
    this.clock.play();
    this.loop();
  }

  pause() {
    this.clock.pause();
    for (const p of this.tracks.values()) p.follow(this.clock.now(), false, this.clock.speed);
    this.onTick(this.clock.now());
  }

  /** @param {number} speed */
  setSpeed(speed) { this.clock.setSpeed(speed); }

  /**
   * Move every track to t; resolves when each shows it (for a paused player and for tests).
   * @param {number} t
   */
  async seek(t) {
    this.clock.seek(t);
    const wasRunning = this.clock.running;
    if (wasRunning) this.clock.pause();
    await Promise.all([...this.tracks.values()].map((p) => p.settle(this.clock.now())));
    this.onTick(this.clock.now());
    if (wasRunning) this.play();
  }

  loop() {
    if (this.frame !== null) return;
    const step = () => {
      const t = this.clock.now();
      for (const p of this.tracks.values()) p.follow(t, this.clock.running, this.clock.speed);
      this.onTick(t);
      if (t >= this.clock.duration) this.clock.pause();
      this.frame = this.clock.running ? requestAnimationFrame(step) : null;
    };
    this.frame = requestAnimationFrame(step);
  }
}
