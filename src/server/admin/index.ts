import { Elysia } from "elysia";
import { ErrorCode, errorResponse, GatewayError, toGatewayError } from "../../pipeline/errors.ts";
import type { GatewayHandle } from "../../pipeline/types.ts";
import { requestPath } from "../target.ts";
import { analyticsRoutes } from "./analytics.ts";
import { adminAuthorizer } from "./auth.ts";
import { breakerRoutes } from "./breakers.ts";
import { budgetRoutes } from "./budgets.ts";
import { gatewayRoutes, requireGateway } from "./gateways.ts";
import { readAdminBody } from "./json-body.ts";
import { logRoutes } from "./logs.ts";
import { tokenRoutes } from "./tokens.ts";

/** Where Cloudflare's management API lives, so its SDKs work with `baseURL: "<switchboard>/client/v4"`. */
export const ADMIN_PREFIX = "/client/v4/accounts/:account/ai-gateway";

// Not `new URL(request.url)`: Bun keeps a bad Host header in the URL, and that would throw.
const searchParams = (request: Request) => new URLSearchParams(requestPath(request.url).search);

/**
 * The admin API: Cloudflare's AI Gateway management endpoints for gateways (read-only: they live in
 * the config), logs (list, get, bodies, feedback, delete), analytics (totals, series, groups), gateway tokens (list, create, revoke) and, Switchboard's
 * own, the circuit breakers of a gateway's targets (list). Every route needs
 * `Authorization: Bearer <server.adminToken>`; answers use the V4 envelope, errors included.
 *
 * @example
 * app.use(adminApi(gateway));
 * // new Cloudflare({ apiToken: adminToken, baseURL: "http://localhost:8787/client/v4" })
 */
export function adminApi(gw: GatewayHandle) {
  const authorize = adminAuthorizer(gw.config.server.adminToken);
  const gateways = gatewayRoutes(gw.config);
  const logs = logRoutes(gw.stores.logs);
  const analytics = analyticsRoutes(gw.stores.logs);
  const tokens = tokenRoutes(gw.stores.tokens);
  const breakers = breakerRoutes(gw.stores.breakers);

  return (
    new Elysia({ prefix: ADMIN_PREFIX })
      // Hooks registered here are local: they guard these routes only, never the proxy routes of the app.
      .onError(function adminError({ error, code }) {
        if (code === "NOT_FOUND") return;
        if (!(error instanceof GatewayError)) gw.logger.error("admin API request failed", error);
        return errorResponse(toGatewayError(error), undefined, true);
      })
      .onBeforeHandle(function adminGate({ request, params }) {
        authorize(request);
        const account = (params as Record<string, string | undefined>).account;
        if (gw.config.accountId !== undefined && account !== gw.config.accountId) {
          throw new GatewayError(404, ErrorCode.UnknownAccount, `Account "${account}" is not this gateway's account`);
        }
      })
      .get("/gateways", ({ request }) => gateways.list(searchParams(request)))
      .get("/gateways/:gateway", ({ params }) => gateways.get(params.gateway))
      .get("/gateways/:gateway/logs", ({ params, request }) => logs.list(requireGateway(gw.config, params.gateway).id, searchParams(request)))
      .delete("/gateways/:gateway/logs", ({ params, request }) => logs.delete(requireGateway(gw.config, params.gateway).id, searchParams(request)))
      .get("/gateways/:gateway/logs/:id", ({ params }) => logs.get(requireGateway(gw.config, params.gateway).id, params.id))
      .get("/gateways/:gateway/logs/:id/request", ({ params }) => logs.payload(requireGateway(gw.config, params.gateway).id, params.id, "request"))
      .get("/gateways/:gateway/logs/:id/response", ({ params }) =>
        logs.payload(requireGateway(gw.config, params.gateway).id, params.id, "response"),
      )
      .patch(
        "/gateways/:gateway/logs/:id",
        async ({ params, request }) => logs.patch(requireGateway(gw.config, params.gateway).id, params.id, await readAdminBody(request)),
        // Read the body ourselves so malformed JSON is our 400 with a clear message, not a framework error.
        { parse: "none" },
      )
      .get("/gateways/:gateway/analytics", ({ params, request }) => analytics.get(requireGateway(gw.config, params.gateway).id, searchParams(request)))
      .get("/gateways/:gateway/tokens", ({ params }) => tokens.list(requireGateway(gw.config, params.gateway).id))
      .post(
        "/gateways/:gateway/tokens",
        async ({ params, request }) => tokens.create(requireGateway(gw.config, params.gateway).id, await readAdminBody(request)),
        { parse: "none" },
      )
      .delete("/gateways/:gateway/tokens/:id", ({ params }) => tokens.revoke(requireGateway(gw.config, params.gateway).id, params.id))
      .get("/gateways/:gateway/breakers", ({ params }) => breakers.list(requireGateway(gw.config, params.gateway).id))
      .get("/gateways/:gateway/budgets", ({ params }) => budgetRoutes(gw.stores.spend).list(requireGateway(gw.config, params.gateway)))
  );
}
