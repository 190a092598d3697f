// What the forms of projects, sessions, people and documents refuse before sending, and the
// centre's region code.
import assert from "node:assert/strict";
import { test } from "node:test";

import { checkCentre } from "../../web/lib/placeforms.js";
import {
  bookingFor, checkDocument, checkLot, checkPerson, checkProject, checkRevokeReason, checkSession, documentName,
  documentType, nextLotCode, sizeText,
} from "../../web/lib/projectforms.js";

const project = {
  centre_id: "c1", code: "LN-2026-0001", name: "某学校教学楼工程", tenderer: "某教育局",
  lots: [{ code: "01", name: "施工" }, { code: "02", name: "监理" }],
};

test("a centre's region code is six digits, the first 1 to 8, or left out", () => {
  const centre = { name: "沈阳市公共资源交易中心", city: "沈阳" };
  assert.equal(checkCentre({ ...centre, region_code: "210100" }, []), null);
  assert.equal(checkCentre({ ...centre, region_code: " " }, []), null);
  assert.equal(checkCentre(centre, []), null);
  for (const code of ["21010", "2101000", "010100", "91xxxx", "二一〇一〇〇"]) {
    assert.deepEqual(checkCentre({ ...centre, region_code: code }, []),
      { field: "region_code", message: "行政区划代码应为 6 位数字，如沈阳市 210100" }, code);
  }
});

test("a project needs its centre, a code of letters and digits, a name, a tenderer and lots", () => {
  assert.equal(checkProject(project), null);
  assert.equal(checkProject({ ...project, centre_id: "" })?.field, "centre_id");
  assert.deepEqual(checkProject({ ...project, code: "LN 2026" }),
    { field: "code", message: "项目编号只能由字母、数字和 . _ - 组成，最多 100 个字符" });
  assert.equal(checkProject({ ...project, name: " " })?.message, "请填写项目名称");
  assert.equal(checkProject({ ...project, tenderer: "" })?.message, "请填写招标人");
  assert.deepEqual(checkProject({ ...project, lots: [] }), { field: "add_lot", message: "请至少填写一个标段" });
});

test("each lot has a code no other lot of the project has, and a name", () => {
  const lots = [{ code: "01", name: "施工" }, { code: "01 ", name: "监理" }];
  assert.deepEqual(checkProject({ ...project, lots }),
    { field: "lot_code_1", message: "第 2 个标段的编号与第 1 个相同，同一项目的标段编号不能重复" });
  assert.deepEqual(checkProject({ ...project, lots: [{ code: "01", name: "" }] }),
    { field: "lot_name_0", message: "请填写第 1 个标段的名称" });
  assert.equal(checkProject({ ...project, lots: [{ code: "第一标段", name: "施工" }] })?.field, "lot_code_0");
});

test("a session needs a main venue, sub venues other than it, and a start", () => {
  const start = new Date("2026-12-15T01:00:00Z");
  assert.equal(checkSession({ main_venue_id: "v1", sub_venue_ids: ["v2"], start }), null);
  assert.equal(checkSession({ main_venue_id: "", sub_venue_ids: [], start })?.field, "main_venue_id");
  assert.equal(checkSession({ main_venue_id: "v1", sub_venue_ids: ["v1"], start })?.field, "sub_venues");
  assert.equal(checkSession({ main_venue_id: "v1", sub_venue_ids: [], start: null })?.field, "start_date");
});

test("a host or staff member is placed in a venue; a witness or supervisor need not be", () => {
  assert.equal(checkPerson({ role: "host", name: "张主持", venue_id: "v1" }), null);
  assert.equal(checkPerson({ role: "witness", name: "李见证", venue_id: "" }), null);
  assert.equal(checkPerson({ role: "ops", name: "赵运维", venue_id: "" }), null, "an ops engineer of every venue");
  assert.deepEqual(checkPerson({ role: "staff", name: "王工作", venue_id: "" }),
    { field: "venue_id", message: "主持人和工作人员须指定所在评标室" });
  assert.equal(checkPerson({ role: "expert", name: "专家", venue_id: "v1" })?.field, "role");
  assert.equal(checkPerson({ role: "host", name: "名".repeat(65), venue_id: "v1" })?.message, "姓名不能超过 64 个字");
  assert.equal(checkRevokeReason(" ")?.message, "请填写收回原因");
});

test("a document is of a type the record takes, by its name, not empty and at most 200 MB", () => {
  assert.equal(documentType("招标文件.PDF"), "application/pdf");
  assert.equal(documentType("合同.ofd"), "application/ofd");
  assert.equal(documentType("照片.jpeg"), "image/jpeg");
  assert.equal(documentType("报价.xls"), "");
  assert.equal(documentType("README"), "");
  assert.equal(documentName("某学校教学楼工程招标文件.pdf"), "某学校教学楼工程招标文件");
  assert.equal(documentName(".pdf"), ".pdf");
  const file = { name: "招标文件.pdf", size: 2048 };
  assert.equal(checkDocument({ kind: "tender", name: "招标文件", file }), null);
  assert.equal(checkDocument({ kind: "", name: "招标文件", file })?.field, "kind");
  assert.equal(checkDocument({ kind: "tender", name: "招标文件", file: null })?.message, "请选择要上传的文件");
  assert.equal(checkDocument({ kind: "tender", name: "x", file: { name: "a.exe", size: 1 } })?.field, "file");
  assert.equal(checkDocument({ kind: "tender", name: "x", file: { ...file, size: 0 } })?.message, "文件为空");
  assert.equal(checkDocument({ kind: "tender", name: "x", file: { ...file, size: 201 * 1024 * 1024 } })?.message, "文件不能超过 200 MB");
  assert.equal(checkDocument({ kind: "tender", name: " ", file })?.field, "name");
});

test("sizes in bytes, KB or MB", () => {
  assert.equal(sizeText(512), "512 字节");
  assert.equal(sizeText(38 * 1024), "38 KB");
  assert.equal(sizeText(1.5 * 1024 * 1024), "1.5 MB");
});

test("a venue is ready for a lot's session when a booking for the lot holds its start", () => {
  const booking = (id, venue, lot, from, to, state = "active") =>
    ({ id, venue_id: venue, lot_id: lot, state, starts_at: from, ends_at: to });
  const bookings = [
    booking("b1", "v1", "lot1", "2026-12-15T01:00:00Z", "2026-12-15T04:00:00Z"),
    booking("b2", "v2", "lot2", "2026-12-15T01:00:00Z", "2026-12-15T04:00:00Z"),
    booking("b3", "v2", "lot1", "2026-12-15T01:00:00Z", "2026-12-15T04:00:00Z", "cancelled"),
  ];
  const nine = new Date("2026-12-15T01:00:00Z");
  assert.equal(bookingFor(bookings, "lot1", "v1", nine)?.id, "b1");
  assert.equal(bookingFor(bookings, "lot1", "v1", new Date("2026-12-15T04:00:00Z")), null, "its end is not in it");
  assert.equal(bookingFor(bookings, "lot1", "v2", nine), null, "another lot's, or cancelled");
});

test("one more lot needs a code none of the project's lots has, and a name", () => {
  assert.equal(checkLot({ code: "03", name: "设计" }, ["01", "02"]), null);
  assert.deepEqual(checkLot({ code: " 02 ", name: "设计" }, ["01", "02"]),
    { field: "code", message: "本项目已有标段 02，标段编号不能重复" });
  assert.deepEqual(checkLot({ code: "", name: "设计" }, []), { field: "code", message: "请填写标段编号" });
  assert.equal(checkLot({ code: "第三", name: "设计" }, [])?.field, "code");
  assert.deepEqual(checkLot({ code: "03", name: " " }, []), { field: "name", message: "请填写标段名称" });
});

test("a new lot's code begins as the number after the highest, as wide", () => {
  assert.equal(nextLotCode(["01", "02"]), "03");
  assert.equal(nextLotCode(["1", "2"]), "3");
  assert.equal(nextLotCode(["09", "A1"]), "10");
  assert.equal(nextLotCode(["99"]), "100");
  assert.equal(nextLotCode(["A", "B"]), "01");
  assert.equal(nextLotCode([]), "01");
});
