// The Chinese words the pages show for what the server sends.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  EVENT_LABELS, KIND_LABELS, REASON_LABELS, ROLE_LABELS, WARNING_LABELS, WORKFLOW_LABELS,
  motionResult, reasonLabel, tieRuleText,
} from "../../web/lib/labels.js";

const CJK = /[\u4e00-\u9fff]/;

test("every label is Chinese text", () => {
  for (const table of [EVENT_LABELS, KIND_LABELS, REASON_LABELS, ROLE_LABELS, WARNING_LABELS, WORKFLOW_LABELS]) {
    for (const [code, label] of Object.entries(table)) assert.match(label, CJK, code);
  }
});

test("the seat's media are camera, microphone and screen", () => {
  assert.deepEqual(KIND_LABELS, { camera: "摄像头", microphone: "麦克风", desktop: "屏幕" });
});

test("a reason the server wrote is translated; words a person typed are kept", () => {
  assert.equal(reasonLabel("media_worker_lost"), "媒体进程中断");
  assert.equal(reasonLabel("ping timeout"), "网络超时");
  assert.equal(reasonLabel("专家身体不适"), "专家身体不适");
  assert.equal(reasonLabel("toString"), "toString", "only the table's own codes are translated");
});

test("the tie rule the host chose is said before the ballot", () => {
  assert.equal(tieRuleText({ tie_rule: "lot", max_rounds: 1 }), "票数相同时抽签决定");
  assert.equal(tieRuleText({ tie_rule: "revote", max_rounds: 3 }), "票数相同时重新投票，第 3 轮仍相同则抽签决定");
  assert.equal(tieRuleText({ max_rounds: 10 }), "票数相同时重新投票");
});

test("a closed motion reads its votes and abstentions, a withdrawn one why", () => {
  assert.equal(motionResult({ title: "是否复核", result: { 同意: 4, 不同意: 1 }, abstained: 2 }), "是否复核：同意 4，不同意 1，弃权 2");
  assert.equal(motionResult({ title: "是否复核", result: {}, cancelled: "议题有误" }), "是否复核：已撤销（议题有误）");
});
