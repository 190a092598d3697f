// What the ops page says about a session's devices and connections, and in which colour.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  CAMERA_STATE_LABELS, MEDIA_STATE_LABELS, cameraTone, checkFault, checkHandling, lastedText, loadShare, mayDrain,
  seatTone, sessionStateText, sessionTone, trackChips, venueText, workerTone,
} from "../../web/lib/health.js";

const CJK = /[\u4e00-\u9fff]/;
const running = {
  live: true, paused: false, seats_online: 6, seats_expected: 6, cameras_down: 0, warnings: 0, incidents_open: 0,
};

test("a session is green when it runs as it should, grey before its room opens", () => {
  assert.deepEqual(sessionTone(running), { tone: "ok", text: "运行正常" });
  assert.deepEqual(sessionTone({ ...running, live: false, seats_online: 0 }), { tone: "idle", text: "评标室尚未开启" });
});

test("a session is amber while seats are missing or it is paused, red when anything is wrong", () => {
  assert.deepEqual(sessionTone({ ...running, seats_online: 4 }), { tone: "warn", text: "2 个机位未连接" });
  assert.deepEqual(sessionTone({ ...running, paused: true }), { tone: "warn", text: "评审已暂停" });
  assert.deepEqual(sessionTone({ ...running, warnings: 2, cameras_down: 1, incidents_open: 1 }),
    { tone: "bad", text: "设备预警 2 项，监控摄像头 1 个异常，故障处理中 1 项" });
  // A fault recorded before the room opened is still red: it is being handled.
  assert.equal(sessionTone({ ...running, live: false, incidents_open: 1 }).tone, "bad");
  assert.equal(sessionStateText(running), "评标中");
  assert.equal(sessionStateText({ live: true, paused: true }), "评标中 · 已暂停");
  assert.equal(sessionStateText({ live: false, paused: false }), "待开始");
});

test("a seat shows which of camera, microphone and desktop arrive; the preview is not one of them", () => {
  assert.deepEqual(trackChips(["camera", "desktop", "preview"]), [
    { kind: "camera", label: "摄像头", on: true },
    { kind: "microphone", label: "麦克风", on: false },
    { kind: "desktop", label: "桌面", on: true },
  ]);
});

test("a seat is grey offline, green with every track, amber missing one, red when its connection failed", () => {
  const all = ["camera", "microphone", "desktop", "preview"];
  assert.deepEqual(seatTone({ online: false, media_state: null, tracks: [] }), { tone: "idle", text: "离线" });
  assert.deepEqual(seatTone({ online: true, media_state: "connected", tracks: all }), { tone: "ok", text: "音视频正常" });
  assert.deepEqual(seatTone({ online: true, media_state: "connected", tracks: ["camera", "microphone"] }),
    { tone: "warn", text: "缺少桌面" });
  assert.deepEqual(seatTone({ online: true, media_state: "connecting", tracks: [] }), { tone: "warn", text: "正在接通" });
  assert.deepEqual(seatTone({ online: true, media_state: "failed", tracks: all }), { tone: "bad", text: "接通失败" });
  for (const label of Object.values(MEDIA_STATE_LABELS)) assert.match(label, CJK);
});

test("a room camera is green up, amber connecting, red down or with a bad address", () => {
  assert.deepEqual(cameraTone({ state: "up" }), { tone: "ok", text: "在线" });
  assert.deepEqual(cameraTone({ state: "connecting" }), { tone: "warn", text: "正在连接" });
  assert.deepEqual(cameraTone({ state: "down" }), { tone: "bad", text: "离线" });
  assert.deepEqual(cameraTone({ state: "invalid" }), { tone: "bad", text: "地址无效" });
  for (const label of Object.values(CAMERA_STATE_LABELS)) assert.match(label, CJK);
});

test("a worker's load is its share of the busiest worker's seats", () => {
  const workers = [{ seats: 6 }, { seats: 3 }, { seats: 0 }];
  assert.equal(loadShare(workers[0], workers), 1);
  assert.equal(loadShare(workers[1], workers), 0.5);
  assert.equal(loadShare({ seats: 0 }, [{ seats: 0 }]), 0, "no seats anywhere: an empty bar");
  assert.deepEqual(workerTone({ alive: true, draining: false }), { tone: "ok", text: "运行中" });
  assert.deepEqual(workerTone({ alive: true, draining: true }), { tone: "warn", text: "已迁出" });
  assert.deepEqual(workerTone({ alive: false, draining: false }), { tone: "bad", text: "已停止" });
});

test("only the province's ops engineers and administrators drain a running worker", () => {
  const worker = { alive: true, draining: false };
  assert.equal(mayDrain({ role: "ops" }, worker), true);
  assert.equal(mayDrain({ role: "admin", centre: null }, worker), true);
  assert.equal(mayDrain({ role: "ops", centre: { id: "c1" } }, worker), false, "a centre's ops engineer");
  assert.equal(mayDrain({ role: "ops", session: { id: "s1" } }, worker), false, "a session's ops engineer");
  assert.equal(mayDrain({ role: "host" }, worker), false);
  assert.equal(mayDrain({ role: "ops" }, { alive: true, draining: true }), false, "already draining");
  assert.equal(mayDrain({ role: "ops" }, { alive: false, draining: false }), false, "stopped");
});

test("how long a warning has lasted reads in minutes and hours", () => {
  const since = new Date("2026-05-06T02:00:00Z");
  const after = (/** @type {number} */ s) => new Date(since.getTime() + s * 1000);
  assert.equal(lastedText(since, after(20)), "刚刚");
  assert.equal(lastedText(since, after(12 * 60 + 5)), "12 分钟");
  assert.equal(lastedText(since, after(2 * 3600)), "2 小时");
  assert.equal(lastedText(since, after(2 * 3600 + 5 * 60)), "2 小时 5 分钟");
  assert.equal(lastedText(since, after(-30)), "刚刚", "a clock a little behind the server's");
});

test("an incident's venue is named with its kind", () => {
  const venues = [{ id: "v1", name: "沈阳第一评标室", kind: "main" }, { id: "v2", name: "大连第二评标室", kind: "sub" }];
  assert.equal(venueText(venues, "v2"), "副场 大连第二评标室");
  assert.equal(venueText(venues, "v9"), "（未知评标室）");
});

test("a platform fault needs its venue and what happened, at most 500 characters", () => {
  assert.equal(checkFault({ venue: "v1", description: "2号机位网络中断" }), null);
  assert.deepEqual(checkFault({ venue: "", description: "网络中断" }), { field: "venue", message: "请选择发生故障的评标室" });
  assert.deepEqual(checkFault({ venue: "v1", description: "  " }), { field: "description", message: "请填写故障现象" });
  assert.equal(checkFault({ venue: "v1", description: "断".repeat(501) })?.message, "故障现象不能超过 500 字");
  assert.equal(checkHandling("已更换网线"), null);
  assert.deepEqual(checkHandling(""), { field: "handling", message: "请填写处理情况" });
});
