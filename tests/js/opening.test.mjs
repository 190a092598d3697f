// What the bid opening's pages share: the countdown on the server's clock, the opening fields
// checked as the server checks them, what happened in Chinese, and the statement to sign.
process.env.TZ = "America/New_York";

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  clockOffset, countdownTarget, describeHappened, fieldValue, fieldValues, formatCountdown, happenedTone,
  moneyPreview, recordStatement, STATUS_LABELS, sizeText, unitOf,
} from "../../web/lib/opening.js";

const PRICE = { name: "price", label: "投标报价", kind: "money", unit: "元" };
const DAYS = { name: "duration_days", label: "工期", kind: "integer", unit: "日历天" };
const RATE = { name: "rate", label: "下浮率", kind: "decimal", unit: "%" };
const QUALITY = { name: "quality", label: "质量标准", kind: "text", unit: "" };
const names = /** @type {Record<string, string>} */ ({ b1: "辽宁甲建设集团有限公司", b2: "沈阳乙市政工程有限公司" });
const nameOf = (/** @type {string} */ id) => names[id] || id;

test("the countdown shows hours, minutes and seconds, days beyond a day, and stops at zero", () => {
  assert.equal(formatCountdown(3723_000), "01:02:03");
  assert.equal(formatCountdown(59_001), "00:01:00"); // a part of a second counts as one
  assert.equal(formatCountdown(1), "00:00:01");
  assert.equal(formatCountdown(0), "00:00:00");
  assert.equal(formatCountdown(-5000), "00:00:00");
  assert.equal(formatCountdown((3 * 86400 + 3600 + 62) * 1000), "3天 01:01:02");
});

test("the countdown runs on the server's clock: the offset of a view's server time", () => {
  const received = Date.parse("2026-06-18T01:29:00Z");
  assert.equal(clockOffset("2026-06-18T01:30:00+00:00", received), 60_000);
  assert.equal(clockOffset("2026-06-18T09:28:00+08:00", received), -60_000);
  assert.equal(clockOffset("not a time", received), 0);
});

test("it counts to the deadline before it, to the time limit during decryption, else to nothing", () => {
  const view = { deadline: "2026-06-18T01:30:00+00:00", decryption_until: null };
  assert.deepEqual(countdownTarget({ ...view, phase: "scheduled" }), { label: "距投标截止", until: view.deadline });
  assert.deepEqual(countdownTarget({ ...view, phase: "submission" }), { label: "距投标截止", until: view.deadline });
  assert.equal(countdownTarget({ ...view, phase: "published" }), null);
  const until = "2026-06-18T02:10:00+00:00";
  assert.deepEqual(countdownTarget({ ...view, phase: "decryption", decryption_until: until }), { label: "距解密截止", until });
  assert.equal(countdownTarget({ ...view, phase: "read_out", decryption_until: until }), null);
});

test("opening fields are read as the envelope carries them: money as text, integers as numbers", () => {
  assert.equal(fieldValue(PRICE, " 12345678.90 "), "12345678.90");
  assert.equal(fieldValue(DAYS, "365"), 365);
  assert.equal(fieldValue(RATE, "-3.125"), "-3.125");
  assert.equal(fieldValue(QUALITY, " 合格 "), "合格");
  assert.deepEqual(fieldValues([PRICE, DAYS], { price: "11800000", duration_days: "300" }), {
    values: { price: "11800000", duration_days: 300 }, errors: {},
  });
});

test("a wrong field is refused before anything is sealed, with the server's reason", () => {
  assert.throws(() => fieldValue(PRICE, "1,000"), { message: "“投标报价”：金额格式不正确：只能是不带正负号和千位分隔符的数字，最多两位小数，如 1234567.89" });
  assert.throws(() => fieldValue(PRICE, "1.234"), { message: "“投标报价”：金额最多两位小数（到分）" });
  assert.throws(() => fieldValue(PRICE, ""), { message: "“投标报价”：金额不能为空" });
  assert.throws(() => fieldValue(DAYS, "12.5"), { message: "“工期”应为 0 至 1000000000 的整数" });
  assert.throws(() => fieldValue(DAYS, "1000000001"), /0 至 1000000000/);
  assert.throws(() => fieldValue(RATE, "1e3"), { message: "“下浮率”应为不超过六位小数的十进制数" });
  assert.throws(() => fieldValue(QUALITY, "  "), { message: "“质量标准”应为 1 至 200 个字符" });
  const { values, errors } = fieldValues([PRICE, DAYS], { price: "abc" });
  assert.deepEqual(values, {});
  assert.deepEqual(Object.keys(errors), ["price", "duration_days"]);
});

test("a price being typed is shown in figures and capitals, or not at all", () => {
  assert.deepEqual(moneyPreview("12345678.9"), { figures: "¥12,345,678.90", capitals: "壹仟贰佰叁拾肆万伍仟陆佰柒拾捌元玖角" });
  assert.equal(moneyPreview("12,345"), null);
  assert.equal(unitOf(PRICE), "");
  assert.equal(unitOf(DAYS), "日历天");
});

test("a file's size reads in bytes, KB or MB", () => {
  assert.equal(sizeText(512), "512 字节");
  assert.equal(sizeText(39117), "38.2 KB");
  assert.equal(sizeText(13107200), "12.5 MB");
});

test("what happened reads as a sentence in Chinese, with the bidders' names and Beijing time", () => {
  const say = (/** @type {string} */ kind, /** @type {Record<string, any>} */ data) => describeHappened({ kind, data }, nameOf);
  assert.equal(say("decryption_opened", { minutes: 30, until: "2026-06-18T02:00:00+00:00" }), "开始解密，时限 30 分钟，至 10:00:00");
  assert.equal(say("deadline_passed", { submitted: [{}, {}, {}], failed: null }), "投标截止，共 3 家投标人递交了投标文件");
  assert.equal(
    say("decryption_failure_handled", { bidder: "b2", decision: "accepted", handling: "使用备份文件" }),
    "主持人处理 沈阳乙市政工程有限公司 的解密失败：认可，投标有效（使用备份文件）",
  );
  assert.equal(say("bid_decryption_failed", { bidder: "b1", reason: "密钥不对" }), "辽宁甲建设集团有限公司 的投标文件解密失败：密钥不对");
  assert.equal(say("speaker_muted", { participant: "b1", reason: "发言与开标无关" }), "辽宁甲建设集团有限公司 被禁言：发言与开标无关");
  assert.equal(say("objection_answered", { objection: 1, answer: "依据招标文件" }), "第 1 号异议已答复：依据招标文件");
  assert.equal(say("incident_opened", { incident: 2, kind: "platform", description: "直播中断" }), "第 2 号异常情况（平台故障）：直播中断");
  assert.equal(say("record_signed", { role: "witness" }), "见证人签署开标记录表");
  assert.equal(say("notice", { text: "请保持网络畅通" }), "请保持网络畅通");
  assert.equal(say("public_viewing_changed", { public: true }), "主持人开放公开直播");
  assert.equal(say("public_viewing_changed", { public: false, reason: "现场秩序混乱" }), "主持人关闭公开直播：现场秩序混乱");
  assert.equal(say("something_new", {}), "something_new");
  assert.equal(happenedTone("opening_paused"), "warn");
  assert.equal(happenedTone("incident_opened"), "bad");
  assert.equal(happenedTone("notice"), "notice");
  assert.equal(STATUS_LABELS.failure_reported, "已报告解密失败");
});

test("the statement host and witness sign is the server's, line for line", () => {
  assert.equal(
    recordStatement("lot-1", "host-1", "a".repeat(64), "b".repeat(64)),
    `远程异地开标 开标记录表签署\nlot: lot-1\nsigner: host-1\nrecord-sha256: ${"a".repeat(64)}\nrecord-sm3: ${"b".repeat(64)}`,
  );
});
