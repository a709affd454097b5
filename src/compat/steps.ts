import type { Step } from "../pipeline/context.ts";
import { upstreamHeaders } from "../upstream/headers.ts";
import type { PlannedTarget } from "./routes.ts";
import type { NativeRequest } from "./translator.ts";

/** Credential headers a compat client may send; the provider's key travels only as the bearer, sorted out first. */
const CREDENTIALS = ["authorization", "x-api-key", "api-key", "x-goog-api-key"];
/** OpenAI account headers: meaningful to OpenAI alone. */
const OPENAI_ONLY = ["openai-organization", "openai-project"];

const encoder = new TextEncoder();

/**
 * The client's headers every compat step starts from: no hop-by-hop header, no `cf-aig-*` option,
 * no credential. Made once per request.
 */
export function clientHeaders(headers: Headers): Headers {
  const out = upstreamHeaders(headers);
  for (const name of CREDENTIALS) out.delete(name);
  return out;
}

/**
 * One step of a compat request: the provider-native request with the client's other headers (a
 * translated provider gets no `accept` or OpenAI account header), the headers the provider's API
 * needs unless the client sent them (`anthropic-version`), and the client's provider key in the
 * provider's own auth header — only when the request named its model directly: a route's targets
 * may be any providers, and a key meant for one must never reach another (they use held keys).
 */
export function compatStep(planned: PlannedTarget, native: NativeRequest, base: Headers, providerKey: string | null, passthrough: boolean): Step {
  const { provider } = planned.ref;
  const headers = new Headers(base);
  if (!passthrough) headers.delete("accept");
  if (provider.slug !== "openai") for (const name of OPENAI_ONLY) headers.delete(name);
  for (const [name, value] of Object.entries(native.headers ?? {})) if (!headers.has(name)) headers.set(name, value);
  headers.set("content-type", "application/json");
  if (providerKey !== null && planned.routeTarget === null) provider.applyKey(headers, providerKey);
  return { provider, endpoint: native.endpoint, search: native.search, method: "POST", headers, options: planned.options, body: encoder.encode(JSON.stringify(native.body)) };
}
