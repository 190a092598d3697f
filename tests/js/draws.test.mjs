// A draw's published facts in words and figures, and the needs of an expert draw as the form
// checks them.
import assert from "node:assert/strict";
import { test } from "node:test";

import { conditionText, drawFacts, exclusionText, expertNeeds, listOf, poolFigures, verifiedText } from "../../web/lib/draws.js";

const facts = drawFacts(JSON.stringify({
  kind: "experts", subject: "lot1",
  pool: [
    { id: "a", attributes: { specialty: ["建筑"], city: ["沈阳"], employer: ["某建设集团"] } },
    { id: "b", attributes: { specialty: ["建筑", "造价"], city: ["大连"], employer: ["单位2"] } },
    { id: "c", attributes: { specialty: ["造价"], city: ["大连"], employer: ["单位3"] } },
    { id: "d", attributes: { specialty: ["建筑"], city: ["沈阳"], employer: ["单位4"] } },
  ],
  needs: [{ count: 1, conditions: { specialty: "建筑" }, label: "v1" }, { count: 1, conditions: { city: "大连", specialty: "造价" }, label: "v2" }],
  excluded_ids: ["d"],
  exclusions: { employer: ["某建设集团"] },
}));

test("the pool, who of it may be drawn, and who meets each need", () => {
  assert.deepEqual(poolFigures(facts), { pool: 4, eligible: 2, perNeed: [1, 2] });
});

test("conditions, exclusions and the check in words", () => {
  assert.equal(conditionText(facts.needs[1].conditions), "城市：大连，专业：造价");
  assert.equal(conditionText({}), "不限");
  assert.equal(conditionText({ province: "210000" }), "省级区划：210000");
  assert.equal(exclusionText(facts), "排除工作单位：某建设集团；排除 1 名已抽中或须回避的专家");
  assert.equal(verifiedText(true), "校验通过");
  assert.equal(verifiedText(false), "校验未通过");
  assert.equal(verifiedText(null), "待揭示");
  assert.deepEqual(listOf("某建设集团\n 某监理公司、某建设集团,\n"), ["某建设集团", "某监理公司"]);
});

test("the needs of an expert draw: a venue, 1 to 10 experts within its free seats", () => {
  const free = { v1: 5, v2: 2 };
  const rows = [
    { venue_id: "v1", count: "3", specialty: "建筑", city: "" },
    { venue_id: "v2", count: "2", specialty: " ", city: "大连" },
  ];
  assert.deepEqual(expertNeeds(rows, free), {
    needs: [{ venue_id: "v1", count: 3, specialty: "建筑" }, { venue_id: "v2", count: 2, city: "大连" }],
    problem: null,
  });
  assert.deepEqual(expertNeeds([...rows, { venue_id: "v2", count: "1", specialty: "", city: "" }], free).problem,
    { field: "need_count_2", message: "第 3 项：该评标室只剩 2 个空机位" });
  assert.equal(expertNeeds([{ ...rows[0], count: "0" }], free).problem?.field, "need_count_0");
  assert.equal(expertNeeds([{ ...rows[0], venue_id: "" }], free).problem?.message, "第 1 项：请选择评标室");
  assert.equal(expertNeeds([], free).problem?.field, "add_need");
});
