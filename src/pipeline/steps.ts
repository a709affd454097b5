import type { ProviderRegistry } from "../providers/registry.ts";
import { isGatewayOption, staysAtGateway } from "../upstream/headers.ts";
import type { Step } from "./context.ts";
import { ErrorCode, GatewayError } from "./errors.ts";

/** Most steps one Universal request may carry. */
export const MAX_STEPS = 32;

/** A step's `config` field and the `cf-aig-*` option each one becomes (it wins over the step's own header). */
const CONFIG_OPTIONS = {
  requestTimeout: { header: "cf-aig-request-timeout", min: 1, max: 24 * 60 * 60 * 1000 },
  maxAttempts: { header: "cf-aig-max-attempts", min: 1, max: 5 },
  retryDelay: { header: "cf-aig-retry-delay", min: 0, max: 5000 },
} as const;
const BACKOFFS = ["constant", "linear", "exponential"];

const encoder = new TextEncoder();

/**
 * The steps of a Universal request (reference §2): a JSON array of `{provider, endpoint, headers,
 * query, config?}`, or one such object. Every step is checked before any goes upstream; a problem is
 * a 400 naming the step (0-based) and the field. A step's `cf-aig-*` headers and its `config` become
 * that step's options (config wins); its other headers go upstream; `query` is its body (JSON, or a
 * string as is). The Universal call's own headers are not forwarded to any provider: they carry
 * options for every step, but a credential meant for one provider must not reach another.
 *
 * @example
 * parseSteps([{ provider: "openai", endpoint: "chat/completions", headers: { authorization: "Bearer sk-…" }, query: { model: "gpt-4o-mini", messages } }], providers)
 */
export function parseSteps(input: unknown, providers: ProviderRegistry): Step[] {
  const list = Array.isArray(input) ? input : [input];
  if (list.length === 0) throw bad("the body is an empty array; send at least one step {provider, endpoint, headers, query}");
  if (list.length > MAX_STEPS) throw bad(`the body has ${list.length} steps; at most ${MAX_STEPS} are allowed`);
  return list.map((step, index) => parseStep(step, index, providers));
}

function parseStep(input: unknown, index: number, providers: ProviderRegistry): Step {
  const at = `step ${index}`;
  if (typeof input !== "object" || input === null || Array.isArray(input)) throw bad(`${at} must be an object {provider, endpoint, headers, query}`);
  const { provider: slug, endpoint: rawEndpoint, headers: rawHeaders, query, config } = input as Record<string, unknown>;
  if (typeof slug !== "string" || slug === "") {
    throw bad(`${at}: "provider" must be a provider slug such as "openai" (a request for one provider goes to /v1/{account}/{gateway}/{provider}/{path})`);
  }
  const provider = providers.get(slug);
  if (!provider) {
    throw new GatewayError(400, ErrorCode.UnknownProvider, `Universal ${at}: unknown provider ${quote(slug)}; known providers: ${providers.slugs().join(", ")}`);
  }
  if (typeof rawEndpoint !== "string" || rawEndpoint.replace(/^\/+/, "") === "") throw bad(`${at}: "endpoint" must be the provider-relative path, e.g. "chat/completions"`);
  const trimmed = rawEndpoint.replace(/^\/+/, "");
  const queryAt = trimmed.indexOf("?");
  const endpoint = queryAt === -1 ? trimmed : trimmed.slice(0, queryAt);
  const search = queryAt === -1 ? "" : trimmed.slice(queryAt);
  const { headers, options } = stepHeaders(rawHeaders, at);
  applyConfig(config, options, at);
  const body = query === undefined || query === null ? null : encoder.encode(typeof query === "string" ? query : encodeQuery(query, at));
  if (body && !headers.has("content-type")) headers.set("content-type", "application/json");
  return { provider, endpoint, search, method: "POST", headers, options: options.keys().next().done ? null : options, body };
}

/**
 * A step's `query` as the JSON text sent upstream. JSON.parse takes nesting of any depth, but
 * JSON.stringify recurses: a query nested ~100,000 levels deep overflows the stack, which is the
 * client's malformed input (400), not a gateway failure.
 */
function encodeQuery(query: unknown, at: string): string {
  try {
    return JSON.stringify(query);
  } catch (error) {
    if (error instanceof RangeError) throw bad(`${at}: "query" is nested too deeply to be sent`);
    throw error;
  }
}

/** A step's headers, split in one pass: gateway options (`cf-aig-*`) for the gateway, the rest (minus hop-by-hop) for the provider. */
function stepHeaders(raw: unknown, at: string): { headers: Headers; options: Headers } {
  const headers = new Headers();
  const options = new Headers();
  if (raw === undefined || raw === null) return { headers, options };
  if (typeof raw !== "object" || Array.isArray(raw)) throw bad(`${at}: "headers" must be an object of header names to string values`);
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") throw bad(`${at}: header ${quote(name)} must have a string value`);
    const lower = name.toLowerCase();
    try {
      if (isGatewayOption(lower)) options.set(lower, String(value));
      else if (!staysAtGateway(lower)) headers.set(lower, String(value));
    } catch {
      throw bad(`${at}: ${quote(name)} is not a valid header name or its value is not a valid header value`);
    }
  }
  return { headers, options };
}

/** Writes a step's `config` into its options, where it wins over the step's own `cf-aig-*` headers. */
function applyConfig(config: unknown, options: Headers, at: string): void {
  if (config === undefined || config === null) return;
  if (typeof config !== "object" || Array.isArray(config)) throw bad(`${at}: "config" must be an object {requestTimeout, maxAttempts, retryDelay, backoff}`);
  for (const [field, value] of Object.entries(config)) {
    if (field === "backoff") {
      if (typeof value !== "string" || !BACKOFFS.includes(value)) throw bad(`${at}: config.backoff must be one of ${BACKOFFS.join(", ")}`);
      options.set("cf-aig-backoff", value);
      continue;
    }
    const rule = CONFIG_OPTIONS[field as keyof typeof CONFIG_OPTIONS];
    if (!rule) throw bad(`${at}: unknown config field ${quote(field)}; use requestTimeout, maxAttempts, retryDelay or backoff`);
    if (typeof value !== "number" || !Number.isInteger(value) || value < rule.min || value > rule.max) {
      throw bad(`${at}: config.${field} must be a whole number from ${rule.min} to ${rule.max}`);
    }
    options.set(rule.header, String(value));
  }
}

function bad(problem: string): GatewayError {
  return new GatewayError(400, ErrorCode.BadRequest, `Universal request: ${problem}`);
}

function quote(value: string): string {
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
}
