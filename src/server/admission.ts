import type { ResolvedGateway } from "../config/defaults.ts";
import { RequestContext } from "../pipeline/context.ts";
import type { RequestType } from "../pipeline/record.ts";
import type { Plugin } from "../pipeline/types.ts";
import type { Runtime } from "./runtime.ts";

/** The chain's `auth` plugin, when the config runs one. */
export function authPlugin(runtime: Runtime): Plugin | undefined {
  return runtime.pipeline.plugins.find((plugin) => plugin.name === "auth" && typeof plugin.handle === "function");
}

/** Who is asking, for {@link admission}. */
export interface Asker {
  gateway: ResolvedGateway;
  accountId: string;
  headers: Headers;
  clientAddress: string | null;
  requestType: RequestType;
}

/**
 * The auth plugin's refusal (401, with the ids every answer carries) of a request with these
 * headers, or null when it lets it through — for what admits a client without running the chain: a
 * WebSocket upgrade (each message is asked again) and `GET …/compat/models`. Reaching `next()` admits.
 */
export async function admission(auth: Plugin, asker: Asker): Promise<Response | null> {
  const ctx = new RequestContext({ ...asker, steps: [] });
  const admitted = new Response(null, { status: 204 });
  const answer = await auth.handle!(ctx, async () => admitted);
  if (answer === admitted) return null;
  answer.headers.set("cf-aig-log-id", ctx.logId);
  answer.headers.set("cf-aig-event-id", ctx.eventId);
  return answer;
}
