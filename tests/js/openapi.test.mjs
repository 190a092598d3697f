// The API page's reading of the OpenAPI document: types and rules in Chinese, who may call.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ROLE_LABELS } from "../../web/lib/labels.js";
import { constraintText, fieldsOf, groupOperations, matches, typeText, whoMayCall } from "../../web/lib/openapi.js";

const DOC = {
  openapi: "3.1.0",
  info: { title: "t", version: "1" },
  paths: {
    "/api/sessions/{session_id}/end": {
      post: {
        operationId: "end_session_route", tags: ["sessions"], summary: "结束评标",
        "x-policy": { action: "session_end", roles: ["admin", "host"], reach: "session" },
      },
    },
    "/api/archive": { get: { operationId: "list_archives", tags: ["archive"], summary: "档案列表" } },
    "/healthz": { get: { operationId: "healthz", tags: ["pages"], "x-policy": { action: "health", roles: [], reach: "anyone" } } },
  },
};

test("types are said in Chinese, with lists, models and alternatives", () => {
  assert.equal(typeText({ type: "string" }), "文本");
  assert.equal(typeText({ type: "array", items: { type: "integer" } }), "列表（整数）");
  assert.equal(typeText({ $ref: "#/components/schemas/ExpertEntry" }), "对象（ExpertEntry）");
  assert.equal(typeText({ anyOf: [{ type: "string" }, { type: "null" }] }), "文本 或 空");
  assert.equal(typeText({ enum: ["lot", "revote"] }), '取值之一："lot"、"revote"');
});

test("constraints say lengths, ranges, patterns and defaults", () => {
  assert.equal(constraintText({ type: "string", minLength: 1, maxLength: 200 }), "长度 1–200");
  assert.equal(constraintText({ type: "integer", minimum: 5, maximum: 10, default: 7 }), "范围 5–10；默认 7");
  assert.equal(constraintText({ type: "string", pattern: "^[0-9]+$" }), "须匹配 ^[0-9]+$");
});

test("a model's fields keep their order, mark what is required and point to nested models", () => {
  const fields = fieldsOf({
    type: "object",
    required: ["experts"],
    properties: {
      experts: { type: "array", items: { $ref: "#/components/schemas/ExpertEntry" }, maxItems: 60 },
      note: { type: "string", description: "备注" },
    },
  });
  assert.deepEqual(fields.map((f) => [f.name, f.required, f.ref]), [["experts", true, "ExpertEntry"], ["note", false, null]]);
  assert.equal(fields[0].type, "列表（对象（ExpertEntry））");
  assert.equal(fields[1].notes, "备注");
});

test("who may call names the roles and how far their token reaches", () => {
  const ops = groupOperations(/** @type {any} */ (DOC));
  const end = ops.get("sessions")?.[0];
  assert.ok(end);
  assert.equal(whoMayCall(end.operation, ROLE_LABELS), "管理员、主持人（本场评标的凭证）");
  assert.equal(whoMayCall(ops.get("pages")?.[0].operation ?? { operationId: "x" }, ROLE_LABELS), "任何人");
});

test("operations are grouped by tag in name order and filtered by path or words", () => {
  const groups = groupOperations(/** @type {any} */ (DOC));
  assert.deepEqual([...groups.keys()], ["archive", "pages", "sessions"]);
  const end = groups.get("sessions")?.[0];
  assert.ok(end);
  assert.equal(end.method, "POST");
  assert.ok(matches(end, "结束"));
  assert.ok(matches(end, "/END"));
  assert.ok(!matches(end, "档案"));
});
