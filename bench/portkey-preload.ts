/**
 * Preloaded into Portkey's gateway for `bun run bench --peers` (see bench/targets.ts, target "portkey"):
 *
 *   bun --preload bench/portkey-preload.ts node_modules/@portkey-ai/gateway/build/start-server.js --port=0 --headless
 *
 * Portkey's start-server.js calls @hono/node-server's serve({ fetch, port }) with no hostname, so it
 * would listen on every interface, and it prints `http://localhost:PORT` with the port it was given
 * (0 here), not the one the OS picked. This makes any node:http server that is not given a host
 * listen on 127.0.0.1 and print `listening on http://127.0.0.1:PORT` (the bound port) once it is
 * listening, like the bench's own servers. Nothing else in the gateway is touched.
 */
import http from "node:http";

const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function (this: http.Server, ...args: any[]) {
  // listen(port, hostname?, callback?) — the only form @hono/node-server uses.
  if (typeof args[0] === "number" && typeof args[1] !== "string") {
    const callback = typeof args[1] === "function" ? args[1] : args[2];
    args = [args[0], "127.0.0.1", ...(typeof callback === "function" ? [callback] : [])];
  }
  this.once("listening", () => {
    const a = this.address();
    if (a && typeof a === "object") console.log(`listening on http://127.0.0.1:${a.port}`);
  });
  return listen.apply(this, args as any);
} as typeof listen;
