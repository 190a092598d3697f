// DOM helpers of every page: find an element, build one, read the query string. Nothing here
// touches the document until it is called, so the module loads anywhere.

/** First element matching `selector` (throws when the page lacks it: a page bug). */
export function $(selector, root = document) {
  const found = root.querySelector(selector);
  if (!found) throw new Error(`missing element ${selector}`);
  return found;
}

/** Create an element: el("li", {class: "x", dataset: {k: "v"}, style: {left: "5%"}}, child, "text"). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    // Properties, never a style attribute: the Content-Security-Policy refuses inline styles.
    else if (key === "style") Object.assign(node.style, value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** The page's query string as a URLSearchParams. */
export function queryParams() {
  return new URLSearchParams(window.location.search);
}

/** True when the query flag `name` is set to 1/true/yes. */
export function flag(params, name) {
  return ["1", "true", "yes"].includes((params.get(name) || "").toLowerCase());
}
