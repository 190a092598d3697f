// @ts-check
// DOM helpers of every page: find an element, build one, read the query string. Nothing here
// touches the document until it is called, so the module loads anywhere.

/**
 * First element matching `selector`, an HTMLElement or the given element class (throws when
 * the page lacks it or has another kind of element there: a page bug).
 * @template {Element} [T=HTMLElement]
 * @param {string} selector
 * @param {{ new (): T, prototype: T }} [type]
 * @returns {T}
 */
export function $(selector, type) {
  const found = document.querySelector(selector);
  if (!found) throw new Error(`missing element ${selector}`);
  const expected = type || HTMLElement;
  if (!(found instanceof expected)) throw new Error(`${selector} is not a ${expected.name}`);
  return /** @type {T} */ (found);
}

/**
 * Attributes of `el`: `class`, `dataset`, `style` (properties), `text` (its text), and any
 * other attribute (true for a bare one; undefined, null and false leave it out).
 * @typedef {{ class?: string, dataset?: Record<string, string | number>, style?: Partial<CSSStyleDeclaration>, text?: string | number } & Record<string, unknown>} Attrs
 */

/**
 * Create an element: el("li", {class: "x", dataset: {k: "v"}, style: {left: "5%"}}, child, "text").
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs} [attrs]
 * @param {...(Node | string | number | null | undefined | false | Array<Node | string | number | null | undefined | false>)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = String(value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    // Properties, never a style attribute: the Content-Security-Policy refuses inline styles.
    else if (key === "style") Object.assign(node.style, value);
    else if (key === "text") node.textContent = String(value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/**
 * A form's control named `name` (an input, select or textarea).
 * @param {HTMLFormElement} form
 * @param {string} name
 */
export function control(form, name) {
  return /** @type {HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement} */ (form.elements.namedItem(name));
}

/** The page's query string as a URLSearchParams. */
export function queryParams() {
  return new URLSearchParams(window.location.search);
}

/**
 * True when the query flag `name` is set to 1/true/yes.
 * @param {URLSearchParams} params
 * @param {string} name
 */
export function flag(params, name) {
  return ["1", "true", "yes"].includes((params.get(name) || "").toLowerCase());
}
