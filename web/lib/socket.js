// @ts-check
// The page's Socket.IO connection to one namespace: WebSocket only, with the page's login in
// its `auth`; Socket.IO reconnects by itself after a transport failure. The client library is
// the bundle the server serves from the package (web/vendor/).

import { io } from "/vendor/socket.io-client/socket.io.esm.min.js";
import { socketAuth } from "./session.js";

/**
 * Connect to `namespace` ("/seat", "/wall", "/console") as this page's bearer.
 * @param {string} namespace
 */
export function connectSocket(namespace) {
  return io(namespace, {
    auth: socketAuth(),
    transports: ["websocket"],
    reconnectionDelay: 1000,
    reconnectionDelayMax: 5000,
  });
}
