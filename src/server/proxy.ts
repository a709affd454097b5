import { newLogId } from "../pipeline/ids.ts";
import { RequestContext } from "../pipeline/context.ts";
import { ErrorCode, errorResponse, GatewayError, toGatewayError } from "../pipeline/errors.ts";
import { upstreamHeaders } from "../upstream/headers.ts";
import { declaredLength, RequestBody } from "./body.ts";
import { parseTarget, requestPath } from "./target.ts";
import { universalRequest } from "./universal.ts";
import { compatRequest } from "./compat.ts";
import type { Runtime } from "./runtime.ts";

/**
 * `ANY /v1/{account}/{gateway}/{provider}/{path…}?{query}` — the provider-native proxy.
 * The path after the provider slug is kept byte for byte (`@cf/…`, `models/x:generateContent`).
 * `POST /v1/{account}/{gateway}` (no provider) is the Universal endpoint (universal.ts).
 */
export function providerProxy(runtime: Runtime) {
  const { config, providers } = runtime.handle;
  const universal = universalRequest(runtime);
  const compat = compatRequest(runtime);
  return async function proxy(request: Request, clientAddress: string | null): Promise<Response> {
    const startedAt = performance.now();
    try {
      // Browsers send a preflight only for a cross-origin request: CORS is closed, and the provider never sees it.
      if (request.method === "OPTIONS" && request.headers.has("origin") && request.headers.has("access-control-request-method")) {
        throw new GatewayError(403, ErrorCode.CrossOriginRefused, "Cross-origin requests are refused: the gateway sends no CORS headers, so a page on another origin cannot call it");
      }
      const target = parseTarget(request.url);
      if (config.accountId && target.account !== config.accountId) {
        throw new GatewayError(404, ErrorCode.UnknownAccount, `Unknown account "${target.account}"; this gateway serves account "${config.accountId}"`);
      }
      const gateway = config.gateways.get(target.gateway);
      if (!gateway) {
        throw new GatewayError(404, ErrorCode.UnknownGateway, `Unknown gateway "${target.gateway}"; configured gateways: ${[...config.gateways.keys()].join(", ")}`);
      }
      if (target.provider === null) {
        if (request.method === "POST") return await universal(request, { gateway, accountId: target.account, clientAddress, startedAt });
        throw new GatewayError(400, ErrorCode.BadRequest, `Missing provider in the path; use /v1/${target.account}/${target.gateway}/{provider}/{path}, e.g. /v1/${target.account}/${target.gateway}/openai/chat/completions, or POST Universal steps to /v1/${target.account}/${target.gateway}`);
      }
      if (target.provider === "compat") return await compat(request, { gateway, accountId: target.account, clientAddress, startedAt, endpoint: target.endpoint });
      const provider = providers.get(target.provider);
      if (!provider) {
        throw new GatewayError(400, ErrorCode.UnknownProvider, `Unknown provider "${target.provider}"; known providers: ${providers.slugs().join(", ")}`);
      }
      // Read only when the chain needs it: a refusal that needs no body (401, 429) costs no upload.
      const body = new RequestBody(request, declaredLength(request, config.server.maxBodyBytes), runtime.bodies.limits, runtime.bodies.budget);
      const ctx = new RequestContext({
        gateway,
        accountId: target.account,
        requestType: "provider",
        headers: request.headers,
        clientAddress,
        startedAt,
        steps: [{ provider, endpoint: target.endpoint, search: target.search, method: request.method, headers: upstreamHeaders(request.headers), options: null, body: null }],
        body: () => body.read(ctx),
      });
      ctx.release = () => body.release();
      // The client leaving at any stage ends the upstream call (a stream's own cancel covers the rest).
      ctx.followClient(request);
      return await runtime.pipeline.run(ctx);
    } catch (error) {
      const failure = toGatewayError(error);
      // A failure before the pipeline is the gateway's own bug: say so once, without the url or headers.
      if (failure.code === ErrorCode.Internal) runtime.handle.logger.error(`request ${request.method} ${requestPath(request.url).path} failed before the chain`, error);
      return refused(failure, request.headers);
    }
  };
}

/** An answer given before a request context exists; it still carries the ids every answer carries. */
export function refused(error: GatewayError, headers: Headers): Response {
  const logId = newLogId();
  return errorResponse(error, { "cf-aig-log-id": logId, "cf-aig-event-id": headers.get("cf-aig-event-id") || logId });
}
