// The level meters (a seat's microphone, the wall's room sound) read the same scale.
import assert from "node:assert/strict";
import { test } from "node:test";

import { levelOf } from "../../web/lib/rtc.js";

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
