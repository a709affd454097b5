import { ErrorCode, errorResponse, GatewayError, toGatewayError } from "../../pipeline/errors.ts";
import { adminAuthorizer } from "../admin/auth.ts";
import { CONTENT_TYPE } from "./exposition.ts";
import type { RequestMetrics } from "./registry.ts";

/** Who may read `GET /metrics` (`server.metrics`). */
export type MetricsAccess = "admin" | "public" | "off";

/**
 * The `GET /metrics` handler. `"admin"` needs `Authorization: Bearer <server.adminToken>` (the admin
 * API's check: 401 without it, 403 when no admin token is configured); `"public"` is open; `"off"`
 * answers 403. Errors use the admin API's V4 envelope.
 *
 * @example
 * app.get("/metrics", metricsEndpoint({ access: "admin", adminToken, metrics, inFlight: () => pipeline.inFlight }));
 */
export function metricsEndpoint(options: { access: MetricsAccess; adminToken: string | undefined; metrics: RequestMetrics | null; inFlight: () => number }) {
  const { access, metrics, inFlight } = options;
  const authorize = access === "admin" ? adminAuthorizer(options.adminToken) : null;
  return function scrapeMetrics({ request }: { request: Request }): Response {
    try {
      if (access === "off" || !metrics) throw new GatewayError(403, ErrorCode.AdminDisabled, 'Metrics are off: set server.metrics to "admin" or "public"');
      authorize?.(request);
      return new Response(metrics.render(inFlight()), { headers: { "content-type": CONTENT_TYPE, "cache-control": "no-store" } });
    } catch (error) {
      return errorResponse(toGatewayError(error), undefined, true);
    }
  };
}
