import type { ResolvedGateway } from "../config/defaults.ts";
import { RequestContext } from "../pipeline/context.ts";
import { ErrorCode, GatewayError } from "../pipeline/errors.ts";
import { parseSteps } from "../pipeline/steps.ts";
import { declaredLength, RequestBody } from "./body.ts";
import type { Runtime } from "./runtime.ts";

/** Where a Universal request goes, as the provider proxy resolved it from the path. */
export interface UniversalTarget {
  gateway: ResolvedGateway;
  accountId: string;
  clientAddress: string | null;
  startedAt: number;
}

const decoder = new TextDecoder();

/**
 * `POST /v1/{account}/{gateway}` — the Universal endpoint (reference §2): a JSON array of steps (or one
 * step object), tried in order by the `fallback` plugin; the answer is the serving step's raw provider
 * response with `cf-aig-step`. The steps live in the body, so it is read before the chain runs — under
 * the same size, rate and memory limits as every body.
 */
export function universalRequest(runtime: Runtime) {
  const { config, providers } = runtime.handle;
  return async function universal(request: Request, target: UniversalTarget): Promise<Response> {
    const body = new RequestBody(request, declaredLength(request, config.server.maxBodyBytes), runtime.bodies.limits, runtime.bodies.budget);
    let ctx: RequestContext;
    try {
      const bytes = await body.read(request);
      ctx = new RequestContext({
        gateway: target.gateway,
        accountId: target.accountId,
        requestType: "universal",
        headers: request.headers,
        clientAddress: target.clientAddress,
        startedAt: target.startedAt,
        steps: parseSteps(json(bytes), providers),
      });
    } catch (error) {
      body.release();
      throw error;
    }
    ctx.release = () => body.release();
    ctx.followClient(request);
    return runtime.pipeline.run(ctx);
  };
}

function json(bytes: Uint8Array | null): unknown {
  if (!bytes) throw new GatewayError(400, ErrorCode.BadRequest, "Universal request: the body is empty; send a JSON array of steps {provider, endpoint, headers, query}");
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch {
    throw new GatewayError(400, ErrorCode.BadRequest, "Universal request: the body is not JSON; send a JSON array of steps {provider, endpoint, headers, query}");
  }
}
