// @ts-check
// What went wrong, in Chinese sentences for the person at the page: a refused request (the
// server's problem JSON), a camera or microphone the browser would not open, a page error.
// Pure: no DOM.

/**
 * The sentence for a refused HTTP request: the server's own `detail` (its problem JSON says
 * what rule was broken, in Chinese), else "<what>（<status>）", e.g. "请求失败（502）", or
 * `what` alone when no status is given.
 * @param {{ detail?: string } | null | undefined} problem
 * @param {number | null | undefined} status
 * @param {string} [what]
 */
export function problemText(problem, status, what = "请求失败") {
  if (problem?.detail) return problem.detail;
  return status === null || status === undefined ? what : `${what}（${status}）`;
}

/**
 * Turn a getUserMedia/getDisplayMedia failure into a Chinese sentence.
 * @param {unknown} err
 * @param {string} what 摄像头, 麦克风…
 */
export function mediaErrorText(err, what) {
  const e = /** @type {{ name?: string, message?: string } | null | undefined} */ (err);
  const name = e?.name;
  if (name === "NotAllowedError" || name === "SecurityError") return `${what}未获授权，请允许浏览器使用${what}。`;
  if (name === "NotFoundError" || name === "OverconstrainedError") return `未找到可用的${what}。`;
  if (name === "NotReadableError" || name === "AbortError") return `${what}被其他程序占用或无法打开。`;
  return `${what}无法使用：${e?.message || "未知错误"}`;
}

/**
 * The message of what was thrown (an Error's), for the page.
 * @param {unknown} err
 */
export function messageOf(err) {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A promise the page left unhandled, for the banner.
 * @param {unknown} reason
 */
export function pageErrorText(reason) {
  const message = reason && /** @type {{ message?: string }} */ (reason).message;
  return `页面出现异常：${message || reason}`;
}
