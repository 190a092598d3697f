// The copies of an archive as the archive page words them, in Beijing time.
process.env.TZ = "America/New_York";

import assert from "node:assert/strict";
import { test } from "node:test";

import { COPY_STATE_LABELS, copyLine, formatCheckTime } from "../../web/lib/copies.js";

const CJK = /[\u4e00-\u9fff]/;
const base = { verified_at: null, checked_at: null, copied_at: null, parts: 0, detail: "" };

test("every state has Chinese words", () => {
  for (const [state, label] of Object.entries(COPY_STATE_LABELS)) assert.match(label, CJK, state);
});

test("a check's time is Beijing's, to the minute", () => {
  assert.equal(formatCheckTime(new Date("2026-12-07T13:03:59Z")), "2026-12-07 21:03");
  assert.equal(formatCheckTime(new Date("2026-12-31T16:00:00Z")), "2027-01-01 00:00");
});

test("a verified replica says when; a failed one says so; a missing one that it is missing", () => {
  const verified = copyLine({
    ...base, location: "replica", state: "verified", verified_at: "2026-12-07T13:03:12+00:00",
    checked_at: "2026-12-07T13:03:12+00:00", copied_at: "2026-12-07T13:02:40+00:00", parts: 2,
  });
  assert.deepEqual(
    { text: verified.text, tone: verified.tone },
    { text: "副本 已校验 2026-12-07 21:03", tone: "ok" },
  );
  assert.equal(verified.title, "复制于 2026-12-07 21:02\n校验于 2026-12-07 21:03\n2 段");
  const failed = copyLine({
    ...base, location: "replica", state: "failed", verified_at: "2026-12-08T01:00:00+00:00",
    checked_at: "2026-12-08T01:00:00+00:00", detail: "part-0001/media/room-grid/000001.webm: SHA-256 and SM3 differ from the manifest",
  });
  assert.equal(failed.text, "副本 校验失败 2026-12-08 09:00");
  assert.equal(failed.tone, "bad");
  assert.match(failed.title, /000001\.webm/);
  const away = copyLine({ ...base, location: "replica", state: "copy_failed", checked_at: "2026-12-08T01:00:00+00:00", detail: "not mounted" });
  assert.equal(away.text, "副本 复制失败 2026-12-08 09:00");
  assert.equal(copyLine({ ...base, location: "replica", state: "missing" }).text, "副本 未复制");
  assert.equal(copyLine({ ...base, location: "primary", state: "unchecked" }).text, "主档 未校验");
  assert.equal(copyLine({ ...base, location: "primary", state: "unchecked" }).tone, "");
});
