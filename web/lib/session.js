// @ts-check
// Who this page acts for: the login with the link's code, and fetch() as this page's bearer.
//
// A personal link carries a short code (?code=); the page exchanges it
// once for a session cookie (HttpOnly: no script reads it) and takes it out of the address bar,
// so that it is not left in the history, a screenshot or a shared screen. One browser holds
// one cookie: the page remembers whom it was opened for and names them on every request
// (X-Expect-Subject) and connection (auth.subject), and the server refuses a cookie of anybody
// else instead of letting this tab act as them.

import { problemText } from "./errors.js";

/** Where the tab keeps its subject across reloads and its pages (a host's console, then the
 * overview): sessionStorage is the tab's own, so another tab's login does not change it. */
const SUBJECT_KEY = "roomserver.subject";

/** A refused or missing login: a message to show and the server's code. */
export class LoginError extends Error {
  /** @param {string} message @param {string} code */
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

/**
 * @typedef {{participant_id: string, role: string, session_id: string | null, name: string, page: string}} Login
 */

/** @type {string | null} */
let subject = null;

/** Exchange the address bar's code for the session cookie, or find the tab's earlier login. */
export async function login() {
  const params = new URLSearchParams(window.location.search);
  const code = params.get("code");
  // A page sent on to another node of a cluster (lib/socket.js) logs in there with the
  // hand-over login it was given.
  const handover = params.get("handover");
  if (code || handover) {
    const response = await fetch("/api/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(code ? { code } : { handover }),
      credentials: "same-origin",
    });
    // Answered either way: the code leaves the address bar (a reload of a refused code
    // would only be refused again).
    params.delete("code");
    params.delete("handover");
    const rest = params.toString();
    window.history.replaceState(window.history.state, "", `${window.location.pathname}${rest ? `?${rest}` : ""}${window.location.hash}`);
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new LoginError(problemText(body, response.status, "登录失败"), body.code || "invalid_token");
    }
    subject = String(body.participant_id);
    window.sessionStorage.setItem(SUBJECT_KEY, subject);
    return /** @type {Login} */ (body);
  }
  subject = window.sessionStorage.getItem(SUBJECT_KEY);
  if (!subject) {
    throw new LoginError("链接缺少登录凭证，请使用工作人员发给您的个人链接。", "missing_token");
  }
  return null;
}

/** The participant id this page acts for (after `login`). */
export function currentSubject() {
  return subject;
}

/**
 * fetch() as this page's bearer: the cookie goes with it, and the expected subject.
 * @param {string} path
 * @param {RequestInit} [options]
 */
export function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  // Percent-encoded: a header is Latin-1, and a party's subject is its Chinese name.
  if (subject) headers.set("X-Expect-Subject", encodeURIComponent(subject));
  return fetch(path, { ...options, headers, credentials: "same-origin" });
}

/** The Socket.IO `auth` of this page: the server reads the cookie from the handshake. */
export function socketAuth() {
  return { subject };
}
