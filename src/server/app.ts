import { Elysia } from "elysia";
import { ErrorCode, GatewayError, toGatewayError } from "../pipeline/errors.ts";
import { adminApi } from "./admin/index.ts";
import { providerProxy, refused } from "./proxy.ts";
import type { Runtime } from "./runtime.ts";

/**
 * The HTTP surface. The proxy route takes the raw Request (`parse: "none"`) so the framework never
 * reads a body the gateway forwards.
 */
export function createApp(runtime: Runtime) {
  const proxy = providerProxy(runtime);
  return new Elysia({ name: "switchboard" })
    .onError(function renderError({ code, error, request }) {
      if (code === "NOT_FOUND") {
        const { pathname } = new URL(request.url);
        return refused(new GatewayError(404, ErrorCode.NotFound, `No route for ${request.method} ${pathname}; provider requests go to /v1/{account}/{gateway}/{provider}/{path}`), request.headers);
      }
      if (code === "PARSE" || code === "VALIDATION") return refused(new GatewayError(400, ErrorCode.BadRequest, String((error as Error).message)), request.headers);
      runtime.handle.logger.error(`unhandled error on ${request.method} ${request.url}`, error);
      return refused(toGatewayError(error), request.headers);
    })
    .get("/health", () => ({ status: "ok" }))
    .use(adminApi(runtime.handle))
    .all("/v1/*", ({ request, server }) => proxy(request, server?.requestIP(request)?.address ?? null), { parse: "none" });
}
