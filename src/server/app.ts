import type { Server } from "bun";
import { Elysia } from "elysia";
import { ErrorCode, GatewayError, toGatewayError } from "../pipeline/errors.ts";
import { adminApi } from "./admin/index.ts";
import { providerProxy, refused } from "./proxy.ts";
import type { Runtime } from "./runtime.ts";

/**
 * The HTTP surface. Provider traffic (`/v1/*`) is a native Bun.serve route handed to Elysia's
 * `serve.routes`: it takes the raw Request, and no framework layer touches the body or the hot path
 * (an Elysia wildcard route measured ~17% below a bare Bun proxy at 32 connections; the native
 * route measures within noise of it — see docs/benchmarks.md). Everything else — admin API,
 * health, the 404 envelope — is ordinary Elysia.
 */
export function createApp(runtime: Runtime) {
  const proxy = providerProxy(runtime);
  const routes = {
    "/v1/*": (request: Request, server: Server<unknown>) => proxy(request, server.requestIP(request)?.address ?? null),
  };
  // The admin API comes first so its own error handler (V4 envelope) wins for its routes.
  return new Elysia({ name: "switchboard", serve: { development: false, routes } })
    .use(adminApi(runtime.handle))
    .onError(function renderError({ code, error, request }) {
      if (code === "NOT_FOUND") {
        const { pathname } = new URL(request.url);
        return refused(new GatewayError(404, ErrorCode.NotFound, `No route for ${request.method} ${pathname}; provider requests go to /v1/{account}/{gateway}/{provider}/{path}`), request.headers);
      }
      if (code === "PARSE" || code === "VALIDATION") return refused(new GatewayError(400, ErrorCode.BadRequest, String((error as Error).message)), request.headers);
      runtime.handle.logger.error(`unhandled error on ${request.method} ${request.url}`, error);
      return refused(toGatewayError(error), request.headers);
    })
    .get("/health", () => ({ status: "ok" }));
}
