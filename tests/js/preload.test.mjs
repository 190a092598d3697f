// The seat page names every module it loads in <link rel="modulepreload">, so that the browser
// fetches them at once instead of one level of imports after another (a kiosk opening its link
// waits for every level). The list must stay the page's whole import graph.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const WEB = resolve(dirname(fileURLToPath(import.meta.url)), "../../web");
const IMPORT = /^\s*import\s(?:[^;]*?\sfrom\s)?"([^"]+)"/gm;

/**
 * Every module `entry` imports, directly or not, as the URLs the page asks for.
 * @param {string} entry a URL under /static/
 * @returns {Set<string>}
 */
function importGraph(entry) {
  const found = new Set();
  const visit = (/** @type {string} */ url) => {
    if (!url.startsWith("/static/")) return; // the vendor bundle imports nothing of ours
    const file = join(WEB, url.slice("/static/".length));
    for (const match of readFileSync(file, "utf8").matchAll(IMPORT)) {
      const spec = match[1];
      const target = spec.startsWith(".")
        ? `/static/${relative(WEB, resolve(dirname(file), spec)).replaceAll("\\", "/")}`
        : spec;
      if (found.has(target)) continue;
      found.add(target);
      visit(target);
    }
  };
  visit(entry);
  return found;
}

test("the seat page preloads exactly the modules it imports", () => {
  const html = readFileSync(join(WEB, "seat.html"), "utf8");
  const preloaded = new Set(
    [...html.matchAll(/<link rel="modulepreload" href="([^"]+)">/g)].map((m) => m[1]),
  );
  assert.deepEqual([...preloaded].sort(), [...importGraph("/static/seat.js")].sort());
});
