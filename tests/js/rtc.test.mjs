// The level meters (a seat's microphone, the wall's room sound) read the same scale; a page's
// ICE servers are renewed before their TURN credentials expire.
import assert from "node:assert/strict";
import { test } from "node:test";

import { IceServers, levelOf } from "../../web/lib/rtc.js";

const tone = (amplitude) => Float32Array.from({ length: 1024 }, (_, i) => amplitude * Math.sin((2 * Math.PI * i) / 32));

test("silence shows an empty bar, a full-scale square wave a full one", () => {
  assert.equal(levelOf(new Float32Array(1024)), 0);
  assert.equal(levelOf(Float32Array.from({ length: 1024 }, (_, i) => (i % 2 ? 1 : -1))), 1);
});

test("speech at about -30 dB fills half the bar; louder is fuller", () => {
  const rms = 10 ** (-30 / 20);
  const half = levelOf(tone(rms * Math.SQRT2));
  assert.ok(Math.abs(half - 0.5) < 0.01, String(half));
  assert.ok(levelOf(tone(0.5)) > half);
  assert.ok(levelOf(tone(0.0005)) < half);
});

/** Timers that run when the test says. */
function fakeTimers() {
  const pending = new Map();
  let next = 1;
  return {
    pending,
    setTimeout: (fn, ms) => {
      pending.set(next, { fn, ms });
      return next++;
    },
    clearTimeout: (id) => pending.delete(id),
    /** Run the one pending timer; its delay. */
    fire() {
      assert.equal(pending.size, 1, "one renewal is scheduled");
      const [[id, { fn, ms }]] = pending;
      pending.delete(id);
      fn();
      return ms;
    },
  };
}

/** A peer connection as far as the renewal touches it. */
function fakeConnection(state = "connected") {
  return {
    connectionState: state,
    signalingState: "stable",
    config: { bundlePolicy: "max-bundle", iceServers: [] },
    getConfiguration() {
      return this.config;
    },
    setConfiguration(config) {
      this.config = config;
    },
  };
}

const turn = (username) => [{ urls: ["turn:turn.example.cn:3478"], username, credential: "c" }];

test("a grant's servers are renewed when it says, and every open connection is given the new ones", async () => {
  const timers = fakeTimers();
  const answers = [{ ice_servers: turn("2000:p"), ice_expires_at: 2000, ice_renew_in_s: 700 }];
  let asked = 0;
  const ice = new IceServers(async () => {
    asked += 1;
    return answers.shift() ?? null;
  }, timers);
  ice.adopt({ ice_servers: turn("1000:p"), ice_expires_at: 1000, ice_renew_in_s: 700 });
  assert.deepEqual(ice.servers, turn("1000:p"));
  const open = fakeConnection();
  const closed = fakeConnection("closed");
  ice.track(open);
  ice.track(closed);
  assert.equal(timers.fire(), 700_000);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(asked, 1);
  assert.deepEqual(ice.servers, turn("2000:p"));
  assert.deepEqual(open.config, { bundlePolicy: "max-bundle", iceServers: turn("2000:p") });
  assert.deepEqual(closed.config.iceServers, [], "a closed connection is left alone");
  // The next renewal is scheduled; one that fails is tried again half a minute later.
  assert.equal(timers.fire(), 700_000);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(asked, 2);
  assert.equal(timers.fire(), 30_000);
});

test("servers that never expire are not renewed, and a stopped page renews nothing", () => {
  const timers = fakeTimers();
  const ice = new IceServers(async () => assert.fail("not asked"), timers);
  ice.adopt({ ice_servers: [{ urls: ["stun:stun.example.cn"] }], ice_renew_in_s: null });
  assert.equal(timers.pending.size, 0);
  ice.adopt({ ice_servers: turn("1000:p"), ice_renew_in_s: 60 });
  assert.equal(timers.pending.size, 1);
  ice.stop();
  assert.equal(timers.pending.size, 0);
  ice.adopt({ ice_servers: turn("2000:p"), ice_renew_in_s: 60 });
  assert.equal(timers.pending.size, 0);
});
