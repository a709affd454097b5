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
  /** Upstream base URL without a trailing slash. May contain `{account}` (replaced from the request path). */
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
   * Optional: builds the upstream URL when joining base and endpoint is not enough (Azure fills
   * `{resource}`/`{deployment}` from the endpoint; Workers AI's OpenAI-compatible `v1/…` paths sit
   * beside `/run`). `base` is the effective base URL (configured or default) with `{account}` already
   * replaced; `search` is the query string with its `?`, or "". Without it the registry uses `joinUrl`.
   */
  url?(base: string, endpoint: string, search: string): string;
}
