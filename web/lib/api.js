// @ts-check
// Calls to the server's REST API as this page's bearer (session.js): the JSON answer, or an
// ApiError whose message is the refusal in Chinese (the problem JSON's `detail`).

import { problemText } from "./errors.js";
import { api } from "./session.js";

/** A refused request: `message` is for the page, `status` and `detail` are the server's. */
export class ApiError extends Error {
  /**
   * @param {string} message
   * @param {number} status
   * @param {{ detail?: string, code?: string } | null | undefined} problem
   */
  constructor(message, status, problem) {
    super(message);
    this.status = status;
    this.detail = problem?.detail || "";
    this.code = problem?.code || "";
  }
}

/**
 * The JSON body of an answer; {} when it has none (or none that parses).
 * @param {Response} response
 * @returns {Promise<any>}
 */
export function answerOf(response) {
  return response.json().catch(() => ({}));
}

/**
 * Call the API; resolve to its JSON answer, or throw an ApiError saying why in Chinese.
 * `json` is sent as a JSON body, `body` as it is (with its `headers`, e.g. a PDF). A refusal
 * without a `detail` reads "<what>（<status>）".
 * @param {string} path
 * @param {{ method?: string, json?: unknown, body?: BodyInit, headers?: Record<string, string>, what?: string }} [options]
 * @returns {Promise<any>}
 */
export async function requestJson(path, { method = "GET", json, body, headers = {}, what = "请求失败" } = {}) {
  /** @type {RequestInit & { headers: Record<string, string> }} */
  const init = { method, headers: { ...headers }, body };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  const response = await api(path, init);
  const answer = await answerOf(response);
  if (!response.ok) {
    throw new ApiError(problemText(answer, response.status, what), response.status, answer);
  }
  return answer;
}
