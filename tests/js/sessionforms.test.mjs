// What the console refuses before ending a session, re-reviewing it or giving a party a link,
// and how it says an ended session's fees.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  checkEndReason, checkPartyLink, checkReview, feeSummary, reviewLabel, ruleBrief, ruleText, yuan,
} from "../../web/lib/sessionforms.js";

const NOW = new Date("2026-12-07T04:00:00Z");
const TOMORROW = new Date("2026-12-08T01:00:00Z");
const RULE = { base_fen: 80000, hourly_fen: 10000, included_hours: 4 };

test("a forced end needs its reason, at most 500 characters", () => {
  assert.equal(checkEndReason("专家未能到齐，改期评标"), null);
  assert.deepEqual(checkEndReason("  "), { field: "reason", message: "请填写结束原因" });
  assert.deepEqual(checkEndReason("因".repeat(501)), { field: "reason", message: "结束原因不能超过 500 个字" });
});

test("a re-review needs a start not yet past, a reason, and a venue when held together", () => {
  const remote = { start: TOMORROW, reason: "投标人提出异议", together: false, venue_id: "" };
  assert.equal(checkReview(remote, NOW), null);
  assert.equal(checkReview({ ...remote, together: true, venue_id: "v1" }, NOW), null);
  assert.deepEqual(checkReview({ ...remote, start: null }, NOW),
    { field: "start_date", message: "请填写复议的开始日期和时间" });
  assert.deepEqual(checkReview({ ...remote, start: new Date("2026-12-07T03:45:00Z") }, NOW),
    { field: "start_date", message: "复议的开始时间已过，请选择今后的时间" });
  assert.deepEqual(checkReview({ ...remote, together: true }, NOW),
    { field: "venue_id", message: "请选择集中复议的评标室" });
  assert.deepEqual(checkReview({ ...remote, reason: "" }, NOW), { field: "reason", message: "请填写复议原因" });
});

test("a party's link names a tenderer or bidder and lasts 1 to 365 whole days", () => {
  const bidder = { role: "bidder", name: "某建设集团有限公司", ttl_days: "30" };
  assert.equal(checkPartyLink(bidder), null);
  assert.equal(checkPartyLink({ ...bidder, role: "tenderer", ttl_days: " 365 " }), null);
  assert.deepEqual(checkPartyLink({ ...bidder, role: "expert" }), { field: "role", message: "请选择招标人或投标人" });
  assert.deepEqual(checkPartyLink({ ...bidder, name: " " }), { field: "name", message: "请填写投标人名称" });
  assert.deepEqual(checkPartyLink({ ...bidder, role: "tenderer", name: "" }), { field: "name", message: "请填写招标人名称" });
  for (const days of ["", "0", "366", "1.5", "三十", "-3"]) {
    assert.deepEqual(checkPartyLink({ ...bidder, ttl_days: days }),
      { field: "ttl_days", message: "调阅期限应为 1 到 365 天的整数" }, days);
  }
});

test("fen are said in yuan with two decimals and thousands separated", () => {
  assert.equal(yuan(80000), "800.00");
  assert.equal(yuan(8550), "85.50");
  assert.equal(yuan(5), "0.05");
  assert.equal(yuan(0), "0.00");
  assert.equal(yuan(123456789), "1,234,567.89");
});

test("a fee rule in words, and the records' total", () => {
  assert.equal(ruleText(RULE), "800 元含 4 小时，超出后每小时 100 元（不足 1 小时按 1 小时计）");
  assert.equal(ruleBrief(RULE), "800 元含 4 小时，超出 100 元/小时");
  assert.equal(ruleBrief({ base_fen: 50050, hourly_fen: 0, included_hours: 3.5 }), "500.50 元含 3.5 小时");
  assert.equal(ruleText({ base_fen: 50050, hourly_fen: 0, included_hours: 3.5 }), "500.50 元含 3.5 小时，超出不另计");
  const records = [{ amount_fen: 80000, rule: RULE }, { amount_fen: 100000, rule: RULE }];
  assert.deepEqual(feeSummary(records), { count: 2, total_fen: 180000, total: "1,800.00 元", rules: [ruleText(RULE)] });
  assert.deepEqual(feeSummary([]), { count: 0, total_fen: 0, total: "0.00 元", rules: [] });
});

test("a lot's re-reviews are counted on its card", () => {
  assert.equal(reviewLabel(0), "复议");
  assert.equal(reviewLabel(1), "第 2 次复议");
});
