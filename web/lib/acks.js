// @ts-check
// Requests over the page's Socket.IO connection: an emit answered by an ack within a deadline,
// errors with the server's code and a Chinese message, the codes worth retrying, and the
// back-off of a page that starts over. Pure: it is handed the socket, and imports nothing.

/** Refusals that may go away by themselves: retried. Every other code ends the page. */
// "moved": the page is being sent on to the node of its room (lib/socket.js).
export const TRANSIENT_CODES = new Set(["internal", "timeout", "server_busy", "shutting_down", "unavailable", "media_unavailable", "moved"]);
export const ACK_TIMEOUT_MS = 10000;
export const RETRY_MIN_MS = 1000;
export const RETRY_MAX_MS = 30000;

/** @typedef {import("./wire").Ack} Ack */

/**
 * What the page needs of a Socket.IO socket to send requests (its `emitWithAck` under a deadline).
 * @typedef {{ connected: boolean, timeout(ms: number): { emitWithAck(event: string, payload: unknown): Promise<Ack> } }} AckSocket
 */

/** An error answer: the server's `code` and Chinese `message`, or the page's own. */
export class AckError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.code = code;
  }

  /**
   * From an ack {ok: false, error: {code, message}} (or one with the code and message at the top).
   * @param {Ack | null | undefined} answer
   * @param {string} fallback
   */
  static from(answer, fallback) {
    const e = (answer && (answer.error || answer)) || {};
    return new AckError(e.code || "internal", e.message || fallback);
  }
}

/**
 * The code of a refused connection (`connect_error` with data from the server), else null.
 * @param {Error & { data?: { code?: string } }} err
 * @returns {string | null}
 */
export function refusalCode(err) {
  return err?.data?.code || null;
}

/**
 * A request function for the page's socket: `request(event, payload, timeoutMs)` resolves to
 * the ok answer and throws an AckError otherwise. The texts are the page's: what a missed
 * deadline says, what an error without a message says and, if given, what is said at once
 * when the socket is not connected (without it the emit waits for the connection).
 * @param {() => AckSocket | null} getSocket
 * @param {{ timeoutText?: string, errorText?: string, disconnectedText?: string | null }} [texts]
 * @returns {(event: string, payload: unknown, timeoutMs?: number) => Promise<Ack>}
 */
export function ackRequester(getSocket, {
  timeoutText = "服务器响应超时，请稍后重试。",
  errorText = "服务器返回错误，请稍后重试。",
  disconnectedText = null,
} = {}) {
  return async function request(event, payload, timeoutMs = ACK_TIMEOUT_MS) {
    const socket = getSocket();
    if (!socket || (disconnectedText !== null && !socket.connected)) {
      throw new AckError("disconnected", disconnectedText ?? timeoutText);
    }
    let answer;
    try {
      answer = await socket.timeout(timeoutMs).emitWithAck(event, payload);
    } catch {
      throw new AckError("timeout", timeoutText);
    }
    if (!answer?.ok) throw AckError.from(answer, errorText);
    return answer;
  };
}

/** Waits that double from `min` to `max` between attempts, and at most one attempt pending. */
export class Backoff {
  constructor(min = RETRY_MIN_MS, max = RETRY_MAX_MS) {
    this.min = min;
    this.max = max;
    this.delay = min;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.timer = null;
  }

  /** The wait before the next attempt; the one after is twice as long, up to `max`. */
  next() {
    const wait = this.delay;
    this.delay = Math.min(this.max, this.delay * 2);
    return wait;
  }

  /** Back to the shortest wait (after a success). */
  reset() {
    this.delay = this.min;
  }

  get pending() {
    return this.timer !== null;
  }

  /**
   * Run `attempt` after the next wait, unless one is pending already.
   * @param {() => void} attempt
   */
  schedule(attempt) {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      attempt();
    }, this.next());
  }

  /** Forget the pending attempt. */
  cancel() {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
