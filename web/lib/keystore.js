// @ts-check
// Keys this browser keeps for a person (IndexedDB): an expert's or an opening host's signing key
// pair (not extractable: the private key never leaves the browser), a bidder's bid key until it
// is released at the opening. One database per kind of key, one object store "keys" in it,
// entries by name. CryptoKeys are stored as they are (structured clone), never as bytes.

/**
 * @param {string} database
 * @returns {Promise<IDBDatabase>}
 */
function openDb(database) {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(database, 1);
    request.onupgradeneeded = () => request.result.createObjectStore("keys");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/**
 * Run one request on the store of `database` and resolve with its result once committed.
 * @param {string} database
 * @param {IDBTransactionMode} mode
 * @param {(store: IDBObjectStore) => IDBRequest} fn
 * @returns {Promise<any>}
 */
async function run(database, mode, fn) {
  const db = await openDb(database);
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction("keys", mode);
      const request = fn(tx.objectStore("keys"));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

/**
 * The entry `name` of `database`, or undefined.
 * @param {string} database
 * @param {string} name
 * @returns {Promise<any>}
 */
export function storedKey(database, name) {
  return run(database, "readonly", (s) => s.get(name));
}

/**
 * Keep `value` as the entry `name` of `database` (replacing any).
 * @param {string} database
 * @param {string} name
 * @param {unknown} value
 */
export async function keepKey(database, name, value) {
  await run(database, "readwrite", (s) => s.put(value, name));
}

/**
 * The ECDSA P-256 signing pair `name` of `database`, made (not extractable) and kept the first
 * time it is asked for.
 * @param {string} database
 * @param {string} name
 * @returns {Promise<CryptoKeyPair>}
 */
export async function signingPair(database, name) {
  const stored = await storedKey(database, name);
  if (stored) return stored;
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
  await keepKey(database, name, pair);
  return pair;
}
