// @ts-check
// What the bid opening's pages share (the hall of bidders, tenderer and agency, and the opening
// console of host and witness): the opening's REST calls, the Chinese names of its phases, of a
// bid's statuses and of what happened, the countdown on the server's clock, the opening fields
// a bid carries (checked as the server checks them) and the statement host and witness sign.
// Only the calls touch the network; the rest is pure.

import { amountCapitals, amountFigures, parseAmount } from "./amounts.js";
import { ApiError, answerOf, requestJson } from "./api.js";
import { problemText } from "./errors.js";
import { api } from "./session.js";
import { formatTime } from "./time.js";

/**
 * @typedef {import("./wire").OpeningView} OpeningView
 * @typedef {import("./wire").OpeningField} OpeningField
 * @typedef {import("./wire").OpeningHappened} OpeningHappened
 */

/**
 * The phases in their order, with the short names of the steps bar.
 * @type {ReadonlyArray<readonly [string, string]>}
 */
export const PHASE_STEPS = Object.freeze([
  ["scheduled", "未开始"], ["submission", "签到与递交"], ["published", "投标截止"], ["decryption", "解密"],
  ["decrypted", "解密结束"], ["read_out", "唱标"], ["signing", "签署记录表"], ["ended", "已结束"],
]);

/**
 * A bid's status (``Bid.status`` on the server) in Chinese, and its tone on the page.
 * @type {Readonly<Record<string, string>>}
 */
export const STATUS_LABELS = Object.freeze({
  absent: "未签到", signed_in: "已签到", submitted: "已递交", key_released: "正在解密", decrypted: "已解密",
  decryption_failed: "解密失败", failure_reported: "已报告解密失败", accepted: "认可，投标有效",
  rejected: "不予认可，投标无效",
});

/** @type {Readonly<Record<string, "ok" | "busy" | "bad" | "warn" | "idle">>} */
export const STATUS_TONES = Object.freeze({
  absent: "idle", signed_in: "idle", submitted: "ok", key_released: "busy", decrypted: "ok",
  decryption_failed: "bad", failure_reported: "warn", accepted: "ok", rejected: "bad",
});

/** The host's decisions on a reported decryption failure. */
export const DECISION_LABELS = Object.freeze({ accepted: "认可，投标有效", rejected: "不予认可，投标无效" });

/** The kinds of an incident (异常情况). */
export const INCIDENT_KIND_LABELS = Object.freeze({ platform: "平台故障", other: "其他" });

/** Who signs the record sheet. */
export const SIGNER_LABELS = Object.freeze(/** @type {Record<string, string>} */ ({ host: "主持人", witness: "见证人" }));

/**
 * What happened at the opening (the ``kind`` of a ``happened`` push), in a few words.
 * @type {Readonly<Record<string, string>>}
 */
export const HAPPENED_LABELS = Object.freeze({
  submission_opened: "开始签到", bidder_signed_in: "投标人签到", bid_submitted: "递交投标文件",
  deadline_passed: "投标截止", decryption_opened: "开始解密", decryption_extended: "延长解密时限",
  key_released: "提交解密密钥", bid_decrypted: "解密成功", bid_decryption_failed: "解密失败",
  decryption_failure_reported: "报告解密失败", decryption_failure_handled: "处理解密失败",
  decryption_closed: "解密结束", benchmark_drawn: "抽取基准价参数", readout_published: "公布唱标结果",
  row_confirmed: "确认唱标结果", objection_raised: "提出异议", objection_answered: "答复异议",
  signing_key_registered: "登记签名密钥", record_put_up: "生成开标记录表", record_replaced: "重新生成记录表",
  record_signed: "签署开标记录表", opening_ended: "开标结束", opening_forced_end: "强制结束",
  host_urged: "见证人提醒", speaker_muted: "禁言", speaker_unmuted: "解除禁言", opening_paused: "开标暂停",
  opening_resumed: "开标恢复", notice: "主持人通知", incident_opened: "异常情况", incident_handled: "异常处理",
  incident_closed: "异常处理完毕", public_viewing_changed: "公开直播",
});

/** Kinds that the hall shows as a notice to read, beyond a line in the log. */
export const NOTICE_KINDS = Object.freeze(new Set(["notice", "host_urged", "opening_paused", "opening_resumed", "incident_opened"]));

/**
 * The tone of what happened in a log: bad (a failure, an incident), warn (a pause, a mute),
 * notice (the host's words), ok (a step done) or plain.
 * @param {string} kind
 */
export function happenedTone(kind) {
  if (["bid_decryption_failed", "decryption_failure_reported", "incident_opened", "opening_forced_end"].includes(kind)) return "bad";
  if (["opening_paused", "speaker_muted", "decryption_extended", "incident_handled", "host_urged", "objection_raised"].includes(kind)) return "warn";
  if (kind === "notice") return "notice";
  if (["bid_decrypted", "opening_ended", "opening_resumed", "incident_closed", "record_signed", "objection_answered", "row_confirmed"].includes(kind)) return "ok";
  return "plain";
}

/** @param {unknown} at */
const clockOf = (at) => (typeof at === "string" && at ? formatTime(new Date(at)) : "");

/**
 * What happened, in a Chinese sentence; `nameOf` names a bidder or person by id.
 * @param {OpeningHappened} happened
 * @param {(id: string) => string} nameOf
 */
export function describeHappened({ kind, data }, nameOf) {
  const d = /** @type {Record<string, any>} */ (data || {});
  const who = typeof d.bidder === "string" ? nameOf(d.bidder) : "";
  switch (kind) {
    case "submission_opened": return `开始签到和递交投标文件，投标截止时间 ${clockOf(d.deadline)}`;
    case "bidder_signed_in": return `${who} 的代表 ${d.representative} ${d.again ? "重新签到" : "签到"}`;
    case "bid_submitted": return d.replaces ? `${who} 重新递交投标文件，替换此前递交的文件` : `${who} 递交投标文件`;
    case "deadline_passed": {
      const count = Array.isArray(d.submitted) ? d.submitted.length : 0;
      return `投标截止，共 ${count} 家投标人递交了投标文件${d.failed ? `。${d.failed}` : ""}`;
    }
    case "decryption_opened": return `开始解密，时限 ${d.minutes} 分钟，至 ${clockOf(d.until)}`;
    case "decryption_extended": return `解密时限延长 ${d.minutes} 分钟，至 ${clockOf(d.until)}（${d.reason}）`;
    case "key_released": return `${who} 提交解密密钥`;
    case "bid_decrypted": return `${who} 的投标文件解密成功`;
    case "bid_decryption_failed": return `${who} 的投标文件解密失败：${d.reason}`;
    case "decryption_failure_reported": return `${who} 报告解密失败：${d.reason}`;
    case "decryption_failure_handled":
      return `主持人处理 ${who} 的解密失败：${DECISION_LABELS[/** @type {"accepted" | "rejected"} */ (d.decision)] || d.decision}（${d.handling}）`;
    case "decryption_closed": {
      const valid = Array.isArray(d.valid) ? d.valid.length : 0;
      const invalid = d.invalid ? Object.keys(d.invalid).length : 0;
      return `解密结束：有效投标 ${valid} 家${invalid ? `，无效 ${invalid} 家` : ""}${d.failed ? `。${d.failed}` : ""}`;
    }
    case "benchmark_drawn": {
      const values = Array.isArray(d.values) ? d.values.map((/** @type {any} */ v) => `${v.label} ${v.value}`) : [];
      return `抽取评标基准价参数：${values.join("，")}`;
    }
    case "readout_published": return `公布唱标结果，共 ${Array.isArray(d.rows) ? d.rows.length : 0} 家有效投标`;
    case "row_confirmed": return `${who} 确认唱标结果`;
    case "objection_raised": return `${who} 提出异议（第 ${d.objection} 号）：${d.text}`;
    case "objection_answered": return `第 ${d.objection} 号异议已答复：${d.answer}`;
    case "signing_key_registered": return `${SIGNER_LABELS[d.role] || "签署人"}登记签名密钥`;
    case "record_put_up": return "开标记录表已生成，待主持人和见证人签署";
    case "record_replaced": return "开标记录表已重新生成，此前的签署须重新进行";
    case "record_signed": return `${SIGNER_LABELS[d.role] || "签署人"}签署开标记录表`;
    case "opening_ended": return "主持人宣布开标结束";
    case "opening_forced_end": return `管理员强制结束开标：${d.reason}`;
    case "host_urged": return `见证人提醒主持人：${d.text}`;
    case "speaker_muted": return `${nameOf(d.participant)} 被禁言：${d.reason}`;
    case "speaker_unmuted": return `${nameOf(d.participant)} 解除禁言`;
    case "opening_paused": return `开标暂停：${d.reason}`;
    case "opening_resumed": return "开标恢复进行";
    case "notice": return d.text;
    case "public_viewing_changed": return d.public ? "主持人开放公开直播" : `主持人关闭公开直播：${d.reason}`;
    case "incident_opened":
      return `第 ${d.incident} 号异常情况（${INCIDENT_KIND_LABELS[/** @type {"platform" | "other"} */ (d.kind)] || d.kind}）：${d.description}`;
    case "incident_handled": return `第 ${d.incident} 号异常情况处理：${d.handling}`;
    case "incident_closed": return `第 ${d.incident} 号异常情况处理完毕：${d.result}`;
    default: return HAPPENED_LABELS[kind] || kind;
  }
}

// ---- the server's clock ---------------------------------------------------------------------

/**
 * How far the server's clock is ahead of this browser's (ms), from a view's `server_time` and
 * the browser's time when the view arrived: the countdown runs on the server's clock, which
 * decides the deadline, however wrong the browser's is.
 * @param {string} serverTime
 * @param {number} receivedAt
 */
export function clockOffset(serverTime, receivedAt) {
  const server = Date.parse(serverTime);
  return Number.isNaN(server) ? 0 : server - receivedAt;
}

/** @param {number} n */
const pad = (n) => String(n).padStart(2, "0");

/**
 * A countdown: "01:02:03", "3天 01:02:03" beyond a day, "00:00:00" once it is over. Whole
 * seconds are rounded up, so that 00:00:00 shows from the instant itself.
 * @param {number} ms
 */
export function formatCountdown(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const days = Math.floor(total / 86400);
  const clock = `${pad(Math.floor((total % 86400) / 3600))}:${pad(Math.floor((total % 3600) / 60))}:${pad(total % 60)}`;
  return days ? `${days}天 ${clock}` : clock;
}

/**
 * What the big countdown counts to in this phase, if anything: the bid deadline before it, the
 * decryption time limit during decryption.
 * @param {Pick<OpeningView, "phase" | "deadline" | "decryption_until">} view
 * @returns {{ label: string, until: string } | null}
 */
export function countdownTarget(view) {
  if (view.phase === "scheduled" || view.phase === "submission") return { label: "距投标截止", until: view.deadline };
  if (view.phase === "decryption" && view.decryption_until) return { label: "距解密截止", until: view.decryption_until };
  return null;
}

// ---- the opening fields of a bid ------------------------------------------------------------

const MAX_INTEGER = 10 ** 9;
const MAX_TEXT = 200;
const DECIMAL = /^-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,6})?$/;

/**
 * The value of an opening field as typed, as the envelope carries it (money and decimals as
 * text, integers as numbers); throws with the reason in Chinese, as the server would refuse it.
 * @param {OpeningField} spec
 * @param {string} typed
 * @returns {string | number}
 */
export function fieldValue(spec, typed) {
  const what = `“${spec.label}”`;
  const text = typed.trim();
  if (spec.kind === "integer") {
    if (!/^[0-9]{1,10}$/.test(text) || Number(text) > MAX_INTEGER) throw new Error(`${what}应为 0 至 ${MAX_INTEGER} 的整数`);
    return Number(text);
  }
  if (spec.kind === "money") {
    try {
      parseAmount(text);
    } catch (err) {
      throw new Error(`${what}：${/** @type {Error} */ (err).message}`);
    }
    return text;
  }
  if (spec.kind === "decimal" && !DECIMAL.test(text)) throw new Error(`${what}应为不超过六位小数的十进制数`);
  if (!text || text.length > MAX_TEXT) throw new Error(`${what}应为 1 至 ${MAX_TEXT} 个字符`);
  return text;
}

/**
 * Every opening field of a form: the values, or the reason each wrong one is refused.
 * @param {OpeningField[]} specs
 * @param {Record<string, string>} typed by field name
 * @returns {{ values: Record<string, string | number>, errors: Record<string, string> }}
 */
export function fieldValues(specs, typed) {
  /** @type {Record<string, string | number>} */
  const values = {};
  /** @type {Record<string, string>} */
  const errors = {};
  for (const spec of specs) {
    try {
      values[spec.name] = fieldValue(spec, typed[spec.name] || "");
    } catch (err) {
      errors[spec.name] = /** @type {Error} */ (err).message;
    }
  }
  return { values, errors };
}

/**
 * A money field as typed, in figures and capitals, or null while it is not an amount.
 * @param {string} typed
 */
export function moneyPreview(typed) {
  try {
    const fen = parseAmount(typed);
    return { figures: amountFigures(fen), capitals: amountCapitals(fen) };
  } catch {
    return null;
  }
}

/**
 * A field's unit as it follows a value ("元" is said by the figures' ¥).
 * @param {Pick<OpeningField, "kind" | "unit">} spec
 */
export function unitOf(spec) {
  return spec.kind === "money" ? "" : spec.unit || "";
}

/**
 * A file's size in words: "512 字节", "38.2 KB", "12.5 MB".
 * @param {number} bytes
 */
export function sizeText(bytes) {
  if (bytes < 1024) return `${bytes} 字节`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

// ---- the record sheet -----------------------------------------------------------------------

const RECORD_STATEMENT_TITLE = "远程异地开标 开标记录表签署";

/**
 * The exact text host and witness sign for a record sheet (roomserver.signatures.record_statement).
 * @param {string} lotId
 * @param {string} signerId
 * @param {string} sha256
 * @param {string} sm3
 */
export function recordStatement(lotId, signerId, sha256, sm3) {
  return [RECORD_STATEMENT_TITLE, `lot: ${lotId}`, `signer: ${signerId}`, `record-sha256: ${sha256}`, `record-sm3: ${sm3}`].join("\n");
}

// ---- the REST calls -------------------------------------------------------------------------

/**
 * The opening's REST calls for this page's bearer; each answers the opening as the bearer sees
 * it afterwards, or throws an ApiError whose message is the server's refusal in Chinese.
 * @param {string} sessionId
 */
export function openingCalls(sessionId) {
  const base = `/api/sessions/${encodeURIComponent(sessionId)}`;
  return {
    /** @returns {Promise<OpeningView>} */
    view: () => requestJson(`${base}/opening`, { what: "读取开标情况失败" }),
    /**
     * A command of the hall or the console.
     * @param {string} kind
     * @param {Record<string, unknown>} [fields]
     * @returns {Promise<OpeningView>}
     */
    command: (kind, fields = {}) => requestJson(`${base}/opening`, { method: "POST", json: { kind, fields }, what: "操作失败" }),
    /**
     * The representative's sign-in with the face picture (JPEG, base64).
     * @param {{ representative: string, id_number: string, picture: string }} body
     * @returns {Promise<OpeningView>}
     */
    signIn: (body) => requestJson(`${base}/opening/sign-in`, { method: "POST", json: body, what: "签到失败" }),
    /**
     * The sealed bid and its two commitments.
     * @param {Uint8Array<ArrayBuffer>} sealed
     * @param {string} plaintextSha256
     * @param {string} keySha256
     * @returns {Promise<OpeningView>}
     */
    submitBid: (sealed, plaintextSha256, keySha256) => {
      const query = new URLSearchParams({ plaintext_sha256: plaintextSha256, key_sha256: keySha256 });
      return requestJson(`${base}/bids?${query}`, {
        method: "POST", body: sealed, headers: { "Content-Type": "application/octet-stream" }, what: "递交投标文件失败",
      });
    },
    /**
     * The bid's raw key (base64), released at decryption.
     * @param {string} key
     * @returns {Promise<OpeningView>}
     */
    releaseKey: (key) => requestJson(`${base}/opening/key`, { method: "POST", json: { key }, what: "提交解密密钥失败" }),
    /**
     * An objection, with a picture or a PDF (base64) if there is one.
     * @param {{ text: string, attachment?: string, attachment_type?: string }} body
     * @returns {Promise<OpeningView>}
     */
    object: (body) => requestJson(`${base}/opening/objections`, { method: "POST", json: body, what: "提出异议失败" }),
    /**
     * The host puts up the record sheet the server makes (`again`: a new one).
     * @param {boolean} again
     * @returns {Promise<OpeningView>}
     */
    putUpRecord: (again) => requestJson(`${base}/opening/record`, { method: "POST", json: { again }, what: "生成开标记录表失败" }),
    /**
     * The picture or PDF an objection came with, as bytes.
     * @param {number} number
     * @returns {Promise<Uint8Array<ArrayBuffer>>}
     */
    objectionAttachment: async (number) => {
      const response = await api(`${base}/opening/objections/${number}/attachment`);
      if (!response.ok) {
        const problem = await answerOf(response);
        throw new ApiError(problemText(problem, response.status, "异议附件下载失败"), response.status, problem);
      }
      return new Uint8Array(await response.arrayBuffer());
    },
    /**
     * The record sheet put up last, as bytes (PDF).
     * @returns {Promise<Uint8Array<ArrayBuffer>>}
     */
    recordPdf: async () => {
      const response = await api(`${base}/opening/record`);
      if (!response.ok) {
        const problem = await answerOf(response);
        throw new ApiError(problemText(problem, response.status, "开标记录表下载失败"), response.status, problem);
      }
      return new Uint8Array(await response.arrayBuffer());
    },
  };
}
