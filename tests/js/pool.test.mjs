// The expert pool pasted or uploaded as CSV or JSON, read as the server takes it, and what is
// wrong with a row named by its line.
import assert from "node:assert/strict";
import { test } from "node:test";

import { csvRows, parsePool } from "../../web/lib/pool.js";

test("a CSV table with Chinese column names", () => {
  const text = "编号,姓名,身份证号,专业,城市,工作单位\nE001,张三,210102198001010011,建筑、造价,沈阳,某设计院\nE002,李四,,电气,大连,\n";
  const { experts, problems } = parsePool(text);
  assert.deepEqual(problems, []);
  assert.deepEqual(experts, [
    { external_id: "E001", name: "张三", id_number: "210102198001010011", specialties: ["建筑", "造价"], city: "沈阳", employer: "某设计院", active: true },
    { external_id: "E002", name: "李四", specialties: ["电气"], city: "大连", employer: "", active: true },
  ]);
});

test("English names, tabs, quoted cells, a BOM and Windows line ends", () => {
  const text = "\uFEFFexternal_id\tname\tspecialties\tcity\temployer\tactive\r\nE9\t王五\t\"建筑; 市政\"\t丹东\t\"某公司, 分公司\"\t否\r\n";
  const { experts, problems } = parsePool(text);
  assert.deepEqual(problems, []);
  assert.deepEqual(experts[0].specialties, ["建筑", "市政"]);
  assert.equal(experts[0].employer, "某公司, 分公司");
  assert.equal(experts[0].active, false);
  assert.deepEqual(csvRows('a,"b ""c""\nd",e\n\nf,g,h').map((r) => [r.line, r.cells]), [[1, ["a", 'b "c"\nd', "e"]], [4, ["f", "g", "h"]]]);
});

test("JSON: a list of experts, or an object with one", () => {
  const one = { external_id: "E1", name: "赵六", specialties: ["造价"], city: "沈阳" };
  assert.equal(parsePool(JSON.stringify([one])).experts[0].name, "赵六");
  assert.equal(parsePool(JSON.stringify({ experts: [one] })).experts.length, 1);
  assert.deepEqual(parsePool("{\"experts\": 3}").problems, ["JSON 应为专家列表，或含 experts 列表的对象"]);
  assert.deepEqual(parsePool("[{").problems, ["JSON 格式有误，无法读取"]);
  assert.deepEqual(parsePool(JSON.stringify([{ ...one, city: "" }])).problems, ["第 1 项：缺少所在城市"]);
});

test("what is wrong is said by line, and nothing is imported then", () => {
  const text = "编号,姓名,专业,城市\nE1,张三,建筑,沈阳\nE 2,李四,建筑,沈阳\nE3,,建筑,沈阳\nE1,王五,建筑,沈阳\nE4,赵六,,沈阳\n";
  const { experts, problems } = parsePool(text);
  assert.deepEqual(experts, []);
  assert.deepEqual(problems, [
    "第 3 行：专家编号“E 2”只能由字母、数字和 . _ - 组成",
    "第 4 行：缺少姓名",
    "第 5 行：专家编号 E1 与第 2 行重复",
    "第 6 行：缺少专业",
  ]);
  assert.match(parsePool("姓名,专业,城市\n张三,建筑,沈阳").problems[0], /^表头缺少“编号”列/);
  assert.deepEqual(parsePool("  ").problems, ["请粘贴或选择专家名单"]);
  assert.deepEqual(parsePool("编号,姓名,专业,城市\n").problems, ["名单中没有专家"]);
});
