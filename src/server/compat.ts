import type { ResolvedGateway } from "../config/defaults.ts";
import { compatAnswer } from "../compat/answer.ts";
import { sortCredentials } from "../compat/credentials.ts";
import { compatModels } from "../compat/models.ts";
import { chatPlan, embeddingsPlan, type CompatPlan, type PlanContext } from "../compat/plan.ts";
import { RouteTable } from "../compat/routes.ts";
import { clientHeaders } from "../compat/steps.ts";
import { RequestContext } from "../pipeline/context.ts";
import { ErrorCode, GatewayError } from "../pipeline/errors.ts";
import { newLogId } from "../pipeline/ids.ts";
import type { JsonObject } from "../providers/usage/fields.ts";
import { admission, authPlugin } from "./admission.ts";
import { declaredLength, RequestBody } from "./body.ts";
import type { Runtime } from "./runtime.ts";

/** Where a compat request goes, as the provider proxy resolved it from the path. */
export interface CompatTarget {
  gateway: ResolvedGateway;
  accountId: string;
  clientAddress: string | null;
  startedAt: number;
  /** The path after `/compat/`, e.g. `chat/completions`. */
  endpoint: string;
}

type Kind = "chat" | "embeddings" | "models";

/** The compat routes, by path after `/compat/` (with or without the OpenAI SDK's `v1/`). */
const ROUTES: Record<string, { kind: Kind; method: "GET" | "POST" }> = {
  "chat/completions": { kind: "chat", method: "POST" },
  embeddings: { kind: "embeddings", method: "POST" },
  models: { kind: "models", method: "GET" },
};

const decoder = new TextDecoder();

/**
 * `/v1/{account}/{gateway}/compat/…` — one OpenAI-compatible endpoint for every provider (reference §3):
 * `POST chat/completions` and `POST embeddings` with `model: "{provider}/{model}"` or
 * `"dynamic/<route>"`, and `GET models`. The body becomes provider-native steps (src/compat/) run
 * through the whole plugin chain as `requestType: "compat"`, so the record holds the provider's own
 * request, answer and usage; the client gets the answer in OpenAI's shape. Route targets are
 * checked against the registry here, at start-up.
 */
export function compatRequest(runtime: Runtime) {
  const { config, providers } = runtime.handle;
  const routes = new RouteTable(config.routes, providers);
  const auth = authPlugin(runtime);

  async function models(request: Request, target: CompatTarget): Promise<Response> {
    const { headers } = sortCredentials(auth, target.gateway, request);
    if (auth) {
      const refusal = await admission(auth, { gateway: target.gateway, accountId: target.accountId, headers, clientAddress: target.clientAddress, requestType: "compat" });
      if (refusal) return refusal;
    }
    const logId = newLogId();
    const body = compatModels(config, target.gateway, providers, routes.names());
    return Response.json(body, { headers: { "cf-aig-log-id": logId, "cf-aig-event-id": request.headers.get("cf-aig-event-id") || logId } });
  }

  async function run(request: Request, target: CompatTarget, kind: "chat" | "embeddings"): Promise<Response> {
    const credentials = sortCredentials(auth, target.gateway, request);
    const body = new RequestBody(request, declaredLength(request, config.server.maxBodyBytes), runtime.bodies.limits, runtime.bodies.budget);
    let ctx: RequestContext;
    let plan: CompatPlan;
    try {
      const raw = jsonObject(await body.read(request));
      const context: PlanContext = { routes, providers, requestHeaders: request.headers, baseHeaders: clientHeaders(request.headers), providerKey: credentials.providerKey };
      plan = kind === "chat" ? chatPlan(raw, context) : embeddingsPlan(raw, context);
      ctx = new RequestContext({
        gateway: target.gateway,
        accountId: target.accountId,
        requestType: "compat",
        headers: credentials.headers,
        clientAddress: target.clientAddress,
        startedAt: target.startedAt,
        steps: plan.steps,
      });
    } catch (error) {
      body.release();
      throw tooDeep(error);
    }
    ctx.release = () => body.release();
    ctx.followClient(request);
    const response = await runtime.pipeline.run(ctx);
    routes.observe(ctx.attempts, plan.planned);
    const info = { includeUsage: plan.includeUsage, fallbackId: `chatcmpl-${ctx.logId}`, created: Math.floor(Date.now() / 1000) };
    return compatAnswer(ctx, response, plan.planned, (planned) => plan.shapeOf(planned, info));
  }

  return async function compat(request: Request, target: CompatTarget): Promise<Response> {
    const path = target.endpoint.replace(/^v1\//, "").replace(/\/+$/, "");
    // Own keys only: `/compat/constructor` must not find Object.prototype's.
    const route = Object.hasOwn(ROUTES, path) ? ROUTES[path] : undefined;
    if (!route) {
      throw new GatewayError(404, ErrorCode.NotFound, `No compat route for ${request.method} /compat/${target.endpoint}; the compat endpoint serves POST chat/completions, POST embeddings and GET models`);
    }
    if (request.method !== route.method) {
      throw new GatewayError(405, ErrorCode.MethodNotAllowed, `/compat/${path} takes ${route.method}, not ${request.method}`, { headers: { allow: route.method } });
    }
    return route.kind === "models" ? models(request, target) : run(request, target, route.kind);
  };
}

/**
 * JSON.parse takes nesting of any depth, but translating and re-encoding a body recurses: a body nested
 * ~100,000 levels deep overflows the stack while its plan is made. That is the client's malformed input
 * (400/2019), not a gateway failure; any other error passes as it is.
 */
function tooDeep(error: unknown): unknown {
  if (!(error instanceof RangeError) || !/call stack/i.test(error.message)) return error;
  return new GatewayError(400, ErrorCode.CompatBadFormat, "Chat completion bad format: the body is nested too deeply", { cause: error });
}

function jsonObject(bytes: Uint8Array | null): JsonObject {
  const usage = 'send an OpenAI request body with "model": "{provider}/{model}"';
  if (!bytes) throw new GatewayError(400, ErrorCode.CompatBadFormat, `Chat completion bad format: the body is empty; ${usage}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch {
    throw new GatewayError(400, ErrorCode.CompatBadFormat, `Chat completion bad format: the body is not JSON; ${usage}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new GatewayError(400, ErrorCode.CompatBadFormat, `Chat completion bad format: the body must be a JSON object; ${usage}`);
  return parsed as JsonObject;
}
