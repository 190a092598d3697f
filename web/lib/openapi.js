// @ts-check
// Reading an OpenAPI 3.1 document for the API page: operations grouped by tag, a schema's
// fields and their types in Chinese, who may call. Pure: nothing here touches the document.

/**
 * @typedef {{ type?: string | string[], format?: string, enum?: unknown[], const?: unknown,
 *   pattern?: string, minLength?: number, maxLength?: number, minimum?: number, maximum?: number,
 *   minItems?: number, maxItems?: number, items?: Schema, properties?: Record<string, Schema>,
 *   required?: string[], anyOf?: Schema[], oneOf?: Schema[], allOf?: Schema[], $ref?: string,
 *   description?: string, title?: string, default?: unknown,
 *   additionalProperties?: boolean | Schema }} Schema
 * @typedef {{ name: string, in: string, required?: boolean, schema?: Schema }} Parameter
 * @typedef {{ operationId: string, tags?: string[], summary?: string, description?: string,
 *   parameters?: Parameter[], requestBody?: { content: Record<string, { schema: Schema }> },
 *   responses?: Record<string, { description?: string, content?: Record<string, { schema: Schema }> }>,
 *   security?: Record<string, string[]>[],
 *   "x-policy"?: { action: string, roles: string[], reach: string } }} Operation
 * @typedef {{ openapi: string, info: { title: string, version: string, description?: string },
 *   tags?: { name: string }[], paths: Record<string, Record<string, Operation>>,
 *   components?: { schemas?: Record<string, Schema> } }} Document
 * @typedef {{ method: string, path: string, operation: Operation }} Entry
 * @typedef {{ name: string, type: string, required: boolean, notes: string, ref: string | null }} Field
 */

/** @type {Readonly<Record<string, string>>} */
export const TAG_LABELS = Object.freeze({
  sessions: "评标场次", archive: "档案调阅", venues: "评标室", workers: "媒体进程",
  tokens: "登录凭证", login: "个人链接登录", me: "当前身份", "commitment-letter": "承诺书",
  docs: "接口说明", pages: "页面与运行状态", centres: "交易中心", bookings: "场地机位预约",
  projects: "项目与标段", lots: "标段", experts: "专家库", draws: "抽取", webhooks: "订阅推送",
});

/** @type {Readonly<Record<string, string>>} */
export const REACH_LABELS = Object.freeze({
  anyone: "任何人", role: "该身份的任何凭证", session: "本场评标的凭证", venue: "本评标室的凭证",
  local: "仅限本机",
});

const TYPE_LABELS = Object.freeze({
  string: "文本", integer: "整数", number: "数字", boolean: "是/否", object: "对象", array: "列表",
  null: "空",
});

/**
 * The model name a `$ref` points to.
 * @param {string} ref
 */
export function refName(ref) {
  return ref.slice(ref.lastIndexOf("/") + 1);
}

/**
 * Every operation with its method and path, grouped by its first tag, tags in name order.
 * @param {Document} doc
 * @returns {Map<string, Entry[]>}
 */
export function groupOperations(doc) {
  /** @type {Map<string, Entry[]>} */
  const groups = new Map();
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const tag = operation.tags?.[0] || "其他";
      if (!groups.has(tag)) groups.set(tag, []);
      groups.get(tag)?.push({ method: method.toUpperCase(), path, operation });
    }
  }
  return new Map([...groups.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * A schema's type in Chinese: 文本, 整数, 列表（文本）, 对象（Model）, 文本 或 空, one of the values.
 * @param {Schema} schema
 * @returns {string}
 */
export function typeText(schema) {
  if (schema.$ref) return `对象（${refName(schema.$ref)}）`;
  const options = schema.anyOf || schema.oneOf;
  if (options) return options.map(typeText).join(" 或 ");
  if (schema.enum) return `取值之一：${schema.enum.map((v) => JSON.stringify(v)).join("、")}`;
  if (schema.const !== undefined) return `固定为 ${JSON.stringify(schema.const)}`;
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (types.length === 0) return "任意";
  return types
    .map((t) => (t === "array" && schema.items ? `列表（${typeText(schema.items)}）` : TYPE_LABELS[/** @type {keyof typeof TYPE_LABELS} */ (t)] || t))
    .join(" 或 ");
}

/**
 * The constraints of a value in Chinese (length, range, pattern, format, default).
 * @param {Schema} schema
 * @returns {string}
 */
export function constraintText(schema) {
  const notes = [];
  if (schema.minLength !== undefined || schema.maxLength !== undefined) {
    notes.push(`长度 ${schema.minLength ?? 0}–${schema.maxLength ?? "∞"}`);
  }
  if (schema.minimum !== undefined || schema.maximum !== undefined) {
    notes.push(`范围 ${schema.minimum ?? "−∞"}–${schema.maximum ?? "∞"}`);
  }
  if (schema.minItems !== undefined || schema.maxItems !== undefined) {
    notes.push(`${schema.minItems ?? 0}–${schema.maxItems ?? "∞"} 项`);
  }
  if (schema.format) notes.push(`格式 ${schema.format}`);
  if (schema.pattern) notes.push(`须匹配 ${schema.pattern}`);
  if (schema.default !== undefined && schema.default !== null) notes.push(`默认 ${JSON.stringify(schema.default)}`);
  for (const option of schema.anyOf || []) {
    const inner = constraintText(option);
    if (inner) notes.push(inner);
  }
  return notes.join("；");
}

/**
 * The first model a schema refers to (itself, its items, or one of its options), if any.
 * @param {Schema} schema
 * @returns {string | null}
 */
function referred(schema) {
  if (schema.$ref) return refName(schema.$ref);
  if (schema.items) return referred(schema.items);
  for (const option of schema.anyOf || schema.oneOf || []) {
    const found = referred(option);
    if (found) return found;
  }
  return null;
}

/**
 * The fields of an object schema, in declaration order.
 * @param {Schema} schema
 * @returns {Field[]}
 */
export function fieldsOf(schema) {
  const required = new Set(schema.required || []);
  return Object.entries(schema.properties || {}).map(([name, field]) => ({
    name,
    type: typeText(field),
    required: required.has(name),
    notes: [field.description, constraintText(field)].filter(Boolean).join("；"),
    ref: referred(field),
  }));
}

/**
 * Who may call an operation, in Chinese.
 * @param {Operation} operation
 * @param {Readonly<Record<string, string>>} roleLabels
 */
export function whoMayCall(operation, roleLabels) {
  const policy = operation["x-policy"];
  if (!policy) return "";
  if (policy.reach === "anyone" || policy.reach === "local") return REACH_LABELS[policy.reach];
  const roles = policy.roles.map((r) => roleLabels[r] || r).join("、");
  return `${roles}（${REACH_LABELS[policy.reach] || policy.reach}）`;
}

/**
 * Whether an entry matches a filter text (path, operation id, summary, description).
 * @param {Entry} entry
 * @param {string} text
 */
export function matches(entry, text) {
  const needle = text.trim().toLowerCase();
  if (!needle) return true;
  const { operation } = entry;
  return [entry.path, operation.operationId, operation.summary || "", operation.description || ""]
    .some((part) => part.toLowerCase().includes(needle));
}
