// What the console refuses before setting up a lot's bid opening, adding its bidders and
// people, or giving a trading centre its people; and how it says an opening's terms.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  addingBidders, benchmarkText, candidateList, checkBidder, checkCentrePerson, checkOpening, checkOpeningPerson,
  DEFAULT_FIELDS, fieldsText, freeName, linkDays, openingBody, openingLinkSeconds,
} from "../../web/lib/openingforms.js";

const NOW = new Date("2026-12-07T04:00:00Z");
const form = {
  venue_id: "v1",
  deadline: new Date("2026-12-08T01:30:00Z"),
  fields: DEFAULT_FIELDS.map((f) => ({ ...f })),
  min_bids: "3",
  decryption_minutes: "30",
  benchmark: [{ name: "param_1", label: "下浮率K", candidates: "1%、2%， 3%" }],
  public: false,
};

test("an opening needs its room, a deadline still ahead, and named fields", () => {
  assert.equal(checkOpening(form, NOW), null);
  assert.deepEqual(checkOpening({ ...form, venue_id: "" }, NOW), { field: "venue_id", message: "请选择开标室" });
  assert.equal(checkOpening({ ...form, deadline: null }, NOW)?.message, "请填写投标截止日期和时间");
  assert.deepEqual(checkOpening({ ...form, deadline: NOW }, NOW), { field: "deadline_date", message: "投标截止时间应晚于现在" });
  assert.equal(checkOpening({ ...form, fields: [] }, NOW)?.field, "add_field");
  const blank = [{ ...DEFAULT_FIELDS[0] }, { name: "field_1", label: " ", kind: "text", unit: "" }];
  assert.deepEqual(checkOpening({ ...form, fields: blank }, NOW), { field: "field_label_1", message: "请填写第 2 个开标字段的名称" });
  const twice = [{ ...DEFAULT_FIELDS[0] }, { name: "field_1", label: "投标报价 ", kind: "money", unit: "万元" }];
  assert.deepEqual(checkOpening({ ...form, fields: twice }, NOW),
    { field: "field_label_1", message: "第 2 个开标字段与第 1 个同名（投标报价）" });
  const many = Array.from({ length: 13 }, (_, i) => ({ name: `field_${i}`, label: `字段${i}`, kind: "text", unit: "" }));
  assert.equal(checkOpening({ ...form, fields: many }, NOW)?.message, "开标字段最多 12 个");
});

test("the fewest valid bids and the decryption time are whole numbers within the server's bounds", () => {
  for (const bad of ["0", "51", "2.5", "", "三"]) {
    assert.deepEqual(checkOpening({ ...form, min_bids: bad }, NOW),
      { field: "min_bids", message: "最少有效投标数应为 1 至 50 之间的整数" }, bad);
  }
  assert.equal(checkOpening({ ...form, decryption_minutes: "241" }, NOW)?.message, "解密时限应为 1 至 240 分钟之间的整数");
  assert.equal(checkOpening({ ...form, decryption_minutes: " 45 " }, NOW), null);
});

test("a benchmark parameter has a name and distinct candidate values", () => {
  const param = (label, candidates) => ({ ...form, benchmark: [{ name: "param_1", label, candidates }] });
  assert.deepEqual(checkOpening(param("下浮率K", " "), NOW),
    { field: "param_candidates_0", message: "请填写参数“下浮率K”的备选值，以顿号或逗号分隔" });
  assert.deepEqual(checkOpening(param("下浮率K", "1%、2%、1%"), NOW),
    { field: "param_candidates_0", message: "参数“下浮率K”的备选值“1%”重复" });
  assert.equal(checkOpening(param("", "1%"), NOW)?.field, "param_label_0");
  const two = { ...form, benchmark: [...form.benchmark, { name: "param_2", label: "下浮率K", candidates: "5%" }] };
  assert.equal(checkOpening(two, NOW)?.message, "第 2 个抽取参数与第 1 个同名（下浮率K）");
  assert.deepEqual(candidateList("1%、2%， 3%;4% 5%"), ["1%", "2%", "3%", "4%", "5%"]);
});

test("the body names each field and parameter, trims them and sends the deadline in Beijing time", () => {
  const body = openingBody(/** @type {any} */ (form), (d) => `${d.toISOString()}!`);
  assert.deepEqual(body, {
    venue_id: "v1",
    deadline: "2026-12-08T01:30:00.000Z!",
    fields: [
      { name: "price", label: "投标报价", kind: "money", unit: "元" },
      { name: "duration_days", label: "工期", kind: "integer", unit: "日历天" },
    ],
    min_bids: 3,
    decryption_minutes: 30,
    benchmark: [{ name: "param_1", label: "下浮率K", candidates: ["1%", "2%", "3%"] }],
    public: false,
  });
  assert.equal(freeName("field", ["field_1", "field_3"]), "field_2");
});

test("an opening's terms in words", () => {
  assert.equal(fieldsText([...DEFAULT_FIELDS, { name: "field_1", label: "质量标准", kind: "text", unit: "" }]),
    "投标报价（元）、工期（日历天）、质量标准");
  assert.equal(benchmarkText([]), "不抽取");
  assert.equal(benchmarkText([{ name: "k", label: "下浮率K", candidates: ["1%", "2%"] }]), "下浮率K（1%、2%）");
});

test("an opening's links last until a day after the deadline, a day to 30 days", () => {
  const day = 24 * 3600;
  assert.equal(openingLinkSeconds({ deadline: "2026-12-10T04:00:00Z" }, NOW), 3 * day + day);
  assert.equal(openingLinkSeconds({ deadline: "2026-12-07T03:00:00Z" }, NOW), day);
  assert.equal(openingLinkSeconds({ deadline: "2027-03-07T04:00:00Z" }, NOW), 30 * day);
});

test("bidders are added before the deadline only, each once, with a credit code of 18 when given", () => {
  const ahead = { phase: "scheduled", deadline: "2026-12-08T01:30:00Z" };
  assert.equal(addingBidders(ahead, NOW), true);
  assert.equal(addingBidders({ ...ahead, phase: "published" }, NOW), false);
  assert.equal(addingBidders({ ...ahead, deadline: "2026-12-07T03:00:00Z" }, NOW), false);
  const names = ["辽宁甲建设集团有限公司"];
  assert.equal(checkBidder({ name: "沈阳乙市政工程有限公司", credit_code: "91210100ma0xxxxx1a" }, names), null);
  assert.deepEqual(checkBidder({ name: "辽宁甲建设集团有限公司 ", credit_code: "" }, names),
    { field: "name", message: "投标人“辽宁甲建设集团有限公司”已在名单中" });
  assert.equal(checkBidder({ name: "某公司", credit_code: "9121" }, names)?.field, "credit_code");
  assert.equal(checkBidder({ name: " ", credit_code: "" }, names)?.message, "请填写投标人名称");
});

test("an opening's people and a centre's people", () => {
  assert.equal(checkOpeningPerson({ role: "witness", name: "钱见证" }), null);
  assert.equal(checkOpeningPerson({ role: "staff", name: "某人" })?.message, "请选择身份");
  assert.equal(checkOpeningPerson({ role: "tenderer", name: "" })?.message, "请填写单位名称");
  assert.equal(checkCentrePerson({ role: "ops", name: "李工", days: "30" }), null);
  assert.equal(checkCentrePerson({ role: "expert", name: "李工", days: "30" })?.field, "role");
  assert.deepEqual(checkCentrePerson({ role: "admin", name: "王伟", days: "400" }),
    { field: "days", message: "有效期应为 1 至 366 天之间的整数" });
  assert.equal(linkDays({ issued_at: "2026-12-01T00:00:00Z", expires_at: "2026-12-31T00:00:05Z" }), 30);
  assert.equal(linkDays({ issued_at: "2026-12-01T00:00:00Z", expires_at: "2028-12-31T00:00:00Z" }), 366);
});
