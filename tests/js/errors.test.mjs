// What a person reads when something went wrong: in Chinese, the server's own words first.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";

import { ApiError, requestJson } from "../../web/lib/api.js";
import { mediaErrorText, messageOf, pageErrorText, problemText } from "../../web/lib/errors.js";

const realFetch = globalThis.fetch;
afterEach(() => {
  globalThis.fetch = realFetch;
});

/** Answer every fetch with `response`, and keep what was asked. */
function answerWith(response) {
  const calls = [];
  globalThis.fetch = async (url, init) => {
    calls.push({ url, init });
    return response;
  };
  return calls;
}

test("a refusal shows the server's problem detail; without one, what failed and the status", () => {
  assert.equal(problemText({ detail: "评审已暂停" }, 409), "评审已暂停");
  assert.equal(problemText({}, 502), "请求失败（502）");
  assert.equal(problemText(null, 500, "操作失败"), "操作失败（500）");
  assert.equal(problemText({}, null, "上传失败"), "上传失败");
});

test("an API call refused with problem JSON throws its Chinese detail, status and code", async () => {
  const body = JSON.stringify({ type: "about:blank", title: "not_your_room", status: 403, code: "not_your_room", detail: "无权查看该评标场次" });
  answerWith(new Response(body, { status: 403, headers: { "Content-Type": "application/problem+json" } }));
  await assert.rejects(requestJson("/api/sessions/s1/roster"), (err) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.message, "无权查看该评标场次");
    assert.equal(err.status, 403);
    assert.equal(err.code, "not_your_room");
    return true;
  });
});

test("an answer that is not JSON (a proxy's error page) still reads in Chinese", async () => {
  answerWith(new Response("<html>Bad Gateway</html>", { status: 502, headers: { "Content-Type": "text/html" } }));
  await assert.rejects(requestJson("/api/me", { what: "操作失败" }), { message: "操作失败（502）" });
});

test("a JSON body goes as JSON with the cookie, and the answer comes back parsed", async () => {
  const calls = answerWith(Response.json({ ok: true, state: { phase: "election" } }));
  const answer = await requestJson("/api/sessions/s1/workflow", { method: "POST", json: { kind: "pause", fields: { reason: "断网" } } });
  assert.deepEqual(answer, { ok: true, state: { phase: "election" } });
  const { url, init } = calls[0];
  assert.equal(url, "/api/sessions/s1/workflow");
  assert.equal(init.method, "POST");
  assert.equal(init.credentials, "same-origin");
  assert.equal(new Headers(init.headers).get("Content-Type"), "application/json");
  assert.deepEqual(JSON.parse(init.body), { kind: "pause", fields: { reason: "断网" } });
});

test("a camera or microphone the browser refused is explained in Chinese", () => {
  const refused = Object.assign(new Error("Permission denied"), { name: "NotAllowedError" });
  assert.equal(mediaErrorText(refused, "摄像头"), "摄像头未获授权，请允许浏览器使用摄像头。");
  assert.equal(mediaErrorText({ name: "NotFoundError" }, "麦克风"), "未找到可用的麦克风。");
  assert.equal(mediaErrorText({ name: "NotReadableError" }, "摄像头"), "摄像头被其他程序占用或无法打开。");
  assert.equal(mediaErrorText(new Error("boom"), "摄像头"), "摄像头无法使用：boom");
  assert.equal(mediaErrorText(null, "摄像头"), "摄像头无法使用：未知错误");
});

test("a page error names what was thrown", () => {
  assert.equal(pageErrorText(new Error("x is undefined")), "页面出现异常：x is undefined");
  assert.equal(pageErrorText("timeout"), "页面出现异常：timeout");
  assert.equal(messageOf(new TypeError("Failed to fetch")), "Failed to fetch");
});
