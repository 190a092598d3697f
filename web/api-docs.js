// @ts-check
// The API page (接口说明): the server's OpenAPI document, by resource, with who may call each
// operation, its parameters, its body's fields and its answer.
import { showBanner } from "/static/lib/chrome.js";
import { $, el } from "/static/lib/dom.js";
import { messageOf } from "/static/lib/errors.js";
import { ROLE_LABELS } from "/static/lib/labels.js";
import { fieldsOf, groupOperations, matches, refName, TAG_LABELS, typeText, whoMayCall } from "/static/lib/openapi.js";

/** @typedef {import("/static/lib/openapi.js").Document} Document */
/** @typedef {import("/static/lib/openapi.js").Entry} Entry */
/** @typedef {import("/static/lib/openapi.js").Schema} Schema */

/**
 * A table of a model's fields, then the models it refers to (each once).
 * @param {Document} doc
 * @param {string} name
 * @param {Set<string>} shown
 * @returns {Node[]}
 */
function modelTables(doc, name, shown) {
  if (shown.has(name)) return [];
  shown.add(name);
  const schema = doc.components?.schemas?.[name];
  if (!schema) return [el("p", { class: "empty" }, `（未描述的模型 ${name}）`)];
  const fields = fieldsOf(schema);
  /** @type {Node[]} */
  const nodes = [el("p", {}, "模型 ", el("code", {}, name))];
  if (fields.length === 0) {
    nodes.push(el("p", { class: "empty" }, "没有字段"));
    return nodes;
  }
  nodes.push(
    el("table", {},
      el("thead", {}, el("tr", {}, el("th", {}, "字段"), el("th", {}, "类型"), el("th", {}, "必填"), el("th", {}, "说明"))),
      el("tbody", {}, fields.map((f) =>
        el("tr", {},
          el("td", {}, el("code", {}, f.name)),
          el("td", {}, f.type),
          el("td", {}, f.required ? el("span", { class: "required" }, "是") : "否"),
          el("td", {}, f.notes),
        ))),
    ),
  );
  for (const f of fields) if (f.ref) nodes.push(...modelTables(doc, f.ref, shown));
  return nodes;
}

/**
 * @param {Document} doc
 * @param {Entry} entry
 */
function operationCard(doc, entry) {
  const { operation } = entry;
  const body = el("div", { class: "body" });
  if (operation.description) body.append(el("p", {}, operation.description));
  body.append(
    el("h3", {}, "谁可以调用"),
    el("p", { class: "who" }, whoMayCall(operation, ROLE_LABELS)),
    el("p", {}, "操作编号：", el("code", {}, operation.operationId)),
  );
  const parameters = operation.parameters || [];
  if (parameters.length) {
    body.append(
      el("h3", {}, "参数"),
      el("table", {},
        el("thead", {}, el("tr", {}, el("th", {}, "名称"), el("th", {}, "位置"), el("th", {}, "类型"), el("th", {}, "必填"))),
        el("tbody", {}, parameters.map((p) =>
          el("tr", {},
            el("td", {}, el("code", {}, p.name)),
            el("td", {}, p.in === "path" ? "路径" : p.in === "query" ? "查询" : p.in),
            el("td", {}, p.schema ? typeText(p.schema) : "文本"),
            el("td", {}, p.required ? el("span", { class: "required" }, "是") : "否"),
          ))),
      ),
    );
  }
  const request = operation.requestBody?.content["application/json"]?.schema;
  if (request?.$ref) body.append(el("h3", {}, "请求体（JSON）"), ...modelTables(doc, refName(request.$ref), new Set()));
  const answer = operation.responses?.["200"]?.content?.["application/json"]?.schema;
  body.append(el("h3", {}, "成功时的回答"));
  if (answer?.$ref) body.append(...modelTables(doc, refName(answer.$ref), new Set()));
  else body.append(el("p", { class: "empty" }, "JSON 对象或文件"));
  body.append(el("p", { class: "empty" }, "被拒绝时返回 application/problem+json：code 为稳定的错误代码，detail 为中文说明。"));
  return el("details", { class: "operation", dataset: { operation: operation.operationId } },
    el("summary", {},
      el("span", { class: `method ${entry.method.toLowerCase()}` }, entry.method),
      el("span", { class: "path" }, entry.path),
      el("span", { class: "summary-text" }, operation.summary || ""),
    ),
    body,
  );
}

/** @param {Document} doc */
function render(doc) {
  const groups = groupOperations(doc);
  const filter = $("#filter", HTMLInputElement).value;
  const toc = $("#toc");
  const list = $("#operations");
  toc.replaceChildren();
  list.replaceChildren();
  for (const [tag, entries] of groups) {
    const shown = entries.filter((e) => matches(e, filter));
    if (shown.length === 0) continue;
    const label = TAG_LABELS[tag] || tag;
    toc.append(el("a", { href: `#tag-${tag}` }, label, el("span", { class: "count" }, shown.length)));
    list.append(el("h2", { id: `tag-${tag}` }, label), ...shown.map((e) => operationCard(doc, e)));
  }
  if (!list.childElementCount) list.append(el("p", { class: "empty" }, "没有符合筛选条件的接口"));
}

async function main() {
  try {
    const response = await fetch("/api/openapi.json", { credentials: "same-origin" });
    if (!response.ok) throw new Error(`接口描述读取失败（HTTP ${response.status}）`);
    /** @type {Document} */
    const doc = await response.json();
    const count = Object.values(doc.paths).reduce((n, methods) => n + Object.keys(methods).length, 0);
    $("#doc-meta").textContent = `${doc.info.title} · 版本 ${doc.info.version} · 共 ${count} 个接口`;
    $("#intro").textContent = doc.info.description || "";
    $("#filter", HTMLInputElement).addEventListener("input", () => render(doc));
    render(doc);
    document.body.dataset.state = "ready";
  } catch (error) {
    showBanner(messageOf(error));
    document.body.dataset.state = "error";
  }
}

main();
