// Requests over the socket: the server's answer, or an error with its code and a Chinese message.
import assert from "node:assert/strict";
import { test } from "node:test";

import { AckError, Backoff, TRANSIENT_CODES, ackRequester, refusalCode } from "../../web/lib/acks.js";

/** A socket whose acks are `answer(event, payload, timeoutMs)`. */
function fakeSocket(answer, connected = true) {
  const sent = [];
  return {
    connected,
    sent,
    timeout(ms) {
      return {
        emitWithAck: async (event, payload) => {
          sent.push({ event, payload, ms });
          return answer(event, payload);
        },
      };
    },
  };
}

test("an ok answer is returned as it came, with the deadline asked for", async () => {
  const socket = fakeSocket(() => ({ ok: true, seq: 7 }));
  const request = ackRequester(() => socket);
  assert.deepEqual(await request("note", { text: "记录" }, 3000), { ok: true, seq: 7 });
  assert.deepEqual(socket.sent, [{ event: "note", payload: { text: "记录" }, ms: 3000 }]);
});

test("a refusal carries the server's code and Chinese message", async () => {
  const socket = fakeSocket(() => ({ ok: false, error: { code: "not_your_room", message: "无权监督该场次" } }));
  await assert.rejects(ackRequester(() => socket)("watch", {}), (err) => {
    assert.ok(err instanceof AckError);
    assert.equal(err.code, "not_your_room");
    assert.equal(err.message, "无权监督该场次");
    return true;
  });
});

test("a refusal without a message says the page's own words, coded internal", async () => {
  const socket = fakeSocket(() => ({ ok: false }));
  await assert.rejects(ackRequester(() => socket, { errorText: "服务器返回错误" })("join", {}), {
    code: "internal", message: "服务器返回错误",
  });
});

test("a missed deadline is a timeout, which the pages retry", async () => {
  const socket = fakeSocket(() => { throw new Error("operation has timed out"); });
  await assert.rejects(ackRequester(() => socket, { timeoutText: "服务器响应超时，正在重试。" })("offer", {}), {
    code: "timeout", message: "服务器响应超时，正在重试。",
  });
  assert.ok(TRANSIENT_CODES.has("timeout"));
});

test("with a text for it, a request on a lost connection fails at once instead of waiting", async () => {
  const socket = fakeSocket(() => ({ ok: true }), false);
  await assert.rejects(ackRequester(() => socket, { disconnectedText: "与服务器的连接已中断，请稍候重试。" })("warn", {}), {
    code: "disconnected", message: "与服务器的连接已中断，请稍候重试。",
  });
  assert.equal(socket.sent.length, 0);
});

test("a refused connection's code is read from the server's data, a transport failure has none", () => {
  assert.equal(refusalCode(Object.assign(new Error("链接已被收回"), { data: { code: "link_revoked" } })), "link_revoked");
  assert.equal(refusalCode(new Error("websocket error")), null);
  assert.ok(!TRANSIENT_CODES.has("link_revoked"), "a revoked link is not retried");
});

test("the back-off doubles from one second to thirty, and starts again after a success", () => {
  const backoff = new Backoff();
  const waits = Array.from({ length: 7 }, () => backoff.next());
  assert.deepEqual(waits, [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  backoff.reset();
  assert.equal(backoff.next(), 1000);
});

test("one attempt is pending at a time, and a cancelled one never runs", async () => {
  const backoff = new Backoff(5, 10);
  let runs = 0;
  backoff.schedule(() => { runs += 1; });
  backoff.schedule(() => { runs += 100; });
  assert.ok(backoff.pending);
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(runs, 1);
  assert.ok(!backoff.pending);
  backoff.schedule(() => { runs += 1; });
  backoff.cancel();
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(runs, 1);
});
