// The record's events as the console's activity table and the archive's timeline word them.
process.env.TZ = "UTC";

import assert from "node:assert/strict";
import { test } from "node:test";

import { describeEvent, describeEventBrief } from "../../web/lib/events.js";

const NAMES = { e1: "王建国", e2: "李淑珍", h1: "孙立新" };
const console_ = { name: (id) => NAMES[id] || id.slice(0, 8), seat: (key) => (key === "v1:1" ? "沈阳第一评标室 1号机位" : key) };

test("a ballot names who voted and how many have, never for whom", () => {
  const line = describeEvent({ seq: 1, kind: "workflow", at: "", data: { happened: "ballot_cast", details: { expert: "e1", voted: 2, of: 5 } } }, console_);
  assert.equal(line, "投票 · 王建国 · （2/5，投票内容保密）");
});

test("a leader drawn by lot shows the leader, the tally and the seed to verify", () => {
  const details = { expert: "e2", leader: "e1", tally: { e1: 2, e2: 2 }, abstained: 1, seed: "ab".repeat(32) };
  const line = describeEvent({ seq: 2, kind: "workflow", at: "", data: { happened: "leader_drawn", details } }, console_);
  assert.equal(line, `平票抽签产生组长 · 组长：王建国 · 票数：王建国 2，李淑珍 2 · 弃权 1 · 抽签种子 ${"ab".repeat(8)}…（可核验）`);
});

test("a warning names its kind, the seat and how long it lasted, in Chinese", () => {
  const event = { seq: 3, kind: "warning_ended", at: "", data: { kind: "seat_empty", seat: "v1:1", seconds: 61.6, reason: "cleared" } };
  assert.equal(describeEvent(event, console_), "预警解除 · 擅离职守：机位无人 · 沈阳第一评标室 1号机位 · 持续 62 秒 · 情况已消除");
});

test("the door's record says who went in, where and when, in Beijing time", () => {
  const event = { seq: 4, kind: "door_access", at: "", data: { venue_name: "沈阳第一评标室", name: "王建国", direction: "in", at: "2024-05-06T00:55:00Z" } };
  assert.equal(describeEvent(event, console_), "门禁记录 · 沈阳第一评标室 · 王建国 · 进入 · 08:55:00");
});

test("the archive's line names who acted, and nobody the viewer may not see", () => {
  const people = { h1: { name: "孙立新" } };
  const paused = { seq: 5, kind: "workflow", at: "", actor: "h1", data: { happened: "evaluation_paused", details: { reason: "网络中断" } } };
  assert.equal(describeEventBrief(paused, people), "暂停评审 · 网络中断");
  const note = { seq: 6, kind: "supervision_note", at: "", actor: "h1", data: { text: "请保持安静" } };
  assert.equal(describeEventBrief(note, people), "监督记录 · 请保持安静 · 孙立新");
  const elected = { seq: 7, kind: "workflow", at: "", data: { happened: "leader_elected", details: { expert: "e1", leader: "e1" } } };
  assert.equal(describeEventBrief(elected, people), "组长产生 · 组长：", "a party sees no expert's name");
});

test("the archive's line for an opening says what happened as the hall's log does, and who acted", () => {
  const people = { b1: { name: "辽宁建工集团有限公司" }, h1: { name: "何静" } };
  const raised = { seq: 8, kind: "opening", at: "", actor: "b1", data: { command: "raise_objection", happened: "objection_raised", details: { bidder: "b1", objection: 1, text: "唱标工期有误" } } };
  assert.equal(describeEventBrief(raised, people), "辽宁建工集团有限公司 提出异议（第 1 号）：唱标工期有误");
  const opened = { seq: 9, kind: "opening", at: "", actor: "h1", data: { command: "open_decryption", happened: "decryption_opened", details: { minutes: 30, until: "2024-05-06T02:30:00Z" } } };
  assert.equal(describeEventBrief(opened, people), "开始解密，时限 30 分钟，至 10:30:00 · 何静");
});

test("the archive's line for a clarification names the bidder, never the expert who asked", () => {
  const asked = { seq: 10, kind: "clarification", at: "", actor: "h1", data: { happened: "clarification_asked", number: 2, bidder: "b1", name: "辽宁建工集团有限公司", question: "请说明工期" } };
  assert.equal(describeEventBrief(asked, {}), "评标委员会向 辽宁建工集团有限公司 提出第 2 号澄清问题：请说明工期");
  const answered = { seq: 11, kind: "clarification", at: "", actor: "b1", data: { happened: "clarification_answered", number: 2, bidder: "b1", name: "辽宁建工集团有限公司", answer: "工期 180 天" } };
  assert.equal(describeEventBrief(answered, {}), "辽宁建工集团有限公司 答复第 2 号澄清问题：工期 180 天");
});
