// @ts-check
// The page's Socket.IO connection to one namespace: WebSocket only, with the page's login in
// its `auth`; Socket.IO reconnects by itself after a transport failure. The client library is
// the bundle the server serves from the package (web/vendor/).
//
// In a cluster the page follows its room from node to node, as a person would follow a link:
// a node that does not host the room refuses the connection with `moved`, naming the room's
// node and giving a hand-over login for it, and the page opens itself there. While connected,
// the server keeps the page told of the other nodes and a fresh hand-over login (`cluster`);
// when its node stops answering, the page opens itself on the next node, which sends it on to
// wherever the room went.

import { io } from "/vendor/socket.io-client/socket.io.esm.min.js";
import { socketAuth } from "./session.js";

/** How long a node stays silent before the page tries another node (ms). */
const SILENT_BEFORE_ANOTHER_NODE_MS = 3000;

/**
 * Open this page on another node: same path and query, with the hand-over login if any.
 * @param {string} base the node's URL
 * @param {string | null | undefined} handover
 */
function openOn(base, handover) {
  const target = new URL(window.location.pathname, base);
  const params = new URLSearchParams(window.location.search);
  params.delete("handover");
  if (handover) params.set("handover", handover);
  target.search = params.toString();
  window.location.replace(target.toString());
}

/**
 * Connect to `namespace` ("/seat", "/wall", "/console") as this page's bearer.
 * @param {string} namespace
 */
export function connectSocket(namespace) {
  const socket = io(namespace, {
    auth: socketAuth(),
    transports: ["websocket"],
    // A restarted server is found within half a second of its start: a refused attempt costs
    // the server nothing, and a room waits for its seats (with tries up to a second apart, the
    // pages of bench/join.py were back p50 4.8 to 6.2 s after a restart's start command).
    reconnectionDelay: 250,
    reconnectionDelayMax: 500,
  });
  /** When the connection was lost (ms since the epoch), null while connected. */
  let lostAt = /** @type {number | null} */ (null);
  socket.on("disconnect", () => {
    lostAt = Date.now();
  });
  socket.on("connect", () => {
    lostAt = null;
  });
  /** @type {{nodes: string[], handover: string | null} | null} */
  let cluster = null;
  let leaving = false;
  socket.on("cluster", (notice) => {
    cluster = notice;
  });
  socket.on("connect_error", (err) => {
    const data = /** @type {{code?: string, url?: string, handover?: string}} */ (
      /** @type {any} */ (err)?.data || {}
    );
    if (data.code === "moved" && data.url && !leaving) {
      leaving = true;
      socket.disconnect();
      openOn(data.url, data.handover);
    }
  });
  socket.io.on("reconnect_attempt", () => {
    const silent = lostAt === null ? 0 : Date.now() - lostAt;
    if (leaving || silent < SILENT_BEFORE_ANOTHER_NODE_MS || !cluster?.nodes?.length) return;
    leaving = true;
    socket.disconnect();
    openOn(cluster.nodes[0], cluster.handover);
  });
  return socket;
}
