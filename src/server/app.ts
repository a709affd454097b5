import type { Server } from "bun";
import { Elysia } from "elysia";
import { ErrorCode, GatewayError, toGatewayError } from "../pipeline/errors.ts";
import { adminApi } from "./admin/index.ts";
import { corsPolicy } from "./cors.ts";
import { dashboard } from "./dashboard/index.ts";
import { metricsEndpoint } from "./metrics/route.ts";
import type { RequestMetrics } from "./metrics/registry.ts";
import { providerProxy, refused } from "./proxy.ts";
import type { Runtime } from "./runtime.ts";
import { requestPath } from "./target.ts";
import { realtimeSession } from "./ws/realtime.ts";
import type { SocketData } from "./ws/session.ts";
import { universalSession } from "./ws/universal-session.ts";
import { wantsWebSocket, webSocketUpgrade } from "./ws/upgrade.ts";

/**
 * The methods provider APIs use, the only ones `/v1/*` serves. Any other method Bun lets through
 * (TRACE, CONNECT, PROPFIND, QUERY, …) gets 405 MethodNotAllowed with this list in `Allow`,
 * on every path. Bun itself drops methods it does not know (`FOO`) before any handler runs.
 */
export const PROVIDER_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] as const;
const ALLOW = PROVIDER_METHODS.join(", ");
const served: ReadonlySet<string> = new Set(PROVIDER_METHODS);

/**
 * The HTTP surface. Provider traffic (`/v1/*`) is a native Bun.serve route handed to Elysia's
 * `serve.routes`: it takes the raw Request, and no framework layer touches the body or the hot path
 * (an Elysia wildcard route measured ~17% below a bare Bun proxy at 32 connections; the native
 * route measures within noise of it — see docs/benchmarks.md). Everything else — admin API,
 * health, the 404 envelope — is ordinary Elysia.
 */
export function createApp(runtime: Runtime, metrics: RequestMetrics | null = null) {
  const proxy = providerProxy(runtime);
  const cors = corsPolicy(runtime.handle.config.server.cors, PROVIDER_METHODS);
  const upgrade = webSocketUpgrade(runtime, { universal: universalSession(runtime), realtime: realtimeSession(runtime) }, cors);
  const toProxy = cors
    ? async (request: Request, server: Server<SocketData>) =>
        cors.preflight(request) ?? cors.decorate(request, await proxy(request, server.requestIP(request)?.address ?? null))
    : (request: Request, server: Server<SocketData>) => proxy(request, server.requestIP(request)?.address ?? null);
  // GET also serves WebSocket upgrades: the Universal API over WebSocket, and realtime relays.
  const get = (request: Request, server: Server<SocketData>) =>
    wantsWebSocket(request) ? upgrade(request, server, server.requestIP(request)?.address ?? null) : toProxy(request, server);
  // One handler per served method: Bun hands any other method to Elysia's fetch (→ NOT_FOUND →
  // 405 below), so the method check costs the hot path nothing.
  const routes = { "/v1/*": Object.fromEntries(PROVIDER_METHODS.map((method) => [method, method === "GET" ? get : toProxy])) };
  // The admin API comes first so its own error handler (V4 envelope) wins for its routes.
  return new Elysia({ name: "switchboard", serve: { development: false, routes } })
    .use(adminApi(runtime.handle))
    // Must not throw: Bun would answer its own plain 500 and print a stack holding the url.
    .onError(function renderError({ code, error, request }) {
      const { method, headers } = request;
      // Bun's url may be relative or carry a host `new URL()` rejects: see requestPath.
      const { path } = requestPath(request.url);
      if (code === "NOT_FOUND") {
        if (!served.has(method)) {
          const answer = refused(new GatewayError(405, ErrorCode.MethodNotAllowed, `Method ${method} is not allowed; the gateway serves ${ALLOW}`), headers);
          answer.headers.set("Allow", ALLOW);
          return answer;
        }
        return refused(new GatewayError(404, ErrorCode.NotFound, `No route for ${method} ${path}; provider requests go to /v1/{account}/{gateway}/{provider}/{path}`), headers);
      }
      if (code === "PARSE" || code === "VALIDATION") return refused(new GatewayError(400, ErrorCode.BadRequest, String((error as Error).message)), headers);
      // One line, method and path only: the query string and headers may hold keys, and an error's
      // own fields (a TypeError's `input`) may repeat the url. The logger redacts URLs in the message.
      runtime.handle.logger.error(`unhandled error on ${method} ${path}: ${describe(error)}`);
      return refused(toGatewayError(error), headers);
    })
    // The dashboard (GET / and /dashboard/*): a page over the admin API, holding no secret.
    .use(dashboard({ accountId: runtime.handle.config.accountId }))
    // 200 even when degraded: a gateway whose disk is full still answers requests, and a load balancer must not pull it.
    .get("/health", () => runtime.handle.health.snapshot())
    .get(
      "/metrics",
      metricsEndpoint({ access: runtime.handle.config.server.metrics, adminToken: runtime.handle.config.server.adminToken, metrics, inFlight: () => runtime.pipeline.inFlight }),
    );
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return typeof error;
  return `${error.name}: ${error.message.split("\n", 1)[0].slice(0, 200)}`;
}
