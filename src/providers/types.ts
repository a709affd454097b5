import type { Usage } from "../pipeline/record.ts";

/**
 * Reads token usage out of one provider family's answers. `json` gets a whole non-streaming answer;
 * `event` gets each parsed SSE `data:` payload of a streaming answer, in order, and folds it into `usage`.
 */
export interface UsageReader {
  json(body: unknown, usage: Usage): void;
  event(data: unknown, usage: Usage, eventName: string | null): void;
}

export interface ProviderDef {
  /** The path slug, e.g. `openai`, `workers-ai`, `custom-local`. */
  slug: string;
  /**
   * Upstream base URL without a trailing slash. May contain `{account}` (replaced from the request
   * path) and the provider's own placeholders, filled by `baseParams`.
   */
  baseUrl: string;
  /**
   * Request headers that carry the provider credential, lower-case, most usual first.
   * Used for cache-key partitioning, key injection and redaction.
   */
  authHeaders: readonly string[];
  /** Writes a gateway-held API key into the provider's own auth header. */
  applyKey(headers: Headers, key: string): void;
  usage: UsageReader;
  /** The model a request asks for: from the JSON body, or from the endpoint where the provider puts it in the path. */
  model(endpoint: string, body: unknown): string | null;
  /**
   * Optional: values for the base URL's own placeholders, read from the front of the endpoint (Azure's
   * `{resource}/{deployment}/…`), and the endpoint that remains. Check each value against the
   * provider's own naming rules and throw a `GatewayError` 400 when one breaks them: these values
   * become part of the URL's host or path.
   */
  baseParams?(endpoint: string): BaseParams;
  /**
   * Optional: builds the upstream URL when joining base and endpoint is not enough (Workers AI's
   * OpenAI-compatible `v1/…` paths sit beside `/run`). `base` is the effective base URL (configured or
   * default) with every placeholder filled; `search` is the query string with its `?`, or "".
   * Without it the registry uses `joinUrl`.
   */
  url?(base: string, endpoint: string, search: string): string;
  /**
   * Optional: the URL prefix (origin plus path) this provider's upstream URLs must stay under, given
   * the filled base. The registry refuses any URL outside it before anything is sent.
   * @default the filled base itself
   * @example reach: (base) => base.replace(/\/run$/, "") // Workers AI: `…/ai/run` may also reach `…/ai/v1/…`
   */
  reach?(base: string): string;
}

/** What `ProviderDef.baseParams` reads from an endpoint. */
export interface BaseParams {
  /** Placeholder name (without braces) → value, e.g. `{ resource: "my-res", deployment: "gpt-4o" }`. */
  params: Readonly<Record<string, string>>;
  /** The endpoint after the segments that held the values. */
  endpoint: string;
}
